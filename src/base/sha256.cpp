#include "crunlite/base/sha256.hpp"

// The SHA256_* functions, deprecated in OpenSSL 3 for EVP (see the header for
// why not EVP): declared without the deprecation at the 1.1.1 API level.
#define OPENSSL_API_COMPAT 10101
#include <openssl/sha.h>

#include <new>

// libcrypto's probe of the CPU (SHA-NI, AVX2), which its SHA-256 code reads:
// the static crun-lite binary defers it from its start to the first hash and
// defines this (src/cli/main.cpp); elsewhere it ran when libcrypto was loaded.
extern "C" void crunlite_crypto_cpu_probe() __attribute__((weak));

namespace crunlite {

namespace {
static_assert(sizeof(SHA256_CTX) <= 112 && alignof(SHA256_CTX) <= 8, "Sha256::ctx_ holds a SHA256_CTX");
SHA256_CTX* ctx_of(unsigned char* p) { return std::launder(reinterpret_cast<SHA256_CTX*>(p)); }
}  // namespace

Sha256::Sha256() {
    if (crunlite_crypto_cpu_probe) crunlite_crypto_cpu_probe();
    SHA256_Init(new (ctx_) SHA256_CTX);
}

void Sha256::update(const void* p, size_t n) {
    if (n) SHA256_Update(ctx_of(ctx_), p, n);
    size_ += n;
}

std::string Sha256::hex() const {
    SHA256_CTX copy = *std::launder(reinterpret_cast<const SHA256_CTX*>(ctx_));
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_Final(md, &copy);
    static const char* digits = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned char b : md) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::string sha256_digest(std::string_view data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.hex();
}

}  // namespace crunlite
