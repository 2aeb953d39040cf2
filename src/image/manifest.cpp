#include "crunlite/image/manifest.hpp"

#include <algorithm>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::image {
namespace {

std::string checked_digest(const json::Value& v) {
    std::string d = v.as_string();
    bool ok = d.size() == 7 + 64 && d.rfind("sha256:", 0) == 0 &&
              d.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
    if (!ok) v.fail("expected a sha256 digest (\"sha256:\" and 64 lower-case hex digits), got " + quote(d));
    return d;
}

Descriptor read_descriptor(const json::Value& v) {
    Descriptor d;
    d.media_type = v.get_string_or("mediaType", "");
    d.digest = checked_digest(v.at("digest"));
    d.size = v.get_int64("size");
    if (d.size < 0) v.at("size").fail("must not be negative");
    d.annotations = v.get_string_map_or("annotations");
    if (auto p = v.find("platform"))
        d.platform = Platform{p->get_string("os"), p->get_string("architecture"), p->get_string_or("variant", "")};
    return d;
}

bool is_attestation(const Descriptor& d) {
    auto it = d.annotations.find("vnd.docker.reference.type");
    if (it != d.annotations.end() && it->second == "attestation-manifest") return true;
    return d.platform && d.platform->os == "unknown" && d.platform->architecture == "unknown";
}

// Reads a Go duration in nanoseconds as Docker stores it (an integer).
int64_t nanoseconds(const json::Value& hc, const char* key) { return hc.get_int64_or(key, 0); }


// Why a Volumes key cannot be a mount point in the container ("" when it can):
// an absolute path, not "/" once cleaned (absolute_path: ".", ".." and "//"
// taken lexically, as Docker and podman clean it), without NUL.
std::string volume_path_problem(const std::string& path) {
    if (path.empty() || path[0] != '/') return "a volume path must be absolute";
    if (absolute_path(path) == "/") return "a volume cannot be /";
    if (path.find('\0') != std::string::npos) return "a volume path must not hold NUL";
    return "";
}

}  // namespace

std::optional<ExposedPorts> parse_exposed_port(const std::string& key) {
    size_t slash = key.find('/');
    std::string ports = key.substr(0, slash), proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
    size_t dash = ports.find('-');
    auto first = parse_uint(ports.substr(0, dash));
    auto last = dash == std::string::npos ? first : parse_uint(ports.substr(dash + 1));
    if (!first || !last || *first < 1 || *first > *last || *last > 65535) return std::nullopt;
    if (proto != "tcp" && proto != "udp" && proto != "sctp") return std::nullopt;
    return ExposedPorts{static_cast<int>(*first), static_cast<int>(*last), proto};
}

bool is_index(const std::string& mt) {
    return mt == "application/vnd.oci.image.index.v1+json" ||
           mt == "application/vnd.docker.distribution.manifest.list.v2+json";
}

bool is_manifest(const std::string& mt) {
    return mt == "application/vnd.oci.image.manifest.v1+json" ||
           mt == "application/vnd.docker.distribution.manifest.v2+json";
}

std::vector<Descriptor> parse_index(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    std::vector<Descriptor> out;
    for (const auto& m : doc.root().at("manifests").elements()) out.push_back(read_descriptor(m));
    return out;
}

bool platform_matches(const Platform& have, const Platform& want) {
    bool variant_ok = have.variant.empty() || want.variant.empty() || have.variant == want.variant;
    return have.os == want.os && have.architecture == want.architecture && variant_ok;
}

std::string platform_name(const Platform& p) {
    return p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant);
}

Descriptor select_manifest(const std::vector<Descriptor>& entries, const Platform& want, const std::string& source) {
    std::vector<const Descriptor*> candidates;
    for (const auto& d : entries)
        if (!is_attestation(d)) candidates.push_back(&d);
    for (const auto* d : candidates)
        if (d->platform && platform_matches(*d->platform, want)) return *d;
    if (candidates.size() == 1 && !candidates[0]->platform) return *candidates[0];
    if (!candidates.empty() && std::none_of(candidates.begin(), candidates.end(), [](auto* d) { return d->platform; }))
        throw Error(ENOENT, source + ": " + std::to_string(candidates.size()) +
                                " images, none for a platform: name one by its tag (oci:DIR:TAG)");
    std::string offered;  // the first 10: an index may list thousands
    for (size_t i = 0; i < std::min<size_t>(candidates.size(), 10); ++i)
        offered += (offered.empty() ? "" : ", ") +
                   (candidates[i]->platform ? platform_name(*candidates[i]->platform) : "no platform");
    if (candidates.size() > 10) offered += " and " + std::to_string(candidates.size() - 10) + " more";
    throw Error(ENOENT, source + ": no image for " + platform_name(want) +
                            (offered.empty() ? " (the index lists none)" : " (it has: " + offered + ")"));
}

