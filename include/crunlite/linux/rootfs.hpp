// Root filesystem setup of a container.  Runs in stage-2, inside the container's
// new mount namespace, with the bundle as working directory.
//
//   prepare_rootfs: make "/" a slave (mount events never reach the host), bind
//                   the rootfs onto itself, apply the mount plan (config mounts,
//                   /dev nodes and symlinks) with every target resolved inside the
//                   rootfs, then pivot_root (or MS_MOVE + chroot with no_pivot).
//   finish_rootfs:  after the pivot: rootfsPropagation, maskedPaths,
//                   readonlyPaths (resolved inside the new root), then
//                   root.readonly.
//
// Mounts, the root switch, device nodes, names and sysctls go through the
// sys::Kernel given (the host's by default), so unit tests record what would be
// done on a temporary rootfs (tests/unit/linux/rootfs_test.cpp); path lookups
// and files made in the rootfs stay real (sys/kernel.hpp lists what else does).
#pragma once

#include <functional>

#include <string>

#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/spec/config.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/kernel.hpp"

namespace crunlite::linux {

// For each config mount with idmap/ridmap (`userns_fds[i]` >= 0: a user
// namespace holding its mapping), a detached copy of its source tree with the
// mapping set (open_tree + MOUNT_ATTR_IDMAP); empty fds for other mounts.
// Runs in stage-1 before the container's user namespace: idmapping the
// host's filesystems needs privilege over them, which the container's
// namespace never has (so rootless callers get the kernel's EPERM, explained).
// Stage-2 attaches the trees (prepare_rootfs, move_mount).
std::vector<sys::UniqueFd> clone_idmapped_sources(const spec::Config& config, const std::string& bundle,
                                                  const std::vector<int>& userns_fds,
                                                  sys::Kernel& k = sys::host_kernel());

// `before_pivot`, if set, runs after every mount and device is in place and
// before the root is switched (where OCI createRuntime/createContainer hooks run).
void prepare_rootfs(const MountPlan& plan, bool no_pivot, const std::function<void()>& before_pivot = {},
                    sys::Kernel& k = sys::host_kernel());
// `root` is the directory that is "/" once the root is switched.
void finish_rootfs(const MountPlan& plan, sys::Kernel& k = sys::host_kernel(), const std::string& root = "/");

// Sets hostname/domainname and writes linux.sysctl through the container's /proc.
void apply_uts_and_sysctl(const MountPlan& plan, sys::Kernel& k = sys::host_kernel());

}  // namespace crunlite::linux
