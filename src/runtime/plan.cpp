#include "crunlite/runtime/plan.hpp"

#include <algorithm>

// plan_container: what create decides before it makes anything.  Pure (see
// runtime/plan.hpp); runs in the runtime parent.

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/validate.hpp"

namespace crunlite::runtime {
namespace {

// Validates the config and checks what creating needs of it (a process,
// someone to hold a pty, ...); warns of what it asks for that is accepted but
// not applied.
void check_config(spec::Config& config, const std::string& config_path, const CreateOptions& opts,
                  const HostFacts& host, bool foreground) {
    spec::validate(config, config_path);
    if (!config.process) throw Error(EINVAL, config_path + ": process: required to create a container");
    if (!config.linux) config.linux.emplace();
    // runc's rules and words: a pty needs someone to hold its master.
    if (config.process->terminal && opts.console_socket.empty() && !foreground)
        throw Error(EINVAL, "cannot allocate tty if crun-lite will detach without setting console socket");
    if (!opts.console_socket.empty() && (!config.process->terminal || foreground))
        throw Error(EINVAL, "cannot use console socket if crun-lite will not detach or allocate tty");
    if (opts.preserve_fds < 0) throw Error(EINVAL, "--preserve-fds must not be negative");
    // runc's rule and words: a network namespace joined by path may be the caller's own.
    const spec::Namespace* netns = config.linux->find_namespace("network");
    if (netns && !netns->path.empty() && host.is_own_netns && host.is_own_netns(netns->path))
        for (const auto& [key, value] : config.linux->sysctl)
            if (spec::sysctl_namespace(key) == "network")
                throw Error(EINVAL, config_path + ": linux.sysctl." + key + ": sysctl \"" + key +
                                        "\" not allowed in host network namespace");
    if (!config.linux->net_devices.empty() && host.euid != 0)  // moving needs CAP_NET_ADMIN over the host's netns
        throw Error(EPERM, config_path + ": linux.netDevices: not supported rootless: moving a host network device "
                                         "needs CAP_NET_ADMIN in the host's network namespace (run as root)");
    // Applied where AppArmor is enabled, as runc; elsewhere accepted (podman and
    // containerd send one there too) but said out loud: the container runs without
    // it.  SELinux labels are not supported (`features` says so).
    if (!config.process->apparmor_profile.empty() && !host.apparmor_enabled())
        log::warn(config_path + ": process.apparmorProfile " + quote(config.process->apparmor_profile) +
                  " not applied: AppArmor is not enabled on this host");
    if (!config.process->selinux_label.empty())
        log::warn(config_path + ": process.selinuxLabel " + quote(config.process->selinux_label) +
                  " not applied: crun-lite does not support SELinux");
    if (!config.linux->mount_label.empty())
        log::warn(config_path + ": linux.mountLabel " + quote(config.linux->mount_label) +
                  " not applied: crun-lite does not support SELinux");
}

// The user namespace and its id maps, and the init: what it runs as, with
// which limits and capabilities, what it inherits (kept fds, socket activation).
void plan_user_and_init(ContainerPlan& p, const CreateOptions& opts, const Context& ctx, const HostFacts& host) {
    spec::Config& config = p.config;
    p.userns = plan_user_namespace(config, ctx.rootless, host);
    // Mounting in the caller's mount namespace needs privilege over it, which a
    // new user namespace never has.
    if (!config.linux->find_namespace("mount") && config.linux->find_namespace("user"))
        throw Error(EINVAL, p.config_path + ": linux.namespaces: a container with a user namespace needs a mount "
                                            "namespace of its own (it cannot mount in the caller's)");
    if (p.userns.new_userns)
        log::debug(std::string("new user namespace; ids mapped ") +
                   (p.userns.uid_map.use_helper ? "by newuidmap/newgidmap" : "directly (a single id)"));
    p.preserve_fds = opts.preserve_fds;
    // systemd socket activation: LISTEN_FDS fds come first, as runc passes them.
    std::vector<std::string> extra_env;
    if (host.listen_fds > 0) {
        p.preserve_fds += host.listen_fds;
        extra_env = {"LISTEN_FDS=" + std::to_string(host.listen_fds), "LISTEN_PID=1"};
    }
    with_context(p.config_path, [&] {
        p.process = linux::plan_process(*config.process, extra_env, host.cap_last_cap);
        linux::plan_init_extras(p.process, *config.linux, opts.no_new_keyring ? "" : opts.id);
        if (!config.process->apparmor_profile.empty() && host.apparmor_enabled())
            p.process.apparmor_profile = config.process->apparmor_profile;
        if (auto it = config.annotations.find(linux::kInitCommandAnnotation); it != config.annotations.end()) {
            std::optional<uint64_t> i = parse_uint(it->second);
            if (!i || *i == 0 || *i >= p.process.args.size())
                throw Error(EINVAL, std::string("annotations.") + linux::kInitCommandAnnotation + ": " +
                                        quote(it->second) + " is no index of process.args past the first");
            p.process.init_command = *i;
        }
    });
}

// The state record (its creation time, cgroups and pid come later).
void plan_state(ContainerPlan& p, const CreateOptions& opts, const Context& ctx, const HostFacts& host) {
    const spec::Config& config = p.config;
    state::State& st = p.st;
    st.id = opts.id;
    st.bundle = p.bundle;
    st.rootfs = absolute_path(config.root.path[0] == '/' ? config.root.path : p.bundle + "/" + config.root.path);
    st.owner = host.user_name;
    st.annotations = config.annotations;
    st.config_path = p.config_path;
    st.owned_bundle = opts.owned_bundle;
    const spec::Namespace* pid_ns = config.linux->find_namespace("pid");
    st.pid_namespace = pid_ns && pid_ns->path.empty();  // one made for it: the init's end ends the rest
    st.rootless = ctx.rootless;
    st.setgroups = p.userns.setgroups_allowed;
}

// The cgroups (from the host's layout) and everything stage-2 applies.
void plan_cgroups_and_mounts(ContainerPlan& p, const CreateOptions& opts, const Context& ctx, const HostFacts& host) {
    const spec::Config& config = p.config;
    if (host.cgroups) {
        p.cgroups = cgroup::plan(*host.cgroups, *config.linux, opts.id, ctx.rootless, p.config_path);
        for (const auto& w : p.cgroups.warnings) log::warn(w);
        if (p.cgroups.paths.empty()) log::debug("no writable cgroup: the container runs in the caller's cgroup");
    } else if (const auto& r = config.linux->resources) {
        if (auto fields = cgroup::limit_fields(*r); !fields.empty())
            log::warn(join(fields, ", ") + " not applied: --cgroup-manager disabled makes no cgroup");
    }
    linux::MountPlanInput in;
    in.bundle = p.bundle;
    in.can_mknod = !ctx.rootless && !p.userns.new_userns && !config.linux->find_namespace("user");
    for (const auto& h : p.cgroups.view) in.cgroup_v1.push_back({h.name, h.dir, h.controllers});
    const spec::Namespace* cgroup_ns = config.linux->find_namespace("cgroup");
    in.no_cgroup = p.cgroups.paths.empty() && cgroup_ns && cgroup_ns->path.empty();
    p.mounts = with_context(p.config_path, [&] { return linux::plan_mounts(config, in); });
}

}  // namespace

ContainerPlan plan_container(spec::Config config, const std::string& bundle, const std::string& config_path,
                             const CreateOptions& opts, const Context& ctx, const HostFacts& host, bool foreground) {
    ContainerPlan p;
    p.bundle = bundle;
    p.config_path = config_path;
    p.config = std::move(config);
    check_config(p.config, config_path, opts, host, foreground);
    for (const auto& join : opts.join_namespaces) {
        const std::string &type = join.first, &path = join.second;
        auto& nss = p.config.linux->namespaces;
        auto it = std::find_if(nss.begin(), nss.end(), [&type](const spec::Namespace& n) { return n.type == type; });
        if (it == nss.end() && type == "user") {  // rootless, added by plan_user_namespace
            nss.push_back({"user", path});
            continue;
        }
        if (it == nss.end())
            throw Error(EINVAL, config_path + ": linux.namespaces: no " + type + " namespace to join at " + path);
        it->path = path;
    }
    plan_user_and_init(p, opts, ctx, host);
    plan_state(p, opts, ctx, host);
    plan_cgroups_and_mounts(p, opts, ctx, host);
    return p;
}

}  // namespace crunlite::runtime
