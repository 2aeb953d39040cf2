// A layer blob as a stream of tar bytes, verified on the way: the sha256 of the
// compressed bytes (the descriptor's digest) and of the uncompressed bytes (the
// config's diff_id) are computed in the same single pass that decompresses.
// The compression is recognised by its magic: gzip (every member of a
// multi-member stream), zstd (window bounded to 128 MiB), or none.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crunlite/base/sha256.hpp"  // sha256_digest, for every user of digests
#include "crunlite/sys/fd.hpp"

namespace crunlite::image {

// Where a blob's bytes are: a file or pipe read to its end, or `length` bytes
// of a file from `offset` on (a blob inside an uncompressed archive).  Ranges
// are read with pread, so several ranges of one file can be read at once.
struct BlobInput {
    sys::UniqueFd fd;
    off_t offset = -1;  // -1: read `fd` to its end
    uint64_t length = 0;
};

// A blob's compression, by the magic of its first bytes (`len` of them at `p`).
enum class Compression { None, Gzip, Zstd };
Compression compression_of(const unsigned char* p, size_t len);

// Bytes a layer blob may hold after its tar archive's end (see drain).
inline constexpr uint64_t kMaxTrailing = uint64_t{1} << 20;

class LayerStream {
public:
    // Reads from `fd` (not owned), to its end or, when `offset` >= 0, `length`
    // bytes from `offset`; `name` names the layer in errors.
    LayerStream(int fd, std::string name, off_t offset = -1, uint64_t length = 0);
    ~LayerStream();
    LayerStream(const LayerStream&) = delete;
    LayerStream& operator=(const LayerStream&) = delete;

    // Up to `len` uncompressed bytes; 0 at the end.  Throws Error on read errors
    // and corrupt or truncated data ("layer x: truncated gzip stream").
    size_t read(void* buf, size_t len);

    // Bounds on what the layer may decompress to: at most `max_bytes` in all, and
    // beyond `ratio_floor` bytes at most `max_ratio` times its compressed size
    // (a 2 MB gzip of zeros would otherwise write gigabytes).  0: no bound.
    // Exceeding one throws Error(EFBIG) naming the layer and the limit.
    void limit(uint64_t max_bytes, uint64_t max_ratio, uint64_t ratio_floor = uint64_t{256} << 20);

    // Reads whatever is left (a tar reader stops at its end-of-archive blocks)
    // so that the digests cover the whole blob: at most `max_trailing`
    // uncompressed bytes (a tar's end-of-archive padding is some KiB; gigabytes
    // of zeros after it would only be decompressed to be hashed), counting the
    // `read_ahead` bytes already read past the tar's end (ReadAhead::finish).
    void drain(uint64_t max_trailing = kMaxTrailing, uint64_t read_ahead = 0);

    // "sha256:<hex>" of everything read so far; valid after drain().
    std::string compressed_digest() const;
    std::string diff_id() const;
    uint64_t compressed_size() const;
    uint64_t uncompressed_size() const;
    const char* compression() const;  // "gzip", "zstd" or "none"

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Throws Error(EINVAL) "layer x: digest mismatch: got A, want B" (or the size).
void check_digest(const std::string& name, const std::string& what, const std::string& got, const std::string& want);

}  // namespace crunlite::image
