#include "crunlite/runtime/container.hpp"

// run: create and start in one go, in the foreground or under a detached
// monitor that reaps the container and records its exit status (once the
// container started, the monitor is crun-lite-monitor: src/monitor/).

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <tuple>

#include "crunlite/base/error.hpp"
#include "crunlite/base/helpers.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/linux/terminal.hpp"
#include "crunlite/process/launcher.hpp"
#include "crunlite/process/self_clone.hpp"
#include "crunlite/process/sync.hpp"
#include "crunlite/state/events.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "crunlite_build_config.h"
#include "internal.hpp"

namespace crunlite::runtime {
namespace {

using detail::create_container;
using detail::Created;
using detail::kill_and_wait;
using detail::remove_stopped;
using detail::report_exec_failure;
using detail::record_end_events;
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
// container left to record for (delete --force recorded the end itself).
// Returns whether it recorded.
bool record_exit(const state::Store& store, const state::State& st, int status) {
    try {
        sys::UniqueFd lock = store.lock(st.id);
        if (!same_container(store, st)) return false;
        store.record_exit_status(st, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        // An init killed before `start` left its exec.fifo: "created" must not outlive it.
        ::unlink(store.fifo_path(st.id).c_str());
        return true;
    } catch (const Error&) {
        return false;  // deleted meanwhile
    }
}

// Releases the container after a failed `created` hook: it never ran.
// A container made again from its stopped state (`replace_stopped`) stays, stopped.
void abandon(const state::Store& store, Created& c, bool replace_stopped) {
    kill_and_wait(store, c.st);
    c.launched.process.wait();  // our child: no zombie left
    detail::destroy_cgroups(c.st);
    if (!replace_stopped) store.remove(c.st.id);
    else ::unlink(store.fifo_path(c.st.id).c_str());  // of the init that never started
}

Created create_and_hook(const Context& ctx, const CreateOptions& opts, bool foreground,
                        const RunHooks& hooks) {
    // Started at once unless `created` must act between create and start, or `start` will.
    Created c = create_container(ctx, opts, foreground, hooks.created || hooks.keep_namespaces,
                                 !hooks.created && hooks.start);
    if (hooks.created) {
        try {
            hooks.created(c.launched.process.pid(), c.launched.netns.get(), c.launched.userns.get());
            if (!hooks.keep_namespaces) {
                c.launched.netns.reset();
                c.launched.userns.reset();
            }
        } catch (...) {
            abandon(state::Store(ctx.root), c, opts.replace_stopped);
            throw;
        }
    }
    return c;
}

}  // namespace

namespace detail {

// The events of an init's end (exit code `code`, 128+n for a signal): "oom"
// when the kernel killed one of its processes for memory, then "die".
void record_end_events(const Context& ctx, const state::State& st, int code) {
    if (cgroup::oom_kills(detail::cgroup_paths(st)) > 0) state::append_event(ctx.root, state::container_event(st, "oom"));
    state::Event die = state::container_event(st, "die");
    die.attributes["exitCode"] = std::to_string(code);
    state::append_event(ctx.root, std::move(die));
}

}  // namespace detail

namespace {

// The exit of `st`'s init (wait status `status`): recorded; unless `keep`,
// the container is deleted.  What the detached monitor has done once the init
// is gone (monitor_exited, through `crun-lite monitor exited`).
void after_exit(const Context& ctx, const state::Store& store, const state::State& st, int status, bool keep) {
    if (record_exit(store, st, status))
        record_end_events(ctx, st, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    if (keep) return;
    try {
        sys::UniqueFd lock = store.lock(st.id);
        if (same_container(store, st)) {
            detail::destroy_cgroups(st);
            remove_stopped(store, st, detail::config_hooks(store, st).poststop);
        }
    } catch (const Error& e) {
        log::debug("container " + st.id + " not removed after exit: " + e.message());
    }
}

// crun-lite-monitor's command line for `st`: `options` (-t, -r, -k, -w), then
// the runtime command its children run.
std::vector<std::string> monitor_args(const Context& ctx, const state::State& st, std::vector<std::string> options) {
    std::vector<std::string> args = {"crun-lite-monitor", "-i", st.id, "-p", std::to_string(st.pid),
                                     "-s", std::to_string(st.start_time)};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--", process::runtime_path(), "--root", ctx.root, "--rootless",
                             ctx.rootless ? "true" : "false", "--cgroup-manager", ctx.cgroup_manager});
    return args;
}

// Execs `args`: the executable `fd` names, or without one args[0].
[[noreturn]] void exec_args(int fd, std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (fd >= 0) sys::execveat_empty_path(fd, argv.data());
    else ::execv(argv[0], argv.data());
    throw_errno("exec crun-lite-monitor");
}

// A detached image container's output: pipes that crun-lite-monitor relays to
// its log, a record a line (-L, -O, -E).  The monitor's fds 1 and 2 are their
// write ends, which the container inherits, and a restarted one after it.
struct LogPipes {
    sys::UniqueFd log, out, err;  // the log file; the read ends
};

LogPipes open_log_pipes(const std::string& path) {
    LogPipes l;
    l.log.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!l.log) throw_errno("open log " + quote(path));
    for (auto [fd, read] : {std::pair{STDOUT_FILENO, &l.out}, std::pair{STDERR_FILENO, &l.err}}) {
        sys::Pipe p = sys::Pipe::make("pipe for the log");
        if (::dup2(p.write.get(), fd) < 0) throw_errno("dup2 the log's pipe");
        *read = std::move(p.read);
    }
    return l;
}

// The detached monitor, once the container started, becomes crun-lite-monitor
// (monitor/monitor.cpp): same pid, so the init stays its child, and the fds
// `kept` names stay open.  Does not return; if the exec fails, the container
// cannot be watched and is removed.
[[noreturn]] void become_small_monitor(const Context& ctx, const sys::UniqueFd& monitor, Created& c, bool keep,
                                       const RunHooks& hooks, const std::optional<LogPipes>& logs) {
    std::vector<std::string> options;
    if (hooks.first_tick_ms >= 0) options.insert(options.end(), {"-t", std::to_string(hooks.first_tick_ms)});
    if (!keep) options.push_back("-r");
    RunHooks::Kept kept = hooks.kept ? hooks.kept() : RunHooks::Kept{};
    for (pid_t helper : kept.helpers) options.insert(options.end(), {"-k", std::to_string(helper)});
    if (hooks.keep_namespaces) {
        // Only the container's own: a host network or no user namespace of its
        // own is not joined by path (a restart gets what the config says).
        for (auto [fd, flag, own] : {std::tuple{&c.launched.netns, "-n", "/proc/self/ns/net"},
                                     std::tuple{&c.launched.userns, "-u", "/proc/self/ns/user"}}) {
            struct stat theirs, ours;
            if (!*fd || ::fstat(fd->get(), &theirs) < 0 || ::stat(own, &ours) < 0) continue;
            if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) continue;
            kept.fds.push_back(fd->get());
            options.insert(options.end(), {flag, std::to_string(fd->get())});
        }
    }
    if (logs)
        for (auto [flag, fd] : {std::pair{"-L", logs->log.get()}, {"-O", logs->out.get()}, {"-E", logs->err.get()}}) {
            kept.fds.push_back(fd);
            options.insert(options.end(), {flag, std::to_string(fd)});
        }
    std::vector<std::string> args = monitor_args(ctx, c.st, options);
    for (int fd : kept.fds) ::fcntl(fd, F_SETFD, 0);
    // The init is reaped by crun-lite-monitor now, not by this process's owners.
    c.launched.process.release();
    try {
        exec_args(monitor.get(), args);
    } catch (const Error& e) {
        log::error(e.message());
    }
    log::error("container " + c.st.id + " removed: it cannot be watched");
    state::Store store(ctx.root);
    kill_and_wait(store, c.st);
    after_exit(ctx, store, c.st, SIGKILL, false);  // the wait status of a SIGKILLed process
    ::_exit(1);
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
                 const sys::UniqueFd& small_monitor, process::SyncSocket& sync, pid_t caller) {
    state::Store store(ctx.root);
    try {
        // Until the container has started, the monitor dies with its caller, not
        // leaving a container coming up after its caller is gone and after the
        // caller's cleanup has run.  SIGTERM: while the create waits (a hook, the
        // init's setup) it is undone, as a `create` interrupted; a `run -d` killed
        // at another moment leaves what a killed `create` leaves (which `delete
        // --force` removes).
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
        ::signal(SIGTERM, SIG_DFL);  // (not as the caller may have it: ignored)
        if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != caller) ::_exit(1);
        ::setsid();
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        // The container's output goes to its log (through the pipes); the monitor
        // keeps nothing of the caller's stdio open (our own messages go to the log too).
        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        std::optional<LogPipes> logs;
        if (!hooks.log_path.empty()) {
            logs = open_log_pipes(hooks.log_path);
            ::dup2(devnull, 0);
            // Our own messages to the file itself: nothing reads the pipes until we are
            // crun-lite-monitor, and a full one would block us (logs shows them as stderr's).
            log::configure(hooks.log_path, log::Format::Text, log::debug_enabled());
        }
        Created c = create_and_hook(ctx, opts, false, hooks);
        if (sys::take_interruption()) {
            // The caller died once the create could no longer be undone: nobody
            // waits for this container, which goes as if undone.
            kill_and_wait(store, c.st);
            after_exit(ctx, store, c.st, SIGKILL, false);
            ::_exit(1);
        }
        if (hooks.start) start_created(store, c.st, c.hooks.poststart, c.started);
        ::prctl(PR_SET_PDEATHSIG, 0);
        try {
            sync.send(process::MsgType::Started);
        } catch (const Error&) {
            // The caller is gone: the container still needs its monitor.
        }
        sync.close();
        if (hooks.log_path.empty())
            for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
        become_small_monitor(ctx, small_monitor, c, keep, hooks, logs);
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
        if (!opts.no_subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        // Found first: without it nothing is made.
        std::string watcher = hooks.first_tick_ms >= 0 ? find_monitor() : "";
        Created c = create_and_hook(ctx, opts, true, hooks);
        // A signal that came once the init had started: the container's, as any after.
        if (int sig = sys::take_interruption()) ::kill(c.st.pid, sig);
        std::optional<linux::TerminalProxy> tty;
        if (c.launched.pty_master) tty.emplace(std::move(c.launched.pty_master));
        start_created(store, c.st, c.hooks.poststart, c.started);
        if (hooks.first_tick_ms >= 0) {
            try {
                watch_ticks(ctx, c.st, hooks.first_tick_ms, STDERR_FILENO, watcher);
            } catch (const Error& e) {  // the container runs all the same, unprobed
                log::warn("the healthcheck of " + c.st.id + " will not run: " + e.message());
            }
        }
        int code = wait_forwarding_signals(c.launched, tty ? &*tty : nullptr);
        tty.reset();  // the host terminal leaves raw mode before we print anything
        report_exec_failure(c.launched.sync);
        record_end_events(ctx, c.st, code);
        if (!keep) {
            detail::destroy_cgroups(c.st);
            remove_stopped(store, c.st, c.hooks.poststop);
        }
        if (hooks.exited) hooks.exited();
        return code;
    }
    // Detached: a monitor process becomes the container's parent, reaps it (and
    // its orphans: it is a subreaper) and records the exit status, because PID 1
    // on these hosts does not reap.  We wait for its verdict on a sync socket.
    // Found and opened first: without it no container is made.
    std::string monitor_path = find_monitor();
    sys::UniqueFd small_monitor(::open(monitor_path.c_str(), O_PATH | O_CLOEXEC));
    if (!small_monitor) throw_errno("open " + quote(monitor_path));
    auto [ours, theirs] = process::SyncSocket::make_pair();
    pid_t caller = ::getpid();
    sys::Child monitor = sys::Child::fork("fork monitor", [&, &ours = ours, &theirs = theirs] {
        ours.close();
        return monitor_main(ctx, opts, keep, hooks, small_monitor, theirs, caller);
    });
    theirs.close();
    return await_monitor(ours, monitor);
}

