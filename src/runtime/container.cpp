#include "crunlite/runtime/container.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <climits>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/device_bpf.hpp"
#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/cgroup/resources.hpp"
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

using detail::report_exec_failure;
using detail::wait_forwarding_signals;
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

struct Created {
    process::Launched launched;
    state::State st;
    spec::Hooks hooks;
};

// The container's cgroups, planned (nothing made): where they go, what a
// `cgroup` mount shows on v1 and hybrid hosts, the writes and the device
// program.  None with --cgroup-manager disabled.  Root must get every limit it
// asks for; rootless, the limits of controllers not delegated to us are dropped
// with a warning (podman does the same).
struct CgroupPlan {
    cgroup::Paths paths;
    std::vector<linux::CgroupView> view;
    std::vector<cgroup::Write> writes;
    std::vector<cgroup::BpfInsn> device_program;
};

CgroupPlan plan_cgroups(const Context& ctx, const spec::Config& config, const std::string& config_path,
                        const std::string& id) {
    CgroupPlan plan;
    if (ctx.cgroup_manager == "disabled") return plan;
    cgroup::Layout layout = cgroup::parse_layout(read_file("/proc/self/mountinfo"), read_file("/proc/self/cgroup"));
    cgroup::Paths paths = with_context(config_path, [&] { return cgroup::plan_paths(layout, config.linux->cgroups_path, id); });
    for (auto& h : cgroup::v1_hierarchy_dirs(layout, paths)) {
        std::erase(h.controllers, h.name);  // a link only where the name differs
        plan.view.push_back({h.name, h.dir, h.controllers});
    }
    std::vector<cgroup::Write> writes;
    if (const auto& r = config.linux->resources) {
        writes = with_context(config_path, [&] {
            auto v2 = cgroup::v2_controllers(layout);
            return cgroup::plan_resources(*r, [&](const std::string& c) { return v2.count(c) > 0; });
        });
        // Device rules: the v1 devices controller where there is one, else an
        // eBPF program on the v2 cgroup.  Both need privileges: crun skips them
        // rootless, and so do we.
        if (!r->devices.empty()) {
            if (ctx.rootless)
                log::debug("linux.resources.devices: not applied rootless");
            else if (layout.v1.count("devices"))
                for (auto& w : cgroup::plan_device_rules(r->devices, config.linux->devices)) writes.push_back(w);
            else
                plan.device_program = cgroup::device_program(cgroup::effective_device_rules(r->devices, config.linux->devices));
        }
    }
    for (const auto& w : writes) {
        bool have = w.v2 ? !paths.unified.empty() : paths.v1.count(w.controller) > 0;
        if (have) plan.writes.push_back(w);
        else if (ctx.rootless)
            log::warn(config_path + ": linux.resources: " + w.file + " not applied: the " + w.controller +
                      " cgroup controller is not delegated to this user");
        else
            throw Error(ENOTSUP, config_path + ": linux.resources: " + w.file + ": no " + w.controller + " cgroup here");
    }
    if (paths.empty()) {
        log::debug("no writable cgroup: the container runs in the caller's cgroup");
        return plan;
    }
    if (!plan.device_program.empty() && paths.unified.empty())
        throw Error(ENOTSUP, config_path + ": linux.resources.devices: no cgroup to attach the device program to");
    plan.paths = paths;
    return plan;
}

// Makes and configures the planned cgroups; on failure removes them.
void create_cgroups(const CgroupPlan& plan) {
    if (plan.paths.empty()) return;
    try {
        cgroup::create(plan.paths, plan.writes);
        if (!plan.device_program.empty()) cgroup::attach_device_program(plan.paths.unified, plan.device_program);
    } catch (...) {
        cgroup::destroy(plan.paths);
        throw;
    }
}

