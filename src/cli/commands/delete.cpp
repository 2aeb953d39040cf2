#include "../command.hpp"

namespace crunlite::cli {

int cmd_delete(const Global& g, const std::vector<std::string>& args) {
    bool force = false;
    po::options_description opts("Options"), hidden;
    opts.add_options()("force,f", po::bool_switch(&force), "kill the container first if it is running");
    hidden.add_options()("id", po::value<std::string>());
    po::positional_options_description pos;
    pos.add("id", 1);
    auto vm = parse_args("delete", "delete [options] CONTAINER_ID", opts, hidden, pos, args);
    runtime::remove(g.context(), require_id(vm, "delete"), force);
    return 0;
}

}  // namespace crunlite::cli
