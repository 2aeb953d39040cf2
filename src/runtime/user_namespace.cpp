#include "crunlite/runtime/user_namespace.hpp"

#include "crunlite/runtime/systemd_unit.hpp"

#include "crunlite/linux/process_plan.hpp"
#include "crunlite/linux/process_setup.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/linux/process_plan.hpp"
#include "crunlite/process/sync.hpp"
#include "crunlite/runtime/systemd_unit.hpp"
#include "crunlite/spec/idmap.hpp"
#include "crunlite/spec/mount_options.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/interrupt.hpp"
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

// The ids our own user namespace has (its /proc/self/uid_map and gid_map, as
// seen from inside): what root in someone else's user namespace may map.
SubIdRanges ranges_of_our_namespace() {
    return SubIdRanges{spec::parse_id_map_inside(read_file("/proc/self/uid_map")),
                       spec::parse_id_map_inside(read_file("/proc/self/gid_map"))};
}

// A map root in someone else's user namespace (rootless podman's) writes
// itself, as runc does: of ids `ours` (ranges_of_our_namespace) has.
process::IdMapAction map_of_nested_root(const std::vector<spec::IdMapping>& maps,
                                        const std::vector<spec::SubIdRange>& ours, const char* file,
                                        const std::string& field) {
    with_context(field, [&] { spec::check_ids_mapped(maps, ours, file); });
    return to_action(spec::IdMapPlan{}, maps);
}

}  // namespace

RootlessMappings rootless_mappings() {
    uid_t euid = ::geteuid();
    gid_t egid = ::getegid();
    std::string user = user_name_of(euid);
    auto subuids = read_subids("/etc/subuid", user, euid);
    auto subgids = read_subids("/etc/subgid", user, euid);
    if (subuids.empty() || subgids.empty()) return {};
    return {spec::default_rootless_mappings(euid, subuids), spec::default_rootless_mappings(egid, subgids)};
}