// The common part of create and run: parse, validate, make the state dir,
// launch the init and record the state.  On failure nothing is left behind.
Created create_container(const Context& ctx, const CreateOptions& opts, pid_t monitor_pid, bool foreground = false,
                         bool namespace_fds = false) {
    state::validate_id(opts.id);
    state::Store store(ctx.root);
    std::string bundle = absolute_path(opts.bundle.empty() ? "." : opts.bundle);
    std::string config_path = opts.config_file.empty() ? bundle + "/config.json" : absolute_path(opts.config_file);

    std::string text = with_context("read config", [&] { return read_file(config_path); });
    spec::Config config = spec::parse_config(text, config_path);
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
    if (!config.linux->net_devices.empty() && ::geteuid() != 0)  // moving needs CAP_NET_ADMIN over the host's netns
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

    process::LaunchRequest req;
    UserNamespacePlan userns = plan_user_namespace(config, ctx.rootless);
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
    linux::SeccompProgram seccomp;
    if (config.linux->seccomp) {
        seccomp = detail::seccomp_program(ctx.root, *config.linux->seccomp, config_path);
        req.seccomp = &seccomp;
    }
    std::vector<sys::UniqueFd> idmap_ns = with_context(config_path, [&] { return idmap_namespaces(config); });
    for (const auto& fd : idmap_ns) req.idmap_userns_fds.push_back(fd ? fd.get() : -1);
    req.config = &config;
    req.bundle = bundle;
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

    state::State st;
    st.id = opts.id;
    st.bundle = bundle;
    st.rootfs = config.root.path[0] == '/' ? config.root.path : bundle + "/" + config.root.path;
    st.created = rfc3339_utc_now();
    st.owner = user_name_of(::geteuid());
    st.annotations = config.annotations;
    st.config_path = config_path;
    st.monitor_pid = monitor_pid;
    st.owned_bundle = opts.owned_bundle;
    st.pid_namespace = config.linux->find_namespace("pid") != nullptr;
    st.rootless = ctx.rootless;
    const spec::Hooks& hooks = config.hooks;
    if (!hooks.prestart.empty() || !hooks.create_runtime.empty() || !hooks.create_container.empty() ||
        !hooks.start_container.empty()) {
        req.runtime_hooks = [&](pid_t pid) {
            state::State s = st;
            s.pid = pid;
            std::string creating = state::oci_state_json(s, state::Status::Creating, false);
            process::run_hooks(hooks.prestart, "prestart", creating);
            process::run_hooks(hooks.create_runtime, "createRuntime", creating);
            return std::pair(creating, state::oci_state_json(s, state::Status::Created, false));
        };
    }

    // Planned before anything is made: a bad config fails here, before any fork.
    CgroupPlan cgroups = plan_cgroups(ctx, config, config_path, opts.id);
    const cgroup::Paths& cg = cgroups.paths;
    linux::MountPlanInput mount_input;
    mount_input.bundle = bundle;
    mount_input.can_mknod = !ctx.rootless && !userns.new_userns && !config.linux->find_namespace("user");
    mount_input.cgroup_v1 = cgroups.view;
    const spec::Namespace* cgroup_ns = config.linux->find_namespace("cgroup");
    mount_input.no_cgroup = cg.empty() && cgroup_ns && cgroup_ns->path.empty();
    linux::MountPlan mounts = with_context(config_path, [&] { return linux::plan_mounts(config, mount_input); });
    req.mount_plan = &mounts;

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
    create_cgroups(cgroups);
    tx.own_cgroup(cg);
    req.cgroup_dirs = detail::cgroup_dirs(cg);
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
    return {std::move(launched), std::move(st), config.hooks};
}

// The hooks of a container's config.json; none when it cannot be read any more
// (the bundle was removed before `delete`).
spec::Hooks config_hooks(const state::State& st) {
    try {
        return spec::parse_config(read_file(st.config_path), st.config_path).hooks;
    } catch (const Error& e) {
        log::debug("hooks of " + st.id + " not run: " + e.message());
        return {};
    }
}

