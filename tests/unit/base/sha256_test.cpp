#include <catch2/catch.hpp>

#include <string>

#include "crunlite/base/sha256.hpp"

using namespace crunlite;

TEST_CASE("sha256: FIPS 180-2 vectors, incremental, and hex() in the middle", "[sha256]") {
    CHECK(sha256_digest("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_digest("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    const std::string want = "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
    CHECK(sha256_digest(two_blocks) == want);

    Sha256 h;
    h.update(two_blocks.data(), 3);
    CHECK(h.hex() == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    h.update(nullptr, 0);
    for (size_t i = 3; i < two_blocks.size(); ++i) h.update(&two_blocks[i], 1);  // hashing goes on after hex()
    CHECK(h.hex() == want);
    CHECK(h.size() == two_blocks.size());

    std::string million(1000000, 'a');
    CHECK(sha256_digest(million) == "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
