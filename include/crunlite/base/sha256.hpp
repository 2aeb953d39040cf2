// SHA-256 (libcrypto's SHA256_* functions): the digests of images and layers,
// and the cache keys of compiled seccomp programs.  Digests are written
// "sha256:<hex>".  Not EVP: in a static link, EVP's digest lookup pulls in
// OpenSSL's whole provider framework (a third of the binary's code and most of
// its start-up relocations) and reads openssl.cnf on first use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace crunlite {

// An incremental hash.
class Sha256 {
public:
    Sha256();

    void update(const void* p, size_t n);
    // "sha256:<hex>" of everything so far (hashing may go on).
    std::string hex() const;
    uint64_t size() const { return size_; }

private:
    // libcrypto's SHA256_CTX (112 bytes), kept opaque here.
    alignas(8) unsigned char ctx_[112];
    uint64_t size_ = 0;
};

// "sha256:<hex>" of `data`.
std::string sha256_digest(std::string_view data);

}  // namespace crunlite
