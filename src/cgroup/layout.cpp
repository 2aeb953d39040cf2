#include "crunlite/cgroup/layout.hpp"

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::cgroup {
namespace {

std::string join_path(const std::string& a, const std::string& b) {
    if (b.empty()) return a;
    if (a.empty() || a == "/") return b[0] == '/' ? b : "/" + b;
    return a + (b[0] == '/' ? "" : "/") + b;
}

}  // namespace

Layout parse_layout(std::string_view mountinfo, std::string_view self_cgroup) {
    // /proc/self/cgroup: "4:memory:/a/b", "1:cpu,cpuacct:/", "0::/x" (v2).
    std::map<std::string, std::string> own_v1;
    std::string own_v2 = "/";
    for (const auto& line : split(self_cgroup, '\n')) {
        size_t a = line.find(':'), b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
        if (controllers.empty()) own_v2 = path;
        else
            for (const auto& c : split(controllers, ',')) own_v1[c] = path;
    }
    // mountinfo: "36 25 0:31 / /sys/fs/cgroup/memory rw,... shared:14 - cgroup cgroup rw,memory"
    Layout out;
    for (const auto& line : split(mountinfo, '\n')) {
        size_t dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        auto left = split(line.substr(0, dash), ' ');
        auto right = split(line.substr(dash + 3), ' ');
        if (left.size() < 5 || right.size() < 3) continue;
        const std::string& mount_point = left[4];
        if (right[0] == "cgroup2" && !out.has_unified) {
            out.has_unified = true;
            out.unified = {mount_point, own_v2};
        } else if (right[0] == "cgroup") {
            for (const auto& opt : split(right[2], ',')) {
                // Of the named hierarchies, systemd's is joined too, as runc joins it (no limits there).
                bool named = opt.rfind("name=", 0) == 0;
                if ((named && opt != "name=systemd") || !own_v1.count(opt) || out.v1.count(opt)) continue;
                out.v1[opt] = {mount_point, own_v1[opt]};
            }
        }
    }
    return out;
}

std::string container_path(const std::string& cgroups_path, const std::string& id, const std::string& own) {
    std::string p = cgroups_path.empty() ? id : cgroups_path;
    bool names_one = false;
    for (const auto& part : split(p, '/')) {
        if (part == "..") throw Error(EINVAL, "linux.cgroupsPath " + quote(cgroups_path) + ": must not contain \"..\"");
        names_one = names_one || (!part.empty() && part != ".");
    }
    // The root (or our own cgroup): delete would remove every cgroup beneath it.
    if (!names_one)
        throw Error(EINVAL, "linux.cgroupsPath " + quote(cgroups_path) + ": names no cgroup of the container's own");
    if (p[0] == '/') return p;
    return join_path(own, p);
}

}  // namespace crunlite::cgroup
