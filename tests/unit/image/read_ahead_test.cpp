// ReadAhead: a reader thread ahead of its consumer, bounded, in order, its
// errors delivered after the bytes before them, and stoppable while blocked.
#include <catch2/catch.hpp>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/image/read_ahead.hpp"
#include "crunlite/sys/fd.hpp"

using namespace crunlite;

namespace {

// `data` handed out `step` bytes (or fewer) per call; counts what was taken.
struct Source {
    std::string data;
    size_t step;
    size_t pos = 0;
    std::atomic<size_t> taken{0};
    size_t operator()(void* buf, size_t len) {
        size_t n = std::min({len, step, data.size() - pos});
        std::copy_n(data.data() + pos, n, static_cast<char*>(buf));
        pos += n;
        taken += n;
        return n;
    }
};

size_t pipe_bytes(int fd) {
    int n = 0;
    REQUIRE(::ioctl(fd, FIONREAD, &n) == 0);
    return static_cast<size_t>(n);
}

std::string pattern(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 13) % 26);
    return s;
}

}  // namespace

TEST_CASE("read-ahead hands out every byte in order", "[read_ahead]") {
    for (size_t step : {1, 5, 64, 1000}) {
        for (size_t want : {1, 3, 100, 4096}) {
            Source src{pattern(10007), step};
            image::ReadAhead ahead([&](void* b, size_t n) { return src(b, n); }, {}, 64, 3);
            std::string got;
            std::string buf(want, '\0');
            while (size_t n = ahead.read(buf.data(), want)) got.append(buf.data(), n);
            CHECK(got == src.data);
            CHECK(ahead.read(buf.data(), want) == 0);  // the end stays the end
            CHECK(ahead.finish() == 0);
        }
    }
}

TEST_CASE("read-ahead reads at most its chunks ahead, and finish counts what was not handed out", "[read_ahead]") {
    Source src{pattern(100000), 10};
    image::ReadAhead ahead([&](void* b, size_t n) { return src(b, n); }, {}, 100, 4);
    char buf[250];
    REQUIRE(ahead.read(buf, sizeof buf) == 100);  // one chunk at a time
    REQUIRE(ahead.read(buf, 30) == 30);
    CHECK(std::string(buf, 30) == src.data.substr(100, 30));
    uint64_t unread = ahead.finish();
    // 130 handed out; the reader is at most 4 chunks (400 bytes) past the chunk in use.
    CHECK(src.taken == 130 + unread);
    CHECK(unread >= 70);
    CHECK(src.taken <= 600);
}

TEST_CASE("an error of the reader comes after the bytes read before it", "[read_ahead]") {
    size_t calls = 0;
    image::ReadAhead ahead([&](void* b, size_t n) -> size_t {
        if (++calls > 3) throw Error(EINVAL, "layer x: corrupt gzip stream");
        std::fill_n(static_cast<char*>(b), std::min<size_t>(n, 5), 'q');
        return std::min<size_t>(n, 5);
    }, {}, 8, 2);  // a whole chunk of 5 + 3, then 5 in a chunk the error cuts short
    std::string got;
    char buf[3];
    auto drain = [&] {
        while (size_t n = ahead.read(buf, sizeof buf)) got.append(buf, n);
    };
    CHECK_THROWS_WITH(drain(), "layer x: corrupt gzip stream");
    CHECK(got == std::string(13, 'q'));
    CHECK_THROWS_AS(ahead.read(buf, sizeof buf), Error);  // and stays an error
}

TEST_CASE("a consumer that gives up stops a reader blocked on its input", "[read_ahead]") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    sys::UniqueFd rd(p[0]), wr(p[1]);
    REQUIRE(::write(wr.get(), "abc", 3) == 3);
    std::atomic<bool> aborted{false};
    {
        image::ReadAhead ahead([&](void* b, size_t n) -> size_t {
            ssize_t got = ::read(rd.get(), b, n);
            return got > 0 ? static_cast<size_t>(got) : 0;
        }, [&] {
            aborted = true;
            wr.reset();  // the writer goes: the blocked read returns
        }, 16, 2);
        // The reader took "abc" and waits in read() for the rest of its chunk.
        while (pipe_bytes(rd.get()) > 0) ::poll(nullptr, 0, 1);
    }  // gives up without finish(): abort, then the reader returns
    CHECK(aborted);
}

TEST_CASE("a consumer that gives up after the reader's input ended aborts nothing", "[read_ahead]") {
    bool aborted = false;
    {
        Source src{"short", 5};
        image::ReadAhead ahead([&](void* b, size_t n) { return src(b, n); }, [&] { aborted = true; }, 64, 2);
        char buf[2];
        REQUIRE(ahead.read(buf, 2) == 2);  // the chunk "short" came after its end was seen
    }
    CHECK_FALSE(aborted);
}