void remove_tree_as_owner(const std::string& dir) {
    std::string parent = dir.substr(0, dir.rfind('/')), name = dir.substr(dir.rfind('/') + 1);
    auto remove = [&] {
        sys::UniqueFd p(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (p) sys::remove_tree_at(p.get(), name);
    };
    if (::geteuid() != 0 && run_in_rootless_userns(remove)) return;
    remove();
}

bool run_in_rootless_userns(const std::function<void()>& body) {
    RootlessMappings maps = rootless_mappings();
    if (maps.uid.empty()) return false;
    process::IdMapAction uid_map{true, maps.uid, false};
    process::IdMapAction gid_map{true, maps.gid, false};

    auto [ours, theirs] = process::SyncSocket::make_pair();
    sys::Child child = sys::Child::fork("fork", [&, &ours = ours, &theirs = theirs] {
        ours.close();
        try {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the work dies with whoever asked for it
            check(::unshare(CLONE_NEWUSER), "unshare user namespace");
            theirs.send(process::MsgType::MapRequest);
            process::Message msg;
            // (To the end: a signal forwarded meanwhile is the body's to see.)
            if (!theirs.receive(msg, true) || msg.type != process::MsgType::MapDone) return 1;  // maps written
            check(::setresgid(0, 0, 0), "setgid 0 in the user namespace");
            check(::setresuid(0, 0, 0), "setuid 0 in the user namespace");
            body();
            return 0;
        } catch (const Error& e) {
            theirs.send_error(e);
        } catch (const std::exception& e) {
            theirs.send_error(Error(EIO, e.what()));
        }
        return 1;
    });
    theirs.close();
    sys::ForwardInterrupts forward(child.pid());  // an interrupted caller's work unwinds in the child
    // ... and says how it ended: an interruption does not end our wait for it.
    process::Message msg;
    bool got = ours.receive(msg, true);
    if (!got || msg.type != process::MsgType::MapRequest) {
        child.wait();
        sys::throw_if_interrupted();  // the signal we forwarded ended it: that is the reason
        std::string why = got && msg.type == process::MsgType::Error ? msg.payload.substr(msg.payload.find(' ') + 1) : "";
        throw Error(EPERM, "could not create a user namespace for the import" + (why.empty() ? "" : ": " + why));
    }
    // From here the child is killed and reaped if this throws.
    process::write_id_map(child.pid(), gid_map, true);
    process::write_id_map(child.pid(), uid_map, false);
    try {
        ours.send(process::MsgType::MapDone);
    } catch (const Error& e) {
        sys::throw_if_interrupted();  // it ended by the signal we forwarded
        throw sys_error(e.code(), "start the import");
    }
    got = ours.receive(msg, true);
    int status = child.wait();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    if (got && msg.type == process::MsgType::Error) process::SyncSocket::rethrow(msg);
    sys::throw_if_interrupted();
    throw Error(EIO, "the import in a user namespace failed (status " + std::to_string(status) + ")");
}

sys::UniqueFd mapped_user_namespace(const std::vector<spec::IdMapping>& uids, const std::vector<spec::IdMapping>& gids,
                                    const std::string& where) {
    uid_t euid = ::geteuid();
    gid_t egid = ::getegid();
    bool initial = sys::in_initial_userns();
    process::IdMapAction uid_map, gid_map;
    if (euid == 0 && !initial) {  // as plan_user_namespace does for the container's
        SubIdRanges ours = ranges_of_our_namespace();
        uid_map = map_of_nested_root(uids, ours.uids, "/proc/self/uid_map", where + ".uidMappings");
        gid_map = map_of_nested_root(gids, ours.gids, "/proc/self/gid_map", where + ".gidMappings");
    } else {
        std::string user = user_name_of(euid);
        bool privileged = euid == 0;
        auto subuids = privileged ? std::vector<spec::SubIdRange>{} : read_subids("/etc/subuid", user, euid);
        auto subgids = privileged ? std::vector<spec::SubIdRange>{} : read_subids("/etc/subgid", user, euid);
        uid_map = to_action(with_context(where + ".uidMappings", [&] {
            return spec::plan_id_mappings(uids, euid, subuids, privileged, user, "/etc/subuid");
        }), uids);
        gid_map = to_action(with_context(where + ".gidMappings", [&] {
            return spec::plan_id_mappings(gids, egid, subgids, privileged, user, "/etc/subgid");
        }), gids);
    }

    sys::Pipe ready = sys::Pipe::make(), hold = sys::Pipe::make();
    // Holds the namespace until the parent has its fd (EOF on `hold`); killed
    // and reaped when we return or throw.
    sys::Child child = sys::Child::fork("fork", [&] {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        char c = ::unshare(CLONE_NEWUSER) == 0 ? 'u' : 'e';
        if (::write(ready.write.get(), &c, 1) != 1) return 1;
        hold.write.reset();
        while (::read(hold.read.get(), &c, 1) < 0 && errno == EINTR) {}
        return 0;
    });
    ready.write.reset();
    hold.read.reset();
    char c = 0;
    if (::read(ready.read.get(), &c, 1) != 1 || c != 'u') throw Error(EPERM, where + ": could not create a user namespace");
    process::write_id_map(child.pid(), gid_map, true);
    process::write_id_map(child.pid(), uid_map, false);
    sys::UniqueFd ns(::open(("/proc/" + std::to_string(child.pid()) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) throw_errno(where + ": open the mapping's user namespace");
    return ns;
}

std::vector<sys::UniqueFd> idmap_namespaces(const spec::Config& config) {
    std::vector<sys::UniqueFd> out;
    for (size_t i = 0; i < config.mounts.size(); ++i) {
        const spec::Mount& m = config.mounts[i];
        out.emplace_back();
        if (!spec::parse_mount_options(m.options).idmap) continue;
        std::string where = "mounts[" + std::to_string(i) + "]";
        bool own = !m.uid_mappings.empty();
        const auto& uids = own ? m.uid_mappings : config.linux->uid_mappings;
        const auto& gids = own ? m.gid_mappings : config.linux->gid_mappings;
        if (uids.empty() || gids.empty())
            throw Error(EINVAL, where + ": idmap without uidMappings/gidMappings needs a user namespace with mappings");
        out.back() = mapped_user_namespace(uids, gids, own ? where : std::string("linux"));
    }
    return out;
}

std::string user_name_of(uint32_t uid) {
    std::string passwd;
    try {
        passwd = read_file("/etc/passwd");
    } catch (const Error&) {
        // no /etc/passwd: fall back to the number
    }
    return spec::passwd_user_name(passwd, uid);
}

UserNamespacePlan plan_user_namespace(spec::Config& config, bool rootless, const HostFacts& host) {
    UserNamespacePlan out;
    spec::Linux& lnx = *config.linux;
    const spec::Namespace* userns = lnx.find_namespace("user");
    uid_t euid = host.euid;
    gid_t egid = host.egid;
    const std::string& user_name = host.user_name;

    if (!userns) {
        // Real root, or root inside someone else's user namespace (rootless
        // podman): the container shares our user namespace.  The initial one
        // always allows setgroups.
        if (euid == 0) {
            if (host.initial_userns) out.setgroups_allowed = true;
            return out;
        }
        // An unprivileged caller cannot do anything without one: add it.
        bool more = config.process && needs_more_than_root(*config.process);
        if (more && !host.subids().uids.empty() && !host.subids().gids.empty()) {
            lnx.uid_mappings = spec::default_rootless_mappings(euid, host.subids().uids);
            lnx.gid_mappings = spec::default_rootless_mappings(egid, host.subids().gids);
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
    if (euid == 0 && !host.initial_userns) {
        // Root in someone else's user namespace (rootless podman's): any ids it
        // maps (host.subids()), written by us; the init reads setgroups.
        const SubIdRanges& ours = host.subids();
        out.uid_map = map_of_nested_root(lnx.uid_mappings, ours.uids, "/proc/self/uid_map", "linux.uidMappings");
        out.gid_map = map_of_nested_root(lnx.gid_mappings, ours.gids, "/proc/self/gid_map", "linux.gidMappings");
        return out;
    }
    bool privileged = euid == 0 && !rootless && host.initial_userns;
    // The ranges are read only for mappings that need them.
    static const std::vector<spec::SubIdRange> kNone;
    auto ranges = [&](const std::vector<spec::IdMapping>& maps, uint32_t id, bool gids) -> const auto& {
        if (privileged || spec::maps_only_id(maps, id)) return kNone;
        return gids ? host.subids().gids : host.subids().uids;
    };
    spec::IdMapPlan uid_plan = with_context("linux.uidMappings", [&] {
        return spec::plan_id_mappings(lnx.uid_mappings, euid, ranges(lnx.uid_mappings, euid, false), privileged,
                                      user_name, "/etc/subuid");
    });
    spec::IdMapPlan gid_plan = with_context("linux.gidMappings", [&] {
        return spec::plan_id_mappings(lnx.gid_mappings, egid, ranges(lnx.gid_mappings, egid, true), privileged,
                                      user_name, "/etc/subgid");
    });
    out.uid_map = to_action(uid_plan, lnx.uid_mappings);
    out.gid_map = to_action(gid_plan, lnx.gid_mappings);
    // A child of the initial user namespace allows setgroups unless we deny it
    // (newgidmap decides for itself).
    if (host.initial_userns && !out.gid_map.use_helper) out.setgroups_allowed = !out.gid_map.deny_setgroups;
    return out;
}

namespace {

// The systemd driver's manager: the system's (root; PID 1 must be systemd) or
// the user's (rootless: its ControlGroup, asked over the user's bus).
std::string systemd_manager_of(const Context& ctx) {
    if (!ctx.rootless && ::access("/run/systemd/system", F_OK) != 0)
        throw Error(ENOTSUP, "systemd cgroup manager requested, but systemd is not running on this host (PID 1 is "
                             "not systemd); use --cgroup-manager cgroupfs or disabled (containerd: "
                             "SystemdCgroup = false; podman: --cgroup-manager cgroupfs)");
    return systemd_manager_cgroup(ctx.rootless);
}

}  // namespace

HostFacts read_host_facts(const Context& ctx) {
    HostFacts host;
    host.euid = ::geteuid();
    host.egid = ::getegid();
    host.cap_last_cap = linux::host_cap_last_cap();
    host.initial_userns = sys::in_initial_userns();
    host.user_name = user_name_of(host.euid);
    host.read_apparmor = linux::apparmor_enabled;
    host.is_own_netns = [](const std::string& path) {
        struct stat theirs, ours;
        return ::stat(path.c_str(), &theirs) == 0 && ::stat("/proc/self/ns/net", &ours) == 0 &&
               theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
    };
    if (host.euid == 0 && !host.initial_userns)
        host.read_subids = ranges_of_our_namespace;
    else if (!(host.euid == 0 && host.initial_userns && !ctx.rootless))
        host.read_subids = [user = host.user_name, euid = host.euid] {
            return SubIdRanges{read_subids("/etc/subuid", user, euid), read_subids("/etc/subgid", user, euid)};
        };
    if (ctx.cgroup_manager != "disabled") {
        auto layout = cgroup::parse_layout(read_file("/proc/self/mountinfo"), read_file("/proc/self/cgroup"));
        host.cgroups = cgroup::HostCgroups{layout, cgroup::v2_controllers(layout),
                                             cgroup::host_may_create_and_join(layout), {}};
        if (ctx.cgroup_manager == "systemd") host.cgroups->systemd_manager_cgroup = systemd_manager_of(ctx);
    }
    // systemd's socket activation: the fds are ours only when LISTEN_PID says so
    // (a LISTEN_FDS left in the environment by a parent is not for us), as runc checks.
    const char* listen = std::getenv("LISTEN_FDS");
    const char* listen_pid = std::getenv("LISTEN_PID");
    if (listen && listen_pid && parse_int(listen_pid) == ::getpid())
        host.listen_fds = static_cast<int>(parse_int(listen).value_or(0));
    return host;
}

}  // namespace crunlite::runtime
