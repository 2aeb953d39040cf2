#include "crunlite/spec/validate.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/sched.hpp"

namespace crunlite::spec {
namespace {

const std::set<std::string> kNamespaceTypes = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};
const std::set<std::string> kRlimits = {
    "RLIMIT_AS",     "RLIMIT_CORE",   "RLIMIT_CPU",  "RLIMIT_DATA",   "RLIMIT_FSIZE",      "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
    "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"};
const std::set<std::string> kPropagations = {"",      "shared",   "slave",      "private",    "unbindable",
                                             "rshared", "rslave", "rprivate", "runbindable"};

// Why `name` cannot be a network interface name, or "" when it can: the kernel's
// dev_valid_name() (1..15 bytes, not "." or "..", no '/', ':' or whitespace),
// and no '%', with which the kernel would pick the name itself ("eth%d" -> "eth0").
std::string interface_name_problem(const std::string& name) {
    if (name.empty()) return "must not be empty";
    if (name.size() > 15) return "longer than 15 bytes";
    if (name == "." || name == "..") return "must not be . or ..";
    for (char c : name) {
        if (c == '/' || c == ':' || c == '%') return std::string("must not contain '") + c + "'";
        if (c == ' ' || (c >= '\t' && c <= '\r') || c == '\0') return "must not contain whitespace";
    }
    return "";
}

[[noreturn]] void fail_at(const std::string& source, const std::string& path, const std::string& msg) {
    throw Error(EINVAL, source + ": " + path + ": " + msg);
}

// Runs a builder of spec/sched.hpp, which checks a field as its syscall needs
// it and throws "path: message"; the error then reads like fail_at()'s.  One
// set of rules for validation and for the container process.
template <typename Build>
void check_built(const std::string& source, Build&& build) {
    try {
        build();
    } catch (const Error& e) {
        throw Error(EINVAL, source + ": " + e.message());
    }
}

// A process, of a config (`prefix` "process.") or of an `exec --process` file ("").
void check_process(const Process& p, const std::string& source, const std::string& prefix) {
    auto fail = [&](const std::string& path, const std::string& msg) { fail_at(source, prefix + path, msg); };
    if (p.args.empty()) fail("args", "must not be empty");
    if (p.cwd.empty() || p.cwd[0] != '/') fail("cwd", "must be an absolute path, got " + quote(p.cwd));
    std::set<std::string> seen;
    for (size_t i = 0; i < p.rlimits.size(); ++i) {
        const Rlimit& r = p.rlimits[i];
        std::string where = "rlimits[" + std::to_string(i) + "]";
        if (!kRlimits.count(r.type)) fail(where + ".type", "unknown rlimit " + quote(r.type));
        if (!seen.insert(r.type).second) fail(where + ".type", "duplicate rlimit " + r.type);
        if (r.soft > r.hard)
            fail(where, "soft limit " + std::to_string(r.soft) + " is above hard limit " + std::to_string(r.hard));
    }
    if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
        fail("oomScoreAdj", "must be within -1000..1000");
    for (size_t i = 0; i < p.env.size(); ++i)
        if (p.env[i].find('=') == std::string::npos)
            fail("env[" + std::to_string(i) + "]", "must be KEY=VALUE, got " + quote(p.env[i]));
    if (p.scheduler) check_built(source, [&] { sched_attr_for(*p.scheduler, prefix + "scheduler"); });
    if (p.io_priority) check_built(source, [&] { ioprio_for(*p.io_priority, prefix + "ioPriority"); });
    if (p.exec_cpu_affinity)
        check_built(source, [&] { check_exec_cpu_affinity(*p.exec_cpu_affinity, prefix + "execCPUAffinity"); });
}

class Checker {
public:
    Checker(const Config& c, const std::string& source) : c_(c), source_(source) {}

    [[noreturn]] void fail(const std::string& path, const std::string& msg) const { fail_at(source_, path, msg); }

    bool new_ns(const std::string& type) const {
        if (!c_.linux) return false;
        const Namespace* ns = c_.linux->find_namespace(type);
        return ns && ns->path.empty();
    }
    bool has_ns(const std::string& type) const { return c_.linux && c_.linux->find_namespace(type); }

