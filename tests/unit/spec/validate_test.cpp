#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/spec/validate.hpp"

using namespace crunlite;

namespace {

spec::Config good() {
    return spec::parse_config(R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},
      "process":{"args":["sh"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}},
      "hostname":"h",
      "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"uts"},{"type":"ipc"},{"type":"user"}],
               "uidMappings":[{"containerID":0,"hostID":1000,"size":1}],
               "gidMappings":[{"containerID":0,"hostID":1000,"size":1}]}})",
                              "c");
}

void expect_error(const spec::Config& c, const std::string& text) {
    CHECK_THROWS_WITH(spec::validate(c, "c"), "c: " + text);
}

}  // namespace

TEST_CASE("a good config passes", "[validate]") { CHECK_NOTHROW(spec::validate(good(), "c")); }

TEST_CASE("each rule names the path", "[validate]") {
    auto c = good();
    c.oci_version = "2.0.0";
    expect_error(c, "ociVersion: unsupported version `2.0.0`: want 1.x");
    c = good();
    c.root.path.clear();
    expect_error(c, "root.path: must not be empty");
    c = good();
    c.process->args.clear();
    expect_error(c, "process.args: must not be empty");
    c = good();
    c.process->cwd = "rel";
    expect_error(c, "process.cwd: must be an absolute path, got `rel`");
    c = good();
    c.process->env.push_back("NOEQUALS");
    expect_error(c, "process.env[1]: must be KEY=VALUE, got `NOEQUALS`");
    c = good();
    c.process->rlimits = {{"RLIMIT_FOO", 1, 1}};
    expect_error(c, "process.rlimits[0].type: unknown rlimit `RLIMIT_FOO`");
    c.process->rlimits = {{"RLIMIT_NOFILE", 1, 1}, {"RLIMIT_NOFILE", 1, 1}};
    expect_error(c, "process.rlimits[1].type: duplicate rlimit RLIMIT_NOFILE");
    c.process->rlimits = {{"RLIMIT_NOFILE", 10, 1}};
    expect_error(c, "process.rlimits[0]: soft limit 10 is above hard limit 1");
    c = good();
    c.process->oom_score_adj = 1001;
    expect_error(c, "process.oomScoreAdj: must be within -1000..1000");
    c = good();
    c.linux->uid_mappings[0].size = 0;
    expect_error(c, "linux.uidMappings[0].size: must be > 0");
    c = good();
    c.linux->uid_mappings.push_back({0, 5000, 1});
    expect_error(c, "linux.uidMappings[1]: container IDs overlap linux.uidMappings[0]");
    c = good();
    c.linux->gid_mappings.clear();
    expect_error(c, "linux.gidMappings: a new user namespace needs at least one gid mapping");
    c = good();
    c.linux->uid_mappings.clear();
    c.linux->gid_mappings.clear();
    expect_error(c, "linux.uidMappings: a new user namespace needs at least one uid mapping");
    c = good();
    c.linux->namespaces.push_back({"pid", ""});
    expect_error(c, "linux.namespaces[5].type: duplicate namespace `pid`");
    c = good();
    c.linux->namespaces.push_back({"bogus", ""});
    expect_error(c, "linux.namespaces[5].type: unknown namespace type `bogus`");
    c = good();
    c.linux->namespaces.erase(c.linux->namespaces.begin() + 4);
    expect_error(c, "linux.uidMappings: id mappings need a new user namespace");
    c = good();
    c.linux->rootfs_propagation = "weird";
    expect_error(c, "linux.rootfsPropagation: unknown propagation `weird`");
    c = good();
    c.linux->time_offsets["monotonic"] = {1, 0};
    expect_error(c, "linux.timeOffsets: needs a new time namespace");
    c.linux->namespaces.push_back({"time", ""});
    c.linux->time_offsets["realtime"] = {1, 0};
    expect_error(c, "linux.timeOffsets.realtime: unknown clock: want monotonic or boottime");
    c = good();
    c.linux->devices.push_back({"x", "/dev/x", 1, 1, {}, {}, {}});
    expect_error(c, "linux.devices[0].type: must be c, b, u or p, got `x`");
}

TEST_CASE("masked and read-only paths need a mount namespace (runc's rule)", "[validate]") {
    auto c = good();
    c.linux->namespaces.erase(c.linux->namespaces.begin() + 1);  // mount
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.linux->masked_paths = {"/proc/kcore"};
    expect_error(c, "linux.maskedPaths: unable to restrict sys entries without a private MNT namespace");
    c.linux->masked_paths.clear();
    c.linux->readonly_paths = {"/proc/sys"};
    expect_error(c, "linux.readonlyPaths: unable to restrict sys entries without a private MNT namespace");
    c.linux->namespaces.push_back({"mount", "/proc/1/ns/mnt"});  // joined by path: allowed, as runc
    CHECK_NOTHROW(spec::validate(c, "c"));
}