// poststart and poststop: a failure is a warning and the lifecycle goes on
// (runtime-spec config.md "Hooks").
void run_hooks_warning(const std::vector<spec::Hook>& hooks, const char* kind, const state::State& st,
                       state::Status status) {
    if (hooks.empty()) return;
    try {
        process::run_hooks(hooks, kind, state::oci_state_json(st, status, false));
    } catch (const Error& e) {
        log::warn(e.message());
    }
}

// Releases a created container and runs its poststart hooks.
void start_created(const state::Store& store, const state::State& st, const std::vector<spec::Hook>& poststart) {
    log::debug("container " + st.id + ": releasing init pid " + std::to_string(st.pid));
    process::release_fifo(store.fifo_path(st.id));
    run_hooks_warning(poststart, "poststart", st, state::Status::Running);
}

// Deletes the container's state and runs its poststop hooks.
void remove_stopped(const state::Store& store, const state::State& st, const std::vector<spec::Hook>& poststop) {
    store.remove(st.id);
    run_hooks_warning(poststop, "poststop", st, state::Status::Stopped);
    if (st.owned_bundle) remove_tree_as_owner(st.bundle);
}

// The state of `st.id` on disk is still the container `st` (not deleted, nor
// replaced by a new container reusing the id).  Call with the lock held.
bool same_container(const state::Store& store, const state::State& st) {
    if (!store.exists(st.id)) return false;
    state::State now = store.load(st.id);
    return now.pid == st.pid && now.start_time == st.start_time;
}

// Records the init's exit status under the state lock: a concurrent `delete`
// holds the lock while it removes the directory, and after it there is no
// container left to record for.
void record_exit(const state::Store& store, const state::State& st, int status) {
    try {
        sys::UniqueFd lock = store.lock(st.id);
        if (same_container(store, st))
            store.record_exit_status(st.id, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    } catch (const Error&) {
        // Deleted meanwhile.
    }
}

pid_t live_pid(const state::Store& store, const state::State& st, state::Status& status) {
    status = store.status(st);
    return status == state::Status::Stopped ? 0 : st.pid;
}

// Signals every process of the container: with its own pid namespace, every
// process whose pid namespace is the init's; otherwise the init's descendants.
void signal_all(const state::State& st, int sig) {
    std::string init_ns;
    char buf[128];
    ssize_t n = ::readlink(("/proc/" + std::to_string(st.pid) + "/ns/pid").c_str(), buf, sizeof buf);
    if (n > 0) init_ns.assign(buf, static_cast<size_t>(n));
    std::vector<pid_t> targets;
    std::vector<std::pair<pid_t, pid_t>> parent_of;
    if (DIR* d = ::opendir("/proc")) {
        while (struct dirent* e = ::readdir(d)) {
            auto pid = parse_int(e->d_name);
            if (!pid) continue;
            sys::ProcStat ps;
            if (!sys::read_proc_stat(static_cast<pid_t>(*pid), ps)) continue;
            parent_of.emplace_back(static_cast<pid_t>(*pid), ps.ppid);
            if (st.pid_namespace) {
                ssize_t m = ::readlink(("/proc/" + std::to_string(*pid) + "/ns/pid").c_str(), buf, sizeof buf);
                if (m > 0 && std::string(buf, static_cast<size_t>(m)) == init_ns) targets.push_back(static_cast<pid_t>(*pid));
            }
        }
        ::closedir(d);
    }
    if (!st.pid_namespace) {
        targets.push_back(st.pid);
        for (size_t i = 0; i < targets.size(); ++i)
            for (auto [pid, ppid] : parent_of)
                if (ppid == targets[i]) targets.push_back(pid);
    }
    for (pid_t pid : targets) ::kill(pid, sig);
}

// Signals every process of the container: through its cgroup when it has one
// (a frozen one included), else by scanning its pid namespace.
void signal_everything(const state::State& st, int sig) {
    cgroup::Paths cg = detail::cgroup_paths(st);
    if (!cg.empty()) cgroup::kill_all(cg, sig);
    else signal_all(st, sig);
}

// `kill --all` of a stopped container, as runc: whatever its cgroup still holds (children
// of an init that shared a PID namespace, as a Kubernetes pod's containers do) gets the
// signal; containerd's shim asks for that once the init has exited.  False without a cgroup.
bool signal_leftovers(const state::State& st, int sig) {
    cgroup::Paths cg = detail::cgroup_paths(st);
    if (cg.empty()) return false;
    try {
        cgroup::kill_all(cg, sig);
    } catch (const Error& e) {
        if (e.code() != ENOENT) throw;  // the cgroup is gone already: nothing left to signal
    }
    return true;
}

// Kills the init with SIGKILL and waits (bounded) until it is gone; a frozen
// container is thawed so its processes can die.  Throws, keeping the state, if
// the init outlives the wait: `delete --force` must never report success then.
void kill_and_wait(const state::Store& store, const state::State& st) {
    sys::UniqueFd pidfd(sys::pidfd_open(st.pid, 0));
    if (!pidfd) return;
    if (store.status(st) == state::Status::Stopped) return;  // pid reused by someone else
    signal_everything(st, SIGKILL);
    sys::pidfd_send_signal(pidfd.get(), SIGKILL);
    cgroup::Paths cg = detail::cgroup_paths(st);
    // Thawed whether or not it reads as frozen yet (a freeze may be under way).
    if (!cg.empty()) {
        try {
            cgroup::freeze(cg, false);
        } catch (const Error& e) {
            log::debug("thaw " + st.id + ": " + e.what());  // the wait below tells whether it mattered
        }
    }
    struct pollfd pfd = {pidfd.get(), POLLIN, 0};
    // The init may remain a zombie of another parent: then liveness ends at exit.
    for (int i = 0; i < 100 && store.status(st) != state::Status::Stopped; ++i) ::poll(&pfd, 1, 100);
    if (store.status(st) != state::Status::Stopped)
        throw Error(EBUSY, "container " + st.id + ": init " + std::to_string(st.pid) + " is still alive after SIGKILL");
}

}  // namespace

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

