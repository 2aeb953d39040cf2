// A container process's setup, planned in the runtime parent before anything
// is forked: `create` plans the init's (runtime/plan.hpp), `exec` the new
// process's.  Names are resolved to the numbers the kernel takes (rlimits,
// capabilities, the personality), so a bad entry is an error of `create` or
// `exec`, not of a half-made container; the launcher's stages apply the plan
// (linux/process_setup.hpp) and decide nothing but what needs the container's
// root: the HOME of process.user in its /etc/passwd and the executable found in
// its PATH.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::linux {

struct CapabilitySets {
    std::vector<int> bounding, effective, permitted, inheritable, ambient;  // cap_value_t
    bool operator==(const CapabilitySets&) const = default;
};

struct ResourceLimit {
    std::string name;  // "RLIMIT_NOFILE", for errors
    int resource = 0;  // RLIMIT_NOFILE
    uint64_t soft = 0, hard = 0;
    bool operator==(const ResourceLimit&) const = default;
};

struct ProcessPlan {
    std::vector<std::string> args;
    std::vector<std::string> env;  // process.env and what the runtime adds (LISTEN_FDS); HOME comes in the container
    std::string cwd;
    spec::User user;
    mode_t umask = 022;
    bool terminal = false;
    std::optional<spec::ConsoleSize> console_size;
    std::vector<ResourceLimit> rlimits;
    CapabilitySets caps;  // process.capabilities absent: none at all (runc's)
    bool no_new_privileges = false;
    std::string apparmor_profile;  // applied before execve; set only where AppArmor is enabled
    std::optional<int> oom_score_adj;
    std::optional<spec::Scheduler> scheduler;
    std::optional<spec::IoPriority> io_priority;
    std::optional<spec::ExecCpuAffinity> exec_cpu_affinity;
    // The container's init only (`exec` leaves them empty):
    std::optional<unsigned long> personality;       // linux.personality, as personality(2) takes it
    std::optional<spec::MemoryPolicy> memory_policy;  // linux.memoryPolicy
    std::string session_keyring;                    // "_ses.<id>" (as runc), or "" with --no-new-keyring
    // The argv index of the command an init in args[0] runs (kInitCommandAnnotation),
    // resolved in the container as args[0] is; 0: none.
    size_t init_command = 0;
    bool operator==(const ProcessPlan&) const = default;
};

// Set by image runs with crun-lite-init ("2": [init, "--", command...]): the
// command must be found and executable when the container is created, so a
// missing one fails `create` (and `run -d`) as a missing args[0] does.
inline constexpr const char* kInitCommandAnnotation = "org.crun-lite.init.command";

// Plans `proc`, with `extra_env` appended to its environment.  Capabilities
// above `cap_last_cap` (this kernel's /proc/sys/kernel/cap_last_cap) are left
// out, as runc does: a newer profile still runs on an older kernel.  Throws
// Error(EINVAL) naming the entry ("process.capabilities.bounding: unknown
// capability ...", "process.rlimits: unknown rlimit ...").  Pure.
ProcessPlan plan_process(const spec::Process& proc, const std::vector<std::string>& extra_env, int cap_last_cap);

// The init's part from linux.personality, linux.memoryPolicy and the
// container id (empty: no new session keyring).  Throws Error(EINVAL) naming
// linux.personality for a domain other than LINUX or LINUX32.  Pure.
void plan_init_extras(ProcessPlan& plan, const spec::Linux& lnx, const std::string& keyring_id);

// RLIMIT_* name to resource number; -1 when unknown.
int rlimit_resource(const std::string& name);

// This kernel's highest capability number (libcap's cap_max_bits() - 1).
int host_cap_last_cap();

}  // namespace crunlite::linux
