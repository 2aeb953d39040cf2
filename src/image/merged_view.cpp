#include "crunlite/image/merged_view.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::image {
namespace {

std::deque<std::string> components(const std::string& path) {
    std::deque<std::string> out;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += "/" + p;
    return out.empty() ? "/" : out;
}

// The topmost entry at `parts` (a path whose ancestors are directories in the
// merged view); nullopt when none shows there.
std::optional<std::pair<size_t, LayerEntry>> topmost(const std::vector<std::string>& parts, size_t layers,
                                                     const LayerLookup& lookup) {
    std::string path = join(parts);
    for (size_t l = layers; l-- > 0;) {
        LayerEntry e = lookup(l, path);
        if (e.kind == LayerEntry::Whiteout) return std::nullopt;
        if (e.kind != LayerEntry::Missing) return std::pair{l, e};
        // Nothing here: an ancestor in this layer that is no plain directory
        // (a whiteout, a file, an opaque directory) hides the layers below.
        for (size_t n = 0; n < parts.size(); ++n) {
            LayerEntry a = lookup(l, join({parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(n)}));
            if (a.kind == LayerEntry::Missing) break;  // nor anything below it here: look lower
            if (a.kind != LayerEntry::Directory) return std::nullopt;
        }
    }
    return std::nullopt;
}

}  // namespace

LayerEntry layer_dir_entry(int layer_root, const std::string& path) {
    std::string rel = path.find_first_not_of('/') == std::string::npos ? "." : path.substr(path.find_first_not_of('/'));
    sys::UniqueFd fd(sys::open_beneath(layer_root, rel, O_PATH | O_NOFOLLOW));
    if (!fd) {
        // ELOOP: a symlink on the way, which the walk finds as an ancestor.
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return {};
        throw_errno("look up " + path + " in a layer");
    }
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) throw_errno("stat " + path + " in a layer");
    if (S_ISREG(st.st_mode)) return {LayerEntry::Regular, {}};
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) return {LayerEntry::Whiteout, {}};
    if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlinkat(fd.get(), "", buf, sizeof buf);
        if (n < 0) throw_errno("read the symlink " + path + " in a layer");
        return {LayerEntry::Symlink, std::string(buf, static_cast<size_t>(n))};
    }
    if (!S_ISDIR(st.st_mode)) return {LayerEntry::Other, {}};
    sys::UniqueFd dir(sys::open_beneath(layer_root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    char v;
    if (dir && (::fgetxattr(dir.get(), "user.overlay.opaque", &v, 1) == 1 ||
                ::fgetxattr(dir.get(), "trusted.overlay.opaque", &v, 1) == 1))
        return {LayerEntry::OpaqueDirectory, {}};
    return {LayerEntry::Directory, {}};
}

std::optional<MergedEntry> resolve_merged(const std::string& path, size_t layers, const LayerLookup& lookup) {
    std::deque<std::string> todo = components(path);
    std::vector<std::string> done;  // resolved: each a directory of the merged view, but the last
    int links = 0;
    std::optional<std::pair<size_t, LayerEntry>> last;
    while (!todo.empty()) {
        std::string c = std::move(todo.front());
        todo.pop_front();
        if (c == ".") continue;
        if (c == "..") {
            if (!done.empty()) done.pop_back();
            continue;
        }
        done.push_back(c);
        last = topmost(done, layers, lookup);
        if (!last) return std::nullopt;
        if (last->second.kind == LayerEntry::Symlink) {
            if (++links > 40) throw Error(ELOOP, "too many levels of symbolic links resolving " + path);
            if (last->second.target.empty()) return std::nullopt;
            std::deque<std::string> target = components(last->second.target);
            todo.insert(todo.begin(), target.begin(), target.end());
            done.pop_back();
            if (!last->second.target.empty() && last->second.target[0] == '/') done.clear();
            continue;
        }
        // Only a directory can have more below it.
        if (!todo.empty() && last->second.kind != LayerEntry::Directory &&
            last->second.kind != LayerEntry::OpaqueDirectory)
            return std::nullopt;
    }
    if (done.empty()) return MergedEntry{layers ? layers - 1 : 0, "/", LayerEntry{LayerEntry::Directory, {}}};
    return MergedEntry{last->first, join(done), last->second};
}

}  // namespace crunlite::image
