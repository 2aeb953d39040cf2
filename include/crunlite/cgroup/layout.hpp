// Where the cgroup hierarchies are and where a container's cgroup goes.  Pure:
// works on the text of /proc/self/mountinfo and /proc/self/cgroup, so unit tests
// can describe any host (pure v2, hybrid like ours, v1) without touching it.
//
// Hybrid hosts (cgroup2 at /sys/fs/cgroup/unified, controllers on v1) are
// first-class: the container gets a cgroup in the v2 tree (for freeze, kill and
// listing processes) and one in every v1 hierarchy whose controller it needs.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace crunlite::cgroup {

struct Hierarchy {
    std::string mount;  // "/sys/fs/cgroup/memory"
    std::string own;    // our cgroup inside it, "/process_api/abc" ("/" at the root)
};

struct Layout {
    bool has_unified = false;
    Hierarchy unified;                          // the cgroup2 mount, if any
    std::map<std::string, Hierarchy> v1;        // controller ("memory", "cpu", ..., "name=systemd") -> its hierarchy
};

// Parses mountinfo (cgroup and cgroup2 mounts; a v1 mount may carry several
// controllers, "cpu,cpuacct") and /proc/self/cgroup (our own paths).
Layout parse_layout(std::string_view mountinfo, std::string_view self_cgroup);

// The container's cgroup path inside a hierarchy where we live at `own`:
// `cgroups_path` absolute ("/default/c1") is taken as is; relative ("c1") or
// empty (then `id`) is placed beneath our own cgroup.  Throws Error(EINVAL) for
// a path with ".." components.
std::string container_path(const std::string& cgroups_path, const std::string& id, const std::string& own);

}  // namespace crunlite::cgroup
