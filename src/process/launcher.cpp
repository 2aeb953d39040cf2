#include "crunlite/process/launcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/process/hooks.hpp"
#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/linux/namespaces.hpp"
#include "crunlite/linux/netdev.hpp"
#include "crunlite/linux/process_setup.hpp"
#include "crunlite/linux/rootfs.hpp"
#include "crunlite/linux/terminal.hpp"
#include "crunlite/linux/sched.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "final_process.hpp"
#include "stages.hpp"

namespace crunlite::process {
namespace {

using namespace detail;

// A created container's init waits for `start` as PID 1 of its pid namespace,
// which ignores every signal it has no handler for: `kill ID TERM` did nothing
// (podman stop of a created container waited its whole timeout).  runc's waiting
// init (Go's runtime) dies of HUP, INT, TERM, of QUIT, ILL, TRAP, ABRT, STKFLT
// and SYS, and of SEGV, BUS and FPE sent by kill (a crash to Go), and takes any
// other without effect; so does ours, with 128 + the signal as its status.  A
// fault of our own (SEGV, BUS, FPE, ILL... from the kernel) is not a kill: the
// default action comes back and the faulting instruction, run again, ends us
// with it (and a core).  execve resets these handlers: the container's process
// starts with the defaults.
void die_of_signals_while_created() {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = [](int sig, siginfo_t* info, void*) {
        bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP;
        if (!fault || info->si_code <= 0) ::_exit(128 + sig);  // sent (kill, tgkill, sigqueue), or not a fault
        ::signal(sig, SIG_DFL);
    };
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask);
    for (int sig :
         {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGSTKFLT, SIGSYS, SIGSEGV, SIGBUS, SIGFPE})
        ::sigaction(sig, &sa, nullptr);
}

// Stage-2: the container init.  Never returns (exec or _exit).  It waits for
// Go when the parent has work to do first (see launch), else goes on at once.
[[noreturn]] void stage2(const LaunchRequest& req, const SyncSocket& sync, int fifo_fd, bool wait_for_go,
                         const std::vector<sys::UniqueFd>& bind_sources, const std::vector<sys::UniqueFd>& idmapped) {
    child_main(sync, [&] {
        const spec::Config& config = *req.config;
        const linux::ProcessPlan& proc = *req.process;
        if (wait_for_go) sync.expect(MsgType::Go, "container start");
        // Die with the runtime if it is killed before the container is created.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (req.want_namespace_fds) {
            // We are not dumpable, so the parent cannot open our /proc/PID/ns.
            for (auto [path, type] : {std::pair{"/proc/self/ns/net", MsgType::NetNs}, {"/proc/self/ns/user", MsgType::UserNs}}) {
                sys::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
                if (!fd) throw_errno(std::string("open ") + path);
                sync.send_fd(type, fd.get());
            }
        }
        const spec::Namespace* cgroup_ns = config.linux->find_namespace("cgroup");
        if (cgroup_ns && cgroup_ns->path.empty()) check(::unshare(CLONE_NEWCGROUP), "unshare cgroup namespace");
        ::setsid();
        check(::chdir(req.bundle.c_str()), "chdir to bundle " + quote(req.bundle));

        linux::MountPlan plan = *req.mount_plan;  // planned by the parent before it forked
        std::vector<int> sources, trees;
        for (const auto& fd : bind_sources) sources.push_back(fd.get());
        for (const auto& fd : idmapped) trees.push_back(fd.get());
        linux::attach_sources(plan, sources, trees);
        bool may_setgroups = setgroups_allowed(req.setgroups_allowed);
        // Hooks: the parent runs prestart/createRuntime while we wait, then we run
        // createContainer in our namespaces, with the host's paths still reachable.
        std::string created_state;
        auto hooks = [&] {
            sync.send(MsgType::Hooks);
            std::string states = sync.expect(MsgType::HooksDone, "run createRuntime hooks");
            size_t nl = states.find('\n');
            created_state = states.substr(nl + 1);
            run_hooks(config.hooks.create_container, "createContainer", states.substr(0, nl));
        };
        linux::prepare_rootfs(plan, req.no_pivot, req.runtime_hooks ? std::function<void()>(hooks) : nullptr);
        // sysctls go through /proc/sys, before readonlyPaths makes it read-only (as runc).
        linux::apply_uts_and_sysctl(plan);
        // The init's pty before the root is finished (a read-only /dev, root): its
        // slave is /dev/console too, in a mount namespace of its own (as runc).
        sys::UniqueFd pty;
        if (proc.terminal) pty = linux::setup_terminal(proc.user.uid, proc.console_size, plan.own_mount_namespace);
        linux::finish_rootfs(plan);

        if (proc.personality) linux::set_personality(*proc.personality);
        // linux.memoryPolicy: the init's only (survives execve); after the createContainer hooks forked.
        if (proc.memory_policy) linux::set_memory_policy(*proc.memory_policy);
        if (!proc.session_keyring.empty()) linux::join_session_keyring(proc.session_keyring);
        uint64_t ignored = parse_uint(sync.expect(MsgType::Ignored, "container start")).value_or(~uint64_t{0});
        FinalProcess fp =
            finish_process(proc, req.seccomp, sync, may_setgroups, req.preserve_fds, ignored, std::move(pty));
        // `create`: from Ready on, until the handlers below are in, signals are held
        // pending (a blocked signal is queued even for PID 1), not dropped.
        sigset_t all, none;
        sigfillset(&all);
        sigemptyset(&none);
        if (fifo_fd >= 0) ::sigprocmask(SIG_BLOCK, &all, nullptr);
        sync.send(MsgType::Ready);
        // Until `create` has recorded our state, nothing but it knows we exist: if
        // it dies first (EOF here), so do we, rather than live on unfindable.
        // `run` (no fifo) starts us with the same message; `create` leaves us
        // blocked until `start` writes one byte to exec.fifo.
        std::string how = sync.expect(MsgType::Committed, "record the container's state");
        if (how == kPutStateInPlace) {
            const auto& to = req.state_handoff;
            if (::renameat(to.dir_fd, to.ahead.c_str(), to.dir_fd, to.name.c_str()) < 0)
                throw_errno("record the container's state");
        } else if (how != kStartNow) {
            die_of_signals_while_created();
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            char byte;
            ssize_t n;
            while ((n = ::read(fifo_fd, &byte, 1)) < 0 && errno == EINTR) {}
            if (n != 1) throw Error(EPIPE, "wait for start: exec.fifo closed");
        }
        if (fifo_fd >= 0) ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the container starts with none blocked
        run_hooks(config.hooks.start_container, "startContainer", created_state);
        exec_final(proc, req.seccomp, fp);
    });
}

