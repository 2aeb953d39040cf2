#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include "../command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/spec/default_spec.hpp"
#include "crunlite/spec/seccomp_profile.hpp"

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
    // The default seccomp profile, resolved for this machine and the default caps.
    std::optional<spec::Seccomp> seccomp;
    try {
        seccomp = app::host_seccomp_profile(spec::default_seccomp_profile_json(), "profiles/seccomp.json",
                                                spec::default_capabilities());
    } catch (const Error& e) {
        log::warn("spec: no seccomp profile: " + e.message());
    }
    spec::SpecOptions so;
    so.rootless = rootless;
    so.caller_uid = ::geteuid();
    so.caller_gid = ::getegid();
    so.seccomp = seccomp;
    std::string text = spec::default_spec_json(so);
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
