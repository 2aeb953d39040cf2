#include <catch2/catch.hpp>

#include "crunlite/spec/default_spec.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/spec/seccomp_profile.hpp"
#include "crunlite/spec/validate.hpp"

using namespace crunlite;

namespace {
std::string spec_json(bool rootless, uint32_t uid, uint32_t gid, const spec::Seccomp* sc = nullptr) {
    spec::SpecOptions o;
    o.rootless = rootless;
    o.caller_uid = uid;
    o.caller_gid = gid;
    if (sc) o.seccomp = *sc;
    return spec::default_spec_json(o);
}
}  // namespace

TEST_CASE("the default spec parses and validates", "[default_spec]") {
    auto c = spec::parse_config(spec_json(false, 0, 0), "spec");
    CHECK_NOTHROW(spec::validate(c, "spec"));
    CHECK(c.process->terminal);
    CHECK(c.root.path == "rootfs");
    CHECK(c.linux->find_namespace("network"));
    CHECK_FALSE(c.linux->find_namespace("user"));
    CHECK(c.linux->resources->devices.size() == 1);
    bool gid5 = false;
    for (const auto& m : c.mounts)
        for (const auto& o : m.options) gid5 = gid5 || o == "gid=5";
    CHECK(gid5);
}

TEST_CASE("the rootless spec maps the caller and avoids what needs privilege", "[default_spec]") {
    auto c = spec::parse_config(spec_json(true, 1234, 5678), "spec");
    CHECK_NOTHROW(spec::validate(c, "spec"));
    REQUIRE(c.linux->find_namespace("user"));
    CHECK_FALSE(c.linux->find_namespace("network"));
    CHECK(c.linux->uid_mappings[0].host_id == 1234);
    CHECK(c.linux->gid_mappings[0].host_id == 5678);
    CHECK_FALSE(c.linux->resources);
    for (const auto& m : c.mounts) {
        for (const auto& o : m.options) CHECK(o != "gid=5");
        if (m.destination == "/sys") CHECK(m.type == "none");
    }
}

TEST_CASE("the spec carries the default caps and the seccomp profile it is given", "[default_spec]") {
    auto c = spec::parse_config(spec_json(false, 0, 0), "spec");
    CHECK(c.process->capabilities->bounding == spec::default_capabilities());
    CHECK(c.process->capabilities->effective == spec::default_capabilities());
    CHECK_FALSE(c.linux->seccomp);

    spec::ProfileTarget t = spec::profile_target("x86_64");
    t.capabilities = spec::default_capabilities();
    t.kernel = {6, 1};
    spec::Seccomp sc = spec::resolve_seccomp_profile(spec::default_seccomp_profile_json(), "p", t);
    auto with = spec::parse_config(spec_json(true, 1, 1, &sc), "spec");
    REQUIRE(with.linux->seccomp);
    CHECK(*with.linux->seccomp == sc);  // written and read back unchanged
}

TEST_CASE("a spec generated from image options parses back with those values and validates", "[default_spec]") {
    spec::SpecOptions o;
    o.terminal = false;
    o.args = {"docker-entrypoint.sh", "node", "server.js"};
    o.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOSTNAME=web", "HOME=/home/nextjs", "NODE_ENV=production"};
    o.cwd = "/app";
    o.uid = 1001;
    o.gid = 1001;
    o.additional_gids = {10, 29};
    o.hostname = "web";
    o.root_readonly = false;
    o.extra_mounts.push_back({"/data", "bind", "/srv/data", {"rbind", "ro"}, {}, {}});
    o.extra_mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=1777"}, {}, {}});
    o.annotations = {{"org.crun-lite.rootfs.overlay", "lowerdir=/l,upperdir=/u,workdir=/w"},
                     {"org.opencontainers.image.ref.name", "web:latest"}};
    o.memory_limit = 512LL * 1024 * 1024;
    o.pids_limit = 256;
    o.cpu_quota = 150000;
    o.network_namespace = false;
    auto c = spec::parse_config(spec::default_spec_json(o), "spec");
    CHECK_NOTHROW(spec::validate(c, "spec"));

    REQUIRE(c.process);
    CHECK_FALSE(c.process->terminal);
    CHECK(c.process->args == o.args);
    CHECK(c.process->env == o.env);
    CHECK(c.process->cwd == "/app");
    CHECK(c.process->user.uid == 1001);
    CHECK(c.process->user.gid == 1001);
    CHECK(c.process->user.additional_gids == std::vector<uint32_t>{10, 29});
    CHECK(c.hostname == "web");
    CHECK_FALSE(c.root.readonly);
    CHECK(c.annotations == o.annotations);

    // The extra mounts come after the default ones, in order.
    REQUIRE(c.mounts.size() >= 2);
    CHECK(c.mounts[c.mounts.size() - 2] == o.extra_mounts[0]);
    CHECK(c.mounts.back() == o.extra_mounts[1]);

    REQUIRE(c.linux);
    REQUIRE(c.linux->resources);
    REQUIRE(c.linux->resources->memory);
    CHECK(c.linux->resources->memory->limit == 512LL * 1024 * 1024);
    CHECK(c.linux->resources->pids_limit == 256);
    REQUIRE(c.linux->resources->cpu);
    CHECK(c.linux->resources->cpu->quota == 150000);
    CHECK(c.linux->resources->cpu->period == 100000u);
    CHECK_FALSE(c.linux->find_namespace("network"));  // asked for none, though not rootless
    CHECK(c.linux->find_namespace("pid"));
}

