#include "crunlite/base/sha256.hpp"

#include <openssl/evp.h>

#include "crunlite/base/error.hpp"

namespace crunlite {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
        EVP_MD_CTX_free(ctx_);
        throw Error(ENOMEM, "sha256 init");
    }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* p, size_t n) {
    if (n) EVP_DigestUpdate(ctx_, p, n);
    size_ += n;
}

std::string Sha256::hex() const {
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> copy(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!copy || EVP_MD_CTX_copy_ex(copy.get(), ctx_) != 1 || EVP_DigestFinal_ex(copy.get(), md, &len) != 1)
        throw Error(ENOMEM, "sha256 final");
    static const char* digits = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

std::string sha256_digest(std::string_view data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.hex();
}

}  // namespace crunlite
