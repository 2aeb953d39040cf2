#include "crunlite/linux/process_plan.hpp"

// Planning a container process (linux/process_plan.hpp).  Runs in the runtime
// parent; pure but for libcap's name table and a debug line per skipped
// capability.

#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::linux {
namespace {

struct RlimitName {
    const char* name;
    int resource;
};

constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

// Capability names to numbers, leaving out those above `last` (see plan_process).
std::vector<int> cap_values(const std::vector<std::string>& names, const char* set, int last) {
    std::vector<int> out;
    for (const auto& name : names) {
        std::string lower = ascii_lower(name);
        cap_value_t value;
        if (lower.rfind("cap_", 0) != 0 || cap_from_name(lower.c_str(), &value) < 0)
            throw Error(EINVAL, std::string("process.capabilities.") + set + ": unknown capability " + quote(name));
        if (value > last) {
            log::debug("capability " + name + " is not known to this kernel; skipped");
            continue;
        }
        out.push_back(value);
    }
    return out;
}

}  // namespace

int rlimit_resource(const std::string& name) {
    for (const auto& r : kRlimits)
        if (name == r.name) return r.resource;
    return -1;
}

int host_cap_last_cap() { return static_cast<int>(cap_max_bits()) - 1; }

ProcessPlan plan_process(const spec::Process& proc, const std::vector<std::string>& extra_env, int cap_last_cap) {
    ProcessPlan p;
    p.args = proc.args;
    p.env = proc.env;
    p.env.insert(p.env.end(), extra_env.begin(), extra_env.end());
    p.cwd = proc.cwd;
    p.user = proc.user;
    p.umask = static_cast<mode_t>(proc.user.umask.value_or(022));
    p.terminal = proc.terminal;
    p.console_size = proc.console_size;
    for (const auto& rl : proc.rlimits) {
        int resource = rlimit_resource(rl.type);
        if (resource < 0) throw Error(EINVAL, "process.rlimits: unknown rlimit " + quote(rl.type));
        p.rlimits.push_back({rl.type, resource, rl.soft, rl.hard});
    }
    // No process.capabilities is no capability, in every set, as runc gives it:
    // not the ones the runtime holds (every one, as root).
    if (const auto& c = proc.capabilities) {
        p.caps.bounding = cap_values(c->bounding, "bounding", cap_last_cap);
        p.caps.effective = cap_values(c->effective, "effective", cap_last_cap);
        p.caps.permitted = cap_values(c->permitted, "permitted", cap_last_cap);
        p.caps.inheritable = cap_values(c->inheritable, "inheritable", cap_last_cap);
        p.caps.ambient = cap_values(c->ambient, "ambient", cap_last_cap);
    }
    p.no_new_privileges = proc.no_new_privileges;
    p.oom_score_adj = proc.oom_score_adj;
    p.scheduler = proc.scheduler;
    p.io_priority = proc.io_priority;
    p.exec_cpu_affinity = proc.exec_cpu_affinity;
    return p;
}

void plan_init_extras(ProcessPlan& plan, const spec::Linux& lnx, const std::string& keyring_id) {
    if (const auto& per = lnx.personality) {
        if (per->domain == "LINUX")
            plan.personality = PER_LINUX;
        else if (per->domain == "LINUX32")
            plan.personality = PER_LINUX32;
        else
            throw Error(EINVAL, "linux.personality.domain: unsupported " + quote(per->domain) +
                                    ": want LINUX or LINUX32");
        if (!per->flags.empty())
            throw Error(EINVAL, "linux.personality.flags: no flags are defined by the runtime spec");
    }
    plan.memory_policy = lnx.memory_policy;
    plan.session_keyring = keyring_id.empty() ? "" : "_ses." + keyring_id;
}

}  // namespace crunlite::linux
