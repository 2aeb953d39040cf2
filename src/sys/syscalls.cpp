#include "crunlite/sys/syscalls.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/interrupt.hpp"

namespace crunlite::sys {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    for (const auto& dir : split(path ? path : "/usr/local/bin:/usr/bin:/bin", ':')) {
        std::string candidate = dir + "/" + name;
        if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

UniqueFd try_open_in_root(int root_fd, const std::string& path, int flags, mode_t mode) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    const char* p = path.empty() ? "." : path.c_str();
    for (;;) {
        long fd = ::syscall(SYS_openat2, root_fd, p, &how, sizeof how);
        if (fd >= 0) return UniqueFd(static_cast<int>(fd));
        // EAGAIN: a concurrent rename raced the in-root resolution; retry.
        if (errno != EAGAIN && errno != EINTR) return UniqueFd();
    }
}

UniqueFd open_in_root(int root_fd, const std::string& path, int flags, mode_t mode) {
    UniqueFd fd = try_open_in_root(root_fd, path, flags, mode);
    if (!fd) throw_errno("open " + quote(path) + " in rootfs");
    return fd;
}

UniqueFd open_in_root_if_exists(int root_fd, const std::string& path, int flags) {
    UniqueFd fd = try_open_in_root(root_fd, path, flags);
    if (!fd && errno != ENOENT) throw_errno("open " + quote(path) + " in rootfs");
    return fd;
}

static int openat2_retrying(int dir, const std::string& name, int flags, uint64_t resolve) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = resolve;
    for (;;) {
        long fd = ::syscall(SYS_openat2, dir, name.c_str(), &how, sizeof how);
        if (fd >= 0 || (errno != EAGAIN && errno != EINTR)) return static_cast<int>(fd);
    }
}

