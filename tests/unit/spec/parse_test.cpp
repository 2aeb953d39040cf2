#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/spec/parse.hpp"

using namespace crunlite;

namespace {

const char* kFull = R"({
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false,
    "consoleSize": {"height": 24, "width": 80},
    "user": {"uid": 1001, "gid": 1002, "umask": 18, "additionalGids": [5, 6]},
    "args": ["/bin/sh", "-c", "true"],
    "env": ["PATH=/bin", "A=b"],
    "cwd": "/work",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                     "inheritable": [], "ambient": ["CAP_KILL"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
    "noNewPrivileges": true,
    "apparmorProfile": "p",
    "oomScoreAdj": 100,
    "selinuxLabel": "l"
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "h",
  "domainname": "d",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/data", "type": "bind", "source": "/src", "options": ["rbind", "ro"],
              "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}],
  "hooks": {"prestart": [{"path": "/bin/a"}], "createRuntime": [{"path": "/bin/b", "args": ["b", "x"], "env": ["K=V"], "timeout": 5}],
            "createContainer": [], "startContainer": [{"path": "/c"}], "poststart": [{"path": "/d"}], "poststop": [{"path": "/e"}]},
  "annotations": {"k": "v"},
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "mount"}, {"type": "user"},
                   {"type": "uts"}, {"type": "ipc"}, {"type": "cgroup"}, {"type": "time"}],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "sysctl": {"net.ipv4.ip_forward": "1"},
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
      "memory": {"limit": 536870912, "reservation": 1, "swap": 2, "kernel": 3, "kernelTCP": 4, "swappiness": 10,
                 "disableOOMKiller": true, "useHierarchy": false, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 50000, "burst": 1, "period": 100000, "realtimeRuntime": 5, "realtimePeriod": 6,
              "cpus": "0-1", "mems": "0", "idle": 0},
      "pids": {"limit": 32},
      "blockIO": {"weight": 10, "leafWeight": 10, "weightDevice": [{"major": 8, "minor": 0, "weight": 5}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                  "throttleWriteBpsDevice": [], "throttleReadIOPSDevice": [], "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 7}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 9}],
      "network": {"classID": 1, "priorities": [{"name": "eth0", "priority": 500}]},
      "unified": {"memory.high": "max"}
    },
    "cgroupsPath": "/default/x",
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}],
    "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"],
                "flags": ["SECCOMP_FILTER_FLAG_LOG"], "listenerPath": "", 
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]},
    "personality": {"domain": "LINUX32", "flags": []},
    "timeOffsets": {"monotonic": {"secs": 100, "nanosecs": 5}},
    "mountLabel": "m"
  },
  "x-extension": {"ignored": true}
})";

}  // namespace

TEST_CASE("a full config parses into every field", "[parse]") {
    auto c = spec::parse_config(kFull, "config.json");
    CHECK(c.oci_version == "1.2.0");
    REQUIRE(c.process);
    const auto& p = *c.process;
    CHECK(p.console_size->width == 80);
    CHECK(p.user.uid == 1001);
    CHECK(p.user.gid == 1002);
    CHECK(*p.user.umask == 18);
    CHECK(p.user.additional_gids == std::vector<uint32_t>{5, 6});
    CHECK(p.args.size() == 3);
    CHECK(p.env[1] == "A=b");
    CHECK(p.cwd == "/work");
    CHECK(p.capabilities->ambient == std::vector<std::string>{"CAP_KILL"});
    CHECK(p.rlimits[0].soft == 512);
    CHECK(p.no_new_privileges);
    CHECK(*p.oom_score_adj == 100);
    CHECK(c.root.readonly);
    CHECK(c.hostname == "h");
    CHECK(c.domainname == "d");
    REQUIRE(c.mounts.size() == 2);
    CHECK(c.mounts[1].options == std::vector<std::string>{"rbind", "ro"});
    CHECK(c.mounts[1].uid_mappings[0].host_id == 1000);
    CHECK(c.hooks.prestart.size() == 1);
    CHECK(*c.hooks.create_runtime[0].timeout == 5);
    CHECK(c.hooks.create_runtime[0].env == std::vector<std::string>{"K=V"});
    CHECK_FALSE(c.hooks.prestart[0].env);  // none given: the runtime's own (runc's)
    CHECK(c.hooks.poststop[0].path == "/e");
    // What create keeps of them, read back the same.
    CHECK(spec::parse_hooks(spec::hooks_json(c.hooks), "hooks.json") == c.hooks);
    CHECK(c.annotations.at("k") == "v");
    REQUIRE(c.linux);
    const auto& l = *c.linux;
    CHECK(l.namespaces.size() == 8);
    CHECK(l.find_namespace("network")->path == "/proc/1/ns/net");
    CHECK(l.uid_mappings[0].size == 65536);
    CHECK(l.sysctl.at("net.ipv4.ip_forward") == "1");
    const auto& r = *l.resources;
    CHECK(r.devices[0].type == "a");
    CHECK(*r.devices[1].major == 1);
    CHECK(*r.memory->limit == 536870912);
    CHECK(*r.memory->kernel_tcp == 4);
    CHECK(*r.memory->disable_oom_killer);
    CHECK(*r.cpu->quota == 50000);
    CHECK(r.cpu->cpus == "0-1");
    CHECK(*r.pids_limit == 32);
    CHECK(*r.block_io->weight == 10);
    CHECK(r.block_io->throttle_read_bps[0].rate == 600);
    CHECK(r.block_io->throttle_write_iops[0].rate == 7);
    CHECK(r.hugepage_limits[0].page_size == "2MB");
    CHECK(r.network->priorities[0].second == 500);
    CHECK(r.unified.at("memory.high") == "max");
    CHECK(l.cgroups_path == "/default/x");
    CHECK(l.rootfs_propagation == "rslave");
    CHECK(l.devices[0].file_mode == 438u);
    CHECK(l.seccomp->default_errno_ret == 38u);
    CHECK(l.seccomp->syscalls[1].args[0].value == 8);
    CHECK(l.personality->domain == "LINUX32");
    CHECK(l.time_offsets.at("monotonic").secs == 100);
    CHECK(l.time_offsets.at("monotonic").nanosecs == 5);
    CHECK(l.mount_label == "m");
}