void create(const Context& ctx, const CreateOptions& opts) { create_container(ctx, opts, 0); }

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

namespace {

// Releases the container after a failed `created` hook: it never ran.
void abandon(const state::Store& store, Created& c) {
    kill_and_wait(store, c.st);
    while (::waitpid(c.launched.pid, nullptr, 0) < 0 && errno == EINTR) {}  // our child: no zombie left
    cgroup::destroy(detail::cgroup_paths(c.st));
    store.remove(c.st.id);
}

Created create_and_hook(const Context& ctx, const CreateOptions& opts, pid_t monitor, bool foreground,
                        const RunHooks& hooks) {
    Created c = create_container(ctx, opts, monitor, foreground, static_cast<bool>(hooks.created));
    if (hooks.created) {
        try {
            hooks.created(c.launched.pid, c.launched.netns.get(), c.launched.userns.get());
            c.launched.netns.reset();
            c.launched.userns.reset();
        } catch (...) {
            abandon(state::Store(ctx.root), c);
            throw;
        }
    }
    return c;
}

// The detached monitor's life after start: reap (it is a subreaper, and PID 1
// here does not reap), record the init's exit status, call the tick when due,
// and once the init is gone, delete it unless `keep`, then wait for the rest.
void monitor_loop(const Context& ctx, Created& c, bool keep, const RunHooks& hooks) {
    state::Store store(ctx.root);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    sys::UniqueFd sfd(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    int64_t due = hooks.tick && hooks.first_tick_ms >= 0 ? monotonic_ms() + hooks.first_tick_ms : -1;
    bool init_done = false;
    for (;;) {
        int status;
        pid_t pid;
        while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != c.launched.pid) continue;
            record_exit(store, c.st, status);
            init_done = true;
            if (!keep) {
                try {
                    sys::UniqueFd lock = store.lock(c.st.id);
                    if (same_container(store, c.st)) {
                        cgroup::destroy(detail::cgroup_paths(c.st));
                        remove_stopped(store, c.st, c.hooks.poststop);
                    }
                } catch (const Error& e) {
                    log::debug("container " + c.st.id + " not removed after exit: " + e.message());
                }
            }
            if (hooks.exited) hooks.exited();
        }
        if (pid < 0 && errno == ECHILD) break;  // nothing left to reap
        if (!init_done && due >= 0 && monotonic_ms() >= due) {
            int64_t next = hooks.tick();
            due = next < 0 ? -1 : monotonic_ms() + next;
            continue;
        }
        struct pollfd pfd = {sfd.get(), POLLIN, 0};
        int timeout = init_done || due < 0 ? -1 : static_cast<int>(std::clamp<int64_t>(due - monotonic_ms(), 0, INT_MAX));
        if (::poll(&pfd, 1, timeout) > 0) {
            struct signalfd_siginfo si;
            while (::read(sfd.get(), &si, sizeof si) > 0) {}
        }
    }
}

}  // namespace

