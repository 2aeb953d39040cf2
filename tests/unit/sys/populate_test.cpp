// sys::populate: the whole pages of a range are backed at once, no others.
#include <catch2/catch.hpp>
#include <sys/mman.h>
#include <unistd.h>

#include "crunlite/sys/syscalls.hpp"

TEST_CASE("populate backs the whole pages of the range and no others", "[sys]") {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    REQUIRE(page == 4096);
    void* map = ::mmap(nullptr, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(map != MAP_FAILED);
    auto* base = static_cast<unsigned char*>(map);
    auto resident = [&] {
        unsigned char vec[4];
        REQUIRE(::mincore(map, 4 * page, vec) == 0);
        std::string out;
        for (unsigned char v : vec) out += (v & 1) ? '1' : '0';
        return out;
    };
    CHECK(resident() == "0000");
    crunlite::sys::populate(base, 0);
    crunlite::sys::populate(base + 1, page);  // no whole page
    CHECK(resident() == "0000");
    // From inside page 0 to inside page 3: pages 1 and 2.
    crunlite::sys::populate(base + 1, 3 * page);
    if (::madvise(base + 3 * page, page, 23 /* MADV_POPULATE_WRITE */) != 0) {
        ::munmap(map, 4 * page);
        WARN("this kernel has no MADV_POPULATE_WRITE (Linux 5.14): nothing to check");
        return;
    }
    CHECK(resident() == "0111");
    base[page] = 1;  // writable
    ::munmap(map, 4 * page);
}
