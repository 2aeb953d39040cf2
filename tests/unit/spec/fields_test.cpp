// Every field of runtime-spec 1.3's Linux configuration, one check each: it is
// read into the model and carried into what applies it (the mount plan, the
// cgroup writes, the seccomp program, the scheduling syscalls' arguments), or
// refused with an error naming its JSON path.  A field the parser skips, or one
// parsed and then dropped before the planner, fails here.
//
// Fields that the container's processes apply straight from spec::Process /
// spec::Linux (args, env, user, capabilities, rlimits, hostname, sysctl, ...)
// have no planner yet: for them the check is that the parsed model changes.
// Fields whose rules tie them to others (linux.namespaces, uid/gidMappings,
// timeOffsets, mounts[].uidMappings/gidMappings) are checked in parse_test and
// validate_test, and applied in the integration tests.
#include <sys/mount.h>

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <sstream>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/cgroup/resources.hpp"
#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/linux/seccomp.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/spec/sched.hpp"
#include "crunlite/spec/validate.hpp"

using namespace crunlite;

namespace {

// Where a field's JSON goes in the test document.
enum class At { Top, Root, Process, User, Caps, Linux, Resources, Memory, Cpu, BlockIO, Seccomp, Mount };

// What must happen with it.
enum class Want {
    Model,      // read into spec::Config (applied from there by the container's processes)
    Mounts,     // reaches linux::plan_mounts' output
    Cgroup,     // reaches cgroup::plan_resources' writes (v1 or v2)
    Devices,    // reaches the device rules
    Seccomp,    // reaches the compiled filter
    Sched,      // reaches the arguments of sched_setattr/ioprio_set/sched_setaffinity/set_mempolicy
    Refused,    // parse or validate fails naming the path
};

struct Field {
    const char* path;
    At at;
    const char* json;  // `"key": value` added to that object
    Want want;
};

// clang-format off
const Field kFields[] = {
    {"ociVersion", At::Top, nullptr, Want::Model},  // base document; checked by validate_test
    {"hostname", At::Top, R"("hostname": "h")", Want::Model},
    {"domainname", At::Top, R"("domainname": "d")", Want::Model},
    {"annotations", At::Top, R"("annotations": {"a": "b"})", Want::Model},
    {"hooks.prestart", At::Top, R"("hooks": {"prestart": [{"path": "/x"}]})", Want::Model},
    {"hooks.createRuntime", At::Top, R"("hooks": {"createRuntime": [{"path": "/x"}]})", Want::Model},
    {"hooks.createContainer", At::Top, R"("hooks": {"createContainer": [{"path": "/x"}]})", Want::Model},
    {"hooks.startContainer", At::Top, R"("hooks": {"startContainer": [{"path": "/x"}]})", Want::Model},
    {"hooks.poststart", At::Top, R"("hooks": {"poststart": [{"path": "/x", "args": ["x"], "env": ["A=b"], "timeout": 3}]})", Want::Model},
    {"hooks.poststop", At::Top, R"("hooks": {"poststop": [{"path": "/x"}]})", Want::Model},
    {"root.readonly", At::Root, R"("readonly": true)", Want::Model},
    {"windows", At::Top, R"("windows": {})", Want::Refused},
    {"solaris", At::Top, R"("solaris": {})", Want::Refused},
    {"vm", At::Top, R"("vm": {})", Want::Refused},
    {"zos", At::Top, R"("zos": {})", Want::Refused},

    {"process.terminal", At::Process, R"("terminal": true)", Want::Model},
    {"process.consoleSize", At::Process, R"("consoleSize": {"height": 2, "width": 3})", Want::Model},
    {"process.env", At::Process, R"("env": ["A=b"])", Want::Model},
    {"process.rlimits", At::Process, R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}])", Want::Model},
    {"process.noNewPrivileges", At::Process, R"("noNewPrivileges": true)", Want::Model},
    {"process.oomScoreAdj", At::Process, R"("oomScoreAdj": 5)", Want::Model},
    {"process.apparmorProfile", At::Process, R"("apparmorProfile": "p")", Want::Model},  // warned
    {"process.selinuxLabel", At::Process, R"("selinuxLabel": "l")", Want::Model},        // warned
    {"process.scheduler", At::Process, R"("scheduler": {"policy": "SCHED_BATCH", "nice": 3, "flags": ["SCHED_FLAG_RESET_ON_FORK"]})", Want::Sched},
    {"process.ioPriority", At::Process, R"("ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 4})", Want::Sched},
    {"process.execCPUAffinity", At::Process, R"("execCPUAffinity": {"initial": "0", "final": "0-1"})", Want::Sched},
    {"process.commandLine", At::Process, R"("commandLine": "a b")", Want::Refused},
    {"process.user.umask", At::User, R"("umask": 63)", Want::Model},
    {"process.user.additionalGids", At::User, R"("additionalGids": [7])", Want::Model},
    {"process.user.username", At::User, R"("username": "u")", Want::Refused},
    {"process.capabilities.bounding", At::Caps, R"("bounding": ["CAP_KILL"])", Want::Model},
    {"process.capabilities.effective", At::Caps, R"("effective": ["CAP_KILL"])", Want::Model},
    {"process.capabilities.inheritable", At::Caps, R"("inheritable": ["CAP_KILL"])", Want::Model},
    {"process.capabilities.permitted", At::Caps, R"("permitted": ["CAP_KILL"])", Want::Model},
    {"process.capabilities.ambient", At::Caps, R"("ambient": ["CAP_KILL"])", Want::Model},

    {"mounts[0].options", At::Mount, R"("options": ["ro", "nosuid", "size=1m"])", Want::Mounts},
    {"mounts[0].options tmpcopyup", At::Mount, R"("options": ["tmpcopyup"])", Want::Mounts},

    {"linux.sysctl", At::Linux, R"("sysctl": {"net.ipv4.ip_forward": "1"})", Want::Model},
    {"linux.cgroupsPath", At::Linux, R"("cgroupsPath": "/x")", Want::Model},
    {"linux.rootfsPropagation", At::Linux, R"("rootfsPropagation": "rshared")", Want::Mounts},
    {"linux.maskedPaths", At::Linux, R"("maskedPaths": ["/proc/kcore"])", Want::Model},
    {"linux.readonlyPaths", At::Linux, R"("readonlyPaths": ["/proc/sys"])", Want::Model},
    {"linux.mountLabel", At::Linux, R"("mountLabel": "l")", Want::Model},  // warned
    {"linux.personality", At::Linux, R"("personality": {"domain": "LINUX32"})", Want::Model},
    {"linux.devices", At::Linux, R"("devices": [{"type": "c", "path": "/dev/x", "major": 1, "minor": 3}])", Want::Devices},
    {"linux.memoryPolicy", At::Linux, R"("memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0"})", Want::Sched},
    {"linux.netDevices", At::Linux, R"("netDevices": {"eth9": {"name": "ctr0"}})", Want::Model},
    {"linux.intelRdt", At::Linux, R"("intelRdt": {"closID": "x"})", Want::Refused},

    {"linux.resources.pids", At::Resources, R"("pids": {"limit": 5})", Want::Cgroup},
    {"linux.resources.hugepageLimits", At::Resources, R"("hugepageLimits": [{"pageSize": "2MB", "limit": 1}])", Want::Cgroup},
    {"linux.resources.network", At::Resources, R"("network": {"classID": 1, "priorities": [{"name": "eth0", "priority": 2}]})", Want::Cgroup},
    {"linux.resources.rdma", At::Resources, R"("rdma": {"mlx5_0": {"hcaHandles": 1}})", Want::Cgroup},
    {"linux.resources.unified", At::Resources, R"("unified": {"memory.high": "1"})", Want::Cgroup},
    {"linux.resources.devices", At::Resources, R"("devices": [{"allow": false, "access": "rwm"}])", Want::Devices},
    {"linux.resources.memory.limit", At::Memory, R"("limit": 1048576)", Want::Cgroup},
    {"linux.resources.memory.reservation", At::Memory, R"("reservation": 1048576)", Want::Cgroup},
    {"linux.resources.memory.swap", At::Memory, R"("swap": -1)", Want::Cgroup},
    {"linux.resources.memory.kernelTCP", At::Memory, R"("kernelTCP": 1048576)", Want::Cgroup},
    {"linux.resources.memory.swappiness", At::Memory, R"("swappiness": 10)", Want::Cgroup},
    {"linux.resources.memory.disableOOMKiller", At::Memory, R"("disableOOMKiller": true)", Want::Cgroup},
    {"linux.resources.memory.useHierarchy", At::Memory, R"("useHierarchy": true)", Want::Cgroup},
    {"linux.resources.memory.checkBeforeUpdate", At::Memory, R"("checkBeforeUpdate": true)", Want::Model},  // used by update
    {"linux.resources.cpu.shares", At::Cpu, R"("shares": 512)", Want::Cgroup},
    {"linux.resources.cpu.quota", At::Cpu, R"("quota": 5000)", Want::Cgroup},
    {"linux.resources.cpu.burst", At::Cpu, R"("burst": 5000)", Want::Cgroup},
    {"linux.resources.cpu.period", At::Cpu, R"("period": 50000)", Want::Cgroup},
    {"linux.resources.cpu.realtimeRuntime", At::Cpu, R"("realtimeRuntime": 10)", Want::Cgroup},
    {"linux.resources.cpu.realtimePeriod", At::Cpu, R"("realtimePeriod": 10)", Want::Cgroup},
    {"linux.resources.cpu.cpus", At::Cpu, R"("cpus": "0")", Want::Cgroup},
    {"linux.resources.cpu.mems", At::Cpu, R"("mems": "0")", Want::Cgroup},
    {"linux.resources.cpu.idle", At::Cpu, R"("idle": 1)", Want::Cgroup},
    {"linux.resources.blockIO.weight", At::BlockIO, R"("weight": 100)", Want::Cgroup},
    {"linux.resources.blockIO.leafWeight", At::BlockIO, R"("leafWeight": 100)", Want::Cgroup},
    {"linux.resources.blockIO.weightDevice", At::BlockIO, R"("weightDevice": [{"major": 8, "minor": 0, "weight": 10}])", Want::Cgroup},
    {"linux.resources.blockIO.throttleReadBpsDevice", At::BlockIO, R"("throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}])", Want::Cgroup},
    {"linux.resources.blockIO.throttleWriteBpsDevice", At::BlockIO, R"("throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 1}])", Want::Cgroup},
    {"linux.resources.blockIO.throttleReadIOPSDevice", At::BlockIO, R"("throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 1}])", Want::Cgroup},
    {"linux.resources.blockIO.throttleWriteIOPSDevice", At::BlockIO, R"("throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 1}])", Want::Cgroup},

    {"linux.seccomp.defaultErrnoRet", At::Seccomp, R"("defaultErrnoRet": 38)", Want::Seccomp},
    {"linux.seccomp.architectures", At::Seccomp, R"("architectures": ["SCMP_ARCH_X86"])", Want::Seccomp},
    {"linux.seccomp.flags", At::Seccomp, R"("flags": ["SECCOMP_FILTER_FLAG_LOG"])", Want::Seccomp},
    {"linux.seccomp.listenerPath", At::Seccomp, R"("listenerPath": "/s")", Want::Model},  // gets the NOTIFY listener
    {"linux.seccomp.listenerMetadata", At::Seccomp, R"("listenerMetadata": "m")", Want::Model},  // sent with the listener
    {"linux.seccomp.syscalls", At::Seccomp, R"("syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}])", Want::Seccomp},
};
// clang-format on

