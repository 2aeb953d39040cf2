#include "../command.hpp"

namespace crunlite::cli {

// Options shared by create and run.
void add_create_options(po::options_description& opts, runtime::CreateOptions& o) {
    opts.add_options()
        ("bundle,b", po::value(&o.bundle), "path to the bundle directory (default: current directory)")
        ("pid-file", po::value(&o.pid_file), "write the container's init pid to this file")
        ("console-socket", po::value(&o.console_socket), "unix socket that receives the pty master fd")
        ("no-pivot", po::bool_switch(&o.no_pivot), "use MS_MOVE + chroot instead of pivot_root")
        ("no-new-keyring", po::bool_switch(&o.no_new_keyring), "do not create a new session keyring")
        ("preserve-fds", po::value(&o.preserve_fds), "pass N extra fds (3..3+N-1) to the container");
}

int cmd_create(const Global& g, const std::vector<std::string>& args) {
    runtime::CreateOptions o;
    po::options_description opts("Options");
    add_create_options(opts, o);
    po::options_description hidden;
    hidden.add_options()("id", po::value(&o.id));
    po::positional_options_description pos;
    pos.add("id", 1);
    auto vm = parse_args("create", "create [options] CONTAINER_ID", opts, hidden, pos, args);
    o.id = require_id(vm, "create");
    runtime::create(g.context(), o);
    return 0;
}

}  // namespace crunlite::cli
