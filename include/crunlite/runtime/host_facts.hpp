// What planning a container reads of the host, read once before it
// (read_host_facts, in the runtime parent) so the planners (runtime/plan.hpp,
// plan_user_namespace, cgroup::plan) read nothing themselves and tests can give
// their own.  One fact is a check rather than a value: cgroups->may_create (the
// production one, cgroup::host_may_create, calls access(2) when the planner asks
// about a container directory, which depends on the config).
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/cgroup/plan.hpp"
#include "crunlite/runtime/container.hpp"
#include "crunlite/spec/idmap.hpp"

namespace crunlite::runtime {

struct SubIdRanges {
    std::vector<spec::SubIdRange> uids, gids;
};

struct HostFacts {
    uid_t euid = 0;
    gid_t egid = 0;
    int cap_last_cap = 40;                           // the kernel's highest capability (linux::host_cap_last_cap)
    bool initial_userns = true;                      // sys::in_initial_userns()
    std::string user_name = "root";                  // of euid (/etc/passwd; the number when absent)
    // The caller's subordinate ranges (/etc/subuid, /etc/subgid), read the first
    // time a plan asks (subids()): a container that maps only the caller's own
    // ids needs none.  None when privileged.  For root in a user namespace other
    // than the initial one: the ids that namespace maps (/proc/self/uid_map,
    // gid_map).  Tests set `subid_ranges` itself.
    mutable std::optional<SubIdRanges> subid_ranges;
    std::function<SubIdRanges()> read_subids;
    std::optional<cgroup::HostCgroups> cgroups;      // none with --cgroup-manager disabled
    int listen_fds = 0;                              // LISTEN_FDS (systemd socket activation)
    // Whether the AppArmor LSM is enabled, read the first time a plan asks
    // (apparmor_enabled(): only a config with a profile does).  Tests set it.
    mutable std::optional<bool> apparmor;
    std::function<bool()> read_apparmor;

    // Whether a namespace file is our own network namespace (the caller's, which
    // a config joining it by path must not change the sysctls of).  Tests set it.
    std::function<bool(const std::string&)> is_own_netns;

    bool apparmor_enabled() const {
        if (!apparmor) apparmor = read_apparmor && read_apparmor();
        return *apparmor;
    }

    const SubIdRanges& subids() const {
        if (!subid_ranges) subid_ranges = read_subids ? read_subids() : SubIdRanges{};
        return *subid_ranges;
    }
};

HostFacts read_host_facts(const Context& ctx);

}  // namespace crunlite::runtime
