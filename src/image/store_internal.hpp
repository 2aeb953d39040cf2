// Helpers shared by the image store's translation units (store.cpp, the store
// proper; archive.cpp, loading layouts and archives).  Defined in store.cpp.
// Not part of the public interface.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "crunlite/image/layer.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::image::detail {

// "sha256:<hex>" -> "<hex>".
std::string hex_of(const std::string& digest);

// mkdir, an existing directory being fine.
void make_dir(const std::string& path, mode_t mode);

bool exists(const std::string& path);

// A directory under tmp/ that is removed unless kept.  It is flocked while it
// lives: Store::clear_tmp removes only work no process holds (a killed one's).
class TempDir {
public:
    explicit TempDir(const std::string& tmp_root);
    ~TempDir();
    const std::string& path() const { return path_; }
    void release() { path_.clear(); }

private:
    std::string path_;
    sys::UniqueFd lock_;
};

sys::UniqueFd open_dir(const std::string& path);

// What a layer (or an archive) may decompress to: its files' limit plus the
// tar's own headers and padding (1 KiB an entry), and the ratio bound.
void limit_stream(LayerStream& s, const LayerLimits& l);

// images.tsv below the store's `root` (store.hpp), under the store lock for
// drop and write: every image's ls row, stamped with images/'s mtime.  read:
// nullopt when it is missing, stale or unreadable (then every image is read).
void drop_summary(const std::string& root);
void write_summary(const std::string& root, const std::vector<StoredImage>& images);
std::optional<std::vector<StoredImage>> read_summary(const std::string& root);

}  // namespace crunlite::image::detail
