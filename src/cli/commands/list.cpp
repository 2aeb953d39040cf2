#include <iostream>

#include "../command.hpp"

namespace crunlite::cli {

int cmd_list(const Global& g, const std::vector<std::string>& args) {
    std::string format = "table";
    bool quiet = false;
    po::options_description opts("Options"), hidden;
    opts.add_options()
        ("format,f", po::value(&format), "table or json")
        ("quiet,q", po::bool_switch(&quiet), "print only container IDs");
    po::positional_options_description pos;
    parse_args("list", "list [options]", opts, hidden, pos, args);
    runtime::list(g.context(), format, quiet, std::cout);
    return 0;
}

}  // namespace crunlite::cli
