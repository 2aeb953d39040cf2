// A sys::Kernel for unit tests: records every call as one line of text instead
// of changing the system, so tests check what the apply code would do and in
// which order, without privilege.  Paths are written as the kernel would see
// them: "/proc/self/fd/N" is replaced by what the fd names, and the test's
// temporary directory by "$BUNDLE".  mknodat makes an empty regular file,
// symlinkat the symlink and mkdir the directory, inside the test's temporary
// directory, so later lookups find them; nothing else touches the filesystem
// (rmdir and kill are only recorded).  `fail` may make a call return -1 with an
// errno (to test fallbacks).  Not final: the cgroup tests add what cgroupfs does
// on mkdir (tests/unit/cgroup/manager_test.cpp).
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/sys/kernel.hpp"

namespace crunlite::testing {

class RecordingKernel : public sys::Kernel {
public:
    explicit RecordingKernel(std::string bundle) : bundle_(std::move(bundle)) {}

    std::vector<std::string> calls;
    // Returns the errno a call (its recorded line) fails with, or 0.
    std::function<int(const std::string& call)> fail;

    // Index of the first call starting with `prefix` at or after `from`; npos when none.
    size_t find(std::string_view prefix, size_t from = 0) const {
        for (size_t i = from; i < calls.size(); ++i)
            if (calls[i].rfind(prefix, 0) == 0) return i;
        return std::string::npos;
    }
    size_t find_last(std::string_view prefix) const {
        for (size_t i = calls.size(); i-- > 0;)
            if (calls[i].rfind(prefix, 0) == 0) return i;
        return std::string::npos;
    }
    std::string text() const {
        std::string out;
        for (const auto& c : calls) out += c + "\n";
        return out;
    }

