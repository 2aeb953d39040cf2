// A temporary directory for a unit test, removed with everything in it at the
// end (directories made unwritable by the test are given back their owner's
// permissions first).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "crunlite/base/error.hpp"

namespace crunlite::testing {

struct TempDir {
    std::string path;
    // `prefix`: the name's start under /tmp, "crl-state" gives /tmp/crl-state-XXXXXX.
    explicit TempDir(const std::string& prefix) {
        std::string t = "/tmp/" + prefix + "-XXXXXX";
        if (!::mkdtemp(t.data())) throw_errno("mkdtemp");
        path = t;
    }
    ~TempDir() {
        namespace fs = std::filesystem;
        std::error_code ec;
        for (const auto& e : fs::recursive_directory_iterator(path, ec))
            if (e.is_directory(ec)) fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

}  // namespace crunlite::testing
