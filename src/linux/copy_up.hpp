// copyup (a bind mount's option, crun-lite's own): an empty bind source is
// first filled with what the destination holds in the root.  Private to
// src/linux/ (rootfs.cpp applies it with the mounts).
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace crunlite::linux {

// The mounts whose contents a copyup may copy: the rootfs's, and each copyup
// mount made so far (a volume nested in another takes what the outer one got
// from the image).  What procfs, sysfs or any other mount holds is not the
// image's.
using CopyableMounts = std::set<uint64_t>;

// An empty `source` directory first gets what `target` (an fd of the
// destination in the rootfs) holds, with its owner and mode, as Docker fills a
// new volume from the image; nothing when `target` is on a mount not in
// `copyable`.  Locked: two containers may fill one volume.  A copy that fails
// empties `source` again.  Throws Error naming the entry.
void copy_up(const std::string& source, int target, const std::string& destination, const CopyableMounts& copyable);

}  // namespace crunlite::linux
