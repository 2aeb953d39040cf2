#include "../command.hpp"

namespace crunlite::cli {

int cmd_kill(const Global& g, const std::vector<std::string>& args) {
    bool all = false;
    std::string signal = "SIGTERM";
    po::options_description opts("Options"), hidden;
    opts.add_options()("all,a", po::bool_switch(&all), "send the signal to every process of the container")(
        "signal,s", po::value(&signal), "the signal, as podman's kill -s (the SIGNAL argument, as runc's, is the same)");
    hidden.add_options()("id", po::value<std::string>());
    po::positional_options_description pos;
    pos.add("id", 1).add("signal", 1);
    auto vm = parse_args("kill", "kill [options] CONTAINER_ID [SIGNAL]  (default SIGTERM)", opts, hidden, pos, args);
    runtime::kill(g.context(), require_id(vm, "kill", "a minimum of 1"), signal, all);
    return 0;
}

}  // namespace crunlite::cli
