#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/cgroup/layout.hpp"
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
    CHECK(l.v1.count("name=systemd") == 0);
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

TEST_CASE("resources on a hybrid host go to v1 files", "[cgroup]") {
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    r.memory->limit = 64 << 20;
    r.pids_limit = 0;
    r.cpu = spec::Resources::Cpu{};
    r.cpu->shares = 512;
    r.cpu->quota = -1;
    r.block_io = spec::Resources::BlockIO{};
    r.block_io->weight = 500;
    r.block_io->throttle_read_bps.push_back({8, 0, 1048576});
    auto w = plan_resources(r, [](const std::string& c) { return only(c, {"hugetlb"}); });
    std::vector<Write> want = {
        {"memory", false, "memory.limit_in_bytes", "67108864"},
        {"pids", false, "pids.max", "max"},
        {"cpu", false, "cpu.shares", "512"},
        {"cpu", false, "cpu.cfs_quota_us", "-1"},
        {"blkio", false, "blkio.weight", "500"},
        {"blkio", false, "blkio.throttle.read_bps_device", "8:0 1048576"},
    };
    CHECK(w == want);
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
}

TEST_CASE("device rules: configured ones first, then the devices the container is given", "[cgroup]") {
    std::vector<spec::DeviceCgroup> rules = {{false, "", std::nullopt, std::nullopt, "rwm"},
                                             {true, "b", 7, std::nullopt, "r"}};
    std::vector<spec::Device> devices = {{"c", "/dev/fuse", 10, 229, std::nullopt, std::nullopt, std::nullopt}};
    auto w = plan_device_rules(rules, devices);
    REQUIRE(w.size() == 2 + 7 + 1 + 1);
    CHECK(w[0] == Write{"devices", false, "devices.deny", "a"});
    CHECK(w[1] == Write{"devices", false, "devices.allow", "b 7:* r"});
    CHECK(w[2] == Write{"devices", false, "devices.allow", "c 1:3 rwm"});
    CHECK(w[9] == Write{"devices", false, "devices.allow", "c 136:* rwm"});
    CHECK(w[10] == Write{"devices", false, "devices.allow", "c 10:229 rwm"});
    rules[1].type = "x";
    CHECK_THROWS_WITH(plan_device_rules(rules, {}), Catch::Contains("linux.resources.devices[1].type"));
}
