#include "crunlite/sys/child.hpp"

#include <linux/sched.h>  // clone_args, CLONE_INTO_CGROUP
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::sys {

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, 0)),
      pidfd_(std::move(other.pidfd_)),
      pidfd_errno_(other.pidfd_errno_),
      kill_(other.kill_) {}

Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        reset();
        pid_ = std::exchange(other.pid_, 0);
        pidfd_ = std::move(other.pidfd_);
        pidfd_errno_ = other.pidfd_errno_;
        kill_ = other.kill_;
    }
    return *this;
}

pid_t Child::fork_or_throw(const std::string& what) {
    pid_t pid = ::fork();
    if (pid < 0) throw_errno(what);
    return pid;
}

pid_t Child::clone_into_cgroup_or_throw(const std::string& what, int cgroup_fd, bool& placed) {
    clone_args args{};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    placed = pid >= 0;
    if (placed) return static_cast<pid_t>(pid);
    // No clone3 (< 5.3), or one without the cgroup field (< 5.7).
    if (errno != ENOSYS && errno != E2BIG) throw_errno(what);
    return fork_or_throw(what);
}

pid_t Child::vfork_or_throw(const std::string& what, int (*fn)(void*), void* arg, int extra_flags) {
    if (!vfork_shares_memory) {
        pid_t pid = fork_or_throw(what);
        if (pid == 0) ::_exit(fn(arg));
        return pid;
    }
    int dumpable = ::prctl(PR_GET_DUMPABLE);
    pid_t pid = clone_sharing_memory(fn, arg, extra_flags | SIGCHLD);
    int saved = errno;
    if (dumpable > 0) ::prctl(PR_SET_DUMPABLE, dumpable);
    if (pid < 0) throw sys_error(saved, what);
    return pid;
}

pid_t clone_sharing_memory(int (*fn)(void*), void* arg, int flags, pid_t* parent_tid) noexcept {
    // Reserved, not committed: the child touches a few pages of it.  Kept for
    // the next call of this thread at the same depth (a child calls again, on
    // the stack it was given: exec's stage-1 clones its process), not unmapped
    // each time: the thread's children share its memory and its TLS.
    constexpr size_t stack_size = 1 << 20;
    constexpr int kDepths = 2;
    thread_local void* stacks[kDepths] = {};
    thread_local int depth = 0;
    void* stack = depth < kDepths ? stacks[depth] : nullptr;
    if (!stack) {
        stack = ::mmap(nullptr, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) return -1;
    }
    int at = depth++;
    pid_t pid = ::clone(fn, static_cast<char*>(stack) + stack_size, CLONE_VM | CLONE_VFORK | flags, arg, parent_tid);
    int saved = errno;
    // The child has exited or exec'd: its stack and our memory are ours again.
    depth = at;
    if (at < kDepths) stacks[at] = stack;
    else ::munmap(stack, stack_size);
    errno = saved;
    return pid;
}

pid_t Child::clone_into_namespaces_or_throw(const std::string& what, int ns_flags, int cgroup_fd) {
    clone_args args{};
    args.flags = static_cast<uint64_t>(ns_flags) | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) args.cgroup = static_cast<uint64_t>(cgroup_fd);
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) return static_cast<pid_t>(pid);
    if (errno == ENOSYS || errno == E2BIG) return -1;  // no clone3, or none with the cgroup field
    throw_errno(what);
}

Child Child::adopt(pid_t pid, Kill kill) {
    if (pid <= 0) return {};
    UniqueFd pidfd(pidfd_open(pid, 0));
    return Child(pid, std::move(pidfd), pidfd ? 0 : errno, kill);
}

void Child::require_pidfd(const std::string& context) const {
    if (!pidfd_) throw sys_error(pid_ > 0 ? pidfd_errno_ : ESRCH, context);
}

int Child::kill(int sig) const noexcept {
    if (pid_ <= 0) {
        errno = ESRCH;
        return -1;
    }
    return pidfd_ ? pidfd_send_signal(pidfd_.get(), sig) : ::kill(pid_, sig);
}

int Child::wait() noexcept {
    int status = 0;
    if (pid_ > 0)
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
    pid_ = 0;
    pidfd_.reset();
    return status;
}

std::optional<int> Child::wait_for(int64_t timeout_ms) {
    if (pid_ <= 0) return wait();
    int64_t deadline = monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t left = std::max<int64_t>(0, deadline - monotonic_ms());
        if (pidfd_) {
            // The pidfd turns readable when the process exits.
            pollfd pfd = {pidfd_.get(), POLLIN, 0};
            int n = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
            if (n > 0) return wait();
            if (n < 0 && errno != EINTR) throw_errno("poll pidfd");
        } else {
            // Without a pidfd: look every 10 ms.
            int status = 0;
            pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_ || (r < 0 && errno == ECHILD)) {
                pid_ = 0;
                return status;
            }
            timespec ten_ms = {0, 10'000'000};
            if (left > 0) ::nanosleep(&ten_ms, nullptr);
        }
        if (left == 0) return std::nullopt;
    }
}

UniqueFd Child::release() noexcept {
    pid_ = 0;
    return std::move(pidfd_);
}

void Child::reset() noexcept {
    if (pid_ <= 0) return;
    int saved = errno;
    if (kill_ == Kill::Group) ::kill(-pid_, SIGKILL);
    kill(SIGKILL);
    wait();
    errno = saved;
}

}  // namespace crunlite::sys
