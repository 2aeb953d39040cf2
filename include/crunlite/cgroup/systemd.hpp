// The systemd cgroup driver, planned (--systemd-cgroup, --cgroup-manager
// systemd): which transient unit the container gets, where its cgroup is, and
// which of linux.resources become unit properties, the way runc maps them.
// Pure (tests/unit/cgroup/systemd_test.cpp); the runtime asks systemd through
// crun-lite-systemd (src/systemd/main.cpp, runtime/systemd_unit.hpp).
//
// Properties are text, NAME=SIG:VALUE, as crun-lite-systemd takes them: SIG
// is the D-Bus type (b s t au ay a(ss)), VALUE its text (docs in main.cpp).
#pragma once

#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::cgroup {

struct SystemdUnit {
    std::string name;         // "crun-lite-ID.scope"
    std::string slice;        // "system.slice"
    std::string cgroup;       // its cgroup below the cgroup root: "/system.slice/crun-lite-ID.scope"
    bool user = false;        // the user's manager (rootless), else the system's
    std::vector<std::string> properties;  // of StartTransientUnit, resources included
};

// runc's grammar of linux.cgroupsPath for this driver: "SLICE:PREFIX:NAME",
// the unit "PREFIX-NAME.scope" in SLICE; empty: "system.slice" ("user.slice"
// rootless), "crun-lite", the container id; an empty SLICE is the default.
// `manager_cgroup` is the manager's own cgroup (rootless: the user manager's,
// "/user.slice/user-1000.slice/user@1000.service"; "" or "/" for the system
// manager).  Throws Error(EINVAL) naming linux.cgroupsPath.
SystemdUnit plan_systemd_unit(const std::string& cgroups_path, const std::string& id, bool rootless,
                              const std::string& manager_cgroup);

// "a-b.slice" -> "/a.slice/a-b.slice"; "-.slice" -> "/".  Throws
// Error(EINVAL, "invalid slice name ...") as runc refuses them.
std::string expand_slice(const std::string& slice);

struct SystemdResources {
    std::vector<std::string> properties;  // what systemd sets (MemoryMax, CPUWeight, ...)
    spec::Resources rest;                 // what is left for the cgroup files
};

// linux.resources as unit properties (runc's genV2ResourcesProperties, plus
// IOWeight): memory limit/reservation/swap, cpu shares/quota/period/cpus/mems,
// pids, blockIO weight, the devices when there are rules (DevicePolicy and
// DeviceAllow, from the same effective rules as the device program, which
// still applies) and the
// unified keys systemd knows.  What became a property leaves `rest`, so one
// value has one owner.  Throws Error(EINVAL)
// naming the field for values that cannot be expressed.
SystemdResources systemd_resources(const spec::Resources& r);

// The properties every container's unit gets: Description, Slice, Delegate,
// accounting on, DefaultDependencies off (as runc).
std::vector<std::string> systemd_unit_properties(const SystemdUnit& unit, const std::string& id);

}  // namespace crunlite::cgroup
