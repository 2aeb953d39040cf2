#include "crunlite/linux/sched.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::linux {

namespace {

constexpr int kIoprioWhoProcess = 1;  // include/uapi/linux/ioprio.h

// The ids the kernel knows from a sysfs list ("0-3"), or nullopt when it cannot
// be read (no sysfs; for nodes also a kernel without NUMA).
std::optional<std::vector<unsigned>> read_known_ids(const char* path, unsigned limit) {
    try {
        return spec::parse_id_list(trim(read_file(path)), limit);
    } catch (const Error& e) {
        log::debug(std::string("cannot read ") + path + ": " + e.message() + "; ids not checked");
        return std::nullopt;
    }
}

void check_known(const std::vector<unsigned>& ids, const char* known_path, unsigned limit, const char* noun,
                 const std::string& at) {
    if (ids.empty()) return;
    auto known = read_known_ids(known_path, limit);
    if (!known) return;
    std::vector<unsigned> unknown = spec::unknown_ids(ids, *known);
    if (!unknown.empty())
        throw Error(EINVAL, at + ": " + noun + (unknown.size() > 1 ? "s " : " ") + spec::format_id_list(unknown) +
                                " not known to the kernel (it has " + noun + "s " + spec::format_id_list(*known) + ")");
}

// "SCHED_FIFO priority 10 flags SCHED_FLAG_RESET_ON_FORK": what was asked, for messages.
std::string describe(const spec::Scheduler& s) {
    std::string out = s.policy;
    auto policy = spec::sched_policy_value(s.policy);
    if (policy == spec::kSchedFifo || policy == spec::kSchedRr) out += " priority " + std::to_string(s.priority);
    else if (policy == spec::kSchedDeadline)
        out += " runtime " + std::to_string(s.runtime) + " deadline " + std::to_string(s.deadline) + " period " +
               std::to_string(s.period);
    if (s.nice != 0) out += " nice " + std::to_string(s.nice);
    if (!s.flags.empty()) out += " flags " + join(s.flags, "|");
    return out;
}

std::string describe(const spec::MemoryPolicy& mp) {
    std::string out = mp.mode;
    for (const auto& f : mp.flags) out += "|" + f;
    if (!mp.nodes.empty()) out += " nodes " + mp.nodes;
    return out;
}

void set_affinity(const std::vector<unsigned>& cpus, const std::string& at) {
    std::vector<unsigned long> mask = spec::id_mask(cpus);
    if (::syscall(SYS_sched_setaffinity, 0, mask.size() * sizeof(unsigned long), mask.data()) == 0) return;
    int err = errno;
    std::string hint = err == EINVAL ? " (no CPU of the list is online and allowed by the container's cpuset)" : "";
    throw Error(err, sys_error(err, at + ": sched_setaffinity " + spec::format_id_list(cpus)).message() + hint);
}


}  // namespace

void set_scheduler(const spec::Scheduler& s) {
    spec::SchedAttr attr = spec::sched_attr_for(s);
    if (::syscall(SYS_sched_setattr, 0, &attr, 0) == 0) return;
    int err = errno;
    std::string hint;
    if (err == EPERM) {
        if (attr.sched_policy == spec::kSchedFifo || attr.sched_policy == spec::kSchedRr)
            hint = " (needs CAP_SYS_NICE over the host, which a rootless container never has, or an "
                   "RLIMIT_RTPRIO of at least " + std::to_string(s.priority) +
                   "; with CONFIG_RT_GROUP_SCHED also real-time runtime for the container's cgroup: "
                   "linux.resources.cpu.realtimeRuntime)";
        else if (attr.sched_policy == spec::kSchedDeadline)
            hint = " (needs CAP_SYS_NICE over the host and a CPU affinity that spans the whole root domain)";
        else if (s.nice < 0)
            hint = " (a negative nice needs CAP_SYS_NICE over the host or a matching RLIMIT_NICE)";
    } else if (err == EBUSY && attr.sched_policy == spec::kSchedDeadline) {
        hint = " (deadline admission control: not enough CPU bandwidth left)";
    } else if (err == EOPNOTSUPP) {
        hint = " (the kernel has no utilization clamping, CONFIG_UCLAMP_TASK)";
    }
    throw Error(err, sys_error(err, "process.scheduler: sched_setattr " + describe(s)).message() + hint);
}

