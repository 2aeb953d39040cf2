// The container's cgroups, planned from facts about the host's cgroups and the
// config (nothing made): where they go, what a `cgroup` mount shows on v1 and
// hybrid hosts, the writes and the v2 device program.  Runs in the runtime
// parent, before anything is forked or made; cgroup/manager.hpp makes the plan.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crunlite/cgroup/device_bpf.hpp"
#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/cgroup/resources.hpp"
#include "crunlite/cgroup/systemd.hpp"
#include "crunlite/spec/config.hpp"

namespace crunlite::cgroup {

// What planning knows of the host's cgroups, read before it by the caller
// (runtime::read_host_facts) or given by a test.
struct HostCgroups {
    Layout layout;
    std::set<std::string> v2_controllers;  // usable on the v2 side: v2_controllers(layout)
    MayCreate may_create;                  // which container directories may be made: host_may_create
    // Set with the systemd driver: the manager's own cgroup ("" for the
    // system's; rootless, the user manager's ControlGroup property).
    std::optional<std::string> systemd_manager_cgroup;
};

struct Plan {
    Paths paths;                          // empty: the container runs in the caller's cgroup
    std::vector<HierarchyDir> view;       // v1 hierarchies, `controllers` only where they differ from `name`
    std::vector<Write> writes;            // linux.resources, each in a hierarchy the container has
    std::vector<BpfInsn> device_program;  // linux.resources.devices on a v2-only host
    std::vector<std::string> warnings;    // what is not applied, rootless (the caller logs them)
    // The systemd driver's unit (its properties carry the resources systemd
    // sets; `writes` the rest): started before `paths` exist (runtime/systemd_unit.hpp).
    std::optional<SystemdUnit> systemd;
};

// Root must get every limit it asks for (Error(ENOTSUP) naming the file
// otherwise); rootless, the limits of controllers not delegated to us are
// dropped with a warning (podman does the same), and device rules are not
// applied (they need privilege; crun skips them too).  `where` names the
// config in errors.  With host.systemd_manager_cgroup the container's cgroup
// is its systemd unit's (cgroup/systemd.hpp), which systemd makes.  Reads nothing but `host`: which hierarchies get a
// directory is host.may_create's answer (plan_paths), and the production one
// reads the host (access(2)) when asked.
Plan plan(const HostCgroups& host, const spec::Linux& config, const std::string& id, bool rootless,
          const std::string& where);

// Makes the plan's cgroups (manager.hpp's create, through `k`) and attaches its
// device program (directly); on failure removes them.  Nothing to do for an
// empty plan.
void make(const Plan& plan, sys::Kernel& k = sys::host_kernel());

}  // namespace crunlite::cgroup
