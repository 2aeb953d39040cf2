// The event log: Docker's event JSON, its parse, times as `events --since`
// takes them, reading with filters, offsets and a rotated part.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/state/events.hpp"
#include "crunlite/state/store.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "temp_dir.hpp"

using namespace crunlite;

namespace {

struct Root {
    testing::TempDir tmp{"crl-events"};
    const std::string& dir = tmp.path;
};

state::Event event(const char* action, const char* id, int64_t t) {
    state::Event e;
    e.action = action;
    e.id = id;
    e.time_ns = t;
    return e;
}

}  // namespace

TEST_CASE("events: Docker's fields, and back", "[events]") {
    state::State st;
    st.id = "web";
    st.annotations = {{"org.crun-lite.image", "sha256:abc"}, {"org.crun-lite.rootfs.overlay", "lowerdir=..."},
                      {"com.example.team", "a"}};
    state::Event e = state::container_event(st, "die");
    e.attributes["exitCode"] = "3";
    e.time_ns = 1'764'745'200'123'456'789;
    CHECK(state::event_json(e) ==
          R"({"status":"die","id":"web","from":"sha256:abc","Type":"container","Action":"die",)"
          R"("Actor":{"ID":"web","Attributes":{"com.example.team":"a","exitCode":"3","image":"sha256:abc",)"
          R"("name":"web"}},"scope":"local","time":1764745200,"timeNano":1764745200123456789})");
    CHECK(state::parse_event(state::event_json(e)) == e);
    CHECK_FALSE(state::parse_event("{\"status\":\"die\""));  // torn line
    CHECK_FALSE(state::parse_event("not json"));
}

TEST_CASE("events: --since/--until times", "[events]") {
    CHECK(state::parse_event_time("1764745200") == 1'764'745'200'000'000'000);
    CHECK(state::parse_event_time("1764745200.25") == 1'764'745'200'250'000'000);
    CHECK(state::parse_event_time("2026-12-03T07:00:00Z") == 1'796'281'200'000'000'000);
    CHECK(state::parse_event_time("2026-12-03T08:00:00.5+01:00") == 1'796'281'200'500'000'000);
    CHECK(state::parse_event_time("2026-12-03T07:30:00+00:30") == 1'796'281'200'000'000'000);
    CHECK(state::parse_event_time("2026-12-03T06:30:00-00:30") == 1'796'281'200'000'000'000);
    CHECK(state::parse_event_time("2026-12-03T07:00Z") == 1'796'281'200'000'000'000);  // Docker's shorter forms
    CHECK(state::parse_event_time("2026-12-03T08+01:00") == 1'796'281'200'000'000'000);
    {
        // No zone: local time (Docker's and podman's).
        const char* tz = std::getenv("TZ");
        std::string saved = tz ? tz : "";
        ::setenv("TZ", "UTC-1", 1);  // POSIX: one hour east of UTC
        ::tzset();
        CHECK(state::parse_event_time("2026-12-03T08:00:00") == 1'796'281'200'000'000'000);
        CHECK(state::parse_event_time("2026-12-03T08:00") == 1'796'281'200'000'000'000);
        CHECK(state::parse_event_time("2026-12-03T08:00:00.5") == 1'796'281'200'500'000'000);
        CHECK(state::parse_event_time("2026-12-03") == 1'796'281'200'000'000'000 - 8 * 3'600'000'000'000);
        if (tz) ::setenv("TZ", saved.c_str(), 1);
        else ::unsetenv("TZ");
        ::tzset();
    }
    CHECK_FALSE(state::parse_event_time("10m"));
    CHECK_FALSE(state::parse_event_time("2026-12-03T08:00.5"));  // a fraction needs the seconds
    CHECK_FALSE(state::parse_event_time("2026-12-03 08:00:00"));
    CHECK_FALSE(state::parse_event_time("2026-12-03T07:00:00+0100"));
    // Each field with its digits exactly, in range.
    for (const char* bad : {"2026-1-3", " 2026-12-03", "2026-12-03T 8:00Z", "2026-02-31", "2026-02-29",
                            "2026-12-03T08:00:60Z", "2026-12-03T24:00Z", "2026-12-03T08:00Z ", "2026-12-03T08:00+-1:00",
                            "2026-12-03T08:", "2026-12-03T08 Z", "2026-12-03T08:00:00.Z"})
        CHECK_FALSE(state::parse_event_time(bad));
    CHECK(state::parse_event_time("2028-02-29T00:00Z"));  // a leap year
    CHECK_FALSE(state::parse_event_time("1764745200."));
    CHECK_FALSE(state::parse_event_time(""));
}