std::string document(const Field* f) {
    std::map<At, std::string> extra;
    if (f && f->json) extra[f->at] = std::string(", ") + f->json;
    auto x = [&](At at) { return extra.count(at) ? extra[at] : std::string(); };
    // The member alone, for an object that has no other members.
    auto only = [&](At at) { return x(at).empty() ? std::string() : x(at).substr(2); };
    return std::string(R"({"ociVersion": "1.3.0", "root": {"path": "r")") + x(At::Root) + "}" + x(At::Top) +
           R"(, "process": {"args": ["a"], "cwd": "/", "user": {"uid": 0, "gid": 0)" + x(At::User) +
           R"(}, "capabilities": {)" + only(At::Caps) + "}" + x(At::Process) +
           R"(}, "mounts": [{"destination": "/m", "type": "tmpfs", "source": "tmpfs")" + x(At::Mount) +
           R"(}], "linux": {"namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "ipc"}])" +
           x(At::Linux) + R"(, "resources": {"memory": {)" + only(At::Memory) +
           R"(}, "cpu": {)" + only(At::Cpu) + R"(}, "blockIO": {)" +
           only(At::BlockIO) + "}" + x(At::Resources) +
           R"(}, "seccomp": {"defaultAction": "SCMP_ACT_ERRNO")" + x(At::Seccomp) + "}}}";
}

