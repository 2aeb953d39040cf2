// Kernel: the calls with which the namespace, rootfs and cgroup setup changes
// the system -- namespace joins and unshares, the switch to uid/gid 0 of a new
// user namespace, cgroup entry, mounts, the root switch, host and domain names,
// device nodes and /dev symlinks, sysctl and /proc/self writes; cgroup
// directories (mkdir, rmdir), cgroup file writes and the signals kill_all
// sends -- and the two host reads the rootfs code bases a decision on (statvfs
// for locked mount flags, access for optional files).  Each method has the
// contract of the syscall it is named after (returns -1 with errno set),
// except write_file, which throws crunlite::Error naming the path.
//
// linux/rootfs.hpp, linux/namespaces.hpp (stage-1's enter_namespaces) and
// cgroup/manager.hpp (create, apply, freeze, kill_all, destroy; cgroup/plan.hpp's
// make) take a Kernel& so unit tests can hand them a recording implementation
// and check what would be done, in which order, without privilege
// (tests/unit/linux/recording_kernel.hpp).  Still direct: path lookups and the
// files made inside the rootfs (openat2, fstat, mkdir of mount targets,
// tmpcopyup's copy: tests run them on a temporary rootfs), the cgroup manager's
// reads (cgroup.controllers, cpuset.cpus, cgroup.procs, existence checks: tests
// run them on temporary cgroup roots), the v2 device program's attach, and the
// fuse-overlayfs daemon.
//
// host_kernel() is the production implementation: each method is the syscall
// and nothing else (not final: unit tests derive from it to add what cgroupfs
// does on mkdir).  The indirection is one virtual call per syscall, a few
// nanoseconds against the microseconds of a mount (BASELINE= contrib/bench/
// run-bench.sh measured 0.994 against the build before the seam: README).
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "crunlite/base/strings.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::sys {

class Kernel {
public:
    virtual ~Kernel() = default;
    virtual int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                      const char* data) = 0;
    virtual int umount2(const char* target, int flags) = 0;
    virtual int pivot_root(const char* new_root, const char* put_old) = 0;
    virtual int chroot(const char* path) = 0;
    virtual int chdir(const char* path) = 0;
    virtual int mount_setattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                              uint64_t propagation, int userns_fd = 0) = 0;
    virtual int open_tree(int dirfd, const char* path, unsigned flags) = 0;
    virtual int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                           unsigned flags) = 0;
    virtual int mknodat(int dirfd, const char* name, mode_t mode, dev_t dev) = 0;
    virtual int fchownat(int dirfd, const char* name, uid_t uid, gid_t gid, int flags) = 0;
    virtual int symlinkat(const char* target, int dirfd, const char* name) = 0;
    virtual int unshare(int flags) = 0;
    virtual int setns(int fd, int nstype) = 0;
    virtual int setresuid(uid_t r, uid_t e, uid_t s) = 0;
    virtual int setresgid(gid_t r, gid_t e, gid_t s) = 0;
    virtual int sethostname(const char* name, size_t len) = 0;
    virtual int setdomainname(const char* name, size_t len) = 0;
    virtual void write_file(const std::string& path, std::string_view data) = 0;
    virtual int mkdir(const char* path, mode_t mode) = 0;
    virtual int rmdir(const char* path) = 0;
    virtual int kill(pid_t pid, int sig) = 0;
    // Reads the rootfs code makes of the host (mount flags, optional files).
    virtual int statvfs(const char* path, struct ::statvfs* st) = 0;
    virtual int access(const char* path, int mode) = 0;
};

class HostKernel : public Kernel {
public:
    int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
              const char* data) override {
        return ::mount(source, target, fstype, flags, data);
    }
    int umount2(const char* target, int flags) override { return ::umount2(target, flags); }
    int pivot_root(const char* new_root, const char* put_old) override { return sys::pivot_root(new_root, put_old); }
    int chroot(const char* path) override { return ::chroot(path); }
    int chdir(const char* path) override { return ::chdir(path); }
    int mount_setattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                      uint64_t propagation, int userns_fd = 0) override {
        return sys::mount_setattr(dirfd, path, flags, attr_set, attr_clr, propagation, userns_fd);
    }
    int open_tree(int dirfd, const char* path, unsigned flags) override { return sys::open_tree(dirfd, path, flags); }
    int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                   unsigned flags) override {
        return sys::move_mount(from_dirfd, from_path, to_dirfd, to_path, flags);
    }
    int mknodat(int dirfd, const char* name, mode_t mode, dev_t dev) override {
        return ::mknodat(dirfd, name, mode, dev);
    }
    int fchownat(int dirfd, const char* name, uid_t uid, gid_t gid, int flags) override {
        return ::fchownat(dirfd, name, uid, gid, flags);
    }
    int symlinkat(const char* target, int dirfd, const char* name) override {
        return ::symlinkat(target, dirfd, name);
    }
    int unshare(int flags) override { return ::unshare(flags); }
    int setns(int fd, int nstype) override { return ::setns(fd, nstype); }
    int setresuid(uid_t r, uid_t e, uid_t s) override { return ::setresuid(r, e, s); }
    int setresgid(gid_t r, gid_t e, gid_t s) override { return ::setresgid(r, e, s); }
    int sethostname(const char* name, size_t len) override { return ::sethostname(name, len); }
    int setdomainname(const char* name, size_t len) override { return ::setdomainname(name, len); }
    void write_file(const std::string& path, std::string_view data) override { crunlite::write_file(path, data); }
    int mkdir(const char* path, mode_t mode) override { return ::mkdir(path, mode); }
    int rmdir(const char* path) override { return ::rmdir(path); }
    int kill(pid_t pid, int sig) override { return ::kill(pid, sig); }
    int statvfs(const char* path, struct ::statvfs* st) override { return ::statvfs(path, st); }
    int access(const char* path, int mode) override { return ::access(path, mode); }
};

// The running kernel.
inline Kernel& host_kernel() {
    static HostKernel kernel;
    return kernel;
}

}  // namespace crunlite::sys
