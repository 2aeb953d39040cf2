#include "crunlite/runtime/container.hpp"

// create and start: planning a container from its bundle, making its state
// directory and cgroups, and launching its init blocked on exec.fifo.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/cgroup/plan.hpp"
#include "crunlite/process/hooks.hpp"
#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/process/launcher.hpp"
#include "crunlite/runtime/user_namespace.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/spec/validate.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "internal.hpp"

namespace crunlite::runtime {
namespace {

using detail::config_hooks;
using detail::Created;
using detail::start_created;
using detail::write_pid_file;

// Everything `create` made; undone by the destructor unless committed.
class CreateTransaction {
public:
    CreateTransaction(const state::Store& store, std::string id) : store_(store), id_(std::move(id)) {}
    ~CreateTransaction() {
        if (committed_) return;
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {}
        }
        cgroup::destroy(cgroup_);
        if (own_dir_) store_.remove(id_);
    }
    void own_dir() { own_dir_ = true; }
    void own_cgroup(const cgroup::Paths& paths) { cgroup_ = paths; }
    void own_pid(pid_t pid) { pid_ = pid; }
    void commit() { committed_ = true; }

private:
    const state::Store& store_;
    std::string id_;
    bool own_dir_ = false;
    pid_t pid_ = 0;
    cgroup::Paths cgroup_;
    bool committed_ = false;
};

// What planning reads of the host, read once before it.
struct HostFacts {
    uid_t euid = 0;
    std::optional<cgroup::Layout> cgroups;  // none with --cgroup-manager disabled
};

HostFacts read_host_facts(const Context& ctx) {
    HostFacts host;
    host.euid = ::geteuid();
    if (ctx.cgroup_manager != "disabled")
        host.cgroups = cgroup::parse_layout(read_file("/proc/self/mountinfo"), read_file("/proc/self/cgroup"));
    return host;
}

// What create_container plans before it makes anything.  The launch request
// points into it (the config, the seccomp program, the mount plan, the user
// namespaces of idmapped mounts), so it stays where it was made.
struct CreatePlan {
    HostFacts host;
    std::string bundle;
    std::string config_path;
    spec::Config config;
    process::LaunchRequest req;
    UserNamespacePlan userns;
    linux::SeccompProgram seccomp;
    std::vector<sys::UniqueFd> idmap_ns;
    state::State st;
    cgroup::Plan cgroups;
    linux::MountPlan mounts;