int run(const Context& ctx, const CreateOptions& opts, bool detach, bool keep, const RunHooks& hooks) {
    state::Store store(ctx.root);
    if (!detach) {
        // Orphans of the container (without a pid namespace) come to us to be reaped.
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        Created c = create_and_hook(ctx, opts, 0, true, hooks);
        std::optional<linux::TerminalProxy> tty;
        if (c.launched.pty_master) tty.emplace(std::move(c.launched.pty_master));
        start_created(store, c.st, c.hooks.poststart);
        int code = wait_forwarding_signals(c.launched, tty ? &*tty : nullptr);
        tty.reset();  // the host terminal leaves raw mode before we print anything
        report_exec_failure(c.launched.sync);
        if (!keep) {
            cgroup::destroy(detail::cgroup_paths(c.st));
            remove_stopped(store, c.st, c.hooks.poststop);
        }
        if (hooks.exited) hooks.exited();
        return code;
    }
    // Detached: a monitor process becomes the container's parent, reaps it (and
    // its orphans: it is a subreaper) and records the exit status, because PID 1
    // on these hosts does not reap.  We wait for its verdict on a pipe.
    int pipefd[2];
    check(::pipe2(pipefd, O_CLOEXEC), "pipe");
    pid_t caller = ::getpid();
    pid_t monitor = ::fork();
    if (monitor < 0) throw_errno("fork monitor");
    if (monitor > 0) {
        ::close(pipefd[1]);
        std::string verdict;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) verdict.append(buf, static_cast<size_t>(n));
        ::close(pipefd[0]);
        if (verdict == "ok") return 0;
        while (::waitpid(monitor, nullptr, 0) < 0 && errno == EINTR) {}  // it exits after a failure
        size_t sp = verdict.find(' ');
        int code = static_cast<int>(parse_int(verdict.substr(0, sp)).value_or(EIO));
        throw Error(code, sp == std::string::npos ? "monitor exited before the container started" : verdict.substr(sp + 1));
    }
    ::close(pipefd[0]);
    sys::UniqueFd verdict(pipefd[1]);
    int code = 0;
    auto fail = [&](int err, const std::string& message) {
        std::string msg = std::to_string(err) + " " + message;
        [[maybe_unused]] ssize_t w = ::write(verdict.get(), msg.data(), msg.size());
        code = 1;
    };
    try {
        // Until the container has started, the monitor dies with its caller: a
        // `run -d` killed half-way leaves what a killed `create` leaves (which
        // `delete --force` removes), not a container coming up after its caller
        // is gone and after the caller's cleanup has run.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != caller) ::_exit(1);
        ::setsid();
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        // The container gets the log file as stdout/stderr; the monitor keeps
        // nothing of the caller's stdio open (our own messages go to the log too).
        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (!hooks.log_path.empty()) {
            int log = ::open(hooks.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (log < 0) throw_errno("open log " + quote(hooks.log_path));
            ::dup2(devnull, 0);
            ::dup2(log, 1);
            ::dup2(log, 2);
            ::close(log);
        }
        Created c = create_and_hook(ctx, opts, ::getpid(), false, hooks);
        start_created(store, c.st, c.hooks.poststart);
        ::prctl(PR_SET_PDEATHSIG, 0);
        [[maybe_unused]] ssize_t w = ::write(verdict.get(), "ok", 2);
        verdict.reset();
        if (hooks.log_path.empty())
            for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
        monitor_loop(ctx, c, keep, hooks);
    } catch (const Error& e) {
        fail(e.code(), e.message());
    } catch (const std::exception& e) {  // never unwind out of the forked monitor
        fail(EIO, std::string("monitor: ") + e.what());
    }
    ::_exit(code);
}

