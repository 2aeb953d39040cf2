// The image's overlay on the rootfs: the kernel's overlayfs, or fuse-overlayfs
// in a root of its own.
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "rootfs_parts.hpp"

namespace crunlite::linux {
namespace {

// The root fuse-overlayfs runs in: a tmpfs at `scratch` holding, read-only,
// the host's program directories (/usr, /lib*, /bin, ... and ld.so.cache), the
// layers read-only, the container's ovl/ (upper and work), /dev/null and a proc
// of the container's pid namespace -- nothing else of the host, and no old
// root above it (pivot_root and detach).  The daemon lives in
// the container's pid namespace as root: a container root with CAP_SYS_PTRACE
// can reach its root through /proc/PID/root, so that must not be the host's.
// Runs in the forked child, inside its own mount namespace; throws on errors.
void confine_fuse_daemon(sys::Kernel& k, const std::string& scratch, const std::vector<std::string>& lowers,
                         const std::vector<std::string>& writable) {
    if (k.unshare(CLONE_NEWNS) < 0) throw_errno("unshare mount namespace");
    if (k.mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) throw_errno("make / private");
    struct Source {
        std::string path;
        sys::UniqueFd fd;
        bool readonly;
        std::string target;  // a symlink's: recreated, not bound
    };
    // Opened before the tmpfs covers anything (a store may live under the scratch's parent).
    std::vector<Source> sources;
    auto add = [&](const std::string& path, bool readonly) {
        struct stat st;
        if (::lstat(path.c_str(), &st) < 0) return;
        Source src{path, {}, readonly, {}};
        if (S_ISLNK(st.st_mode)) {
            char buf[4096];
            ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
            if (n < 0) return;
            src.target.assign(buf, static_cast<size_t>(n));
        } else {
            src.fd = sys::UniqueFd(::open(path.c_str(), O_PATH | O_CLOEXEC));
            if (!src.fd) throw_errno("open " + quote(path));
        }
        sources.push_back(std::move(src));
    };
    for (const char* p :
         {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc/ld.so.cache", "/dev/null"})
        add(p, true);
    for (const auto& l : lowers) add(l, true);
    for (const auto& w : writable) add(w, false);

    if (::mkdir(scratch.c_str(), 0700) < 0 && errno != EEXIST) throw_errno("create " + quote(scratch));
    if (k.mount("tmpfs", scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        throw_errno("mount tmpfs on " + quote(scratch));
    sys::UniqueFd root(::open(scratch.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open " + quote(scratch));
    for (const auto& src : sources) {
        std::string parent = src.path.substr(0, src.path.rfind('/'));
        if (!parent.empty()) sys::mkdir_all_in_root(root.get(), parent, 0755);
        std::string dest = scratch + src.path;
        if (!src.target.empty()) {
            if (::symlink(src.target.c_str(), dest.c_str()) < 0 && errno != EEXIST)
                throw_errno("symlink " + quote(dest));
            continue;
        }
        struct stat st;
        ::fstat(src.fd.get(), &st);
        sys::UniqueFd target = S_ISDIR(st.st_mode) ? sys::mkdir_all_in_root(root.get(), src.path, 0755)
                                                   : sys::touch_in_root(root.get(), src.path, 0644);
        // Host directories recursively; the container's own directory alone (it
        // holds the scratch and the FUSE mount itself).
        unsigned long rec = src.readonly ? MS_REC : 0;
        if (k.mount(sys::fd_path(src.fd.get()).c_str(), sys::fd_path(target.get()).c_str(), nullptr, MS_BIND | rec,
                    nullptr) < 0)
            throw_errno("bind " + quote(src.path) + " for fuse-overlayfs");
        if (src.readonly)
            remount_bind(k, dest, MS_BIND | MS_REMOUNT | MS_RDONLY, quote(src.path) + " for fuse-overlayfs");
    }
    sys::mkdir_all_in_root(root.get(), "/proc", 0555);
    if (k.mount("proc", (scratch + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0)
        throw_errno("mount proc for fuse-overlayfs");
    // pivot_root, not chroot: a process that walks ".." through /proc/PID/root
    // of a chrooted process gets above its chroot; after this there is no above.
    if (k.chdir(scratch.c_str()) < 0) throw_errno("chdir " + quote(scratch));
    if (k.pivot_root(".", ".") < 0) throw_errno("pivot_root into " + quote(scratch));
    if (k.umount2(".", MNT_DETACH) < 0) throw_errno("detach the old root");
    if (k.chdir("/") < 0) throw_errno("chdir /");
}

// Mounts fuse-overlayfs on the rootfs.  We make the FUSE mount ourselves (with
// an fd of /dev/fuse) and hand the fd to fuse-overlayfs as "/dev/fd/N", which
// libfuse serves without mounting anything.  The daemon runs in a mount
// namespace of its own, in a root of its own (confine_fuse_daemon): pivot_root
// moves every process of our namespace whose root is the old "/" onto the new
// root, which is the daemon's own mount (its next absolute lookup would wait on
// itself), and detaching the old root would take its /proc away.  It
// daemonizes once it serves: the daemon stays in the container's pid namespace
// (a child of its init, which leaves it alone: see crun-lite-init) until the
// container ends.  Its messages come back through a pipe, which the daemon
// closes (it redirects its stdio).
void mount_fuse_overlay(sys::Kernel& k, const MountPlan& plan) {
    std::string program = sys::find_on_path("fuse-overlayfs");
    if (program.empty()) throw Error(ENOENT, "fuse-overlayfs is not installed");
    // The kernel's userxattr has no meaning to fuse-overlayfs (it reads user.overlay.* itself).
    std::vector<std::string> opts, lowers, writable;
    for (const auto& o : split(plan.rootfs_overlay, ',')) {
        if (o == "userxattr") continue;
        opts.push_back(o);
        std::string value = o.substr(o.find('=') + 1);
        if (o.rfind("lowerdir=", 0) == 0) lowers = split(value, ':');
        else writable.push_back(value);
    }
    // fuse-overlayfs renames from workdir into upperdir: one mount must hold both.
    auto parent = [](const std::string& p) { return p.substr(0, p.rfind('/')); };
    if (writable.size() == 2 && parent(writable[0]) == parent(writable[1])) writable = {parent(writable[0])};
    std::string options = join(opts, ",");

    sys::UniqueFd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
    if (!fuse) throw_errno("open /dev/fuse");
    std::string data = "fd=" + std::to_string(fuse.get()) +
                       ",rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions";
    if (k.mount("fuse-overlayfs", plan.rootfs.c_str(), "fuse.fuse-overlayfs", MS_NODEV, data.c_str()) < 0)
        throw_errno("mount fuse on " + quote(plan.rootfs));

    sys::Pipe messages = sys::Pipe::make();
    std::string mountpoint = "/dev/fd/" + std::to_string(fuse.get());
    sys::Child daemon = sys::Child::fork("fork fuse-overlayfs", [&] {
        try {
            ::dup2(messages.write.get(), 1);
            ::dup2(messages.write.get(), 2);
            confine_fuse_daemon(k, plan.rootfs + ".fuse", lowers, writable);
            // Nothing of ours but stdio and the FUSE fd reaches it.
            sys::close_range_cloexec(3);
            ::fcntl(fuse.get(), F_SETFD, 0);
            ::execl(program.c_str(), "fuse-overlayfs", "-o", options.c_str(), mountpoint.c_str(), nullptr);
            throw_errno("exec " + program);
        } catch (const std::exception& e) {
            ::dprintf(2, "%s", e.what());
        }
        return 127;
    });
    messages.write.reset();
    std::string out = sys::read_to_end(messages.read.get(), 4096);
    int status = daemon.wait();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(EIO, "fuse-overlayfs on " + quote(plan.rootfs) + " failed: " + trim(out));
}

// mount(2) copies at most a page of options: the rest is cut off, and the
// overlay misses layers (ENOENT for a path cut short).  Longer options (an
// image of ~40 layers and more) go to fsconfig one at a time, each layer with
// lowerdir+ (Linux 6.8).  Returns mount(2)'s result.
constexpr size_t kMountDataMax = 4095;

int mount_overlay_by_fsconfig(const MountPlan& plan) {
    sys::UniqueFd fs(sys::fsopen_cloexec("overlay"));
    if (!fs) return -1;
    for (const auto& o : split(plan.rootfs_overlay, ',')) {
        size_t eq = o.find('=');
        std::string key = o.substr(0, eq), value = eq == std::string::npos ? "" : o.substr(eq + 1);
        if (eq == std::string::npos) {
            if (sys::fsconfig_flag(fs.get(), key.c_str()) < 0) return -1;
        } else if (key == "lowerdir") {
            for (const auto& layer : split(value, ':'))
                if (sys::fsconfig_string(fs.get(), "lowerdir+", layer.c_str()) < 0) return -1;
        } else if (sys::fsconfig_string(fs.get(), key.c_str(), value.c_str()) < 0) {
            return -1;
        }
    }
    if (sys::fsconfig_create(fs.get()) < 0) return -1;
    sys::UniqueFd mnt(sys::fsmount_cloexec(fs.get(), 0));
    if (!mnt) return -1;
    return sys::move_mount(mnt.get(), "", AT_FDCWD, plan.rootfs.c_str(), MOVE_MOUNT_F_EMPTY_PATH);
}

}  // namespace

void mount_overlay(sys::Kernel& k, const MountPlan& plan) {
    if (plan.overlay_driver != OverlayDriver::Fuse) {
        bool long_options = plan.rootfs_overlay.size() > kMountDataMax;
        int rc = long_options ? mount_overlay_by_fsconfig(plan)
                              : k.mount("overlay", plan.rootfs.c_str(), "overlay", 0, plan.rootfs_overlay.c_str());
        if (rc == 0) return;
        int err = errno;
        bool refused = err == EPERM || err == EINVAL || err == ENODEV || err == EOPNOTSUPP;
        if (plan.overlay_driver == OverlayDriver::Native || !refused || sys::find_on_path("fuse-overlayfs").empty())
            throw sys_error(err, "mount overlay on " + quote(plan.rootfs) +
                                     (long_options ? " (options of " + std::to_string(plan.rootfs_overlay.size()) +
                                                         " bytes, each layer by fsconfig lowerdir+, Linux 6.8)"
                                                   : " (" + plan.rootfs_overlay + ")"));
        log::debug(std::string("kernel overlay refused (") + std::strerror(err) + "): using fuse-overlayfs");
    }
    mount_fuse_overlay(k, plan);
}

}  // namespace crunlite::linux

