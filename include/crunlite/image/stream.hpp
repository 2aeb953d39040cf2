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

namespace crunlite::image {

class LayerStream {
public:
    // Reads from `fd` (not owned); `name` names the layer in errors.
    LayerStream(int fd, std::string name);
    ~LayerStream();
    LayerStream(const LayerStream&) = delete;
    LayerStream& operator=(const LayerStream&) = delete;

    // Up to `len` uncompressed bytes; 0 at the end.  Throws Error on read errors
    // and corrupt or truncated data ("layer x: truncated gzip stream").
    size_t read(void* buf, size_t len);

    // Reads whatever is left (a tar reader stops at its end-of-archive blocks)
    // so that the digests cover the whole blob.
    void drain();

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

// "sha256:<hex>" of `data`.
std::string sha256_digest(std::string_view data);

// Throws Error(EINVAL) "layer x: digest mismatch: got A, want B" (or the size).
void check_digest(const std::string& name, const std::string& what, const std::string& got, const std::string& want);

}  // namespace crunlite::image