TEST_CASE("wrong types name the JSON path", "[parse]") {
    CHECK_THROWS_WITH(spec::parse_config(R"({"ociVersion":"1.0.0","process":{"user":{"uid":"0","gid":0}}})", "c.json"),
                      "c.json: process.user.uid: expected an unsigned 32-bit integer, got a string");
    CHECK_THROWS_WITH(spec::parse_config(R"({"ociVersion":"1.0.0","linux":{"uidMappings":[{"containerID":0,"hostID":-1,"size":1}]}})", "c"),
                      Catch::Contains("linux.uidMappings[0].hostID: expected an unsigned 32-bit integer, got -1"));
    // A process's ids in runc's range: (uint32)-1 would leave the runtime's in place.
    for (const char* user : {R"({"uid":4294967295,"gid":0})", R"({"uid":0,"gid":2147483648})",
                             R"({"uid":0,"gid":0,"additionalGids":[1,4294967295]})"})
        CHECK_THROWS_WITH(spec::parse_config(R"({"ociVersion":"1.0.0","process":{"user":)" + std::string(user) + "}}", "c"),
                          Catch::Contains("uids and gids must be in range 0-2147483647"));
    CHECK(spec::parse_config(R"({"ociVersion":"1.0.0","process":{"user":{"uid":2147483647,"gid":0}}})", "c")
              .process->user.uid == 2147483647);
    CHECK_THROWS_WITH(spec::parse_config(R"({"ociVersion":"1.0.0","mounts":[{"type":"tmpfs"}]})", "c"),
                      "c: mounts[0].destination: required field is missing");
    CHECK_THROWS_WITH(spec::parse_config(R"({"ociVersion":"1.0.0","hooks":{"poststop":[{"path":"/x","timeout":0}]}})", "c"),
                      "c: hooks.poststop[0].timeout: must be > 0");
    CHECK_THROWS_WITH(spec::parse_config(R"({"ociVersion":"1.0.0","hooks":{"prestart":[{"path":"./rel.sh"}]}})", "c"),
                      "c: hooks.prestart[0].path: must be an absolute path, got `./rel.sh`");
    CHECK_THROWS_WITH(spec::parse_config(R"({"ociVersion":1})", "c"), "c: ociVersion: expected a string, got a number");
    CHECK_THROWS_WITH(spec::parse_config(R"([])", "c"), Catch::Contains("expected an object"));
    CHECK_THROWS_WITH(spec::parse_config(R"({"ociVersion":"1.0.0","process":{"args":["a"],"args":["b"]}})", "c"),
                      "c: process: duplicate key \"args\"");
}

