// An uncompressed tar archive (an image archive: docker save, oci-archive)
// read in place: libarchive reads its headers once, seeking past the data, and
// each file's bytes are then a range of the archive (image/stream's BlobInput),
// read without unpacking the archive first.  The archive is hostile: names are
// normalised ("./a//b" is "a/b"), a ".." component is refused, every file's
// range must lie inside the archive, a hard link must name a file before it, a
// symlink is followed only to an entry of the archive.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "crunlite/image/stream.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::image {

class TarIndex {
public:
    struct Entry {
        mode_t type = 0;  // S_IFREG, S_IFDIR, S_IFLNK, ...
        off_t offset = 0;  // regular files: where the data starts
        uint64_t size = 0;
        std::string link;  // symlinks: the target, as the archive has it
    };

    // Indexes the archive `fd` (a regular file; the index keeps a duplicate of
    // it); `name` names it in errors.  nullopt when it is compressed (gzip or
    // zstd: no range of it is a file's bytes).  Throws Error on a corrupt or
    // hostile archive, or one of more than `max_entries` entries.
    static std::optional<TarIndex> open(int fd, const std::string& name, uint64_t max_entries);

    // The entry at `path` (normalised as the archive's names are); null if none.
    const Entry* find(const std::string& path) const;

    // The entry at `path` with the symlinks on the way followed inside the archive
    // (Docker's older `save` links a layer it repeats to the first copy:
    // "b/layer.tar" -> "../a/layer.tar"); null if none.  Throws Error naming
    // `path` when a link leads out of the archive (absolute, or above its root)
    // or links loop.
    const Entry* follow(const std::string& path) const;

    // The regular file `entry`'s bytes (a duplicate of the archive's fd).
    BlobInput input(const Entry& entry) const;

    // "a/b" for "./a//b/"; nullopt when a component is "..".
    static std::optional<std::string> normal(const std::string& path);

private:
    sys::UniqueFd fd_;
    std::map<std::string, Entry> entries_;
};

}  // namespace crunlite::image
