// Root filesystem setup of a container.  Runs in stage-2, inside the container's
// new mount namespace, with the bundle as working directory.
//
//   prepare_rootfs: make "/" a slave (mount events never reach the host), bind
//                   the rootfs onto itself, apply the mount plan (config mounts,
//                   /dev nodes and symlinks) with every target resolved inside the
//                   rootfs, then pivot_root (or MS_MOVE + chroot with no_pivot).
//   finish_rootfs:  after the pivot: rootfsPropagation, maskedPaths,
//                   readonlyPaths, then root.readonly.
#pragma once

#include <functional>

#include <string>

#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/spec/config.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::linux {

// For each config mount with idmap/ridmap (`userns_fds[i]` >= 0: a user
// namespace holding its mapping), a detached copy of its source tree with the
// mapping set (open_tree + MOUNT_ATTR_IDMAP); empty fds for other mounts.
// Runs in stage-1 before the container's user namespace: idmapping the
// host's filesystems needs privilege over them, which the container's
// namespace never has (so rootless callers get the kernel's EPERM, explained).
// Stage-2 attaches the trees (prepare_rootfs, move_mount).
std::vector<sys::UniqueFd> clone_idmapped_sources(const spec::Config& config, const std::string& bundle,
                                                  const std::vector<int>& userns_fds);

// `before_pivot`, if set, runs after every mount and device is in place and
// before the root is switched (where OCI createRuntime/createContainer hooks run).
void prepare_rootfs(const MountPlan& plan, bool no_pivot, const std::function<void()>& before_pivot = {});
void finish_rootfs(const spec::Config& config, const MountPlan& plan);

// Sets hostname/domainname and writes linux.sysctl through the container's /proc.
void apply_uts_and_sysctl(const spec::Config& config);

}  // namespace crunlite::linux
