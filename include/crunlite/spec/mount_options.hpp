// The mount option table: OCI `mounts[].options` strings -> mount(2) flags,
// propagation changes, recursive attributes (mount_setattr) and fs data.
// Pure: no syscalls.  Covers every option runc accepts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace crunlite::spec {

struct MountOptions {
    unsigned long flags = 0;          // MS_* to set on the mount
    unsigned long clear_flags = 0;    // MS_* explicitly asked off ("rw", "suid", ...)
    std::vector<unsigned long> propagation;  // MS_SHARED|MS_REC ..., applied in order after mounting
    uint64_t attr_set = 0;            // MOUNT_ATTR_* set recursively ("rro", "rnosuid", ...)
    uint64_t attr_clr = 0;            // MOUNT_ATTR_* cleared recursively ("rrw", ...)
    bool bind = false;                // "bind" or "rbind"
    bool recursive = false;           // "rbind"
    bool idmap = false;               // "idmap" / "ridmap" (idmapped mounts)
    bool tmpcopyup = false;           // tmpfs only: the directory's contents are copied into it
    bool copyup = false;              // bind of a directory only: an empty source gets what it covers
    std::string data;                 // everything else, comma-joined, for the filesystem
};

// Never throws: unknown options are filesystem data, as in runc.
MountOptions parse_mount_options(const std::vector<std::string>& options);

// Every option name the table knows, for `features`.
const std::vector<std::string>& known_mount_options();

}  // namespace crunlite::spec
