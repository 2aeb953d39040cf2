// The startup healthcheck (podman 5's --health-startup-*): flags, config
// record, and the hand-over to the regular healthcheck.
#include <catch2/catch.hpp>

#include "crunlite/app/health.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/json/json.hpp"

using namespace crunlite;
using app::HealthConfig;
using app::HealthOverrides;
using app::HealthState;
using app::ProbeResult;
using app::StartupOutcome;

namespace {

constexpr int64_t kSecond = 1'000'000'000;

ProbeResult probe(int exit_code) {
    ProbeResult r;
    r.start = "2024-05-01T10:00:00Z";
    r.end = "2024-05-01T10:00:01Z";
    r.exit_code = exit_code;
    return r;
}

HealthConfig with_startup(int retries, int success) {
    HealthOverrides o;
    o.cmd = "true";
    o.startup_cmd = "test -f /ready";
    o.startup_interval_ns = kSecond / 10;
    o.startup_retries = retries;
    o.startup_success = success;
    return *app::health_config(std::nullopt, o);
}

}  // namespace

TEST_CASE("--health-startup-* build the startup probe; defaults are podman's", "[health][startup]") {
    HealthOverrides o;
    o.cmd = "true";
    o.startup_cmd = "test -f /ready";
    HealthConfig c = *app::health_config(std::nullopt, o);
    REQUIRE(c.startup);
    CHECK(c.startup->test == std::vector<std::string>{"/bin/sh", "-c", "test -f /ready"});
    CHECK(c.startup->interval_ns == 30 * kSecond);
    CHECK(c.startup->timeout_ns == 30 * kSecond);
    CHECK(c.startup->retries == 0);
    CHECK(c.startup->success == 0);
    // Stored in app.json and read back, and absent without a startup probe.
    json::Document doc = json::parse(app::health_config_json(c), "t");
    CHECK(app::parse_health_config(doc.root()).startup == c.startup);
    o.startup_cmd.reset();
    json::Document none = json::parse(app::health_config_json(*app::health_config(std::nullopt, o)), "t");
    CHECK_FALSE(app::parse_health_config(none.root()).startup);
}

TEST_CASE("startup flags that contradict are refused", "[health][startup]") {
    HealthOverrides o;
    o.startup_retries = 1;
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"), Catch::Contains("need --health-startup-cmd"));
    o = {};
    o.startup_cmd = "x";
    o.startup_success = -1;
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"),
                      Catch::Contains("--health-startup-success must not be negative"));
    o.startup_success.reset();
    o.disable = true;
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"), Catch::Contains("--no-healthcheck (or --health-cmd none) conflicts"));
    o = {};
    o.startup_cmd = "x";
    o.startup_interval_ns = 10;
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"),
                      Catch::Contains("--health-startup-interval must be at least 1ms"));
    // Checked with the image: a startup probe hands over to a regular one, which must exist.
    o = {};
    o.startup_cmd = "x";
    CHECK_THROWS_WITH(app::health_config(std::nullopt, o), Catch::Contains("needs a regular healthcheck"));
}

TEST_CASE("the startup probe hands over after `success` passes in a row", "[health][startup]") {
    HealthConfig c = with_startup(0, 2);
    HealthState s;
    CHECK(app::in_startup(s, c));
    CHECK(app::next_probe_delay(s, c, false) == kSecond / 10);
    CHECK(app::record_startup_probe(s, c, probe(0)) == StartupOutcome::Continue);
    CHECK(app::record_startup_probe(s, c, probe(1)) == StartupOutcome::Continue);  // the streak starts over
    CHECK(app::record_startup_probe(s, c, probe(0)) == StartupOutcome::Continue);
    CHECK(app::record_startup_probe(s, c, probe(0)) == StartupOutcome::Passed);
    CHECK(s.status == "starting");  // the regular check decides healthy
    CHECK(s.log.size() == 4);
    CHECK_FALSE(app::in_startup(s, c));
    CHECK(app::next_probe_delay(s, c, false) == c.interval_ns);
    app::record_probe(s, c, probe(0), false);
    CHECK(s.status == "healthy");
    // Recorded in health.json, so the hand-over survives the tick's process.
    HealthState back = app::parse_health_json(app::health_json(s), "t");
    CHECK(back.startup_done);
}

TEST_CASE("success 0 means one pass; retries failures in a row restart, 0 never", "[health][startup]") {
    HealthConfig once = with_startup(0, 0);
    HealthState s;
    CHECK(app::record_startup_probe(s, once, probe(0)) == StartupOutcome::Passed);
    HealthState never;
    for (int i = 0; i < 20; ++i) CHECK(app::record_startup_probe(never, once, probe(1)) == StartupOutcome::Continue);
    CHECK(never.status == "starting");
    HealthConfig two = with_startup(2, 0);
    HealthState f;
    CHECK(app::record_startup_probe(f, two, probe(1)) == StartupOutcome::Continue);
    CHECK(app::record_startup_probe(f, two, probe(1)) == StartupOutcome::Failed);
    CHECK(f.startup_failures == 0);  // counted afresh for the next run
    CHECK(app::record_startup_probe(f, two, probe(1)) == StartupOutcome::Continue);
    CHECK(app::record_startup_probe(f, two, probe(0)) == StartupOutcome::Passed);
}
