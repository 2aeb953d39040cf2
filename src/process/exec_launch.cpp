// `exec`'s launch: a new process in a running container's namespaces.
#include <sys/prctl.h>

#include "crunlite/linux/namespaces.hpp"
#include "crunlite/linux/process_setup.hpp"
#include "crunlite/linux/sched.hpp"
#include "final_process.hpp"
#include "stages.hpp"

namespace crunlite::process {
namespace {

using namespace detail;

// `exec`, stage-2: already in every namespace of the container (pid included:
// we are a child of the process that joined it).  Never returns.
[[noreturn]] void exec_stage2(const ExecRequest& req, const SyncSocket& sync, uint64_t ignored) {
    child_main(sync, [&] {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::setsid();
        FinalProcess fp = finish_process(*req.process, req.seccomp, sync, setgroups_allowed(req.setgroups_allowed),
                                         req.preserve_fds, ignored);
        // process.execCPUAffinity.final: the last change before execve and the filter.
        if (auto& aff = req.process->exec_cpu_affinity) linux::set_final_cpu_affinity(*aff);
        // After the credential switch, which would clear it.
        if (req.kill_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        exec_final(*req.process, req.seccomp, fp);
    });
}

// `exec`, stage-1: joins the init's namespaces through its pidfd (one setns for
// all, so the kernel orders user namespace first), then forks stage-2 as a
// sibling (CLONE_PARENT), which lands in the container's pid namespace.
[[noreturn]] void exec_stage1(const ExecRequest& req, const SyncSocket& sync, bool born_in_cgroup, uint64_t ignored) {
    child_main(sync, [&] {
        // process.execCPUAffinity.initial first, before the cgroup; stage-2 inherits it.
        if (auto& aff = req.process->exec_cpu_affinity) linux::set_initial_cpu_affinity(*aff);
        if (auto adj = req.process->oom_score_adj) linux::set_oom_score_adj(*adj);  // the container's, as runc's exec
        check(::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl PR_SET_DUMPABLE");
        if (req.place_stage1) sync.expect(MsgType::Go, "join the container's cgroup");
        linux::enter_cgroups(born_in_cgroup ? "" : req.cgroup_unified, req.cgroup_v1_dirs);
        // The namespaces the container was created with are not ours: only the
        // others are compared.  Should one be ours after all (our caller entered
        // it, or config.json changed since create), setns refuses the set and
        // changes nothing (EINVAL for a user namespace that is ours, EPERM for
        // another we lack the privilege over): compare them all then.
        int known_new = linux::new_namespace_flags(req.config->linux->namespaces);
        int flags = linux::differing_namespaces(req.init_pid, known_new);
        if (flags && sys::host_kernel().setns(req.init_pidfd, flags) < 0) {
            if (!known_new || (errno != EPERM && errno != EINVAL)) throw_errno("join the container's namespaces");
            flags = linux::differing_namespaces(req.init_pid);
            if (flags && sys::host_kernel().setns(req.init_pidfd, flags) < 0) throw_errno("join the container's namespaces");
        }
        auto next = [&] { exec_stage2(req, sync, ignored); };
        // A process with a terminal waits for us before it execs (finish_process):
        // it must not hold us suspended meanwhile.
        if (sys::Child::vfork_shares_memory && !(req.seccomp && req.seccomp->notify) && !req.process->terminal)
            clone_next_stage_sharing_memory(sync, "exec process", next);
        clone_next_stage(sync, true, "exec process", next);
    });
}

}  // namespace

Launched launch_exec(const ExecRequest& req) {
    auto [parent_end, child_end] = SyncSocket::make_pair();
    bool born_in_cgroup = false;
    uint64_t ignored = ignored_signals();
    auto body = [&, &parent_end = parent_end, &child_end = child_end]() -> int {
        ::close(parent_end.fd());  // by number: under vfork, parent_end is still ours
        exec_stage1(req, child_end, born_in_cgroup, ignored);
    };
    // Stage-1 and the new process are killed and reaped if anything below throws.
    // Stage-1 only joins, clones and reports, so it shares our memory (vfork),
    // unless it is to be born in a cgroup v2 directory (the grace period that
    // spares costs more than vfork saves), or must wait for us to place it in
    // the systemd unit's cgroup first.
    sys::Child stage1_child = req.place_stage1 ? sys::Child::fork("fork", body) : start_stage1(req.cgroup_unified, true, born_in_cgroup, body);
    child_end.close();
    if (req.place_stage1) {
        req.place_stage1(stage1_child.pid());
        parent_end.send(MsgType::Go);
    }
    sys::Child child = take_child(parent_end, stage1_child, "join the container");
    // The process waits for Go once its master is handed on (finish_process).
    auto hand_over = [&req, &parent_end = parent_end](sys::UniqueFd& master) {
        if (req.pty_ready) req.pty_ready(master);
        parent_end.send(MsgType::Go);
    };
    sys::UniqueFd pty_master = receive_setup_fds(parent_end, *req.process, req.seccomp, hand_over, [&](int listener) {
        send_seccomp_listener(*req.config, req.container_id, req.bundle, req.init_pid, listener);
    });
    // The socket closes when the process execs; before that it may report an error.
    // A failed execve is the process's own: it exits 1, for our caller to wait for (runc's).
    Message msg;
    std::string exec_failure;
    if (parent_end.receive(msg)) {
        if (msg.type != MsgType::Error) throw Error(EPROTO, "exec: unexpected sync message");
        try {
            parent_end.rethrow(msg);
        } catch (const Error& e) {
            if (e.kind() != Error::Kind::ExecFailed) throw;
            exec_failure = e.message();
        }
    }
    Launched out = launched(child);
    out.exec_failure = std::move(exec_failure);
    out.pty_master = std::move(pty_master);
    return out;
}

}  // namespace crunlite::process
