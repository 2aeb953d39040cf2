// Launching a container's init process.  Runs in the runtime parent.
//
// Process tree (why two stages: joining namespaces by path must happen before a
// new user namespace is created, and a new pid namespace only applies to
// children of the process that unshares it):
//
//   runtime parent ──fork──> stage-1: setns(paths) → unshare(USER) → [parent writes
//        ▲                           id maps, or we write a map of just our own
//        │                           uid and gid] → unshare(other new namespaces) →
//        │                           timens offsets → clone(CLONE_PARENT) → exit
//        └── child of parent ─ stage-2 (pid 1 of a new pid ns): [wait for Go] →
//                                    unshare(CGROUP) → mounts → [Hooks: parent
//                                    runs prestart/createRuntime; we run
//                                    createContainer] → pivot_root → [Ignored:
//                                    the signals to reset] → process
//                                    attributes → Ready → block on exec.fifo →
//                                    [startContainer hooks] → execve(process.args)
//
// CLONE_PARENT makes stage-2 a direct child of the runtime parent, so it stays a
// descendant of whoever called us (containerd's shim and conmon are subreapers
// and wait for exactly this pid).
//
// Once stage-2 exists and before it gets Go, the parent moves linux.netDevices
// into its network namespace (linux/netdev.hpp): the init never runs without them;
// and with `place_init` it puts the init in its cgroups (the systemd driver:
// stage-1 enters no cgroup then, and the cgroup namespace is still unshared
// after Go, rooted at the container's cgroup).  Without either, stage-2 does not
// wait for Go: it sets up while the parent takes its pid, and sends nothing
// before stage-1's Pid is out (a pipe's EOF).
//
// With SCMP_ACT_NOTIFY rules the init sends the seccomp listener fd to the
// parent, which passes it on to linux.seccomp.listenerPath together with the
// container state (runtime-spec "ContainerProcessState"), as runc does.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/linux/process_plan.hpp"
#include "crunlite/linux/seccomp.hpp"
#include "crunlite/process/sync.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/spec/config.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::process {

// How the parent writes one id map (uid or gid) for the new user namespace.
struct IdMapAction {
    bool use_helper = false;           // run newuidmap/newgidmap (unprivileged, several ranges)
    std::vector<spec::IdMapping> mappings;
    bool deny_setgroups = false;       // gid map only: write "deny" to /proc/PID/setgroups first
};

// Whether the process whose own uid (or gid) is `own_id` may write this map of
// its new user namespace itself, from inside: a single id, its own, without the
// helper (and for gids, with setgroups denied first), as `unshare -r` does.
bool maps_only_own_id(const IdMapAction& action, uint32_t own_id, bool is_gid);

// Writes one id map of process `pid`'s new user namespace (newuidmap/newgidmap
// when `action.use_helper`); pid 0: our own (/proc/self), which a process that
// is pid 1 of a new pid namespace cannot name by number.  Throws Error with the
// helper's own message.
void write_id_map(pid_t pid, const IdMapAction& action, bool is_gid);

struct LaunchRequest {
    const spec::Config* config = nullptr;  // validated: namespaces, mounts' sources, hooks, netDevices
    const linux::ProcessPlan* process = nullptr;  // the init, planned with the config's linux.* extras
    std::string bundle;                    // absolute; relative paths resolve against it
    std::string fifo_path;                 // exec.fifo, created by the caller; empty: none (run, see kStartNow)
    // Without a fifo: the directory (fd) where the caller writes the state ahead
    // (file `ahead`) while the init sets up, and the name of its place.  When
    // the init's credentials own that directory (its uid, seen from here, is our
    // euid) and no filter is loaded before Ready, the init puts the state in
    // place itself as it starts (Launched::init_commits: the caller then sends
    // no Committed and only lists it); else the caller commits as for create.
    struct StateHandoff {
        int dir_fd = -1;
        std::string ahead, name;
    } state_handoff;
    std::string container_id;
    bool no_pivot = false;
    bool new_userns = false;               // config asks for a new user namespace
    bool want_namespace_fds = false;       // Launched gets netns/userns (slirp4netns needs them)
    IdMapAction uid_map, gid_map;          // used when new_userns
    std::optional<bool> setgroups_allowed;  // known to the plan; unset: the init reads /proc/self/setgroups
    int preserve_fds = 0;                  // fds 3..3+N-1 stay open in the container
    const linux::SeccompProgram* seccomp = nullptr;  // built by the caller; loaded by the init
    // OCI hooks.  When set, the init stops after its mounts, before pivot_root,
    // and the parent calls this with the init's pid: it runs the prestart and
    // createRuntime hooks and returns the state JSON that the init then gives
    // to the createContainer hooks (right away) and the startContainer hooks
    // (after `start`, before exec): {creating, created} states.
    std::function<std::pair<std::string, std::string>(pid_t)> runtime_hooks;
    // The container's cgroups (created and configured by the caller), so the
    // init and everything it starts begin inside: stage-1 is born in the v2
    // directory (sys::Child::fork_into_cgroup) and enters the v1 ones first thing.
    std::string cgroup_unified;
    std::vector<std::string> cgroup_v1_dirs;
    // When set, called by the parent with the init's pid before the init goes on
    // (see above); it throws to fail the launch.
    std::function<void(pid_t)> place_init;
    // When set, called by the parent with the init's pid once the init may go on
    // (after Go, when it waits for one), while it sets up; it throws to fail the
    // launch.
    std::function<void(pid_t)> while_init_sets_up;
    // The mounts, planned by the caller (linux::plan_mounts); stage-2 attaches
    // the bind sources stage-1 opened and applies it.
    const linux::MountPlan* mount_plan = nullptr;
    // Per config mount: the user namespace of an idmapped mount's mapping, or -1.
    std::vector<int> idmap_userns_fds;
};

