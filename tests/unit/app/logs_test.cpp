// logs: where the last lines of a container's log start (tail_offset, on files
// of a temporary directory), and what its records say (parse_log_record).
#include <catch2/catch.hpp>

#include <fcntl.h>

#include <fstream>
#include <string>

#include "crunlite/app/image_run.hpp"
#include "crunlite/sys/fd.hpp"
#include "../temp_dir.hpp"

using namespace crunlite;

TEST_CASE("logs --tail: where the last N lines of the log start", "[app][logs]") {
    testing::TempDir t("crl-tail");
    auto offset = [&](const std::string& text, int64_t lines) {
        std::string path = t.path + "/log";
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
        sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        REQUIRE(fd);
        return app::tail_offset(fd.get(), lines);
    };
    CHECK(offset("a\nb\nc\n", 1) == 4);
    CHECK(offset("a\nb\nc\n", 2) == 2);
    CHECK(offset("a\nb\nc\n", 3) == 0);
    CHECK(offset("a\nb\nc\n", 9) == 0);
    CHECK(offset("a\nb\nc", 1) == 4);  // a last line without its newline
    CHECK(offset("a\nb\nc\n", 0) == 6);
    CHECK(offset("", 3) == 0);
    std::string big(100000, 'x');
    CHECK(offset(big + "\n" + big + "\n", 1) == 100001);  // across the 64 KiB reads
}

TEST_CASE("log records: crun-lite-monitor's CRI lines, and what is none", "[app][logs]") {
    auto r = app::parse_log_record("2026-12-07T15:04:05.123456789Z stdout F hello world");
    REQUIRE(r);
    CHECK(r->stamp == "2026-12-07T15:04:05.123456789Z");
    CHECK(r->time_ns == 1796655845123456789);
    CHECK_FALSE(r->err);
    CHECK_FALSE(r->partial);
    CHECK(r->text == "hello world");
    r = app::parse_log_record("2026-12-07T15:04:05.000000001Z stderr P ");
    REQUIRE(r);
    CHECK((r->err && r->partial && r->text.empty()));
    for (const char* none : {"", "crun-lite: warning: a watcher's message", "2026-12-07T15:04:05Z stdin F x",
                             "2026-12-07T15:04:05Z stdout X x", "2026-12-07T15:04:05Z stdout F",
                             "2026-12-07 15:04:05Z stdout F x", "not-a-time-at-all-here stdout F x"}) {
        INFO(none);
        CHECK_FALSE(app::parse_log_record(none));
    }
}
