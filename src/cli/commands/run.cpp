// run and create: from a bundle (runc's grammar) or, with --image, from an image.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "../command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/app/restart.hpp"
#include "crunlite/app/wait.hpp"
#include "crunlite/sys/fd.hpp"
#include "pull_flags.hpp"

namespace crunlite::cli {
namespace {

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

struct ImageFlags {
    app::ImageRunOptions o;
    std::string name, memory, user, workdir, entrypoint, hostname, cpus, wait_healthy, read_only_tmpfs = "true";
    std::string shm_size, cidfile;
    bool interactive = false;
    std::vector<std::string> security_opts;
    bool no_init = false, init = false;
    std::string health_cmd, health_http, health_tcp, health_interval, health_timeout, health_start_period,
        health_start_interval;
    int health_retries = 0;
    int health_max_log_count = 0, health_max_log_size = 0;
    std::string health_log_destination;
    std::string restart, health_on_failure, stop_signal;
    int stop_timeout = 10;
    std::string health_startup_cmd, health_startup_interval, health_startup_timeout;
    int health_startup_retries = 0, health_startup_success = 0;
    PullFlags pull;
};

void add_image_options(po::options_description& opts, ImageFlags& f, bool run) {
    auto& o = f.o;
    opts.add_options()
        ("image", po::value(&o.image),
         "run an image: a stored name or id, docker-archive:FILE, oci-archive:FILE, oci:DIR, or docker://[HOST/]NAME[:TAG|@DIGEST] from a registry")
        ("pull", po::value(&o.pull), "registry images: missing (pull unless stored, the default), always or never")
        ("store", po::value(&o.store_root), "image store (default /var/lib/crun-lite, rootless $XDG_DATA_HOME/crun-lite)")
        ("name", po::value(&f.name), "container id (instead of the first argument)")
        ("env,e", po::value(&o.env)->composing(), "set KEY=VALUE, or pass KEY from our environment (repeatable)")
        ("env-file", po::value(&o.env_files)->composing(), "read KEY=VALUE lines from a file (repeatable)")
        ("user,u", po::value(&f.user), "USER[:GROUP] (name or id) instead of the image's USER")
        ("workdir,w", po::value(&f.workdir), "working directory instead of the image's WORKDIR")
        ("entrypoint", po::value(&f.entrypoint), "replace the image's ENTRYPOINT (and its CMD)")
        ("volume,v", po::value(&o.volumes)->composing(), "bind a path, or mount a named volume, at DST: /SRC|./SRC|NAME:DST[:OPTIONS] (ro, nocopy, bind, rslave, noexec, ...: man crun-lite-run), or DST alone for an anonymous volume (repeatable)")
        ("read-only", po::bool_switch(&o.read_only), "mount the root filesystem read-only")
        ("read-only-tmpfs", po::value(&f.read_only_tmpfs)->implicit_value("true"),
         "with --read-only: writable tmpfs on /tmp, /var/tmp and /run (true, the default, or false)")
        ("tmpfs", po::value(&o.tmpfs)->composing(),
         "mount a tmpfs: DST[:OPT[,OPT]], after rw,noexec,nosuid,nodev,tmpcopyup (podman's; notmpcopyup: start empty) (repeatable)")
        ("mount", po::value(&o.mounts)->composing(),
         "type=bind|volume|tmpfs,src=SRC,dst=DST[,readonly][,bind-propagation=P][,volume-nocopy][,tmpfs-size=S][,tmpfs-mode=M] (Docker's) (repeatable)")
        ("device", po::value(&o.devices)->composing(), "add a host device: HOST[:CONTAINER][:PERMS] (r, w, m) (repeatable)")
        ("add-host", po::value(&o.add_hosts)->composing(), "add NAME:IP to /etc/hosts (repeatable)")
        ("dns", po::value(&o.dns.servers)->composing(), "nameserver for /etc/resolv.conf instead of the network's (repeatable)")
        ("dns-search", po::value(&o.dns.search)->composing(), "search domain for /etc/resolv.conf; . for none (repeatable)")
        ("dns-option", po::value(&o.dns.options)->composing(), "option for /etc/resolv.conf (repeatable)")
        ("ulimit", po::value(&o.ulimits)->composing(), "NAME=SOFT[:HARD] resource limit, e.g. nofile=4096:8192; -1: unlimited (repeatable)")
        ("sysctl", po::value(&o.sysctls)->composing(), "KEY=VALUE namespaced kernel parameter (repeatable)")
        ("group-add", po::value(&o.group_add)->composing(), "supplementary group: a name in the image's /etc/group, or a gid (repeatable)")
        ("shm-size", po::value(&f.shm_size), "size of /dev/shm (default 64m)")
        ("label,l", po::value(&o.labels)->composing(), "KEY[=VALUE] label, an annotation of the container (repeatable)")
        ("cidfile", po::value(&f.cidfile), "write the container's id to this file, which must not exist")
        ("memory,m", po::value(&f.memory), "memory limit (e.g. 256m)")
        ("pids-limit", po::value(&o.pids_limit), "maximum number of processes")
        ("cpus", po::value(&f.cpus), "CPU limit (e.g. 1.5)")
        ("cap-add", po::value(&o.cap_add)->composing(), "add a capability, or ALL (repeatable)")
        ("cap-drop", po::value(&o.cap_drop)->composing(), "drop a capability, or ALL (repeatable)")
        ("security-opt", po::value(&f.security_opts)->composing(), "seccomp=FILE or seccomp=unconfined")
        ("hostname", po::value(&f.hostname), "container host name (default: the id's first 12 characters)")
        ("stop-signal", po::value(&f.stop_signal), "signal that stops the container (default: the image's StopSignal, else SIGTERM)")
        ("stop-timeout", po::value(&f.stop_timeout), "seconds `stop` waits after the stop signal before SIGKILL (default 10)")
        ("init", po::bool_switch(&f.init), "run crun-lite-init as PID 1 (the default with --image)")
        ("no-init", po::bool_switch(&f.no_init), "run the command itself as PID 1")
        ("init-path", po::value(&o.init_path), "the crun-lite-init binary to inject")
        ("tty,t", po::bool_switch(&o.tty), "allocate a pseudo-terminal")
        ("overlay", po::value(&o.overlay), "root filesystem: native (the kernel's overlay), fuse (fuse-overlayfs) or auto (native, else fuse)")
        ("network", po::value(&o.network),
         "none, host, pasta or slirp4netns (default, rootless or with -p: pasta, else slirp4netns, when installed; else none)")
        ("publish,p", po::value(&o.publish)->composing(),
         "[IP:][HOST:]CONTAINER[/tcp|udp], IP6 as [::1]; no HOST: a free port (see `crun-lite port`) (repeatable)")
        ("publish-all,P", po::bool_switch(&o.publish_all),
         "publish every exposed port (the image's and --expose's) on a free host port")
        ("expose", po::value(&o.expose)->composing(),
         "PORT[-PORT][/tcp|udp|sctp]: add to the image's exposed ports (repeatable)")
        ("health-cmd", po::value(&f.health_cmd), "healthcheck command (run with /bin/sh -c, or a JSON array as podman's; none: no healthcheck)")
        ("health-http", po::value(&f.health_http),
         "healthcheck: a GET of this URL to the container itself (http[s]://localhost:PORT/PATH; or 127.0.0.1, [::1]), healthy on 2xx/3xx")
        ("health-tcp", po::value(&f.health_tcp), "healthcheck: a TCP connect to this port of the container (127.0.0.1 or [::1])")
        ("health-interval", po::value(&f.health_interval), "time between probes (e.g. 30s); disable (or 0): no timer, healthcheck run only")
        ("health-timeout", po::value(&f.health_timeout), "a probe running longer fails")
        ("health-start-period", po::value(&f.health_start_period), "failures in this first period do not count")
        ("health-start-interval", po::value(&f.health_start_interval), "time between probes in the start period")
        ("health-retries", po::value(&f.health_retries), "consecutive failures that make it unhealthy")
        ("health-max-log-count", po::value(&f.health_max_log_count), "probe results kept in the Health log (default 5; 0: all)")
        ("health-max-log-size", po::value(&f.health_max_log_size), "bytes of each probe's output kept (default 4096; 0: all captured)")
        ("health-log-destination", po::value(&f.health_log_destination),
         "local (default), or a directory where every probe is also appended to ID-healthcheck.log")
        ("no-healthcheck", po::bool_switch(&o.health.disable), "disable the image's healthcheck")
        ("health-on-failure", po::value(&f.health_on_failure),
         "when the container turns unhealthy: none (default), kill, restart or stop")
        ("health-startup-cmd", po::value(&f.health_startup_cmd),
         "startup healthcheck (as --health-cmd): runs first; once it passes the regular healthcheck takes over")
        ("health-startup-interval", po::value(&f.health_startup_interval), "time between startup probes (default 30s)")
        ("health-startup-timeout", po::value(&f.health_startup_timeout), "a startup probe running longer fails (default 30s)")
        ("health-startup-retries", po::value(&f.health_startup_retries),
         "consecutive startup failures that restart the container (default 0: never; needs run -d)")
        ("health-startup-success", po::value(&f.health_startup_success),
         "consecutive startup passes that hand over to the regular healthcheck (default 0: one)");
    add_pull_options(opts, f.pull);
    opts.add_options()("restart", po::value(&f.restart),
                       "no (default), on-failure[:N] (non-zero exits, at most N times), always or unless-stopped "
                       "(run: with -d)");
    if (run)
        opts.add_options()
            ("rm", po::bool_switch(&o.remove), "delete the container (and its files) when it exits")
            ("interactive,i", po::bool_switch(&f.interactive),
             "keep standard input attached (without it a foreground container reads /dev/null, as Docker's)")
            ("wait-healthy", po::value(&f.wait_healthy)->implicit_value("60s"),
             "with -d: return once the container is healthy (0), or fail when it is unhealthy or TIMEOUT (default 60s) passes");
}

// Fills f.o from the parsed flags; `rest` is what followed the options: the
// id (unless --name) and the command.
void finish_image_options(ImageFlags& f, const po::variables_map& vm, std::vector<std::string> rest,
                          const std::string& verb) {
    auto& o = f.o;
    if (!f.name.empty()) {
        o.id = f.name;
    } else {
        if (rest.empty()) throw Error(EINVAL, verb + ": \"" + verb + "\" requires a container id argument (or --name)");
        o.id = rest.front();
        rest.erase(rest.begin());
    }
    o.args = rest;
    with_context(verb, [&] { app::check_env_flags(o.env); });
    if (vm.count("user") && !f.user.empty()) o.user = f.user;  // "": the image's USER, as Docker and podman
    if (vm.count("workdir")) o.workdir = f.workdir;
    if (vm.count("entrypoint")) o.entrypoint = f.entrypoint;
    if (vm.count("hostname") && !f.hostname.empty()) o.hostname = f.hostname;  // "": the default, as podman
    std::optional<bool> tmpfs = go_bool(f.read_only_tmpfs);
    if (!tmpfs) throw Error(EINVAL, verb + ": --read-only-tmpfs: want true or false, got " + quote(f.read_only_tmpfs));
    o.read_only_tmpfs = *tmpfs;
    if (f.init && f.no_init) throw Error(EINVAL, verb + ": --init and --no-init conflict");
    o.init = !f.no_init;
    if (!f.memory.empty()) {
        o.memory = parse_size(verb + ": --memory", f.memory);
        if (o.memory <= 0) throw Error(EINVAL, verb + ": --memory must be positive");
    }
    if (!f.shm_size.empty()) {
        o.shm_size = parse_size(verb + ": --shm-size", f.shm_size);
        if (o.shm_size <= 0) throw Error(EINVAL, verb + ": --shm-size must be positive");
    }
    if (!f.cpus.empty()) {
        try {
            size_t used = 0;
            o.cpus = std::stod(f.cpus, &used);
            if (used != f.cpus.size() || o.cpus <= 0) throw std::invalid_argument("");
        } catch (const std::exception&) {
            throw Error(EINVAL, verb + ": --cpus: invalid value " + quote(f.cpus));
        }
    }
    for (const auto& s : f.security_opts) {
        if (s.rfind("seccomp=", 0) == 0) o.seccomp = s.substr(8);
        else if (s == "no-new-privileges" || s == "no-new-privileges:true") continue;  // always set
        else throw Error(EINVAL, verb + ": --security-opt " + quote(s) + ": only seccomp=FILE|unconfined is supported");
        if (o.seccomp.empty()) throw Error(EINVAL, verb + ": --security-opt seccomp= needs a file or unconfined");
    }
    auto& h = o.health;
    // As podman: "none" is --no-healthcheck, and an empty command keeps the image's (Docker too).
    if (vm.count("health-cmd") && !f.health_cmd.empty()) {
        if (app::health_cmd_argv(f.health_cmd, verb + ": --health-cmd").empty()) h.disable = true;
        else h.cmd = f.health_cmd;
    }
    if (vm.count("health-http")) h.http = f.health_http;
    if (vm.count("health-tcp")) h.tcp = f.health_tcp;
    auto duration = [&](const char* flag, const std::string& text, std::optional<int64_t>& out) {
        if (vm.count(flag)) out = app::parse_duration(text, verb + ": --" + flag);
    };
    // podman's "disable" (also "0"): no timer, `healthcheck run` only.
    if (vm.count("health-interval") && (f.health_interval == "disable" || f.health_interval == "0")) h.interval_ns = 0;
    else duration("health-interval", f.health_interval, h.interval_ns);
    duration("health-timeout", f.health_timeout, h.timeout_ns);
    duration("health-start-period", f.health_start_period, h.start_period_ns);
    duration("health-start-interval", f.health_start_interval, h.start_interval_ns);
    if (vm.count("health-retries")) h.retries = f.health_retries;
    if (vm.count("health-max-log-count")) h.max_log_count = f.health_max_log_count;
    if (vm.count("health-max-log-size")) h.max_log_size = f.health_max_log_size;
    if (vm.count("health-log-destination")) h.log_destination = f.health_log_destination;
    if (vm.count("health-startup-cmd")) h.startup_cmd = f.health_startup_cmd;
    duration("health-startup-interval", f.health_startup_interval, h.startup_interval_ns);
    duration("health-startup-timeout", f.health_startup_timeout, h.startup_timeout_ns);
    if (vm.count("health-startup-retries")) h.startup_retries = f.health_startup_retries;
    if (vm.count("health-startup-success")) h.startup_success = f.health_startup_success;
    app::check_health_overrides(h, verb);
    if (vm.count("restart")) o.restart = app::parse_restart_policy(f.restart, verb + ": --restart");
    if (vm.count("stop-signal")) {
        with_context(verb + ": --stop-signal", [&] { return runtime::parse_signal(f.stop_signal); });
        o.stop_signal = f.stop_signal;
    }
    if (vm.count("stop-timeout")) {
        if (f.stop_timeout < 0) throw Error(EINVAL, verb + ": --stop-timeout must not be negative");
        o.stop_timeout = f.stop_timeout;
    }
    if (vm.count("health-on-failure"))
        o.on_failure = app::parse_health_action(f.health_on_failure, verb + ": --health-on-failure");
    if (o.pull != "missing" && o.pull != "always" && o.pull != "never")
        throw Error(EINVAL, verb + ": --pull: want missing, always or never, got " + quote(o.pull));
    o.pull_options = pull_options(f.pull, verb);
    if (image::is_registry_ref(o.image)) with_context(verb, [&] { return image::parse_reference(o.image); });
}

// --cidfile, as Docker's: made before the container, holding its id; a file
// already there is refused, and ours goes again when the container is not made.
template <typename F>
auto with_cidfile(const std::string& path, const std::string& id, F&& f) {
    if (path.empty()) return f();
    sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd && errno == EEXIST)
        throw Error(EEXIST, "--cidfile: container ID file found, make sure the other container isn't running or delete " + path);
    if (!fd) throw_errno("--cidfile: create " + quote(path));
    try {
        if (::write(fd.get(), id.data(), id.size()) != static_cast<ssize_t>(id.size())) throw_errno("--cidfile: write " + quote(path));
        fd.reset();
        return f();
    } catch (...) {
        ::unlink(path.c_str());
        throw;
    }
}

// The first option of `opts` but `except` that the user gave (not defaulted), or "".
std::string given_option(const po::variables_map& vm, const po::options_description& opts,
                         const std::set<std::string>& except) {
    for (const auto& o : opts.options()) {
        const std::string& name = o->long_name();
        if (!except.count(name) && vm.count(name) && !vm[name].defaulted()) return name;
    }
    return "";
}

// Parses a run/create command line; returns true for an image run (then `f`
// is filled), false for a bundle (then `bundle_opts`).  Options of the other
// form are errors, never silently dropped.
bool parse_run_args(const std::string& verb, const std::vector<std::string>& args,
                    const po::options_description& bundle_desc, const po::options_description& image_desc,
                    ImageFlags& f, runtime::CreateOptions& bundle_opts) {
    // One "Options:" title: the bundle options directly, the image ones as their own group.
    po::options_description opts("Options");
    for (const auto& o : bundle_desc.options()) opts.add(o);
    opts.add(image_desc);
    std::vector<std::string> own;
    size_t i = split_options(opts, args, own);
    std::vector<std::string> rest(args.begin() + static_cast<long>(i), args.end());
    std::string usage = verb + " [options] CONTAINER_ID\n       crun-lite " + verb +
                        " --image IMAGE [options] CONTAINER_ID|--name ID [COMMAND [ARG...]]";
    // An image run's flag errors exit as its other errors (podman's 125).
    bool image = std::any_of(own.begin(), own.end(), [](const std::string& a) { return a.rfind("--image", 0) == 0; });
    auto vm = image ? with_podman_exit_codes([&] { return parse_args(verb, usage, opts, {}, {}, own); })
                    : parse_args(verb, usage, opts, {}, {}, own);
    if (vm.count("image")) {
        with_podman_exit_codes([&] {
            if (std::string name = given_option(vm, bundle_desc, {"pid-file", "detach"}); !name.empty())
                throw Error(EINVAL, verb + ": --" + name + " applies to bundles, not to --image");
            f.o.pid_file = bundle_opts.pid_file;
            finish_image_options(f, vm, rest, verb);
        });
        return true;
    }
    if (rest.size() > 1) {
        // A bundle's options may follow its id, as runc's (urfave/cli reorders them).
        po::options_description id;
        id.add_options()("id", po::value<std::string>());
        po::positional_options_description pos;
        pos.add("id", 1);
        vm = parse_args(verb, usage, opts, id, pos, args);
        if (vm.count("image")) throw Error(EINVAL, verb + ": --image must come before the container id");
        rest = {vm["id"].as<std::string>()};
    }
    if (std::string name = given_option(vm, image_desc, {"image"}); !name.empty())
        throw Error(EINVAL, verb + ": --" + name + " needs --image");
    if (rest.empty()) throw arguments_error(verb, "exactly 1");
    bundle_opts.id = rest[0];
    return false;
}

// The image options are needed unless every option given is a bundle one:
// building their ~55 descriptions is ~0.09 ms of a 2.4 ms rootless `run`.
bool image_options_needed(const po::options_description& bundle_desc, const std::vector<std::string>& args) {
    std::vector<std::string> own;
    bool unknown;
    split_options(bundle_desc, args, own, &unknown);
    return unknown;
}

// run --image, once its flags are parsed.
int run_image(const Global& g, const std::vector<std::string>& args, ImageFlags& f, bool detach) {
    if (!f.wait_healthy.empty() && !detach) throw Error(EINVAL, "run: --wait-healthy needs -d");
    // An optional value takes "=" only: "--wait-healthy 5s" made a container "5s".
    auto duration = [](const std::string& text) {
        try {
            app::parse_duration(text, "");
            return true;
        } catch (const Error&) {
            return false;
        }
    };
    for (size_t i = 0; i + 1 < args.size() && !f.wait_healthy.empty(); ++i)
        if ((args[i] == "--wait-healthy" || args[i] == "-wait-healthy") && args[i + 1] == f.o.id && duration(f.o.id))
            throw Error(EINVAL, "run: --wait-healthy takes its timeout as --wait-healthy=" + f.o.id + " (" +
                                    quote(f.o.id) + " would be the container's id)");
    // A detached pty needs someone holding its master (runc: --console-socket); an
    // image run's monitor captures output to its log instead.
    if (f.o.tty && detach) throw Error(EINVAL, "run: -t with -d is not supported for --image (the log captures the output)");
    // Docker's and podman's: standard input only with -i (a `while read` loop
    // around `run` keeps its input).
    if (!detach && !f.interactive) {
        sys::UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!null || ::dup2(null.get(), STDIN_FILENO) < 0) throw_errno("run: open /dev/null for standard input");
    }
    f.o.detach = detach;
    app::check_restart_flags(f.o.restart, f.o.on_failure, f.o.health, detach, f.o.remove, "run");
    f.o.require_healthcheck = !f.wait_healthy.empty();
    int64_t wait_ns = f.wait_healthy.empty() ? 0 : app::parse_duration(f.wait_healthy, "run: --wait-healthy");
    runtime::Context ctx = g.context();
    int code = with_cidfile(f.cidfile, f.o.id, [&] { return app::run_image(ctx, f.o); });
    if (detach) std::cout << f.o.id << std::endl;  // Docker's and podman's: id=$(run -d ...)
    return f.wait_healthy.empty() ? code : app::wait_healthy(ctx, f.o.id, wait_ns);
}

}  // namespace

