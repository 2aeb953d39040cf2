// Loading an image from an OCI layout, an oci-archive or a docker-archive
// (Store::load): the source, hostile, is read and planned here, then committed
// as store.cpp commits any image.
#include "crunlite/image/store.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/layer.hpp"
#include "crunlite/image/read_ahead.hpp"
#include "crunlite/image/reference.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/image/tar_index.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "store_internal.hpp"

namespace crunlite::image {

using detail::exists;
using detail::hex_of;
using detail::limit_stream;
using detail::make_dir;
using detail::open_dir;
using detail::TempDir;

namespace {

// JSON documents of an image (index, manifests, configs) are small; the parser
// refuses more anyway.
constexpr off_t kMaxDocument = json::kMaxInputSize;

// Layers unpacked at once: one more than the CPUs this process may run on, at
// most this many (each holds a layer's buffers and two threads; beyond a few,
// the disk is the limit anyway).  With one per CPU, the last layer of an image
// with more layers than CPUs unpacked alone while the other CPUs idled; one
// more evens that tail (5 layers on 2 CPUs: 0.89-0.95 of the time, 1.8 MB more).
constexpr size_t kMaxLoadJobs = 4;

size_t load_jobs() {
    cpu_set_t set;
    size_t cpus = ::sched_getaffinity(0, sizeof set, &set) == 0 ? static_cast<size_t>(CPU_COUNT(&set)) : 1;
    return std::clamp<size_t>(cpus + 1, 1, kMaxLoadJobs);
}

// The layout or archive being imported.  Everything in it is hostile, and the
// one way import code reads its files is this class.  Either a directory (an
// OCI layout given as one, or a compressed archive unpacked to tmp/): each file
// opened beneath it, a symlink followed only inside it (sys::open_inside), or
// an uncompressed archive read in place (TarIndex): each file a range of it,
// its symlinks followed only to its own entries.
// Either way a file must be regular (a FIFO would hang the import, a device
// feed it forever), and documents are size-capped.
class Source {
public:
    explicit Source(const std::string& dir) : fd_(open_dir(dir)) {}
    explicit Source(TarIndex index) : index_(std::move(index)) {}

    // The regular file `rel` (relative to the root); `what` names it in errors.
    BlobInput open(const std::string& rel, const std::string& what) const {
        if (index_) {
            const TarIndex::Entry* e = nullptr;
            try {
                e = index_->follow(rel);
            } catch (const Error& err) {  // "`rel` leads out of the archive"
                throw Error(err.code(), what + " " + err.message());
            }
            if (!e) throw Error(ENOENT, what + " " + quote(rel) + ": not in the archive");
            if (e->type != S_IFREG) throw Error(EINVAL, what + " " + quote(rel) + ": not a regular file");
            return index_->input(*e);
        }
        sys::UniqueFd fd(sys::open_inside(fd_.get(), rel, O_RDONLY | O_NONBLOCK | O_NOCTTY));
        if (!fd) {
            if (errno == EXDEV) throw Error(EXDEV, what + " " + quote(rel) + " leads out of the archive");
            throw_errno(what + " " + quote(rel));
        }
        struct stat st;
        if (::fstat(fd.get(), &st) < 0) throw_errno(what + " " + quote(rel));
        if (!S_ISREG(st.st_mode)) throw Error(EINVAL, what + " " + quote(rel) + ": not a regular file");
        // Blocking reads from here (O_NONBLOCK only kept a FIFO from hanging the open).
        ::fcntl(fd.get(), F_SETFL, 0);
        return BlobInput{std::move(fd), 0, static_cast<uint64_t>(st.st_size)};
    }

    // The whole of `rel`, at most kMaxDocument bytes.
    std::string read(const std::string& rel, const std::string& what) const {
        BlobInput in = open(rel, what);
        if (in.length > static_cast<uint64_t>(kMaxDocument))
            throw Error(EFBIG, what + " " + quote(rel) + ": " + std::to_string(in.length) + " bytes, more than " +
                                   std::to_string(kMaxDocument) + " a document may have");
        std::string text(static_cast<size_t>(in.length), '\0');
        size_t got = 0;
        while (got < text.size()) {
            ssize_t n = ::pread(in.fd.get(), text.data() + got, text.size() - got, in.offset + static_cast<off_t>(got));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("read " + what + " " + quote(rel));
            if (n == 0) break;
            got += static_cast<size_t>(n);
        }
        text.resize(got);
        return text;
    }

