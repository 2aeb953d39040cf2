// monitor: what crun-lite-monitor (src/monitor/monitor.cpp), the small process
// that watches a detached container, has the runtime do.  Internal: its
// arguments are crun-lite-monitor's, not a user's.
//   crun-lite monitor tick ID       one healthcheck probe, recorded; prints the
//                                   ms until the next (-1: none)
//   crun-lite monitor exited ID --pid PID --start-time T --status S [--rm]
//                            [--netns-fd FD] [--userns-fd FD]
//                                   records the init's exit; with --rm deletes;
//                                   else, as the restart policy says, restarts
//                                   it (app/restart.hpp) and prints
//                                   "PID START_TIME FIRST_TICK_MS" of the new init
#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "../command.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/app/restart.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::cli {
namespace {

constexpr const char* kUsage =
    "Usage: crun-lite monitor tick CONTAINER_ID\n"
    "       crun-lite monitor exited CONTAINER_ID --pid PID --start-time T --status S [--rm]\n"
    "                                [--netns-fd FD] [--userns-fd FD] [--report-fd FD]\n\n"
    "Internal: what crun-lite-monitor, the process that watches a detached container,\n"
    "has the runtime do (a healthcheck tick; the record of the container's exit, and its restart).\n";

int exited(const Global& g, const std::vector<std::string>& args) {
    int pid = 0, status = 0, netns_fd = -1, userns_fd = -1, report_fd = -1;
    uint64_t start_time = 0;
    bool remove = false;
    po::options_description opts("Options");
    opts.add_options()
        ("pid", po::value(&pid)->required(), "the init's pid")
        ("start-time", po::value(&start_time)->required(), "its start time (/proc/PID/stat field 22)")
        ("status", po::value(&status)->required(), "its wait status")
        ("rm", po::bool_switch(&remove), "delete the container")
        ("netns-fd", po::value(&netns_fd), "an inherited fd of the container's network namespace (restarts join it)")
        ("userns-fd", po::value(&userns_fd), "an inherited fd of its user namespace (rootless restarts join it)")
        ("report-fd", po::value(&report_fd), "where to print a restarted init (default: stdout)");
    std::string id;
    parse_id_args("monitor exited", opts, args, id);
    runtime::Context ctx = g.context();
    // A restarted init gets our stdout and stderr (the pipes to the container's
    // log); what we print goes to the monitor's pipe, --report-fd.  Without it
    // (a monitor of an older crun-lite) that pipe is our stdout, and the init
    // gets our stderr for both.
    int out = report_fd;
    if (out >= 0) {
        if (::fcntl(out, F_SETFD, FD_CLOEXEC) < 0) throw_errno("monitor exited: --report-fd");
    } else {
        out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (out < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) throw_errno("monitor exited: dup stdout");
    }
    std::optional<app::Restarted> r = app::container_exited(ctx, id, pid, start_time, status, remove, netns_fd, userns_fd);
    if (r) {
        std::string line = std::to_string(r->pid) + " " + std::to_string(r->start_time) + " " +
                           std::to_string(r->first_tick_ms) + "\n";
        if (::write(out, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            throw_errno("monitor exited: report the restart");
    }
    ::close(out);
    return 0;
}

}  // namespace

int cmd_monitor(const Global& g, const std::vector<std::string>& args) {
    std::string sub = args.empty() ? "" : args[0];
    std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
    if (sub == "tick") {
        po::options_description opts("Options");
        std::string id;
        parse_id_args("monitor tick", opts, rest, id);
        std::cout << app::health_tick(g.context(), id) << std::endl;
        return 0;
    }
    if (sub == "exited") return exited(g, rest);
    std::cout << kUsage;
    if (sub == "--help" || sub == "-h") return 0;
    throw Error(EINVAL, "monitor: unknown command" + (sub.empty() ? std::string() : " " + quote(sub)));
}

}  // namespace crunlite::cli