std::string fingerprint_mounts(const spec::Config& c) {
    linux::MountPlanInput in;
    in.bundle = "/b";
    linux::MountPlan p = linux::plan_mounts(c, in);
    std::ostringstream s;
    s << p.rootfs << p.root_propagation << "/" << p.final_root_propagation << p.own_mount_namespace;
    for (const auto& m : p.mounts) {
        s << "|" << static_cast<int>(m.kind) << m.source << m.destination << m.fstype << m.flags << m.remount_flags
          << m.data << m.attr_set << m.attr_clr << m.tmpcopyup;
        for (auto prop : m.propagation) s << "," << prop;
    }
    return s.str();
}

std::string fingerprint_cgroup(const spec::Config& c) {
    std::ostringstream s;
    if (!c.linux->resources) return "";
    for (bool v2 : {false, true}) {
        try {
            for (const auto& w : cgroup::plan_resources(*c.linux->resources, [v2](const std::string&) { return v2; }))
                s << w.controller << w.v2 << w.file << "=" << w.value << ";";
        } catch (const Error& e) {
            s << "refused on v" << (v2 ? 2 : 1) << ": " << e.message() << ";";  // a v1-only field on v2
        }
    }
    return s.str();
}

std::string fingerprint_devices(const spec::Config& c) {
    std::ostringstream s;
    std::vector<spec::DeviceCgroup> rules = c.linux->resources ? c.linux->resources->devices : std::vector<spec::DeviceCgroup>{};
    for (const auto& w : cgroup::plan_device_rules(rules)) s << w.file << "=" << w.value << ";";
    linux::MountPlanInput in;
    in.bundle = "/b";
    for (const auto& d : linux::plan_mounts(c, in).devices) s << d.path << d.major << ":" << d.minor << ";";
    return s.str();
}