TEST_CASE("a default mount gives way to an extra one at the same place", "[default_spec]") {
    spec::SpecOptions o;
    o.shm_size = "1g";
    auto shm = [](const spec::Config& c) {
        std::vector<spec::Mount> out;
        for (const auto& m : c.mounts)
            if (m.destination == "/dev/shm") out.push_back(m);
        return out;
    };
    auto c = spec::parse_config(spec::default_spec_json(o), "spec");
    REQUIRE(shm(c).size() == 1);
    CHECK(shm(c)[0].options.back() == "size=1g");
    o.extra_mounts.push_back({"/dev/shm", "tmpfs", "tmpfs", {"rw", "size=2g"}, {}, {}});
    c = spec::parse_config(spec::default_spec_json(o), "spec");
    REQUIRE(shm(c).size() == 1);
    CHECK(shm(c)[0] == o.extra_mounts[0]);
}

TEST_CASE("without limits a spec has no memory, pids or cpu resources", "[default_spec]") {
    spec::SpecOptions o;
    auto c = spec::parse_config(spec::default_spec_json(o), "spec");
    REQUIRE(c.linux->resources);
    CHECK_FALSE(c.linux->resources->memory);
    CHECK_FALSE(c.linux->resources->pids_limit);
    CHECK_FALSE(c.linux->resources->cpu);
    CHECK(c.process->user.additional_gids.empty());
    CHECK(c.annotations.empty());
}

TEST_CASE("a rootless spec with limits and its own network namespace keeps them", "[default_spec]") {
    spec::SpecOptions o;
    o.rootless = true;
    o.caller_uid = 1000;
    o.caller_gid = 1000;
    o.pids_limit = 64;
    o.network_namespace = true;
    auto c = spec::parse_config(spec::default_spec_json(o), "spec");
    CHECK_NOTHROW(spec::validate(c, "spec"));
    REQUIRE(c.linux->resources);
    CHECK(c.linux->resources->devices.empty());  // no device cgroup rootless
    CHECK(c.linux->resources->pids_limit == 64);
    CHECK(c.linux->find_namespace("network"));
    CHECK(c.linux->find_namespace("user"));
    for (const auto& m : c.mounts)
        if (m.destination == "/sys") CHECK(m.type == "sysfs");  // the namespace is ours: a real sysfs
}

TEST_CASE("rootless mappings are written as given", "[default_spec]") {
    spec::SpecOptions o;
    o.rootless = true;
    o.caller_uid = 1000;
    o.caller_gid = 1000;
    o.uid_mappings = {{0, 1000, 1}, {1, 100000, 65536}};
    o.gid_mappings = {{0, 1000, 1}, {1, 100000, 65536}};
    o.uid = 1001;
    o.gid = 1001;
    auto c = spec::parse_config(spec::default_spec_json(o), "spec");
    CHECK_NOTHROW(spec::validate(c, "spec"));
    CHECK(c.linux->uid_mappings == o.uid_mappings);
    CHECK(c.linux->gid_mappings == o.gid_mappings);
    CHECK(c.process->user.uid == 1001);
}

TEST_CASE("rootless devpts gets gid=5 only when a gid mapping covers gid 5", "[default_spec]") {
    auto devpts_gid5 = [](const std::vector<spec::IdMapping>& gid_maps) {
        spec::SpecOptions o;
        o.rootless = true;
        o.caller_uid = 1000;
        o.caller_gid = 1000;
        o.uid_mappings = {{0, 1000, 1}, {1, 100000, 65536}};
        o.gid_mappings = gid_maps;
        auto c = spec::parse_config(spec::default_spec_json(o), "spec");
        CHECK_NOTHROW(spec::validate(c, "spec"));
        for (const auto& m : c.mounts)
            if (m.destination == "/dev/pts")
                for (const auto& opt : m.options)
                    if (opt == "gid=5") return true;
        return false;
    };
    CHECK(devpts_gid5({{0, 1000, 1}, {1, 100000, 65536}}));
    CHECK(devpts_gid5({{0, 1000, 1}, {5, 100005, 1}}));    // exactly gid 5
    CHECK(devpts_gid5({{0, 1000, 6}}));                      // 0..5
    CHECK_FALSE(devpts_gid5({{0, 1000, 5}}));                // 0..4
    CHECK_FALSE(devpts_gid5({{0, 1000, 1}, {6, 100006, 10}}));
    CHECK_FALSE(devpts_gid5({}));                            // only the caller's gid as 0
}

TEST_CASE("bounding_only empties the effective and permitted sets but keeps bounding", "[default_spec]") {
    spec::SpecOptions o;
    o.uid = 1001;
    o.bounding_only = true;
    auto c = spec::parse_config(spec::default_spec_json(o), "spec");
    CHECK_NOTHROW(spec::validate(c, "spec"));
    REQUIRE(c.process->capabilities);
    CHECK(c.process->capabilities->bounding == spec::default_capabilities());
    CHECK(c.process->capabilities->effective.empty());
    CHECK(c.process->capabilities->permitted.empty());

    o.capabilities = std::vector<std::string>{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"};
    c = spec::parse_config(spec::default_spec_json(o), "spec");
    CHECK(c.process->capabilities->bounding == *o.capabilities);
    CHECK(c.process->capabilities->effective.empty());
    CHECK(c.process->capabilities->permitted.empty());

    o.bounding_only = false;
    c = spec::parse_config(spec::default_spec_json(o), "spec");
    CHECK(c.process->capabilities->bounding == *o.capabilities);
    CHECK(c.process->capabilities->effective == *o.capabilities);
    CHECK(c.process->capabilities->permitted == *o.capabilities);
}
