// The config.json crun-lite generates: `crun-lite spec [--rootless]` (the shape
// of `runc spec`, so existing instructions and tools work unchanged, with
// podman's default capabilities and seccomp profile instead of runc's bare three
// caps), and, with fields filled in from an image, the config of `run --image`.
// Pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/json/json.hpp"
#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

struct SpecOptions {
    bool rootless = false;
    // Rootless user namespace mappings; empty: the caller's own uid/gid -> 0.
    uint32_t caller_uid = 0, caller_gid = 0;
    std::vector<IdMapping> uid_mappings, gid_mappings;

    bool terminal = true;
    std::vector<std::string> args = {"sh"};
    std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
    std::string cwd = "/";
    uint32_t uid = 0, gid = 0;
    std::vector<uint32_t> additional_gids;
    // Capabilities of every set; nullopt: default_capabilities().
    std::optional<std::vector<std::string>> capabilities;
    bool bounding_only = false;  // effective and permitted empty (a non-root user, as Docker does)
    std::vector<Rlimit> rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
    // nullopt: linux.seccomp absent (see seccomp_profile.hpp for the default one).
    std::optional<Seccomp> seccomp;

    std::string root_path = "rootfs";
    bool root_readonly = true;
    std::string hostname = "crun-lite";
    // Own network namespace; default: as root yes, rootless no (as runc spec).
    std::optional<bool> network_namespace;
    std::vector<Mount> extra_mounts;  // after the default ones
    std::vector<std::string> proc_options;  // /proc's: none, as runc spec's (an image's: Docker's)
    std::string shm_size = "65536k";  // /dev/shm's size= option
    bool allow_fuse_device = false;   // device rule for /dev/fuse (a root fuse-overlayfs rootfs)
    std::vector<Device> devices;             // linux.devices
    std::vector<DeviceCgroup> device_rules;  // allowed after the default deny (root only)
    std::map<std::string, std::string> annotations;
    std::map<std::string, std::string> sysctl;  // linux.sysctl
    std::string cgroups_path;                   // linux.cgroupsPath; "": none (the runtime's default)
    // linux.resources limits; 0: none.  cpu_quota uses a 100000 us period.
    int64_t memory_limit = 0, pids_limit = 0, cpu_quota = 0;
};

std::string default_spec_json(const SpecOptions& options);

// Writes `seccomp` as an OCI linux.seccomp object.
void write_seccomp(json::Writer& w, const Seccomp& seccomp);

}  // namespace crunlite::spec
