// The config.json `crun-lite spec [--rootless]` writes: the same shape as
// `runc spec`, so existing instructions and tools work unchanged.  Pure.
#pragma once

#include <cstdint>
#include <string>

namespace crunlite::spec {

// `uid`/`gid` are the caller's, used for the rootless user namespace mapping.
std::string default_spec_json(bool rootless, uint32_t uid, uint32_t gid);

}  // namespace crunlite::spec
