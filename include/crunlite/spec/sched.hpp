// process.scheduler, process.ioPriority, process.execCPUAffinity and
// linux.memoryPolicy (runtime-spec 1.2+) in the form their syscalls take.
// Pure (no syscalls, unit-tested): list parsing ("0-3,7"), name tables, and the
// builders that turn a config object into exactly what its syscall takes.  A
// builder checks every field the way the kernel call needs it and throws
// Error(EINVAL) "PATH.field: what is wrong", PATH being the JSON path given as
// `at` ("process.scheduler"); spec::validate runs the same builders, so a bad
// config is refused before anything is created, and linux/sched.hpp builds
// with them again in the container (an `exec --process` file is validated too).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

// include/uapi/linux/sched.h: the policies messages and checks single out.
inline constexpr uint32_t kSchedFifo = 1, kSchedRr = 2, kSchedDeadline = 6;


// Highest ids a list may name: CONFIG_NR_CPUS is at most 8192 and
// CONFIG_NODES_SHIFT at most 10 on every architecture, so anything above cannot
// exist (and the bitmask stays small whatever the input).
constexpr unsigned kMaxCpus = 8192;
constexpr unsigned kMaxNodes = 1024;

// Parses a Linux id list ("0-3,7": decimal ids and inclusive ranges, comma
// separated) into sorted, de-duplicated ids, each below `limit`.  As runc:
// blanks around an element and empty elements are allowed; "" is the empty
// list, but a non-empty text that names no id is an error.  Throws
// Error(EINVAL) "`text`: <reason>" (the caller prefixes the JSON path).
std::vector<unsigned> parse_id_list(std::string_view text, unsigned limit);

// The list in canonical form ("0-3,7"), for messages.
std::string format_id_list(const std::vector<unsigned>& ids);

// The kernel's bitmap layout (cpu_set_t, nodemask): bit i of word i/64 for each
// id; one word at least.  What sched_setaffinity and set_mempolicy read.
std::vector<unsigned long> id_mask(const std::vector<unsigned>& ids);

// Ids of `ids` that are not in `known` (both sorted).
std::vector<unsigned> unknown_ids(const std::vector<unsigned>& ids, const std::vector<unsigned>& known);

// struct sched_attr of include/uapi/linux/sched/types.h.
struct SchedAttr {
    uint32_t size = 0;
    uint32_t sched_policy = 0;
    uint64_t sched_flags = 0;
    int32_t sched_nice = 0;
    uint32_t sched_priority = 0;
    uint64_t sched_runtime = 0;
    uint64_t sched_deadline = 0;
    uint64_t sched_period = 0;
    uint32_t sched_util_min = 0;  // size >= kSchedAttrSizeVer1 only
    uint32_t sched_util_max = 0;
    bool operator==(const SchedAttr&) const = default;
};
constexpr uint32_t kSchedAttrSizeVer0 = 48;  // Linux 3.14
constexpr uint32_t kSchedAttrSizeVer1 = 56;  // Linux 5.3: + util clamps

// Names to kernel values; nullopt when unknown.  SCHED_ISO has a number (4,
// reserved) but no implementation in mainline Linux.
std::optional<uint32_t> sched_policy_value(std::string_view name);
std::optional<uint64_t> sched_flag_value(std::string_view name);
std::optional<uint32_t> ioprio_class_value(std::string_view name);
std::optional<int> mempolicy_mode_value(std::string_view name);
std::optional<int> mempolicy_flag_value(std::string_view name);
// Every name the tables know, in the spec's order (for `features`).
std::vector<std::string> memory_policy_modes();
std::vector<std::string> memory_policy_flags();

// process.scheduler to sched_attr.  Policy required and known (SCHED_ISO is
// refused), nice -20..19, priority 1..99 with SCHED_FIFO/SCHED_RR and 0 with the
// others, runtime/deadline/period only with SCHED_DEADLINE, which needs
// 1024 <= runtime <= deadline <= period (period 0: the deadline).  The size is
// the smallest that carries the fields: VER1 only with SCHED_FLAG_UTIL_CLAMP_*,
// whose values the spec does not give: they are set to -1, the kernel's "reset
// to the default clamp".
SchedAttr sched_attr_for(const Scheduler& s, const std::string& at = "process.scheduler");

// process.ioPriority to ioprio_set's value: IOPRIO_PRIO_VALUE(class, priority).
uint32_t ioprio_for(const IoPriority& io, const std::string& at = "process.ioPriority");

// One CPU list of process.execCPUAffinity (`at` names it, ".initial" or
// ".final"), checked: sorted ids below kMaxCpus.
std::vector<unsigned> cpu_list_for(const std::string& list, const std::string& at);
// Both lists of process.execCPUAffinity.
void check_exec_cpu_affinity(const ExecCpuAffinity& a, const std::string& at = "process.execCPUAffinity");

// set_mempolicy(2)'s arguments.  `maxnode` counts one bit more than the mask
// holds: the kernel reads maxnode - 1 bits (see set_mempolicy(2), numactl).
struct MempolicyArgs {
    int mode = 0;                         // MPOL_* | MPOL_F_* flags
    std::vector<unsigned long> nodemask;  // empty: NULL
    unsigned long maxnode = 0;
    std::vector<unsigned> nodes;          // the ids in nodemask
    bool operator==(const MempolicyArgs&) const = default;
};
// linux.memoryPolicy to set_mempolicy's arguments.  Mode required and known;
// nodes required by MPOL_BIND, MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE and
// MPOL_PREFERRED_MANY, refused with MPOL_DEFAULT and MPOL_LOCAL (optional with
// MPOL_PREFERRED: none means local allocation); nodes below kMaxNodes; the
// kernel's flag rules: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude
// each other and need nodes, MPOL_F_NUMA_BALANCING needs MPOL_BIND or
// MPOL_PREFERRED_MANY.
MempolicyArgs mempolicy_for(const MemoryPolicy& mp, const std::string& at = "linux.memoryPolicy");

}  // namespace crunlite::spec