TEST_CASE("events: appended and read with filters; a follower reads only what is new", "[events]") {
    Root r;
    state::append_event(r.dir, event("start", "a", 100));
    state::append_event(r.dir, event("start", "b", 200));
    state::append_event(r.dir, event("die", "a", 300));
    uint64_t offset = 0;
    auto all = state::read_events(r.dir, 0, 0, {}, offset, true);
    REQUIRE(all.size() == 3);
    CHECK(all[2] == event("die", "a", 300));
    uint64_t o2 = 0;
    CHECK(state::read_events(r.dir, 0, 0, {"a"}, o2, true).size() == 2);
    uint64_t o3 = 0;
    auto window = state::read_events(r.dir, 200, 300, {}, o3, true);  // since <= t < until
    REQUIRE(window.size() == 1);
    CHECK(window[0].id == "b");
    CHECK(state::read_events(r.dir, 0, 0, {}, offset, false).empty());
    state::append_event(r.dir, event("health_status: healthy", "b", 400));
    auto fresh = state::read_events(r.dir, 0, 0, {}, offset, false);
    REQUIRE(fresh.size() == 1);
    CHECK(fresh[0].action == "health_status: healthy");
    // A line being written (no newline yet) waits for its end.
    sys::UniqueFd fd(::open((r.dir + "/@events.jsonl").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    REQUIRE(::write(fd.get(), "{\"status\"", 9) == 9);
    CHECK(state::read_events(r.dir, 0, 0, {}, offset, false).empty());
}

TEST_CASE("events: the log is rotated once past its bound", "[events]") {
    Root r;
    std::string pad(1000, 'x');
    state::Event big = event("start", "a", 1);
    big.attributes["pad"] = pad;
    size_t n = state::kMaxLogBytes / 1000 + 10;
    for (size_t i = 0; i < n; ++i) state::append_event(r.dir, big);
    CHECK(::access((r.dir + "/@events.jsonl.1").c_str(), F_OK) == 0);
    uint64_t offset = 0;
    CHECK(state::read_events(r.dir, 0, 0, {}, offset, true).size() == n);  // both parts
}

TEST_CASE("events: the last die of a container's run, with its exit code and time", "[events]") {
    Root r;
    const char* created = "1970-01-01T00:00:00.000000100Z";  // 100 ns
    auto die = [](const char* id, int64_t t, const char* code) {
        state::Event e = event("die", id, t);
        if (code) e.attributes["exitCode"] = code;
        return e;
    };
    CHECK_FALSE(state::last_die(r.dir, "a", created));
    state::append_event(r.dir, die("a", 50, "9"));  // an earlier container of the same id
    state::append_event(r.dir, event("start", "a", 150));
    state::append_event(r.dir, die("a", 200, "3"));
    state::append_event(r.dir, die("b", 250, "4"));
    state::append_event(r.dir, die("a", 300, nullptr));  // no code: not an exit
    auto last = state::last_die(r.dir, "a", created);
    REQUIRE(last);
    CHECK(last->time_ns == 200);
    CHECK(last->exit_code == 3);
    CHECK(state::die_exit_code(r.dir, "a", created) == 3);
    CHECK_FALSE(state::last_die(r.dir, "a", created, 250));  // a later run has not died
    CHECK_FALSE(state::last_die(r.dir, "a", "not a time"));
}
