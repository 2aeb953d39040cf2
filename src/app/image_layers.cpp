#include "image_layers.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "crunlite/sys/syscalls.hpp"

namespace crunlite::app::detail {

namespace {

constexpr off_t kMaxImageFile = 1 << 20;  // /etc/passwd, /etc/group read from an image

// The content of `fd` (O_PATH or not): a regular file of at most kMaxImageFile,
// also if it grows meanwhile (a running container may write to it).
std::string read_small_file(int fd, const std::string& what) {
    struct stat st;
    if (::fstat(fd, &st) < 0) throw_errno("stat " + what);
    if (!S_ISREG(st.st_mode)) throw Error(EINVAL, what + " is not a regular file");
    sys::UniqueFd in(::open(sys::fd_path(fd).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!in) throw_errno("open " + what);
    std::string out(static_cast<size_t>(kMaxImageFile) + 1, '\0');
    size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(in.get(), out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read " + what);
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    if (got > static_cast<size_t>(kMaxImageFile)) throw Error(EFBIG, what + " is larger than 1 MiB");
    out.resize(got);
    return out;
}

}  // namespace

std::optional<std::string> read_image_file(const ImageLayers& layers, const std::string& path) {
    std::optional<image::MergedEntry> e = layers.resolve(path);
    if (!e) return std::nullopt;
    std::string what = layers.what(path);
    // Only a regular file of sane size: a FIFO would block us, a device
    // node (/dev/zero, a disk) must never be opened for an image.
    if (e->entry.kind != image::LayerEntry::Regular) throw Error(EINVAL, what + " is not a regular file");
    std::string rel = e->path.substr(1);
    sys::UniqueFd fd(sys::open_beneath(layers.root(e->layer), rel, O_RDONLY | O_NONBLOCK | O_NOFOLLOW));
    if (!fd) throw_errno("open " + what);
    return read_small_file(fd.get(), what);
}

std::string read_host_file(const std::string& path, const std::string& what) {
    sys::UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!fd) throw_errno("open " + what);
    return read_small_file(fd.get(), what);
}

std::optional<std::string> read_container_file(int root, const std::string& path, const std::string& id) {
    // O_PATH: nothing is opened for reading before it shows to be a regular file.
    sys::UniqueFd fd = sys::open_in_root_if_exists(root, path, O_PATH);
    if (!fd) return std::nullopt;
    return read_small_file(fd.get(), "container " + id + ": " + path);
}

}  // namespace crunlite::app::detail
