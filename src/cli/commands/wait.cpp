// wait: until containers reach a condition (podman wait; app/wait.hpp).
// Exit codes as podman's: 0 every container reached a condition, 1 one could
// not (or the timeout passed), 125 a usage error.
#include <iostream>

#include "../command.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/app/wait.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/state/store.hpp"

namespace crunlite::cli {
namespace {

// The command line as app::WaitOptions; throws Error for a usage error.
app::WaitOptions parse_wait_args(const std::vector<std::string>& args) {
    std::vector<std::string> conditions;
    std::string interval = "250ms", timeout;
    po::options_description opts("Options");
    opts.add_options()
        ("condition", po::value(&conditions)->composing(),
         "running, healthy, unhealthy, stopped or exited (= stopped); repeatable or comma-separated: any of them (default stopped)")
        ("interval,i", po::value(&interval), "time between polls (default 250ms)")
        ("timeout", po::value(&timeout), "give up after this long (default: never; 0: check once)");
    app::WaitOptions o;
    auto vm = parse_ids_args("wait", opts, args, o.ids);
    for (const auto& id : o.ids) with_context("wait", [&] { state::validate_id(id); });
    for (const auto& given : conditions)  // podman's list: repeated or comma-separated
        for (const auto& c : split(given, ',')) o.conditions.push_back(app::parse_wait_condition(c, "wait: --condition"));
    o.interval_ns = app::parse_duration(interval, "wait: --interval");
    if (o.interval_ns <= 0) throw Error(EINVAL, "wait: --interval " + quote(interval) + ": must be positive");
    if (vm.count("timeout")) o.timeout_ns = app::parse_duration(timeout, "wait: --timeout");
    return o;
}

}  // namespace

int cmd_wait(const Global& g, const std::vector<std::string>& args) {
    app::WaitOptions o;
    runtime::Context ctx;
    try {
        o = parse_wait_args(args);
        ctx = g.context();
    } catch (const Error& e) {
        return report_error(e, 125);
    }
    std::vector<app::WaitOutcome> outcomes = app::wait_for(ctx, o, std::cerr);
    int code = 0;
    // As podman: one line per container, in the order given, once all settled.
    for (const auto& r : outcomes) {
        if (r.reached) std::cout << r.exit_code << "\n";
        else code = 1;
    }
    std::cout.flush();
    return code;
}

}  // namespace crunlite::cli