// Stage-1: namespaces.  Never returns.
[[noreturn]] void stage1(const LaunchRequest& req, const SyncSocket& sync, int fifo_fd, bool born_in_cgroup, bool maps_itself,
                         bool wait_for_go) {
    child_main(sync, [&] {
        // Idmapped mounts are set up while we still hold privilege over the
        // host's filesystems, i.e. before the container's user namespace.
        // Bind sources are opened in the new mount namespace, while we still
        // have the caller's ids: a source that only the caller can reach (not
        // the container's uid 0) still works, and the fds name mounts of the
        // namespace stage-2 mounts in (a bind of another namespace's mount is
        // refused).  As runc >= 1.2 does.
        std::vector<sys::UniqueFd> idmapped, bind_sources;
        linux::NamespaceEntry entry;
        entry.lnx = &*req.config->linux;
        // Inherited by the init; set here because once the init is non-dumpable
        // (below) its /proc/self files belong to the host's root.
        entry.oom_score_adj = req.process->oom_score_adj;
        if (!born_in_cgroup) entry.cgroup_unified = req.cgroup_unified;
        entry.cgroup_v1_dirs = req.cgroup_v1_dirs;
        entry.joined = [&] { idmapped = linux::clone_idmapped_sources(*req.config, req.bundle, req.idmap_userns_fds); };
        entry.map_ids = [&] {
            if (maps_itself) {
                write_id_map(0, req.gid_map, true);
                write_id_map(0, req.uid_map, false);
                return;
            }
            sync.send(MsgType::MapRequest);
            sync.expect(MsgType::MapDone, "user namespace mapping");
        };
        entry.in_mount_ns = [&] { bind_sources = linux::open_bind_sources(*req.config, req.bundle); };
        entry.network_up = linux::bring_up_loopback;
        linux::enter_namespaces(entry);
        // From here on our processes may share namespaces with container
        // processes: make them non-dumpable, so no container process can open
        // /proc/<pid>/exe, /proc/<pid>/fd or /proc/<pid>/mem of the runtime
        // (CVE-2019-5736, CVE-2024-21626 classes).  execve resets this for the
        // container process.  (The parent wrote our id maps above, which
        // needs us dumpable.)
        check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
        clone_next_stage(sync, !wait_for_go, "container init",
                         [&] { stage2(req, sync, fifo_fd, wait_for_go, bind_sources, idmapped); });
    });
}

