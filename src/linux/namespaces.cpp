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

int differing_namespaces(pid_t pid) {
    static const std::pair<const char*, int> kinds[] = {
        {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},     {"pid", CLONE_NEWPID},       {"ipc", CLONE_NEWIPC},
        {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
    };
    int flags = 0;
    std::string proc = "/proc/" + std::to_string(pid) + "/ns/";
    for (auto [name, flag] : kinds) {
        struct stat theirs, ours;
        if (::stat((proc + name).c_str(), &theirs) < 0) {
            if (errno == ENOENT) continue;  // kernel without this namespace type
            throw_errno("stat " + proc + name);
        }
        if (::stat((std::string("/proc/self/ns/") + name).c_str(), &ours) < 0) throw_errno(std::string("stat /proc/self/ns/") + name);
        if (theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev) flags |= flag;
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
