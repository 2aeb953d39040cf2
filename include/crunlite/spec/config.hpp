// Typed model of an OCI runtime-spec 1.3 config.json (Linux parts).
// Pure data: no syscalls.  Parsed by spec/parse.hpp, checked by spec/validate.hpp.
// Optional JSON fields are std::optional (or empty containers) so "absent" and
// "zero" stay distinguishable where the spec gives them different meanings.
// Every struct compares memberwise with == (unit tests compare parsed results).
// JSON names follow runtime-spec specs-go.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace crunlite::spec {

struct IdMapping {
    uint32_t container_id = 0;
    uint32_t host_id = 0;
    uint32_t size = 0;
    bool operator==(const IdMapping&) const = default;
};

// The largest uid or gid a process may take (runc's: Go's int32).  Above it
// lies (uint32_t)-1, which setresuid and setgroups take as "leave unchanged".
inline constexpr uint32_t kMaxProcessId = 2147483647;
inline constexpr const char* kProcessIdRange = "uids and gids must be in range 0-2147483647";

struct User {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::optional<uint32_t> umask;
    std::vector<uint32_t> additional_gids;
    bool operator==(const User&) const = default;
};

struct Rlimit {
    std::string type;  // "RLIMIT_NOFILE"
    uint64_t soft = 0;
    uint64_t hard = 0;
    bool operator==(const Rlimit&) const = default;
};

struct Capabilities {
    std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
    bool operator==(const Capabilities&) const = default;
};

struct ConsoleSize {
    uint32_t height = 0;
    uint32_t width = 0;
    bool operator==(const ConsoleSize&) const = default;
};

// process.scheduler (sched_setattr(2)).  The spec says an absent number means 0.
struct Scheduler {
    std::string policy;              // SCHED_OTHER ... SCHED_DEADLINE; required
    int32_t nice = 0;                // -20..19
    int32_t priority = 0;            // SCHED_FIFO / SCHED_RR: 1..99
    std::vector<std::string> flags;  // SCHED_FLAG_*
    uint64_t runtime = 0;            // ns; SCHED_DEADLINE only
    uint64_t deadline = 0;
    uint64_t period = 0;
    bool operator==(const Scheduler&) const = default;
};

// process.ioPriority (ioprio_set(2)).
struct IoPriority {
    std::string io_class;  // JSON "class": IOPRIO_CLASS_RT, _BE or _IDLE
    int32_t priority = 0;  // 0 (highest) .. 7
    bool operator==(const IoPriority&) const = default;
};

// process.execCPUAffinity: CPU lists ("0-3,7"); empty leaves the affinity alone.
struct ExecCpuAffinity {
    std::string initial;  // from the start of the container's setup
    std::string final;    // right before execve
    bool operator==(const ExecCpuAffinity&) const = default;
};

struct Process {
    bool terminal = false;
    std::optional<ConsoleSize> console_size;
    User user;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd;
    std::optional<Capabilities> capabilities;
    std::vector<Rlimit> rlimits;
    bool no_new_privileges = false;
    std::string apparmor_profile;
    std::optional<int> oom_score_adj;
    std::string selinux_label;
    std::optional<Scheduler> scheduler;
    std::optional<IoPriority> io_priority;
    std::optional<ExecCpuAffinity> exec_cpu_affinity;
    bool operator==(const Process&) const = default;
};

struct Root {
    std::string path;
    bool readonly = false;
    bool operator==(const Root&) const = default;
};

struct Mount {
    std::string destination;
    std::string type;
    std::string source;
    std::vector<std::string> options;
    std::vector<IdMapping> uid_mappings;  // idmapped mounts (linux/rootfs.hpp)
    std::vector<IdMapping> gid_mappings;
    bool operator==(const Mount&) const = default;
};

struct Hook {
    std::string path;
    std::vector<std::string> args;
    // None given: the runtime's own environment (runc's, as Go's exec.Cmd with a nil Env).
    std::optional<std::vector<std::string>> env;
    std::optional<int> timeout;  // seconds, > 0
    bool operator==(const Hook&) const = default;
};

struct Hooks {
    std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
    bool operator==(const Hooks&) const = default;
};

struct Namespace {
    std::string type;  // pid network mount ipc uts user cgroup time
    std::string path;  // empty: create a new one
    bool operator==(const Namespace&) const = default;
};

struct Device {
    std::string type;  // c b u p
    std::string path;
    int64_t major = 0;
    int64_t minor = 0;
    std::optional<uint32_t> file_mode;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
    bool operator==(const Device&) const = default;
};

struct DeviceCgroup {
    bool allow = false;
    std::string type;  // "a" when absent
    std::optional<int64_t> major;
    std::optional<int64_t> minor;
    std::string access;
    bool operator==(const DeviceCgroup&) const = default;
};

struct ThrottleDevice {
    int64_t major = 0;
    int64_t minor = 0;
    uint64_t rate = 0;
    bool operator==(const ThrottleDevice&) const = default;
};

