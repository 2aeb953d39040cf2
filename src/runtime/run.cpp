#include "crunlite/runtime/container.hpp"

// run: create and start in one go, in the foreground or under a detached
// monitor that reaps the container and records its exit status.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <optional>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/linux/terminal.hpp"
#include "crunlite/process/launcher.hpp"
#include "crunlite/process/sync.hpp"
#include "crunlite/sys/child.hpp"
#include "internal.hpp"

namespace crunlite::runtime {
namespace {

using detail::create_container;
using detail::Created;
using detail::kill_and_wait;
using detail::remove_stopped;
using detail::report_exec_failure;
using detail::start_created;
using detail::wait_forwarding_signals;

// The state of `st.id` on disk is still the container `st` (not deleted, nor
// replaced by a new container reusing the id).  Call with the lock held.
bool same_container(const state::Store& store, const state::State& st) {
    if (!store.exists(st.id)) return false;
    state::State now = store.load(st.id);
    return now.pid == st.pid && now.start_time == st.start_time;
}

// Records the init's exit status under the state lock: a concurrent `delete`
// holds the lock while it removes the directory, and after it there is no
// container left to record for.
void record_exit(const state::Store& store, const state::State& st, int status) {
    try {
        sys::UniqueFd lock = store.lock(st.id);
        if (same_container(store, st))
            store.record_exit_status(st.id, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    } catch (const Error&) {
        // Deleted meanwhile.
    }
}

// Releases the container after a failed `created` hook: it never ran.
void abandon(const state::Store& store, Created& c) {
    kill_and_wait(store, c.st);
    c.launched.process.wait();  // our child: no zombie left
    cgroup::destroy(detail::cgroup_paths(c.st));
    store.remove(c.st.id);
}

Created create_and_hook(const Context& ctx, const CreateOptions& opts, bool foreground,
                        const RunHooks& hooks) {
    Created c = create_container(ctx, opts, foreground, static_cast<bool>(hooks.created));
    if (hooks.created) {
        try {
            hooks.created(c.launched.process.pid(), c.launched.netns.get(), c.launched.userns.get());
            c.launched.netns.reset();
            c.launched.userns.reset();
        } catch (...) {
            abandon(state::Store(ctx.root), c);
            throw;
        }
    }
    return c;
}

// The detached monitor's life after start: reap (it is a subreaper, and PID 1
// here does not reap), record the init's exit status, call the tick when due,
// and once the init is gone, delete it unless `keep`, then wait for the rest.
void monitor_loop(const Context& ctx, Created& c, bool keep, const RunHooks& hooks) {
    state::Store store(ctx.root);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    sys::UniqueFd sfd(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    int64_t due = hooks.tick && hooks.first_tick_ms >= 0 ? monotonic_ms() + hooks.first_tick_ms : -1;
    bool init_done = false;
    for (;;) {
        int status;
        pid_t pid;
        while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != c.launched.process.pid()) continue;
            c.launched.process.release();  // reaped
            record_exit(store, c.st, status);
            init_done = true;
            if (!keep) {
                try {
                    sys::UniqueFd lock = store.lock(c.st.id);
                    if (same_container(store, c.st)) {
                        cgroup::destroy(detail::cgroup_paths(c.st));
                        remove_stopped(store, c.st, c.hooks.poststop);
                    }
                } catch (const Error& e) {
                    log::debug("container " + c.st.id + " not removed after exit: " + e.message());
                }
            }
            if (hooks.exited) hooks.exited();
        }
        if (pid < 0 && errno == ECHILD) break;  // nothing left to reap
        if (!init_done && due >= 0 && monotonic_ms() >= due) {
            int64_t next = hooks.tick();
            due = next < 0 ? -1 : monotonic_ms() + next;
            continue;
        }
        struct pollfd pfd = {sfd.get(), POLLIN, 0};
        int timeout = init_done || due < 0 ? -1 : static_cast<int>(std::clamp<int64_t>(due - monotonic_ms(), 0, INT_MAX));
        if (::poll(&pfd, 1, timeout) > 0) {
            struct signalfd_siginfo si;
            while (::read(sfd.get(), &si, sizeof si) > 0) {}
        }
    }
}

// The caller's side of `run -d`: the monitor's verdict.  0 once the container
// started (the monitor is left running); else, after reaping the monitor,
// throws the error it reported.
int await_monitor(const process::SyncSocket& sync, sys::Child& monitor) {
    process::Message msg;
    bool got = sync.receive(msg);
    if (got && msg.type == process::MsgType::Started) {
        monitor.release();
        return 0;
    }
    monitor.wait();  // it exits after a failure
    if (got && msg.type == process::MsgType::Error) process::SyncSocket::rethrow(msg);
    throw Error(EIO, "monitor exited before the container started");
}

// The `run -d` monitor, forked by `caller`: creates and starts the container,
// reports to the caller on `sync`, then stays as the container's parent.
// Returns its exit code.
int monitor_main(const Context& ctx, const CreateOptions& opts, bool keep, const RunHooks& hooks,
                 process::SyncSocket& sync, pid_t caller) {
    state::Store store(ctx.root);
    try {
        // Until the container has started, the monitor dies with its caller: a
        // `run -d` killed half-way leaves what a killed `create` leaves (which
        // `delete --force` removes), not a container coming up after its caller
        // is gone and after the caller's cleanup has run.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != caller) ::_exit(1);
        ::setsid();
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        // The container gets the log file as stdout/stderr; the monitor keeps
        // nothing of the caller's stdio open (our own messages go to the log too).
        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (!hooks.log_path.empty()) {
            int log = ::open(hooks.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (log < 0) throw_errno("open log " + quote(hooks.log_path));
            ::dup2(devnull, 0);
            ::dup2(log, 1);
            ::dup2(log, 2);
            ::close(log);
        }
        Created c = create_and_hook(ctx, opts, false, hooks);
        start_created(store, c.st, c.hooks.poststart);
        ::prctl(PR_SET_PDEATHSIG, 0);
        try {
            sync.send(process::MsgType::Started);
        } catch (const Error&) {
            // The caller is gone: the container still needs its monitor.
        }
        sync.close();
        if (hooks.log_path.empty())
            for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
        monitor_loop(ctx, c, keep, hooks);
    } catch (const Error& e) {
        sync.send_error(e);
        return 1;
    } catch (const std::exception& e) {  // never unwind out of the forked monitor
        sync.send_error(Error(EIO, std::string("monitor: ") + e.what()));
        return 1;
    }
    return 0;
}

}  // namespace

int run(const Context& ctx, const CreateOptions& opts, bool detach, bool keep, const RunHooks& hooks) {
    state::Store store(ctx.root);
    if (!detach) {
        // Orphans of the container (without a pid namespace) come to us to be reaped.
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        Created c = create_and_hook(ctx, opts, true, hooks);
        std::optional<linux::TerminalProxy> tty;
        if (c.launched.pty_master) tty.emplace(std::move(c.launched.pty_master));
        start_created(store, c.st, c.hooks.poststart);
        int code = wait_forwarding_signals(c.launched, tty ? &*tty : nullptr);
        tty.reset();  // the host terminal leaves raw mode before we print anything
        report_exec_failure(c.launched.sync);
        if (!keep) {
            cgroup::destroy(detail::cgroup_paths(c.st));
            remove_stopped(store, c.st, c.hooks.poststop);
        }
        if (hooks.exited) hooks.exited();
        return code;
    }
    // Detached: a monitor process becomes the container's parent, reaps it (and
    // its orphans: it is a subreaper) and records the exit status, because PID 1
    // on these hosts does not reap.  We wait for its verdict on a sync socket.
    auto [ours, theirs] = process::SyncSocket::make_pair();
    pid_t caller = ::getpid();
    sys::Child monitor = sys::Child::fork("fork monitor", [&, &ours = ours, &theirs = theirs] {
        ours.close();
        return monitor_main(ctx, opts, keep, hooks, theirs, caller);
    });
    theirs.close();
    return await_monitor(ours, monitor);
}

}  // namespace crunlite::runtime
