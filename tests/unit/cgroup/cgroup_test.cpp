#include <catch2/catch.hpp>

#include <functional>

#include "crunlite/base/error.hpp"
#include "crunlite/cgroup/device_bpf.hpp"
#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/cgroup/resources.hpp"

using namespace crunlite;
using namespace crunlite::cgroup;

namespace {

// This project's machines: cgroup2 at /sys/fs/cgroup/unified, controllers on v1.
const char* kHybridMountinfo =
    "25 30 0:23 / /sys rw - sysfs sysfs rw\n"
    "30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n"
    "32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
    "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "35 30 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
const char* kHybridSelf = "5:pids:/\n4:memory:/process_api/abc\n3:cpu,cpuacct:/\n2:name=systemd:/\n0::/\n";

const char* kV2Mountinfo = "40 30 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

bool only(const std::string& c, std::initializer_list<const char*> v2) {
    for (const char* x : v2)
        if (c == x) return true;
    return false;
}

}  // namespace

TEST_CASE("hybrid layout: v2 tree plus v1 controllers, our own paths", "[cgroup]") {
    Layout l = parse_layout(kHybridMountinfo, kHybridSelf);
    REQUIRE(l.has_unified);
    CHECK(l.unified.mount == "/sys/fs/cgroup/unified");
    CHECK(l.unified.own == "/");
    CHECK(l.v1.at("memory").mount == "/sys/fs/cgroup/memory");
    CHECK(l.v1.at("memory").own == "/process_api/abc");
    CHECK(l.v1.at("cpu").mount == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(l.v1.at("cpuacct").mount == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(l.v1.count("systemd") == 0);
    CHECK(l.v1.at("name=systemd").mount == "/sys/fs/cgroup/systemd");  // joined, as runc joins it
}

TEST_CASE("pure v2 layout", "[cgroup]") {
    Layout l = parse_layout(kV2Mountinfo, "0::/user.slice/session-1.scope\n");
    REQUIRE(l.has_unified);
    CHECK(l.unified.mount == "/sys/fs/cgroup");
    CHECK(l.unified.own == "/user.slice/session-1.scope");
    CHECK(l.v1.empty());
}

TEST_CASE("cgroupsPath: absolute as is, relative and empty beneath our own", "[cgroup]") {
    CHECK(container_path("/default/c1", "c1", "/a/b") == "/default/c1");
    CHECK(container_path("ctr/c1", "c1", "/a/b") == "/a/b/ctr/c1");
    CHECK(container_path("", "c1", "/a/b") == "/a/b/c1");
    CHECK(container_path("", "c1", "/") == "/c1");
    CHECK_THROWS_WITH(container_path("../escape", "c1", "/a"), Catch::Contains("\"..\""));
    // The hierarchy's root, or our own cgroup: not the container's to remove.
    for (const char* root : {"/", "//", ".", "/./", "./"})
        CHECK_THROWS_WITH(container_path(root, "c1", "/a"), Catch::Contains("names no cgroup of the container's own"));
}

TEST_CASE("resources on cgroup v2", "[cgroup]") {
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    r.memory->limit = 64 << 20;
    r.memory->reservation = 32 << 20;
    r.memory->swap = 96 << 20;
    r.pids_limit = 100;
    r.cpu = spec::Resources::Cpu{};
    r.cpu->shares = 1024;
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->cpus = "0-1";
    r.hugepage_limits.push_back({"2MB", 4 << 20});
    r.unified["memory.high"] = "max";
    auto w = plan_resources(r, [](const std::string&) { return true; });
    std::vector<Write> want = {
        {"memory", true, "memory.max", "67108864"},   {"memory", true, "memory.low", "33554432"},
        {"memory", true, "memory.swap.max", "33554432"}, {"pids", true, "pids.max", "100"},
        {"cpu", true, "cpu.weight", "39"},             {"cpu", true, "cpu.max", "50000 100000"},
        {"cpuset", true, "cpuset.cpus", "0-1"},        {"hugetlb", true, "hugetlb.2MB.max", "4194304"},
        {"memory", true, "memory.high", "max"},
    };
    CHECK(w == want);
    CHECK(shares_to_weight(2) == 1);
    CHECK(shares_to_weight(262144) == 10000);
}

TEST_CASE("a resource of 0 is not set, as runc reads it (update's template is all zeros)", "[cgroup]") {
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    r.memory->limit = r.memory->reservation = r.memory->swap = r.memory->kernel_tcp = 0;
    r.memory->swappiness = 0;  // a real value: 0 is "avoid swapping" (v1 only: refused on v2)
    r.pids_limit = 0;
    r.cpu = spec::Resources::Cpu{};
    r.cpu->shares = r.cpu->period = r.cpu->realtime_period = 0;
    r.cpu->quota = r.cpu->realtime_runtime = 0;
    r.block_io = spec::Resources::BlockIO{};
    r.block_io->weight = r.block_io->leaf_weight = 0;
    r.block_io->weight_device.push_back({8, 0, 0, 0});
    r.network = spec::Resources::Network{};
    r.network->class_id = 0;
    auto w = plan_resources(r, [&](const std::string&) { return false; });
    REQUIRE(w.size() == 1);
    CHECK(w[0].file == "memory.swappiness");
    CHECK_THROWS_WITH(plan_resources(r, [&](const std::string&) { return true; }),
                      "linux.resources.memory.swappiness: not available on cgroup v2");
    r.memory->swappiness.reset();
    CHECK(plan_resources(r, [&](const std::string&) { return true; }).empty());
}

TEST_CASE("memory.swappiness: 0-100, or -1 (as a uint64) for none, as runc takes it", "[cgroup]") {
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    auto v1 = [](const std::string&) { return false; };
    r.memory->swappiness = 100;
    CHECK(plan_resources(r, v1).size() == 1);
    r.memory->swappiness = ~uint64_t{0};
    CHECK(plan_resources(r, v1).empty());
    r.memory->swappiness = 200;
    CHECK_THROWS_WITH(plan_resources(r, v1), "invalid memory swappiness value: 200 (valid range is 0-100)");
}

TEST_CASE("resources on a hybrid host go to v1 files", "[cgroup]") {
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    r.memory->limit = 64 << 20;
    r.pids_limit = -1;
    r.cpu = spec::Resources::Cpu{};
    r.cpu->shares = 512;
    r.cpu->quota = -1;
    r.block_io = spec::Resources::BlockIO{};
    r.block_io->weight = 500;
    r.block_io->throttle_read_bps.push_back({8, 0, 1048576});
    auto w = plan_resources(r, [](const std::string& c) { return only(c, {"hugetlb"}); });
    std::vector<Write> want = {
        {"memory", false, "memory.limit_in_bytes", "67108864", false, true},  // written again after memsw if refused
        {"pids", false, "pids.max", "max"},
        {"cpu", false, "cpu.shares", "512"},
        {"cpu", false, "cpu.cfs_quota_us", "-1"},
        {"blkio", false, "blkio.weight", "500"},
        {"blkio", false, "blkio.throttle.read_bps_device", "8:0 1048576"},
    };
    CHECK(w == want);
    // No memory limit without a swap limit lifts memsw too (when the kernel has it), as runc.
    r = {};
    r.memory = spec::Resources::Memory{};
    r.memory->limit = -1;
    CHECK(plan_resources(r, [](const std::string& c) { return only(c, {"hugetlb"}); }) ==
          std::vector<Write>{{"memory", false, "memory.limit_in_bytes", "-1", false, true},
                             {"memory", false, "memory.memsw.limit_in_bytes", "-1", true, true}});
}

TEST_CASE("resources that cannot be expressed are errors naming the field", "[cgroup]") {
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    r.memory->limit = 64 << 20;
    r.memory->swap = 32 << 20;
    CHECK_THROWS_WITH(plan_resources(r, [](const std::string&) { return true; }),
                      Catch::Contains("linux.resources.memory.swap"));
    spec::Resources u;
    u.unified["memory.max"] = "1";
    CHECK_THROWS_WITH(plan_resources(u, [](const std::string&) { return false; }),
                      Catch::Contains("linux.resources.unified.memory.max"));
    u.unified = {{"../../etc", "x"}};
    CHECK_THROWS_WITH(plan_resources(u, [](const std::string&) { return true; }), Catch::Contains("invalid key"));
    // The core files that are not limits are the runtime's: cgroup.procs would move any process in.
    for (const char* key : {"cgroup.procs", "cgroup.threads", "cgroup.freeze", "cgroup.kill", "cgroup.subtree_control",
                            "cgroup.type"}) {
        u.unified = {{key, "1"}};
        CHECK_THROWS_WITH(plan_resources(u, [](const std::string&) { return true; }),
                          Catch::Contains(std::string("linux.resources.unified.") + key + ": not a limit"));
    }
    u.unified = {{"cgroup.max.depth", "3"}, {"cgroup.max.descendants", "10"}};
    auto w = plan_resources(u, [](const std::string&) { return true; });
    REQUIRE(w.size() == 2);
    CHECK(w[0].field == "linux.resources.unified.cgroup.max.depth");
}

TEST_CASE("the limits a config sets, by field, for where no cgroup is made", "[cgroup]") {
    spec::Resources r;
    CHECK(limit_fields(r).empty());
    r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});  // not a limit
    r.pids_limit = 0;  // runc's "not set"
    CHECK(limit_fields(r).empty());
    r.memory = spec::Resources::Memory{};
    r.memory->limit = 64 << 20;
    r.memory->swap = 128 << 20;
    r.pids_limit = 10;
    r.unified["memory.high"] = "1G";
    CHECK(limit_fields(r) == std::vector<std::string>{"linux.resources.memory.limit", "linux.resources.memory.swap",
                                                      "linux.resources.pids.limit",
                                                      "linux.resources.unified.memory.high"});
}