    CreatePlan() = default;
    CreatePlan(const CreatePlan&) = delete;
    CreatePlan& operator=(const CreatePlan&) = delete;
};

// Reads and validates the bundle's config, and checks what creating needs of
// it (a process, someone to hold a pty, ...); warns of what it asks for that
// is accepted but not applied.
void read_config(const Context& ctx, const CreateOptions& opts, const state::Store& store, bool foreground,
                 CreatePlan& p) {
    std::string& bundle = p.bundle;
    std::string& config_path = p.config_path;
    spec::Config& config = p.config;
    bundle = absolute_path(opts.bundle.empty() ? "." : opts.bundle);
    config_path = opts.config_file.empty() ? bundle + "/config.json" : absolute_path(opts.config_file);

    std::string text = with_context("read config", [&] { return read_file(config_path); });
    config = spec::parse_config(text, config_path);
    spec::validate(config, config_path);
    log::debug("container " + opts.id + ": config " + config_path + ", rootless " +
               (ctx.rootless ? "yes" : "no") + ", state " + store.dir(opts.id));
    if (!config.process) throw Error(EINVAL, config_path + ": process: required to create a container");
    if (!config.linux) config.linux.emplace();
    // runc's rules and words: a pty needs someone to hold its master.
    if (config.process->terminal && opts.console_socket.empty() && !foreground)
        throw Error(EINVAL, "cannot allocate tty if crun-lite will detach without setting console socket");
    if (!config.process->terminal && !opts.console_socket.empty())
        throw Error(EINVAL, "cannot use console socket if crun-lite will not allocate tty");
    if (!config.linux->net_devices.empty() && p.host.euid != 0)  // moving needs CAP_NET_ADMIN over the host's netns
        throw Error(EPERM, config_path + ": linux.netDevices: not supported rootless: moving a host network device "
                                         "needs CAP_NET_ADMIN in the host's network namespace (run as root)");
    // Accepted like runc on a host without the LSM, but said out loud: the
    // container runs without the profile/label (`features` reports both disabled).
    if (!config.process->apparmor_profile.empty())
        log::warn(config_path + ": process.apparmorProfile " + quote(config.process->apparmor_profile) +
                  " not applied: crun-lite does not support AppArmor");
    if (!config.process->selinux_label.empty())
        log::warn(config_path + ": process.selinuxLabel " + quote(config.process->selinux_label) +
                  " not applied: crun-lite does not support SELinux");
    if (!config.linux->mount_label.empty())
        log::warn(config_path + ": linux.mountLabel " + quote(config.linux->mount_label) +
                  " not applied: crun-lite does not support SELinux");
}

// The launch request's process side: the user namespace and its id maps, the
// seccomp program, the user namespaces of idmapped mounts, and what the init
// inherits (kept fds, socket activation).
void plan_process(const Context& ctx, const CreateOptions& opts, bool namespace_fds, CreatePlan& p) {
    const std::string& config_path = p.config_path;
    spec::Config& config = p.config;
    process::LaunchRequest& req = p.req;
    UserNamespacePlan& userns = p.userns;
    userns = plan_user_namespace(config, ctx.rootless);
    req.new_userns = userns.new_userns;
    req.uid_map = userns.uid_map;
    req.gid_map = userns.gid_map;
    // Mounting in the caller's mount namespace needs privilege over it, which a
    // new user namespace never has.
    if (!config.linux->find_namespace("mount") && config.linux->find_namespace("user"))
        throw Error(EINVAL, config_path + ": linux.namespaces: a container with a user namespace needs a mount "
                                          "namespace of its own (it cannot mount in the caller's)");
    if (userns.new_userns)
        log::debug(std::string("new user namespace; ids mapped ") +
                   (userns.uid_map.use_helper ? "by newuidmap/newgidmap" : "directly (a single id)"));
    if (config.linux->seccomp) {
        p.seccomp = detail::seccomp_program(ctx.root, *config.linux->seccomp, config_path);
        req.seccomp = &p.seccomp;
    }
    p.idmap_ns = with_context(config_path, [&] { return idmap_namespaces(config); });
    for (const auto& fd : p.idmap_ns) req.idmap_userns_fds.push_back(fd ? fd.get() : -1);
    req.config = &config;
    req.bundle = p.bundle;
    req.container_id = opts.id;
    req.no_pivot = opts.no_pivot;
    req.want_namespace_fds = namespace_fds;
    req.new_keyring = !opts.no_new_keyring;
    req.preserve_fds = opts.preserve_fds;
    // systemd socket activation: LISTEN_FDS fds come first, as runc passes them.
    if (const char* listen = std::getenv("LISTEN_FDS")) {
        int n = static_cast<int>(parse_int(listen).value_or(0));
        if (n > 0) {
            req.preserve_fds += n;
            req.extra_env = {"LISTEN_FDS=" + std::to_string(n), "LISTEN_PID=1"};
        }
    }
}

// The state record (its cgroups and pid come later), and the runtime hooks,
// which get it as the OCI state.
void plan_state(const Context& ctx, const CreateOptions& opts, CreatePlan& p) {
    const spec::Config& config = p.config;
    const std::string& bundle = p.bundle;
    state::State& st = p.st;
    st.id = opts.id;
    st.bundle = bundle;
    st.rootfs = config.root.path[0] == '/' ? config.root.path : bundle + "/" + config.root.path;
    st.created = rfc3339_utc_now();
    st.owner = user_name_of(p.host.euid);
    st.annotations = config.annotations;
    st.config_path = p.config_path;
    st.owned_bundle = opts.owned_bundle;
    st.pid_namespace = config.linux->find_namespace("pid") != nullptr;
    st.rootless = ctx.rootless;
    const spec::Hooks& hooks = config.hooks;
    if (!hooks.prestart.empty() || !hooks.create_runtime.empty() || !hooks.create_container.empty() ||
        !hooks.start_container.empty()) {
        // `st` and `hooks` refer to the plan's, which outlives the launch (and
        // the record gets its cgroups before it).
        p.req.runtime_hooks = [&st, &hooks](pid_t pid) {
            state::State s = st;
            s.pid = pid;
            std::string creating = state::oci_state_json(s, state::Status::Creating, false);
            process::run_hooks(hooks.prestart, "prestart", creating);
            process::run_hooks(hooks.create_runtime, "createRuntime", creating);
            return std::pair(creating, state::oci_state_json(s, state::Status::Created, false));
        };
    }
}

// Plans the cgroups and the mounts.
void plan_cgroups_and_mounts(const Context& ctx, const CreateOptions& opts, CreatePlan& p) {
    const spec::Config& config = p.config;
    if (p.host.cgroups) {
        p.cgroups = cgroup::plan(*p.host.cgroups, *config.linux, opts.id, ctx.rootless, p.config_path);
        for (const auto& w : p.cgroups.warnings) log::warn(w);
        if (p.cgroups.paths.empty()) log::debug("no writable cgroup: the container runs in the caller's cgroup");
    }
    const cgroup::Paths& cg = p.cgroups.paths;
    linux::MountPlanInput mount_input;
    mount_input.bundle = p.bundle;
    mount_input.can_mknod = !ctx.rootless && !p.userns.new_userns && !config.linux->find_namespace("user");
    for (const auto& h : p.cgroups.view) mount_input.cgroup_v1.push_back({h.name, h.dir, h.controllers});
    const spec::Namespace* cgroup_ns = config.linux->find_namespace("cgroup");
    mount_input.no_cgroup = cg.empty() && cgroup_ns && cgroup_ns->path.empty();
    p.mounts = with_context(p.config_path, [&] { return linux::plan_mounts(config, mount_input); });
    p.req.mount_plan = &p.mounts;
}

// Makes the state directory, the cgroups and exec.fifo, launches the init and
// records its state.  On failure the transaction undoes all of it.
Created launch_planned(const CreateOptions& opts, const state::Store& store, CreatePlan& p) {
    process::LaunchRequest& req = p.req;
    state::State& st = p.st;
    const cgroup::Paths& cg = p.cgroups.paths;
    CreateTransaction tx(store, opts.id);
    store.create_dir(opts.id);
    tx.own_dir();
    if (!cg.empty()) {
        // Intent first: killed from here on, the record tells `delete --force` which cgroups to remove.
        state::State intent = st;
        intent.cgroup_unified = cg.unified;
        intent.cgroup_v1 = cg.v1;
        store.save_cgroup_intent(intent);
    }
    cgroup::make(p.cgroups);
    tx.own_cgroup(cg);
    req.cgroup_dirs = cgroup::dirs(cg);
    st.cgroup_unified = cg.unified;
    st.cgroup_v1 = cg.v1;
    req.fifo_path = store.fifo_path(opts.id);
    if (::mkfifo(req.fifo_path.c_str(), 0600) < 0) throw_errno("mkfifo " + quote(req.fifo_path));

    process::Launched launched = with_context("unable to start container process", [&] { return process::launch(req); });
    tx.own_pid(launched.pid);
    if (launched.pty_master && !opts.console_socket.empty()) {
        linux::send_to_console_socket(opts.console_socket, launched.pty_master.get());
        launched.pty_master.reset();
    }
    log::debug("container " + opts.id + ": init pid " + std::to_string(launched.pid) + ", blocked on exec.fifo");

    st.pid = launched.pid;
    sys::ProcStat ps;
    if (!sys::read_proc_stat(launched.pid, ps)) throw Error(ESRCH, "container init exited during create");
    st.start_time = ps.start_time;
    store.save(st);
    if (!opts.pid_file.empty()) write_pid_file(opts.pid_file, launched.pid);
    launched.sync.send(process::MsgType::Committed);
    tx.commit();
    return {std::move(launched), std::move(st), p.config.hooks};
}

}  // namespace

