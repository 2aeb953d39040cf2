// The parts of preparing the rootfs that live in files of their own (rootfs.cpp
// calls them).  Private to src/linux/.
#pragma once

#include <string>
#include <vector>

#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/sys/kernel.hpp"

namespace crunlite::linux {

// MS_REMOUNT|MS_BIND of `path`; in a user namespace retried with the flags the
// mount has locked (rootfs.cpp).
void remount_bind(sys::Kernel& k, const std::string& path, unsigned long flags, const std::string& what);

// `devices` made inside `root_fd` (mknod, or the host's nodes bound where the
// user namespace refuses mknod), then /dev's standard symlinks (devices.cpp).
void create_devices(sys::Kernel& k, int root_fd, const std::vector<DeviceNode>& devices, bool mknod);

// The image's overlay on plan.rootfs: the kernel's, or fuse-overlayfs where the
// kernel refuses an unprivileged overlay or lacks it (overlay_mount.cpp).
void mount_overlay(sys::Kernel& k, const MountPlan& plan);

}  // namespace crunlite::linux
