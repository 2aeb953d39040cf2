// The built-in defaults of profiles/ (embedded at build time, also installed to
// $datadir/crun-lite): the seccomp profile and the capability set that
// `crun-lite spec` and image runs give a container.  Pure: no syscalls.
//
// The profile uses Docker's and podman's format, which people already know:
// rules may be conditional on the container's capabilities ("includes"/"excludes"
// "caps"), the architecture ("arches", Go names: amd64, arm64, ...) and the
// kernel ("minKernel").  resolve_seccomp_profile() turns it into the plain OCI
// linux.seccomp for one container.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

std::string_view default_seccomp_profile_json();
std::vector<std::string> default_capabilities();

struct ProfileTarget {
    std::string scmp_arch;                  // native architecture, "SCMP_ARCH_X86_64"
    std::string go_arch;                    // the same as the profile names it, "amd64"
    std::pair<int, int> kernel{0, 0};       // running kernel (major, minor)
    std::vector<std::string> capabilities;  // the container's bounding set
};

// ProfileTarget names for a uname(2) machine ("x86_64", "aarch64", ...); throws
// Error(ENOTSUP) for a machine we know no seccomp architecture of.
ProfileTarget profile_target(const std::string& machine);

// Throws Error(EINVAL) naming `source` and the JSON path of a malformed profile.
Seccomp resolve_seccomp_profile(std::string_view profile_json, const std::string& source,
                                const ProfileTarget& target);

}  // namespace crunlite::spec