namespace detail {

// The common part of create and run: parse, validate, make the state dir,
// launch the init and record the state.  On failure nothing is left behind.
Created create_container(const Context& ctx, const CreateOptions& opts, bool foreground,
                         bool namespace_fds) {
    state::validate_id(opts.id);
    state::Store store(ctx.root);
    CreatePlan p;
    p.host = read_host_facts(ctx);
    read_config(ctx, opts, store, foreground, p);
    plan_process(ctx, opts, namespace_fds, p);
    plan_state(ctx, opts, p);
    // Planned before anything is made: a bad config fails here, before any fork.
    plan_cgroups_and_mounts(ctx, opts, p);
    return launch_planned(opts, store, p);
}

}  // namespace detail

std::string default_root() {
    if (::geteuid() == 0 && sys::in_initial_userns()) return "/run/crun-lite";
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg) return std::string(xdg) + "/crun-lite";
    return "/tmp/crun-lite-" + std::to_string(::geteuid());
}

Context make_context(const std::string& root_flag, const std::string& rootless_flag, const std::string& cgroup_manager) {
    Context ctx;
    ctx.root = root_flag.empty() ? default_root() : root_flag;
    if (rootless_flag == "true")
        ctx.rootless = true;
    else if (rootless_flag == "false")
        ctx.rootless = false;
    else if (rootless_flag == "auto" || rootless_flag.empty())
        ctx.rootless = ::geteuid() != 0 || !sys::in_initial_userns();
    else
        throw Error(EINVAL, "invalid --rootless value " + quote(rootless_flag) + ": want auto, true or false");
    ctx.cgroup_manager = cgroup_manager;
    return ctx;
}

void create(const Context& ctx, const CreateOptions& opts) { detail::create_container(ctx, opts); }

void start(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    switch (store.status(st)) {
        case state::Status::Created: break;
        case state::Status::Stopped: throw Error(EINVAL, "cannot start a container that has stopped");
        default: throw Error(EINVAL, "cannot start an already running container");
    }
    start_created(store, st, config_hooks(st).poststart);
}

}  // namespace crunlite::runtime