struct Launched {
    // The container init (or exec process): our child, pid in the caller's pid
    // namespace, with its pidfd.  Killed and reaped if dropped unreleased, so a
    // caller failing half-way leaves no process; a caller that leaves it running
    // (create, exec --detach) releases it, one that reaps it by pid releases it then.
    sys::Child process;
    SyncSocket sync;         // EOF once the init execs (see sync.hpp)
    sys::UniqueFd pty_master;  // with process.terminal: the master of the process's pty
    sys::UniqueFd netns, userns;  // with want_namespace_fds: the init's namespaces
    bool init_commits = false;    // the init puts its state in place itself (LaunchRequest::state_handoff)
    // exec: the process's execve failed (Error::Kind::ExecFailed), and it exits 1: why, to report.
    std::string exec_failure;
};

// `exec`: a new process in a running container.
struct ExecRequest {
    const spec::Config* config = nullptr;    // the container's (for seccomp listener state)
    const linux::ProcessPlan* process = nullptr;  // what to run
    const linux::SeccompProgram* seccomp = nullptr;
    std::string container_id;
    std::string bundle;
    pid_t init_pid = 0;                      // the container's init...
    int init_pidfd = -1;                     // ...and its pidfd, checked by the caller
    int preserve_fds = 0;
    // The container's cgroups, entered before joining it (as LaunchRequest's).
    std::string cgroup_unified;
    std::vector<std::string> cgroup_v1_dirs;
    // Instead of those: the parent puts stage-1 in the container's cgroups
    // (called with its pid while stage-1 waits; the process inherits them).
    std::function<void(pid_t)> place_stage1;
    // With process.terminal: called with the pty master before the process goes
    // on (it may take the fd: sent to a console socket, or proxied); throws to fail.
    std::function<void(sys::UniqueFd& master)> pty_ready;
    bool kill_with_parent = false;           // SIGKILL the process when its parent (we) dies
    std::optional<bool> setgroups_allowed;   // in the container's user namespace; unset: read /proc/self/setgroups
};

// Whether the init may put its state in place itself (LaunchRequest::state_handoff):
// there is a state to hand off, nothing can trap the init's renameat (a NOTIFY
// filter is loaded before Ready), and the uid it starts as is, seen from here,
// `euid`: the owner of the directory the caller made.  Pure.
bool init_owns_state_dir(const LaunchRequest& req, uid_t euid);

// Starts the container init and returns once it is fully set up and blocked on
// exec.fifo (state "created").  On failure every process it started is killed
// and reaped, and the Error names the step that failed.
// The init then waits for MsgType::Committed on `sync` (send it once its state
// is recorded) before it blocks on exec.fifo; it exits if `sync` closes first.
// Committed with the payload kStartNow (for a request without fifo_path, as
// `run` makes) starts it at once instead; with init_commits, launch has sent
// it kPutStateInPlace before Ready, and it starts without waiting for us.
Launched launch(const LaunchRequest& request);

// Joins every namespace of the init that differs from ours, then starts
// `process` there as our child (like runc exec).  Returns once it has exec'd;
// an exec failure is thrown.  The caller waits for it, or with --detach leaves
// it to its own subreaper (conmon and containerd's shim wait for exactly this
// pid to learn its exit status, so it must not be handed to anyone else).
Launched launch_exec(const ExecRequest& request);

// Releases a created container: writes the byte its init waits for on
// exec.fifo, then removes the fifo.  Throws Error(ESRCH, "container not running")
// style errors when no init is waiting.
void release_fifo(const std::string& fifo_path);

}  // namespace crunlite::process
