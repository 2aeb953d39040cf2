// pause, resume and ps: the verbs that work on the container's cgroup.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "../command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/process/spawn.hpp"

namespace crunlite::cli {
namespace {

// Parses "VERB [--help] ID" and returns ID.
std::string only_id(const std::string& verb, const std::vector<std::string>& args) {
    std::string id;
    parse_id_args(verb, po::options_description("Options"), args, id);
    return id;
}

// Output of `ps ARGS` (run directly, no shell).
std::string run_ps(const std::vector<std::string>& ps_args) {
    std::vector<std::string> argv = {"ps"};
    argv.insert(argv.end(), ps_args.begin(), ps_args.end());
    process::Captured r = process::run_capturing(argv, STDOUT_FILENO);
    if (!r.ok()) throw Error(EINVAL, join(argv, " ") + " failed: exit status " + std::to_string(WEXITSTATUS(r.status)));
    return r.output;
}

}  // namespace

int cmd_pause(const Global& g, const std::vector<std::string>& args) {
    runtime::pause(g.context(), only_id("pause", args));
    return 0;
}

int cmd_resume(const Global& g, const std::vector<std::string>& args) {
    runtime::resume(g.context(), only_id("resume", args));
    return 0;
}

int cmd_ps(const Global& g, const std::vector<std::string>& args) {
    std::string format = "table";
    po::options_description opts("Options"), hidden;
    opts.add_options()("format,f", po::value(&format), "table (ps output of the container's processes) or json (pids)");
    // As runc: options end at the id; what follows goes to ps ("ps ID -ef").
    std::vector<std::string> own;
    size_t i = split_options(opts, args, own);
    parse_args("ps", "ps [options] CONTAINER_ID [ps options]", opts, hidden, {}, own);
    if (i >= args.size()) throw arguments_error("ps", "a minimum of 1");
    std::vector<int> pids = runtime::container_pids(g.context(), args[i]);
    std::vector<std::string> given(args.begin() + static_cast<long>(i) + 1, args.end());
    if (format == "json") {
        std::cout << "[";
        for (size_t i = 0; i < pids.size(); ++i) std::cout << (i ? "," : "") << pids[i];
        std::cout << "]\n";
        return 0;
    }
    if (format != "table") throw Error(EINVAL, "ps: invalid format " + quote(format) + ": want table or json");
    // As runc: run ps (default -ef) and keep the header and the lines of our pids.
    auto ps_args = given.empty() ? std::vector<std::string>{"-ef"} : given;
    std::istringstream lines(run_ps(ps_args));
    std::string line;
    std::getline(lines, line);
    auto header = split(line, ' ');
    header.erase(std::remove(header.begin(), header.end(), ""), header.end());
    auto pid_col = std::find(header.begin(), header.end(), "PID");
    if (pid_col == header.end()) throw Error(EINVAL, "ps: no PID column in the output of ps");
    size_t col = static_cast<size_t>(pid_col - header.begin());
    std::cout << line << "\n";
    while (std::getline(lines, line)) {
        auto fields = split(line, ' ');
        fields.erase(std::remove(fields.begin(), fields.end(), ""), fields.end());
        if (fields.size() <= col) continue;
        auto pid = parse_int(fields[col]);
        if (pid && std::find(pids.begin(), pids.end(), *pid) != pids.end()) std::cout << line << "\n";
    }
    return 0;
}

}  // namespace crunlite::cli
