// Helpers shared by the runtime's translation units (container.cpp, create.cpp,
// run.cpp, exec.cpp).  Not part of the public interface.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crunlite/cgroup/manager.hpp"
#include "crunlite/linux/seccomp.hpp"
#include "crunlite/linux/terminal.hpp"
#include "crunlite/process/launcher.hpp"
#include "crunlite/runtime/container.hpp"
#include "crunlite/spec/config.hpp"
#include "crunlite/state/store.hpp"

namespace crunlite::runtime::detail {

// Writes `pid` to `path` atomically (temp file + rename), as runc does.
void write_pid_file(const std::string& path, pid_t pid);

// Waits for `c` (our child) while forwarding every signal to it and reaping any
// orphan that reaches us (we are a subreaper); with `tty`, also proxies the
// terminal.  Returns the shell-style status (128+n for a signal).
// With `timeout_ms` >= 0, past it the process and its process group get SIGKILL,
// and once it exited, whatever it left in its process group.
int wait_forwarding_signals(process::Launched& c, linux::TerminalProxy* tty = nullptr,
                            int64_t timeout_ms = -1);

// After the process exited: logs an exec failure it reported, if any.
void report_exec_failure(const process::SyncSocket& sync);

// Throws Error(EBADF) naming the first of fds 3..3+count-1 (those the process is to
// keep: --preserve-fds, LISTEN_FDS) that is not open: one of our own fds (the state
// directory, the sync socket) would fill the hole and be handed on.  runc fails too.
void require_preserved_fds_open(int count);

// The container's cgroups as recorded in its state.
cgroup::Paths cgroup_paths(const state::State& st);

// Removes the container's cgroups (cgroup::destroy), first stopping its
// systemd unit when the systemd driver made them.
void destroy_cgroups(const state::State& st);

// The BPF program of `seccomp`, from the cache in <state root>/@seccomp-cache/
// when an identical profile was compiled before (libseccomp's compile of the
// default profile costs ~15 ms, most of a container start), else compiled and
// cached.  Keyed by the sha256 of the profile as written back, libseccomp's
// version and the native architecture.  "@" cannot start a container id, so the
// directory never collides with one; it is as private as the state itself.
// `where` names the config for errors.
linux::SeccompProgram seccomp_program(const std::string& state_root, const spec::Seccomp& seccomp,
                                      const std::string& where);

// A container made by create_container: its init (blocked on exec.fifo, or
// `started` already), its state as recorded, and the hooks of its config.
struct Created {
    process::Launched launched;
    state::State st;
    spec::Hooks hooks;
    bool started = false;
};

// The common part of create and run: parse, validate, make the state dir,
// launch the init and record the state.  On failure nothing is left behind.
// `foreground`: the caller stays and holds a pty's master (run without -d);
// `namespace_fds`: the init's network and user namespaces come back in `launched`;
// `start_now`: the init is started as soon as its state is recorded, without an
// exec.fifo (run; start_created then only announces it).
Created create_container(const Context& ctx, const CreateOptions& opts, bool foreground = false,
                         bool namespace_fds = false, bool start_now = false);

// The hooks of a container's config.json; none when it cannot be read any more.
// The poststart and poststop hooks as config.json had them at create, kept in the
// state directory (runtime-spec: later changes to config.json must not affect the
// container); none when it has none.
constexpr const char* kHooksFile = "hooks.json";
// `again`: the directory is an earlier run's (a restart), whose hooks file may be there.
void keep_hooks(const state::Store& store, const std::string& id, const spec::Hooks& hooks, bool again);
spec::Hooks config_hooks(const state::Store& store, const state::State& st);

// Releases a created container (unless `started` at once) and runs its poststart hooks.
void start_created(const state::Store& store, const state::State& st, const std::vector<spec::Hook>& poststart,
                   bool started = false);

// Deletes the container's state and runs its poststop hooks.
void remove_stopped(const state::Store& store, const state::State& st, const std::vector<spec::Hook>& poststop);

// Kills the init with SIGKILL and waits (bounded) until it is gone, thawing a
// frozen container; throws, keeping the state, if the init outlives the wait.
void kill_and_wait(const state::Store& store, const state::State& st);

// The events of an init's end (exit code `code`, 128+n for a signal): "oom"
// when the kernel killed one of its processes for memory, then "die".
void record_end_events(const Context& ctx, const state::State& st, int code);

}  // namespace crunlite::runtime::detail
