// /etc/subuid-style ranges and the plan for writing a user namespace's id map.
// Pure: the caller reads the files and applies the plan (process/launcher).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

struct SubIdRange {
    uint32_t start = 0;
    uint32_t count = 0;
    bool operator==(const SubIdRange&) const = default;
};

// Lines "name:start:count" whose name is `user_name` or the decimal `uid`.
// Comments, blank and malformed lines are skipped.
std::vector<SubIdRange> parse_subid_file(std::string_view content, const std::string& user_name, uint32_t uid);

// The name of `uid` in /etc/passwd-format `content`, or the decimal uid when it
// has no entry.  (Read directly, as runc does: the binary is static, and glibc's
// NSS cannot be used from a static binary.)
std::string passwd_user_name(std::string_view content, uint32_t uid);

// The home directory of `uid` in /etc/passwd-format `content` (6th field), or
// "/" when it has no entry or an empty one: runc's rule for the HOME it sets
// when process.env has none.
std::string passwd_home(std::string_view content, uint32_t uid);

// True when `requested` is exactly one mapping of size 1 onto `host_id`: what
// an unprivileged caller may write itself, needing no subordinate ranges.
bool maps_only_id(const std::vector<IdMapping>& requested, uint32_t host_id);

struct IdMapPlan {
    bool use_helper = false;      // newuidmap/newgidmap (setuid helpers) must write it
    bool deny_setgroups = false;  // unprivileged direct write: "deny" setgroups first (gid map)
};

// How to write `requested` for a caller whose own id is `host_id`:
//  - privileged (real root): written directly, any mapping;
//  - exactly {0 or any -> host_id, size 1}: written directly by the caller, with
//    setgroups denied (the kernel requires it for an unprivileged gid map);
//  - otherwise every host range must lie within host_id or the caller's
//    subordinate ranges, and newuidmap/newgidmap write it.
// Throws Error(EPERM) naming the mapping index and `file`:
//   "[1]: host IDs 300000-300009 are not in /etc/subuid ranges of user tester"
IdMapPlan plan_id_mappings(const std::vector<IdMapping>& requested, uint32_t host_id,
                           const std::vector<SubIdRange>& ranges, bool privileged, const std::string& user_name,
                           const std::string& file);

// Root in a user namespace other than the initial one (rootless podman runs the
// runtime so) writes any mapping itself, as runc does, of ids its namespace has:
// `own` are those, /proc/self/uid_map's (or gid_map's) ranges as ids inside it.
// Throws Error(EPERM) naming the mapping index and `file`:
//   "[0]: host IDs 1-70000 are not mapped in our user namespace (/proc/self/uid_map)"
void check_ids_mapped(const std::vector<IdMapping>& requested, const std::vector<SubIdRange>& own,
                      const std::string& file);

// The ranges of ids a /proc/PID/uid_map or gid_map maps, as ids inside that
// namespace (each line's first and third fields); malformed lines are skipped.
std::vector<SubIdRange> parse_id_map_inside(std::string_view content);

// The mapping a rootless container gets when its config has none (as crun and
// podman do): 0 -> host_id, then 1.. -> the first subordinate range.
std::vector<IdMapping> default_rootless_mappings(uint32_t host_id, const std::vector<SubIdRange>& ranges);

}  // namespace crunlite::spec
