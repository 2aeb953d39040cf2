// The image store's names: the name index below names/ and the lookup of a
// reference (name, short name, id or id prefix) by it, or by reading every
// image when the index cannot tell.  The rest of the store is store.cpp's.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/sha256.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/sys/fd.hpp"
#include "store_internal.hpp"

namespace crunlite::image {

using detail::exists;
using detail::hex_of;

namespace {

// The name index (see store.hpp): names/<sha256 hex of the name> is a symlink
// to ../images/<id hex>; names/complete says every name of every image has one.
constexpr const char* kIndexComplete = "complete";
constexpr const char* kImagesLink = "../images/";

// The link of `name` in the index below `root`.
std::string name_link(const std::string& root, const std::string& name) {
    return root + "/names/" + hex_of(sha256_digest(name));
}

// A link's target: nullopt when there is no link, "" when it cannot be read
// (or is longer than any link of ours).
std::optional<std::string> link_target(const std::string& link) {
    char buf[128];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n < 0 && errno == ENOENT) return std::nullopt;
    return n > 0 && static_cast<size_t>(n) < sizeof buf ? std::string(buf, static_cast<size_t>(n)) : "";
}

bool is_id_hex(const std::string& s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Thrown by an index lookup that cannot tell: the link is not one of ours, or
// names an image that is gone or no longer has the name.  The caller scans.
struct StaleIndex {};

bool has_name(const StoredImage& img, const std::string& name) {
    return std::find(img.names.begin(), img.names.end(), name) != img.names.end();
}

// 1. The exact name.  2. A short name under the registries buildah, podman
// and docker write into archives ("app:1" is "localhost/app:1", else
// "docker.io/app:1", else "docker.io/library/app:1": podman's order, local
// builds first).  3. An id or a unique id prefix.  An id ("sha256:<hex>", or
// 64 hex digits) is never looked up as a name; a name that is also an id
// prefix ("cafe") must not stand for another image than that id's.
// `by_name`: the image that has a name; `by_id_prefix`: the images whose id
// hex starts so.
StoredImage resolve(const std::string& ref, const std::function<std::optional<StoredImage>(const std::string&)>& by_name,
                    const std::function<std::vector<StoredImage>(const std::string&)>& by_id_prefix) {
    bool id_form = ref.rfind("sha256:", 0) == 0;
    std::string hex = id_form ? ref.substr(7) : ref;
    std::vector<StoredImage> matches;
    auto add = [&](StoredImage img) {
        if (std::none_of(matches.begin(), matches.end(), [&](const StoredImage& m) { return m.id == img.id; }))
            matches.push_back(std::move(img));
    };
    if (!id_form && !is_id_hex(hex)) {
        std::string want = normalize_name(ref);
        if (auto img = by_name(want)) add(std::move(*img));
        else
            for (const char* prefix : {"localhost/", "docker.io/", "docker.io/library/"})
                if (auto img = by_name(prefix + want)) {
                    add(std::move(*img));
                    break;
                }
    }
    if (hex.size() >= 4 && hex.find_first_not_of("0123456789abcdef") == std::string::npos)
        for (auto& img : by_id_prefix(hex)) add(std::move(img));
    if (matches.size() == 1) return matches[0];
    if (matches.size() > 1) {
        std::vector<std::string> which;
        for (const auto& m : matches)
            which.push_back((m.names.empty() ? "" : m.names[0] + " ") + "(" + m.id.substr(0, 19) + ")");
        throw Error(EINVAL, "image " + quote(ref) + " is ambiguous: it names " + join(which, " and "));
    }
    throw Error(ENOENT, "image " + quote(ref) + " is not in the store");
}

}  // namespace

std::string normalize_name(const std::string& name) {
    size_t slash = name.rfind('/');
    size_t colon = name.rfind(':');
    bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
    return has_tag || name.find('@') != std::string::npos ? name : name + ":latest";
}

bool Store::index_complete() const { return exists(root_ + "/names/" + kIndexComplete); }

std::optional<StoredImage> Store::indexed(const std::string& name) const {
    std::optional<std::string> target = link_target(name_link(root_, name));
    if (!target) return std::nullopt;
    std::string hex = target->rfind(kImagesLink, 0) == 0 ? target->substr(std::strlen(kImagesLink)) : "";
    if (!is_id_hex(hex)) throw StaleIndex{};
    std::optional<StoredImage> img = read_image(hex);
    if (!img || !has_name(*img, name)) throw StaleIndex{};
    return img;
}

void Store::link_name(const std::string& name, const std::string& id) const {
    std::string link = name_link(root_, name);
    std::string tmp = link + ".new";
    ::unlink(tmp.c_str());
    if (::symlink((kImagesLink + hex_of(id)).c_str(), tmp.c_str()) < 0) throw_errno("create " + quote(tmp));
    if (::rename(tmp.c_str(), link.c_str()) < 0) throw_errno("index the name " + quote(name));
}

void Store::unlink_name(const std::string& name, const std::string& id) const {
    std::string link = name_link(root_, name);
    if (link_target(link) == kImagesLink + hex_of(id) && ::unlink(link.c_str()) < 0 && errno != ENOENT)
        throw_errno("remove " + quote(link));
}

void Store::rebuild_index() const {
    std::string dir = root_ + "/names/";
    // Incomplete first: a reader meanwhile scans.
    if (::unlink((dir + kIndexComplete).c_str()) < 0 && errno != ENOENT) throw_errno("remove " + quote(dir + kIndexComplete));
    for (const auto& f : list_dir(dir))
        if (::unlink((dir + f).c_str()) < 0 && errno != ENOENT) throw_errno("remove " + quote(dir + f));
    for (const auto& img : list())
        for (const auto& n : img.names) link_name(n, img.id);
    write_file_atomic(dir + kIndexComplete, "1\n", 0600);
}

void Store::ensure_index() const {
    if (!index_complete()) rebuild_index();
}

StoredImage Store::find_locked(const std::string& ref) const {
    ensure_index();
    try {
        return resolve_indexed(ref);
    } catch (const StaleIndex&) {
    } catch (const Error& e) {
        if (e.code() != ENOENT) throw;
    }
    // Stale, or a miss: a scan tells, and what it finds the index lacked.
    StoredImage img = scan(ref);
    log::debug("the name index of " + root_ + " lacked " + quote(ref) + ": rebuilt");
    rebuild_index();
    return img;
}

StoredImage Store::resolve_indexed(const std::string& ref) const {
    return resolve(ref, [&](const std::string& name) { return indexed(name); }, [&](const std::string& prefix) {
        std::vector<StoredImage> out;
        for (const auto& hex : list_dir(root_ + "/images"))
            if (hex.rfind(prefix, 0) == 0)
                if (auto img = read_image(hex)) out.push_back(std::move(*img));
        return out;
    });
}

StoredImage Store::inspect(const std::string& ref) const {
    // By the index, which reads only the images it finds.  Every image is read
    // instead without the index (a store of an older crun-lite, until its next
    // import, rm, prune or run indexes it), when it cannot tell, and to confirm
    // a miss (a name that an older crun-lite gave has no link).
    if (index_complete()) {
        try {
            return resolve_indexed(ref);
        } catch (const StaleIndex&) {
            log::debug("the name index of " + root_ + " is stale: scanning");
        } catch (const Error& e) {
            if (e.code() != ENOENT) throw;
        }
    }
    return scan(ref);
}

StoredImage Store::scan(const std::string& ref) const {
    std::vector<StoredImage> images = list();
    StoredImage img = resolve(ref, [&](const std::string& name) -> std::optional<StoredImage> {
        for (const auto& img : images)
            if (has_name(img, name)) return img;
        return std::nullopt;
    }, [&](const std::string& prefix) {
        std::vector<StoredImage> out;
        for (const auto& img : images)
            if (hex_of(img.id).rfind(prefix, 0) == 0) out.push_back(img);
        return out;
    });
    try {
        img.config_json = read_file(root_ + "/images/" + hex_of(img.id) + "/config.json");
    } catch (const Error& e) {
        if (e.code() == ENOENT) throw Error(ENOENT, "image " + quote(ref) + " is not in the store");  // removed meanwhile
        throw;
    }
    return img;
}

}  // namespace crunlite::image