TEST_CASE("process and resources documents on their own", "[parse]") {
    auto p = spec::parse_process(R"({"args":["sh"],"cwd":"/","env":["A=1"],"user":{"uid":5,"gid":6}})", "p.json");
    CHECK(p.user.uid == 5);
    CHECK(p.args[0] == "sh");
    auto r = spec::parse_resources(R"({"memory":{"limit":1048576},"pids":{"limit":10}})", "stdin");
    CHECK(*r.memory->limit == 1048576);
    CHECK(*r.pids_limit == 10);
    // runc's update template: an absent limit is 0, "unchanged".
    CHECK_FALSE(spec::parse_resources(R"({"pids":{}})", "stdin").pids_limit);
    CHECK_THROWS_WITH(spec::parse_resources(R"({"pids":{"limit":"x"}})", "stdin"), Catch::Contains("pids.limit"));
}

// ---- runtime-spec 1.2 process attributes: parsed, and carried into what is applied -----------

#include "crunlite/spec/sched.hpp"

namespace {

// A minimal config with `process_extra` inside process and `linux_extra` inside linux.
spec::Config with_fields(const std::string& process_extra, const std::string& linux_extra = "") {
    return spec::parse_config(R"({"ociVersion":"1.2.0","root":{"path":"rootfs"},
      "process":{"args":["sh"],"cwd":"/")" + (process_extra.empty() ? "" : "," + process_extra) + R"(},
      "linux":{)" + linux_extra + "}}",
                              "c.json");
}

}  // namespace

TEST_CASE("process.scheduler is parsed into the sched_attr that is applied", "[parse][sched]") {
    auto c = with_fields(R"("scheduler":{"policy":"SCHED_DEADLINE","nice":-3,"flags":["SCHED_FLAG_RESET_ON_FORK",
      "SCHED_FLAG_DL_OVERRUN"],"runtime":100000,"deadline":200000,"period":300000})");
    REQUIRE(c.process->scheduler);
    const auto& s = *c.process->scheduler;
    CHECK(s == spec::Scheduler{"SCHED_DEADLINE", -3, 0, {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN"},
                               100000, 200000, 300000});
    auto attr = spec::sched_attr_for(s);
    CHECK(attr.size == 48);
    CHECK(attr.sched_policy == 6);
    CHECK(attr.sched_flags == 0x05);
    CHECK(attr.sched_nice == -3);
    CHECK(attr.sched_runtime == 100000);
    CHECK(attr.sched_deadline == 200000);
    CHECK(attr.sched_period == 300000);

    c = with_fields(R"("scheduler":{"policy":"SCHED_FIFO","priority":10})");
    attr = spec::sched_attr_for(*c.process->scheduler);
    CHECK((attr.sched_policy == 1 && attr.sched_priority == 10 && attr.sched_nice == 0 && attr.sched_flags == 0));
    CHECK_FALSE(with_fields("").process->scheduler);  // absent: nothing is applied
    CHECK_THROWS_WITH(with_fields(R"("scheduler":{"nice":1})"), "c.json: process.scheduler.policy: required field is missing");
    CHECK_THROWS_WITH(with_fields(R"("scheduler":{"policy":"SCHED_OTHER","nice":1.5})"),
                      Catch::Contains("process.scheduler.nice: expected a 32-bit integer"));
    CHECK_THROWS_WITH(with_fields(R"("scheduler":{"policy":"SCHED_DEADLINE","runtime":-1})"),
                      Catch::Contains("process.scheduler.runtime: expected an unsigned 64-bit integer"));
}

TEST_CASE("process.ioPriority is parsed into the ioprio value that is applied", "[parse][sched]") {
    auto c = with_fields(R"("ioPriority":{"class":"IOPRIO_CLASS_BE","priority":3})");
    REQUIRE(c.process->io_priority);
    CHECK(*c.process->io_priority == spec::IoPriority{"IOPRIO_CLASS_BE", 3});
    CHECK(spec::ioprio_for(*c.process->io_priority) == ((2u << 13) | 3u));
    c = with_fields(R"("ioPriority":{"class":"IOPRIO_CLASS_IDLE","priority":7})");
    CHECK(spec::ioprio_for(*c.process->io_priority) == ((3u << 13) | 7u));
    CHECK_THROWS_WITH(with_fields(R"("ioPriority":{"class":"IOPRIO_CLASS_BE"})"),
                      "c.json: process.ioPriority.priority: required field is missing");
    CHECK_THROWS_WITH(with_fields(R"("ioPriority":{"priority":1})"), "c.json: process.ioPriority.class: required field is missing");
}

