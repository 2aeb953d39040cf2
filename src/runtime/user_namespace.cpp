#include "crunlite/runtime/user_namespace.hpp"

#include <unistd.h>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/idmap.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::runtime {
namespace {

std::vector<spec::SubIdRange> read_subids(const char* file, const std::string& user, uint32_t id) {
    try {
        return spec::parse_subid_file(read_file(file), user, id);
    } catch (const Error& e) {
        if (e.code() == ENOENT) return {};
        throw;
    }
}

// True when the process needs an id other than 0 inside the container.
bool needs_more_than_root(const spec::Process& p) {
    if (p.user.uid != 0 || p.user.gid != 0) return true;
    for (uint32_t g : p.user.additional_gids)
        if (g != 0) return true;
    return false;
}

process::IdMapAction to_action(const spec::IdMapPlan& plan, const std::vector<spec::IdMapping>& maps) {
    process::IdMapAction a;
    a.use_helper = plan.use_helper;
    a.deny_setgroups = plan.deny_setgroups;
    a.mappings = maps;
    return a;
}

}  // namespace

std::string user_name_of(uint32_t uid) {
    std::string passwd;
    try {
        passwd = read_file("/etc/passwd");
    } catch (const Error&) {
        // no /etc/passwd: fall back to the number
    }
    return spec::passwd_user_name(passwd, uid);
}

UserNamespacePlan plan_user_namespace(spec::Config& config, bool rootless) {
    UserNamespacePlan out;
    spec::Linux& lnx = *config.linux;
    const spec::Namespace* userns = lnx.find_namespace("user");
    uid_t euid = ::geteuid();
    gid_t egid = ::getegid();
    std::string user_name = user_name_of(euid);

    if (!userns) {
        // Real root, or root inside someone else's user namespace (rootless
        // podman): the container shares our user namespace.
        if (euid == 0) return out;
        // An unprivileged caller cannot do anything without one: add it.
        auto subuids = read_subids("/etc/subuid", user_name, euid);
        auto subgids = read_subids("/etc/subgid", user_name, euid);
        bool more = config.process && needs_more_than_root(*config.process);
        if (more && !subuids.empty() && !subgids.empty()) {
            lnx.uid_mappings = spec::default_rootless_mappings(euid, subuids);
            lnx.gid_mappings = spec::default_rootless_mappings(egid, subgids);
        } else {
            if (more)
                throw Error(EINVAL, "process.user: uid " + std::to_string(config.process->user.uid) + " / gid " +
                                        std::to_string(config.process->user.gid) +
                                        " cannot be mapped: user " + user_name +
                                        " has no ranges in /etc/subuid and /etc/subgid");
            lnx.uid_mappings = {{0, euid, 1}};
            lnx.gid_mappings = {{0, egid, 1}};
        }
        lnx.namespaces.push_back({"user", ""});
        log::debug("rootless: added a user namespace with " + std::to_string(lnx.uid_mappings.size()) + " uid mapping(s)");
        userns = lnx.find_namespace("user");
    }
    if (!userns->path.empty()) return out;  // joined: its maps exist already

    out.new_userns = true;
    bool privileged = euid == 0 && !rootless && sys::in_initial_userns();
    auto subuids = privileged ? std::vector<spec::SubIdRange>{} : read_subids("/etc/subuid", user_name, euid);
    auto subgids = privileged ? std::vector<spec::SubIdRange>{} : read_subids("/etc/subgid", user_name, euid);
    spec::IdMapPlan uid_plan = with_context("linux.uidMappings", [&] {
        return spec::plan_id_mappings(lnx.uid_mappings, euid, subuids, privileged, user_name, "/etc/subuid");
    });
    spec::IdMapPlan gid_plan = with_context("linux.gidMappings", [&] {
        return spec::plan_id_mappings(lnx.gid_mappings, egid, subgids, privileged, user_name, "/etc/subgid");
    });
    out.uid_map = to_action(uid_plan, lnx.uid_mappings);
    out.gid_map = to_action(gid_plan, lnx.gid_mappings);
    return out;
}

}  // namespace crunlite::runtime