std::string fingerprint_seccomp(const spec::Config& c) {
    linux::SeccompProgram p = linux::build_filter(*c.linux->seccomp);
    std::ostringstream s;
    s << p.flags << p.notify << ":";
    for (const auto& insn : p.bpf) s << insn.code << "," << insn.k << ";";
    return s.str();
}

std::string fingerprint_sched(const spec::Config& c) {
    std::ostringstream s;
    const auto& p = *c.process;
    if (p.scheduler) {
        auto a = spec::sched_attr_for(*p.scheduler);
        s << a.sched_policy << "," << a.sched_nice << "," << a.sched_flags << ";";
    }
    if (p.io_priority) s << spec::ioprio_for(*p.io_priority) << ";";
    if (p.exec_cpu_affinity)
        for (const auto* list : {&p.exec_cpu_affinity->initial, &p.exec_cpu_affinity->final})
            for (unsigned cpu : spec::cpu_list_for(*list, "process.execCPUAffinity")) s << cpu << ",";
    if (c.linux->memory_policy) {
        auto m = spec::mempolicy_for(*c.linux->memory_policy);
        s << m.mode << ":" << m.maxnode << ";";
    }
    return s.str();
}

}  // namespace

TEST_CASE("every runtime-spec 1.3 field is planned, or refused by name", "[fields]") {
    const spec::Config base = spec::parse_config(document(nullptr), "c.json");
    REQUIRE_NOTHROW(spec::validate(base, "c.json"));
    for (const auto& f : kFields) {
        if (!f.json) continue;
        DYNAMIC_SECTION(f.path) {
            std::string text = document(&f);
            INFO(text);
            if (f.want == Want::Refused) {
                std::string path = f.path;
                path = path.substr(0, path.find(' '));
                try {
                    spec::validate(spec::parse_config(text, "c.json"), "c.json");
                    FAIL("accepted: " << f.path);
                } catch (const Error& e) {
                    CHECK_THAT(e.message(), Catch::Contains(path));
                }
                continue;
            }
            spec::Config c = spec::parse_config(text, "c.json");
            CHECK_NOTHROW(spec::validate(c, "c.json"));
            CHECK_FALSE(c == base);  // read into the model, not skipped
            std::function<std::string(const spec::Config&)> planner;
            switch (f.want) {
                case Want::Mounts: planner = fingerprint_mounts; break;
                case Want::Cgroup: planner = fingerprint_cgroup; break;
                case Want::Devices: planner = fingerprint_devices; break;
                case Want::Seccomp: planner = fingerprint_seccomp; break;
                case Want::Sched: planner = fingerprint_sched; break;
                default: break;
            }
            if (planner) CHECK(planner(c) != planner(base));  // and carried into what applies it
        }
    }
}

