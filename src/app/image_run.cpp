#include "crunlite/app/image_run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <set>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/merged_view.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/app/container_dirs.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/app/image_store.hpp"
#include "crunlite/app/slirp.hpp"
#include "crunlite/app/volumes.hpp"
#include "crunlite/runtime/user_namespace.hpp"
#include "crunlite/spec/default_spec.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/spec/seccomp_profile.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "crunlite/base/helpers.hpp"
#include "crunlite_build_config.h"
#include "app_record.hpp"
#include "image_layers.hpp"

extern char** environ;

namespace crunlite::app {

using detail::App;
using detail::app_json;
using detail::first_tick_ms;
using detail::ImageLayers;
using detail::MountRecord;
using detail::read_image_file;

namespace {

constexpr const char* kInitInContainer = "/run/crun-lite-init";

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// This machine's host name (a --network host container's default, as Docker's).
std::string host_name() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf - 1) < 0) throw_errno("gethostname");
    return buf;
}

bool is_archive_ref(const std::string& ref) {
    for (const char* prefix : {"docker-archive:", "oci-archive:", "oci:"})
        if (ref.rfind(prefix, 0) == 0) return true;
    struct stat st;
    return ref.find('/') != std::string::npos && ::stat(ref.c_str(), &st) == 0;
}

// The stored image for `o.image`, pinned to the container directory `pin_dir`
// (Store::pin) in the same hold of the store lock that finds or imports it, so
// no rm or prune takes it before the container starts.  An archive is imported
// first (its layers are unpacked once and shared by later runs); a registry
// image (docker://, or a name the store lacks, short ones resolved through
// registries.conf) is pulled as --pull says (missing: only when the store has
// no image of that name).
image::StoredImage find_image(const runtime::Context& ctx, const std::string& store_root, const ImageRunOptions& o,
                              const std::string& pin_dir) {
    const std::string& ref = o.image;
    ContainerDirs dirs(store_root);
    image::Store store(store_root, image::UnpackOptions{}, &dirs);
    bool registry = image::is_registry_ref(ref);
    // A name the store lacks is pulled, resolved through registries.conf when short.
    if (!registry && !is_archive_ref(ref)) {
        if (o.pull != "always") {
            try {
                return store.pin(ref, pin_dir);
            } catch (const Error& e) {
                if (e.code() != ENOENT || o.pull == "never") throw;
                try {
                    image::parse_pull_reference(ref);
                } catch (const Error& why) {  // no registry to ask: say both
                    throw Error(e.code(), e.message() + ", and " + why.message());
                }
            }
        }
        registry = true;
    }
    if (registry) {
        image::Reference r = image::parse_pull_reference(ref);
        if (o.pull != "always") {
            try {
                return store.pin(r.name(), pin_dir);
            } catch (const Error& e) {
                if (e.code() != ENOENT) throw;
                if (o.pull == "never") throw Error(ENOENT, "image " + quote(r.name()) + " is not in the store (--pull never)");
            }
        }
        return pull_image(ctx, store_root, r, o.pull_options, image::LayerLimits{}, {}, pin_dir);
    }
    return import_into(ctx, store_root, image::LayerLimits{}, [&](image::Store& s) { return s.load(ref, ""); }, pin_dir);
}

}  // namespace

spec::Seccomp host_seccomp_profile(std::string_view profile, const std::string& source,
                                   const std::vector<std::string>& caps) {
    struct utsname uts;
    ::uname(&uts);
    spec::ProfileTarget target = spec::profile_target(uts.machine);
    unsigned major = 0, minor = 0;
    std::sscanf(uts.release, "%u.%u", &major, &minor);
    target.kernel = {static_cast<int>(major), static_cast<int>(minor)};
    target.capabilities = caps;
    return spec::resolve_seccomp_profile(profile, source, target);
}

