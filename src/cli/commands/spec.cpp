#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "../command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/default_spec.hpp"

namespace crunlite::cli {

int cmd_spec(const Global&, const std::vector<std::string>& args) {
    std::string bundle = ".";
    bool rootless = false;
    po::options_description opts("Options"), hidden;
    opts.add_options()
        ("bundle,b", po::value(&bundle), "directory to write config.json into (default: current directory)")
        ("rootless", po::bool_switch(&rootless), "a config for an unprivileged user (user namespace, no network namespace)");
    po::positional_options_description pos;
    parse_args("spec", "spec [options]", opts, hidden, pos, args);
    std::string path = bundle + "/config.json";
    std::string text = spec::default_spec_json(rootless, ::geteuid(), ::getegid());
    // O_EXCL: never overwrite a config the user wrote (runc refuses too).
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST) throw Error(EEXIST, "File " + path + " exists. Remove it first");
        throw_errno("create " + quote(path));
    }
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) throw_errno("write " + quote(path));
    return 0;
}

}  // namespace crunlite::cli
