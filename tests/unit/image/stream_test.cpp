#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <string>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/sys/fd.hpp"

using namespace crunlite;

namespace {

const char* kHelloSha = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";  // "hello"

std::string gzip(const std::string& data) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(compressBound(static_cast<uLong>(data.size())) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::string zstd(const std::string& data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

// A pipe-fed fd holding `blob` (a thread-free way: a temp file).
sys::UniqueFd fd_of(const std::string& blob) {
    char path[] = "/tmp/crl-blob-XXXXXX";
    int fd = ::mkstemp(path);
    ::unlink(path);
    REQUIRE(::write(fd, blob.data(), blob.size()) == static_cast<ssize_t>(blob.size()));
    ::lseek(fd, 0, SEEK_SET);
    return sys::UniqueFd(fd);
}

std::string read_all(image::LayerStream& s) {
    std::string out;
    char buf[7];  // small reads on purpose
    size_t n;
    while ((n = s.read(buf, sizeof buf)) > 0) out.append(buf, n);
    s.drain();
    return out;
}

}  // namespace

TEST_CASE("plain, gzip and zstd layers decompress with both digests", "[stream]") {
    for (auto [kind, blob] : {std::pair<const char*, std::string>{"none", "hello"}, {"gzip", gzip("hello")},
                              {"zstd", zstd("hello")}}) {
        INFO(kind);
        sys::UniqueFd fd = fd_of(blob);
        image::LayerStream s(fd.get(), "layer x");
        CHECK(read_all(s) == "hello");
        CHECK(std::string(s.compression()) == kind);
        CHECK(s.diff_id() == kHelloSha);
        CHECK(s.uncompressed_size() == 5);
        CHECK(s.compressed_size() == blob.size());
        if (std::string(kind) == "none") CHECK(s.compressed_digest() == kHelloSha);
        else CHECK(s.compressed_digest() != kHelloSha);
    }
}

TEST_CASE("multi-member gzip is read to the end", "[stream]") {
    sys::UniqueFd fd = fd_of(gzip("hel") + gzip("lo"));
    image::LayerStream s(fd.get(), "layer x");
    CHECK(read_all(s) == "hello");
    CHECK(s.diff_id() == kHelloSha);
}

TEST_CASE("truncated and corrupt streams are errors naming the layer", "[stream]") {
    std::string big(100000, 'a');
    for (auto blob : {gzip(big), zstd(big)}) {
        sys::UniqueFd fd = fd_of(blob.substr(0, blob.size() / 2));
        image::LayerStream s(fd.get(), "layer sha256:ab");
        CHECK_THROWS_WITH(read_all(s), Catch::Contains("layer sha256:ab: truncated"));
    }
    std::string bad = gzip(big);
    bad[20] ^= 0x55;
    sys::UniqueFd fd = fd_of(bad);
    image::LayerStream s(fd.get(), "layer y");
    CHECK_THROWS_WITH(read_all(s), Catch::Contains("layer y: corrupt gzip stream"));
    CHECK_THROWS_WITH(image::check_digest("layer z", "digest", "sha256:aa", "sha256:bb"),
                      "layer z: digest mismatch: got sha256:aa, want sha256:bb");
}

TEST_CASE("decompression is bounded: in all, by ratio, and after the tar's end", "[stream]") {
    std::string zeros(8 << 20, '\0');
    std::string bomb = gzip(zeros);  // ~8 KB for 8 MiB: a ratio near 1000
    auto drain_all = [](image::LayerStream& s) {
        std::vector<char> buf(64 * 1024);
        while (s.read(buf.data(), buf.size()) > 0) {}
    };
    {
        sys::UniqueFd fd = fd_of(bomb);
        image::LayerStream s(fd.get(), "layer x");
        s.limit(0, 200, 1 << 20);
        // The sizes so far: what came out, from how much of the compressed stream.
        CHECK_THROWS_WITH(drain_all(s), Catch::Matches("layer x: decompresses to more than 200 times its compressed "
                                                       "size \\([0-9]+ bytes from the first [0-9]+ compressed\\); "
                                                       "see --max-ratio"));
    }
    {
        sys::UniqueFd fd = fd_of(bomb);
        image::LayerStream s(fd.get(), "layer x");
        s.limit(4 << 20, 0);
        CHECK_THROWS_WITH(drain_all(s), Catch::Contains("layer x: decompresses to more than 4194304 bytes"));
    }
    {
        // Within the bounds (ratio checked only past the floor): fine.
        sys::UniqueFd fd = fd_of(bomb);
        image::LayerStream s(fd.get(), "layer x");
        s.limit(16 << 20, 200, 16 << 20);
        CHECK_NOTHROW(drain_all(s));
    }
    {
        // A reader that stops early leaves the rest to drain(): bounded.
        sys::UniqueFd fd = fd_of(bomb);
        image::LayerStream s(fd.get(), "layer x");
        char head[512];
        REQUIRE(s.read(head, sizeof head) == sizeof head);
        CHECK_THROWS_WITH(s.drain(), Catch::Contains("layer x: more than 1048576 bytes after the end of the tar archive"));
    }
    {
        // Bytes a ReadAhead read past the tar's end count: 8 KiB left, 1 MiB - 4 KiB read ahead.
        std::string tail(8192, 'z');
        sys::UniqueFd fd = fd_of(gzip(tail));
        image::LayerStream s(fd.get(), "layer x");
        CHECK_THROWS_WITH(s.drain(image::kMaxTrailing, image::kMaxTrailing - 4096),
                          Catch::Contains("layer x: more than 1048576 bytes after the end of the tar archive"));
        sys::UniqueFd fd2 = fd_of(gzip(tail));
        image::LayerStream s2(fd2.get(), "layer x");
        CHECK_NOTHROW(s2.drain(image::kMaxTrailing, image::kMaxTrailing - 8192));
        CHECK(s2.diff_id() == sha256_digest(tail));
        // More than the bound read ahead already: refused before reading on.
        sys::UniqueFd fd3 = fd_of(gzip(tail));
        image::LayerStream s3(fd3.get(), "layer x");
        CHECK_THROWS_WITH(s3.drain(image::kMaxTrailing, image::kMaxTrailing + 1), Catch::Contains("more than 1048576 bytes"));
    }
}