void watch_ticks(const Context& ctx, const state::State& st, int64_t first_tick_ms, int log_fd,
                 const std::string& monitor) {
    std::vector<std::string> args = monitor_args(ctx, st, {"-w", "-t", std::to_string(first_tick_ms)});
    args[0] = monitor;
    // Its own session: a terminal's signals are the container's, not the watcher's.
    // Not waited for: it ends with the init (a foreground run's wait reaps it).
    sys::Child::fork("fork crun-lite-monitor", [&]() -> int {
        ::setsid();
        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        ::dup2(devnull, STDIN_FILENO);
        ::dup2(devnull, STDOUT_FILENO);
        if (log_fd != STDERR_FILENO) ::dup2(log_fd, STDERR_FILENO);
        exec_args(-1, args);
    }).release();
}

std::string find_monitor() { return find_helper("crun-lite-monitor", "CRUNLITE_MONITOR", CRUNLITE_BUILD_MONITOR); }

std::optional<state::State> recreate(const Context& ctx, CreateOptions opts, pid_t pid, uint64_t start_time,
                                     const std::function<bool()>& proceed,
                                     const std::function<void(const state::State&)>& started) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(opts.id);
    state::State old = store.load(opts.id);
    if (old.pid != pid || old.start_time != start_time)
        throw Error(ESRCH, "container " + opts.id + " is another container by now");
    if (store.status(old) != state::Status::Stopped) throw Error(EBUSY, "container " + opts.id + " still runs");
    if (!proceed()) return std::nullopt;
    detail::destroy_cgroups(old);
    store.clear_exit_status(opts.id);
    opts.bundle = old.bundle;
    opts.config_file = old.config_path;
    opts.owned_bundle = old.owned_bundle;
    opts.created = old.created;
    opts.replace_stopped = true;
    Created c = create_container(ctx, opts, false, false);
    try {
        start_created(store, c.st, c.hooks.poststart);
    } catch (...) {
        kill_and_wait(store, c.st);
        c.launched.process.wait();
        detail::destroy_cgroups(c.st);
        store.save(old);
        throw;
    }
    c.launched.process.release();
    started(c.st);
    return c.st;
}

state::State ready_to_run_again(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    state::Status status = live_status(store, st);
    if (status != state::Status::Stopped)
        throw Error(EBUSY, "container " + id + " is " + state::status_name(status) + ", not stopped");
    detail::destroy_cgroups(st);
    store.clear_exit_status(id);
    ::unlink(store.fifo_path(id).c_str());  // of an init that died before its start
    return st;
}

void restore_exit_record(const Context& ctx, const state::State& st, int code) {
    state::Store store(ctx.root);
    try {
        sys::UniqueFd lock = store.lock(st.id);
        if (same_container(store, st)) store.record_exit_status(st, code);
    } catch (const Error& e) {
        log::debug("container " + st.id + ": exit record not restored: " + e.message());  // deleted meanwhile
    }
}

void monitor_exited(const Context& ctx, const std::string& id, pid_t pid, uint64_t start_time, int status,
                    bool remove) {
    state::Store store(ctx.root);
    state::State st;
    try {
        st = store.load(id);
    } catch (const Error&) {
        return;  // deleted meanwhile
    }
    if (st.pid != pid || st.start_time != start_time) return;  // the id names another container by now
    after_exit(ctx, store, st, status, !remove);
}

}  // namespace crunlite::runtime