TEST_CASE("every resource field reaches a cgroup file, or is refused naming it", "[cgroup]") {
    auto v1 = [](const std::string& c) { return only(c, {"hugetlb"}); };
    auto v2 = [](const std::string&) { return true; };
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    r.memory->kernel_tcp = 1 << 20;
    r.memory->use_hierarchy = true;
    r.cpu = spec::Resources::Cpu{};
    r.cpu->burst = 1000;
    r.cpu->idle = 1;
    r.block_io = spec::Resources::BlockIO{};
    r.block_io->leaf_weight = 300;
    r.block_io->weight_device.push_back({8, 0, 200, 100});
    r.network = spec::Resources::Network{};
    r.network->class_id = 0x100001;
    r.network->priorities.push_back({"eth0", 5});
    r.rdma["mlx5_0"] = {3, 1000};
    std::vector<Write> want = {
        {"memory", false, "memory.kmem.tcp.limit_in_bytes", "1048576"},
        {"memory", false, "memory.use_hierarchy", "1"},
        {"cpu", false, "cpu.cfs_burst_us", "1000"},
        {"cpu", false, "cpu.idle", "1"},
        {"blkio", false, "blkio.leaf_weight", "300"},
        {"blkio", false, "blkio.weight_device", "8:0 200"},
        {"blkio", false, "blkio.leaf_weight_device", "8:0 100"},
        {"net_cls", false, "net_cls.classid", "1048577"},
        {"net_prio", false, "net_prio.ifpriomap", "eth0 5"},
        {"rdma", false, "rdma.max", "mlx5_0 hca_handle=3 hca_object=1000"},
    };
    CHECK(plan_resources(r, v1) == want);
    // On v2: what has a v2 file goes there; what has none is refused by name.
    spec::Resources s;
    s.block_io = spec::Resources::BlockIO{};
    s.block_io->weight_device.push_back({8, 0, 200, std::nullopt});
    s.rdma["mlx5_0"] = {3, std::nullopt};
    CHECK(plan_resources(s, v2) == std::vector<Write>{{"io", true, "io.weight", "8:0 200"},
                                                      {"rdma", true, "rdma.max", "mlx5_0 hca_handle=3"}});
    struct Case {
        std::function<void(spec::Resources&)> set;
        const char* field;
    } cases[] = {
        {[](auto& x) { x.memory.emplace().kernel_tcp = 1; }, "linux.resources.memory.kernelTCP"},
        {[](auto& x) { x.memory.emplace().use_hierarchy = false; }, "linux.resources.memory.useHierarchy"},
        {[](auto& x) { x.cpu.emplace().realtime_runtime = 1; }, "linux.resources.cpu.realtimeRuntime"},
        {[](auto& x) { x.cpu.emplace().realtime_period = 1; }, "linux.resources.cpu.realtimePeriod"},
        {[](auto& x) { x.block_io.emplace().leaf_weight = 10; }, "linux.resources.blockIO.leafWeight"},
        {[](auto& x) { x.block_io.emplace().weight_device.push_back({8, 0, std::nullopt, 10}); },
         "linux.resources.blockIO.weightDevice[0].leafWeight"},
    };
    for (const auto& c : cases) {
        spec::Resources x;
        c.set(x);
        CHECK_THROWS_WITH(plan_resources(x, v2), Catch::Contains(c.field));
    }
}