TEST_CASE("hostname and sysctl need their namespaces", "[validate]") {
    auto c = good();
    c.linux->namespaces.erase(c.linux->namespaces.begin() + 2);  // uts
    expect_error(c, "hostname: unable to set hostname without a private UTS namespace");
    c.linux->namespaces.push_back({"uts", "/proc/1/ns/uts"});  // joined by path: allowed, as runc
    CHECK_NOTHROW(spec::validate(c, "c"));
    c = good();
    c.linux->sysctl["net.ipv4.ip_forward"] = "1";
    expect_error(c, "linux.sysctl.net.ipv4.ip_forward: sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace");
    c = good();
    c.linux->sysctl["vm.swappiness"] = "1";
    expect_error(c, "linux.sysctl.vm.swappiness: sysctl \"vm.swappiness\" is not in a separate kernel namespace (it would change the host's)");
    c = good();
    c.linux->sysctl["kernel.shmmax"] = "1";
    c.linux->sysctl["fs.mqueue.queues_max"] = "1";
    c.linux->sysctl["kernel.domainname"] = "x";
    CHECK_NOTHROW(spec::validate(c, "c"));
}

// ---- runtime-spec 1.2 process attributes: refused before anything is created ------------------

TEST_CASE("process.scheduler is validated with the path of the field", "[validate][sched]") {
    auto c = good();
    c.process->scheduler = spec::Scheduler{"SCHED_BATCH", 5, 0, {"SCHED_FLAG_RESET_ON_FORK"}, 0, 0, 0};
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.process->scheduler->policy = "SCHED_ISO";
    expect_error(c, "process.scheduler.policy: SCHED_ISO is not supported: mainline Linux does not implement it");
    c.process->scheduler->policy = "RR";
    expect_error(c, "process.scheduler.policy: unknown policy `RR`");
    c.process->scheduler->policy = "SCHED_OTHER";
    c.process->scheduler->nice = 19;
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.process->scheduler->nice = 20;
    expect_error(c, "process.scheduler.nice: must be within -20..19, got 20");
    c.process->scheduler->nice = 0;
    c.process->scheduler->priority = 10;
    expect_error(c, "process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority, got 10 with SCHED_OTHER");
    c.process->scheduler->policy = "SCHED_FIFO";
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.process->scheduler->deadline = 1000;
    expect_error(c, "process.scheduler.deadline: only SCHED_DEADLINE takes runtime, deadline and period");
    c.process->scheduler = spec::Scheduler{"SCHED_DEADLINE", 0, 0, {}, 30000, 20000, 40000};
    expect_error(c, "process.scheduler.runtime: must not exceed the deadline (30000 > 20000)");
    c.process->scheduler->runtime = 10000;
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.process->scheduler->flags = {"SCHED_FLAG_NOPE"};
    expect_error(c, "process.scheduler.flags[0]: unknown flag `SCHED_FLAG_NOPE`");
}

TEST_CASE("process.ioPriority is validated with the path of the field", "[validate][sched]") {
    auto c = good();
    c.process->io_priority = spec::IoPriority{"IOPRIO_CLASS_BE", 7};
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.process->io_priority->priority = 8;
    expect_error(c, "process.ioPriority.priority: must be within 0..7, got 8");
    c.process->io_priority = spec::IoPriority{"BE", 0};
    expect_error(c, "process.ioPriority.class: unknown class `BE`: want IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE");
}

TEST_CASE("process.execCPUAffinity is validated with the path of the field", "[validate][sched]") {
    auto c = good();
    c.process->exec_cpu_affinity = spec::ExecCpuAffinity{"0-1", "1"};
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.process->exec_cpu_affinity->final = "1,x";
    expect_error(c, "process.execCPUAffinity.final: invalid CPU list `1,x`: `x` is not a number or a range");
    c.process->exec_cpu_affinity = spec::ExecCpuAffinity{"4-2", ""};
    expect_error(c, "process.execCPUAffinity.initial: invalid CPU list `4-2`: range `4-2` is reversed");
    c.process->exec_cpu_affinity = spec::ExecCpuAffinity{"", "100000"};
    expect_error(c, "process.execCPUAffinity.final: invalid CPU list `100000`: 100000 is above 8191, the highest Linux supports");
}

TEST_CASE("linux.memoryPolicy is validated with the path of the field", "[validate][sched]") {
    auto c = good();
    c.linux->memory_policy = spec::MemoryPolicy{"MPOL_BIND", "0", {"MPOL_F_NUMA_BALANCING"}};
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.linux->memory_policy->nodes = "";
    expect_error(c, "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node");
    c.linux->memory_policy = spec::MemoryPolicy{"MPOL_DEFAULT", "0-1", {}};
    expect_error(c, "linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes, got `0-1`");
    c.linux->memory_policy = spec::MemoryPolicy{"MPOL_LOCAL", "", {}};
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.linux->memory_policy = spec::MemoryPolicy{"MPOL_BIND", "0", {"MPOL_F_BOGUS"}};
    expect_error(c, "linux.memoryPolicy.flags[0]: unknown flag `MPOL_F_BOGUS`");
    c.linux->memory_policy = spec::MemoryPolicy{"MPOL_BOGUS", "", {}};
    expect_error(c, "linux.memoryPolicy.mode: unknown mode `MPOL_BOGUS`");
}