    // Whether `rel` is there and is not a symlink.
    bool has(const std::string& rel) const {
        if (index_) {
            const TarIndex::Entry* e = index_->find(rel);
            return e && e->type != S_IFLNK;
        }
        sys::UniqueFd fd(sys::open_beneath(fd_.get(), rel, O_PATH));
        return static_cast<bool>(fd);
    }

private:
    sys::UniqueFd fd_;               // a directory
    std::optional<TarIndex> index_;  // or an archive
};

// A blob of the layout being imported, by digest or by path inside it.
std::string blob_path(const std::string& digest) {
    if (digest.find(':') == std::string::npos) return digest;  // docker-archive path
    return "blobs/sha256/" + hex_of(digest);
}

// What an import needs, whatever the source format.
struct Plan {
    std::string config_json;
    std::vector<std::string> layer_blobs;           // paths relative to the source
    std::vector<std::optional<Descriptor>> layer_descs;  // OCI: digest and size to check
    std::vector<std::string> names;
    std::string digest;  // OCI: the digest of the index.json entry loaded
};

// A name given to what is loaded: checked, and one with a digest ("app@sha256:...")
// only for the manifest (or index) of that digest: a name that vouches for other
// content would stand in for the image a registry verified (`run --image app@DIGEST`).
// `digest` is the loaded image's (a docker archive has none).
void check_loaded_name(const std::string& name, const std::string& digest) {
    std::string named = check_image_name(name).digest;
    if (named.empty() || named == digest) return;
    throw Error(EINVAL, "invalid image name " + quote(name) + ": " +
                            (digest.empty() ? "a docker archive has no manifest digest to vouch for (use a tag)"
                                            : "its digest is not the loaded image's (" + digest + ")"));
}

std::string read_blob(const Source& src, const std::string& path, const std::optional<Descriptor>& d) {
    std::string text = src.read(path, "blob");
    if (d) {
        check_digest("blob " + d->digest, "digest", sha256_digest(text), d->digest);
        if (static_cast<int64_t>(text.size()) != d->size)
            throw Error(EINVAL, "blob " + d->digest + ": size " + std::to_string(text.size()) + ", want " +
                                    std::to_string(d->size));
    }
    return text;
}

// OCI image layout: index.json -> (nested indexes) -> manifest -> config, layers.
Plan plan_oci(const Source& src, const std::string& tag) {
    Descriptor chosen;
    std::vector<Descriptor> entries = parse_index(src.read("index.json", "index"), "index.json");
    std::vector<std::string> names;
    if (!tag.empty()) {
        auto it = std::find_if(entries.begin(), entries.end(), [&](const Descriptor& d) {
            auto a = d.annotations.find("org.opencontainers.image.ref.name");
            return a != d.annotations.end() && a->second == tag;
        });
        if (it == entries.end()) throw Error(ENOENT, "index.json: no image tagged " + quote(tag));
        chosen = *it;
    } else {
        chosen = select_manifest(entries, Platform{"linux", host_arch(), ""}, "index.json");
    }
    // A name, not a bare tag ("1.0"), which the ref.name annotation may be too.
    for (const auto& [key, value] : chosen.annotations) {
        const std::string& name = value;  // clang 14 lets no lambda capture a structured binding
        if ((key == "io.containerd.image.name" || key == "org.opencontainers.image.ref.name") &&
            (name.find(':') != std::string::npos || name.find('/') != std::string::npos)) {
            with_context("index.json: manifest " + chosen.digest + ": annotation " + key,
                         [&] { check_loaded_name(name, chosen.digest); });
            names.push_back(name);
        }
    }
    std::string digest = chosen.digest;
    // Nested indexes (buildx, multi-platform) down to one manifest.
    for (int depth = 0; is_index(chosen.media_type); ++depth) {
        if (depth > 8) throw Error(ELOOP, "index.json: indexes nested too deeply");
        std::string text = read_blob(src, blob_path(chosen.digest), chosen);
        chosen = select_manifest(parse_index(text, chosen.digest), Platform{"linux", host_arch(), ""}, chosen.digest);
    }
    if (!chosen.media_type.empty() && !is_manifest(chosen.media_type))
        throw Error(EINVAL, "manifest " + chosen.digest + ": media type " + quote(chosen.media_type) +
                                " is neither an image index's nor an image manifest's");
    Manifest m = parse_manifest(read_blob(src, blob_path(chosen.digest), chosen), chosen.digest);
    Plan p;
    p.digest = std::move(digest);
    p.config_json = read_blob(src, blob_path(m.config.digest), m.config);
    for (const auto& l : m.layers) {
        check_layer_media_type(l, "manifest " + chosen.digest + ": layer " + l.digest);
        p.layer_blobs.push_back(blob_path(l.digest));
        p.layer_descs.push_back(l);
    }
    p.names = std::move(names);
    return p;
}

// docker save: manifest.json names the config and the layer tars by path.
Plan plan_docker(const Source& src, const std::string& tag) {
    auto images = parse_docker_manifest(src.read("manifest.json", "manifest"), "manifest.json");
    if (images.empty()) throw Error(ENOENT, "manifest.json: no image in the archive");
    const DockerArchiveImage* img = &images[0];
    if (!tag.empty()) {
        auto it = std::find_if(images.begin(), images.end(), [&](const DockerArchiveImage& i) {
            return std::find(i.repo_tags.begin(), i.repo_tags.end(), tag) != i.repo_tags.end();
        });
        if (it == images.end()) throw Error(ENOENT, "manifest.json: no image tagged " + quote(tag));
        img = &*it;
    } else if (images.size() > 1) {
        log::warn("manifest.json: " + std::to_string(images.size()) + " images in the archive: loading the first" +
                  (img->repo_tags.empty() ? std::string() : " (" + join(img->repo_tags, ", ") + ")") +
                  "; give docker-archive:FILE:TAG for another");
    }
    auto inside = [](const std::string& path, const char* what) {
        auto parts = split(path, '/');
        if (path.empty() || path[0] == '/' || std::find(parts.begin(), parts.end(), "..") != parts.end())
            throw Error(EINVAL, std::string("manifest.json: ") + what + " path " + quote(path) + " leaves the archive");
    };
    inside(img->config, "config");
    for (const auto& path : img->layers) inside(path, "layer");
    Plan p;
    p.config_json = src.read(img->config, "config");
    // The config file is named by its digest in both archive generations.
    std::string want = hex_of(sha256_digest(p.config_json));
    if (img->config.find(want) == std::string::npos)
        throw Error(EINVAL, "manifest.json: config " + quote(img->config) + " does not match its digest " + want);
    for (const auto& l : img->layers) {
        p.layer_blobs.push_back(l);
        p.layer_descs.push_back(std::nullopt);  // verified through the config's diff_ids
    }
    for (size_t i = 0; i < img->repo_tags.size(); ++i)
        with_context("manifest.json: [" + std::to_string(img - images.data()) + "].RepoTags[" + std::to_string(i) + "]",
                     [&] { check_loaded_name(img->repo_tags[i], ""); });
    p.names = img->repo_tags;
    return p;
}

// Unpacks an archive's outer tar (the blobs) into `dir`, with the same safety.
void unpack_archive(const std::string& file, const std::string& dir) {
    sys::UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + quote(file));
    LayerStream s(fd.get(), file);
    limit_stream(s, LayerLimits{});
    sys::UniqueFd root = open_dir(dir);
    UnpackOptions o = UnpackOptions::unprivileged();  // blobs only: no owners, no devices
    o.unit = "archive";  // (named by the caller's context)
    ReadAhead ahead([&](void* b, size_t n) { return s.read(b, n); });  // decompressing beside the unpacking
    unpack_layer(root.get(), [&](void* b, size_t n) {
        sys::throw_if_interrupted();
        return ahead.read(b, n);
    }, o);
}

}  // namespace

