#include "../command.hpp"
#include "crunlite/app/image_run.hpp"

namespace crunlite::cli {

int cmd_start(const Global& g, const std::vector<std::string>& args) {
    po::options_description opts("Options"), hidden;
    hidden.add_options()("id", po::value<std::string>());
    po::positional_options_description pos;
    pos.add("id", 1);
    auto vm = parse_args("start", "start CONTAINER_ID", opts, hidden, pos, args);
    runtime::Context ctx = g.context();
    std::string id = require_id(vm, "start");
    if (!app::start_again(ctx, id)) runtime::start(ctx, id, app::starting);
    return 0;
}

}  // namespace crunlite::cli
