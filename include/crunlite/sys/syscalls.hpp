// Wrappers of raw Linux syscalls that glibc 2.36 lacks and more than one module
// uses, plus fd-relative path helpers.  (A syscall one module alone needs, such as
// seccomp, sched_setattr, bpf or clone with flags, stays beside its only user.)  Every function throws crunlite::Error (errno +
// context naming the path) on failure unless it says otherwise.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/sys/fd.hpp"

namespace crunlite::sys {

// The executable `name` in the directories of $PATH (default
// /usr/local/bin:/usr/bin:/bin), or "" when there is none.  Runs on the host.
std::string find_on_path(const std::string& name);

// "/proc/self/fd/N": a path that names exactly the object behind `fd`, used to
// hand fd-resolved targets to path-based calls such as mount(2).
std::string fd_path(int fd);

// openat2(2) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: `path` (absolute or
// relative) is resolved as if `root_fd` were "/", so a symlink inside a rootfs can
// never lead outside it.  O_CLOEXEC is always added.
UniqueFd open_in_root(int root_fd, const std::string& path, int flags, mode_t mode = 0);
// The same, without throwing: an invalid fd and errno set when it fails (for
// callers to whom a missing file is an answer, not an error).
UniqueFd try_open_in_root(int root_fd, const std::string& path, int flags, mode_t mode = 0);
// open_in_root, but an invalid fd when `path` does not exist (ENOENT).
UniqueFd open_in_root_if_exists(int root_fd, const std::string& path, int flags);

// openat2(2) of `name` beneath `dir` following no symlink at all
// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): what is read
// from an image archive or layer can never lead elsewhere.  O_CLOEXEC is always
// added.  Returns the fd, or -1 with errno set (EXDEV: ".." or an absolute
// path; ELOOP: a symlink on the way).
int open_beneath(int dir, const std::string& name, int flags);
// open_beneath, but symlinks are followed as long as they stay beneath `dir`
// (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): EXDEV for one that leads out.
int open_inside(int dir, const std::string& name, int flags);

// Creates every missing directory of `path` inside `root_fd` (like mkdir -p,
// each component resolved in-root) and returns an O_PATH fd of the last one.
UniqueFd mkdir_all_in_root(int root_fd, const std::string& path, mode_t mode);

// Ensures a regular file exists at `path` inside `root_fd` (parents created) and
// returns an fd of it: O_PATH, or the file it created (opened write-only); an
// existing entry of any type is kept as is.  `parent_fd`, when the caller has
// it: `path`'s directory, from mkdir_all_in_root (one lookup for many files).
UniqueFd touch_in_root(int root_fd, const std::string& path, mode_t mode, int parent_fd = -1);

// Removes `name` in `dirfd` and, when it is a directory, everything below it.
// Each level is opened relative to its parent with O_NOFOLLOW, so no symlink is
// ever followed; directories are made readable and writable first (read-only
// image layers, overlayfs' work/work at mode 000).
// A missing `name` is success.  Returns 0, or -1 with errno of the first failure.
int remove_tree_at(int dirfd, const std::string& name);

// remove_tree_at of the last component of `path` in its parent directory
// (trailing slashes ignored; a relative path is relative to the working
// directory).  The same contract: a missing path, or a missing parent, is
// success; returns 0, or -1 with errno (EINVAL for "", "/", "." or "..", which
// name no entry of a parent that could be removed).
int remove_tree(const std::string& path);

// Copies the tree below `src` into `dst` (both directories), keeping types,
// modes, owners and times; never follows a symlink (they are copied as
// symlinks), and changes the copy only through fds of what it made or by
// names it does not follow, so `dst` may be writable by others meanwhile.
// Stays on `src`'s mount: a directory another filesystem is mounted on is
// copied empty.  Throws Error naming the entry (`where`/name).  tmpcopyup and
// copyup: the contents of a directory go into the mount that covers it.
void copy_tree(int src, int dst, const std::string& where);
// The statx mount id of the file `fd` is open on; throws Error naming `where`.
uint64_t mount_id(int fd, const std::string& where);
// The mount point of the mount that holds `path` (its symlinks resolved first):
// the topmost directory above it with its statx mount id.  Throws Error.
std::string mount_point_of(const std::string& path);
// Whether the directory `fd` (opened for reading) has no entries; throws Error naming `where`.
bool directory_empty(int fd, const std::string& where);

int pivot_root(const char* new_root, const char* put_old);
// execveat(fd, "", argv, environ, AT_EMPTY_PATH): runs the executable `fd`
// names (an O_PATH fd will do).  Returns only on failure: -1, errno set.
int execveat_empty_path(int fd, char* const argv[]);
int pidfd_open(pid_t pid, unsigned flags);
int pidfd_send_signal(int pidfd, int sig);
// The wait status of the process `pidfd` refers to, once its parent reaped it:
// PIDFD_GET_INFO's PIDFD_INFO_EXIT (Linux 6.15), which the kernel keeps for a
// pidfd opened before the reaping.  nullopt while it is not reaped, or on an
// older kernel.
std::optional<int> pidfd_exit_status(int pidfd);
int mount_setattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                  uint64_t propagation, int userns_fd = 0);
int open_tree(int dirfd, const char* path, unsigned flags);
int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path, unsigned flags);
// The new mount API's superblock side: fsopen(fs, FSOPEN_CLOEXEC); fsconfig
// FSCONFIG_SET_STRING of key=value, then FSCONFIG_CMD_CREATE; fsmount (close
// on exec) with MOUNT_ATTR_* flags: a detached mount's fd.  -1 and errno on failure.
int fsopen_cloexec(const char* fs);
int fsconfig_string(int fs_fd, const char* key, const char* value);
int fsconfig_flag(int fs_fd, const char* key);  // FSCONFIG_SET_FLAG: an option without a value
int fsconfig_create(int fs_fd);
int fsmount_cloexec(int fs_fd, unsigned attrs);
int close_range_cloexec(unsigned first);

// sendmsg(2) of `data` with `fd` attached as SCM_RIGHTS (MSG_NOSIGNAL, retried on
// EINTR).  Returns the bytes sent or -1 with errno set.
ssize_t send_with_fd(int sock, const void* data, size_t len, int fd);
// recvmsg(2) into buf; an fd that came with the message is stored in `fd`
// (close-on-exec).  Returns the bytes received (0 at EOF) or -1 with errno set:
// EINTR once an interruption came (sys::Interruptible) when `interruptible`,
// else a signal never ends the wait.
ssize_t recv_with_fd(int sock, void* buf, size_t len, UniqueFd& fd, bool interruptible = true);

// Start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat) and
// its state letter; returns false when the process does not exist.  Together with
// the pid, the start time identifies a process across pid reuse.
struct ProcStat {
    uint64_t start_time = 0;
    char state = '?';
    pid_t ppid = 0;
};
bool read_proc_stat(pid_t pid, ProcStat& out);

// The processes (thread-group ids) in /proc, sorted: one directory read where a
// look at each of many pids would cost a failed open per process that is gone.
std::vector<pid_t> proc_pids();

// Has the kernel back the whole pages of [p, p + len) with memory at once
// (madvise MADV_POPULATE_WRITE, Linux 5.14): for a large buffer about to be
// written in full, one call instead of a page fault a page (~2 us each on this
// VM).  Best effort: nothing happens where the kernel cannot.
void populate(void* p, size_t len) noexcept;

// True when this process is in the initial user namespace (uid_map is the
// identity over the whole range).  A euid-0 process outside it (rootless podman)
// cannot mknod devices or mount sysfs without owning a network namespace.
bool in_initial_userns();

}  // namespace crunlite::sys
