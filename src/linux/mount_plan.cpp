#include "crunlite/linux/mount_plan.hpp"

#include <fcntl.h>
#include <sys/mount.h>

#include <algorithm>
#include <set>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/mount_options.hpp"

namespace crunlite::linux {
namespace {

std::string absolute(const std::string& path, const std::string& base) {
    if (path.empty() || path[0] == '/') return path;
    return base + "/" + path;
}

// Flags that only a MS_REMOUNT can apply to a bind mount.
constexpr unsigned long kBindRemountable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                           MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME | MS_NOSYMFOLLOW;

unsigned long propagation_flag(const std::string& name) {
    if (name == "shared") return MS_SHARED;
    if (name == "rshared") return MS_SHARED | MS_REC;
    if (name == "slave") return MS_SLAVE;
    if (name == "rslave") return MS_SLAVE | MS_REC;
    if (name == "private") return MS_PRIVATE;
    if (name == "rprivate") return MS_PRIVATE | MS_REC;
    if (name == "unbindable") return MS_UNBINDABLE;
    if (name == "runbindable") return MS_UNBINDABLE | MS_REC;
    return 0;
}

}  // namespace

const std::vector<DeviceNode>& default_devices() {
    static const std::vector<DeviceNode> devices = {
        {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
        {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
        {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
    };
    return devices;
}

// Only the options we document, with absolute paths: the annotation must not
// smuggle other overlay options (or a comma-separated extra) into mount(2).
// Returns the kernel's options (driver= is ours) and sets `driver`.
static std::string checked_overlay_options(const std::string& value, OverlayDriver& driver) {
    std::string where = std::string("annotations[") + quote(kRootfsOverlayAnnotation) + "]";
    bool lower = false, upper = false, work = false, driver_seen = false;
    std::vector<std::string> kernel;
    for (const auto& opt : split(value, ',')) {
        if (opt == "userxattr") {
            kernel.push_back(opt);
            continue;
        }
        size_t eq = opt.find('=');
        std::string key = opt.substr(0, eq), val = eq == std::string::npos ? "" : opt.substr(eq + 1);
        if (key == "driver" && !driver_seen && (val == "native" || val == "fuse" || val == "auto")) {
            driver_seen = true;
            driver = val == "native" ? OverlayDriver::Native : val == "fuse" ? OverlayDriver::Fuse : OverlayDriver::Auto;
            continue;
        }
        bool* seen = key == "lowerdir" ? &lower : key == "upperdir" ? &upper : key == "workdir" ? &work : nullptr;
        if (!seen || *seen) throw Error(EINVAL, where + ": unexpected option " + quote(opt));
        *seen = true;
        auto paths = key == "lowerdir" ? split(val, ':') : std::vector<std::string>{val};
        for (const auto& path : paths)
            if (path.empty() || path[0] != '/') throw Error(EINVAL, where + ": " + key + " must be absolute paths");
        kernel.push_back(opt);
    }
    if (!lower || !upper || !work) throw Error(EINVAL, where + ": lowerdir, upperdir and workdir are required");
    return join(kernel, ",");
}

// A mount is a bind when its type or its options say so.
static bool is_bind(const spec::Mount& m) {
    if (m.type == "bind") return true;
    for (const auto& o : m.options)
        if (o == "bind" || o == "rbind") return true;
    return false;
}

std::vector<sys::UniqueFd> open_bind_sources(const spec::Config& config, const std::string& bundle) {
    std::string rootfs = absolute(config.root.path, bundle);
    std::vector<sys::UniqueFd> fds;
    for (const auto& m : config.mounts) {
        fds.emplace_back();
        std::string source = absolute(m.source, bundle);
        // A source inside the rootfs may be covered by an earlier mount of the
        // list: resolved when it is mounted, as runc does.
        bool in_rootfs = source == rootfs || source.rfind(rootfs + "/", 0) == 0;
        if (is_bind(m) && !m.source.empty() && !in_rootfs)
            fds.back() = sys::UniqueFd(::open(source.c_str(), O_PATH | O_CLOEXEC));
    }
    return fds;
}

void attach_sources(MountPlan& plan, const std::vector<int>& bind_source_fds, const std::vector<int>& idmap_tree_fds) {
    for (auto& op : plan.mounts) {
        if (op.kind != MountKind::Bind) continue;
        size_t i = op.config_index;
        if (i < bind_source_fds.size()) op.source_fd = bind_source_fds[i];
        if (!op.idmap) continue;
        if (i >= idmap_tree_fds.size() || idmap_tree_fds[i] < 0)
            throw Error(EINVAL, "mounts[" + std::to_string(i) + "]: idmap without a prepared source tree");
        op.idmap_tree_fd = idmap_tree_fds[i];
    }
}

namespace {

// root.path, the overlay annotation, and the propagation of "/".
void plan_root(MountPlan& plan, const spec::Config& config, const MountPlanInput& input) {
    plan.rootfs = absolute(config.root.path, input.bundle);
    plan.mknod = input.can_mknod;
    if (config.process) plan.cwd = config.process->cwd;
    plan.own_mount_namespace = config.linux && config.linux->find_namespace("mount");
    if (auto it = config.annotations.find(kRootfsOverlayAnnotation); it != config.annotations.end()) {
        plan.rootfs_overlay = checked_overlay_options(it->second, plan.overlay_driver);
        if (config.process) plan.cwd_owner.emplace(config.process->user.uid, config.process->user.gid);
    }
    if (!plan.own_mount_namespace) {
        if (config.root.readonly)
            throw Error(EINVAL, "root.readonly: needs a mount namespace of its own (it would remount the caller's)");
        if (config.linux && !config.linux->rootfs_propagation.empty())
            throw Error(EINVAL, "linux.rootfsPropagation: needs a mount namespace of its own");
        if (!plan.rootfs_overlay.empty())
            throw Error(EINVAL, std::string("annotations[") + quote(kRootfsOverlayAnnotation) +
                                    "]: needs a mount namespace of its own");
    }

    // "/" becomes an rslave first so nothing we mount propagates back to the
    // host (rprivate: no propagation in either direction).  As runc, the asked
    // flag goes on "/" as it is: rshared, or a flag for "/" alone, leaves the
    // mounts below it the host's peers (see host_peers).  The rootfs mount
    // itself gets the asked propagation after pivot_root, not its submounts:
    // each mount's own propagation options stand.
    std::string root_prop = config.linux ? config.linux->rootfs_propagation : "";
    unsigned long wanted = propagation_flag(root_prop);
    plan.host_peers = plan.own_mount_namespace && wanted && ((wanted & MS_SHARED) || !(wanted & MS_REC));
    plan.root_propagation = plan.host_peers      ? wanted
                            : (wanted & MS_PRIVATE) ? (MS_PRIVATE | MS_REC)
                                                    : (MS_SLAVE | MS_REC);
    plan.final_root_propagation = wanted & ~static_cast<unsigned long>(MS_REC);
}

void plan_bind(MountOp& op, const spec::MountOptions& opts, const spec::Mount& m, const std::string& where,
               const MountPlanInput& input) {
    op.kind = MountKind::Bind;
    op.source = absolute(m.source, input.bundle);
    if (op.source.empty()) throw Error(EINVAL, where + ".source: a bind mount needs a source");
    op.idmap = opts.idmap;
    op.flags = MS_BIND | (opts.recursive ? MS_REC : 0);
    // mount(2) ignores every flag but MS_REC on a new bind; the rest needs a remount.
    op.remount_flags = opts.flags & kBindRemountable;
    if (op.remount_flags) op.remount_flags |= MS_BIND | MS_REMOUNT;
}

// A "cgroup" or "cgroup2" mount: an empty read-only tmpfs without a cgroup of
// the container's in a cgroup namespace of its own, else cgroup2, or for
// "cgroup" on v1 and hybrid hosts the container's v1 hierarchies, ours where it
// has none (runc's view).  "cgroup2" is cgroup2 everywhere, as runc mounts it: what a
// systemd inside the container needs.
void plan_cgroup(MountOp& op, const spec::MountOptions& opts, const std::string& type, const MountPlanInput& input) {
    if (input.no_cgroup) {
        op.kind = MountKind::Filesystem;
        op.fstype = op.source = "tmpfs";
        op.flags = opts.flags;
        op.data = "mode=0555";
        return;
    }
    op.kind = input.cgroup_v1.empty() || type == "cgroup2" ? MountKind::Cgroup : MountKind::CgroupV1;
    op.source = "cgroup";
    op.fstype = "cgroup2";
    op.flags = opts.flags;
    op.data.clear();
    if (op.kind == MountKind::CgroupV1) op.cgroup_v1 = input.cgroup_v1;
}

void plan_filesystem(MountOp& op, const spec::MountOptions& opts, const spec::Mount& m, const std::string& where) {
    if (m.type.empty()) throw Error(EINVAL, where + ".type: must be set for a non-bind mount");
    op.kind = MountKind::Filesystem;
    op.fstype = m.type;
    op.source = m.source.empty() ? m.type : m.source;
    op.flags = opts.flags;
    // Where the kernel refuses a fresh instance (a user namespace that does not
    // own the net/ipc/pid namespace), bind the host's, as crun does.
    if (m.type == "sysfs" || m.type == "mqueue" || m.type == "proc") op.fallback = MountFallback::BindHost;
    if (m.type == "devpts" && op.data.find("gid=") != std::string::npos) op.fallback = MountFallback::DropGid;
    op.tmpcopyup = opts.tmpcopyup;
    // A read-only tmpfs is filled first: mounted writable, made read-only after the copy (finish_mount).
    if (op.tmpcopyup && (op.flags & MS_RDONLY)) {
        op.flags &= ~static_cast<unsigned long>(MS_RDONLY);
        op.remount_flags = (op.flags & kBindRemountable) | MS_RDONLY | MS_BIND | MS_REMOUNT;
    }
}

// config.mounts[i] as one operation.
MountOp plan_mount(size_t i, const spec::Mount& m, const MountPlanInput& input) {
    std::string where = "mounts[" + std::to_string(i) + "]";
    if (m.destination.empty()) throw Error(EINVAL, where + ".destination: must not be empty");
    spec::MountOptions opts = with_context(where + ".options", [&] { return spec::parse_mount_options(m.options); });
    if (opts.tmpcopyup && m.type != "tmpfs")
        throw Error(EINVAL, where + ".options: tmpcopyup is for tmpfs mounts, not " + quote(m.type));
    if (opts.copyup && m.type != "bind" && !opts.bind)
        throw Error(EINVAL, where + ".options: copyup is for bind mounts, not " + quote(m.type));
    MountOp op;
    op.copyup = opts.copyup;
    op.config_index = i;
    op.destination = m.destination[0] == '/' ? m.destination : "/" + m.destination;
    op.propagation = opts.propagation;
    op.attr_set = opts.attr_set;
    op.attr_clr = opts.attr_clr;
    op.data = opts.data;
    if (m.type == "bind" || opts.bind) plan_bind(op, opts, m, where, input);
    else if (m.type == "cgroup" || m.type == "cgroup2") plan_cgroup(op, opts, m.type, input);
    else plan_filesystem(op, opts, m, where);
    return op;
}

// linux.devices[i] as a node under /dev.
DeviceNode plan_device(size_t i, const spec::Device& d) {
    std::string where = "linux.devices[" + std::to_string(i) + "]";
    if (d.path.empty() || d.path[0] != '/') throw Error(EINVAL, where + ".path: must be absolute");
    // "/dev/foo/" names the node /dev/foo (runc accepts it).
    std::string path = d.path;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path == "/") throw Error(EINVAL, where + ".path: must name a file");
    return DeviceNode{path, d.type == "u" ? 'c' : (d.type.empty() ? 'c' : d.type[0]), d.major, d.minor,
                      d.file_mode.value_or(0666) & 07777, d.uid.value_or(0), d.gid.value_or(0)};
}

// The default devices, then linux.devices.
void plan_devices(MountPlan& plan, const spec::Config& config) {
    plan.devices = default_devices();
    if (!config.linux) return;
    std::set<std::string> given;
    for (size_t i = 0; i < config.linux->devices.size(); ++i) {
        DeviceNode node = plan_device(i, config.linux->devices[i]);
        // Of two config entries with one path, the first is made (runc's mknod of the second fails).
        if (!given.insert(node.path).second) {
            log::warn("linux.devices[" + std::to_string(i) + "]: " + quote(node.path) +
                      " is an earlier entry's path: that one is made");
            continue;
        }
        // A config entry replaces a default device of the same path.
        auto same = std::find_if(plan.devices.begin(), plan.devices.end(),
                                 [&](const DeviceNode& d) { return d.path == node.path; });
        if (same == plan.devices.end()) plan.devices.push_back(node);
        else *same = node;
    }
}

// What stage-2 does after the mounts: masks, read-only paths and root, names, sysctls.
void plan_finish(MountPlan& plan, const spec::Config& config) {
    plan.root_readonly = config.root.readonly;
    plan.hostname = config.hostname;
    plan.domainname = config.domainname;
    if (!config.linux) return;
    plan.masked_paths = config.linux->masked_paths;
    plan.readonly_paths = config.linux->readonly_paths;
    for (const auto& [key, value] : config.linux->sysctl) {
        // net.ipv4.ip_forward is /proc/sys/net/ipv4/ip_forward.
        std::string path = "/proc/sys/" + key;
        std::replace(path.begin() + 10, path.end(), '.', '/');
        plan.sysctl.push_back({key, path, value});
    }
}

}  // namespace

std::string proc_mount_problem(const std::string& dest, bool source_is_proc) {
    static const char* const kLxcfsFiles[] = {
        "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",    "/proc/swaps",
        "/proc/uptime",  "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
    if (dest == "/proc")
        return source_is_proc ? "" : quote(dest) + " cannot be mounted because it is not of type proc";
    if (dest.rfind("/proc/", 0) != 0) return "";
    for (const char* file : kLxcfsFiles)
        if (dest == file) return "";
    return quote(dest) + " cannot be mounted because it is inside /proc";
}

MountPlan plan_mounts(const spec::Config& config, const MountPlanInput& input) {
    MountPlan plan;
    plan_root(plan, config, input);
    for (size_t i = 0; i < config.mounts.size(); ++i) {
        plan.mounts.push_back(plan_mount(i, config.mounts[i], input));
        MountOp& op = plan.mounts.back();
        if (op.copyup && config.process) {
            op.copyup_uid = config.process->user.uid;
            op.copyup_gid = config.process->user.gid;
        }
        // A bind over /dev provides it: no nodes or symlinks are made there.
        if (op.kind == MountKind::Bind && op.destination == "/dev") plan.setup_dev = false;
    }
    if (plan.setup_dev) plan_devices(plan, config);
    plan_finish(plan, config);
    return plan;
}

}  // namespace crunlite::linux