// Without the store's lock until import commits: a compressed archive is unpacked
// into a tmp/ directory of its own, which no other import removes.
StoredImage Store::load(const std::string& source, const std::string& name, const Progress& progress) {
    // transport:path[:tag]
    std::string transport, path = source, tag;
    for (const char* t : {"oci-archive:", "docker-archive:", "oci:"})
        if (source.rfind(t, 0) == 0) {
            transport = std::string(t, std::strlen(t) - 1);
            path = source.substr(std::strlen(t));
        }
    // PATH:TAG, where the tag may hold ':' itself ("app:1", "host:5000/app:1"): the
    // path is the shortest prefix before a ':' that exists.
    if (!exists(path))
        for (size_t colon = path.find(':'); colon != std::string::npos; colon = path.find(':', colon + 1))
            if (exists(path.substr(0, colon))) {
                tag = path.substr(colon + 1);
                path = path.substr(0, colon);
                break;
            }
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) throw_errno("image source " + quote(path));
    // An uncompressed archive is read in place; a compressed one (or a pipe) is
    // unpacked to tmp/ first.
    std::optional<TarIndex> index;
    if (S_ISREG(st.st_mode)) {
        sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
        if (!fd) throw_errno("open " + quote(path));
        index = TarIndex::open(fd.get(), quote(path), LayerLimits{}.max_entries);
    }
    TempDir work(root_ + "/tmp");
    std::string layout = path;
    if (index) log::debug(quote(path) + ": an uncompressed archive, read in place");
    if (!S_ISDIR(st.st_mode) && !index) {
        log::debug(quote(path) + ": a compressed archive, unpacked into tmp/ first");
        layout = work.path() + "/archive";
        make_dir(layout, 0700);
        with_context(quote(path), [&] { unpack_archive(path, layout); });
    }
    Source src = index ? Source(std::move(*index)) : Source(layout);
    if (transport.empty())  // sniff
        transport = src.has("index.json") && !src.has("manifest.json") ? "oci"
                    : src.has("manifest.json")                         ? "docker-archive"
                                                                       : "";
    if (transport.empty()) throw Error(EINVAL, quote(path) + ": neither an OCI layout nor a docker archive");
    Plan plan = with_context(quote(path), [&] {
        return transport == "docker-archive" ? plan_docker(src, tag) : plan_oci(src, tag);
    });
    Parts parts;
    parts.config_json = std::move(plan.config_json);
    parts.layers = std::move(plan.layer_descs);
    parts.layer_paths = plan.layer_blobs;
    parts.open_layer = [&](size_t i) {
        return with_context(quote(path), [&] { return src.open(plan.layer_blobs[i], "layer"); });
    };
    parts.jobs = load_jobs();  // local files: as many as the CPUs can unpack
    if (!name.empty()) with_context("--name", [&] { check_loaded_name(name, plan.digest); });
    parts.names = name.empty() ? plan.names : std::vector<std::string>{name};
    parts.source = source;
    parts.label = quote(path);
    return import(parts, progress);
}

}  // namespace crunlite::image
