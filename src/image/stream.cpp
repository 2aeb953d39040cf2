#include "crunlite/image/stream.hpp"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/base/sha256.hpp"

namespace crunlite::image {

struct LayerStream::Impl {
    int fd;
    std::string name;
    off_t offset = -1;  // >= 0: a range of `fd`, `left` bytes of it still to read
    uint64_t left = 0;
    Compression kind = Compression::None;
    bool sniffed = false, input_eof = false, done = false;
    std::vector<unsigned char> in = std::vector<unsigned char>(256 * 1024);
    size_t in_pos = 0, in_len = 0;
    Sha256 compressed, uncompressed;
    z_stream z{};
    bool z_ready = false, z_member_done = false;
    ZSTD_DStream* zstd = nullptr;
    bool zstd_frame_done = false;
    uint64_t max_bytes = 0, max_ratio = 0, ratio_floor = 0;

    ~Impl() {
        if (z_ready) inflateEnd(&z);
        if (zstd) ZSTD_freeDStream(zstd);
    }

    [[noreturn]] void fail(const std::string& what) { throw Error(EINVAL, name + ": " + what); }

    // Up to `len` bytes of the input; 0 at its end.
    size_t read_input(unsigned char* buf, size_t len) {
        ssize_t n;
        if (offset < 0) {
            while ((n = ::read(fd, buf, len)) < 0 && errno == EINTR) {}
        } else {
            len = static_cast<size_t>(std::min<uint64_t>(len, left));
            if (len == 0) return 0;
            while ((n = ::pread(fd, buf, len, offset)) < 0 && errno == EINTR) {}
            // The file shrank under us (the range was checked against its size).
            if (n == 0) throw Error(EIO, name + ": the file holding it ends early");
            if (n > 0) {
                offset += n;
                left -= static_cast<uint64_t>(n);
            }
        }
        if (n < 0) throw_errno(name + ": read");
        return static_cast<size_t>(n);
    }

    // Refills `in` when it is used up; false at the end of the file.
    bool fill() {
        if (in_pos < in_len) return true;
        if (input_eof) return false;
        size_t n = read_input(in.data(), in.size());
        in_pos = 0;
        in_len = n;
        compressed.update(in.data(), in_len);
        if (n == 0) input_eof = true;
        return n > 0;
    }

    void sniff() {
        sniffed = true;
        // Fill until 4 bytes are buffered or the file ends.
        while (in_len - in_pos < 4 && !input_eof) {
            if (in_pos > 0) {
                std::memmove(in.data(), in.data() + in_pos, in_len - in_pos);
                in_len -= in_pos;
                in_pos = 0;
            }
            size_t n = read_input(in.data() + in_len, in.size() - in_len);
            compressed.update(in.data() + in_len, n);
            if (n == 0) input_eof = true;
            in_len += n;
        }
        kind = compression_of(in.data() + in_pos, in_len - in_pos);
        if (kind == Compression::Gzip) {
            if (inflateInit2(&z, 15 + 16) != Z_OK) fail("gzip init");
            // No CRC-32 of the output (~7% of an import's CPU): the sha256 of
            // the same bytes is checked against the diff_id (and the blob's
            // against its digest), so the CRC would only repeat that check.
            inflateValidate(&z, 0);
            z_ready = true;
        } else if (kind == Compression::Zstd) {
            zstd = ZSTD_createDStream();
            if (!zstd) throw Error(ENOMEM, "zstd init");
            ZSTD_DCtx_setParameter(zstd, ZSTD_d_windowLogMax, 27);  // 128 MiB: bounded memory
        }
    }

    size_t read(unsigned char* out, size_t len) {
        if (!sniffed) sniff();
        if (done || len == 0) return 0;
        size_t n = 0;
        switch (kind) {
            case Compression::None:
                if (!fill()) break;
                n = std::min(len, in_len - in_pos);
                std::memcpy(out, in.data() + in_pos, n);
                in_pos += n;
                break;
            case Compression::Gzip: n = read_gzip(out, len); break;
            case Compression::Zstd: n = read_zstd(out, len); break;
        }
        if (n == 0) done = true;
        uncompressed.update(out, n);
        uint64_t total = uncompressed.size();
        if (max_bytes && total > max_bytes)
            throw Error(EFBIG, name + ": decompresses to more than " + std::to_string(max_bytes) + " bytes");
        if (max_ratio && total > ratio_floor && total / std::max<uint64_t>(compressed.size(), 1) > max_ratio)
            throw Error(EFBIG, name + ": decompresses to more than " + std::to_string(max_ratio) +
                                   " times its compressed size (" + std::to_string(total) + " bytes from the first " +
                                   std::to_string(compressed.size()) + " compressed); see --max-ratio");
        return n;
    }