int parse_signal(const std::string& text) {
    if (auto n = parse_int(text)) {
        if (*n <= 0 || *n > SIGRTMAX) throw Error(EINVAL, "invalid signal " + quote(text));
        return static_cast<int>(*n);
    }
    std::string name = text;
    for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    for (int sig = 1; sig < NSIG; ++sig) {
        const char* abbrev = sigabbrev_np(sig);
        if (abbrev && name == abbrev) return sig;
    }
    // Real-time signals: RTMIN, RTMIN+N, RTMAX, RTMAX-N.
    if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {
        bool min = name.compare(0, 5, "RTMIN") == 0;
        std::string off = name.substr(5);
        std::optional<int64_t> delta = 0;
        if (!off.empty()) {
            char sign = off[0];
            delta = parse_int(off.substr(1));
            if (!delta || sign != (min ? '+' : '-')) delta.reset();
            else if (!min) delta = -*delta;
        }
        if (delta) {
            int64_t sig = (min ? SIGRTMIN : SIGRTMAX) + *delta;
            if (sig >= SIGRTMIN && sig <= SIGRTMAX) return static_cast<int>(sig);
        }
    }
    throw Error(EINVAL, "unknown signal " + quote(text));
}

void kill(const Context& ctx, const std::string& id, const std::string& signal, bool all) {
    int sig = parse_signal(signal);
    state::Store store(ctx.root);
    state::State st = store.load(id);
    state::Status status;
    if (!live_pid(store, st, status)) {
        if (all && signal_leftovers(st, sig)) return;
        throw Error(ESRCH, "container not running");
    }
    sys::UniqueFd pidfd(sys::pidfd_open(st.pid, 0));
    if (!pidfd || store.status(st) == state::Status::Stopped) {
        if (all && signal_leftovers(st, sig)) return;
        throw Error(ESRCH, "container not running");
    }
    if (all) signal_everything(st, sig);
    if (sys::pidfd_send_signal(pidfd.get(), sig) < 0 && !(all && errno == ESRCH)) throw_errno("kill container init");
}

void remove(const Context& ctx, const std::string& id, bool force) {
    state::Store store(ctx.root);
    if (!store.exists(id)) {
        // runc: --force succeeds, removing what an aborted create may have left:
        // the cgroups it recorded before making them, then the directory.
        if (!force) throw Error(ENOENT, "container does not exist");
        state::validate_id(id);
        if (auto intent = store.load_cgroup_intent(id)) cgroup::destroy(detail::cgroup_paths(*intent));
        store.remove(id);
        return;
    }
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    state::Status status = live_status(store, st);
    if (status == state::Status::Running || status == state::Status::Paused) {
        if (!force)
            throw Error(EBUSY, "cannot delete container " + id + " that is not stopped: " + state::status_name(status));
    }
    if (status != state::Status::Stopped) kill_and_wait(store, st);
    cgroup::destroy(detail::cgroup_paths(st));
    remove_stopped(store, st, config_hooks(st).poststop);
}

