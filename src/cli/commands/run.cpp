#include "../command.hpp"

namespace crunlite::cli {

void add_create_options(po::options_description& opts, runtime::CreateOptions& o);

int cmd_run(const Global& g, const std::vector<std::string>& args) {
    runtime::CreateOptions o;
    bool detach = false, keep = false;
    po::options_description opts("Options");
    add_create_options(opts, o);
    opts.add_options()
        ("detach,d", po::bool_switch(&detach), "detach from the container's process")
        ("keep", po::bool_switch(&keep), "do not delete the container after it exits")
        ("config", po::value(&o.config_file), "path to the config file (default: BUNDLE/config.json)");
    po::options_description hidden;
    hidden.add_options()("id", po::value(&o.id));
    po::positional_options_description pos;
    pos.add("id", 1);
    auto vm = parse_args("run", "run [options] CONTAINER_ID", opts, hidden, pos, args);
    o.id = require_id(vm, "run");
    return runtime::run(g.context(), o, detach, keep);
}

}  // namespace crunlite::cli
