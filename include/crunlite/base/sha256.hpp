// SHA-256 (libcrypto's EVP): the digests of images and layers, and the cache
// keys of compiled seccomp programs.  Digests are written "sha256:<hex>".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace crunlite {

// An incremental hash.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* p, size_t n);
    // "sha256:<hex>" of everything so far (hashing may go on).
    std::string hex() const;
    uint64_t size() const { return size_; }

private:
    evp_md_ctx_st* ctx_;
    uint64_t size_ = 0;
};

// "sha256:<hex>" of `data`.
std::string sha256_digest(std::string_view data);

}  // namespace crunlite