// Whether the init can be born in its namespaces, in one clone (see
// init_in_one_clone): nothing joined by path (setns before the user namespace),
// no time namespace (its offsets must be written before anyone is in it), no
// idmapped mount and no oom_score_adj (both need our own privilege, before the
// user namespace), no v1 cgroup to enter from a new user namespace (where our
// capabilities no longer reach the host's cgroupfs), an id map the init writes
// itself, and nothing the parent must do before it goes on.
bool fits_one_clone(const LaunchRequest& req, bool maps_itself, bool wait_for_go) {
    const spec::Linux& lnx = *req.config->linux;
    if (wait_for_go || (req.new_userns && (!maps_itself || !req.cgroup_v1_dirs.empty())) || req.process->oom_score_adj)
        return false;
    if (std::any_of(lnx.namespaces.begin(), lnx.namespaces.end(), [](const spec::Namespace& ns) { return !ns.path.empty(); }))
        return false;
    if (linux::new_namespace_flags(lnx.namespaces) & CLONE_NEWTIME) return false;
    return std::all_of(req.idmap_userns_fds.begin(), req.idmap_userns_fds.end(), [](int fd) { return fd < 0; });
}

// The init of a launch that fits one clone: born in its new namespaces (and
// in its v2 cgroup), it does what stage-1 would there (the v1 cgroups, its own
// id maps, the bind sources opened with the caller's ids, uid 0, loopback up),
// then goes on as stage-2.  Never returns.
[[noreturn]] void init_in_one_clone(const LaunchRequest& req, const SyncSocket& sync, int fifo_fd, int flags) {
    child_main(sync, [&] {
        linux::enter_cgroups("", req.cgroup_v1_dirs);
        if (flags & CLONE_NEWUSER) {
            write_id_map(0, req.gid_map, true);
            write_id_map(0, req.uid_map, false);
        }
        std::vector<sys::UniqueFd> bind_sources = linux::open_bind_sources(*req.config, req.bundle);
        if (flags & CLONE_NEWUSER) {
            check(::setresgid(0, 0, 0), "setgid 0 in the user namespace");
            check(::setresuid(0, 0, 0), "setuid 0 in the user namespace");
        }
        if (flags & CLONE_NEWNET) linux::bring_up_loopback();
        // Non-dumpable from here on, as stage-1 makes itself (see there).
        check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
        stage2(req, sync, fifo_fd, false, bind_sources, {});
    });
}

// Whether the init may be lent a CPU: not when it may start fuse-overlayfs for
// its rootfs (an overlay the kernel may refuse), whose daemon would keep the loan.
bool may_lend_cpu(const linux::MountPlan& plan) {
    return plan.rootfs_overlay.empty() || plan.overlay_driver == linux::OverlayDriver::Native;
}

}  // namespace