int open_beneath(int dir, const std::string& name, int flags) {
    return openat2_retrying(dir, name, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

int open_inside(int dir, const std::string& name, int flags) {
    return openat2_retrying(dir, name, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

// Splits "a/b/c" into the parent part "a/b" and the last name "c".
static std::pair<std::string, std::string> split_last(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    size_t pos = p.rfind('/');
    if (pos == std::string::npos) return {".", p};
    return {pos == 0 ? "/" : p.substr(0, pos), p.substr(pos + 1)};
}

// Where `name` in `parent_fd` (a directory at in-root path `parent`) points, as an
// in-root path, when it is a symlink; "" otherwise.  A dangling symlink is
// followed to create what it names (as runc does), never out of the root:
// the result is resolved in-root again.
static std::string link_target_in_root(int parent_fd, const std::string& parent, const std::string& name) {
    char buf[PATH_MAX];
    ssize_t n = ::readlinkat(parent_fd, name.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return "";
    std::string target(buf, static_cast<size_t>(n));
    return target[0] == '/' ? target : (parent == "/" ? "" : parent) + "/" + target;
}

// Dangling symlinks followed at most this often in one path (the kernel's own limit).
constexpr int kMaxLinks = 40;

static UniqueFd mkdir_all_in_root(int root_fd, const std::string& path, mode_t mode, int links) {
    if (UniqueFd fd = open_in_root_if_exists(root_fd, path, O_PATH | O_DIRECTORY)) return fd;
    auto [parent, name] = split_last(path);
    if (name.empty()) throw Error(EINVAL, "mkdir " + quote(path) + " in rootfs: invalid path");
    UniqueFd parent_fd = mkdir_all_in_root(root_fd, parent, mode, links);
    // `/x/y/../z` with no x yet: x/y made, then `..` is resolved in the root, after
    // the links of what it follows (runc's securejoin), never above the root.
    if (name == "." || name == "..") return open_in_root(root_fd, path, O_PATH | O_DIRECTORY);
    // mkdirat() on a single name never follows a symlink in that last component.
    if (::mkdirat(parent_fd.get(), name.c_str(), mode) < 0) {
        if (errno != EEXIST) throw_errno("mkdir " + quote(path) + " in rootfs");
        std::string target = link_target_in_root(parent_fd.get(), parent, name);
        if (!target.empty()) {
            if (links >= kMaxLinks) throw Error(ELOOP, "mkdir " + quote(path) + " in rootfs");
            mkdir_all_in_root(root_fd, target, mode, links + 1);
        }
    }
    return open_in_root(root_fd, path, O_PATH | O_DIRECTORY);
}

UniqueFd mkdir_all_in_root(int root_fd, const std::string& path, mode_t mode) {
    return mkdir_all_in_root(root_fd, path, mode, 0);
}

static UniqueFd touch_in_root(int root_fd, const std::string& path, mode_t mode, int links, int parent_fd) {
    auto [parent, name] = split_last(path);
    UniqueFd own_parent;
    if (parent_fd < 0) {
        own_parent = mkdir_all_in_root(root_fd, parent, 0755, links);
        parent_fd = own_parent.get();
    }
    // Created first, the common case (a mount point in a fresh tmpfs): O_EXCL and
    // O_NOFOLLOW make the fd the new file itself, never what a link names, and it
    // is returned as it is (three system calls fewer than looking it up again).
    UniqueFd created(::openat(parent_fd, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode));
    if (created) return created;
    if (errno != EEXIST) throw_errno("create " + quote(path) + " in rootfs");
    if (UniqueFd fd = open_in_root_if_exists(root_fd, path, O_PATH)) return fd;
    // A link to a missing file: create the file it names, in the root.
    std::string target = link_target_in_root(parent_fd, parent, name);
    if (!target.empty()) {
        if (links >= kMaxLinks) throw Error(ELOOP, "create " + quote(path) + " in rootfs");
        touch_in_root(root_fd, target, mode, links + 1, -1);
    }
    return open_in_root(root_fd, path, O_PATH);
}

UniqueFd touch_in_root(int root_fd, const std::string& path, mode_t mode, int parent_fd) {
    return touch_in_root(root_fd, path, mode, 0, parent_fd);
}

int remove_tree_at(int dirfd, const std::string& name) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return 0;
    // Linux says EISDIR for a directory; EPERM may be one too (or an immutable file).
    if (errno != EISDIR && errno != EPERM) return -1;
    int unlink_errno = errno;
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        // Unreadable (overlayfs leaves work/work at mode 000): its owner may
        // chmod it first, through an O_PATH fd, which followed no symlink.
        UniqueFd path(::openat(dirfd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (path && ::chmod(("/proc/self/fd/" + std::to_string(path.get())).c_str(), 0700) == 0)
            fd = ::openat(path.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else
            errno = EACCES;
    }
    if (fd < 0) {
        if (errno == ENOTDIR || errno == ELOOP) errno = unlink_errno;  // it was not a directory
        return -1;
    }
    ::fchmod(fd, 0700);  // best effort: only the owner may, and only it needs to
    DIR* d = ::fdopendir(fd);
    if (!d) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    int failed = 0;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != ".." && remove_tree_at(::dirfd(d), n) < 0 && !failed) failed = errno;
    }
    ::closedir(d);
    if (failed) {
        errno = failed;
        return -1;
    }
    return ::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

int remove_tree(const std::string& path) {
    size_t end = path.find_last_not_of('/');
    size_t slash = end == std::string::npos ? std::string::npos : path.rfind('/', end);
    std::string name = end == std::string::npos ? "" : path.substr(slash + 1, end - slash);
    if (name.empty() || name == "." || name == "..") {
        errno = EINVAL;
        return -1;
    }
    std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    UniqueFd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return errno == ENOENT ? 0 : -1;
    return remove_tree_at(dir.get(), name);
}

int pivot_root(const char* new_root, const char* put_old) {
    return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

int execveat_empty_path(int fd, char* const argv[]) {
    return static_cast<int>(::syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH));
}

int pidfd_open(pid_t pid, unsigned flags) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags)); }

int pidfd_send_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::optional<int> pidfd_exit_status(int pidfd) {
    // struct pidfd_info up to exit_code (PIDFD_INFO_SIZE_VER0), from Linux 6.15's
    // include/uapi/linux/pidfd.h, which glibc 2.36's headers lack.
    struct {
        uint64_t mask, cgroupid;
        uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        int32_t exit_code;
    } info = {};
    static_assert(sizeof info == 64);
    constexpr uint64_t kInfoExit = 1ULL << 3;  // PIDFD_INFO_EXIT
    constexpr unsigned long kGetInfo = _IOWR(0xFF, 11, decltype(info));  // PIDFD_GET_INFO
    info.mask = kInfoExit;
    if (::ioctl(pidfd, kGetInfo, &info) < 0 || !(info.mask & kInfoExit)) return std::nullopt;
    return info.exit_code;
}

int mount_setattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                  uint64_t propagation, int userns_fd) {
    struct {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
    } attr = {attr_set, attr_clr, propagation, static_cast<uint64_t>(userns_fd)};
    return static_cast<int>(::syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof attr));
}