int cmd_create(const Global& g, const std::vector<std::string>& args) {
    runtime::CreateOptions o;
    ImageFlags f;
    po::options_description opts("Options"), image_opts("Image options (with --image)");
    add_create_options(opts, o);
    if (image_options_needed(opts, args)) add_image_options(image_opts, f, false);
    if (parse_run_args("create", args, opts, image_opts, f, o)) {
        with_podman_exit_codes([&] {
            // create leaves a monitor (as run -d's): it restarts by the policy; the
            // healthcheck's restarts need the monitor's ticks, which start with run -d only.
            app::check_restart_flags({}, f.o.on_failure, f.o.health, false, false, "create");
            with_cidfile(f.cidfile, f.o.id, [&] { app::create_from_image(g.context(), f.o); });
            std::cout << f.o.id << std::endl;
        });
    } else {
        runtime::create(g.context(), o);
    }
    return 0;
}

int cmd_run(const Global& g, const std::vector<std::string>& args) {
    runtime::CreateOptions o;
    ImageFlags f;
    bool detach = false, keep = false;
    po::options_description opts("Options"), image_opts("Image options (with --image)");
    add_create_options(opts, o);
    opts.add_options()
        ("detach,d", po::bool_switch(&detach), "detach from the container's process")
        ("keep", po::bool_switch(&keep), "do not delete the container after it exits (bundles)")
        ("no-subreaper", po::bool_switch(&o.no_subreaper), "do not reap the container's orphans (bundles, foreground)")
        ("config", po::value(&o.config_file), "path to the config file (default: BUNDLE/config.json)");
    if (image_options_needed(opts, args)) add_image_options(image_opts, f, true);
    // runc: a detached container stays until `delete`; --keep is for the foreground.
    if (!parse_run_args("run", args, opts, image_opts, f, o)) return runtime::run(g.context(), o, detach, keep || detach);
    return with_podman_exit_codes([&] { return run_image(g, args, f, detach); });
}

}  // namespace crunlite::cli