Launched launch(const LaunchRequest& req) {
    // The fifo is opened here, by the parent, because the container's init may
    // no longer be allowed to open it by the time it runs (other uid, other root).
    // O_RDWR never blocks; the init reads from it and so blocks until `start`.
    // `run` makes none: its init is started by the Committed message itself.
    sys::UniqueFd fifo;
    if (!req.fifo_path.empty()) {
        fifo.reset(::open(req.fifo_path.c_str(), O_RDWR | O_CLOEXEC));
        if (!fifo) throw_errno("open " + quote(req.fifo_path));
    }
    auto [parent_end, child_end] = SyncSocket::make_pair();

    // Stage-1 and the init are killed and reaped if anything below throws.
    bool born_in_cgroup = false;
    bool maps_itself = req.new_userns && maps_only_own_id(req.uid_map, ::geteuid(), false) && maps_only_own_id(req.gid_map, ::getegid(), true);
    // The init waits for Go only when the parent must act first: put it in its
    // cgroups (place_init) or move linux.netDevices into its namespace.  Else it
    // sets up while the parent takes its pid (reaping any stage-1) and writes the state.
    bool wait_for_go = req.place_init || !req.config->linux->net_devices.empty();
    sys::Child init;
    std::optional<linux::CpuLoan> loan;
    if (fits_one_clone(req, maps_itself, wait_for_go)) {
        // The init is born in its namespaces: no stage-1 to start, wait for and
        // reap, and we go on while it sets them up.  (A kernel without clone3's
        // CLONE_INTO_CGROUP, for a v2 cgroup, takes the two stages.)
        int flags = linux::new_namespace_flags(req.config->linux->namespaces) & ~CLONE_NEWCGROUP;
        sys::UniqueFd cgroup = open_cgroup(req.cgroup_unified);
        init = sys::Child::clone_into_namespaces("clone container init", flags, cgroup ? cgroup.get() : -1,
                                                 [&, &parent_end = parent_end, &child_end = child_end]() -> int {
                                                     if (cgroup) ::close(cgroup.get());
                                                     parent_end.close();
                                                     init_in_one_clone(req, child_end, fifo.get(), flags);
                                                 });
        // It would start on our CPU and wait while we write the state: lent the next one until then.
        if (init && may_lend_cpu(*req.mount_plan)) loan.emplace(init.pid());
    }
    if (!init) {
        auto body = [&, &parent_end = parent_end, &child_end = child_end]() -> int {
            ::close(parent_end.fd());  // by number: under vfork, parent_end is still ours
            stage1(req, child_end, fifo.get(), born_in_cgroup, maps_itself, wait_for_go);
        };
        // A stage-1 that needs nothing of us before it reports the init's pid (no
        // user namespace, or one it maps itself) shares our memory (vfork), unless
        // it is to be born in a cgroup v2 directory.
        sys::Child stage1_child = start_stage1(req.cgroup_unified, !req.new_userns || maps_itself, born_in_cgroup, body);
        child_end.close();
        if (req.new_userns && !maps_itself) {
            parent_end.expect(MsgType::MapRequest, "create user namespace");
            // gid first: setgroups must be denied before an unprivileged gid_map.
            write_id_map(stage1_child.pid(), req.gid_map, true);
            write_id_map(stage1_child.pid(), req.uid_map, false);
            parent_end.send(MsgType::MapDone);
        }
        init = take_child(parent_end, stage1_child, "create namespaces");
    } else {
        child_end.close();
    }
    pid_t init_pid = init.pid();
    if (req.place_init) req.place_init(init_pid);
    // linux.netDevices: the init's network namespace exists, and the init waits for Go.
    linux::move_net_devices(req.config->linux->net_devices, init_pid);
    if (wait_for_go) parent_end.send(MsgType::Go);
    if (req.while_init_sets_up) req.while_init_sets_up(init_pid);
    if (loan) loan->give_back();
    sys::UniqueFd netns, userns;
    if (req.want_namespace_fds) {
        netns = parent_end.expect_fd(MsgType::NetNs, "open namespaces");
        userns = parent_end.expect_fd(MsgType::UserNs, "open namespaces");
    }
    if (req.runtime_hooks) {
        parent_end.expect(MsgType::Hooks, "set up mounts");
        auto [creating, created] = req.runtime_hooks(init_pid);
        parent_end.send(MsgType::HooksDone, creating + "\n" + created);
    }
    bool init_commits = init_owns_state_dir(req, ::geteuid());
    try {
        parent_end.send(MsgType::Ignored, std::to_string(ignored_signals()));
        // The state is written ahead by now (while_init_sets_up): the init need not wait for us after Ready.
        if (init_commits) parent_end.send(MsgType::Committed, std::string(kPutStateInPlace));
    } catch (const Error& e) {
        // The init is gone: what it sent before says why (below).  Any other
        // failure would leave it waiting for the message while we wait for Ready.
        if (e.code() != EPIPE && e.code() != ECONNRESET) throw;
    }
    // An init that starts without us: what it sent is read once it has exec'd
    // (its end of the socket closes then) or failed, without waking us before.
    if (init_commits) {
        struct pollfd hangup = {parent_end.fd(), POLLRDHUP, 0};
        do sys::throw_if_interrupted();  // (the init has not exec'd: undone, as any create)
        while (::poll(&hangup, 1, -1) < 0 && errno == EINTR);
    }
    auto keep_pty = [](sys::UniqueFd&) {};  // sent on to --console-socket once Ready
    sys::UniqueFd pty_master = receive_setup_fds(parent_end, *req.process, req.seccomp, keep_pty, [&](int listener) {
        send_seccomp_listener(*req.config, req.container_id, req.bundle, init_pid, listener);
    });
    parent_end.expect(MsgType::Ready, "set up container");
    Launched out = launched(init);
    out.sync = std::move(parent_end);
    out.pty_master = std::move(pty_master);
    out.netns = std::move(netns);
    out.userns = std::move(userns);
    out.init_commits = init_commits;
    return out;
}

void release_fifo(const std::string& fifo_path) {
    // O_NONBLOCK: with no reader (the init died) open fails with ENXIO instead of hanging.
    sys::UniqueFd fd(::open(fifo_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        if (errno == ENXIO || errno == ENOENT) throw Error(ESRCH, "container not running");
        throw_errno("open " + quote(fifo_path));
    }
    if (::write(fd.get(), "0", 1) != 1) throw_errno("write " + quote(fifo_path));
    ::unlink(fifo_path.c_str());
}

}  // namespace crunlite::process
