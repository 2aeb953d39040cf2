// The machinery both launches share, the init's (launcher.cpp) and exec's
// (exec_launch.cpp): how a child stage runs and reports, how it clones the
// next stage, and what the parent does with the fds and pids they send.
// Internal to src/process.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/linux/process_plan.hpp"
#include "crunlite/linux/seccomp.hpp"
#include "crunlite/process/launcher.hpp"
#include "crunlite/process/sync.hpp"
#include "crunlite/spec/config.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::process::detail {

// Runs a child stage: `body` ends in exec or _exit; any error it throws is
// reported to the parent, then the child exits.  The only way out of a stage.
template <typename Body>
[[noreturn]] void child_main(const SyncSocket& sync, Body body) {
    sys::Interruptible::restore_in_child();  // create's: a signal to the init is the init's
    auto report = [&](const Error& e) {
        // Nobody to tell (a started init whose `create` has exited): the
        // process's stderr, where runc's init says it too (containerd's log).
        if (!sync.send_error(e)) {
            std::string line = "crun-lite: " + e.message() + "\n";
            [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
        }
    };
    try {
        body();
    } catch (const Error& e) {
        report(e);
    } catch (const std::exception& e) {
        report(Error(e.what()));
    }
    ::_exit(1);
}

// A stage-1's last step: clones the next stage as our parent's child
// (CLONE_PARENT: the runtime parent's, so a descendant of its caller), which
// runs `next` (never returning), reports its pid and exits.  With `gate`, the
// next stage sends nothing on `sync` before our Pid (without one it first
// waits for a message the parent sends after reading Pid): it holds a pipe
// we close once Pid is out (SyncSocket::hold_sends_until_eof).
template <typename Next>
[[noreturn]] void clone_next_stage(const SyncSocket& sync, bool gate, const char* what, Next next) {
    sys::Pipe pid_sent;
    if (gate) pid_sent = sys::Pipe::make(std::string("pipe to ") + what);
    long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid < 0) throw_errno(std::string("clone ") + what);
    if (pid == 0) {
        pid_sent.write.reset();
        if (pid_sent.read) sync.hold_sends_until_eof(std::move(pid_sent.read));
        next();
    }
    sync.send(MsgType::Pid, std::to_string(pid));
    pid_sent.write.reset();
    ::_exit(0);
}

// exec's clone_next_stage when the new process may share our memory until it
// execs (sys::clone_sharing_memory, as sys::Child::vfork; we wait meanwhile): no
// copy of the page tables is made, faulted in again and torn down at its
// execve.  It reports its own pid first: the kernel writes it, numbered in
// our pid namespace (the parent's), to `pid` before the process runs
// (CLONE_PARENT_SETTID), so nothing it sends can precede its Pid.  Not when
// the process waits for the parent before it execs: a seccomp listener the
// parent must hand on first (its execve may be a notified call), as the
// parent waits for us.
template <typename Next>
[[noreturn]] void clone_next_stage_sharing_memory(const SyncSocket& sync, const char* what, Next next) {
    struct Args {
        const SyncSocket& sync;
        Next& next;
        volatile pid_t pid;
        cpu_set_t affinity;
        bool pinned;
    } args{sync, next, 0, {}, false};
    // Started on our CPU, which idles while we wait for it: the kernel would
    // start it on another, idle one (it counts the parent suspended in vfork as
    // load on ours), which must wake up first (~40 us here) and has none of our
    // cache.  Our CPU set is narrowed to this CPU for the clone and the new
    // process restores the one it inherits first thing (our own ends with us).
    // Without both calls (more CPUs than a cpu_set_t holds), it goes where the kernel puts it.
    if (::sched_getaffinity(0, sizeof args.affinity, &args.affinity) == 0) {
        cpu_set_t here;
        CPU_ZERO(&here);
        int cpu = ::sched_getcpu();
        if (cpu >= 0 && cpu < CPU_SETSIZE) {
            CPU_SET(cpu, &here);
            args.pinned = ::sched_setaffinity(0, sizeof here, &here) == 0;
        }
    }
    auto run = [](void* arg) -> int {
        auto& a = *static_cast<Args*>(arg);
        child_main(a.sync, [&] {
            if (a.pinned) check(::sched_setaffinity(0, sizeof a.affinity, &a.affinity), "restore the CPU affinity");
            a.sync.send(MsgType::Pid, std::to_string(a.pid));
            a.next();
        });
    };
    pid_t pid = sys::clone_sharing_memory(run, &args, CLONE_PARENT | CLONE_PARENT_SETTID | SIGCHLD,
                                          const_cast<pid_t*>(&args.pid));
    if (pid < 0) throw_errno(std::string("clone ") + what);
    ::_exit(0);  // it has exec'd or exited
}

// Connects to linux.seccomp.listenerPath and sends the container process state
// with the listener fd attached (runtime-spec config-linux "listenerPath").
void send_seccomp_listener(const spec::Config& config, const std::string& id, const std::string& bundle,
                           pid_t init_pid, int listener);

// The fds a container process sends before it is ready, in this order: the pty
// master (process.terminal), which goes to `on_pty` at once (it may take it),
// then the seccomp listener (NOTIFY rules), which goes to `on_listener` at once.
// Returns the pty master, if any is left.
template <typename OnPty, typename OnListener>
sys::UniqueFd receive_setup_fds(const SyncSocket& sync, const linux::ProcessPlan& proc, const linux::SeccompProgram* seccomp,
                                OnPty on_pty, OnListener on_listener) {
    sys::UniqueFd master;
    if (proc.terminal) {
        master = sync.expect_fd(MsgType::Pty, "set up the terminal");
        on_pty(master);
    }
    if (seccomp && seccomp->notify) {
        sys::UniqueFd listener = sync.expect_fd(MsgType::SeccompFd, "load seccomp filter");
        on_listener(listener.get());
    }
    return master;
}

// The cgroup v2 directory a stage-1 is born in, opened (none for "").
sys::UniqueFd open_cgroup(const std::string& dir);

// Starts a stage-1 running `body`: born in the cgroup v2 directory `cgroup_dir`
// when there is one (sys::Child::fork_into_cgroup; `born` says whether it was),
// else sharing our memory (vfork) when `may_share_memory`, else forked.
template <typename Body>
sys::Child start_stage1(const std::string& cgroup_dir, bool may_share_memory, bool& born, Body& body) {
    if (sys::UniqueFd cgroup = open_cgroup(cgroup_dir)) {
        int fd = cgroup.get();
        return sys::Child::fork_into_cgroup("enter cgroup " + quote(cgroup_dir), fd, born, [&]() -> int {
            ::close(fd);
            return body();
        });
    }
    return may_share_memory ? sys::Child::vfork("fork", body) : sys::Child::fork("fork", body);
}

// Stage-1 reports the pid of the process it cloned (our child, by CLONE_PARENT)
// and exits: reap stage-1, own the child (killed and reaped if the launch
// fails from here on), pinned by its pidfd.
sys::Child take_child(const SyncSocket& sync, sys::Child& stage1, const std::string& what);

// The launched process, handed over to the caller.
Launched launched(sys::Child& child);

}  // namespace crunlite::process::detail
