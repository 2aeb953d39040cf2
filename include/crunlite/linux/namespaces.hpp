// Namespace helpers.  Run in the container's stage-1 process (see process/launcher.hpp).
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"
#include "crunlite/sys/kernel.hpp"

namespace crunlite::linux {

// CLONE_NEW* flag of an OCI namespace type ("network" -> CLONE_NEWNET); throws
// Error naming the type when it is unknown.
int clone_flag(const std::string& type);

// OR of the CLONE_NEW* flags of the namespaces in `namespaces` that have no path
// (i.e. are to be created).
int new_namespace_flags(const std::vector<spec::Namespace>& namespaces);

// setns() into every namespace that has a path, user namespace first (joining
// it changes which other namespaces we may join).  Throws Error naming the path.
void join_namespaces(const std::vector<spec::Namespace>& namespaces, sys::Kernel& k = sys::host_kernel());

// Stage-1's way into the container's namespaces (process/launcher.hpp), every
// change through `k`, in this order:
//   oom_score_adj (a lower score needs the caller's privilege) → enter the
//   cgroups (enter_cgroups, while the host's cgroupfs and our ids apply)
//   → join the namespaces with a path (join_namespaces) → `joined` → a new
//   user namespace, then `map_ids` (the maps are written: by the parent, or
//   by stage-1 itself) → a new mount
//   namespace, then `in_mount_ns` (bind sources are opened there, still with
//   the caller's ids) → uid/gid 0 of the new user namespace → the other new
//   namespaces but cgroup (stage-2 unshares it once inside its cgroup), then
//   `network_up` for a new network namespace → linux.timeOffsets.
// The callbacks may be empty.  Throws Error naming the step that failed.
struct NamespaceEntry {
    const spec::Linux* lnx = nullptr;
    std::optional<int> oom_score_adj;
    std::string cgroup_unified;            // enter_cgroups' arguments
    std::vector<std::string> cgroup_v1_dirs;
    std::function<void()> joined, map_ids, in_mount_ns, network_up;
};
void enter_namespaces(const NamespaceEntry& entry, sys::Kernel& k = sys::host_kernel());

// Moves the calling process into the cgroup v2 directory `unified` (when not
// empty) and each v1 directory in `v1_dirs`; its children are born there.  For
// a single-threaded caller only: v1 moves the calling thread (writing "0" to
// `tasks`), which the kernel does without its global threadgroup lock, so
// without waiting for an RCU grace period; `cgroup.procs` of v2 takes that lock
// (sys::Child::fork_into_cgroup avoids it).
void enter_cgroups(const std::string& unified, const std::vector<std::string>& v1_dirs, sys::Kernel& k = sys::host_kernel());

// Sets "lo" up in a network namespace we just created (as crun does; runc
// leaves it to the caller): without it even 127.0.0.1 is unreachable in a
// container with --network none, healthchecks included.
void bring_up_loopback();

// CLONE_NEW* flags of the namespaces of `pid` that differ from ours (user,
// mount, pid, ipc, uts, net, cgroup, time): what `exec` must join.  Types in
// `known_new` (the ones the container was created with) are taken as
// differing without comparing their links (two readlinks each).
int differing_namespaces(pid_t pid, int known_new = 0);

}  // namespace crunlite::linux
