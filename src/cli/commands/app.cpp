// stop, logs, inspect, healthcheck, port: the verbs of image containers (run --image).
#include <sys/wait.h>

#include <iostream>

#include "../command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/app/slirp.hpp"
#include "crunlite/state/store.hpp"
#include "crunlite/sys/child.hpp"

namespace crunlite::cli {
namespace {

// Docker's verbs name the container they cannot find (runc's own say only
// "container does not exist").
template <typename F>
auto naming(const runtime::Context& ctx, const std::string& id, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error& e) {
        if (e.code() == ENOENT && !state::Store(ctx.root).exists(id)) throw Error(ENOENT, "container " + id + " does not exist");
        throw;
    }
}

}  // namespace

// Several containers stop at once, each in a child of its own (as Docker and
// podman stop them in parallel); the exit status is 1 when one failed.
int cmd_stop(const Global& g, const std::vector<std::string>& args) {
    int seconds = 0;
    po::options_description opts("Options");
    opts.add_options()("time,t", po::value(&seconds),
                       "seconds to wait after the stop signal before SIGKILL (default: run --stop-timeout, else 10)");
    std::vector<std::string> ids;
    auto vm = parse_ids_args("stop", opts, args, ids);
    if (seconds < 0) throw Error(EINVAL, "stop: --time must not be negative");
    std::optional<int> timeout;
    if (vm.count("time")) timeout = seconds;
    runtime::Context ctx = g.context();
    // Each id once stopped, as Docker and podman print them.
    if (ids.size() == 1) {
        naming(ctx, ids[0], [&] { app::stop(ctx, ids[0], timeout); });
        std::cout << ids[0] << std::endl;
        return 0;
    }
    std::vector<sys::Child> children;
    for (const auto& id : ids)
        children.push_back(sys::Child::fork("stop " + id, [&] {
            try {
                naming(ctx, id, [&] { app::stop(ctx, id, timeout); });
                std::cout << id << std::endl;
                return 0;
            } catch (const Error& e) {
                return report_error(e.with_context("stop " + id), 1);
            }
        }));
    int failed = 0;
    for (auto& c : children) {
        int status = c.wait();
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    return failed ? 1 : 0;
}

int cmd_logs(const Global& g, const std::vector<std::string>& args) {
    app::LogOptions o;
    std::string tail = "all", since, until;
    po::options_description opts("Options");
    opts.add_options()("follow,f", po::bool_switch(&o.follow), "keep printing until the container stops")(
        "tail,n", po::value(&tail), "print only the last N lines (default all)")(
        "timestamps,t", po::bool_switch(&o.timestamps), "print each line after the time it was logged")(
        "since", po::value(&since),
        "lines logged from this time (a timestamp, RFC 3339, or a duration before now: 10m)")(
        "until", po::value(&until), "lines logged until this time");
    std::string id;
    parse_id_args("logs", opts, args, id);
    if (tail != "all") {
        o.tail = parse_int(tail);
        if (!o.tail) throw Error(EINVAL, "logs: --tail: want a number of lines or all, got " + quote(tail));
        if (*o.tail < 0) o.tail.reset();  // podman's -1: all
    }
    if (!since.empty()) o.since_ns = parse_time_flag(since, "logs: --since");
    if (!until.empty()) o.until_ns = parse_time_flag(until, "logs: --until");
    naming(g.context(), id, [&] { app::logs(g.context(), id, o); });
    return 0;
}

// One container: its object.  Several: Docker's array of them (with --format,
// a line each); one that fails is reported, the others printed, exit 1.
int cmd_inspect(const Global& g, const std::vector<std::string>& args) {
    po::options_description opts("Options");
    std::vector<std::string> ids;
    std::string format;
    opts.add_options()("format,f", po::value(&format),
                       "a Go template, as docker inspect --format takes it: {{.State.Health.Status}}, {{json .State}}, ...");
    auto vm = parse_ids_args("inspect", opts, args, ids);
    std::vector<std::string> found;
    int failed = 0;
    for (const auto& id : ids) {
        try {
            std::string out = naming(g.context(), id, [&] { return app::inspect_json(g.context(), id); });
            found.push_back(vm.count("format") ? format_template("inspect", format, out) : out);
        } catch (const Error& e) {
            ++failed;
            report_error(e.with_context("inspect " + id), 1);
        }
    }
    if (ids.size() == 1 || vm.count("format")) {
        for (const auto& out : found) std::cout << out << "\n";
    } else {
        std::cout << "[" << join(found, ",") << "]\n";
    }
    std::cout.flush();
    return failed ? 1 : 0;
}

// Docker's format: "3000/tcp -> 0.0.0.0:49153" per port; with PRIVATE_PORT
// only the host side ("0.0.0.0:49153").
int cmd_port(const Global& g, const std::vector<std::string>& args) {
    po::options_description opts("Options"), hidden;
    hidden.add_options()("id", po::value<std::string>())("port", po::value<std::string>());
    po::positional_options_description pos;
    pos.add("id", 1).add("port", 1);
    auto vm = parse_args("port", "port CONTAINER_ID [PRIVATE_PORT[/PROTO]]", opts, hidden, pos, args);
    std::string id = require_id(vm, "port");
    std::vector<app::PortMap> ports = naming(g.context(), id, [&] { return app::published_ports(g.context(), id); });
    if (!vm.count("port")) {
        for (const auto& p : ports) std::cout << app::format_port(p) << "\n";
        return 0;
    }
    std::string want = vm["port"].as<std::string>();
    if (want.find('/') == std::string::npos) want += "/tcp";
    bool found = false;
    for (const auto& p : ports) {
        if (app::port_key(p) != want) continue;
        std::string line = app::format_port(p);
        std::cout << line.substr(want.size() + 4) << "\n";  // the host side
        found = true;
    }
    if (!found) throw Error(ENOENT, "port: no public port " + quote(want) + " published for " + id);
    return 0;
}

// Exit codes as podman's: 0 healthy, 1 unhealthy, 125 an error (main's).
int cmd_healthcheck(const Global& g, const std::vector<std::string>& args) {
    if (args.empty() || args[0] != "run") {
        std::cout << "Usage: crun-lite healthcheck run CONTAINER_ID\n\n"
                     "Runs the container's healthcheck once now and records the result.\n"
                     "Exits 0 when healthy, 1 when unhealthy (printing the probe's output), 125 on errors.\n";
        if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) return 0;
        return report_error(Error(EINVAL, "healthcheck: unknown command" + (args.empty() ? std::string() : " " + quote(args[0]))),
                            125);
    }
    po::options_description opts("Options");
    std::string id;
    try {
        parse_id_args("healthcheck run", opts, std::vector<std::string>(args.begin() + 1, args.end()), id);
        return naming(g.context(), id, [&] { return app::healthcheck_run(g.context(), id); });
    } catch (const Error& e) {
        return report_error(e, 125);
    }
}

}  // namespace crunlite::cli
