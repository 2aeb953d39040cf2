// Device nodes and /dev's symlinks inside the rootfs.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <map>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/fd.hpp"
#include "rootfs_parts.hpp"

namespace crunlite::linux {
namespace {

// The directories of the device nodes inside the root, each looked up (and
// made) once: the default nodes and the links all go in /dev.
class DeviceDirs {
public:
    explicit DeviceDirs(int root_fd) : root_fd_(root_fd) {}
    int get(const std::string& dir) {
        auto it = dirs_.find(dir);
        if (it == dirs_.end()) it = dirs_.emplace(dir, sys::mkdir_all_in_root(root_fd_, dir, 0755)).first;
        return it->second.get();
    }

private:
    int root_fd_;
    std::map<std::string, sys::UniqueFd> dirs_;
};

void create_device(sys::Kernel& k, int root_fd, const DeviceNode& dev, bool mknod, DeviceDirs& dirs) {
    std::string what = "device " + quote(dev.path);
    size_t slash = dev.path.rfind('/');
    int parent = dirs.get(dev.path.substr(0, slash == 0 ? 1 : slash));
    if (!mknod) {
        // In a user namespace mknod is refused: bind the host's node instead.
        sys::UniqueFd target = sys::touch_in_root(root_fd, dev.path, 0755, parent);
        if (k.mount(dev.path.c_str(), sys::fd_path(target.get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
            throw_errno("bind host " + what);
        return;
    }
    // O_PATH fds cannot be used with mknodat; open the directory for real.
    sys::UniqueFd dir(::openat(parent, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!dir) throw_errno("open parent of " + what);
    std::string name = dev.path.substr(slash + 1);
    mode_t type = dev.type == 'b' ? S_IFBLK : dev.type == 'p' ? S_IFIFO : S_IFCHR;
    dev_t rdev = makedev(static_cast<unsigned>(dev.major), static_cast<unsigned>(dev.minor));
    ::unlinkat(dir.get(), name.c_str(), 0);
    if (k.mknodat(dir.get(), name.c_str(), type | (dev.mode & 07777), rdev) < 0) throw_errno("mknod " + what);
    // mknod applies the umask; set the exact mode and owner, of the node held (never by
    // name: whoever may write this /dev could swap in a symlink to a host file meanwhile,
    // which chmod would follow).  The mode first: a chown after it clears set-id bits.
    sys::UniqueFd node(::openat(dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!node || ::fstat(node.get(), &st) < 0) throw_errno("open " + what);
    if (S_ISLNK(st.st_mode)) throw Error(ELOOP, what + ": replaced by a symbolic link while it was made");
    if (::chmod(sys::fd_path(node.get()).c_str(), dev.mode & 07777) < 0) throw_errno("chmod " + what);
    if (k.fchownat(node.get(), "", dev.uid, dev.gid, AT_EMPTY_PATH) < 0) throw_errno("chown " + what);
}

void create_dev_symlinks(sys::Kernel& k, DeviceDirs& dirs) {
    sys::UniqueFd dev(::openat(dirs.get("/dev"), ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!dev) throw_errno("open /dev in rootfs");
    const std::pair<const char*, const char*> links[] = {
        {"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
    };
    for (auto [target, name] : links) {
        if (std::string(name) == "ptmx") ::unlinkat(dev.get(), name, 0);
        if (k.symlinkat(target, dev.get(), name) < 0 && errno != EEXIST)
            throw_errno(std::string("symlink /dev/") + name);
    }
    if (k.access("/proc/kcore", F_OK) == 0 && k.symlinkat("/proc/kcore", dev.get(), "core") < 0 && errno != EEXIST)
        throw_errno("symlink /dev/core");
}

}  // namespace

void create_devices(sys::Kernel& k, int root_fd, const std::vector<DeviceNode>& devices, bool mknod) {
    DeviceDirs dirs(root_fd);
    for (const auto& dev : devices) create_device(k, root_fd, dev, mknod, dirs);
    create_dev_symlinks(k, dirs);
}

}  // namespace crunlite::linux
