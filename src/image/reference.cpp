#include "crunlite/image/reference.hpp"

#include <cctype>
#include <functional>
#include <map>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/store.hpp"

namespace crunlite::image {
namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// A path component of a repository (distribution's reference grammar):
// lower-case alphanumerics separated by one '.', one or two '_', or any '-'.
bool valid_component(std::string_view c) {
    if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
    for (size_t i = 0; i < c.size(); ++i) {
        if (lower_alnum(c[i])) continue;
        if (c[i] == '.' || c[i] == '_') {
            size_t run = 1;
            while (i + run < c.size() && c[i + run] == c[i]) ++run;
            if (c[i] == '.' ? run > 1 : run > 2) return false;
            i += run - 1;
            continue;
        }
        if (c[i] != '-') return false;
    }
    return true;
}

// host[:port]: DNS labels or an IPv4 address, or [IPv6]; a port of digits.
bool valid_registry(std::string_view r) {
    std::string_view host = r, port;
    if (!r.empty() && r.front() == '[') {
        size_t close = r.find(']');
        if (close == std::string_view::npos || close < 2) return false;
        for (char c : r.substr(1, close - 1))
            if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
        host = {};
        if (close + 1 < r.size()) {
            if (r[close + 1] != ':') return false;
            port = r.substr(close + 2);
            if (port.empty()) return false;
        }
    } else if (size_t colon = r.find(':'); colon != std::string_view::npos) {
        host = r.substr(0, colon);
        port = r.substr(colon + 1);
        if (port.empty()) return false;
    }
    for (char c : port)
        if (c < '0' || c > '9') return false;
    if (port.size() > 5 || (!port.empty() && std::stoul(std::string(port)) > 65535)) return false;
    if (r.front() == '[') return true;
    if (host.empty() || host.size() > 253) return false;
    for (const auto& label : split(host, '.')) {
        if (label.empty() || label.size() > 63 || !alnum(label.front()) || !alnum(label.back())) return false;
        for (char c : label)
            if (!alnum(c) && c != '-') return false;
    }
    return true;
}

bool valid_tag(std::string_view t) {
    if (t.empty() || t.size() > 128 || !(alnum(t[0]) || t[0] == '_')) return false;
    for (char c : t)
        if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
    return true;
}

}  // namespace

std::string Reference::name() const {
    return registry + "/" + repository + (digest.empty() ? ":" + tag : "@" + digest);
}

std::string Reference::api_host() const { return registry == "docker.io" ? "registry-1.docker.io" : registry; }

bool is_registry_ref(std::string_view text) { return text.substr(0, kRegistryTransport.size()) == kRegistryTransport; }

namespace {

// Everything after "docker://": [HOST[:PORT]/]NAME[:TAG][@DIGEST].  `bad` makes
// the error for a reason.
Reference parse_name(std::string_view rest, const std::function<Error(const std::string&)>& bad) {
    if (rest.empty()) throw bad("no image name");
    if (rest.size() > 1024) throw bad("longer than 1024 characters");
    Reference ref;
    if (size_t at = rest.find('@'); at != std::string_view::npos) {
        ref.digest = std::string(rest.substr(at + 1));
        rest = rest.substr(0, at);
        bool ok = ref.digest.size() == 7 + 64 && ref.digest.rfind("sha256:", 0) == 0 &&
                  ref.digest.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
        if (!ok) throw bad("the digest must be \"sha256:\" and 64 lower-case hex digits");
    }
    // A tag follows the last ':' after the last '/' (a ':' before it is a port).
    size_t slash = rest.rfind('/');
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        ref.tag = std::string(rest.substr(colon + 1));
        rest = rest.substr(0, colon);
        if (!valid_tag(ref.tag)) throw bad("invalid tag " + quote(ref.tag));
    }
    std::string_view name = rest;
    size_t first = name.find('/');
    std::string_view head = name.substr(0, first);
    if (first != std::string_view::npos &&
        (head.find('.') != std::string_view::npos || head.find(':') != std::string_view::npos || head == "localhost" ||
         head.front() == '[')) {
        if (!valid_registry(head)) throw bad("invalid registry " + quote(head));
        ref.registry = std::string(head);
        name = name.substr(first + 1);
    } else {
        ref.registry = "docker.io";
    }
    if (name.empty()) throw bad("no image name");
    if (name.size() > 255) throw bad("the name is longer than 255 characters");
    for (const auto& c : split(name, '/'))
        if (!valid_component(c))
            throw bad("invalid name component " + quote(c) +
                      " (lower-case letters, digits and single separators . _ __ -)");
    ref.repository = std::string(name);
    if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos)
        ref.repository = "library/" + ref.repository;
    if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
    return ref;
}

}  // namespace

Reference parse_reference(std::string_view text) {
    auto bad = [&](const std::string& why) { return Error(EINVAL, "invalid image reference " + quote(text) + ": " + why); };
    if (!is_registry_ref(text)) throw bad("want docker://[HOST[:PORT]/]NAME[:TAG|@DIGEST]");
    return parse_name(text.substr(kRegistryTransport.size()), bad);
}

Reference check_image_name(std::string_view name) {
    auto bad = [&](const std::string& why) { return Error(EINVAL, "invalid image name " + quote(name) + ": " + why); };
    // "sha256:<hex>" parses as the name "sha256" tagged <hex>: refused first.
    if (name.rfind("sha256:", 0) == 0) throw bad("an image id, not a name");
    Reference r = parse_name(name, bad);
    std::string_view repo = r.repository;
    if (r.registry == "docker.io" && repo.rfind("library/", 0) == 0) repo.remove_prefix(8);
    if (repo.size() == 64 && repo.find_first_not_of("0123456789abcdef") == std::string_view::npos)
        throw bad("64 hex digits are an image id, not a name");
    return r;
}

Platform parse_platform(std::string_view text) {
    std::vector<std::string> parts = split(text, '/');
    bool ok = parts.size() == 2 || parts.size() == 3;
    for (const auto& p : parts) ok = ok && !p.empty() && p.find_first_of(" \t\n") == std::string::npos;
    if (!ok) throw Error(EINVAL, "--platform: invalid platform " + quote(text) + ": want OS/ARCH[/VARIANT]");
    Platform p{parts[0], parts[1], parts.size() == 3 ? parts[2] : ""};
    static const std::map<std::string, std::pair<std::string, std::string>> kAliases = {
        {"x86_64", {"amd64", ""}}, {"x86-64", {"amd64", ""}}, {"aarch64", {"arm64", ""}},
        {"i386", {"386", ""}},     {"i686", {"386", ""}},     {"armhf", {"arm", "v7"}},
        {"armel", {"arm", "v6"}}};
    if (auto it = kAliases.find(p.architecture); it != kAliases.end()) {
        p.architecture = it->second.first;
        if (p.variant.empty()) p.variant = it->second.second;
    }
    return p;
}

Platform host_platform() { return Platform{"linux", host_arch(), ""}; }

}  // namespace crunlite::image
