#include <catch2/catch.hpp>

#include "crunlite/app/wait.hpp"
#include "crunlite/base/error.hpp"

using namespace crunlite;
using app::decide;
using app::Observation;
using app::Verdict;
using app::WaitCondition;
using state::Status;

namespace {

using Conditions = std::vector<WaitCondition>;
constexpr WaitCondition kRunning = WaitCondition::Running, kHealthy = WaitCondition::Healthy,
                        kUnhealthy = WaitCondition::Unhealthy, kStopped = WaitCondition::Stopped;

Observation seen(Status status, std::optional<int> exit_code = std::nullopt) {
    Observation o;
    o.seen = true;
    o.status = status;
    o.exit_code = exit_code;
    return o;
}

Observation with_health(Observation o, const std::string& status, int exit_code = 0, std::string output = "") {
    app::HealthState h;
    h.status = status;
    if (!output.empty() || exit_code != 0) {
        app::ProbeResult r;
        r.exit_code = exit_code;
        r.output = std::move(output);
        h.log.push_back(r);
    }
    o.health = h;
    return o;
}

}  // namespace

TEST_CASE("wait conditions: podman's names, exited = stopped", "[app][wait]") {
    CHECK(app::parse_wait_condition("running", "--condition") == kRunning);
    CHECK(app::parse_wait_condition("healthy", "--condition") == kHealthy);
    CHECK(app::parse_wait_condition("unhealthy", "--condition") == kUnhealthy);
    CHECK(app::parse_wait_condition("stopped", "--condition") == kStopped);
    CHECK(app::parse_wait_condition("exited", "--condition") == kStopped);
    for (const char* bad : {"", "Running", "paused", "created", "stopped ", "healthy,running"}) {
        INFO(bad);
        CHECK_THROWS_AS(app::parse_wait_condition(bad, "wait: --condition"), Error);
        CHECK_THROWS_WITH(app::parse_wait_condition(bad, "wait: --condition"),
                          Catch::StartsWith("wait: --condition: unknown condition `" + std::string(bad) + "`"));
    }
    CHECK(std::string(app::wait_condition_name(kUnhealthy)) == "unhealthy");
}

TEST_CASE("wait: a missing container ends the wait, named as never seen or deleted", "[app][wait]") {
    Observation o;
    o.exists = false;
    Verdict v = decide({kStopped}, o);
    CHECK(v.kind == Verdict::Impossible);
    CHECK(v.reason == "does not exist");
    o.seen = true;
    v = decide({kRunning, kHealthy}, o);
    CHECK(v.kind == Verdict::Impossible);
    CHECK(v.reason == "was deleted while waiting for it to be running or healthy");
}

TEST_CASE("wait: deleted after its exit code was read (run --rm), it stopped with that code", "[app][wait]") {
    Observation o;
    o.exists = false;
    o.seen = true;
    o.exit_code = 5;
    Verdict v = decide({kStopped}, o);
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == 5);
    v = decide({kRunning}, o);
    CHECK(v.kind == Verdict::Impossible);
    CHECK(v.reason == "exited with code 5 before it was running");
    v = decide({kHealthy}, o);
    CHECK(v.reason == "exited with code 5 before it was healthy");
}

TEST_CASE("wait stopped: the exit code once recorded; a missing record is awaited, then an error", "[app][wait]") {
    for (Status alive : {Status::Created, Status::Running, Status::Paused})
        CHECK(decide({kStopped}, seen(alive)).kind == Verdict::Waiting);
    Verdict v = decide({kStopped}, seen(Status::Stopped, 3));
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == 3);
    CHECK(decide({kStopped}, seen(Status::Stopped, 137)).exit_code == 137);
    // Stopped, the monitor has not written the record yet: keep waiting.
    Observation o = seen(Status::Stopped);
    CHECK(decide({kStopped}, o).kind == Verdict::Waiting);
    o.exit_overdue = true;  // nobody will write it
    v = decide({kStopped}, o);
    CHECK(v.kind == Verdict::Impossible);
    CHECK_THAT(v.reason, Catch::Contains("no exit code was recorded") && Catch::Contains("run -d"));
}

TEST_CASE("wait running: reached only while running; a stopped container never will be", "[app][wait]") {
    Verdict v = decide({kRunning}, seen(Status::Running));
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == -1);  // podman prints -1 for conditions other than stopped
    CHECK(decide({kRunning}, seen(Status::Created)).kind == Verdict::Waiting);
    CHECK(decide({kRunning}, seen(Status::Paused)).kind == Verdict::Waiting);
    v = decide({kRunning}, seen(Status::Stopped, 2));
    CHECK(v.kind == Verdict::Impossible);
    CHECK(v.reason == "exited with code 2 before it was running");
    // The exit record is awaited for the message too.
    CHECK(decide({kRunning}, seen(Status::Stopped)).kind == Verdict::Waiting);
    Observation o = seen(Status::Stopped);
    o.exit_overdue = true;
    CHECK(decide({kRunning}, o).reason == "stopped (no exit code was recorded) before it was running");
}

TEST_CASE("wait healthy: healthy reached, unhealthy or no healthcheck impossible", "[app][wait]") {
    Verdict v = decide({kHealthy}, with_health(seen(Status::Running), "healthy"));
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == -1);
    CHECK(decide({kHealthy}, with_health(seen(Status::Running), "starting")).kind == Verdict::Waiting);
    CHECK(decide({kHealthy}, with_health(seen(Status::Created), "starting")).kind == Verdict::Waiting);
    v = decide({kHealthy}, with_health(seen(Status::Running), "unhealthy", 1, "broken\n"));
    CHECK(v.kind == Verdict::Impossible);
    CHECK(v.reason == "is unhealthy; last probe (exit 1): broken");
    v = decide({kHealthy}, seen(Status::Running));
    CHECK(v.kind == Verdict::Impossible);
    CHECK(v.reason == "has no healthcheck (waiting for healthy)");
    v = decide({kHealthy}, with_health(seen(Status::Stopped, 0), "starting", 7, "not yet"));
    CHECK(v.kind == Verdict::Impossible);
    CHECK(v.reason == "exited with code 0 before it was healthy; last probe (exit 7): not yet");
    // A stale "healthy" of a stopped container is not healthy.
    CHECK(decide({kHealthy}, with_health(seen(Status::Stopped, 0), "healthy")).kind == Verdict::Impossible);
}

