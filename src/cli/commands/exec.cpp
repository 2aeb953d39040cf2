#include "../command.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::cli {

int cmd_exec(const Global& g, const std::vector<std::string>& args) {
    runtime::ExecOptions o;
    std::string process_label;
    po::options_description opts("Options");
    opts.add_options()
        ("process,p", po::value(&o.process_file), "path to an OCI process.json (replaces the options below)")
        ("env,e", po::value(&o.env)->composing(), "set an environment variable KEY=VALUE (repeatable)")
        ("cwd,w", po::value(&o.cwd), "working directory inside the container")
        ("user,u", po::value(&o.user), "UID[:GID] to run as (an image container's: names too, as podman's exec -u)")
        ("additional-gids,g", po::value(&o.additional_gids)->composing(), "additional group id (repeatable)")
        ("cap,c", po::value(&o.caps)->composing(), "add a capability (repeatable)")
        ("tty,t", po::bool_switch(&o.tty), "allocate a pseudo-terminal")
        ("interactive,i", po::bool_switch(), "for docker/podman scripts: standard input is always the process's")
        ("detach,d", po::bool_switch(&o.detach), "do not wait for the process")
        ("pid-file", po::value(&o.pid_file), "write the process's pid to this file")
        ("console-socket", po::value(&o.console_socket), "unix socket that receives the pty master fd")
        ("preserve-fds", po::value(&o.preserve_fds), "pass N extra fds (3..3+N-1) to the process")
        ("no-new-privs", po::bool_switch(&o.no_new_privs), "set no_new_privs for the process")
        ("apparmor", po::value(&o.apparmor), "AppArmor profile (not supported: warned)")
        ("process-label", po::value(&process_label), "SELinux label (not supported: warned)")
        ("ignore-paused", po::bool_switch(&o.ignore_paused), "exec even if the container is paused")
        ("cgroup", po::value(&o.cgroups)->composing(),
         "run in an existing sub-cgroup of the container, [CONTROLLER[,CONTROLLER]:]PATH (repeatable)");
    // Like runc: options end at the container id; everything after it is the
    // command, even words that look like options ("exec ID ls -la").
    std::vector<std::string> own;
    size_t i = split_options(opts, args, own);
    parse_args("exec", "exec [options] CONTAINER_ID COMMAND [ARG...]", opts, {}, {}, own);
    // runc's -g is an int64 flag: a value that is not one is a usage error (exit 1), before
    // the container is looked at.
    for (const auto& gid : o.additional_gids)
        if (!parse_int(!gid.empty() && gid[0] == '+' ? gid.substr(1) : gid)) {
            bool long_form = std::any_of(own.begin(), own.end(), [](const std::string& w) { return w.rfind("--additional-gids", 0) == 0; });
            bool digits = !gid.empty() && gid.find_first_not_of("0123456789", gid[0] == '-' || gid[0] == '+') == std::string::npos;
            std::string q = "\"" + gid + "\"";
            throw Error(EINVAL, "invalid value " + q + " for flag -" + (long_form ? "additional-gids" : "g") +
                                    ": strconv.ParseInt: parsing " + q + (digits ? ": value out of range" : ": invalid syntax"));
        }
    if (i >= args.size()) throw arguments_error("exec", "a minimum of 1");
    o.id = args[i];
    o.args.assign(args.begin() + static_cast<long>(i) + 1, args.end());
    if (!process_label.empty())
        log::warn("exec: --process-label " + quote(process_label) + " not applied: crun-lite does not support SELinux");
    runtime::Context ctx = g.context();
    try {
        app::resolve_exec_user(ctx, o);
        return runtime::exec(ctx, o);
    } catch (const Error& e) {
        // As runc: an exec that fails says so and exits 255, which a caller tells
        // from the process's own exit status.  In an image container, as podman's
        // exec: 127 for a command not found, 126 for one not executable.
        bool said = e.message().rfind("exec failed: ", 0) == 0;
        int code = 255;
        if (e.kind() != Error::Kind::Other && app::is_image_container(ctx, o.id))
            code = e.kind() == Error::Kind::CommandNotFound ? 127 : 126;
        return report_error(said ? e : e.with_context("exec failed"), code);
    }
}

}  // namespace crunlite::cli