int open_tree(int dirfd, const char* path, unsigned flags) {
    return static_cast<int>(::syscall(SYS_open_tree, dirfd, path, flags));
}

int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path, unsigned flags) {
    return static_cast<int>(::syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
}

int fsopen_cloexec(const char* fs) {
    constexpr unsigned kFsopenCloexec = 0x00000001;  // FSOPEN_CLOEXEC
    return static_cast<int>(::syscall(SYS_fsopen, fs, kFsopenCloexec));
}

int fsconfig_string(int fs_fd, const char* key, const char* value) {
    constexpr unsigned kSetString = 1;  // FSCONFIG_SET_STRING
    return static_cast<int>(::syscall(SYS_fsconfig, fs_fd, kSetString, key, value, 0));
}

int fsconfig_flag(int fs_fd, const char* key) {
    constexpr unsigned kSetFlag = 0;  // FSCONFIG_SET_FLAG
    return static_cast<int>(::syscall(SYS_fsconfig, fs_fd, kSetFlag, key, nullptr, 0));
}

int fsconfig_create(int fs_fd) {
    constexpr unsigned kCmdCreate = 6;  // FSCONFIG_CMD_CREATE
    return static_cast<int>(::syscall(SYS_fsconfig, fs_fd, kCmdCreate, nullptr, nullptr, 0));
}

int fsmount_cloexec(int fs_fd, unsigned attrs) {
    constexpr unsigned kFsmountCloexec = 0x00000001;  // FSMOUNT_CLOEXEC
    return static_cast<int>(::syscall(SYS_fsmount, fs_fd, kFsmountCloexec, attrs));
}

int close_range_cloexec(unsigned first) {
    constexpr unsigned kCloseRangeCloexec = 1U << 2;  // CLOSE_RANGE_CLOEXEC
    return static_cast<int>(::syscall(SYS_close_range, first, ~0U, kCloseRangeCloexec));
}

namespace {

// A one-iovec msghdr with room for one SCM_RIGHTS fd.
struct FdMessage {
    iovec iov;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    FdMessage(void* data, size_t len) : iov{data, len} {
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
    }
};

}  // namespace

ssize_t send_with_fd(int sock, const void* data, size_t len, int fd) {
    FdMessage m(const_cast<void*>(data), len);
    cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n;
    while ((n = ::sendmsg(sock, &m.msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
    return n;
}

ssize_t recv_with_fd(int sock, void* buf, size_t len, UniqueFd& fd, bool interruptible) {
    FdMessage m(buf, len);
    ssize_t n;
    if (interruptible && interrupted_by()) {  // one that came before we block
        errno = EINTR;
        return -1;
    }
    while ((n = ::recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR &&
           !(interruptible && interrupted_by())) {}
    if (n < 0) return n;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg); c; c = CMSG_NXTHDR(&m.msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int received;
            std::memcpy(&received, CMSG_DATA(c), sizeof received);
            fd.reset(received);
        }
    }
    return n;
}

bool read_proc_stat(pid_t pid, ProcStat& out) {
    // No exception for a pid that is gone: `list` asks this of every stopped container.
    UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    std::string content = read_to_end(fd.get(), 4096);
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    size_t pos = content.rfind(')');
    if (pos == std::string::npos || pos + 2 >= content.size()) return false;
    auto fields = split_view(std::string_view(content).substr(pos + 2), ' ');
    // fields[0] is field 3 (state); field N is fields[N - 3].
    if (fields.size() < 20) return false;
    out.state = fields[0].empty() ? '?' : fields[0][0];
    out.ppid = static_cast<pid_t>(parse_int(fields[1]).value_or(0));
    out.start_time = parse_uint(fields[19]).value_or(0);
    return true;
}

void populate(void* p, size_t len) noexcept {
#ifndef MADV_POPULATE_WRITE
    constexpr int MADV_POPULATE_WRITE = 23;  // include/uapi/asm-generic/mman-common.h
#endif
    const uintptr_t page = 4096, start = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1),
                    end = (reinterpret_cast<uintptr_t>(p) + len) & ~(page - 1);
    if (end > start) ::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_WRITE);
}

std::vector<pid_t> proc_pids() {
    std::vector<pid_t> out;
    if (DIR* d = ::opendir("/proc")) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
                if (auto pid = parse_int(e->d_name)) out.push_back(static_cast<pid_t>(*pid));
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool in_initial_userns() {
    try {
        auto fields = split(read_file("/proc/self/uid_map"), ' ');
        std::vector<std::string> words;
        for (auto& f : fields)
            if (!f.empty()) words.push_back(f);
        return words.size() >= 3 && words[0] == "0" && words[1] == "0" &&
               words[2].rfind("4294967295", 0) == 0;
    } catch (const Error&) {
        return true;
    }
}

namespace {

using DirStream = std::unique_ptr<DIR, int (*)(DIR*)>;

// A stream over the entries of the directory `fd` (a duplicate of it: `fd` stays ours).
DirStream read_dir(int fd, const std::string& where) {
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR* d = dup < 0 ? nullptr : ::fdopendir(dup);
    if (!d) {
        if (dup >= 0) ::close(dup);
        throw_errno("read " + quote(where));
    }
    return DirStream(d, ::closedir);
}

// The statx mount id of `name` in `dirfd` (name "": dirfd itself); `where` names it in errors.
uint64_t mount_id_at(int dirfd, const char* name, const std::string& where) {
    struct statx sx;
    if (::statx(dirfd, name, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH), STATX_MNT_ID, &sx) < 0)
        throw_errno("statx " + quote(where));
    if (!(sx.stx_mask & STATX_MNT_ID)) throw Error(ENOTSUP, "statx " + quote(where) + ": no mount id (kernel before 5.8)");
    return sx.stx_mnt_id;
}

}  // namespace

std::string mount_point_of(const std::string& path) {
    auto mount_id = [](const std::string& p) { return mount_id_at(AT_FDCWD, p.c_str(), p); };
    std::unique_ptr<char, decltype(&::free)> real(::realpath(path.c_str(), nullptr), ::free);
    if (!real) throw_errno("resolve " + quote(path));
    std::string at = real.get();
    uint64_t id = mount_id(at);
    while (at != "/") {
        std::string parent = at.substr(0, at.rfind('/'));
        if (parent.empty()) parent = "/";
        if (mount_id(parent) != id) break;
        at = parent;
    }
    return at;
}

bool directory_empty(int fd, const std::string& where) {
    DirStream dir = read_dir(fd, where);
    DIR* d = dir.get();
    ::rewinddir(d);  // the duplicate shares the offset
    while (struct dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) return false;
    return true;
}

namespace {

// Owner, mode and times of the copy `fd` (open on the new entry) from `st`.
void copy_attributes(int fd, const struct stat& st, const std::string& path) {
    if (::fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM && errno != EINVAL) throw_errno("chown " + quote(path));
    if (::fchmod(fd, st.st_mode & 07777) < 0) throw_errno("chmod " + quote(path));
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ::futimens(fd, times);
}

void copy_entries(int src, int dst, const std::string& where, uint64_t mount) {
    DirStream dir = read_dir(src, where);
    DIR* d = dir.get();
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string path = where + "/" + name;
        struct stat st;
        if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("stat " + quote(path));
        // Every change to the copy goes through an fd of what we made, or by a
        // name never followed: `dst` may be writable by others meanwhile (a
        // volume another container uses), who could swap an entry for a symlink.
        if (S_ISDIR(st.st_mode)) {
            if (::mkdirat(dst, name.c_str(), 0700) < 0) throw_errno("copy " + quote(path));
            UniqueFd from(::openat(src, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            UniqueFd to(::openat(dst, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!from || !to) throw_errno("open " + quote(path));
            // What another filesystem mounted there holds is not the tree's: not copied.
            if (mount_id_at(from.get(), "", path) == mount) copy_entries(from.get(), to.get(), path, mount);
            copy_attributes(to.get(), st, path);
        } else if (S_ISREG(st.st_mode)) {
            UniqueFd from(::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            UniqueFd to(::openat(dst, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!from || !to) throw_errno("copy " + quote(path));
            // read/write: copy_file_range refuses to cross filesystems (EXDEV).
            char buf[65536];
            for (;;) {
                ssize_t n = ::read(from.get(), buf, sizeof buf);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) throw_errno("read " + quote(path));
                if (n == 0) break;
                for (ssize_t done = 0; done < n;) {
                    ssize_t w = ::write(to.get(), buf + done, static_cast<size_t>(n - done));
                    if (w < 0 && errno == EINTR) continue;
                    if (w < 0) throw_errno("copy " + quote(path));
                    done += w;
                }
            }
            copy_attributes(to.get(), st, path);
        } else {
            if (S_ISLNK(st.st_mode)) {
                std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
                ssize_t n = ::readlinkat(src, name.c_str(), target.data(), target.size());
                if (n < 0) throw_errno("readlink " + quote(path));
                target.resize(static_cast<size_t>(n));
                if (::symlinkat(target.c_str(), dst, name.c_str()) < 0) throw_errno("copy " + quote(path));
            } else if (::mknodat(dst, name.c_str(), st.st_mode, st.st_rdev) < 0) {
                throw_errno("copy " + quote(path));
            }
            // A node or symlink is never opened for real: an O_PATH fd of it, checked
            // to be what we made (not a hard link put in its place), takes the owner,
            // and the mode through its /proc link.
            UniqueFd node(::openat(dst, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
            struct stat made;
            if (!node || ::fstat(node.get(), &made) < 0) throw_errno("open " + quote(path));
            if ((made.st_mode & S_IFMT) != (st.st_mode & S_IFMT) || made.st_nlink != 1)
                throw Error(EEXIST, "copy " + quote(path) + ": replaced while it was copied");
            if (::fchownat(node.get(), "", st.st_uid, st.st_gid, AT_EMPTY_PATH) < 0 && errno != EPERM && errno != EINVAL)
                throw_errno("chown " + quote(path));
            if (!S_ISLNK(st.st_mode) && ::chmod(fd_path(node.get()).c_str(), st.st_mode & 07777) < 0)
                throw_errno("chmod " + quote(path));
            struct timespec times[2] = {st.st_atim, st.st_mtim};
            ::utimensat(dst, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
        }
    }
}

}  // namespace

uint64_t mount_id(int fd, const std::string& where) { return mount_id_at(fd, "", where); }

void copy_tree(int src, int dst, const std::string& where) { copy_entries(src, dst, where, mount_id(src, where)); }

}  // namespace crunlite::sys
