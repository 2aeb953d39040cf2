// Private to src/app/: the mounts of a run --image container's config
// (image_run.cpp's steps 4 and 5, and --device).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "crunlite/app/image_run.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/image/manifest.hpp"
#include "crunlite/spec/default_spec.hpp"
#include "crunlite/sys/fd.hpp"
#include "app_record.hpp"
#include "image_layers.hpp"

namespace crunlite::app::detail {

// -v, --tmpfs and --mount, parsed, each with what names it in errors (the flag and its text).
struct UserMounts {
    std::vector<std::pair<VolumeSpec, std::string>> volumes;
    std::vector<std::pair<spec::Mount, std::string>> tmpfs;
};
UserMounts user_mounts(const ImageRunOptions& o);

// /etc/passwd or /etc/group as the container will see it: from a -v/--mount
// bind of that file (or of /etc), else from the image's layers.
std::optional<std::string> read_user_file(const UserMounts& mounts, const ImageLayers& layers, const std::string& path);

// 4. The /etc files (hosts, hostname, resolv.conf: into the overlay's upper
// directory, or bind-mounted from `dir`), --read-only's and the user's tmpfs
// mounts.
void plan_etc_and_mounts(const ImageRunOptions& o, const UserMounts& mounts, const ImageLayers& layers,
                         const std::string& dir, const std::string& network, spec::SpecOptions& s);

// What plan_volumes made: the named volumes it created (to remove again if
// the container is not made), holds on the named volumes used (Volumes::hold:
// to keep until app.json names them, and no longer, or they could not be
// removed), and inspect's Mounts.
struct PlannedVolumes {
    std::vector<std::string> new_volumes;
    std::vector<sys::UniqueFd> holds;
    std::vector<MountRecord> records;
};
// 5. -v, --mount's volumes and binds and the image's Volumes (anonymous ones
// in `dir`/volumes/), then every extra mount sorted parents first.
void plan_volumes(const UserMounts& mounts, const image::ImageConfig& ic, const std::string& store_root,
                  const std::string& dir, PlannedVolumes& out, spec::SpecOptions& s);

// 6. The init (--init), bound where no -v, --mount, --tmpfs or image Volume
// covers: /run/crun-lite-init, else /dev/crun-lite-init, else /.crun-lite-init
// (the file it is bound on would be made in the host's directory of a bind).
void plan_init(const ImageRunOptions& o, const UserMounts& mounts, const image::ImageConfig& ic, spec::SpecOptions& s);

// --device (as root a node and its cgroup rule; rootless a bind of the host's node).
void plan_devices(const runtime::Context& ctx, const ImageRunOptions& o, spec::SpecOptions& s);

}  // namespace crunlite::app::detail
