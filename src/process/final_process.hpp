// The last steps of every container process, the init's (stage-2) and exec's,
// once its namespaces and root are in place; and the two facts they need from
// the runtime: the signals it ignores and whether setgroups is allowed.
// Internal to src/process (launcher.cpp, exec_launch.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/linux/process_plan.hpp"
#include "crunlite/linux/process_setup.hpp"
#include "crunlite/linux/seccomp.hpp"
#include "crunlite/process/sync.hpp"

namespace crunlite::process::detail {

// Our ignored signals (SigIgn of /proc/self/status: bit N-1 for signal N; the
// decimal field of /proc/self/stat stops at signal 31), which the container
// process must reset; all of them when that cannot be read.
uint64_t ignored_signals();

// What every container process does last, after its namespaces and root are in
// place: terminal, rlimits, cwd, fds, signals, user and capabilities,
// no_new_privs; the seccomp filter goes in last (exec_final), so nothing between
// it and execve needs a call the profile could deny: at most one capset, when
// the filter needs CAP_SYS_ADMIN the configured sets do not keep.  Shared by the
// init (stage2) and `exec`.
struct FinalProcess {
    std::string exe;
    std::vector<std::string> env;
    bool seccomp_loaded = false;  // NOTIFY filters: loaded before Ready, the listener sent
    linux::CapsetCall drop_sys_admin;  // run after the filter: drops the CAP_SYS_ADMIN kept for it
};

// `pty`: with process.terminal, the master of a pty made before (the init's,
// whose slave is /dev/console); none: one is made here.
FinalProcess finish_process(const linux::ProcessPlan& proc, const linux::SeccompProgram* seccomp,
                            const SyncSocket& sync, bool setgroups_allowed, int preserve_fds, uint64_t ignored,
                            sys::UniqueFd pty = {});

// The seccomp filter goes in right before execve.
[[noreturn]] void exec_final(const linux::ProcessPlan& proc, const linux::SeccompProgram* seccomp, const FinalProcess& fp);

// Whoever made our user namespace (we, or the owner of a joined one) may have
// denied setgroups: `known` when the plan knew (see the requests), else ask
// the kernel.  Without a /proc to ask (`exec` into a container that mounts
// none), assume allowed: setgroups then says otherwise.
bool setgroups_allowed(std::optional<bool> known);

}  // namespace crunlite::process::detail
