// Planning a container: everything `create` decides before it makes anything
// or forks, from the parsed config, the create options and what was read of
// the host.  plan_container is pure (tests give it their own HostFacts:
// tests/unit/runtime/plan_test.cpp), so every config error surfaces here, in
// the runtime parent, before a state directory, a cgroup or a process exists.
// What planning leaves to the launch (create.cpp): compiling the seccomp
// program (a child, cached), the user namespaces of idmapped mounts (children),
// and the creation time.
#pragma once

#include <string>
#include <vector>

#include "crunlite/cgroup/plan.hpp"
#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/linux/process_plan.hpp"
#include "crunlite/runtime/container.hpp"
#include "crunlite/runtime/host_facts.hpp"
#include "crunlite/runtime/user_namespace.hpp"
#include "crunlite/spec/config.hpp"
#include "crunlite/state/store.hpp"

namespace crunlite::runtime {

struct ContainerPlan {
    std::string bundle, config_path;  // absolute
    spec::Config config;              // validated; with the user namespace a rootless caller gets
    UserNamespacePlan userns;
    cgroup::Plan cgroups;             // its warnings are logged by plan_container
    linux::MountPlan mounts;
    linux::ProcessPlan process;       // the init; its env has LISTEN_FDS and LISTEN_PID with socket activation
    int preserve_fds = 0;             // --preserve-fds plus LISTEN_FDS
    state::State st;                  // the record but for its creation time, pid and cgroups
};

// Throws Error naming the config and the entry (`mounts[2].destination`,
// linux.uidMappings, ...) on anything create would refuse; logs warnings for
// what it accepts but does not apply.  `foreground`: the caller stays and can
// hold a pty's master (run without -d).
ContainerPlan plan_container(spec::Config config, const std::string& bundle, const std::string& config_path,
                             const CreateOptions& opts, const Context& ctx, const HostFacts& host, bool foreground);

}  // namespace crunlite::runtime
