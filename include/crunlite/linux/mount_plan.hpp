// Mount planning: config.json mounts and devices -> a list of concrete mount
// operations.  Pure (no syscalls), so unit tests check plans without privilege;
// linux/rootfs.hpp applies a plan (plan, then apply, as bubblewrap does).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crunlite/spec/config.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::linux {

enum class MountKind {
    Bind,        // bind/rbind of a host path
    Filesystem,  // a new filesystem instance (proc, tmpfs, sysfs, devpts, mqueue, ...)
    Cgroup,      // "cgroup" type: cgroup2 when possible, else a read-only rbind of the host's
    CgroupV1,    // "cgroup" type on a v1/hybrid host: a tmpfs with the container's v1 hierarchies
};

// What to do when the kernel refuses a new filesystem instance in a user
// namespace that does not own the relevant namespace (crun does the same).
enum class MountFallback {
    None,
    BindHost,     // EPERM: rbind the same path from the host (sysfs, mqueue, proc)
    DropGid,      // EINVAL: devpts without its gid= option (gid 5 unmapped rootless)
};

// One cgroup v1 hierarchy as a container's `cgroup` mount shows it on a v1 or
// hybrid host (as runc): a directory `name` ("memory", "cpu,cpuacct",
// "unified") holding the container's own cgroup there (`host_dir`), and
// symlinks for co-mounted controllers ("cpu" -> "cpu,cpuacct").
struct CgroupView {
    std::string name;
    std::string host_dir;
    std::vector<std::string> links;
    bool operator==(const CgroupView&) const = default;
};

struct MountOp {
    MountKind kind = MountKind::Filesystem;
    std::string source;       // bind: absolute host path; fs: source name ("proc", "tmpfs")
    int source_fd = -1;       // bind: an O_PATH fd of the source opened in stage-1, mounted through /proc/self/fd
    std::string destination;  // absolute path inside the rootfs
    std::string fstype;
    unsigned long flags = 0;          // flags of the first mount(2) call
    unsigned long remount_flags = 0;  // bind, or a read-only tmpcopyup tmpfs: flags of a MS_REMOUNT|MS_BIND; 0 = none
    std::string data;
    std::vector<unsigned long> propagation;  // MS_SHARED / MS_SLAVE / ... (| MS_REC), in order
    uint64_t attr_set = 0, attr_clr = 0;     // recursive attributes (rro, rnosuid, ...) via mount_setattr
    MountFallback fallback = MountFallback::None;
    std::vector<CgroupView> cgroup_v1;       // CgroupV1 only
    bool tmpcopyup = false;                  // tmpfs: copy what it covers into it (crun's extension)
    bool copyup = false;                     // bind: an empty source directory gets what it covers (ours)
    // copyup where the destination is missing: the container process's owner (podman's) for the
    // directory made there, and so for the empty source.
    uint32_t copyup_uid = 0, copyup_gid = 0;
    int idmap_tree_fd = -1;                  // bind with idmap/ridmap: the detached, idmapped source tree
    size_t config_index = 0;                 // the config.mounts entry it comes from
    bool idmap = false;                      // bind with idmap/ridmap (needs idmap_tree_fd)
};

struct DeviceNode {
    std::string path;   // absolute, inside the container ("/dev/null")
    char type = 'c';    // 'c', 'b', 'p' ('u' is treated as 'c')
    int64_t major = 0, minor = 0;
    uint32_t mode = 0666;
    uint32_t uid = 0, gid = 0;
};

struct MountPlanInput {
    std::string bundle;      // absolute; relative root.path and bind sources resolve against it
    bool can_mknod = true;   // false in a user namespace: bind host device nodes instead
    // The container's v1 hierarchies (v1 and hybrid hosts; the caller's, which
    // it stays in, when it has none of its own); empty on pure v2 hosts or
    // without cgroups, where a `cgroup` mount is cgroup2.
    std::vector<CgroupView> cgroup_v1;
    // The container has a cgroup namespace of its own but no cgroup (rootless
    // without a delegated one): the namespace is rooted at the caller's cgroup,
    // whose tree is not the container's to see, so a `cgroup` mount is an empty
    // read-only tmpfs.
    bool no_cgroup = false;
};

// O_PATH fds of the bind sources of config.mounts, one per mount (empty for
// other mounts, and where the source cannot be opened now: mounting it reports
// that).  Runs in stage-1, with the caller's credentials, in the container's
// new mount namespace.
std::vector<sys::UniqueFd> open_bind_sources(const spec::Config& config, const std::string& bundle);