namespace {

// The container's cgroups, which pause/resume/ps need.
cgroup::Paths require_cgroup(const state::State& st) {
    cgroup::Paths cg = detail::cgroup_paths(st);
    if (cg.empty())
        throw Error(ENOTSUP, "container " + st.id + " has no cgroup (--cgroup-manager disabled, or rootless "
                             "without a delegated cgroup)");
    return cg;
}

}  // namespace

void pause(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    state::Status status = live_status(store, st);
    if (status == state::Status::Paused) throw Error(EINVAL, "container already paused");
    if (status != state::Status::Running) throw Error(EINVAL, "container not running");
    cgroup::freeze(require_cgroup(st), true);
}

void resume(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    if (live_status(store, st) != state::Status::Paused) throw Error(EINVAL, "container not paused");
    cgroup::freeze(require_cgroup(st), false);
}

void update(const Context& ctx, const std::string& id, const spec::Resources& resources) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    if (store.status(st) == state::Status::Stopped) throw Error(EINVAL, "container not running");
    cgroup::Paths cg = require_cgroup(st);
    cgroup::Layout layout = cgroup::parse_layout(read_file("/proc/self/mountinfo"), read_file("/proc/self/cgroup"));
    auto v2 = cgroup::v2_controllers(layout);
    auto writes = cgroup::plan_resources(resources, [&](const std::string& c) { return v2.count(c) > 0; });
    // memory.checkBeforeUpdate: a new limit below what the container uses now is refused.
    if (const auto& m = resources.memory; m && m->check_before_update.value_or(false) && m->limit && *m->limit >= 0) {
        bool on_v2 = v2.count("memory") > 0;
        std::string dir = on_v2 ? cg.unified : (cg.v1.count("memory") ? cg.v1.at("memory") : "");
        if (!dir.empty()) {
            auto usage = parse_int(trim(read_file(dir + (on_v2 ? "/memory.current" : "/memory.usage_in_bytes"))));
            if (usage && *usage > *m->limit)
                throw Error(EINVAL, "linux.resources.memory.limit: " + std::to_string(*m->limit) +
                                        " is below the current usage " + std::to_string(*usage) +
                                        " (checkBeforeUpdate)");
        }
    }
    cgroup::apply(cg, writes);
}

std::string stats_json(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    if (store.status(st) == state::Status::Stopped) throw Error(EINVAL, "container not running");
    return cgroup::stats_json(require_cgroup(st), id);
}

std::vector<int> container_pids(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    if (store.status(st) == state::Status::Stopped) return {};
    std::vector<int> out;
    for (pid_t p : cgroup::pids(require_cgroup(st))) out.push_back(p);
    return out;
}

std::string state_json(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    return state::oci_state_json(st, live_status(store, st), true);
}

std::string list(const Context& ctx, const std::string& format, bool quiet) {
    state::Store store(ctx.root);
    std::vector<std::pair<state::State, state::Status>> rows;
    for (const auto& id : store.list()) {
        try {
            state::State st = store.load(id);
            rows.emplace_back(st, live_status(store, st));
        } catch (const Error&) {
            // Being created or deleted right now: not listed.
        }
    }
    std::string out;
    if (quiet) {
        for (auto& [st, status] : rows) out += st.id + "\n";
        return out;
    }
    if (format == "json") {
        out = "[";
        for (size_t i = 0; i < rows.size(); ++i) {
            if (i) out += ",";
            out += state::oci_state_json(rows[i].first, rows[i].second, false);
        }
        return out + "]\n";
    }
    if (format != "table" && !format.empty()) throw Error(EINVAL, "invalid format option " + quote(format));
    std::vector<std::vector<std::string>> table = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
    for (auto& [st, status] : rows)
        table.push_back({st.id, std::to_string(status == state::Status::Stopped ? 0 : st.pid), state::status_name(status),
                         st.bundle, st.created, st.owner});
    std::vector<size_t> width(6, 0);
    for (auto& row : table)
        for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    for (auto& row : table) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 4, ' ');
        }
        out += line + "\n";
    }
    return out;
}

}  // namespace crunlite::runtime