struct WeightDevice {
    int64_t major = 0;
    int64_t minor = 0;
    std::optional<uint16_t> weight;
    std::optional<uint16_t> leaf_weight;
    bool operator==(const WeightDevice&) const = default;
};

struct HugepageLimit {
    std::string page_size;
    uint64_t limit = 0;
    bool operator==(const HugepageLimit&) const = default;
};

struct Resources {
    std::vector<DeviceCgroup> devices;
    struct Memory {
        std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
        std::optional<uint64_t> swappiness;
        std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
        bool operator==(const Memory&) const = default;
    };
    std::optional<Memory> memory;
    struct Cpu {
        std::optional<uint64_t> shares, period, realtime_period, burst;
        std::optional<int64_t> quota, realtime_runtime, idle;
        std::string cpus, mems;
        bool operator==(const Cpu&) const = default;
    };
    std::optional<Cpu> cpu;
    std::optional<int64_t> pids_limit;
    struct BlockIO {
        std::optional<uint16_t> weight, leaf_weight;
        std::vector<WeightDevice> weight_device;
        std::vector<ThrottleDevice> throttle_read_bps, throttle_write_bps, throttle_read_iops,
            throttle_write_iops;
        bool operator==(const BlockIO&) const = default;
    };
    std::optional<BlockIO> block_io;
    std::vector<HugepageLimit> hugepage_limits;
    struct Network {
        std::optional<uint32_t> class_id;
        std::vector<std::pair<std::string, uint32_t>> priorities;
        bool operator==(const Network&) const = default;
    };
    std::optional<Network> network;
    struct RdmaLimit {
        std::optional<uint32_t> hca_handles, hca_objects;
        bool operator==(const RdmaLimit&) const = default;
    };
    std::map<std::string, RdmaLimit> rdma;  // device name -> limits
    std::map<std::string, std::string> unified;
    bool operator==(const Resources&) const = default;
};

struct SeccompArg {
    uint32_t index = 0;
    uint64_t value = 0;
    uint64_t value_two = 0;
    std::string op;  // SCMP_CMP_EQ ...
    bool operator==(const SeccompArg&) const = default;
};

struct SeccompSyscall {
    std::vector<std::string> names;
    std::string action;
    std::optional<uint32_t> errno_ret;
    std::vector<SeccompArg> args;
    bool operator==(const SeccompSyscall&) const = default;
};

struct Seccomp {
    std::string default_action;
    std::optional<uint32_t> default_errno_ret;
    std::vector<std::string> architectures;
    std::vector<std::string> flags;
    std::string listener_path;
    std::string listener_metadata;
    std::vector<SeccompSyscall> syscalls;
    bool operator==(const Seccomp&) const = default;
};

struct TimeOffset {
    int64_t secs = 0;
    uint32_t nanosecs = 0;
    bool operator==(const TimeOffset&) const = default;
};

struct Personality {
    std::string domain;  // LINUX or LINUX32
    std::vector<std::string> flags;
    bool operator==(const Personality&) const = default;
};

// linux.memoryPolicy (set_mempolicy(2)).
struct MemoryPolicy {
    std::string mode;                // MPOL_*; required
    std::string nodes;               // node list ("0-1,3")
    std::vector<std::string> flags;  // MPOL_F_*
    bool operator==(const MemoryPolicy&) const = default;
};

// One linux.netDevices entry (runtime-spec 1.3); its key is the host's name of the interface.
struct NetDevice {
    std::string name;  // the name in the container; empty: keep the host's name
    bool operator==(const NetDevice&) const = default;
};

struct Linux {
    std::vector<Namespace> namespaces;
    std::vector<IdMapping> uid_mappings;
    std::vector<IdMapping> gid_mappings;
    std::map<std::string, std::string> sysctl;
    std::optional<Resources> resources;
    std::string cgroups_path;
    std::string rootfs_propagation;
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    std::vector<Device> devices;
    std::optional<Seccomp> seccomp;
    std::optional<Personality> personality;
    std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
    std::string mount_label;
    std::optional<MemoryPolicy> memory_policy;
    std::map<std::string, NetDevice> net_devices;  // host interface name -> where it goes

    // The namespace entry of `type`, or nullptr when the config does not list it.
    const Namespace* find_namespace(const std::string& type) const {
        for (const auto& ns : namespaces)
            if (ns.type == type) return &ns;
        return nullptr;
    }
    bool operator==(const Linux&) const = default;
};

struct Config {
    std::string oci_version;
    std::optional<Process> process;
    Root root;
    std::string hostname;
    std::string domainname;
    std::vector<Mount> mounts;
    Hooks hooks;
    std::map<std::string, std::string> annotations;
    std::optional<Linux> linux;  // needs cpp_std=c++20: gnu++20 predefines `linux` as a macro
    bool operator==(const Config&) const = default;
};

}  // namespace crunlite::spec