void set_io_priority(const spec::IoPriority& io) {
    uint32_t value = spec::ioprio_for(io);
    if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, value) == 0) return;
    int err = errno;
    std::string hint = err == EPERM ? " (the RT class needs CAP_SYS_NICE or CAP_SYS_ADMIN over the host)" : "";
    throw Error(err, sys_error(err, "process.ioPriority: ioprio_set " + io.io_class + " priority " +
                                        std::to_string(io.priority))
                         .message() + hint);
}

void check_cpu_affinity_known(const spec::ExecCpuAffinity& a) {
    const std::string at = "process.execCPUAffinity";
    check_known(spec::cpu_list_for(a.initial, at + ".initial"), "/sys/devices/system/cpu/possible", spec::kMaxCpus,
                "CPU", at + ".initial");
    check_known(spec::cpu_list_for(a.final, at + ".final"), "/sys/devices/system/cpu/possible", spec::kMaxCpus, "CPU",
                at + ".final");
}

void set_initial_cpu_affinity(const spec::ExecCpuAffinity& a) {
    check_cpu_affinity_known(a);
    std::vector<unsigned> initial = spec::cpu_list_for(a.initial, "process.execCPUAffinity.initial");
    if (!initial.empty()) set_affinity(initial, "process.execCPUAffinity.initial");
}

void set_final_cpu_affinity(const spec::ExecCpuAffinity& a) {
    std::vector<unsigned> final = spec::cpu_list_for(a.final, "process.execCPUAffinity.final");
    if (!final.empty()) set_affinity(final, "process.execCPUAffinity.final");
}

void check_memory_policy_nodes(const spec::MemoryPolicy& mp) {
    spec::MempolicyArgs args = spec::mempolicy_for(mp);
    check_known(args.nodes, "/sys/devices/system/node/possible", spec::kMaxNodes, "node", "linux.memoryPolicy.nodes");
}

void set_memory_policy(const spec::MemoryPolicy& mp) {
    spec::MempolicyArgs args = spec::mempolicy_for(mp);
    const unsigned long* mask = args.nodemask.empty() ? nullptr : args.nodemask.data();
    if (::syscall(SYS_set_mempolicy, args.mode, mask, args.maxnode) == 0) return;
    int err = errno;
    std::string hint;
    if (err == ENOSYS) hint = " (the kernel has no NUMA support)";
    else if (err == EINVAL)
        hint = " (no node of the list has memory the container's cpuset allows, or the kernel does not know the "
               "mode or a flag)";
    throw Error(err, sys_error(err, "linux.memoryPolicy: set_mempolicy " + describe(mp)).message() + hint);
}

CpuLoan::CpuLoan(pid_t pid) : pid_(pid) {
    int here = ::sched_getcpu();
    if (here < 0 || here >= CPU_SETSIZE || ::sched_getaffinity(pid, sizeof set_, &set_) != 0) return;
    for (int i = 1; i < CPU_SETSIZE; ++i) {
        int cpu = (here + i) % CPU_SETSIZE;
        if (!CPU_ISSET(cpu, &set_)) continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        lent_ = ::sched_setaffinity(pid, sizeof one, &one) == 0;
        return;
    }
}

void CpuLoan::give_back() {
    if (!lent_) return;
    lent_ = false;
    if (::sched_setaffinity(pid_, sizeof set_, &set_) == 0) return;
    cpu_set_t all;
    std::memset(&all, 0xff, sizeof all);
    if (errno != EINVAL || ::sched_setaffinity(pid_, sizeof all, &all) != 0)
        throw_errno("restore the CPU affinity of the container init");
}

}  // namespace crunlite::linux