TEST_CASE("v1 cpu.shares outside the kernel's [2, 262144] is refused in runc's words", "[cgroup]") {
    spec::Resources r;
    r.cpu = spec::Resources::Cpu{};
    auto v1 = [](const std::string&) { return false; };
    for (uint64_t ok : {2u, 1024u, 262144u}) {
        r.cpu->shares = ok;
        CHECK(plan_resources(r, v1).at(0) == Write{"cpu", false, "cpu.shares", std::to_string(ok)});
    }
    r.cpu->shares = 1;
    CHECK_THROWS_WITH(plan_resources(r, v1), "linux.resources.cpu.shares: the minimum allowed cpu-shares is 2");
    r.cpu->shares = 262145;
    CHECK_THROWS_WITH(plan_resources(r, v1), "linux.resources.cpu.shares: the maximum allowed cpu-shares is 262144");
}

TEST_CASE("device rules: configured ones first, then runc's allowed devices", "[cgroup]") {
    std::vector<spec::DeviceCgroup> rules = {{false, "", std::nullopt, std::nullopt, "rwm"},
                                             {true, "b", 7, std::nullopt, "r"}};
    auto w = plan_device_rules(rules);
    REQUIRE(w.size() == 2 + 11);  // nothing for linux.devices: only what a rule allows (runc 1.1.5)
    CHECK(w[0] == Write{"devices", false, "devices.deny", "a"});
    CHECK(w[1] == Write{"devices", false, "devices.allow", "b 7:* r"});
    // runc's allowed devices: mknod of any node, the default nodes, pts, ptmx, tun.
    CHECK(w[2] == Write{"devices", false, "devices.allow", "c *:* m"});
    CHECK(w[3] == Write{"devices", false, "devices.allow", "b *:* m"});
    CHECK(w[4] == Write{"devices", false, "devices.allow", "c 1:3 rwm"});
    CHECK(w[10] == Write{"devices", false, "devices.allow", "c 136:* rwm"});
    CHECK(w[11] == Write{"devices", false, "devices.allow", "c 5:2 rwm"});
    CHECK(w[12] == Write{"devices", false, "devices.allow", "c 10:200 rwm"});
    rules[1].type = "x";
    CHECK_THROWS_WITH(plan_device_rules(rules), Catch::Contains("linux.resources.devices[1].type"));
}

