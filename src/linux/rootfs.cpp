#include "crunlite/linux/rootfs.hpp"

#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/mount_options.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/kernel.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "copy_up.hpp"
#include "rootfs_parts.hpp"

namespace crunlite::linux {
namespace {

// The per-mount flags of the mount at `path`.  A user namespace may not clear
// them when they are locked (inherited from a more privileged namespace):
// when they are set on the underlying mount, every remount has to repeat them.
unsigned long mount_flags_of(sys::Kernel& k, const std::string& path) {
    struct statvfs st;
    if (k.statvfs(path.c_str(), &st) < 0) return 0;
    unsigned long out = 0;
    if (st.f_flag & ST_RDONLY) out |= MS_RDONLY;
    if (st.f_flag & ST_NOSUID) out |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) out |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) out |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) out |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) out |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) out |= MS_RELATIME;
    return out;
}

}  // namespace

void remount_bind(sys::Kernel& k, const std::string& path, unsigned long flags, const std::string& what) {
    if (k.mount(nullptr, path.c_str(), nullptr, flags, nullptr) == 0) return;
    if (errno != EPERM) throw_errno("remount " + what);
    unsigned long locked = mount_flags_of(k, path);
    // The atime flags are one mode: keep the locked one rather than adding a second.
    if (locked & (MS_NOATIME | MS_RELATIME)) flags &= ~(MS_NOATIME | MS_RELATIME | MS_STRICTATIME);
    if (k.mount(nullptr, path.c_str(), nullptr, flags | locked, nullptr) < 0) throw_errno("remount " + what);
}

