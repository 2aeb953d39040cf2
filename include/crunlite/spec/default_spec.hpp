// The config.json `crun-lite spec [--rootless]` writes: the shape of `runc spec`,
// so existing instructions and tools work unchanged, with podman's default
// capabilities and seccomp profile instead of runc's bare three caps.  Pure.
#pragma once

#include <cstdint>
#include <string>

#include "crunlite/json/json.hpp"
#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

// `uid`/`gid` are the caller's, used for the rootless user namespace mapping.
// The capabilities are default_capabilities() (profiles/capabilities.json);
// `seccomp`, when given, becomes linux.seccomp (see seccomp_profile.hpp).
std::string default_spec_json(bool rootless, uint32_t uid, uint32_t gid, const Seccomp* seccomp = nullptr);

// Writes `seccomp` as an OCI linux.seccomp object.
void write_seccomp(json::Writer& w, const Seccomp& seccomp);

}  // namespace crunlite::spec