namespace {

// Runs a device program (the instructions device_program emits) on one access:
// a tiny eBPF interpreter for that subset, so the rules' meaning is tested
// without loading anything into the kernel.
int run_device_program(const std::vector<BpfInsn>& prog, int type, int access, uint32_t major, uint32_t minor) {
    uint32_t ctx[3] = {static_cast<uint32_t>(access << 16 | type), major, minor};
    uint64_t reg[11] = {};
    for (size_t pc = 0; pc < prog.size(); ++pc) {
        uint64_t i = prog[pc];
        uint8_t code = i & 0xff, dst = (i >> 8) & 0xf, src = (i >> 12) & 0xf;
        int16_t off = static_cast<int16_t>((i >> 16) & 0xffff);
        int32_t imm = static_cast<int32_t>(i >> 32);
        switch (code) {
            case BPF_LDX | BPF_MEM | BPF_W: REQUIRE(src == 1); reg[dst] = ctx[off / 4]; break;
            case BPF_ALU64 | BPF_MOV | BPF_X: reg[dst] = reg[src]; break;
            case BPF_ALU64 | BPF_MOV | BPF_K: reg[dst] = static_cast<uint64_t>(imm); break;
            case BPF_ALU | BPF_AND | BPF_K: reg[dst] = static_cast<uint32_t>(reg[dst] & static_cast<uint32_t>(imm)); break;
            case BPF_ALU | BPF_RSH | BPF_K: reg[dst] = static_cast<uint32_t>(reg[dst]) >> imm; break;
            case BPF_JMP | BPF_JNE | BPF_K: if (reg[dst] != static_cast<uint64_t>(imm)) pc += off; break;
            case BPF_JMP | BPF_JSET | BPF_K: if (reg[dst] & static_cast<uint64_t>(imm)) pc += off; break;
            case BPF_JMP | BPF_JEQ | BPF_K: if (reg[dst] == static_cast<uint64_t>(imm)) pc += off; break;
            case BPF_JMP | BPF_EXIT: return static_cast<int>(reg[0]);
            default: FAIL("unexpected instruction " << int(code));
        }
    }
    FAIL("fell off the end of the program");
    return -1;
}

}  // namespace

