// Child: the owner of one child process, by pid and pidfd.  Every fork of
// crun-lite goes through Child::fork (the launcher's stages, hooks, helpers,
// the `run -d` monitor, the user-namespace children), so none is left behind:
// a Child dropped while it owns an unreaped process SIGKILLs it (and, for a
// child that made itself a process group leader, its group) and reaps it.
// release() hands a process over to nobody (a daemon meant to outlive us).
//
// The pidfd is opened right after fork: until we reap the child its pid
// cannot name another process, so the pidfd is its.  A Child without a pidfd
// (pidfd_open failed: fds exhausted) still works through the pid, which is
// equally safe while unreaped; sites that poll it call require_pidfd().
//
// Here, in sys and not process, because linux/ forks too (netdev.cpp,
// overlay_mount.cpp).  Not used by crun-lite-init (src/init/init.cpp): a static
// binary that includes no crun-lite header and is built without exceptions.
//
// fork() and vfork() are for a single-threaded caller (every fork site is one; the
// threads of an image import posix_spawn instead): the body runs in a copy of
// that process, so it may do what the caller could.  A site that avoids
// allocating in the child still can: fork() itself allocates nothing there.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "crunlite/sys/fd.hpp"

// AddressSanitizer builds (GCC says so with a macro, clang with a feature).
#if defined(__SANITIZE_ADDRESS__)
#define CRUNLITE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRUNLITE_ASAN 1
#endif
#endif

namespace crunlite::sys {

class Child {
public:
    // What a dropped Child's SIGKILL reaches: the process, or its process
    // group too (a child that calls setpgid(0, 0), so what it started dies
    // with it; sent before the child may have made the group, so both).
    enum class Kill { Process, Group };

    Child() noexcept = default;
    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() { reset(); }

    // Forks: the child runs `body` (returning int; it may also exec or
    // _exit) and _exit()s with what it returns, or with 1 if it throws (an
    // exception never unwinds into the caller's frames in the child).
    // Throws Error "`what`: <strerror>" when fork fails.
    template <typename Body>
    static Child fork(const std::string& what, Body&& body, Kill kill = Kill::Process) {
        pid_t pid = fork_or_throw(what);
        if (pid == 0) run_and_exit(body);
        return adopt(pid, kill);
    }

    // fork() with the child born in the cgroup v2 directory open at `cgroup_fd`
    // (clone3's CLONE_INTO_CGROUP, Linux >= 5.7), instead of it moving itself by
    // writing cgroup.procs: that write takes the kernel's global threadgroup lock
    // for writing, which waits for an RCU grace period (up to ~12 ms of wall time here);
    // being born there only reads it.  The same permission checks apply, with our
    // credentials.  `placed` tells both processes whether the child was born
    // there: false on a kernel without it, where this is fork() and the child
    // must move itself.  The raw clone3 leaves glibc's cached thread id the
    // parent's in the child, as the launcher's raw clones do (nothing they run
    // uses it: no lock is held across the fork of a single-threaded caller).
    template <typename Body>
    static Child fork_into_cgroup(const std::string& what, int cgroup_fd, bool& placed, Body&& body, Kill kill = Kill::Process) {
        pid_t pid = clone_into_cgroup_or_throw(what, cgroup_fd, placed);
        if (pid == 0) run_and_exit(body);
        return adopt(pid, kill);
    }

    // fork() with the child born in new namespaces (`ns_flags`, CLONE_NEW*) and,
    // with `cgroup_fd` >= 0, in that cgroup v2 directory: one clone3, in which
    // the kernel makes the user namespace first and the others owned by it.  An
    // empty Child, and no process, on a kernel whose clone3 cannot (< 5.3; < 5.7
    // with a cgroup): the caller then takes another way.
    template <typename Body>
    static Child clone_into_namespaces(const std::string& what, int ns_flags, int cgroup_fd, Body&& body) {
        pid_t pid = clone_into_namespaces_or_throw(what, ns_flags, cgroup_fd);
        if (pid == 0) run_and_exit(body);
        return adopt(pid);
    }

