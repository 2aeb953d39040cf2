// Looking a path up in an image's layers as the mounted overlay will show it,
// without mounting: the topmost layer holding an entry wins; a whiteout, a
// non-directory or an opaque directory hides what the layers below hold at and
// under its path; symlinks are followed inside the image (an absolute target
// starts again at the image's root, ".." stops there), across layers, at most
// 40 of them.  Used to read an image's /etc/passwd and /etc/group before the
// container exists.  The walk is pure: what a layer holds comes from a callback,
// so it is tested without files (tests/unit/image/merged_view_test.cpp).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace crunlite::image {

struct LayerEntry {
    enum Kind { Missing, Directory, OpaqueDirectory, Regular, Symlink, Whiteout, Other } kind = Missing;
    std::string target;  // a Symlink's target
};

// What layer `layer` (0 = bottom) holds at `path` ("/etc/passwd"; no component is a
// symlink in the merged view, but may be in that layer), following no symlink.
using LayerLookup = std::function<LayerEntry(size_t layer, const std::string& path)>;

struct MergedEntry {
    size_t layer;      // the layer whose entry shows
    std::string path;  // its path there, symlinks resolved
    LayerEntry entry;  // never Missing, Whiteout or Symlink
};

// What the unpacked layer directory `layer_root` (an O_PATH fd) holds at
// `path`, as layer/unpack writes it: whiteouts are 0/0 character devices,
// opaque directories carry the overlay opaque xattr.  Follows no symlink.
LayerEntry layer_dir_entry(int layer_root, const std::string& path);

// The entry `path` names in the merged view of `layers` layers, or nullopt when
// it does not exist there.  Throws Error(ELOOP) past 40 symlinks.
std::optional<MergedEntry> resolve_merged(const std::string& path, size_t layers, const LayerLookup& lookup);

}  // namespace crunlite::image
