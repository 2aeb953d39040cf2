// The systemd cgroup driver's plan: unit names and cgroups from cgroupsPath
// (runc's grammar), slices, and linux.resources as unit properties.
#include <catch2/catch.hpp>

#include <algorithm>

#include "crunlite/base/error.hpp"
#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/plan.hpp"
#include "crunlite/cgroup/systemd.hpp"

using namespace crunlite;
using namespace crunlite::cgroup;

namespace {

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

TEST_CASE("systemd slices expand as runc expands them", "[systemd]") {
    CHECK(expand_slice("system.slice") == "/system.slice");
    CHECK(expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice");
    CHECK(expand_slice("-.slice") == "/");
    for (const char* bad : {".slice", "a", "a/b.slice", "a--b.slice", "-a.slice", "a-.slice", "a.scope"})
        CHECK_THROWS_WITH(expand_slice(bad), Catch::Contains("invalid slice name"));
}

TEST_CASE("systemd units: runc's SLICE:PREFIX:NAME, with its defaults", "[systemd]") {
    auto u = plan_systemd_unit("", "c1", false, "");
    CHECK(u.name == "crun-lite-c1.scope");
    CHECK(u.slice == "system.slice");
    CHECK(u.cgroup == "/system.slice/crun-lite-c1.scope");
    CHECK_FALSE(u.user);
    // Rootless: user.slice below the user manager's own cgroup.
    u = plan_systemd_unit("", "c1", true, "/user.slice/user-1000.slice/user@1000.service");
    CHECK(u.user);
    CHECK(u.cgroup == "/user.slice/user-1000.slice/user@1000.service/user.slice/crun-lite-c1.scope");
    // What containerd's CRI plugin sends with SystemdCgroup = true.
    u = plan_systemd_unit("kubepods-besteffort-pod12.slice:cri-containerd:abc", "abc", false, "/");
    CHECK(u.name == "cri-containerd-abc.scope");
    CHECK(u.slice == "kubepods-besteffort-pod12.slice");
    CHECK(u.cgroup ==
          "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-abc.scope");
    // An empty slice is the default; an empty prefix leaves the dash out; "-.slice" is the root.
    CHECK(plan_systemd_unit(":libpod:x", "x", false, "").cgroup == "/system.slice/libpod-x.scope");
    CHECK(plan_systemd_unit("-.slice::x", "x", false, "").cgroup == "/x.scope");

    CHECK_THROWS_WITH(plan_systemd_unit("/a/b", "c", false, ""),
                      Catch::Contains("expected cgroupsPath to be of format \"slice:prefix:name\""));
    CHECK_THROWS_WITH(plan_systemd_unit("a:b", "c", false, ""), Catch::Contains("slice:prefix:name"));
    CHECK_THROWS_WITH(plan_systemd_unit("system.slice:p:", "c", false, ""), Catch::Contains("the name is empty"));
    CHECK_THROWS_WITH(plan_systemd_unit("system.slice:p:n.slice", "c", false, ""), Catch::Contains("name a scope"));
    CHECK_THROWS_WITH(plan_systemd_unit("system.slice:p:a b", "c", false, ""), Catch::Contains("the name `a b`"));
    CHECK_THROWS_WITH(plan_systemd_unit("bad:p:n", "c", false, ""),
                      Catch::Contains("linux.cgroupsPath: invalid slice name `bad`"));
}

TEST_CASE("systemd properties from linux.resources, as runc maps them", "[systemd]") {
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    r.memory->limit = 100 << 20;
    r.memory->reservation = -1;
    r.memory->swap = 150 << 20;
    r.memory->swappiness = 10;  // no property: stays a file
    r.cpu = spec::Resources::Cpu{};
    r.cpu->shares = 1024;
    r.cpu->quota = 12345;
    r.cpu->period = 100000;
    r.cpu->cpus = "0-3,9";
    r.cpu->mems = "0";
    r.pids_limit = -1;
    r.block_io = spec::Resources::BlockIO{};
    r.block_io->weight = 500;
    r.unified = {{"memory.high", "max"}, {"cpu.max", "50000 200000"}, {"io.max", "8:0 rbps=1"}};
    auto out = systemd_resources(r);
    const auto& p = out.properties;
    CHECK(has(p, "MemoryMax=t:104857600"));
    CHECK(has(p, "MemoryLow=t:18446744073709551615"));
    CHECK(has(p, "MemorySwapMax=t:52428800"));
    CHECK(has(p, "CPUWeight=t:39"));
    CHECK(has(p, "CPUQuotaPeriodUSec=t:100000"));
    CHECK(has(p, "CPUQuotaPerSecUSec=t:130000"));  // 123450 rounded up to 10 ms
    CHECK(has(p, "AllowedCPUs=ay:0f02"));
    CHECK(has(p, "AllowedMemoryNodes=ay:01"));
    CHECK(has(p, "TasksMax=t:18446744073709551615"));
    CHECK(has(p, "IOWeight=t:4950"));
    CHECK(has(p, "MemoryHigh=t:18446744073709551615"));
    CHECK(has(p, "CPUQuotaPeriodUSec=t:200000"));
    CHECK(has(p, "CPUQuotaPerSecUSec=t:250000"));
    // No device rules: the device properties are left alone.
    CHECK_FALSE(std::any_of(p.begin(), p.end(), [](const std::string& s) { return s.rfind("Device", 0) == 0; }));
    // Each value has one owner: what systemd sets leaves the files' share.
    CHECK_FALSE(out.rest.memory->limit);
    CHECK_FALSE(out.rest.memory->swap);
    CHECK(out.rest.memory->swappiness == 10u);
    CHECK_FALSE(out.rest.cpu->shares);
    CHECK(out.rest.cpu->cpus.empty());
    CHECK_FALSE(out.rest.pids_limit);
    CHECK_FALSE(out.rest.block_io->weight);
    CHECK(out.rest.unified == std::map<std::string, std::string>{{"io.max", "8:0 rbps=1"}});

    spec::Resources bad;
    bad.memory = spec::Resources::Memory{};
    bad.memory->swap = 10;
    CHECK_THROWS_WITH(systemd_resources(bad), Catch::Contains("memory.swap: needs a memory.limit"));
    bad = {};
    bad.cpu = spec::Resources::Cpu{};
    bad.cpu->cpus = "3-1";
    CHECK_THROWS_WITH(systemd_resources(bad), Catch::Contains("linux.resources.cpu.cpus: bad range `3-1`"));
    bad = {};
    bad.unified = {{"pids.max", "lots"}};
    CHECK_THROWS_WITH(systemd_resources(bad), Catch::Contains("unified.pids.max: not a number"));
}

TEST_CASE("systemd device properties: strict with the allowed list, or auto for allow-all", "[systemd]") {
    spec::Resources r;
    r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
                 {true, "c", 10, 200, "rw"},
                 {true, "b", 8, std::nullopt, "r"},
                 {true, "c", std::nullopt, 5, "r"}};  // "*:5": systemd cannot say it
    auto p = systemd_resources(r).properties;
    CHECK(p.front() == "DeviceAllow=a(ss):");
    CHECK(has(p, "DevicePolicy=s:strict"));
    auto list = std::find_if(p.begin(), p.end(), [](const std::string& s) { return s.size() > 19 && s.rfind("DeviceAllow", 0) == 0; });
    REQUIRE(list != p.end());
    // The configured ones, then runc's allowed devices (char-* and block-*: mknod only).
    CHECK(list->find("block-8 r,char-* m,block-* m,/dev/char/1:3 rwm") != std::string::npos);
    CHECK(list->find("char-136 rwm") != std::string::npos);
    CHECK(list->find("/dev/char/10:200 rwm") != std::string::npos);  // tun, runc's access
    CHECK(list->find("10:229") == std::string::npos);  // no linux.devices node gets more than a rule gives

    r.devices = {{true, "a", std::nullopt, std::nullopt, "rwm"}};
    p = systemd_resources(r).properties;
    CHECK(p == std::vector<std::string>{"DeviceAllow=a(ss):", "DevicePolicy=s:auto"});
    // Allow-all with denies: systemd has no deny list; strict with nothing (the device program enforces the rest).
    r.devices.push_back({false, "c", 1, 3, "rwm"});
    p = systemd_resources(r).properties;
    CHECK(p == std::vector<std::string>{"DeviceAllow=a(ss):", "DevicePolicy=s:strict"});
}

TEST_CASE("cgroup::plan with the systemd driver: the unit's cgroup, properties for what systemd sets", "[systemd]") {
    HostCgroups host{parse_layout("31 25 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/init.scope\n"),
                     {"memory", "pids", "io"},
                     [](const std::string&) { return false; },  // nothing we could mkdir ourselves
                     std::string()};
    spec::Linux lnx;
    lnx.cgroups_path = "machine.slice:crun-lite:c9";
    lnx.resources = spec::Resources{};
    lnx.resources->pids_limit = 40;
    lnx.resources->unified = {{"io.weight", "default 200"}};
    auto p = plan(host, lnx, "c9", false, "config.json");
    REQUIRE(p.systemd);
    CHECK(p.systemd->name == "crun-lite-c9.scope");
    CHECK(p.paths.unified == "/sys/fs/cgroup/machine.slice/crun-lite-c9.scope");
    CHECK(has(p.systemd->properties, "Slice=s:machine.slice"));
    CHECK(has(p.systemd->properties, "Delegate=b:true"));
    CHECK(has(p.systemd->properties, "TasksMax=t:40"));
    REQUIRE(p.writes.size() == 1);  // pids.max is systemd's; io.weight has no property
    CHECK(p.writes[0].file == "io.weight");
    // cgroupfs: the same config is a path below our own cgroup, no unit.
    host.systemd_manager_cgroup.reset();
    host.may_create = [](const std::string&) { return true; };
    lnx.cgroups_path = "c9";
    CHECK_FALSE(plan(host, lnx, "c9", false, "config.json").systemd);
}