    int mount(const char* source, const char* target, const char* fstype, unsigned long flags,
              const char* data) override {
        return record("mount " + path(source) + " " + path(target) + " " + str(fstype) + " " + mount_flags(flags) +
                      (data ? std::string(" ") + data : ""));
    }
    int umount2(const char* target, int flags) override {
        return record("umount2 " + path(target) + (flags & MNT_DETACH ? " MNT_DETACH" : ""));
    }
    int pivot_root(const char* new_root, const char* put_old) override {
        return record("pivot_root " + path(new_root) + " " + path(put_old));
    }
    int chroot(const char* p) override { return record("chroot " + path(p)); }
    int chdir(const char* p) override { return record("chdir " + path(p)); }
    int mount_setattr(int dirfd, const char* p, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                      uint64_t propagation, int userns_fd) override {
        char buf[128];
        std::snprintf(buf, sizeof buf, " set=%#llx clr=%#llx prop=%#llx%s%s", (unsigned long long)attr_set,
                      (unsigned long long)attr_clr, (unsigned long long)propagation,
                      flags & AT_RECURSIVE ? " AT_RECURSIVE" : "", userns_fd > 0 ? " userns" : "");
        return record("mount_setattr " + at(dirfd, p) + buf);
    }
    int open_tree(int dirfd, const char* p, unsigned flags) override {
        int rc = record(std::string("open_tree ") + at(dirfd, p) + (flags & AT_RECURSIVE ? " AT_RECURSIVE" : ""));
        return rc < 0 ? rc : ::open("/dev/null", O_PATH | O_CLOEXEC);  // a stand-in for the detached tree
    }
    int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path, unsigned) override {
        return record("move_mount " + at(from_dirfd, from_path) + " " + at(to_dirfd, to_path));
    }
    int mknodat(int dirfd, const char* name, mode_t mode, dev_t dev) override {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %c %u:%u", S_ISBLK(mode) ? 'b' : S_ISFIFO(mode) ? 'p' : 'c', major(dev),
                      minor(dev));
        int rc = record("mknod " + at(dirfd, name) + buf);
        if (rc == 0) {
            int fd = ::openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (fd >= 0) ::close(fd);
        }
        return rc;
    }
    int fchownat(int dirfd, const char* name, uid_t uid, gid_t gid, int) override {
        return record("chown " + at(dirfd, name) + " " + std::to_string(uid) + ":" + std::to_string(gid));
    }
    int symlinkat(const char* target, int dirfd, const char* name) override {
        int rc = record("symlink " + at(dirfd, name) + " -> " + target);
        return rc == 0 ? ::symlinkat(target, dirfd, name) : rc;
    }
    int unshare(int flags) override { return record("unshare " + clone_flags(flags)); }
    int setns(int fd, int nstype) override { return record("setns " + at(fd, "") + " " + clone_flags(nstype)); }
    int setresuid(uid_t r, uid_t e, uid_t s) override { return record("setresuid " + ids(r, e, s)); }
    int setresgid(gid_t r, gid_t e, gid_t s) override { return record("setresgid " + ids(r, e, s)); }
    int sethostname(const char* name, size_t len) override { return record("sethostname " + std::string(name, len)); }
    int setdomainname(const char* name, size_t len) override {
        return record("setdomainname " + std::string(name, len));
    }
    void write_file(const std::string& p, std::string_view data) override {
        if (record("write " + path(p.c_str()) + " " + std::string(data)) < 0)
            throw_errno("write " + p);
    }
    int mkdir(const char* p, mode_t mode) override {
        char buf[16];
        std::snprintf(buf, sizeof buf, " %04o", static_cast<unsigned>(mode));
        int rc = record("mkdir " + path(p) + buf);
        return rc == 0 ? ::mkdir(p, mode) : rc;
    }
    int rmdir(const char* p) override { return record("rmdir " + path(p)); }
    int kill(pid_t pid, int sig) override { return record("kill " + std::to_string(pid) + " " + std::to_string(sig)); }
    // Host reads are answered from fixed facts, not recorded, so records do not
    // depend on the machine the test runs on.
    int statvfs(const char*, struct ::statvfs* st) override {
        *st = {};
        st->f_flag = statvfs_flags;
        return 0;
    }
    int access(const char* p, int) override {
        for (const auto& f : present_files)
            if (f == p) return 0;
        errno = ENOENT;
        return -1;
    }
    unsigned long statvfs_flags = ST_RELATIME;
    std::vector<std::string> present_files = {"/proc/kcore", "/proc/self/fd"};

    static std::string mount_flags(unsigned long flags) {
        static const std::pair<unsigned long, const char*> names[] = {
            {MS_RDONLY, "RDONLY"},   {MS_NOSUID, "NOSUID"},     {MS_NODEV, "NODEV"},     {MS_NOEXEC, "NOEXEC"},
            {MS_REMOUNT, "REMOUNT"}, {MS_BIND, "BIND"},         {MS_MOVE, "MOVE"},       {MS_REC, "REC"},
            {MS_PRIVATE, "PRIVATE"}, {MS_SLAVE, "SLAVE"},       {MS_SHARED, "SHARED"},   {MS_UNBINDABLE, "UNBINDABLE"},
            {MS_NOATIME, "NOATIME"}, {MS_NODIRATIME, "NODIRATIME"}, {MS_RELATIME, "RELATIME"},
            {MS_STRICTATIME, "STRICTATIME"}, {MS_SYNCHRONOUS, "SYNC"}, {MS_DIRSYNC, "DIRSYNC"},
            {MS_MANDLOCK, "MANDLOCK"}, {MS_LAZYTIME, "LAZYTIME"}, {MS_SILENT, "SILENT"},
        };
        std::string out;
        for (auto [bit, name] : names)
            if (flags & bit) {
                out += out.empty() ? "" : "|";
                out += name;
                flags &= ~bit;
            }
        if (flags) out += (out.empty() ? "" : "|") + std::to_string(flags);
        return out.empty() ? "0" : out;
    }
    static std::string clone_flags(int flags) {
        static const std::pair<int, const char*> names[] = {
            {CLONE_NEWUSER, "NEWUSER"}, {CLONE_NEWNS, "NEWNS"},   {CLONE_NEWPID, "NEWPID"},
            {CLONE_NEWIPC, "NEWIPC"},   {CLONE_NEWUTS, "NEWUTS"}, {CLONE_NEWNET, "NEWNET"},
            {CLONE_NEWCGROUP, "NEWCGROUP"}, {CLONE_NEWTIME, "NEWTIME"},
        };
        std::string out;
        for (auto [bit, name] : names)
            if (flags & bit) out += (out.empty() ? "" : "|") + std::string(name);
        return out.empty() ? "0" : out;
    }

private:
    int record(std::string call) {
        calls.push_back(std::move(call));
        if (fail)
            if (int err = fail(calls.back())) {
                errno = err;
                return -1;
            }
        return 0;
    }
    static std::string str(const char* s) { return s ? s : "-"; }
    static std::string ids(unsigned r, unsigned e, unsigned s) {
        return std::to_string(r) + " " + std::to_string(e) + " " + std::to_string(s);
    }
    // What `p` names: an fd's target for /proc/self/fd/N, the bundle as $BUNDLE.
    std::string path(const char* p) const {
        if (!p) return "-";
        std::string s = p;
        if (s.rfind("/proc/self/fd/", 0) == 0) s = link(s);
        if (s.rfind(bundle_, 0) == 0) s = "$BUNDLE" + s.substr(bundle_.size());
        return s;
    }
    std::string at(int dirfd, const char* name) const {
        std::string base = dirfd == AT_FDCWD ? "" : link("/proc/self/fd/" + std::to_string(dirfd));
        std::string s = !name || !*name ? base : base.empty() ? name : base + "/" + name;
        return path(s.c_str());
    }
    static std::string link(const std::string& p) {
        char buf[4096];
        ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
        return n < 0 ? p : std::string(buf, static_cast<size_t>(n));
    }
    std::string bundle_;
};

}  // namespace crunlite::testing