// The annotation with which a config asks for an overlay mounted on root.path
// (in the container's mount namespace, so it needs no cleanup): its value is
// the overlay's options, "lowerdir=A:B,upperdir=U,workdir=W[,userxattr]" with
// absolute paths, and optionally "driver=native|fuse|auto": the kernel's
// overlay, fuse-overlayfs, or (the default) the kernel's with fuse-overlayfs
// when the kernel refuses (no unprivileged overlay before Linux 5.11).  `run
// --image` writes it; crun-lite's own extension.
inline constexpr const char* kRootfsOverlayAnnotation = "org.crun-lite.rootfs.overlay";

enum class OverlayDriver { Auto, Native, Fuse };

struct MountPlan {
    std::string rootfs;                     // absolute host path of the root filesystem
    std::string rootfs_overlay;             // overlay options (see above, without driver=), or "": bind root.path
    OverlayDriver overlay_driver = OverlayDriver::Auto;
    // No mount namespace in linux.namespaces: the container inherits the caller's
    // (runtime-spec), so nothing may change "/" there; root.path is entered with
    // chroot, and the mounts stay in that namespace after the container (as runc).
    bool own_mount_namespace = true;
    unsigned long root_propagation = 0;     // applied to "/" first (MS_SLAVE|MS_REC by default)
    // rootfsPropagation rshared, or one for "/" alone (shared, private, slave,
    // unbindable): the mounts below "/" keep the host's peer groups, as runc's (a
    // bind of a shared host mount stays its peer, as Kubernetes' Bidirectional
    // volumes need), so the mount holding the rootfs is made private before the
    // rootfs is mounted, and the old root rslave before it is detached: the
    // rootfs and what the runtime mounts on it stay off the host.  As with runc,
    // what it mounts inside a bind of a shared host mount that keeps its peers
    // (maskedPaths in a /sys bound from the host, the console in its /dev) reaches
    // that mount's peers; rootless, none: a new user namespace makes them slaves.
    bool host_peers = false;
    unsigned long final_root_propagation = 0;  // linux.rootfsPropagation for "/" alone, after pivot_root; 0 = none
    std::vector<MountOp> mounts;
    bool setup_dev = true;                  // /dev not bind-mounted: create nodes and symlinks
    bool mknod = true;                      // create nodes with mknod (else bind host nodes)
    std::vector<DeviceNode> devices;        // default devices then linux.devices
    std::string cwd;                        // process.cwd: created (0755) if missing, as runc does
    // An image's container (the overlay annotation): a cwd made is the process
    // user's, as podman makes a missing WORKDIR; a bundle's stays root's (runc).
    std::optional<std::pair<uint32_t, uint32_t>> cwd_owner;

    // After pivot_root (finish_rootfs), each path resolved inside the new root;
    // a missing one is skipped.
    std::vector<std::string> masked_paths;    // linux.maskedPaths: an empty tmpfs or /dev/null over each
    std::vector<std::string> readonly_paths;  // linux.readonlyPaths: bound onto themselves read-only
    bool root_readonly = false;               // root.readonly: "/" remounted read-only, last
    // The container's UTS names and linux.sysctl, set from stage-2
    // (apply_uts_and_sysctl) before finish_rootfs.
    std::string hostname, domainname;
    struct Sysctl {
        std::string key;   // as in the config, for errors: net.ipv4.ip_forward
        std::string path;  // written: /proc/sys/net/ipv4/ip_forward
        std::string value;
    };
    std::vector<Sysctl> sysctl;
};

// The devices every container gets (null, zero, full, random, urandom, tty).
const std::vector<DeviceNode>& default_devices();

// Everything stage-2 applies to the container's mounts and kernel settings:
// mounts, devices, masked and read-only paths, UTS names and sysctls.
// Throws Error naming the mount (`mounts[2].destination`) on a bad entry.
// Pure: the runtime parent plans before it forks, so a bad mount fails there.
MountPlan plan_mounts(const spec::Config& config, const MountPlanInput& input);

// Stage-2: hands the plan's bind mounts the fds stage-1 opened, indexed like
// config.mounts: an O_PATH fd of each bind source (open_bind_sources, -1 where
// it could not be opened: mounting reports that) and, for idmap/ridmap, the
// detached source tree with its mapping set (clone_idmapped_sources).  Throws
// Error naming the mount when an idmap mount has no tree.
void attach_sources(MountPlan& plan, const std::vector<int>& bind_source_fds, const std::vector<int>& idmap_tree_fds);

// runc's guard (CVE-2019-16884, CVE-2019-19921) for a mount that is not a proc,
// sysfs, mqueue, tmpfs or cgroup one: at `dest` (as resolved in the root) /proc
// only when the source is itself a procfs (`source_is_proc`), and beneath /proc
// only the files lxcfs emulates.  "" when allowed, else runc's error.  Pure.
std::string proc_mount_problem(const std::string& dest, bool source_is_proc);

}  // namespace crunlite::linux