namespace {

// The network mode (app/slirp.hpp): as given, else pasta or slirp4netns when
// ports are published or the caller is rootless, else none.
std::string resolve_network(const ImageRunOptions& o, bool rootless, bool creating) {
    return resolve_network_mode(o.network, !o.publish.empty(), rootless, creating);
}

struct Prepared {
    std::string dir;     // the bundle
    sys::UniqueFd lock;  // its lock, held until the container exists (see image/store.hpp)
    std::string store_root;
    std::vector<std::string> new_volumes;  // the named volumes its -v made
    App app;
    std::vector<PortMap> ports;
};

// Writes the files of a new image container's bundle (see image_run.hpp) for
// prepare(), which made the directory and pinned `img`.
// 1. The process: user from the image's own passwd/group, args, env, cwd.
void plan_process(const runtime::Context& ctx, const ImageRunOptions& o, const ImageLayers& layers,
                  const image::ImageConfig& ic, const std::string& network, spec::SpecOptions& s) {
    ContainerUser user = with_context(o.user ? "--user" : "the image's USER", [&] {
        return resolve_user(o.user.value_or(ic.user), read_image_file(layers, "/etc/passwd"),
                            read_image_file(layers, "/etc/group"));
    });
    s.rootless = ctx.rootless;
    s.caller_uid = ::geteuid();
    s.caller_gid = ::getegid();
    if (ctx.rootless) {
        runtime::RootlessMappings maps = runtime::rootless_mappings();
        s.uid_mappings = maps.uid;
        s.gid_mappings = maps.gid;
        if (maps.uid.empty() && (user.uid != 0 || user.gid != 0))
            throw Error(EPERM, "user " + std::to_string(user.uid) + ":" + std::to_string(user.gid) +
                                   " needs subordinate ids: add a range for " + runtime::user_name_of(::geteuid()) +
                                   " to /etc/subuid and /etc/subgid");
    }
    s.terminal = o.tty;
    s.uid = user.uid;
    s.gid = user.gid;
    // A single-id mapping denies setgroups and maps no other group: the
    // process keeps the one group it has.
    if (!ctx.rootless || !s.uid_mappings.empty()) s.additional_gids = user.additional_gids;
    if (!o.group_add.empty()) {
        if (ctx.rootless && s.uid_mappings.empty())
            throw Error(EPERM, "--group-add needs subordinate ids: add a range for " +
                                   runtime::user_name_of(::geteuid()) + " to /etc/subuid and /etc/subgid");
        for (uint32_t gid : resolve_groups(o.group_add, read_image_file(layers, "/etc/group")))
            if (std::find(s.additional_gids.begin(), s.additional_gids.end(), gid) == s.additional_gids.end())
                s.additional_gids.push_back(gid);
    }
    s.hostname = o.hostname.value_or(network == "host" ? host_name() : o.id.substr(0, 12));
    std::vector<std::string> overrides;
    for (const auto& f : o.env_files) {
        auto lines = parse_env_file(with_context("--env-file", [&] { return read_file(f); }), f);
        overrides.insert(overrides.end(), lines.begin(), lines.end());
    }
    overrides.insert(overrides.end(), o.env.begin(), o.env.end());
    std::vector<std::string> host_env;
    for (char** e = environ; *e; ++e) host_env.emplace_back(*e);
    s.env = with_context("image " + quote(o.image), [&] { return merge_env(ic.env, overrides, s.hostname, user.home, host_env); });
    if (o.tty) s.env.push_back("TERM=xterm");
    s.args = process_args(ic, o.entrypoint, o.args);
    s.cwd = o.workdir.value_or(ic.working_dir.empty() ? "/" : ic.working_dir);
    if (s.cwd[0] != '/')
        throw Error(EINVAL, (o.workdir ? "--workdir " : "the image's WorkingDir ") + quote(s.cwd) + ": must be absolute");
}

// 2. Confinement: capabilities (a non-root user keeps them only in the
//    bounding set, as Docker does), the seccomp profile for them, limits.
void plan_confinement(const ImageRunOptions& o, const std::string& network, spec::SpecOptions& s) {
    auto caps = adjust_capabilities(spec::default_capabilities(), o.cap_add, o.cap_drop);
    s.capabilities = caps;
    s.bounding_only = s.uid != 0;
    if (o.seccomp.empty())
        s.seccomp = host_seccomp_profile(spec::default_seccomp_profile_json(), "profiles/seccomp.json", caps);
    else if (o.seccomp != "unconfined")
        s.seccomp = host_seccomp_profile(with_context("--security-opt seccomp", [&] { return read_file(o.seccomp); }),
                                 o.seccomp, caps);
    s.memory_limit = o.memory;
    s.pids_limit = o.pids_limit;
    if (o.cpus < 0) throw Error(EINVAL, "--cpus: must not be negative");
    s.cpu_quota = static_cast<int64_t>(std::llround(o.cpus * 100000));
    s.network_namespace = network != "host";
    s.root_readonly = o.read_only;
    for (const auto& text : o.ulimits) set_rlimit(s.rlimits, parse_ulimit(text));
    for (const auto& text : o.sysctls) {
        auto [key, value] = parse_key_value(text, "--sysctl", false);
        s.sysctl[key] = value;
    }
    if (o.shm_size < 0) throw Error(EINVAL, "--shm-size: must be positive");
    if (o.shm_size) s.shm_size = std::to_string(o.shm_size);
}

// --device: a node of the host's device at the container's path and, as root,
// the access allowed in its device cgroup.  Rootless there is neither mknod
// nor a device cgroup: the host's node is bind-mounted (podman's way).
void plan_devices(const runtime::Context& ctx, const ImageRunOptions& o, spec::SpecOptions& s) {
    for (const auto& text : o.devices) {
        DeviceFlag d = parse_device(text);
        struct stat st;
        if (::stat(d.host.c_str(), &st) < 0) throw_errno("--device " + quote(text) + ": " + d.host);
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
            throw Error(EINVAL, "--device " + quote(text) + ": " + d.host + " is not a device (character or block)");
        if (ctx.rootless) {
            s.extra_mounts.push_back({d.container, "bind", d.host, {"bind", "nosuid"}, {}, {}});
            continue;
        }
        std::string type = S_ISCHR(st.st_mode) ? "c" : "b";
        int64_t major = ::major(st.st_rdev), minor = ::minor(st.st_rdev);
        s.devices.push_back({type, d.container, major, minor, st.st_mode & 07777, 0u, 0u});
        s.device_rules.push_back({true, type, major, minor, d.access});
    }
}

// 3. The directory: the overlay of the image's layers and its annotations.
void plan_rootfs(const runtime::Context& ctx, const ImageRunOptions& o, const image::Store& store,
                 const image::StoredImage& img, const image::ImageConfig& ic, const std::string& dir,
                 spec::SpecOptions& s) {
    // upper/ and work/ share ovl/, the only directory of ours a fuse-overlayfs
    // daemon gets to see (never config.json, which exec reads).
    for (const char* sub : {"rootfs", "ovl", "ovl/upper", "ovl/work"})
        if (::mkdir((dir + "/" + sub).c_str(), 0755) < 0) throw_errno("create " + quote(dir + "/" + sub));
    ::chmod(dir.c_str(), 0711);  // the user namespace's root must reach rootfs/ and ovl/
    std::vector<std::string> lower;
    for (auto it = img.layers.rbegin(); it != img.layers.rend(); ++it) lower.push_back(store.layer_dir(*it));
    if (lower.empty()) {  // overlay wants a lower dir; an image without layers has an empty root
        ::mkdir((dir + "/empty").c_str(), 0755);
        lower.push_back(dir + "/empty");
    }
    std::string overlay =
        "lowerdir=" + join(lower, ":") + ",upperdir=" + dir + "/ovl/upper,workdir=" + dir + "/ovl/work";
    if (ctx.rootless) overlay += ",userxattr";
    if (o.overlay != "auto" && o.overlay != "native" && o.overlay != "fuse")
        throw Error(EINVAL, "--overlay: unknown driver " + quote(o.overlay) + " (want auto, native or fuse)");
    // A fuse-overlayfs daemon lives in the container's pid namespace with
    // every capability: a container that may ptrace could take it over.
    const std::vector<std::string>& caps = s.capabilities.value();  // plan_confinement set them
    bool ptrace = std::find(caps.begin(), caps.end(), "CAP_SYS_PTRACE") != caps.end();
    if (o.overlay == "fuse" && ptrace)
        throw Error(EINVAL, "--overlay fuse: not with CAP_SYS_PTRACE (the container could take over the "
                            "fuse-overlayfs daemon serving its root)");
    std::string driver = o.overlay == "auto" && ptrace ? "native" : o.overlay;
    if (driver != "auto") overlay += ",driver=" + driver;
    // Stage-2 opens /dev/fuse inside the container's cgroup, whose device
    // rules (root only) would refuse it.  Only when asked for: root always
    // has the kernel's overlay, so auto never falls back there.
    s.allow_fuse_device = o.overlay == "fuse";
    s.annotations[linux::kRootfsOverlayAnnotation] = overlay;
    s.annotations[kImageAnnotation] = img.id;
    std::string stop_signal = o.stop_signal.value_or(ic.stop_signal);
    if (!stop_signal.empty()) s.annotations["org.opencontainers.image.stopSignal"] = stop_signal;
    if (!ic.exposed_ports.empty())
        s.annotations["org.opencontainers.image.exposedPorts"] = join(ic.exposed_ports, ",");
    // Labels become annotations, except the keys whose meaning we define.
    for (const auto& [k, v] : ic.labels)
        if (k != "org.opencontainers.image.stopSignal" && k.rfind("org.crun-lite.", 0) != 0) s.annotations.emplace(k, v);
    // --label: over the image's.
    for (const auto& text : o.labels) {
        auto [key, value] = parse_key_value(text, "--label", true);
        if (key == "org.opencontainers.image.stopSignal" || key.rfind("org.crun-lite.", 0) == 0)
            throw Error(EINVAL, "--label " + quote(text) + ": " + quote(key) + " is crun-lite's own (use --stop-signal)");
        s.annotations[key] = value;
    }
}

// Writes the /etc files into the overlay's empty upper directory, where the
// container sees them as the image's own: when the image's /etc is a directory
// (not a symlink) owned as upper/ is, or missing.  Returns false, having written
// nothing, otherwise.  An /etc and three files in upper/, where bind mounts
// need three more files and six mounts, and overlayfs copies /etc up to make
// their mount points (0.6 ms of a 16 ms image run's CPU here).
bool write_etc_into_upper(const ImageLayers& layers, const std::string& upper,
                          const std::vector<std::pair<const char*, std::string>>& files) {
    sys::UniqueFd up(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat us, es;
    if (!up || ::fstat(up.get(), &us) < 0) throw_errno("open " + quote(upper));
    mode_t mode = 0755;
    if (std::optional<image::MergedEntry> e = layers.resolve("/etc")) {
        bool dir = e->entry.kind == image::LayerEntry::Directory || e->entry.kind == image::LayerEntry::OpaqueDirectory;
        if (!dir || e->path != "/etc") return false;
        if (::fstatat(layers.root(e->layer), "etc", &es, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("stat " + layers.what("/etc"));
        if (es.st_uid != us.st_uid || es.st_gid != us.st_gid) return false;
        mode = es.st_mode & 07777;
    }
    std::string etc = upper + "/etc";
    if (::mkdirat(up.get(), "etc", 0700) < 0) throw_errno("create " + quote(etc));
    sys::UniqueFd ed(::openat(up.get(), "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!ed) throw_errno("open " + quote(etc));
    for (const auto& [name, text] : files) {
        std::string path = etc + "/" + name;
        sys::UniqueFd fd(::openat(ed.get(), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!fd || ::fchmod(fd.get(), 0644) < 0) throw_errno("create " + quote(path));
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) throw_errno("write " + quote(path));
    }
    // The image's mode last: one without write permission (0555) would have refused the files.
    if (::fchmod(ed.get(), mode) < 0) throw_errno("chmod " + quote(etc));
    return true;
}

// -v, --tmpfs and --mount, parsed, each with the text given.
struct UserMounts {
    std::vector<std::pair<VolumeSpec, std::string>> volumes;
    std::vector<std::pair<spec::Mount, std::string>> tmpfs;
};

UserMounts user_mounts(const ImageRunOptions& o) {
    UserMounts u;
    std::string cwd = absolute_path(".");
    for (const auto& text : o.volumes) u.volumes.emplace_back(parse_volume(text, cwd), text);
    for (const auto& text : o.tmpfs) u.tmpfs.emplace_back(parse_tmpfs(text), text);
    for (const auto& text : o.mounts) {
        MountFlag m = parse_mount(text, cwd);
        if (m.tmpfs) u.tmpfs.emplace_back(*m.tmpfs, text);
        else u.volumes.emplace_back(*m.volume, text);
    }
    return u;
}

// 4. The /etc files (hosts, hostname, resolv.conf), tmpfs mounts and the init, as mounts.
void plan_etc_and_mounts(const ImageRunOptions& o, const UserMounts& mounts, const ImageLayers& layers,
                         const std::string& dir, const std::string& network, spec::SpecOptions& s) {
    std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    NetworkEtc net = network_etc(network);
    hosts += net.host_addr + "\t" + s.hostname + "\n";
    // The host's network: its names too (Docker's and podman's).
    if (network == "host" && exists("/etc/hosts")) hosts = read_file("/etc/hosts");
    std::string resolv = net.nameserver.empty() ? "" : "nameserver " + net.nameserver + "\n";
    if (resolv.empty() && exists("/etc/resolv.conf")) resolv = read_file("/etc/resolv.conf");
    for (const auto& text : o.add_hosts) hosts += hosts_entry(text);
    resolv = resolv_conf(resolv, o.dns);
    std::vector<std::pair<const char*, std::string>> files = {
        {"hosts", hosts}, {"hostname", s.hostname + "\n"}, {"resolv.conf", resolv}};
    // With --read-only they stay writable (as Docker's): bind mounts then.
    if (o.read_only || !write_etc_into_upper(layers, dir + "/ovl/upper", files)) {
        for (const auto& [name, text] : files) {
            write_file_atomic(dir + "/" + name, text, 0644);
            s.extra_mounts.push_back({std::string("/etc/") + name, "bind", dir + "/" + name, {"bind", "nosuid", "nodev", "noexec"}, {}, {}});
        }
    }
    // Writable places in a read-only root, as podman's --read-only-tmpfs (volumes may cover them).
    if (o.read_only && o.read_only_tmpfs)
        for (const char* d : {"/tmp", "/var/tmp", "/run"})
            s.extra_mounts.push_back({d, "tmpfs", "tmpfs", {"nosuid", "nodev", std::string(d) == "/run" ? "mode=755" : "mode=1777"}, {}, {}});
    // --tmpfs and --mount type=tmpfs, replacing those at their place.
    std::set<std::string> tmpfs;
    for (const auto& [m, text] : mounts.tmpfs) {
        const std::string& place = m.destination;  // (a lambda may not capture a structured binding)
        if (!tmpfs.insert(place).second)
            throw Error(EINVAL, quote(text) + ": duplicate mount point " + m.destination);
        std::erase_if(s.extra_mounts, [&place](const spec::Mount& e) { return e.type == "tmpfs" && e.destination == place; });
        s.extra_mounts.push_back(m);
    }
    if (o.init) {
        std::string init = o.init_path.empty() ? find_init() : o.init_path;
        if (!exists(init)) throw Error(ENOENT, "--init: " + init + ": no such file or directory");
        s.extra_mounts.push_back({kInitInContainer, "bind", init, {"bind", "ro", "nosuid", "nodev"}, {}, {}});
        s.args.insert(s.args.begin(), {kInitInContainer, "--"});
        s.annotations[linux::kInitCommandAnnotation] = "2";
    }
}

// 5. -v and the image's Volumes, as Docker mounts them: binds of host paths;
// named volumes (made on first use); anonymous ones (-v DST, and each image
// Volume no -v covers) in the container's volumes/, going with it.  A volume
// mounted empty gets the image's files there (the runtime's copyup); parents
// are mounted before what they hold.
void plan_volumes(const UserMounts& mounts, const image::ImageConfig& ic, Prepared& p, spec::SpecOptions& s,
                  std::vector<sys::UniqueFd>& holds) {
    std::vector<std::pair<VolumeSpec, std::string>> given = mounts.volumes;
    auto clean = [](std::string path) {  // "/data/" and "/data" are one place
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        return path;
    };
    std::set<std::string> tmpfs;  // tmpfs places: an image Volume there is not made, a -v is an error
    for (const auto& [m, text] : mounts.tmpfs) tmpfs.insert(m.destination);
    for (const auto& [v, text] : given)
        if (tmpfs.count(clean(v.destination)))
            throw Error(EINVAL, "volume " + quote(text) + ": duplicate mount point " + clean(v.destination) + " (also a tmpfs)");
    for (const auto& v : ic.volumes)
        if (!tmpfs.count(clean(v)) &&
            std::none_of(given.begin(), given.end(), [&](auto& g) { return clean(g.first.destination) == clean(v); })) {
            VolumeSpec anon;
            anon.kind = VolumeSpec::Kind::Anonymous;
            anon.destination = v;
            given.emplace_back(anon, "image Volume " + v);
        }
    // A volume replaces --read-only's tmpfs at the same place (podman's).
    std::erase_if(s.extra_mounts, [&](const spec::Mount& m) {
        return m.type == "tmpfs" &&
               std::any_of(given.begin(), given.end(), [&](auto& g) { return clean(g.first.destination) == m.destination; });
    });
    Volumes named(p.store_root);
    size_t anonymous = 0;
    for (const auto& [v, text] : given) {
        MountRecord record{"volume", "", v.source, v.destination, !v.readonly};
        switch (v.kind) {
            case VolumeSpec::Kind::Bind:
                if (!exists(v.source))
                    throw Error(ENOENT, "volume " + quote(text) + ": " + v.source + ": no such file or directory");
                record.type = "bind";
                break;
            case VolumeSpec::Kind::Named:
                if (named.create(v.source)) p.new_volumes.push_back(v.source);
                holds.push_back(named.hold(v.source));
                record.name = v.source;
                record.source = named.data(v.source);
                break;
            case VolumeSpec::Kind::Anonymous:
                record.source = p.dir + "/volumes/" + std::to_string(anonymous++);
                ::mkdir((p.dir + "/volumes").c_str(), 0700);
                if (::mkdir(record.source.c_str(), 0755) < 0) throw_errno("create " + quote(record.source));
                break;
        }
        // As podman where SELinux is off: nothing to relabel.  Where it is on, a
        // label crun-lite cannot give would leave the container denied.
        if (v.relabel && exists("/sys/fs/selinux/enforce"))
            throw Error(ENOTSUP, "volume " + quote(text) + ": z and Z (SELinux relabeling) are not supported on this SELinux host");
        std::vector<std::string> opts = {"rbind"};
        if (v.readonly) opts.push_back("ro");
        if (v.kind != VolumeSpec::Kind::Bind && v.copy) opts.push_back("copyup");
        s.extra_mounts.push_back({v.destination, "bind", record.source, opts, {}, {}});
        p.app.mounts.push_back(record);
    }
    // Parents before what they hold, volumes and the /etc files and tmpfs of step 4 alike.
    auto depth = [&](const spec::Mount& m) {
        std::string d = clean(m.destination);
        return std::count(d.begin(), d.end(), '/');
    };
    std::stable_sort(s.extra_mounts.begin(), s.extra_mounts.end(),
                     [&](const spec::Mount& a, const spec::Mount& b) { return depth(a) < depth(b); });
}

void fill(const runtime::Context& ctx, const ImageRunOptions& o, bool creating, const image::Store& store,
          const image::StoredImage& img, Prepared& p) {
    image::ImageConfig ic = image::parse_image_config(img.config_json, "image " + img.id + " config");
    // As Docker: another OS is an error, another architecture a warning (binfmt may run it).
    const image::Platform& pf = ic.platform;
    if (!pf.os.empty() && pf.os != "linux")
        throw Error(EINVAL, "image " + quote(o.image) + " is for " + pf.os + ", not linux");
    if (!pf.architecture.empty() && pf.architecture != image::host_arch())
        log::warn("image " + quote(o.image) + " is for " + pf.architecture + ", this machine is " +
                  image::host_arch() + ": it may not run");
    p.app.image = img.id;
    p.app.stop_signal = o.stop_signal.value_or(ic.stop_signal);
    p.app.stop_timeout_s = o.stop_timeout.value_or(10);
    for (const auto& text : o.publish)
        for (auto& port : parse_ports(text)) p.ports.push_back(port);
    p.app.network = resolve_network(o, ctx.rootless, creating);
    p.app.health = health_config(ic.healthcheck, o.health, ic.labels);
    if (p.app.health && p.app.health->kind == ProbeKind::Http) find_health_helper();  // before anything starts
    if (o.on_failure && !p.app.health)
        throw Error(EINVAL, std::string("--health-on-failure ") + health_action_name(*o.on_failure) +
                                ": the container has no healthcheck (the image has none, and no --health-cmd, "
                                "--health-http or --health-tcp was given)");
    p.app.restart = o.restart;
    p.app.on_failure = o.on_failure.value_or(HealthAction::None);
    if (o.require_healthcheck && !p.app.health)
        throw Error(EINVAL, std::string("--wait-healthy: the image has no healthcheck (and no --health-cmd, "
                                        "--health-http or --health-tcp was given)") +
                                (ic.healthcheck ? "" : "; note: OCI-format images (buildah's default) drop HEALTHCHECK: "
                                                       "build with `buildah bud --format docker`"));
    if (o.require_healthcheck && p.app.health->interval_ns == 0)
        throw Error(EINVAL, "--wait-healthy: the healthcheck has no timer (--health-interval disable): "
                            "only `healthcheck run` would probe it");
    if (!p.app.stop_signal.empty())  // --stop-signal was checked with the flags
        with_context("the image's StopSignal", [&] { return runtime::parse_signal(p.app.stop_signal); });

    spec::SpecOptions s;
    ImageLayers layers(store, img);
    plan_process(ctx, o, layers, ic, p.app.network, s);
    plan_confinement(o, p.app.network, s);
    plan_devices(ctx, o, s);
    plan_rootfs(ctx, o, store, img, ic, p.dir, s);
    UserMounts mounts = user_mounts(o);
    plan_etc_and_mounts(o, mounts, layers, p.dir, p.app.network, s);
    std::vector<sys::UniqueFd> holds;  // the named volumes', until app.json names them (Volumes::hold)
    plan_volumes(mounts, ic, p, s, holds);
    write_file_atomic(p.dir + "/config.json", spec::default_spec_json(s), 0644);
    p.app.started_ns = realtime_ns();
    write_file_atomic(p.dir + "/app.json", app_json(p.app), 0644);
}

// A container not made: its directory, then the volumes its -v made (those
// another container took meanwhile stay).
void discard(const Prepared& p) {
    runtime::remove_tree_as_owner(p.dir);
    for (const auto& name : p.new_volumes) {
        try {
            Volumes(p.store_root).remove(name);
        } catch (const Error& e) {
            log::debug("volume " + name + " kept: " + e.message());
        }
    }
}

Prepared prepare(const runtime::Context& ctx, const ImageRunOptions& o, bool creating) {
    state::validate_id(o.id);
    std::string store_root = image::store_root(o.store_root, ctx.rootless);
    image::Store store(store_root, image::UnpackOptions{});
    ContainerDirs dirs(store_root);

    Prepared p;
    p.store_root = store_root;
    p.dir = dirs.dir(o.id);
    p.lock = dirs.create(store, o.id, absolute_path(ctx.root) + "/" + o.id);
    try {
        fill(ctx, o, creating, store, find_image(ctx, store_root, o, p.dir), p);
    } catch (...) {
        discard(p);
        throw;
    }
    return p;
}

runtime::CreateOptions create_options(const ImageRunOptions& o, const Prepared& p) {
    runtime::CreateOptions c;
    c.id = o.id;
    c.bundle = p.dir;
    c.pid_file = o.pid_file;
    c.owned_bundle = true;
    return c;
}

}  // namespace

std::string find_init() { return find_helper("crun-lite-init", "CRUNLITE_INIT", CRUNLITE_BUILD_INIT); }

void create_from_image(const runtime::Context& ctx, const ImageRunOptions& o) {
    if (o.remove) throw Error(EINVAL, "create: --rm only applies to run");
    Prepared p = prepare(ctx, o, true);
    // A healthcheck is probed from `start` on by a watcher, its messages in
    // ctr.log: both found and opened before anything is made.
    int64_t first = first_tick_ms(p.app);
    std::string watcher;
    sys::UniqueFd log_fd;
    try {
        if (first >= 0) {
            watcher = runtime::find_monitor();
            log_fd.reset(::open((p.dir + "/ctr.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
            if (!log_fd) throw_errno("open " + quote(p.dir + "/ctr.log"));
        }
        runtime::create(ctx, create_options(o, p));
    } catch (...) {
        discard(p);
        throw;
    }
    if (first < 0) return;
    try {
        runtime::watch_ticks(ctx, state::Store(ctx.root).load(o.id), first, log_fd.get(), watcher);
    } catch (const Error& e) {  // the container exists: create succeeded, without probes
        log::warn("container " + o.id + " created, but its healthcheck will not run: " + e.message());
    }
}

namespace {

// A run of `p`'s bundle, made with `c` (a new container, or a stopped one
// again): its network helper, its healthcheck ticks and, detached, the monitor
// holding the directory's lock.
int launch(const runtime::Context& ctx, const runtime::CreateOptions& c, Prepared& p, bool detach, bool keep) {
    runtime::RunHooks hooks;
    auto helper = std::make_shared<NetHelper>();
    if (is_user_network(p.app.network)) {  // slirp4netns or pasta, kept by the monitor
        hooks.created = [&, helper](pid_t, int netns, int userns) {
            *helper = start_user_network(p.app.network, netns, userns, ctx.rootless, p.dir, p.ports);
        };
        hooks.exited = [helper] { stop_user_network(*helper); };
    }
    // Probed by the monitor (detached) or a watcher (foreground).
    hooks.first_tick_ms = first_tick_ms(p.app);
    // A restarted init joins the first one's network (and user) namespace.
    hooks.keep_namespaces = detach && may_restart(p.app.restart, p.app.on_failure, p.app.health);
    if (detach) {
        hooks.log_path = p.dir + "/ctr.log";
        // The monitor holds the container directory's lock while it lives, and
        // the network helper's exit pipe; it stops the helper once the container is gone.
        hooks.kept = [&p, helper] {
            runtime::RunHooks::Kept k;
            k.fds.push_back(p.lock.get());
            if (helper->exit_fd) k.fds.push_back(helper->exit_fd.get());
            if (helper->pid > 0) k.helpers.push_back(helper->pid);
            return k;
        };
    }
    return runtime::run(ctx, c, detach, keep, hooks);
}

}  // namespace

int run_image(const runtime::Context& ctx, const ImageRunOptions& o) {
    Prepared p = prepare(ctx, o, false);
    try {
        return launch(ctx, create_options(o, p), p, o.detach, !o.remove);
    } catch (...) {
        // The container was not made (run and create undo their own work); a
        // state of this id, if any, is another container's.
        discard(p);
        throw;
    }
}

bool start_again(const runtime::Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    if (!store.exists(id)) return false;  // runtime::start's error
    state::State st = store.load(id);
    if (!st.annotations.count(kImageAnnotation)) return false;
    state::Status status = runtime::live_status(store, st);
    if (status == state::Status::Running || status == state::Status::Paused) return true;  // Docker's: nothing to do
    if (status != state::Status::Stopped) return false;
    if (restarting(ctx, id)) throw Error(EBUSY, "container " + id + " is restarting: stop it first");
    Prepared p;
    p.dir = st.bundle;
    p.app = detail::parse_app(st.bundle + "/app.json");
    p.ports = read_ports(st.bundle);  // the host ports it had
    // Its monitor may still be ending (it holds the lock until it exits): a few seconds' grace.
    p.lock.reset(::open(p.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!p.lock) throw_errno("open " + quote(p.dir));
    for (int i = 0; ::flock(p.lock.get(), LOCK_EX | LOCK_NB) < 0; ++i) {
        if (errno != EWOULDBLOCK || i == 100) throw Error(EBUSY, "container " + id + " is still held by its monitor");
        ::usleep(30'000);
    }
    st = runtime::ready_to_run_again(ctx, id);
    int64_t now = realtime_ns();
    update_restart_record(ctx, id, [&](RestartRecord& r) {
        r = RestartRecord{r.restart_count, 0, false, "", false, std::nullopt, "", now};
    });
    detail::record_run_start(st.bundle, p.app, now);
    ::unlink((st.bundle + "/health.json").c_str());  // the healthcheck starts afresh, as after a restart
    runtime::CreateOptions c;
    c.id = id;
    c.bundle = st.bundle;
    c.config_file = st.config_path;
    c.owned_bundle = st.owned_bundle;
    c.created = st.created;
    c.replace_stopped = true;
    launch(ctx, c, p, true, true);
    return true;
}

}  // namespace crunlite::app