TEST_CASE("linux.netDevices is validated with the path of the field", "[validate][netdev]") {
    auto c = good();  // no network namespace
    c.linux->net_devices = {{"eth9", {"ctr0"}}, {"dummy0", {}}};
    expect_error(c, "linux.netDevices: needs a new network namespace (a linux.namespaces entry of type network)");
    c.linux->namespaces.push_back({"network", "/run/netns/x"});
    expect_error(c, "linux.netDevices: needs a new network namespace, not one joined by path `/run/netns/x`");
    c.linux->namespaces.back().path.clear();
    CHECK_NOTHROW(spec::validate(c, "c"));

    auto with = [&](std::map<std::string, spec::NetDevice> devices) {
        auto d = c;
        d.linux->net_devices = std::move(devices);
        return d;
    };
    expect_error(with({{"eth9", {"a/b"}}}), "linux.netDevices.eth9.name: invalid interface name `a/b`: must not contain '/'");
    expect_error(with({{"eth9", {"abcdefghijklmnop"}}}),
                 "linux.netDevices.eth9.name: invalid interface name `abcdefghijklmnop`: longer than 15 bytes");
    CHECK_NOTHROW(spec::validate(with({{"eth9", {"abcdefghijklmno"}}}), "c"));  // 15 bytes
    expect_error(with({{"eth9", {"eth%d"}}}), "linux.netDevices.eth9.name: invalid interface name `eth%d`: must not contain '%'");
    expect_error(with({{"eth9", {"a:1"}}}), "linux.netDevices.eth9.name: invalid interface name `a:1`: must not contain ':'");
    expect_error(with({{"eth 9", {}}}), "linux.netDevices.eth 9: invalid interface name `eth 9`: must not contain whitespace");
    expect_error(with({{"..", {}}}), "linux.netDevices...: invalid interface name `..`: must not be . or ..");
    expect_error(with({{"", {"x"}}}), "linux.netDevices.: invalid interface name ``: must not be empty");
    expect_error(with({{"lo", {"lo0"}}}), "linux.netDevices.lo: the loopback interface cannot leave its network namespace");
    expect_error(with({{"eth9", {"lo"}}}), "linux.netDevices.eth9.name: `lo` is taken by the container's loopback interface");
    // Two devices, one name in the container (reported at the second in key order).
    expect_error(with({{"a", {"b"}}, {"b", {}}}), "linux.netDevices.b: `b` is also the name of linux.netDevices.a in the container");
    expect_error(with({{"a", {"x"}}, {"b", {"x"}}}),
                 "linux.netDevices.b.name: `x` is also the name of linux.netDevices.a in the container");
    CHECK_NOTHROW(spec::validate(with({{"a", {"b"}}, {"b", {"a"}}}), "c"));  // a swap is fine: the namespace is new
}

TEST_CASE("idmapped mounts: mappings in pairs, only with idmap/ridmap, only on bind mounts", "[validate]") {
    auto c = good();
    spec::Mount m{"/data", "bind", "/src", {"rbind", "idmap"}, {{0, 1000, 10}}, {{0, 1000, 10}}};
    c.mounts = {m};
    CHECK_NOTHROW(spec::validate(c, "c"));
    c.mounts[0].gid_mappings.clear();
    expect_error(c, "mounts[0].gidMappings: an idmapped mount needs both uidMappings and gidMappings");
    c.mounts[0] = m;
    c.mounts[0].uid_mappings[0].size = 0;
    expect_error(c, "mounts[0].uidMappings[0].size: must be > 0");
    c.mounts[0] = m;
    c.mounts[0].options = {"rbind"};
    expect_error(c, "mounts[0].options: uidMappings and gidMappings need the idmap or ridmap option");
    c.mounts[0] = {"/t", "tmpfs", "tmpfs", {"ridmap"}, {}, {}};
    expect_error(c, "mounts[0].options: idmap and ridmap are supported on bind mounts only");
}

TEST_CASE("an exec --process file gets a config's checks, its paths without process.", "[validate]") {
    auto p = spec::parse_process(R"({"args":["sh"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}})", "p.json");
    CHECK_NOTHROW(spec::validate_process(p, "p.json"));
    auto expect = [](const spec::Process& bad, const std::string& text) {
        CHECK_THROWS_WITH(spec::validate_process(bad, "p.json"), "p.json: " + text);
    };
    auto q = p;
    q.env.push_back("NOEQUALS");
    expect(q, "env[1]: must be KEY=VALUE, got `NOEQUALS`");
    q = p;
    q.args.clear();
    expect(q, "args: must not be empty");
    q = p;
    q.cwd = "rel";
    expect(q, "cwd: must be an absolute path, got `rel`");
    q = p;
    q.rlimits = {{"RLIMIT_FOO", 1, 1}};
    expect(q, "rlimits[0].type: unknown rlimit `RLIMIT_FOO`");
    q = p;
    q.scheduler = spec::Scheduler{"RR", 0, 0, {}, 0, 0, 0};
    expect(q, "scheduler.policy: unknown policy `RR`");
}
