#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <regex>

#include "crunlite/base/strings.hpp"

using namespace crunlite;

TEST_CASE("rfc3339_utc_now is UTC with nanoseconds, whatever TZ says", "[strings]") {
    ::setenv("TZ", "America/New_York", 1);
    ::tzset();
    // The bounds from the clock rfc3339_utc_now reads: time() may lag it by a
    // clock tick, and so be a second behind just after a second begins.
    auto seconds_now = [] {
        struct timespec ts;
        ::clock_gettime(CLOCK_REALTIME, &ts);
        return ts.tv_sec;
    };
    std::time_t before = seconds_now();
    std::string now = rfc3339_utc_now();
    std::time_t after = seconds_now();
    ::unsetenv("TZ");
    ::tzset();
    REQUIRE(std::regex_match(now, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z)")));
    struct tm tm {};
    REQUIRE(::strptime(now.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr);
    std::time_t t = ::timegm(&tm);
    CHECK(t >= before);
    CHECK(t <= after);
}

TEST_CASE("rfc3339_utc: a time in ns, also before 1970", "[strings]") {
    CHECK(rfc3339_utc(0) == "1970-01-01T00:00:00.000000000Z");
    CHECK(rfc3339_utc(1'764'745'200'250'000'001) == "2025-12-03T07:00:00.250000001Z");
    CHECK(rfc3339_utc(-1) == "1969-12-31T23:59:59.999999999Z");
}

TEST_CASE("absolute_path: against the working directory, cleaned as Go's filepath.Abs", "[strings]") {
    char buf[4096];
    REQUIRE(::getcwd(buf, sizeof buf));
    std::string cwd = buf;
    CHECK(absolute_path("/a/b") == "/a/b");
    CHECK(absolute_path("/") == "/");
    CHECK(absolute_path("/tmp//b/") == "/tmp/b");
    CHECK(absolute_path("/tmp/w/../b/./rootfs") == "/tmp/b/rootfs");
    CHECK(absolute_path("/..") == "/");
    CHECK(absolute_path("/a/.hidden/x") == "/a/.hidden/x");
    CHECK(absolute_path("") == cwd);
    CHECK(absolute_path(".") == cwd);
    CHECK(absolute_path("x/y/") == (cwd == "/" ? "" : cwd) + "/x/y");
    CHECK(absolute_path("../" + std::string(200, 'a')).rfind('/') != std::string::npos);
}
