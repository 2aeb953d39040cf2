#include "crunlite/linux/namespaces.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/kernel.hpp"

namespace crunlite::linux {

int clone_flag(const std::string& type) {
    if (type == "pid") return CLONE_NEWPID;
    if (type == "network") return CLONE_NEWNET;
    if (type == "mount") return CLONE_NEWNS;
    if (type == "ipc") return CLONE_NEWIPC;
    if (type == "uts") return CLONE_NEWUTS;
    if (type == "user") return CLONE_NEWUSER;
    if (type == "cgroup") return CLONE_NEWCGROUP;
    if (type == "time") return CLONE_NEWTIME;
    throw Error(EINVAL, "unknown namespace type " + quote(type));
}

int new_namespace_flags(const std::vector<spec::Namespace>& namespaces) {
    int flags = 0;
    for (const auto& ns : namespaces)
        if (ns.path.empty()) flags |= clone_flag(ns.type);
    return flags;
}

static void join_one(sys::Kernel& k, const spec::Namespace& ns) {
    sys::UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + ns.type + " namespace " + quote(ns.path));
    if (k.setns(fd.get(), clone_flag(ns.type)) < 0) throw_errno("join " + ns.type + " namespace " + quote(ns.path));
}

void join_namespaces(const std::vector<spec::Namespace>& namespaces, sys::Kernel& k) {
    for (const auto& ns : namespaces)
        if (!ns.path.empty() && ns.type == "user") join_one(k, ns);
    for (const auto& ns : namespaces)
        if (!ns.path.empty() && ns.type != "user") join_one(k, ns);
}

void enter_cgroups(const std::string& unified, const std::vector<std::string>& v1_dirs, sys::Kernel& k) {
    auto enter = [&k](const std::string& dir, const char* file) {
        with_context("enter cgroup " + quote(dir), [&] { k.write_file(dir + "/" + file, "0"); });
    };
    if (!unified.empty()) enter(unified, "cgroup.procs");
    for (const auto& d : v1_dirs) enter(d, "tasks");
}

void enter_namespaces(const NamespaceEntry& e, sys::Kernel& k) {
    auto call = [](const std::function<void()>& f) {
        if (f) f();
    };
    auto check_k = [](int rc, const char* what) {
        if (rc < 0) throw_errno(what);
    };
    const spec::Linux& lnx = *e.lnx;
    if (e.oom_score_adj)
        with_context("set oom_score_adj to " + std::to_string(*e.oom_score_adj),
                     [&] { k.write_file("/proc/self/oom_score_adj", std::to_string(*e.oom_score_adj)); });
    enter_cgroups(e.cgroup_unified, e.cgroup_v1_dirs, k);
    join_namespaces(lnx.namespaces, k);
    call(e.joined);
    int flags = new_namespace_flags(lnx.namespaces);
    if (flags & CLONE_NEWUSER) {
        check_k(k.unshare(CLONE_NEWUSER), "unshare user namespace");
        call(e.map_ids);
    }
    if (flags & CLONE_NEWNS) check_k(k.unshare(CLONE_NEWNS), "unshare mount namespace");
    call(e.in_mount_ns);
    if (flags & CLONE_NEWUSER) {
        check_k(k.setresgid(0, 0, 0), "setgid 0 in the user namespace");
        check_k(k.setresuid(0, 0, 0), "setuid 0 in the user namespace");
    }
    int rest = flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWNS);
    if (rest) check_k(k.unshare(rest), "unshare namespaces");
    if (rest & CLONE_NEWNET) call(e.network_up);
    if (flags & CLONE_NEWTIME) {
        std::string text;
        for (const auto& [clock, off] : lnx.time_offsets)
            text += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
        if (!text.empty())
            with_context("write linux.timeOffsets", [&] { k.write_file("/proc/self/timens_offsets", text); });
    }
}

int differing_namespaces(pid_t pid, int known_new) {
    static const std::pair<const char*, int> kinds[] = {
        {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},     {"pid", CLONE_NEWPID},       {"ipc", CLONE_NEWIPC},
        {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
    };
    // A namespace link reads "<type>:[<inode>]": equal text, the same namespace.
    // readlinkat through the two directories, because stat() follows each link
    // into nsfs (~6 us apiece here, a third of `exec`'s first stage).
    std::string dir = "/proc/" + std::to_string(pid) + "/ns";
    auto open_dir = [](const std::string& path) {
        sys::UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!fd) throw_errno("open " + path);
        return fd;
    };
    sys::UniqueFd theirs = open_dir(dir), ours = open_dir("/proc/self/ns");
    int flags = 0;
    for (auto [name, flag] : kinds) {
        if (known_new & flag) {
            flags |= flag;
            continue;
        }
        char a[64], b[64];
        ssize_t na = ::readlinkat(theirs.get(), name, a, sizeof a);
        if (na < 0) {
            if (errno == ENOENT) continue;  // kernel without this namespace type
            throw_errno("readlink " + dir + "/" + name);
        }
        ssize_t nb = ::readlinkat(ours.get(), name, b, sizeof b);
        if (nb < 0) throw_errno(std::string("readlink /proc/self/ns/") + name);
        if (na != nb || std::memcmp(a, b, static_cast<size_t>(na)) != 0) flags |= flag;
    }
    return flags;
}

void bring_up_loopback() {
    sys::UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno("socket for the loopback interface");
    struct ifreq ifr = {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0) throw_errno("get flags of lo");
    if (ifr.ifr_flags & IFF_UP) return;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0) throw_errno("bring up lo");
}

}  // namespace crunlite::linux