    void run() {
        check_version();
        if (c_.root.path.empty()) fail("root.path", "must not be empty");
        if (c_.process) check_process(*c_.process, source_, "process.");
        for (size_t i = 0; i < c_.mounts.size(); ++i) {
            const Mount& m = c_.mounts[i];
            std::string at = "mounts[" + std::to_string(i) + "]";
            if (m.destination.empty()) fail(at + ".destination", "must not be empty");
            check_mappings(m.uid_mappings, at + ".uidMappings");
            check_mappings(m.gid_mappings, at + ".gidMappings");
            // runtime-spec: mappings come in pairs, and only with idmap or ridmap.
            if (m.uid_mappings.empty() != m.gid_mappings.empty())
                fail(at + (m.uid_mappings.empty() ? ".uidMappings" : ".gidMappings"),
                     "an idmapped mount needs both uidMappings and gidMappings");
            auto has = [&](const char* o) { return std::find(m.options.begin(), m.options.end(), o) != m.options.end(); };
            bool idmap = has("idmap") || has("ridmap");
            if (!m.uid_mappings.empty() && !idmap)
                fail(at + ".options", "uidMappings and gidMappings need the idmap or ridmap option");
            if (idmap && m.type != "bind" && !has("bind") && !has("rbind"))
                fail(at + ".options", "idmap and ridmap are supported on bind mounts only");
        }
        // A uts namespace of its own: new, or joined by path (as runc).
        // runc's words, after the field's name.
        if (!c_.hostname.empty() && !has_ns("uts"))
            fail("hostname", "unable to set hostname without a private UTS namespace");
        if (!c_.domainname.empty() && !has_ns("uts"))
            fail("domainname", "unable to set domainname without a private UTS namespace");
        if (c_.linux) check_linux(*c_.linux);
    }

private:
    void check_version() {
        if (c_.oci_version.empty()) fail("ociVersion", "must be set");
        if (c_.oci_version[0] != '1' || (c_.oci_version.size() > 1 && c_.oci_version[1] != '.'))
            fail("ociVersion", "unsupported version " + quote(c_.oci_version) + ": want 1.x");
    }

    void check_mappings(const std::vector<IdMapping>& maps, const std::string& at) {
        for (size_t i = 0; i < maps.size(); ++i) {
            std::string where = at + "[" + std::to_string(i) + "]";
            if (maps[i].size == 0) fail(where + ".size", "must be > 0");
            if (uint64_t(maps[i].container_id) + maps[i].size > (uint64_t(1) << 32))
                fail(where, "containerID + size overflows 32 bits");
            if (uint64_t(maps[i].host_id) + maps[i].size > (uint64_t(1) << 32))
                fail(where, "hostID + size overflows 32 bits");
            for (size_t j = 0; j < i; ++j) {
                bool overlap = maps[i].container_id < maps[j].container_id + maps[j].size &&
                               maps[j].container_id < maps[i].container_id + maps[i].size;
                if (overlap) fail(where, "container IDs overlap " + at + "[" + std::to_string(j) + "]");
            }
        }
    }

    void check_linux(const Linux& l) {
        std::set<std::string> seen;
        for (size_t i = 0; i < l.namespaces.size(); ++i) {
            std::string where = "linux.namespaces[" + std::to_string(i) + "]";
            const std::string& t = l.namespaces[i].type;
            if (!kNamespaceTypes.count(t)) fail(where + ".type", "unknown namespace type " + quote(t));
            if (!seen.insert(t).second) fail(where + ".type", "duplicate namespace " + quote(t));
        }
        // Masks are mounts: without a mount namespace of its own they would cover the
        // caller's /proc and /sys, and stay after delete (runc's words).
        if (!has_ns("mount") && (!l.masked_paths.empty() || !l.readonly_paths.empty()))
            fail(l.masked_paths.empty() ? "linux.readonlyPaths" : "linux.maskedPaths",
                 "unable to restrict sys entries without a private MNT namespace");
        check_mappings(l.uid_mappings, "linux.uidMappings");
        check_mappings(l.gid_mappings, "linux.gidMappings");
        bool userns = new_ns("user");
        if (!userns && (!l.uid_mappings.empty() || !l.gid_mappings.empty()))
            fail(l.uid_mappings.empty() ? "linux.gidMappings" : "linux.uidMappings",
                 "id mappings need a new user namespace");
        // An empty map would reach the kernel as an EINVAL from writing gid_map.
        if (userns && l.uid_mappings.empty())
            fail("linux.uidMappings", "a new user namespace needs at least one uid mapping");
        if (userns && l.gid_mappings.empty())
            fail("linux.gidMappings", "a new user namespace needs at least one gid mapping");
        if (!kPropagations.count(l.rootfs_propagation))
            fail("linux.rootfsPropagation", "unknown propagation " + quote(l.rootfs_propagation));
        for (const auto& [clock, off] : l.time_offsets) {
            if (clock != "monotonic" && clock != "boottime")
                fail("linux.timeOffsets." + clock, "unknown clock: want monotonic or boottime");
            if (off.nanosecs >= 1000000000u) fail("linux.timeOffsets." + clock + ".nanosecs", "must be < 1000000000");
        }
        if (!l.time_offsets.empty() && !new_ns("time")) fail("linux.timeOffsets", "needs a new time namespace");
        for (const auto& [key, value] : l.sysctl) check_sysctl(key);
        for (size_t i = 0; i < l.devices.size(); ++i) {
            std::string where = "linux.devices[" + std::to_string(i) + "]";
            const std::string& t = l.devices[i].type;
            if (t != "c" && t != "b" && t != "u" && t != "p") fail(where + ".type", "must be c, b, u or p, got " + quote(t));
        }
        if (!l.net_devices.empty()) check_net_devices(l);
        if (l.memory_policy) check_built(source_, [&] { mempolicy_for(*l.memory_policy, "linux.memoryPolicy"); });
    }

