// logs --tail: where the last lines of a container's log start (tail_offset),
// on files of a temporary directory.
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
