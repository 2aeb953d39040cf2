#include "crunlite/app/image_run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/sha256.hpp"
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
#include "image_mounts.hpp"

extern char** environ;

namespace crunlite::app {

using detail::App;
using detail::app_json;
using detail::first_tick_ms;
using detail::plan_devices;
using detail::plan_etc_and_mounts;
using detail::plan_init;
using detail::plan_volumes;
using detail::PlannedVolumes;
using detail::user_mounts;
using detail::UserMounts;
using detail::ImageLayers;
using detail::read_user_file;

namespace {

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
    // The stored image of `name`, unless --platform asks for another platform than
    // it is for: then it is pulled (as podman does), or with --pull never refused.
    auto stored = [&](const std::string& name) {
        if (const auto& want = o.pull_options.platform) {
            image::StoredImage img = store.inspect(name);
            image::Platform have = image::parse_image_config(img.config_json, "image " + img.id + " config").platform;
            if (!image::platform_matches(have, *want)) {
                std::string why = "image " + quote(name) + " in the store is for " + image::platform_name(have) +
                                  ", not " + image::platform_name(*want);
                if (o.pull == "never") throw Error(EINVAL, why + " (--pull never)");
                throw Error(ENOENT, why);
            }
        }
        return store.pin(name, pin_dir);
    };
    bool registry = image::is_registry_ref(ref);
    // A name the store lacks is pulled, resolved through registries.conf when short.
    if (!registry && !is_archive_ref(ref)) {
        if (o.pull != "always") {
            try {
                return stored(ref);
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
                return stored(r.name());
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
    std::string publish_flag = !o.publish.empty() ? "-p" : o.publish_all ? "-P" : "";
    return resolve_network_mode(o.network, publish_flag, rootless, creating);
}

struct Prepared {
    std::string dir;     // the bundle
    sys::UniqueFd lock;  // its lock, held until the container exists (see image/store.hpp)
    std::string store_root;
    PlannedVolumes volumes;  // the named volumes its -v made
    App app;
    std::vector<PortMap> ports;
};

// Writes the files of a new image container's bundle (see image_run.hpp) for
// prepare(), which made the directory and pinned `img`.
// 1. The process: user from the container's passwd/group (the image's, or a bind of them), args, env, cwd.
void plan_process(const runtime::Context& ctx, const ImageRunOptions& o, const UserMounts& mounts,
                  const ImageLayers& layers, const image::ImageConfig& ic, const std::string& network,
                  spec::SpecOptions& s) {
    std::optional<std::string> passwd = read_user_file(mounts, layers, "/etc/passwd");
    std::optional<std::string> group = read_user_file(mounts, layers, "/etc/group");
    ContainerUser user = with_context(o.user ? "--user" : "the image's USER",
                                      [&] { return resolve_user(o.user.value_or(ic.user), passwd, group); });
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
        for (uint32_t gid : resolve_groups(o.group_add, group))
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
    s.proc_options = {"nosuid", "noexec", "nodev"};  // Docker's and podman's (readonlyPaths' binds keep them)
    for (const auto& text : o.ulimits) set_rlimit(s.rlimits, parse_ulimit(text));
    for (const auto& text : o.sysctls) {
        auto [key, value] = parse_sysctl(text, network == "host");
        s.sysctl[key] = value;
    }
    // As Docker and podman: ping works without CAP_NET_RAW, through ICMP sockets
    // open to every group the container has (Docker's 0 2147483647 as root;
    // rootless only the mapped gids are valid there).
    if (network != "host" && !s.sysctl.count("net.ipv4.ping_group_range")) {
        uint64_t last = s.rootless ? 0 : 2147483647;
        for (const auto& m : s.gid_mappings) last = std::max<uint64_t>(last, uint64_t{m.container_id} + m.size - 1);
        s.sysctl["net.ipv4.ping_group_range"] = "0 " + std::to_string(last);
    }
    if (o.shm_size < 0) throw Error(EINVAL, "--shm-size: must be positive");
    if (o.shm_size) s.shm_size = std::to_string(o.shm_size);
}

// 3. The directory: the overlay of the image's layers and its annotations.
void plan_rootfs(const runtime::Context& ctx, const ImageRunOptions& o, const image::Store& store,
                 const image::StoredImage& img, const ImageLayers& layers, const image::ImageConfig& ic,
                 const std::string& dir, spec::SpecOptions& s) {
    // upper/ and work/ share ovl/, the only directory of ours a fuse-overlayfs
    // daemon gets to see (never config.json, which exec reads).
    for (const char* sub : {"rootfs", "ovl", "ovl/upper", "ovl/work"})
        if (::mkdir((dir + "/" + sub).c_str(), 0755) < 0) throw_errno("create " + quote(dir + "/" + sub));
    ::chmod(dir.c_str(), 0711);  // the user namespace's root must reach rootfs/ and ovl/
    std::vector<std::string> lower;
    // A layer whose root is opaque (".wh..wh..opq" at its top) hides every layer
    // below, as the merged view reads it; overlayfs ignores the mark on a lower
    // directory's root, so those layers are left out.
    for (size_t l = img.layers.size(); l-- > 0;) {
        lower.push_back(store.layer_dir(img.layers[l]));
        if (image::layer_dir_entry(layers.root(l), "/").kind == image::LayerEntry::OpaqueDirectory) break;
    }
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
            throw Error(EINVAL, "--label " + quote(text) + ": " + quote(key) + " is crun-lite's own" +
                                    (key.rfind("org.crun-lite.", 0) == 0 ? "" : " (use --stop-signal)"));
        s.annotations[key] = value;
    }
}

// The container's cgroup.  Its id alone (the runtime's default) would be one
// cgroup for two containers of one name under two --root dirs (two test
// suites): one's stop or pause would reach the other's processes.
std::string cgroups_path_of(const runtime::Context& ctx, const std::string& id) {
    std::string root = sha256_digest(absolute_path(ctx.root)).substr(std::strlen("sha256:"), 8);
    return (ctx.cgroup_manager == "systemd" ? ":crun-lite:" : "crun-lite-") + id + "-" + root;
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
    for (const auto& e : o.expose) {  // the image's ExposedPorts from here on (its annotation too)
        if (!image::parse_exposed_port(e))
            throw Error(EINVAL, "--expose " + quote(e) + ": want PORT[-PORT][/tcp|udp|sctp]");
        if (std::find(ic.exposed_ports.begin(), ic.exposed_ports.end(), e) == ic.exposed_ports.end())
            ic.exposed_ports.push_back(e);
    }
    if (o.publish_all)
        for (auto& port : publish_all(ic.exposed_ports, p.ports)) p.ports.push_back(port);
    p.app.network = resolve_network(o, ctx.rootless, creating);
    p.app.health = health_config(ic.healthcheck, o.health, ic.labels);
    if (p.app.health && p.app.health->kind == ProbeKind::Http) find_health_helper();  // before anything starts
    if (o.on_failure && !p.app.health)
        throw Error(EINVAL, std::string("--health-on-failure ") + health_action_name(*o.on_failure) +
                                ": the container has no healthcheck (the image has none, and no --health-cmd, "
                                "--health-http or --health-tcp was given)");
    p.app.restart = o.restart;
    p.app.on_failure = o.on_failure.value_or(HealthAction::None);
    if (o.require_healthcheck && !p.app.health && o.health.disable)
        throw Error(EINVAL, "--wait-healthy: the healthcheck is turned off (--no-healthcheck or --health-cmd none)");
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
    UserMounts mounts = user_mounts(o);
    plan_process(ctx, o, mounts, layers, ic, p.app.network, s);
    s.cgroups_path = cgroups_path_of(ctx, o.id);
    plan_confinement(o, p.app.network, s);
    plan_devices(ctx, o, s);
    plan_rootfs(ctx, o, store, img, layers, ic, p.dir, s);
    plan_etc_and_mounts(o, mounts, layers, p.dir, p.app.network, s);
    plan_volumes(mounts, ic, p.store_root, p.dir, p.volumes, s);
    plan_init(o, mounts, ic, s);
    p.app.mounts = p.volumes.records;
    write_file_atomic(p.dir + "/config.json", spec::default_spec_json(s), 0644);
    p.app.started_ns = realtime_ns();
    write_file_atomic(p.dir + "/app.json", app_json(p.app), 0644);
    p.volumes.holds.clear();  // app.json names the volumes now
}

// A container not made: its directory, then the volumes its -v made (those
// another container took meanwhile stay; our own holds go first).
void discard(Prepared& p) {
    p.volumes.holds.clear();
    runtime::remove_tree_as_owner(p.dir);
    for (const auto& name : p.volumes.new_volumes) {
        try {
            Volumes(p.store_root).remove(name);
        } catch (const Error& e) {
            log::debug("volume " + name + " kept: " + e.message());
        }
    }
}

Prepared prepare(const runtime::Context& ctx, const ImageRunOptions& o, bool creating) {
    state::validate_id(o.id);
    // podman's and Docker's names: one starting with "-" or "." would read as an option, or hide.
    if (!std::isalnum(static_cast<unsigned char>(o.id[0])))
        throw Error(EINVAL, "invalid container name " + quote(o.id) + ": it must start with a letter or a digit");
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


namespace {

// A run of `p`'s bundle, made with `c` (a new container, or a stopped one
// again): its network helper, its healthcheck ticks and, detached, the monitor
// holding the directory's lock.
int launch(const runtime::Context& ctx, const runtime::CreateOptions& c, Prepared& p, bool detach, bool keep,
           bool start = true) {
    runtime::RunHooks hooks;
    auto helper = std::make_shared<NetHelper>();
    if (is_user_network(p.app.network)) {  // slirp4netns or pasta, kept by the monitor
        hooks.created = [&, helper](pid_t, int netns, int userns) {
            *helper = start_user_network(p.app.network, netns, userns, ctx.rootless, p.dir, p.ports);
        };
        hooks.exited = [helper] { stop_user_network(*helper); };
    }
    // Probed by the monitor (detached) or a watcher (foreground, and from the
    // `start` of a container made by create, as create_from_image starts it).
    hooks.first_tick_ms = start ? first_tick_ms(p.app) : -1;
    hooks.start = start;
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
        // Under a monitor, as run -d's: the container's output goes to its log,
        // its exit is recorded, its zombie reaped (PID 1 here does not reap).
        launch(ctx, create_options(o, p), p, true, true, false);
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
    // What the new run resets before it starts (its monitor may record its exit
    // at once), put back if it fails: the container stays as it was, its last
    // exit, times and health shown by inspect, state and wait.
    std::optional<int> last_exit = store.exit_status(id);
    RestartRecord last_record = read_restart_record(st.bundle);
    int64_t last_start = p.app.started_ns;
    std::string health_path = st.bundle + "/health.json";
    std::optional<std::string> last_health;
    if (::access(health_path.c_str(), F_OK) == 0) last_health = read_file(health_path);
    st = runtime::ready_to_run_again(ctx, id);
    try {
        int64_t now = realtime_ns();
        update_restart_record(ctx, id, [&](RestartRecord& r) {
            r = RestartRecord{};  // counted afresh (Docker's and podman's); no exit, request or error before
            r.started_ns = now;
        });
        detail::record_run_start(st.bundle, p.app, now);
        ::unlink(health_path.c_str());  // the healthcheck starts afresh, as after a restart
        runtime::CreateOptions c;
        c.id = id;
        c.bundle = st.bundle;
        c.config_file = st.config_path;
        c.owned_bundle = st.owned_bundle;
        c.created = st.created;
        c.replace_stopped = true;
        launch(ctx, c, p, true, true);
    } catch (...) {
        try {
            if (last_exit) runtime::restore_exit_record(ctx, st, *last_exit);
            update_restart_record(ctx, id, [&](RestartRecord& r) { r = last_record; });
            detail::record_run_start(st.bundle, p.app, last_start);
            if (last_health) write_file_atomic(health_path, *last_health, 0644);
        } catch (const Error& e) {
            log::debug("container " + id + " not put back as it was: " + e.message());  // deleted meanwhile
        }
        throw;
    }
    return true;
}

}  // namespace crunlite::app
