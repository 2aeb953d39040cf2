#include <unistd.h>

#include <iostream>

#include "../command.hpp"
#include "crunlite/base/error.hpp"

namespace crunlite::cli {

runtime::Context Global::context() const {
    if (cgroup_manager == "systemd") {
        // Say which of the two it is: no systemd at all (these hosts), or a
        // systemd we do not talk to (crun-lite has no D-Bus driver).
        bool booted = ::access("/run/systemd/system", F_OK) == 0;
        throw Error(ENOTSUP, std::string("systemd cgroup manager requested, but ") +
                                 (booted ? "crun-lite has no systemd (D-Bus) cgroup driver"
                                         : "systemd is not running on this host (PID 1 is not systemd)") +
                                 "; use --cgroup-manager cgroupfs or disabled");
    }
    return runtime::make_context(root_flag, rootless, cgroup_manager);
}

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"create", "create a container", cmd_create},
        {"start", "start a created container", cmd_start},
        {"exec", "run a new process inside a running container", cmd_exec},
        {"run", "create and start a container", cmd_run},
        {"state", "print the state of a container", cmd_state},
        {"kill", "send a signal to the container's init process", cmd_kill},
        {"delete", "delete a container and its resources", cmd_delete},
        {"pause", "freeze every process of a container", cmd_pause},
        {"resume", "thaw a paused container", cmd_resume},
        {"ps", "list the processes of a container", cmd_ps},
        {"update", "change the resource limits of a container", cmd_update},
        {"events", "print resource usage statistics of a container", cmd_events},
        {"list", "list containers", cmd_list},
        {"spec", "write a new config.json", cmd_spec},
        {"image", "load, list, inspect and remove images", cmd_image},
        {"features", "print the features this runtime supports", cmd_features},
    };
    return table;
}

po::variables_map parse_args(const std::string& verb, const std::string& usage, const po::options_description& visible,
                             const po::options_description& hidden, const po::positional_options_description& pos,
                             const std::vector<std::string>& args) {
    po::options_description all;
    all.add(visible).add(hidden);
    all.add_options()("help,h", "show help");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
        if (vm.count("help")) {
            std::cout << "Usage: crun-lite " << usage << "\n\n" << visible << "\n";
            throw HelpShown{};
        }
        po::notify(vm);
    } catch (const po::error& e) {
        throw Error(EINVAL, verb + ": " + e.what());
    }
    return vm;
}

std::string require_id(const po::variables_map& vm, const std::string& verb) {
    if (!vm.count("id")) throw Error(EINVAL, verb + ": \"" + verb + "\" requires a container id argument");
    return vm["id"].as<std::string>();
}

po::variables_map parse_id_args(const std::string& verb, const po::options_description& opts,
                                const std::vector<std::string>& args, std::string& id) {
    po::options_description hidden;
    hidden.add_options()("id", po::value<std::string>());
    po::positional_options_description pos;
    pos.add("id", 1);
    po::variables_map vm = parse_args(verb, verb + " [options] CONTAINER_ID", opts, hidden, pos, args);
    id = require_id(vm, verb);
    return vm;
}

}  // namespace crunlite::cli
