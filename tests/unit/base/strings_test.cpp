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

// go-units' RAMInBytes (runc v1.1.5 vendors v0.4.0): what runc's update takes.
TEST_CASE("ram_in_bytes takes go-units' sizes in binary multiples", "[strings]") {
    constexpr int64_t k = 1024, m = k * k, g = m * k, t = g * k, p = t * k;
    CHECK(ram_in_bytes("1048576") == 1048576);
    CHECK(ram_in_bytes("0") == 0);
    CHECK(ram_in_bytes("64m") == 64 * m);
    CHECK(ram_in_bytes("64M") == 64 * m);
    CHECK(ram_in_bytes("1MiB") == m);
    CHECK(ram_in_bytes("1mib") == m);
    CHECK(ram_in_bytes("1MIB") == m);
    CHECK(ram_in_bytes("100MiB") == 100 * m);
    CHECK(ram_in_bytes("1GiB") == g);
    CHECK(ram_in_bytes("1KiB") == k);
    CHECK(ram_in_bytes("1kB") == k);
    CHECK(ram_in_bytes("1kb") == k);
    CHECK(ram_in_bytes("10Mi") == 10 * m);
    CHECK(ram_in_bytes("64 M") == 64 * m);
    CHECK(ram_in_bytes("64 MiB") == 64 * m);
    CHECK(ram_in_bytes("2t") == 2 * t);
    CHECK(ram_in_bytes("1p") == p);
    CHECK(ram_in_bytes("1PiB") == p);
    // No prefix: bytes, with the optional "i" and "b" still.
    CHECK(ram_in_bytes("12b") == 12);
    CHECK(ram_in_bytes("12B") == 12);
    CHECK(ram_in_bytes("12i") == 12);
    CHECK(ram_in_bytes("12ib") == 12);
    CHECK(ram_in_bytes("12 ") == 12);
    // Fractions: the float product, cut toward 0.
    CHECK(ram_in_bytes("1.5g") == g + g / 2);
    CHECK(ram_in_bytes("1.5k") == 1536);
    CHECK(ram_in_bytes("0.5") == 0);
    CHECK(ram_in_bytes("1.9") == 1);
    CHECK(ram_in_bytes("0.001k") == 1);
    CHECK(ram_in_bytes("007m") == 7 * m);
    CHECK(ram_in_bytes("8191p") == 8191 * p);
}

TEST_CASE("ram_in_bytes refuses what RAMInBytes refuses", "[strings]") {
    for (const char* bad : {"", " ", " 1", "1  ", "1 m ", "-1", "-5m", "+1", "lots", "m", "1x", "1e3", "1.", ".5",
                            "1.2.3", "1,5", "1mm", "1bi", "1mbb", "1m b", "1E", "1Kk", "0x10", "1_000", "1\t", "1\n"})
        CHECK_FALSE(ram_in_bytes(bad));
    // Past int64, which Go wraps: refused.
    CHECK_FALSE(ram_in_bytes("8192p"));
    CHECK_FALSE(ram_in_bytes("9223372036854775808"));
    CHECK_FALSE(ram_in_bytes(std::string(400, '9')));
    CHECK(ram_in_bytes("9223372036854774784") == 9223372036854774784);
}