    // fork() for a short-lived body that only makes system calls (and forks)
    // before it _exits: the child shares our memory, on a stack of its own,
    // and we are suspended until it exits or execs (CLONE_VM | CLONE_VFORK, as
    // posix_spawn), so no copy of our page tables is made, faulted in again and
    // torn down.  The body writes our memory: it must leave every object we use
    // afterwards as it found it (close an inherited fd by number, not through
    // its owner).  Our dumpable flag, which belongs to the shared memory, is
    // restored on return.  Built with AddressSanitizer this is fork(): ASan
    // cannot follow a second stack in one address space.
#ifdef CRUNLITE_ASAN
    static constexpr bool vfork_shares_memory = false;
#else
    static constexpr bool vfork_shares_memory = true;
#endif
    // `extra_flags` are further clone flags for the child (CLONE_FILES, new
    // namespaces); they need the shared memory, so a caller passing them checks
    // vfork_shares_memory first.
    template <typename Body>
    static Child vfork(const std::string& what, Body&& body, Kill kill = Kill::Process, int extra_flags = 0) {
        auto run = [](void* arg) -> int {
            int code = 1;
            try {
                code = (*static_cast<std::remove_reference_t<Body>*>(arg))();
            } catch (...) {
            }
            ::_exit(code);
        };
        // No pidfd: a child's pid names it alone until we reap it, and this one
        // has exited by now (with AddressSanitizer it may still run: the same).
        return Child(vfork_or_throw(what, run, &body, extra_flags), UniqueFd(), ESRCH, kill);
    }

    // Takes ownership of `pid`, an unreaped child of ours not made by fork()
    // (stage-2, cloned by stage-1 with CLONE_PARENT).  pid <= 0: an empty Child.
    static Child adopt(pid_t pid, Kill kill = Kill::Process);

    // 0 once reaped or released.
    pid_t pid() const noexcept { return pid_; }
    // -1 when pidfd_open failed, or once reaped or released.
    int pidfd() const noexcept { return pidfd_.get(); }
    explicit operator bool() const noexcept { return pid_ > 0; }

    // Throws sys_error(errno of the failed pidfd_open, context) without a pidfd.
    void require_pidfd(const std::string& context) const;

    // Sends `sig` to the process (through the pidfd when there is one).
    // Returns 0, or -1 with errno (ESRCH: it was reaped or released).
    int kill(int sig) const noexcept;

    // Waits for the process to exit and reaps it; returns its wait status
    // (0 when there was nothing to reap: it was reaped elsewhere, or SIGCHLD
    // is ignored).  The Child is empty afterwards.
    int wait() noexcept;

    // wait() for at most `timeout_ms` (>= 0); nullopt when the process is
    // still running then (it stays ours).
    std::optional<int> wait_for(int64_t timeout_ms);

    // Gives up ownership: the process is neither killed nor reaped by us.
    // Returns its pidfd (-1 without one); the Child is empty afterwards.
    UniqueFd release() noexcept;

private:
    Child(pid_t pid, UniqueFd pidfd, int pidfd_errno, Kill kill) noexcept
        : pid_(pid), pidfd_(std::move(pidfd)), pidfd_errno_(pidfd_errno), kill_(kill) {}
    // The child's end of fork(): runs `body`, _exits with what it returns (1 if it throws).
    template <typename Body>
    [[noreturn]] static void run_and_exit(Body& body) noexcept {
        int code = 1;
        try {
            code = body();
        } catch (...) {
        }
        ::_exit(code);
    }
    static pid_t fork_or_throw(const std::string& what);
    static pid_t clone_into_cgroup_or_throw(const std::string& what, int cgroup_fd, bool& placed);
    static pid_t clone_into_namespaces_or_throw(const std::string& what, int ns_flags, int cgroup_fd);
    static pid_t vfork_or_throw(const std::string& what, int (*fn)(void*), void* arg, int extra_flags);
    // Kills and reaps an owned process; keeps errno.
    void reset() noexcept;

    pid_t pid_ = 0;
    UniqueFd pidfd_;
    int pidfd_errno_ = 0;
    Kill kill_ = Kill::Process;
};

// The clone(2) under Child::vfork, for a child that must not be owned by a
// Child (exec's process, cloned by stage-1 as its parent's child): `fn(arg)`
// runs sharing our memory (CLONE_VM | CLONE_VFORK | `flags`) on a stack of its
// own (mapped once per thread and depth, and kept), as we are suspended until it
// has exec'd or exited.
// With CLONE_PARENT_SETTID the kernel writes its pid to `parent_tid` before it
// runs.  Its pid, or -1 with errno.  Only where Child::vfork_shares_memory.
pid_t clone_sharing_memory(int (*fn)(void*), void* arg, int flags, pid_t* parent_tid = nullptr) noexcept;

}  // namespace crunlite::sys