namespace {

bool is_directory(const std::string& host_path) {
    struct stat st;
    return ::stat(host_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A `cgroup` mount on a v1/hybrid host, as runc makes it: a tmpfs holding,
// per hierarchy, the container's own cgroup directory bound under the
// hierarchy's name (so /sys/fs/cgroup/memory/memory.limit_in_bytes is the
// container's limit), with symlinks for co-mounted controllers.
void mount_cgroup_v1(sys::Kernel& k, int root_fd, const MountOp& op, const std::string& target_path) {
    std::string what = quote(op.destination);
    constexpr unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (k.mount("tmpfs", target_path.c_str(), "tmpfs", kFlags, "mode=755") < 0)
        throw_errno("mount tmpfs for cgroup hierarchies on " + what);
    sys::UniqueFd top = sys::open_in_root(root_fd, op.destination, O_PATH | O_DIRECTORY);
    sys::UniqueFd dir(::openat(top.get(), ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!dir) throw_errno("open " + what);
    for (const auto& v : op.cgroup_v1) {
        std::string sub = op.destination + "/" + v.name;
        if (::mkdirat(dir.get(), v.name.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("mkdir " + quote(sub));
        sys::UniqueFd target = sys::open_in_root(root_fd, sub, O_PATH | O_DIRECTORY);
        if (k.mount(v.host_dir.c_str(), sys::fd_path(target.get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
            throw_errno("bind cgroup " + quote(v.host_dir) + " on " + quote(sub));
        sys::UniqueFd bound = sys::open_in_root(root_fd, sub, O_PATH);
        remount_bind(k, sys::fd_path(bound.get()), MS_BIND | MS_REMOUNT | kFlags | (op.flags & MS_RDONLY), quote(sub));
        for (const auto& link : v.links)
            if (k.symlinkat(v.name.c_str(), dir.get(), link.c_str()) < 0 && errno != EEXIST)
                throw_errno("symlink " + quote(op.destination + "/" + link));
    }
    if (op.flags & MS_RDONLY)
        remount_bind(k, sys::fd_path(top.get()), MS_BIND | MS_REMOUNT | MS_RDONLY | kFlags, what + " read-only");
}

// A tmpfs on a directory that exists keeps that directory's mode unless the
// options say otherwise (as runc), not tmpfs's default 1777: `op.data` with
// "mode=" added where that applies.
std::string filesystem_data(int root_fd, const MountOp& op) {
    if (op.kind != MountKind::Filesystem || op.fstype != "tmpfs") return op.data;
    for (const auto& o : split(op.data, ','))
        if (o.rfind("mode=", 0) == 0) return op.data;
    sys::UniqueFd existing = sys::open_in_root_if_exists(root_fd, op.destination, O_PATH);
    if (!existing) return op.data;  // made by the caller; tmpfs's own default mode then
    struct stat st;
    if (::fstat(existing.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
        char mode[16];
        std::snprintf(mode, sizeof mode, "mode=%o", st.st_mode & 07777);
        return op.data.empty() ? mode : op.data + "," + mode;
    }
    return op.data;
}

// The mount(2) calls of `op` on `target` (an O_PATH fd of its destination,
// made in the rootfs).  Returns false when a fallback bound the host's tree
// instead, with its own flags (nothing more to do for the mount).
bool mount_op(sys::Kernel& k, int root_fd, const MountOp& op, int target, const std::string& fs_data) {
    std::string what = quote(op.destination);
    std::string target_path = sys::fd_path(target);
    auto mount_fs = [&](const std::string& data) {
        return k.mount(op.source.c_str(), target_path.c_str(), op.fstype.c_str(), op.flags,
                       data.empty() ? nullptr : data.c_str());
    };
    auto bind_host = [&](const std::string& host_path, unsigned long extra) {
        if (k.mount(host_path.c_str(), target_path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
            throw_errno("bind " + quote(host_path) + " on " + what);
        sys::UniqueFd top = sys::open_in_root(root_fd, op.destination, O_PATH);
        unsigned long flags = (op.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) | extra;
        if (flags) remount_bind(k, sys::fd_path(top.get()), flags | MS_BIND | MS_REMOUNT, what);
        return false;
    };

    switch (op.kind) {
        case MountKind::Bind: {
            if (op.idmap_tree_fd >= 0) {  // prepared in stage-1: attach it
                if (k.move_mount(op.idmap_tree_fd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                    throw_errno("attach idmapped mount " + quote(op.source) + " on " + what);
                return true;
            }
            // The source as opened in stage-1, where there is such an fd.
            std::string source = op.source_fd >= 0 ? sys::fd_path(op.source_fd) : op.source;
            if (k.mount(source.c_str(), target_path.c_str(), nullptr, op.flags, nullptr) < 0)
                throw_errno("bind " + quote(op.source) + " on " + what);
            return true;
        }
        case MountKind::Cgroup:
            // cgroup2 needs our own cgroup namespace (or real root); otherwise
            // show the host's hierarchy read-only, as crun does rootless.
            if (mount_fs("") == 0) return true;
            log::debug("mount cgroup2 on " + what + ": " + std::strerror(errno) + "; binding the host's");
            return bind_host("/sys/fs/cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC);
        case MountKind::CgroupV1:
            mount_cgroup_v1(k, root_fd, op, target_path);
            return true;
        case MountKind::Filesystem:
            if (mount_fs(fs_data) == 0) return true;
            if (op.fallback == MountFallback::BindHost && (errno == EPERM || errno == EBUSY)) {
                log::debug("mount " + op.fstype + " on " + what + ": " + std::strerror(errno) + "; binding the host's");
                return bind_host(op.destination, MS_NOSUID | MS_NODEV | MS_NOEXEC);
            }
            if (op.fallback == MountFallback::DropGid && errno == EINVAL) {
                std::vector<std::string> kept;
                for (auto& o : split(fs_data, ','))
                    if (o.rfind("gid=", 0) != 0) kept.push_back(o);
                if (mount_fs(join(kept, ",")) == 0) return true;
            }
            // The options too: a bad one is the usual EINVAL (runc names them as well).
            throw_errno("mount " + op.fstype + " on " + what + (fs_data.empty() ? "" : " with " + quote(fs_data)));
    }
    return true;
}

// After the mount: tmpcopyup from `covered`, the bind remount, recursive
// attributes, propagation -- each on the new mount at the destination.
void finish_mount(sys::Kernel& k, int root_fd, const MountOp& op, int covered) {
    std::string what = quote(op.destination);
    // Re-resolve: the fd the mount was made on names the covered directory.
    sys::UniqueFd top = sys::open_in_root(root_fd, op.destination, O_PATH);
    std::string top_path = sys::fd_path(top.get());
    if (covered >= 0) {
        sys::UniqueFd dir(::openat(top.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) throw_errno("open " + what);
        sys::copy_tree(covered, dir.get(), op.destination);
    }
    if (op.remount_flags) remount_bind(k, top_path, op.remount_flags, what);
    if (op.attr_set || op.attr_clr) {
        if (k.mount_setattr(top.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, op.attr_set, op.attr_clr, 0) < 0)
            throw_errno("set recursive mount attributes on " + what);
    }
    for (unsigned long prop : op.propagation)
        if (k.mount(nullptr, top_path.c_str(), nullptr, prop, nullptr) < 0)
            throw_errno("set propagation of " + what);
}

// Where the fd `fd` leads, as the kernel names it.
std::string path_of(int fd) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(sys::fd_path(fd).c_str(), buf, sizeof buf);
    if (n < 0) throw_errno("readlink " + sys::fd_path(fd));
    return std::string(buf, static_cast<size_t>(n));
}

// Mounts `op` at its destination inside `root_fd`, which the kernel names `root_path`.
void apply_mount(sys::Kernel& k, int root_fd, const std::string& root_path, const MountOp& op,
                 CopyableMounts& copyable) {
    std::string fs_data = filesystem_data(root_fd, op);
    std::string source = op.source_fd >= 0 ? sys::fd_path(op.source_fd) : op.source;
    bool dir_target = op.kind != MountKind::Bind || is_directory(source);
    bool made = op.copyup && !sys::open_in_root_if_exists(root_fd, op.destination, O_PATH);
    // Nothing but proc on /proc, little beneath it (runc's): checked before anything is made there.
    bool guarded = op.kind == MountKind::Bind ||
                   (op.kind == MountKind::Filesystem && op.fstype != "proc" && op.fstype != "sysfs" &&
                    op.fstype != "mqueue" && op.fstype != "tmpfs");
    auto check_proc_mount = [&](const std::string& dest) {
        struct statfs fs;
        bool source_is_proc = dest == "/proc" && op.kind == MountKind::Bind && ::statfs(source.c_str(), &fs) == 0 &&
                              fs.f_type == PROC_SUPER_MAGIC;
        if (std::string why = proc_mount_problem(dest, source_is_proc); !why.empty()) throw Error(EPERM, why);
    };
    if (guarded) check_proc_mount(absolute_path(op.destination));
    // A file made to mount on is 0755 (less the umask), as runc's: buildah commits it,
    // so the image's layer is the same whichever runtime ran the step.
    sys::UniqueFd target = dir_target ? sys::mkdir_all_in_root(root_fd, op.destination, 0755)
                                      : sys::touch_in_root(root_fd, op.destination, 0755);
    if (guarded) {  // and again as resolved, through whatever symlinks the root has
        std::string at = path_of(target.get());
        check_proc_mount(at.size() > root_path.size() ? at.substr(root_path.size()) : "/");
    }
    // What copy_up gives an empty source: a directory the root lacked is the process's, as podman's volumes.
    if (made && dir_target && k.fchownat(target.get(), "", op.copyup_uid, op.copyup_gid, AT_EMPTY_PATH) < 0 &&
        errno != EINVAL)  // an id not mapped: the process cannot be it either (its setuid fails)
        throw_errno("chown " + quote(op.destination) + " to the process's user");
    // tmpcopyup: the directory as it is before the tmpfs covers it.
    sys::UniqueFd covered;
    if (op.tmpcopyup) {
        covered = sys::UniqueFd(::openat(target.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!covered) throw_errno("open " + quote(op.destination) + " for tmpcopyup");
    }
    if (op.copyup) {
        if (!dir_target) throw Error(ENOTDIR, quote(op.destination) + ": copyup needs a directory, not " + quote(op.source));
        copy_up(source, target.get(), op.destination, copyable);
    }
    if (mount_op(k, root_fd, op, target.get(), fs_data)) finish_mount(k, root_fd, op, covered.get());
    if (op.copyup) {
        sys::UniqueFd mounted = sys::open_in_root(root_fd, op.destination, O_PATH);
        copyable.insert(sys::mount_id(mounted.get(), op.destination));
    }
}

void pivot(sys::Kernel& k, const std::string& rootfs, bool no_pivot, bool own_mount_namespace, bool host_peers) {
    if (k.chdir(rootfs.c_str()) < 0) throw_errno("chdir to rootfs " + quote(rootfs));
    if (!own_mount_namespace) {
        // The caller's mount namespace: neither move nor detach anything in it.
        if (k.chroot(".") < 0) throw_errno("chroot");
    } else if (no_pivot) {
        // A "/" with the host's peers would propagate the move to them.
        if (host_peers && k.mount(nullptr, "/", nullptr, MS_PRIVATE, nullptr) < 0) throw_errno("make / private");
        if (k.mount(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) < 0) throw_errno("move rootfs to /");
        if (k.chroot(".") < 0) throw_errno("chroot");
    } else {
        // pivot_root(".", ".") stacks the old root on top of the new one; it is
        // then detached without ever needing a directory inside the rootfs.
        // The old root is already rslave or rprivate (step 1 of prepare_rootfs), so
        // detaching it cannot propagate to the host.  (runc makes "." rslave here
        // again, but mount(2) resolves "." to the new root, not the old one on top
        // of it, which would undo the container's own rshared mounts.)  A tree
        // with the host's peers (MountPlan::host_peers) becomes rslave first,
        // through an fd of the old root.
        sys::UniqueFd old_root;
        if (host_peers) {
            old_root.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!old_root) throw_errno("open the old root");
        }
        if (k.pivot_root(".", ".") < 0) throw_errno("pivot_root " + quote(rootfs));
        if (old_root && k.mount_setattr(old_root.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, 0, 0, MS_SLAVE, 0) < 0) {
            // Before 5.12: mount(2) through the fd's /proc link (the container's /proc by now).
            if (errno != ENOSYS ||
                k.mount(nullptr, sys::fd_path(old_root.get()).c_str(), nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
                throw_errno("make the old root rslave");
        }
        if (k.umount2(".", MNT_DETACH) < 0) throw_errno("detach old root");
    }
    if (k.chdir("/") < 0) throw_errno("chdir /");
}

// maskedPaths and readonlyPaths are resolved inside the new root: a symlink
// in the container's tree cannot send a mount elsewhere.  The mount then goes
// on the resolved fd's /proc/self/fd path, which needs the container's /proc;
// a config without one gets the path beneath `root` as before (runc's way).
struct ListedPath {
    int root_fd;
    const std::string& root;
    bool by_fd;  // the container has /proc/self/fd
    // An O_PATH fd of `path` in the root, or an empty fd when it does not
    // exist (skipped, as in runc).
    sys::UniqueFd open(const std::string& path, const std::string& what) const {
        sys::UniqueFd fd = sys::try_open_in_root(root_fd, path, O_PATH);
        if (!fd && errno != ENOENT) throw_errno(what + " " + quote(path));
        return fd;
    }
    std::string target(const sys::UniqueFd& fd, const std::string& path) const {
        if (by_fd) return sys::fd_path(fd.get());
        return (root == "/" ? "" : root) + (path.starts_with('/') ? "" : "/") + path;
    }
};

void mask_path(sys::Kernel& k, const ListedPath& in, const std::string& path) {
    sys::UniqueFd fd = in.open(path, "stat masked path");
    if (!fd) return;
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) throw_errno("stat masked path " + quote(path));
    std::string target = in.target(fd, path);
    int rc = S_ISDIR(st.st_mode) ? k.mount("tmpfs", target.c_str(), "tmpfs", MS_RDONLY, nullptr)
                                 : k.mount("/dev/null", target.c_str(), nullptr, MS_BIND, nullptr);
    if (rc < 0) throw_errno("mask " + quote(path));
}

void make_readonly(sys::Kernel& k, const ListedPath& in, const std::string& path) {
    sys::UniqueFd fd = in.open(path, "bind readonly path");
    if (!fd) return;
    std::string at = in.target(fd, path);
    if (k.mount(at.c_str(), at.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
        throw_errno("bind readonly path " + quote(path));
    // A bind remount sets exactly the flags it is given: keep nosuid/nodev/noexec
    // and the atime mode of the mount the path was on (as runc does).
    sys::UniqueFd top = sys::open_in_root(in.root_fd, path, O_PATH);
    std::string top_path = in.target(top, path);
    remount_bind(k, top_path, MS_BIND | MS_REMOUNT | MS_RDONLY | mount_flags_of(k, top_path),
                 "readonly path " + quote(path));
}

}  // namespace

std::vector<sys::UniqueFd> clone_idmapped_sources(const spec::Config& config, const std::string& bundle,
                                                  const std::vector<int>& userns_fds, sys::Kernel& k) {
    std::vector<sys::UniqueFd> out;
    for (size_t i = 0; i < config.mounts.size(); ++i) {
        out.emplace_back();
        if (i >= userns_fds.size() || userns_fds[i] < 0) continue;
        const spec::Mount& m = config.mounts[i];
        std::string what = "mounts[" + std::to_string(i) + "]: idmapped mount of " + quote(m.source);
        std::string source = m.source.empty() || m.source[0] == '/' ? m.source : bundle + "/" + m.source;
        unsigned rec = spec::parse_mount_options(m.options).recursive ? AT_RECURSIVE : 0;
        auto fail = [&] {
            int err = errno;
            throw sys_error(err, what + (err == EPERM    ? " (needs privilege over the source's filesystem: "
                                                           "real root; never rootless on the host's filesystems)"
                                         : err == EINVAL ? " (the filesystem does not support idmapped mounts)"
                                                         : ""));
        };
        sys::UniqueFd tree(k.open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec));
        if (!tree) fail();
        if (k.mount_setattr(tree.get(), "", AT_EMPTY_PATH | rec, MOUNT_ATTR_IDMAP, 0, 0, userns_fds[i]) < 0) fail();
        out.back() = std::move(tree);
    }
    return out;
}

void prepare_rootfs(const MountPlan& plan, bool no_pivot, const std::function<void()>& before_pivot, sys::Kernel& k) {
    // 1. No mount event of ours may reach the host's namespace.  (Without a
    //    mount namespace of our own, "/" is the caller's: left as it is.)
    if (plan.own_mount_namespace && k.mount(nullptr, "/", nullptr, plan.root_propagation, nullptr) < 0)
        throw_errno("set propagation of /");
    //    Mounts that keep the host's peers (MountPlan::host_peers): the rootfs gets a private parent.
    if (plan.host_peers) {
        std::string holder = sys::mount_point_of(plan.rootfs);
        if (k.mount(nullptr, holder.c_str(), nullptr, MS_PRIVATE, nullptr) < 0)
            throw_errno("make " + quote(holder) + ", which holds the rootfs, private");
    }
    // 2. The rootfs must be a mount point for pivot_root: an image's overlay,
    //    or root.path bound onto itself.  chroot needs neither.
    if (!plan.rootfs_overlay.empty()) {
        mount_overlay(k, plan);
    } else if (plan.own_mount_namespace &&
               k.mount(plan.rootfs.c_str(), plan.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0) {
        throw_errno("bind rootfs " + quote(plan.rootfs));
    }
    sys::UniqueFd root(::open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw_errno("open rootfs " + quote(plan.rootfs));
    // 3. Config mounts, in order, each target resolved inside the rootfs.
    // The root's mount id only where a copyup needs it: no statx on every start.
    CopyableMounts copyable;
    if (std::any_of(plan.mounts.begin(), plan.mounts.end(), [](const MountOp& op) { return op.copyup; }))
        copyable.insert(sys::mount_id(root.get(), plan.rootfs));
    std::string root_path = path_of(root.get());
    for (const auto& op : plan.mounts) apply_mount(k, root.get(), root_path, op, copyable);
    // 4. /dev nodes and symlinks, unless /dev is the host's.
    if (plan.setup_dev) create_devices(k, root.get(), plan.devices, plan.mknod);
    // 5. The working directory, inside whatever mounts now cover its path.
    if (!plan.cwd.empty()) {
        with_context("process.cwd " + quote(plan.cwd), [&] {
            bool made = plan.cwd_owner && !sys::open_in_root_if_exists(root.get(), plan.cwd, O_PATH);
            sys::UniqueFd cwd = sys::mkdir_all_in_root(root.get(), plan.cwd, 0755);
            if (made && k.fchownat(cwd.get(), "", plan.cwd_owner->first, plan.cwd_owner->second, AT_EMPTY_PATH) < 0 &&
                errno != EINVAL)  // an id not mapped: the process cannot be it either
                throw_errno("chown to the process's user");
        });
    }
    if (before_pivot) before_pivot();
    // 6. Switch root.
    pivot(k, plan.rootfs, no_pivot, plan.own_mount_namespace, plan.host_peers);
}

void finish_rootfs(const MountPlan& plan, sys::Kernel& k, const std::string& root) {
    if (plan.final_root_propagation && k.mount(nullptr, "/", nullptr, plan.final_root_propagation, nullptr) < 0)
        throw_errno("set rootfsPropagation of /");
    if (!plan.masked_paths.empty() || !plan.readonly_paths.empty()) {
        sys::UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root_fd) throw_errno("open the new root " + quote(root));
        ListedPath in{root_fd.get(), root, k.access("/proc/self/fd", F_OK) == 0};
        for (const auto& p : plan.masked_paths) mask_path(k, in, p);
        for (const auto& p : plan.readonly_paths) make_readonly(k, in, p);
    }
    if (plan.root_readonly) remount_bind(k, root, MS_BIND | MS_REMOUNT | MS_RDONLY, "root read-only");
}

void apply_uts_and_sysctl(const MountPlan& plan, sys::Kernel& k) {
    if (!plan.hostname.empty() && k.sethostname(plan.hostname.data(), plan.hostname.size()) < 0)
        throw_errno("set hostname " + quote(plan.hostname));
    if (!plan.domainname.empty() && k.setdomainname(plan.domainname.data(), plan.domainname.size()) < 0)
        throw_errno("set domainname " + quote(plan.domainname));
    for (const auto& s : plan.sysctl)
        with_context("linux.sysctl " + quote(s.key), [&] { k.write_file(s.path, s.value); });
}

}  // namespace crunlite::linux
