// Container lifecycle: what the CLI verbs do, independent of argument parsing.
// Runs in the runtime process (the one the user or containerd/podman started).
// Every function throws crunlite::Error with runc's wording where callers match
// it ("container does not exist", "container not running", ...).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"
#include "crunlite/state/store.hpp"

namespace crunlite::runtime {

struct Context {
    std::string root;             // state root (--root)
    bool rootless = false;        // running without real root (euid != 0 or not in the initial userns)
    std::string cgroup_manager;   // cgroupfs | systemd | disabled
};

// Default --root: /run/crun-lite as root, $XDG_RUNTIME_DIR/crun-lite rootless
// (/tmp/crun-lite-<euid> when XDG_RUNTIME_DIR is unset).
std::string default_root();

// Records which fds from 3 on the caller left open (up to the first that is not):
// call first in main, before anything opens an fd.  A process is to keep fds
// 3..3+N-1 (--preserve-fds, LISTEN_FDS) only if all were: one of ours would
// otherwise fill the hole and be handed on (see detail::require_preserved_fds_open).
void note_inherited_fds();
// Context from --rootless auto|true|false and --root.
Context make_context(const std::string& root_flag, const std::string& rootless_flag, const std::string& cgroup_manager);

struct CreateOptions {
    std::string id;
    std::string bundle;        // default: current directory
    std::string config_file;   // default: <bundle>/config.json
    std::string pid_file;
    std::string console_socket;
    bool no_pivot = false;
    bool no_new_keyring = false;
    bool no_subreaper = false;  // run (foreground): the container's orphans are not ours to reap
    int preserve_fds = 0;
    // The bundle is the container's (its maker, e.g. run --image, wrote it for
    // this container alone): delete removes it with the state.  Recorded in state.
    bool owned_bundle = false;
    // Namespaces joined by path instead of the config's (type -> path), each
    // of a type the config has: a restarted container's network namespace
    // (and, rootless, its user namespace).  Not written to config.json.
    std::map<std::string, std::string> join_namespaces;
    // The creation time to record ("": now): a restart keeps the first one.
    std::string created;
    // The state directory exists and holds the stopped container this one
    // replaces (a restart, `recreate`): it is reused, its state.json replaced
    // only once the new init exists, and left as it was when creating fails.
    bool replace_stopped = false;
};

// create: returns once the container is created and blocked in exec.fifo.
void create(const Context& ctx, const CreateOptions& opts);
// start: releases a created container; `starting` runs just before, under
// the container's lock.
void start(const Context& ctx, const std::string& id, const std::function<void(const state::State&)>& starting = {});
// What `run --image` adds around a run (all optional).
struct RunHooks {
    // Detached: the container's stdout and stderr go to this file (appended),
    // stdin is /dev/null; empty: the caller's stdio, as runc does.
    std::string log_path;
    // After create, before start, with the init's pid and fds of its network
    // and user namespaces (network setup).  Throwing aborts the run and
    // removes the container.
    std::function<void(pid_t, int netns, int userns)> created;
    // The monitor (detached) or a watcher (foreground, watch_ticks) runs
    // `crun-lite monitor tick ID` (the healthcheck, app/health.hpp)
    // `first_tick_ms` after start, then after as many ms as it prints (< 0:
    // never again), until the container exits.  < 0: no ticks.
    int64_t first_tick_ms = -1;
    // Foreground: after the container exited and its status was recorded (and,
    // unless keep, it was deleted): releases what `created` set up.
    std::function<void()> exited;
    // Detached: what `created` set up that the monitor keeps once it is
    // crun-lite-monitor (monitor/monitor.cpp): fds held open until it exits
    // (a lock, slirp4netns's exit pipe) and helpers it stops with SIGTERM once
    // the container is gone.
    struct Kept {
        std::vector<int> fds;
        std::vector<pid_t> helpers;
    };
    std::function<Kept()> kept;
    // Detached: the monitor keeps fds of the first init's network and user
    // namespaces for the whole life of the container (restart policies: a
    // restarted init joins them, app/restart.hpp), and passes them to
    // `crun-lite monitor exited` as --netns-fd/--userns-fd.
    bool keep_namespaces = false;
    // Detached: false creates only; the monitor, the init's parent all the
    // same, waits for `start` (create --image: a Docker create's log and exit).
    bool start = true;
};

// run: create + start; without detach waits, forwards signals and returns the
// exit code (128+n for a signal), deleting the container unless keep.  Detached,
// a monitor process reaps the container and records its exit status; with
// !keep it deletes the container once it exits.  Throws Error(ENOENT) before
// anything is made when crun-lite-monitor is not found (find_monitor).
int run(const Context& ctx, const CreateOptions& opts, bool detach, bool keep, const RunHooks& hooks = {});

// crun-lite-monitor: $CRUNLITE_MONITOR, the installed one, the build tree's.
std::string find_monitor();

// Healthcheck ticks for a container whose monitor does not tick (a
// foreground `run`; `create --image`, whose monitor cannot know when `start`
// comes): starts `monitor` (crun-lite-monitor,
// found by the caller before it made the container) with -w in its own
// session, stderr on `log_fd`, not waited for; it runs `crun-lite monitor
// tick` first after `first_tick_ms`, then as each tick says, until the init
// (`st.pid`) exits.
void watch_ticks(const Context& ctx, const state::State& st, int64_t first_tick_ms, int log_fd,
                 const std::string& monitor);

// What the detached monitor has the runtime do once the container's init
// (pid `pid`, started at `start_time`) exited with wait status `status`:
// record it, and with `remove` delete the container (cgroups, state, poststop
// hooks, an owned bundle).  Nothing when the id names another container by now.
void monitor_exited(const Context& ctx, const std::string& id, pid_t pid, uint64_t start_time, int status,
                    bool remove);
// What `crun-lite monitor exited` has the runtime do to restart the stopped
// container `opts.id`, whose init was `pid` (started at `start_time`): under
// the state lock (a `delete` waits for it), its cgroups and exit record are
// removed (not its bundle; no poststop hooks), then it is created again in
// the same state directory from the same bundle with `opts` (join_namespaces;
// the id, bundle, config and creation time are the old state's) and started.
// `proceed` is asked first, under the lock (false: nothing is done, nullopt);
// `started` is told of the new run, still under the lock.
// Readers never see the id missing: state.json names the stopped init until
// the new one is recorded.  The new init is our child, released: it becomes
// the monitor's (a subreaper) when we exit.  Throws Error(ENOENT) when the
// container is gone, Error(ESRCH) when the id names another container, EBUSY
// when it still runs; when creating fails the stopped container stays as it
// was (without its exit record).  Runs in that child of the monitor.
std::optional<state::State> recreate(const Context& ctx, CreateOptions opts, pid_t pid, uint64_t start_time,
                                     const std::function<bool()>& proceed,
                                     const std::function<void(const state::State&)>& started);
// Readies the stopped container `id` for another run of its bundle (`start`
// of a stopped image container, as Docker's): under its lock, its cgroups and
// exit record are removed; returns its state, whose bundle, config and
// creation time the new run (CreateOptions::replace_stopped) takes.  The state
// stays until the new run replaces it.  Throws Error(EBUSY) unless stopped.
state::State ready_to_run_again(const Context& ctx, const std::string& id);
// When that run failed: the exit record ready_to_run_again removed, `code`, is
// written again, under the lock, so that the container stays as it was; not
// when the id names another container, or none, by now.
void restore_exit_record(const Context& ctx, const state::State& st, int code);
// kill: `signal` by name (TERM, SIGTERM) or number; "0" only checks that the
// container runs, and "" is SIGTERM (as runc).
void kill(const Context& ctx, const std::string& id, const std::string& signal, bool all);
// delete: force kills a running container first.
void remove(const Context& ctx, const std::string& id, bool force);
// state: the OCI state JSON (indented, as runc prints it).
std::string state_json(const Context& ctx, const std::string& id);

// The store's status of `st`, refined: a running container whose cgroup is frozen is paused.
state::Status live_status(const state::Store& store, const state::State& st);
// A pidfd of the container's init, when it is still the process `st` names (its
// start time checked once the pidfd pins it); none when it is gone.
sys::UniqueFd open_init_pidfd(const state::State& st);
// list: table, json or ids only, written to `os`.
void list(const Context& ctx, const std::string& format, bool quiet, std::ostream& os);

struct ExecOptions {
    std::string id;
    std::string process_file;                 // --process: an OCI process JSON (replaces the rest)
    std::vector<std::string> args;            // command and arguments
    std::vector<std::string> env;             // --env KEY=VALUE, added to the container's env
    std::string cwd;                          // --cwd
    std::string user;                         // --user UID[:GID]
    std::vector<std::string> additional_gids;  // --additional-gids: added to the container's (runc's)
    bool own_groups = false;                   // additional_gids replace the container's (an image user's)
    std::vector<std::string> caps;            // --cap: added to bounding/effective/permitted
    std::string apparmor;                     // --apparmor (warned: not supported)
    std::vector<std::string> cgroups;         // --cgroup [CONTROLLER:]PATH: existing sub-cgroups to join
    bool tty = false;
    bool detach = false;
    bool no_new_privs = false;
    bool ignore_paused = false;
    std::string pid_file;
    std::string console_socket;
    int preserve_fds = 0;
    bool kill_with_parent = false;  // the process dies with this exec (healthcheck probes' timeouts)
    // Runs the process in a new sub-cgroup of the container's, killed and
    // removed with all it holds once the process has ended (healthcheck probes:
    // what a probe starts, even in a session of its own, ends with it).  Only
    // in the foreground, without --cgroup, and where the sub-cgroup can be made
    // (the container has a cgroup we may write); otherwise the container's.
    bool own_cgroup = false;
    int64_t timeout_ns = 0;         // > 0: then SIGKILL to the process and its process group
};

// exec: runs a new process in the container's namespaces with the container's
// process settings (or --process).  Returns its exit code, or 0 with --detach.
int exec(const Context& ctx, const ExecOptions& opts);

// The process `exec` runs: the container's process with opts applied, or the
// --process file.  Pure apart from reading that file; exposed for tests.
spec::Process exec_process_spec(const spec::Process& base, const ExecOptions& opts);

// pause/resume: freeze or thaw every process of the container (its cgroup).
void pause(const Context& ctx, const std::string& id);
void resume(const Context& ctx, const std::string& id);

// update: applies `resources` to the container's cgroups (only the fields set).
void update(const Context& ctx, const std::string& id, const spec::Resources& resources);

// events --stats: one JSON stats object (runc's "stats" event) of the container.
std::string stats_json(const Context& ctx, const std::string& id);

// ps: the pids in the container's cgroup (host pid namespace).
std::vector<int> container_pids(const Context& ctx, const std::string& id);

// Signal number from "TERM", "SIGTERM", "15"; throws Error for an unknown name.
int parse_signal(const std::string& text);

}  // namespace crunlite::runtime
