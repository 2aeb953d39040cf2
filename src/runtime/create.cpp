#include "crunlite/runtime/container.hpp"

// create and start: a container planned from its bundle (runtime/plan.hpp),
// its state directory and cgroups made, its init launched blocked on exec.fifo.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/cgroup/plan.hpp"
#include "crunlite/runtime/systemd_unit.hpp"
#include "crunlite/process/hooks.hpp"
#include "crunlite/linux/sched.hpp"
#include "crunlite/process/launcher.hpp"
#include "crunlite/runtime/plan.hpp"
#include "crunlite/runtime/user_namespace.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "internal.hpp"

namespace crunlite::runtime {
namespace {

using detail::config_hooks;
using detail::Created;
using detail::start_created;
using detail::write_pid_file;

// The state directory and cgroups `create` made; removed by the destructor
// unless committed.  (The init is the launch's sys::Child, declared after the
// transaction: dropped on failure, it is killed and reaped first.)
class CreateTransaction {
public:
    CreateTransaction(const state::Store& store, std::string id) : store_(store), id_(std::move(id)) {}
    ~CreateTransaction() {
        if (committed_) return;
        detail::destroy_cgroups(cgroup_);
        if (!fifo_.empty()) ::unlink(fifo_.c_str());
        if (own_dir_) store_.remove(id_);
    }
    void own_dir() { own_dir_ = true; }
    // exec.fifo in a reused directory: "created" would outlive a failure.
    void own_fifo(std::string path) { fifo_ = std::move(path); }
    // The cgroup fields of `st`: the directories and the systemd unit.
    void own_cgroup(const state::State& st) { cgroup_ = st; }
    void commit() { committed_ = true; }

private:
    const state::Store& store_;
    std::string id_;
    bool own_dir_ = false;
    std::string fifo_;
    state::State cgroup_;
    bool committed_ = false;
};

// A planned container and what its launch needs beyond the plan.  The launch
// request points into it (the config, the seccomp program, the mount plan, the
// user namespaces of idmapped mounts), so it stays where it was made.
struct CreatePlan {
    ContainerPlan plan;
    process::LaunchRequest req;
    linux::SeccompProgram seccomp;
    std::vector<sys::UniqueFd> idmap_ns;

