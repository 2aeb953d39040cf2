#include <signal.h>

#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/runtime/container.hpp"

using crunlite::runtime::parse_signal;

TEST_CASE("signals by number, name and SIG-prefixed name", "[signal]") {
    CHECK(parse_signal("15") == SIGTERM);
    CHECK(parse_signal("9") == SIGKILL);
    CHECK(parse_signal("TERM") == SIGTERM);
    CHECK(parse_signal("SIGKILL") == SIGKILL);
    CHECK(parse_signal("sigusr1") == SIGUSR1);
    CHECK(parse_signal("HUP") == SIGHUP);
    CHECK(parse_signal("RTMIN") == SIGRTMIN);
    CHECK(parse_signal("RTMIN+3") == SIGRTMIN + 3);
    CHECK(parse_signal("SIGRTMAX-1") == SIGRTMAX - 1);
    // runc's (Go's) name for 29, which glibc calls POLL: both.
    CHECK(parse_signal("IO") == SIGIO);
    CHECK(parse_signal("SIGIO") == SIGIO);
    CHECK(parse_signal("POLL") == SIGIO);
}

TEST_CASE("bad signals are errors naming the input", "[signal]") {
    CHECK_THROWS_WITH(parse_signal("NOPE"), "unknown signal \"NOPE\"");  // runc's words
    CHECK_THROWS_WITH(parse_signal("0"), Catch::Contains("invalid signal"));
    CHECK_THROWS_WITH(parse_signal("999"), Catch::Contains("invalid signal"));
    CHECK_THROWS(parse_signal("RTMIN+99"));
}
