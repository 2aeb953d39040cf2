#include <catch2/catch.hpp>

#include "crunlite/app/restart.hpp"
#include "crunlite/base/error.hpp"

using namespace crunlite;
using app::decide_restart;
using app::HealthAction;
using app::next_backoff_ms;
using app::parse_restart_policy;
using app::RestartPolicy;
using app::RestartRecord;

namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        CHECK(e.code() == EINVAL);
        return e.message();
    }
    FAIL("no error");
    return "";
}

}  // namespace

TEST_CASE("restart policies parse as Docker's", "[restart]") {
    CHECK(parse_restart_policy("no", "--restart") == RestartPolicy{"no", 0});
    CHECK(parse_restart_policy("always", "--restart") == RestartPolicy{"always", 0});
    CHECK(parse_restart_policy("unless-stopped", "--restart") == RestartPolicy{"unless-stopped", 0});
    CHECK(parse_restart_policy("on-failure", "--restart") == RestartPolicy{"on-failure", 0});
    CHECK(parse_restart_policy("on-failure:5", "--restart") == RestartPolicy{"on-failure", 5});
    CHECK(parse_restart_policy("on-failure:0", "--restart") == RestartPolicy{"on-failure", 0});
}

TEST_CASE("bad restart policies are refused naming the flag and why", "[restart]") {
    CHECK(error_of([] { parse_restart_policy("sometimes", "run: --restart"); }) ==
          "run: --restart: unknown restart policy `sometimes` (want no, on-failure[:N], always or unless-stopped)");
    CHECK_THAT(error_of([] { parse_restart_policy("on-failure:-1", "--restart"); }),
               Catch::Contains("N must be a number of restarts") && Catch::Contains("`-1`"));
    CHECK_THAT(error_of([] { parse_restart_policy("on-failure:x", "--restart"); }), Catch::Contains("`x`"));
    CHECK_THAT(error_of([] { parse_restart_policy("on-failure:", "--restart"); }), Catch::Contains("N must be"));
    CHECK_THAT(error_of([] { parse_restart_policy("always:3", "--restart"); }),
               Catch::Contains("applies to on-failure only, not to always"));
    CHECK_THAT(error_of([] { parse_restart_policy("", "--restart"); }), Catch::Contains("unknown restart policy"));
}

TEST_CASE("health-on-failure actions", "[restart]") {
    for (auto a : {HealthAction::None, HealthAction::Kill, HealthAction::Restart, HealthAction::Stop})
        CHECK(app::parse_health_action(app::health_action_name(a), "f") == a);
    CHECK(error_of([] { app::parse_health_action("explode", "--health-on-failure"); }) ==
          "--health-on-failure: unknown action `explode` (want none, kill, restart or stop)");
}

TEST_CASE("the backoff doubles from 100 ms, caps at a minute and resets after a 10 s run", "[restart]") {
    std::vector<int64_t> delays;
    int64_t d = 0;
    for (int i = 0; i < 12; ++i) delays.push_back(d = next_backoff_ms(d, 50));
    CHECK(delays == std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000});
    CHECK(next_backoff_ms(60000, 9999) == 60000);
    CHECK(next_backoff_ms(60000, 10000) == 100);
    CHECK(next_backoff_ms(0, 100000) == 100);
}

