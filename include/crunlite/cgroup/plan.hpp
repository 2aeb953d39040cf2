// The container's cgroups, planned from the host's layout and the config
// (nothing made): where they go, what a `cgroup` mount shows on v1 and hybrid
// hosts, the writes and the v2 device program.  Runs in the runtime parent,
// before anything is forked or made; cgroup/manager.hpp makes the plan.
#pragma once

#include <string>
#include <vector>

#include "crunlite/cgroup/device_bpf.hpp"
#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/cgroup/resources.hpp"
#include "crunlite/spec/config.hpp"

namespace crunlite::cgroup {

struct Plan {
    Paths paths;                          // empty: the container runs in the caller's cgroup
    std::vector<HierarchyDir> view;       // v1 hierarchies, `controllers` only where they differ from `name`
    std::vector<Write> writes;            // linux.resources, each in a hierarchy the container has
    std::vector<BpfInsn> device_program;  // linux.resources.devices on a v2-only host
    std::vector<std::string> warnings;    // what is not applied, rootless (the caller logs them)
};

// Root must get every limit it asks for (Error(ENOTSUP) naming the file
// otherwise); rootless, the limits of controllers not delegated to us are
// dropped with a warning (podman does the same), and device rules are not
// applied (they need privilege; crun skips them too).  `where` names the
// config in errors.  Reads nothing but `layout`, except that plan_paths
// checks which parents we may write.
Plan plan(const Layout& layout, const spec::Linux& config, const std::string& id, bool rootless,
          const std::string& where);

// Makes the plan's cgroups (manager.hpp's create) and attaches its device
// program; on failure removes them.  Nothing to do for an empty plan.
void make(const Plan& plan);

}  // namespace crunlite::cgroup