TEST_CASE("the v2 device program enforces the rule list, last match first", "[cgroup]") {
    const int C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;
    const int R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
    std::vector<spec::DeviceCgroup> config = {{false, "", std::nullopt, std::nullopt, "rwm"},
                                              {true, "b", 7, 0, "rm"}};
    auto prog = device_program(effective_device_rules(config));
    CHECK(run_device_program(prog, C, R | W, 1, 3) == 1);   // /dev/null (default)
    CHECK(run_device_program(prog, C, R, 136, 4) == 1);     // a pts
    CHECK(run_device_program(prog, C, R, 1, 1) == 0);       // /dev/mem: denied
    CHECK(run_device_program(prog, B, R, 7, 0) == 1);       // allowed for reading...
    CHECK(run_device_program(prog, B, M, 7, 0) == 1);       // ...and mknod
    CHECK(run_device_program(prog, B, W, 7, 0) == 0);       // not for writing
    CHECK(run_device_program(prog, B, R, 7, 1) == 0);       // another minor
    // A later deny overrides an earlier allow.
    config.push_back({false, "c", 1, 3, "w"});
    prog = device_program(config);
    CHECK(run_device_program(prog, C, W, 1, 3) == 0);
    CHECK(run_device_program(prog, C, R | W, 1, 3) == 0);  // asks for the denied bit too
    CHECK(run_device_program(prog, C, R, 1, 3) == 0);      // only the deny-all above covers it
    CHECK(run_device_program(prog, B, R, 7, 0) == 1);
}

TEST_CASE("a cgroup mount's v1 view: one directory per hierarchy, co-mounted controllers together",
          "[cgroup]") {
    Layout l = parse_layout(kHybridMountinfo, kHybridSelf);
    Paths p;
    p.unified = "/sys/fs/cgroup/unified/c1";
    p.v1 = {{"cpu", "/sys/fs/cgroup/cpu,cpuacct/c1"},
            {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1"},
            {"memory", "/sys/fs/cgroup/memory/process_api/abc/c1"}};
    std::vector<HierarchyDir> want = {
        {"cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1", {"cpu", "cpuacct"}},
        {"memory", "/sys/fs/cgroup/memory/process_api/abc/c1", {"memory"}},
    };  // not the cgroup2 one (runc's view)
    CHECK(v1_hierarchy_dirs(l, p) == want);
    // Pure v2: nothing (the mount is cgroup2).
    Paths v2;
    v2.unified = "/sys/fs/cgroup/c1";
    CHECK(v1_hierarchy_dirs(parse_layout(kV2Mountinfo, "0::/\n"), v2).empty());
}

TEST_CASE("exec --cgroup: sub-cgroups in runc's [controller:]path form", "[cgroup]") {
    Paths c;
    c.unified = "/u/c1";
    c.v1 = {{"memory", "/m/c1"}, {"pids", "/p/c1"}};
    Paths all = sub_cgroups(c, {"sub"});
    CHECK(all.unified == "/u/c1/sub");
    CHECK(all.v1.at("memory") == "/m/c1/sub");
    CHECK(all.v1.at("pids") == "/p/c1/sub");
    Paths two = sub_cgroups(c, {"memory:/lim/a", "pids:b"});
    CHECK(two.v1.at("memory") == "/m/c1/lim/a");
    CHECK(two.v1.at("pids") == "/p/c1/b");
    CHECK(two.unified == "/u/c1");
    Paths only_memory = sub_cgroups(c, {"memory,pids:x"});
    CHECK(only_memory.unified == "/u/c1");
    CHECK(only_memory.v1.at("pids") == "/p/c1/x");
    CHECK_THROWS_WITH(sub_cgroups(c, {"../escape"}), Catch::Contains("exec --cgroup `../escape`"));
    CHECK_THROWS_WITH(sub_cgroups(c, {"cpu:x"}), Catch::Contains("no `cpu` cgroup"));
    // "/" and "": the container's own cgroup, as runc takes them.
    Paths own = sub_cgroups(c, {"/"});
    CHECK((own.unified == c.unified && own.v1 == c.v1));
    own = sub_cgroups(c, {"memory:", "pids:/"});
    CHECK((own.unified == c.unified && own.v1 == c.v1));
    CHECK_THROWS_WITH(sub_cgroups(c, {"memory:/lim/a", "rest"}),
                      Catch::Equals("invalid --cgroup argument: rest (missing <controller>: prefix)"));
    CHECK_THROWS_WITH(sub_cgroups(c, {"memory:a:b"}), Catch::Equals("invalid --cgroup argument: memory:a:b"));
    CHECK(sub_cgroups(c, {":u", "memory:m"}).unified == "/u/c1/u");  // no controller before ":": cgroup2
    c.unified.clear();
    CHECK_THROWS_WITH(sub_cgroups(c, {":u"}), Catch::Contains("the container has no cgroup2 cgroup"));
}
