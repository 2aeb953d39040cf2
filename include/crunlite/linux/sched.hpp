// Scheduling, I/O priority, CPU affinity and NUMA memory policy of container
// processes: process.scheduler, process.ioPriority, process.execCPUAffinity and
// linux.memoryPolicy (runtime-spec 1.2+).  Each function builds the syscall's
// arguments with spec/sched.hpp and makes the raw syscall (glibc 2.36 has no
// wrapper for sched_setattr, ioprio_set or set_mempolicy).  They run in the
// container's own processes, never in the runtime parent, each at the point of
// the launcher noted on it; a refusal throws Error with the errno, naming the
// JSON path and the values ("process.scheduler: sched_setattr SCHED_FIFO
// priority 10: operation not permitted (...)").  CpuLoan, last, is the
// exception: the runtime parent's, on a child it made.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include "crunlite/spec/config.hpp"
#include "crunlite/spec/sched.hpp"

namespace crunlite::linux {


// sched_setattr(0, ...) on the calling thread.  Runs in finish_process (init
// stage-2 and exec stage-2), after the rlimits (RLIMIT_RTPRIO / RLIMIT_NICE may
// be what allows it) and before the user switch (which drops CAP_SYS_NICE).
void set_scheduler(const spec::Scheduler& s);

// ioprio_set(IOPRIO_WHO_PROCESS, 0, value).  Same point as set_scheduler (the
// RT class needs CAP_SYS_NICE or CAP_SYS_ADMIN).  Inherited by children.
void set_io_priority(const spec::IoPriority& io);

// process.execCPUAffinity is for the processes `exec` starts; runtime-spec: it
// "is not applicable to the container's init process", which keeps the
// runtime's affinity.  Both lists are checked against the CPUs the kernel
// knows (/sys/devices/system/cpu/possible): a CPU it does not know is an error
// naming the list, not silently dropped as sched_setaffinity would.  The check
// runs where the host's /sys is visible: `create` (stage-1 of the init, so a
// bad list fails at create) and stage-1 of `exec`.
void check_cpu_affinity_known(const spec::ExecCpuAffinity& a);

// .initial with sched_setaffinity, first thing in stage-1 of `exec` (before
// the cgroup and namespaces are entered), inherited by stage-2; checks both
// lists first.
void set_initial_cpu_affinity(const spec::ExecCpuAffinity& a);

// process.execCPUAffinity.final with sched_setaffinity: in stage-2 of `exec`, the
// last change before execve and before the seccomp filter goes in.  An empty list
// leaves the affinity as it is.
void set_final_cpu_affinity(const spec::ExecCpuAffinity& a);

// Checks linux.memoryPolicy.nodes against the nodes the kernel knows
// (/sys/devices/system/node/possible).  Runs in the init's stage-1, where the
// host's /sys is visible; set_memory_policy applies it later.
void check_memory_policy_nodes(const spec::MemoryPolicy& mp);

// set_mempolicy(2) for the container init (stage-2, after the rootfs is done,
// before finish_process); the policy survives execve.  Not for `exec` processes.
void set_memory_policy(const spec::MemoryPolicy& mp);

// A new child starts on its parent's CPU and would wait there while the
// parent goes on (~0.1 ms for the init made by one clone, while the runtime
// writes the state ahead).  CpuLoan moves child `pid`, before it first runs, to
// the next CPU of its set after the caller's (the set must still hold one: a
// cpuset may narrow it), until give_back.  What the child starts meanwhile
// inherits the loan: the caller gives it back before the child may start
// anything (process/launcher.cpp: no hook, no exec; no loan when the rootfs may
// be fuse-overlayfs, whose daemon the init forks).
class CpuLoan {
public:
    explicit CpuLoan(pid_t pid);
    // The child's own CPU set again (read right after it was made, so a cpuset's
    // narrowing stays).  The kernel intersects it with the child's cpuset, which
    // a v1 cpuset the child has entered since may leave empty (EINVAL): then
    // every CPU, which leaves the cpuset's, as entering it did without the loan.
    void give_back();

private:
    pid_t pid_;
    cpu_set_t set_{};
    bool lent_ = false;
};

}  // namespace crunlite::linux
