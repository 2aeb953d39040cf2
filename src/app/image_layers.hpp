// Private to src/app/: an image's files as the container's overlay will show
// them, read from the stored layers (image_run.cpp: USER, /etc; image_exec.cpp:
// exec -u).
#pragma once

#include <fcntl.h>

#include <optional>
#include <string>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/merged_view.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::app::detail {

// The image's layer directories (O_PATH), opened once for lookups in the merged
// view the overlay will show.  Every lookup is openat2(RESOLVE_IN_ROOT or
// BENEATH) inside its layer, so a symlink in the image (etc -> /somewhere)
// never reaches a host file.
class ImageLayers {
public:
    ImageLayers(const image::Store& store, const image::StoredImage& img) : id_(img.id.substr(0, 19)) {
        for (const auto& chain : img.layers) {
            std::string layer = store.layer_dir(chain);
            roots_.emplace_back(::open(layer.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!roots_.back()) throw_errno("open layer " + quote(layer));
        }
    }
    std::string what(const std::string& path) const { return "image " + id_ + ": " + path; }
    int root(size_t layer) const { return roots_.at(layer).get(); }
    // The topmost layer holding `path`, a whiteout or an opaque parent above ending the search.
    std::optional<image::MergedEntry> resolve(const std::string& path) const {
        try {
            return image::resolve_merged(path, roots_.size(), [&](size_t l, const std::string& p) {
                return image::layer_dir_entry(roots_[l].get(), p);
            });
        } catch (const Error& err) {
            throw Error(err.code(), what(path) + ": " + err.message());
        }
    }

private:
    std::string id_;
    std::vector<sys::UniqueFd> roots_;
};

// A file of the image as the container will see it: a regular file of at most
// 1 MiB (/etc/passwd, /etc/group), nullopt when the image has none.  Throws
// Error naming the image and the path for anything else.
std::optional<std::string> read_image_file(const ImageLayers& layers, const std::string& path);

// The same rules for a file of the host (a bind mount's source); `what` names it.
std::string read_host_file(const std::string& path, const std::string& what);

// The same rules for a file of a running container, under `root` (its
// /proc/PID/root): the overlay as the container changed it, with its volumes.
// Symlinks resolve inside `root`.
std::optional<std::string> read_container_file(int root, const std::string& path, const std::string& id);

}  // namespace crunlite::app::detail