TEST_CASE("restart or not, by policy and record", "[restart]") {
    RestartRecord r;
    SECTION("no never restarts; a stop request wins over everything") {
        CHECK_FALSE(decide_restart({"no", 0}, r, 1, 5).restart);
        r.stop_requested = true;
        r.restart_requested = "health";
        auto d = decide_restart({"always", 0}, r, 1, 5);
        CHECK_FALSE(d.restart);
        CHECK(d.why == "a stop was requested");
    }
    SECTION("on-failure: non-zero exits only, at most N restarts") {
        CHECK_FALSE(decide_restart({"on-failure", 0}, r, 0, 5).restart);
        auto d = decide_restart({"on-failure", 2}, r, 137, 5);
        CHECK(d.restart);
        CHECK(d.delay_ms == 100);
        r.restart_count = 2;
        d = decide_restart({"on-failure", 2}, r, 1, 5);
        CHECK_FALSE(d.restart);
        CHECK(d.why == "on-failure:2: restarted 2 times already");
        CHECK(decide_restart({"on-failure", 0}, r, 1, 5).restart);  // 0: no limit
    }
    SECTION("always and unless-stopped restart every exit, with the backoff") {
        r.backoff_ms = 400;
        for (const char* name : {"always", "unless-stopped"}) {
            auto d = decide_restart({name, 0}, r, 0, 5);
            CHECK(d.restart);
            CHECK(d.delay_ms == 800);
            CHECK(decide_restart({name, 0}, r, 0, 10'000).delay_ms == 100);
        }
    }
    SECTION("a restart a healthcheck asked for happens whatever the policy") {
        r.restart_requested = "startup";
        auto d = decide_restart({"no", 0}, r, 0, 5);
        CHECK(d.restart);
        CHECK(d.why == "the startup healthcheck failed");
        r.restart_requested = "health";
        r.restart_count = 9;
        CHECK(decide_restart({"on-failure", 1}, r, 0, 5).restart);
    }
}

TEST_CASE("the restart record round-trips and rejects what it never writes", "[restart]") {
    RestartRecord r;
    CHECK(app::parse_restart_record(app::restart_record_json(r), "r") == r);
    r.restart_count = 3;
    r.backoff_ms = 400;
    r.stop_requested = true;
    r.restart_requested = "health";
    r.restarting = true;
    r.exit_code = 137;
    r.finished_at = "2026-12-03T09:00:00Z";
    r.started_ns = 123;
    r.error = "unable to start container process: exec: \"sh\": executable file not found in $PATH";
    CHECK(app::parse_restart_record(app::restart_record_json(r), "r") == r);
    CHECK_THROWS_WITH(app::parse_restart_record(R"({"RestartCount":0,"Backoff":0,"StopRequested":false,
        "RestartRequested":"","Restarting":false,"FinishedAt":"","StartedAt":0,"Error":7})", "r"),
                      Catch::Contains("Error"));
    CHECK_THROWS_WITH(app::parse_restart_record(R"({"RestartCount":-1,"Backoff":0,"StopRequested":false,
        "RestartRequested":"","Restarting":false,"FinishedAt":"","StartedAt":0})", "r"),
                      Catch::Contains("RestartCount") && Catch::Contains("must not be negative"));
    CHECK_THROWS_WITH(app::parse_restart_record(R"({"RestartCount":0,"Backoff":0,"StopRequested":false,
        "RestartRequested":"why not","Restarting":false,"FinishedAt":"","StartedAt":0})", "r"),
                      Catch::Contains("RestartRequested"));
    CHECK_THROWS_WITH(app::parse_restart_record(R"({"RestartCount":0})", "r"), Catch::Contains("Backoff"));
}

TEST_CASE("flags that restart need run -d and conflict with --rm", "[restart]") {
    app::HealthOverrides h;
    auto check = [&](RestartPolicy p, std::optional<HealthAction> a, bool detach, bool remove) {
        return error_of([&] { app::check_restart_flags(p, a, h, detach, remove, "run"); });
    };
    CHECK_NOTHROW(app::check_restart_flags({"always", 0}, HealthAction::Restart, h, true, false, "run"));
    CHECK_NOTHROW(app::check_restart_flags({"no", 0}, HealthAction::Kill, h, false, true, "run"));
    CHECK(check({"always", 0}, std::nullopt, true, true) ==
          "run: --restart always conflicts with --rm (a container to restart is not deleted when it exits)");
    CHECK(check({"on-failure", 3}, std::nullopt, false, false) ==
          "run: --restart on-failure needs run -d (the monitor of a detached container restarts it)");
    CHECK_THAT(check({"no", 0}, HealthAction::Restart, true, true),
               Catch::Contains("--health-on-failure restart conflicts"));
    h.startup_retries = 2;
    CHECK_THAT(check({"no", 0}, std::nullopt, false, false), Catch::Contains("--health-startup-retries 2 needs run -d"));
    h = {};
    h.disable = true;
    CHECK_THAT(check({"no", 0}, HealthAction::Stop, true, false), Catch::Contains("conflicts with --no-healthcheck"));
}

TEST_CASE("which containers may be restarted (and keep their namespaces)", "[restart]") {
    CHECK_FALSE(app::may_restart({"no", 0}, HealthAction::Kill, std::nullopt));
    CHECK(app::may_restart({"on-failure", 0}, HealthAction::None, std::nullopt));
    CHECK(app::may_restart({"no", 0}, HealthAction::Restart, std::nullopt));
    app::HealthConfig hc;
    hc.startup = app::StartupProbe{};
    CHECK_FALSE(app::may_restart({"no", 0}, HealthAction::None, hc));
    hc.startup->retries = 1;
    CHECK(app::may_restart({"no", 0}, HealthAction::None, hc));
}