TEST_CASE("wait for health: a status nothing updates any more is no answer", "[app][wait]") {
    Observation o = with_health(seen(Status::Running), "healthy", 0, "ok");
    o.health_stale = true;  // its monitor was killed
    for (WaitCondition c : {kHealthy, kUnhealthy}) {
        Verdict v = decide({c}, o);
        CHECK(v.kind == Verdict::Impossible);
        CHECK(v.reason == "is healthy by a healthcheck that no longer runs (its crun-lite-monitor is gone); "
                          "last probe (exit 0): ok");
    }
    CHECK(decide({kHealthy, kStopped}, o).kind == Verdict::Waiting);  // it can still stop
}

TEST_CASE("wait unhealthy: a healthy container may still turn unhealthy", "[app][wait]") {
    CHECK(decide({kUnhealthy}, with_health(seen(Status::Running), "healthy")).kind == Verdict::Waiting);
    CHECK(decide({kUnhealthy}, with_health(seen(Status::Running), "starting")).kind == Verdict::Waiting);
    Verdict v = decide({kUnhealthy}, with_health(seen(Status::Running), "unhealthy", 1, "x"));
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == -1);
    CHECK(decide({kUnhealthy}, seen(Status::Running)).reason == "has no healthcheck (waiting for unhealthy)");
    CHECK(decide({kUnhealthy}, seen(Status::Stopped, 1)).reason == "exited with code 1 before it was unhealthy");
    // Stopped unhealthy (--health-on-failure stop, or killed): reached, as inspect shows it.
    v = decide({kUnhealthy}, with_health(seen(Status::Stopped, 143), "unhealthy", 1, "x"));
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == -1);
    for (const auto& asked : {Conditions{kUnhealthy, kStopped}, Conditions{kStopped, kUnhealthy}}) {
        v = decide(asked, with_health(seen(Status::Stopped, 143), "unhealthy"));
        CHECK((v.kind == Verdict::Reached && v.exit_code == 143));  // stopped wins, in either order
    }
    v = decide({kHealthy}, with_health(seen(Status::Stopped, 0), "healthy"));
    CHECK(v.kind == Verdict::Impossible);  // a stopped container is never healthy
    CHECK(v.reason == "exited with code 0 before it was healthy");
}

TEST_CASE("wait with several conditions: any reached; impossible only when all are", "[app][wait]") {
    // No healthcheck, but it can still stop.
    CHECK(decide({kHealthy, kStopped}, seen(Status::Running)).kind == Verdict::Waiting);
    Verdict v = decide({kHealthy, kStopped}, seen(Status::Stopped, 4));
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == 4);
    // Unhealthy ends healthy, and reaches unhealthy.
    v = decide({kHealthy, kUnhealthy}, with_health(seen(Status::Running), "unhealthy"));
    CHECK(v.kind == Verdict::Reached);
    v = decide({kRunning, kHealthy}, with_health(seen(Status::Created), "starting"));
    CHECK(v.kind == Verdict::Waiting);
    v = decide({kRunning, kHealthy, kRunning}, seen(Status::Stopped, 9));
    CHECK(v.kind == Verdict::Impossible);
    CHECK(v.reason == "exited with code 9 before it was running or healthy");
    v = decide({kHealthy, kUnhealthy}, seen(Status::Paused));
    CHECK(v.reason == "has no healthcheck (waiting for healthy or unhealthy)");
    // Running reached first among the conditions given.
    v = decide({kHealthy, kRunning}, with_health(seen(Status::Running), "starting"));
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == -1);
}

TEST_CASE("wait: a timeout says what was waited for and what was seen", "[app][wait]") {
    CHECK(app::timeout_reason({kStopped}, seen(Status::Running), 5'000'000'000) ==
          "not stopped after 5s (status running)");
    CHECK(app::timeout_reason({kHealthy}, with_health(seen(Status::Running), "starting", 1, "nope"), 1'500'000'000) ==
          "not healthy after 1500ms (status running, health starting); last probe (exit 1): nope");
    CHECK(app::timeout_reason({kRunning, kStopped}, seen(Status::Created), 0) ==
          "not running or stopped after 0s (status created)");
    CHECK(app::timeout_reason({kStopped}, seen(Status::Stopped), 250'000'000) ==
          "not stopped after 250ms (status stopped, its exit code not recorded yet)");
}

TEST_CASE("wait: a container waiting its restart when the wait began has not stopped", "[app][wait]") {
    Observation o = seen(Status::Stopped, 3);
    o.restarting = true;
    o.exit_overdue = true;
    CHECK(decide({kStopped}, o).kind == Verdict::Waiting);
    // Nor does it end a wait for running or healthy: it runs again soon.
    CHECK(decide({kRunning}, o).kind == Verdict::Waiting);
    CHECK(decide({kHealthy}, with_health(o, "starting")).kind == Verdict::Waiting);
    // An exit after the wait began (the waiter does not mark it restarting), or the
    // loop's end: the exit is the result.
    o.restarting = false;
    Verdict v = decide({kStopped}, o);
    CHECK(v.kind == Verdict::Reached);
    CHECK(v.exit_code == 3);
}
