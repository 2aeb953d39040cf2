// The container's cgroups on disk: create, configure, freeze, list,
// kill, remove.  Runs in the runtime parent (create and the verbs after it).
// Paths are plain directories, so the functions work on any root a test gives
// them (tests/unit/cgroup/manager_test.cpp: v2 and hybrid roots in a temporary
// directory); what changes the system (mkdir, rmdir, file writes, signals) goes
// through a sys::Kernel&, which tests replace to fill new directories as
// cgroupfs does or to record the calls in order.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/resources.hpp"
#include "crunlite/sys/kernel.hpp"

namespace crunlite::cgroup {

// One directory per hierarchy the container lives in (co-mounted v1
// controllers share a directory).  Empty: the container has no cgroup.
struct Paths {
    std::string unified;                   // "/sys/fs/cgroup/unified/c1", or ""
    std::map<std::string, std::string> v1;  // "memory" -> "/sys/fs/cgroup/memory/.../c1"
    bool empty() const { return unified.empty() && v1.empty(); }
};

// Our own cgroups (the caller's) in each hierarchy of `layout`.  Pure.
Paths own_paths(const Layout& layout);

// The container's v1 directories by hierarchy, for a `cgroup` mount inside it
// (runc's view on v1 and hybrid hosts): `name` is the hierarchy mount's last
// component ("memory", "cpu,cpuacct"), `controllers` those co-mounted there.
// Not a hybrid host's cgroup2 one, as runc's: systemd in the container would take
// that for a hybrid host's, and fail to make its cgroups there.  Empty when the
// container has no v1 directory (pure v2 hosts).  Pure.
struct HierarchyDir {
    std::string name, dir;
    std::vector<std::string> controllers;
    bool operator==(const HierarchyDir&) const = default;
};
std::vector<HierarchyDir> v1_hierarchy_dirs(const Layout& layout, const Paths& paths);

// `exec --cgroup`: the container's cgroups with sub-cgroups put in, as runc:
// each spec is "[CONTROLLER[,CONTROLLER...]:]PATH" with PATH relative to the
// container's cgroup; without controllers it applies to every hierarchy a
// later spec does not name.  Throws Error(EINVAL) naming a bad spec (".."
// components, an empty path, a controller the container has no cgroup for).
// Pure: whether the sub-cgroups exist is the caller's to check.
Paths sub_cgroups(const Paths& container, const std::vector<std::string>& specs);

// Whether the container's cgroup directory `dir` may be made: a host fact,
// read by the caller (runtime::HostFacts) so planning reads nothing itself.
using MayCreate = std::function<bool(const std::string& dir)>;

// The host's answer: whether we may write the first existing ancestor of
// dir's parent (access(2), W_OK), the directory mkdir -p would start from.
// False rootless without delegation.
bool host_may_create(const std::string& dir);

// cgroup2 moves a process (or starts one in a cgroup) only for a writer of the
// cgroup.procs of the common ancestor of where it is and where it goes: that
// ancestor's directory, for a process in `h.own` and the container's `dir`.  Pure.
std::string common_ancestor(const Hierarchy& h, const std::string& dir);

// host_may_create, and in cgroup2 (`unified`, when it has one) the common
// ancestor's cgroup.procs writable too: a rootless caller in the root of a
// hybrid host's cgroup2 cannot join a subtree delegated there (runc leaves it).
MayCreate host_may_create_and_join(const Layout& layout);

// Where the container's cgroups go.  Hierarchies where `may_create` refuses
// the container's directory are left out.  Pure but for what may_create reads.
Paths plan_paths(const Layout& layout, const MayCreate& may_create, const std::string& cgroups_path,
                 const std::string& id);

// The controllers usable on the v2 side of `layout` (the unified root's
// cgroup.controllers), read once; empty without a unified hierarchy.
std::set<std::string> v2_controllers(const Layout& layout);

// Creates the directories (v1 cpuset gets its parent's cpus/mems, v2 parents
// get the controllers the writes need in cgroup.subtree_control) and applies
// `writes`.  Throws Error naming the file; the caller removes on failure.
// Without `parents`, each directory's parent must exist (ENOENT): an exec's
// cgroup below a container's that `delete` removes at that moment must not
// bring the container's back.
void create(const Paths& paths, const std::vector<Write>& writes, sys::Kernel& k = sys::host_kernel(),
            bool parents = true);

// Applies writes to existing cgroups (`update`).
void apply(const Paths& paths, const std::vector<Write>& writes, sys::Kernel& k = sys::host_kernel());

// Every directory of `paths`, each once (hybrid hierarchies may share one),
// the unified one first.
std::vector<std::string> dirs(const Paths& paths);
// The v1 directories of `paths`, each once: those a launched process enters
// from inside (process/launcher.hpp; the unified one it is born in).
std::vector<std::string> v1_dirs(const Paths& paths);

// The processes already in the first directory of `paths` (the unified one
// where there is one), 0 where it does not exist: runc checks that one only.
size_t processes_in(const Paths& paths);

// Freezes or thaws (v2 cgroup.freeze, else the v1 freezer) and waits until done.
// Throws Error(ENOTSUP) when the container has no freezer.
void freeze(const Paths& paths, bool frozen, sys::Kernel& k = sys::host_kernel());
bool frozen(const Paths& paths);
// Whether an existing cgroup of `paths` is frozen or being frozen (v1 FROZEN or
// FREEZING, cgroup.freeze 1): a container put in it would hang at its first step.
// No cgroup yet is not frozen (and costs no exception).
bool frozen_already(const Paths& paths);

// Every pid in the container's cgroup (v2 if present, else a v1 hierarchy).
std::vector<pid_t> pids(const Paths& paths);

// Signals every process (v2 cgroup.kill for SIGKILL when available).
void kill_all(const Paths& paths, int sig, sys::Kernel& k = sys::host_kernel());

// runc's stats event ({"type":"stats","id":ID,"data":{cpu, cpuset, memory, pids,
// blkio, hugetlb, intel_rdt, network_interfaces}}, its fields and omissions) read
// from whichever hierarchy holds each controller; missing files count as 0.
std::string stats_json(const Paths& paths, const std::string& id);

// Processes of the container the kernel killed for lack of memory (v1
// memory.oom_control's or v2 memory.events' oom_kill; 0 when unknown).
uint64_t oom_kills(const Paths& paths);

// Kills what is left (with `kill_tasks`), thaws, and removes every directory
// (retrying while the kernel still holds exiting tasks).  Missing directories are fine.
void destroy(const Paths& paths, bool kill_tasks, sys::Kernel& k = sys::host_kernel());

}  // namespace crunlite::cgroup
