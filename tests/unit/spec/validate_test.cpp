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

TEST_CASE("hostname and sysctl need their namespaces", "[validate]") {
    auto c = good();
    c.linux->namespaces.erase(c.linux->namespaces.begin() + 2);  // uts
    expect_error(c, "hostname: needs a uts namespace of its own");
    c.linux->namespaces.push_back({"uts", "/proc/1/ns/uts"});  // joined by path: allowed, as runc
    CHECK_NOTHROW(spec::validate(c, "c"));
    c = good();
    c.linux->sysctl["net.ipv4.ip_forward"] = "1";
    expect_error(c, "linux.sysctl.net.ipv4.ip_forward: needs a network namespace");
    c = good();
    c.linux->sysctl["vm.swappiness"] = "1";
    expect_error(c, "linux.sysctl.vm.swappiness: not namespaced: it would change the host");
    c = good();
    c.linux->sysctl["kernel.shmmax"] = "1";
    c.linux->sysctl["fs.mqueue.queues_max"] = "1";
    c.linux->sysctl["kernel.domainname"] = "x";
    CHECK_NOTHROW(spec::validate(c, "c"));
}