Manifest parse_manifest(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    json::Value root = doc.root();
    Manifest m;
    m.config = read_descriptor(root.at("config"));
    // An artifact (a Helm chart, a signature...) has a config of its own kind: not an image to run.
    const std::string& ct = m.config.media_type;
    if (!ct.empty() && ct != "application/vnd.oci.image.config.v1+json" &&
        ct != "application/vnd.docker.container.image.v1+json")
        throw Error(EINVAL, source + ": config media type " + quote(ct) + " is not a container image's (an artifact?)");
    for (const auto& l : root.at("layers").elements()) m.layers.push_back(read_descriptor(l));
    return m;
}

ImageConfig parse_image_config(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    json::Value root = doc.root();
    ImageConfig c;
    c.platform = Platform{root.get_string_or("os", ""), root.get_string_or("architecture", ""),
                          root.get_string_or("variant", "")};
    if (auto rootfs = root.find("rootfs"))
        for (const auto& d : rootfs->at("diff_ids").elements()) c.diff_ids.push_back(checked_digest(d));
    if (auto cfg = root.find("config")) {
        c.user = cfg->get_string_or("User", "");
        c.working_dir = cfg->get_string_or("WorkingDir", "");
        c.stop_signal = cfg->get_string_or("StopSignal", "");
        c.env = cfg->get_string_array_or("Env");
        c.entrypoint = cfg->get_string_array_or("Entrypoint");
        c.cmd = cfg->get_string_array_or("Cmd");
        c.labels = cfg->get_string_map_or("Labels");
        if (auto ports = cfg->find("ExposedPorts"))
            for (const auto& [k, v] : ports->members()) {
                if (!parse_exposed_port(k)) ports->fail("key " + quote(k) + ": want PORT[-PORT][/tcp|udp|sctp], PORT 1-65535");
                c.exposed_ports.push_back(k);
            }
        if (auto vols = cfg->find("Volumes"))
            for (const auto& [k, v] : vols->members()) {
                if (std::string why = volume_path_problem(k); !why.empty()) vols->fail("key " + quote(k) + ": " + why);
                // Cleaned, as Docker and podman mount it: /data/./x is /data/x, /a/../b is /b.
                std::string path = absolute_path(k);
                if (std::find(c.volumes.begin(), c.volumes.end(), path) == c.volumes.end()) c.volumes.push_back(path);
            }
        if (auto hc = cfg->find("Healthcheck")) {
            Healthcheck h;
            h.test = hc->get_string_array_or("Test");
            h.interval_ns = nanoseconds(*hc, "Interval");
            h.timeout_ns = nanoseconds(*hc, "Timeout");
            h.start_period_ns = nanoseconds(*hc, "StartPeriod");
            h.start_interval_ns = nanoseconds(*hc, "StartInterval");
            // An int: a larger value is an error naming it, not a wrapped count.
            if (auto r = hc->find("Retries")) h.retries = r->as_int32();
            for (const char* k : {"Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"})
                if (hc->get_int64_or(k, 0) < 0) hc->at(k).fail("must not be negative");
            c.healthcheck = h;
        }
    }
    return c;
}

std::vector<DockerArchiveImage> parse_docker_manifest(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    std::vector<DockerArchiveImage> out;
    for (const auto& e : doc.root().elements()) {
        DockerArchiveImage i;
        i.config = e.get_string("Config");
        i.repo_tags = e.get_string_array_or("RepoTags");
        i.layers = e.at("Layers").as_string_array();
        out.push_back(std::move(i));
    }
    return out;
}

void check_layer_media_type(const Descriptor& layer, const std::string& what) {
    const std::string& mt = layer.media_type;
    static const char* known[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
    };
    for (const char* k : known)
        if (mt == k) return;
    std::string why = mt.find("foreign") != std::string::npos || mt.find("nondistributable") != std::string::npos
                          ? " (a foreign, non-distributable layer: its blob lives elsewhere)"
                      : mt.find("encrypted") != std::string::npos ? " (encrypted layers are not supported)"
                      : mt.empty()                               ? " (none given)"
                                                                 : "";
    throw Error(EINVAL, what + ": unsupported layer media type " + quote(mt) + why);
}

}  // namespace crunlite::image