    size_t read_gzip(unsigned char* out, size_t len) {
        for (;;) {
            if (z_member_done) {
                // Another member may follow (pigz, concatenated streams); else the end.
                if (!fill()) return 0;
                inflateReset(&z);
                z_member_done = false;
            }
            if (!fill()) fail("truncated gzip stream (or corrupt: it ends early)");
            z.next_in = in.data() + in_pos;
            z.avail_in = static_cast<uInt>(in_len - in_pos);
            z.next_out = out;
            z.avail_out = static_cast<uInt>(len);
            int r = inflate(&z, Z_NO_FLUSH);
            in_pos = in_len - z.avail_in;
            size_t n = len - z.avail_out;
            if (r == Z_STREAM_END) z_member_done = true;
            else if (r != Z_OK && r != Z_BUF_ERROR) fail(std::string("corrupt gzip stream: ") + (z.msg ? z.msg : "error"));
            if (n > 0) return n;
        }
    }

    size_t read_zstd(unsigned char* out, size_t len) {
        for (;;) {
            if (!fill()) {
                if (!zstd_frame_done) fail("truncated zstd stream (or corrupt: it ends early)");
                return 0;
            }
            ZSTD_inBuffer ib{in.data() + in_pos, in_len - in_pos, 0};
            ZSTD_outBuffer ob{out, len, 0};
            size_t r = ZSTD_decompressStream(zstd, &ob, &ib);
            in_pos += ib.pos;
            if (ZSTD_isError(r)) fail(std::string("corrupt zstd stream: ") + ZSTD_getErrorName(r));
            zstd_frame_done = r == 0;  // 0: a frame ended and everything was flushed
            if (ob.pos > 0) return ob.pos;
        }
    }
};

Compression compression_of(const unsigned char* p, size_t len) {
    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) return Compression::Gzip;
    if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) return Compression::Zstd;
    return Compression::None;
}

LayerStream::LayerStream(int fd, std::string name, off_t offset, uint64_t length)
    : impl_(std::make_unique<Impl>()) {
    impl_->fd = fd;
    impl_->name = std::move(name);
    impl_->offset = offset;
    impl_->left = length;
}
LayerStream::~LayerStream() = default;

size_t LayerStream::read(void* buf, size_t len) { return impl_->read(static_cast<unsigned char*>(buf), len); }

void LayerStream::limit(uint64_t max_bytes, uint64_t max_ratio, uint64_t ratio_floor) {
    impl_->max_bytes = max_bytes;
    impl_->max_ratio = max_ratio;
    impl_->ratio_floor = ratio_floor;
}

void LayerStream::drain(uint64_t max_trailing, uint64_t read_ahead) {
    std::vector<unsigned char> sink(64 * 1024);
    for (uint64_t trailing = read_ahead;;) {
        if (trailing > max_trailing)
            throw Error(EFBIG, impl_->name + ": more than " + std::to_string(max_trailing) +
                                   " bytes after the end of the tar archive");
        size_t n = read(sink.data(), sink.size());
        if (n == 0) break;
        trailing += n;
    }
    // Bytes after the compressed data (trailing garbage) still count for the digest.
    while (impl_->fill()) impl_->in_pos = impl_->in_len;
}

std::string LayerStream::compressed_digest() const { return impl_->compressed.hex(); }
std::string LayerStream::diff_id() const { return impl_->uncompressed.hex(); }
uint64_t LayerStream::compressed_size() const { return impl_->compressed.size(); }
uint64_t LayerStream::uncompressed_size() const { return impl_->uncompressed.size(); }
const char* LayerStream::compression() const {
    return impl_->kind == Compression::Gzip ? "gzip" : impl_->kind == Compression::Zstd ? "zstd" : "none";
}

void check_digest(const std::string& name, const std::string& what, const std::string& got, const std::string& want) {
    if (got != want) throw Error(EINVAL, name + ": " + what + " mismatch: got " + got + ", want " + want);
}

}  // namespace crunlite::image
