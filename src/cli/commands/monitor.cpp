// monitor: what crun-lite-monitor (src/monitor/monitor.cpp), the small process
// that watches a detached container, has the runtime do.  Internal: its
// arguments are crun-lite-monitor's, not a user's.
//   crun-lite monitor tick ID       one healthcheck probe, recorded; prints the
//                                   ms until the next (-1: none)
//   crun-lite monitor exited ID --pid PID --start-time T --status S [--rm]
//                                   records the init's exit; with --rm deletes
#include <iostream>

#include "../command.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::cli {
namespace {

constexpr const char* kUsage =
    "Usage: crun-lite monitor tick CONTAINER_ID\n"
    "       crun-lite monitor exited CONTAINER_ID --pid PID --start-time T --status S [--rm]\n\n"
    "Internal: what crun-lite-monitor, the process that watches a detached container,\n"
    "has the runtime do (a healthcheck tick; the record of the container's exit).\n";

int exited(const Global& g, const std::vector<std::string>& args) {
    int pid = 0, status = 0;
    uint64_t start_time = 0;
    bool remove = false;
    po::options_description opts("Options");
    opts.add_options()
        ("pid", po::value(&pid)->required(), "the init's pid")
        ("start-time", po::value(&start_time)->required(), "its start time (/proc/PID/stat field 22)")
        ("status", po::value(&status)->required(), "its wait status")
        ("rm", po::bool_switch(&remove), "delete the container");
    std::string id;
    parse_id_args("monitor exited", opts, args, id);
    runtime::monitor_exited(g.context(), id, pid, start_time, status, remove);
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
