// Deciding the container's user namespace and how its id maps get written
// (runs in the runtime parent before launch), and the user-namespace children
// of image verbs and idmapped mounts.
#pragma once

#include <functional>
#include <optional>

#include "crunlite/process/launcher.hpp"
#include "crunlite/runtime/host_facts.hpp"
#include "crunlite/spec/config.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::runtime {

struct UserNamespacePlan {
    bool new_userns = false;
    process::IdMapAction uid_map, gid_map;
    // Whether the init may call setgroups, when the plan knows (no user
    // namespace of the container's own under the host's initial one, or one
    // whose gid map we write); unset: the init asks /proc/self/setgroups.
    std::optional<bool> setgroups_allowed;
};

// Rootless callers (euid != 0) whose config has no user namespace get one, as
// crun does: a single mapping of the caller to 0, or, when the process needs
// other ids (user.uid, gid, additionalGids) and /etc/subuid+subgid give the
// caller ranges, 0 -> caller plus 1.. -> the first range.  The namespace and
// mappings are added to `config`.  For a new user namespace, the maps are
// written directly when we are real root or the map is just ourselves,
// otherwise through newuidmap/newgidmap.  Throws Error naming the mapping that
// the caller may not use.  Pure: the caller's ids and ranges come from `host`.
UserNamespacePlan plan_user_namespace(spec::Config& config, bool rootless, const HostFacts& host);

// The mapping rootless containers and image unpacking use: ids 0..65536 to the
// caller and its first /etc/subuid and /etc/subgid ranges; empty when the
// caller has none.
struct RootlessMappings {
    std::vector<spec::IdMapping> uid, gid;
};
RootlessMappings rootless_mappings();

// Runs `body` in a child process inside a new user namespace that maps ids
// 0..65536 to the caller and its /etc/subuid and /etc/subgid ranges (the mapping
// rootless containers get), as uid and gid 0 there, so files it creates can have
// the owners an image gives them.  Returns false, running nothing, when the
// caller has no subordinate ranges.  An Error thrown by `body` is rethrown here.
bool run_in_rootless_userns(const std::function<void()>& body);

// Removes the tree `dir` (best effort), rootless from inside that user
// namespace, so files owned by subordinate ids (an image container's upper
// dir) go too.
void remove_tree_as_owner(const std::string& dir);

// An fd of a new user namespace with exactly these mappings (written the way
// a container's are: directly by real root, else through newuidmap/newgidmap
// within the caller's /etc/subuid ranges), for idmapped mounts
// (MOUNT_ATTR_IDMAP).  A short-lived child owns the namespace until the fd is
// open.  Throws Error naming `where` when a mapping is not the caller's to use.
sys::UniqueFd mapped_user_namespace(const std::vector<spec::IdMapping>& uids, const std::vector<spec::IdMapping>& gids,
                                    const std::string& where);

// For each config mount with idmap/ridmap, a user namespace holding its mapping:
// its own uidMappings/gidMappings, else (runtime-spec) the container's user
// namespace mapping; an empty fd for other mounts.  Throws Error when an idmap
// mount has no mapping to use.
std::vector<sys::UniqueFd> idmap_namespaces(const spec::Config& config);

// The user name of `uid` from /etc/passwd (the decimal uid when absent).
std::string user_name_of(uint32_t uid);

}  // namespace crunlite::runtime