TEST_CASE("process.execCPUAffinity is parsed into the CPU sets that are applied", "[parse][sched]") {
    auto c = with_fields(R"("execCPUAffinity":{"initial":"7","final":"0-3,7"})");
    REQUIRE(c.process->exec_cpu_affinity);
    CHECK(*c.process->exec_cpu_affinity == spec::ExecCpuAffinity{"7", "0-3,7"});
    CHECK(spec::cpu_list_for(c.process->exec_cpu_affinity->initial, "i") == std::vector<unsigned>{7});
    CHECK(spec::id_mask(spec::cpu_list_for(c.process->exec_cpu_affinity->final, "f")) ==
          std::vector<unsigned long>{0x8f});
    c = with_fields(R"("execCPUAffinity":{"final":"1"})");
    CHECK(c.process->exec_cpu_affinity->initial.empty());  // nothing applied early
    CHECK(spec::id_mask(spec::cpu_list_for(c.process->exec_cpu_affinity->final, "f")) == std::vector<unsigned long>{0x2});
    // The same fields in an `exec --process` document.
    auto p = spec::parse_process(R"({"args":["sh"],"cwd":"/","execCPUAffinity":{"initial":"0"},
      "ioPriority":{"class":"IOPRIO_CLASS_RT","priority":0},"scheduler":{"policy":"SCHED_IDLE"}})", "p.json");
    CHECK(p.exec_cpu_affinity->initial == "0");
    CHECK(spec::ioprio_for(*p.io_priority) == (1u << 13));
    CHECK(spec::sched_attr_for(*p.scheduler).sched_policy == 5);
    CHECK_THROWS_WITH(with_fields(R"("execCPUAffinity":{"final":3})"),
                      "c.json: process.execCPUAffinity.final: expected a string, got a number");
}

TEST_CASE("linux.memoryPolicy is parsed into the set_mempolicy arguments that are applied", "[parse][sched]") {
    auto c = with_fields("", R"("memoryPolicy":{"mode":"MPOL_INTERLEAVE","nodes":"0-1,3","flags":["MPOL_F_STATIC_NODES"]})");
    REQUIRE(c.linux->memory_policy);
    CHECK(*c.linux->memory_policy == spec::MemoryPolicy{"MPOL_INTERLEAVE", "0-1,3", {"MPOL_F_STATIC_NODES"}});
    auto args = spec::mempolicy_for(*c.linux->memory_policy);
    CHECK(args.mode == (3 | (1 << 15)));
    CHECK(args.nodemask == std::vector<unsigned long>{0xb});
    CHECK(args.maxnode == 65);
    c = with_fields("", R"("memoryPolicy":{"mode":"MPOL_LOCAL"})");
    args = spec::mempolicy_for(*c.linux->memory_policy);
    CHECK((args.mode == 4 && args.nodemask.empty() && args.maxnode == 0));
    CHECK_FALSE(with_fields("").linux->memory_policy);
    CHECK_THROWS_WITH(with_fields("", R"("memoryPolicy":{"nodes":"0"})"), "c.json: linux.memoryPolicy.mode: required field is missing");
    CHECK_THROWS_WITH(with_fields("", R"("memoryPolicy":{"mode":"MPOL_BIND","flags":"MPOL_F_STATIC_NODES"})"),
                      Catch::Contains("linux.memoryPolicy.flags: expected an array"));
}

TEST_CASE("linux.netDevices is parsed: host interface name -> name in the container", "[parse][netdev]") {
    auto parse = [](const std::string& devices) {
        return spec::parse_config(R"({"ociVersion":"1.3.0","root":{"path":"rootfs"},"linux":{"netDevices":)" + devices + "}}",
                                  "c.json");
    };
    auto c = parse(R"({"eth9":{"name":"ctr0"},"dummy0":{},"dummy1":{"name":""}})");
    // An empty object or an empty name: the device keeps its name.
    CHECK(c.linux->net_devices ==
          std::map<std::string, spec::NetDevice>{{"dummy0", {""}}, {"dummy1", {""}}, {"eth9", {"ctr0"}}});
    CHECK(parse("{}").linux->net_devices.empty());
    CHECK(spec::parse_config(R"({"ociVersion":"1.3.0","root":{"path":"rootfs"},"linux":{}})", "c.json")
              .linux->net_devices.empty());
    CHECK_THROWS_WITH(parse(R"({"eth9":"ctr0"})"), "c.json: linux.netDevices.eth9: expected an object, got a string");
    CHECK_THROWS_WITH(parse(R"({"eth9":{"name":7}})"), "c.json: linux.netDevices.eth9.name: expected a string, got a number");
    CHECK_THROWS_WITH(parse(R"(["eth9"])"), Catch::Contains("c.json: linux.netDevices: expected an object"));
}