    // linux.netDevices.  The namespace must be new: a device moved into one
    // joined by path would stay there after the container, out of the host's
    // reach; one created for the container dies with it, and then the kernel
    // destroys virtual devices and returns physical ones to the host.
    void check_net_devices(const Linux& l) {
        const Namespace* net = l.find_namespace("network");
        if (!net) fail("linux.netDevices", "needs a new network namespace (a linux.namespaces entry of type network)");
        if (!net->path.empty())
            fail("linux.netDevices", "needs a new network namespace, not one joined by path " + quote(net->path));
        std::map<std::string, std::string> taken;  // name in the container -> host name
        for (const auto& [host_name, dev] : l.net_devices) {
            std::string where = "linux.netDevices." + host_name;
            if (auto why = interface_name_problem(host_name); !why.empty())
                fail(where, "invalid interface name " + quote(host_name) + ": " + why);
            if (host_name == "lo") fail(where, "the loopback interface cannot leave its network namespace");
            if (!dev.name.empty()) {
                where += ".name";
                if (auto why = interface_name_problem(dev.name); !why.empty())
                    fail(where, "invalid interface name " + quote(dev.name) + ": " + why);
            }
            const std::string& target = dev.name.empty() ? host_name : dev.name;
            // The new namespace already has its loopback interface.
            if (target == "lo") fail(where, "`lo` is taken by the container's loopback interface");
            auto [it, fresh] = taken.emplace(target, host_name);
            if (!fresh) fail(where, quote(target) + " is also the name of linux.netDevices." + it->second + " in the container");
        }
    }

    // Like runc, in runc's words: a sysctl is allowed only when the container has
    // its own instance of the namespace that sysctl belongs to (new or joined by path).
    void check_sysctl(const std::string& key) {
        std::string where = "linux.sysctl." + key, named = "sysctl \"" + key + "\"";
        std::string ns = sysctl_namespace(key);
        if (ns == "ipc") {
            if (!has_ns("ipc")) fail(where, named + " is not allowed in the hosts ipc namespace");
        } else if (ns == "network") {
            if (!has_ns("network")) fail(where, named + " not allowed in host network namespace");
        } else if (ns != "uts" || !has_ns("uts")) {
            fail(where, named + " is not in a separate kernel namespace (it would change the host's)");
        }
    }

    const Config& c_;
    const std::string& source_;
};

}  // namespace

void validate_process(const Process& process, const std::string& source) { check_process(process, source, ""); }

void validate(const Config& config, const std::string& source) { Checker(config, source).run(); }

std::string sysctl_namespace(const std::string& key) {
    static const std::set<std::string> kIpc = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                               "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
    if (kIpc.count(key) || key.rfind("fs.mqueue.", 0) == 0) return "ipc";
    if (key.rfind("net.", 0) == 0) return "network";
    if (key == "kernel.hostname" || key == "kernel.domainname") return "uts";
    return "";
}

}  // namespace crunlite::spec
