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