TEST_CASE("a seccomp program over the kernel's 4096 instructions is refused by name", "[fields]") {
    spec::Seccomp sc;
    sc.default_action = "SCMP_ACT_ALLOW";
    for (int i = 0; i < 2100; ++i)  // two argument conditions each: at least two instructions apiece
        sc.syscalls.push_back({{"chmod"}, "SCMP_ACT_ERRNO", std::nullopt,
                               {{0, static_cast<uint64_t>(i), 0, "SCMP_CMP_EQ"}, {1, 7, 0, "SCMP_CMP_EQ"}}});
    try {
        auto p = linux::build_filter(sc);
        FAIL("built " << p.bpf.size() << " instructions");
    } catch (const Error& e) {
        CHECK_THAT(e.message(), Catch::Contains("more than the kernel's 4096"));
    }
}

TEST_CASE("more distinct seccomp rules than the kernel's 4096 instructions are refused before compiling", "[fields]") {
    // libseccomp's time grows with the square of the rules: 50,000 took over a minute.
    spec::Seccomp sc;
    sc.default_action = "SCMP_ACT_ALLOW";
    for (int i = 0; i < 50000; ++i)
        sc.syscalls.push_back({{"chmod"}, "SCMP_ACT_ERRNO", std::nullopt, {{1, static_cast<uint64_t>(i), 0, "SCMP_CMP_EQ"}}});
    CHECK_THROWS_WITH(linux::build_filter(sc), Catch::Contains("syscalls[4096]: more than 4096 distinct rules"));
    // The same rule many times is one rule.
    sc.syscalls.assign(50000, {{"chmod"}, "SCMP_ACT_ERRNO", std::nullopt, {{1, 1, 0, "SCMP_CMP_EQ"}}});
    CHECK_NOTHROW(linux::build_filter(sc));
}