    CreatePlan() = default;
    CreatePlan(const CreatePlan&) = delete;
    CreatePlan& operator=(const CreatePlan&) = delete;
};

// The launch request from the plan, with what planning leaves to it: the
// seccomp program (compiled in a child, or from the cache), the user
// namespaces of idmapped mounts, and the runtime hooks, which get the state
// record as the OCI state.
void prepare_launch(const Context& ctx, const CreateOptions& opts, bool namespace_fds, CreatePlan& c) {
    ContainerPlan& p = c.plan;
    process::LaunchRequest& req = c.req;
    const spec::Config& config = p.config;
    req.new_userns = p.userns.new_userns;
    req.uid_map = p.userns.uid_map;
    req.gid_map = p.userns.gid_map;
    req.setgroups_allowed = p.userns.setgroups_allowed;
    if (config.linux->seccomp) {
        c.seccomp = detail::seccomp_program(ctx.root, *config.linux->seccomp, p.config_path);
        req.seccomp = &c.seccomp;
    }
    c.idmap_ns = with_context(p.config_path, [&] { return idmap_namespaces(config); });
    // Checked against the host's /sys: a bad execCPUAffinity (for later `exec`s,
    // not the init) or memory policy node fails `create`, before the launch forks.
    if (auto& aff = config.process->exec_cpu_affinity) linux::check_cpu_affinity_known(*aff);
    if (auto& mp = config.linux->memory_policy) linux::check_memory_policy_nodes(*mp);
    for (const auto& fd : c.idmap_ns) req.idmap_userns_fds.push_back(fd ? fd.get() : -1);
    req.config = &config;
    req.bundle = p.bundle;
    req.container_id = opts.id;
    req.no_pivot = opts.no_pivot;
    req.want_namespace_fds = namespace_fds;
    req.preserve_fds = p.preserve_fds;
    req.process = &p.process;
    req.mount_plan = &p.mounts;
    const spec::Hooks& hooks = config.hooks;
    if (!hooks.prestart.empty() || !hooks.create_runtime.empty() || !hooks.create_container.empty() ||
        !hooks.start_container.empty()) {
        // `st` and `hooks` refer to the plan's, which outlives the launch (and
        // the record gets its cgroups and creation time before it).
        req.runtime_hooks = [&st = p.st, &hooks](pid_t pid) {
            state::State s = st;
            s.pid = pid;
            std::string creating = state::oci_state_json(s, state::Status::Creating, false);
            process::run_hooks(hooks.prestart, "prestart", creating);
            process::run_hooks(hooks.create_runtime, "createRuntime", creating);
            return std::pair(creating, state::oci_state_json(s, state::Status::Created, false));
        };
    }
}

// Makes the state directory, the cgroups and exec.fifo, launches the init and
// records its state.  On failure the transaction undoes all of it.  `start_now`:
// no exec.fifo; the init is started as soon as the state is recorded.
Created launch_planned(const CreateOptions& opts, const state::Store& store, CreatePlan& c, bool start_now) {
    // SIGINT, SIGTERM or SIGHUP (a hook that hangs, say) until the state is
    // recorded: undone as any failure, then main ends us by that signal.
    // Outermost, so the undoing is not cut short by a second one.
    sys::Interruptible interruptible;
    process::LaunchRequest& req = c.req;
    state::State& st = c.plan.st;
    const cgroup::Paths& cg = c.plan.cgroups.paths;
    st.created = opts.created.empty() ? rfc3339_utc_now() : opts.created;
    CreateTransaction tx(store, opts.id);
    if (!opts.replace_stopped) {
        store.create_dir(opts.id);
        tx.own_dir();
    } else if (!store.exists(opts.id)) {
        throw Error(ENOENT, "container does not exist");
    }
    detail::keep_hooks(store, opts.id, c.plan.config.hooks, opts.replace_stopped);
    st.hooks_kept = true;
    st.cgroup_unified = cg.unified;
    st.cgroup_v1 = cg.v1;
    if (const auto& unit = c.plan.cgroups.systemd) {
        st.systemd_unit = unit->name;
        st.systemd_user = unit->user;
    }
    // runc's refusal, before the cgroup is ours to undo: an init put in a frozen one hangs.
    if (!c.plan.cgroups.systemd && cgroup::frozen_already(cg))
        throw Error(EBUSY, "container's cgroup unexpectedly frozen");
    // Intent first: killed from here on, the record tells `delete --force` which cgroups to remove.
    if (!cg.empty()) store.save_cgroup_intent(st);
    tx.own_cgroup(st);
    if (c.plan.cgroups.systemd) {
        // The systemd driver: systemd makes the cgroup, with the init in it (runc's order),
        // before the init goes on to make its cgroup namespace; then the rest is as cgroupfs.
        req.place_init = [&c](pid_t pid) {
            start_unit(*c.plan.cgroups.systemd, pid);
            cgroup::make(c.plan.cgroups);
            for (const auto& d : cgroup::dirs(c.plan.cgroups.paths))
                if (d != c.plan.cgroups.paths.unified) write_file(d + "/cgroup.procs", std::to_string(pid));
        };
    } else {
        // runc's warning (1.1): the container shares that cgroup's limits, and its kill at delete.
        if (size_t n = cgroup::processes_in(cg))
            log::warn("container's cgroup is not empty: " + std::to_string(n) + " process(es) found");
        cgroup::make(c.plan.cgroups);
        req.cgroup_unified = cg.unified;
        req.cgroup_v1_dirs = cgroup::v1_dirs(cg);
    }
    sys::UniqueFd state_dir;
    if (!start_now) {
        req.fifo_path = store.fifo_path(opts.id);
        if (::mkfifo(req.fifo_path.c_str(), 0600) < 0) throw_errno("mkfifo " + quote(req.fifo_path));
        tx.own_fifo(req.fifo_path);
    } else {
        // The init may put its state in place itself (process::LaunchRequest::state_handoff).
        state_dir.reset(::open(store.dir(opts.id).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!state_dir) throw_errno("open " + quote(store.dir(opts.id)));
        req.state_handoff = {state_dir.get(), state::kStateAheadFile, state::kStateFile};
    }

    // The state is written while the init sets up; in place once it is ready.
    std::optional<state::PendingSave> saved;
    req.while_init_sets_up = [&](pid_t pid) {
        st.pid = pid;
        sys::ProcStat ps;
        if (!sys::read_proc_stat(pid, ps)) throw Error(ESRCH, "container init exited during create");
        st.start_time = ps.start_time;
        saved.emplace(store.save_ahead(st));
    };
    process::Launched launched = with_context("unable to start container process", [&] {
        try {
            return process::launch(req);
        } catch (const Error& e) {
            // An init that died of the same Ctrl-C only "exited early": say why.
            if (e.code() != EINTR) sys::throw_if_interrupted();
            // A setup the kernel's OOM killer ended only "exited early": say why.
            if (e.code() == EPIPE && cgroup::oom_kills(cg) > 0)
                throw Error(ENOMEM, e.message() + ": the kernel's OOM killer ended it (linux.resources.memory.limit " +
                                        "is too low for the container to start)");
            throw;
        }
    });
    if (launched.pty_master && !opts.console_socket.empty()) {
        linux::send_to_console_socket(opts.console_socket, launched.pty_master.get());
        launched.pty_master.reset();
    }
    pid_t pid = launched.process.pid();
    log::debug("container " + opts.id + ": init pid " + std::to_string(pid) + (start_now ? ", starting" : ", blocked on exec.fifo"));
    if (!saved) throw Error(EIO, "the container's state was not written");  // launch calls while_init_sets_up
    // The last moment to undo it, unless the init has started already (run's):
    // then the caller deals with the signal (sys::take_interruption).
    if (!launched.init_commits) sys::throw_if_interrupted();
    if (launched.init_commits)
        saved->adopt();  // in place, and the init started: launch returned once it exec'd
    else
        saved->commit();
    if (!opts.pid_file.empty()) write_pid_file(opts.pid_file, pid);
    if (!launched.init_commits)
        launched.sync.send(process::MsgType::Committed, start_now ? std::string(process::kStartNow) : std::string());
    tx.commit();
    return {std::move(launched), std::move(st), c.plan.config.hooks, start_now};
}

}  // namespace

namespace detail {

// The common part of create and run: parse, validate, make the state dir,
// launch the init and record the state.  On failure nothing is left behind.
Created create_container(const Context& ctx, const CreateOptions& opts, bool foreground,
                         bool namespace_fds, bool start_now) {
    state::validate_id(opts.id);
    state::Store store(ctx.root);
    std::string bundle = absolute_path(opts.bundle.empty() ? "." : opts.bundle);
    std::string config_path = opts.config_file.empty() ? bundle + "/config.json" : absolute_path(opts.config_file);
    std::string text = with_context("read config", [&] { return read_file(config_path); });
    log::debug("container " + opts.id + ": config " + config_path + ", rootless " + (ctx.rootless ? "yes" : "no") +
               ", state " + store.dir(opts.id));
    CreatePlan c;
    // Planned before anything is made: a bad config fails here, before any fork.
    c.plan = plan_container(spec::parse_config(text, config_path), bundle, config_path, opts, ctx,
                            read_host_facts(ctx), foreground);
    require_preserved_fds_open(c.plan.preserve_fds);
    prepare_launch(ctx, opts, namespace_fds, c);
    // A terminal is set up by whoever holds its master (our proxy sets its size) before
    // the process may run: started through exec.fifo, as create's, once that is done.
    return launch_planned(opts, store, c, start_now && !c.plan.process.terminal);
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

void create(const Context& ctx, const CreateOptions& opts) {
    // The init outlives us, blocked on exec.fifo until `start`.
    detail::create_container(ctx, opts).launched.process.release();
}

void start(const Context& ctx, const std::string& id, const std::function<void(const state::State&)>& starting) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    switch (live_status(store, st)) {  // (a paused created container is paused: runc's words)
        case state::Status::Created: break;
        case state::Status::Stopped: throw Error(EINVAL, "cannot start a container that has stopped");
        case state::Status::Paused: throw Error(EINVAL, "cannot start a container in the paused state");
        default: throw Error(EINVAL, "cannot start an already running container");
    }
    if (starting) starting(st);
    start_created(store, st, config_hooks(store, st).poststart);
}

}  // namespace crunlite::runtime
