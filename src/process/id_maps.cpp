// Who is who across a container's user namespace: writing its id maps (ourselves
// or through newuidmap/newgidmap), and what a map makes of an id.
#include "crunlite/process/launcher.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/process/spawn.hpp"
#include "crunlite/spec/idmap.hpp"

namespace crunlite::process {
namespace {

std::string format_mappings(const std::vector<spec::IdMapping>& maps) {
    std::string out;
    for (const auto& m : maps)
        out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
    return out;
}

// Runs newuidmap/newgidmap PID triples...; its stderr becomes part of the error.
void run_map_helper(const char* helper, pid_t pid, const std::vector<spec::IdMapping>& maps) {
    std::vector<std::string> args = {helper, std::to_string(pid)};
    for (const auto& m : maps) {
        args.push_back(std::to_string(m.container_id));
        args.push_back(std::to_string(m.host_id));
        args.push_back(std::to_string(m.size));
    }
    Captured r = run_capturing(args, STDERR_FILENO);
    if (!r.ok())
        throw Error(EPERM, join(args, " ") + " failed: " +
                               (r.output.empty() ? "exit status " + std::to_string(WEXITSTATUS(r.status)) : r.output));
}

}  // namespace

bool maps_only_own_id(const IdMapAction& action, uint32_t own_id, bool is_gid) {
    return !action.use_helper && spec::maps_only_id(action.mappings, own_id) && (!is_gid || action.deny_setgroups);
}

void write_id_map(pid_t pid, const IdMapAction& action, bool is_gid) {
    std::string proc = pid ? "/proc/" + std::to_string(pid) : "/proc/self";
    if (action.use_helper) {
        if (!pid) throw Error(EINVAL, "newuidmap/newgidmap need the pid of the process to map");
        run_map_helper(is_gid ? "newgidmap" : "newuidmap", pid, action.mappings);
        return;
    }
    if (is_gid && action.deny_setgroups) write_file(proc + "/setgroups", "deny");
    std::string file = proc + (is_gid ? "/gid_map" : "/uid_map");
    with_context(std::string("write ") + (is_gid ? "gid" : "uid") + " mappings",
                 [&] { write_file(file, format_mappings(action.mappings)); });
}

bool init_owns_state_dir(const LaunchRequest& req, uid_t euid) {
    if (req.state_handoff.dir_fd < 0 || (req.seccomp && req.seccomp->notify)) return false;
    uint32_t uid = req.process->user.uid;
    if (!req.new_userns) {
        for (const auto& ns : req.config->linux->namespaces)
            if (ns.type == "user") return false;  // joined by path: its mapping is not ours to read here
        return uid == euid;
    }
    for (const auto& m : req.uid_map.mappings)
        if (uid >= m.container_id && uid - m.container_id < m.size) return m.host_id + (uid - m.container_id) == euid;
    return false;
}

}  // namespace crunlite::process
