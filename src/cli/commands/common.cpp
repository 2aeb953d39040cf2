#include <unistd.h>

#include <optional>
#include <iostream>
#include <string_view>

#include "../command.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/template.hpp"
#include "crunlite/state/events.hpp"

namespace crunlite::cli {

runtime::Context Global::context() const {
    return runtime::make_context(root_flag, rootless, cgroup_manager);
}

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"create", "create a container", cmd_create},
        {"start", "start a created container, or a stopped image container again", cmd_start},
        {"exec", "run a new process inside a running container", cmd_exec},
        {"run", "create and start a container", cmd_run},
        {"state", "print the state of a container", cmd_state},
        {"kill", "send a signal to the container's init process", cmd_kill},
        {"delete", "delete a container and its resources", cmd_delete},
        {"rm", "delete containers, with an image container's files (Docker's rm)", cmd_rm},
        {"pause", "freeze every process of a container", cmd_pause},
        {"resume", "thaw a paused container", cmd_resume},
        {"ps", "list the processes of a container", cmd_ps},
        {"update", "change the resource limits of a container", cmd_update},
        {"events", "print resource usage statistics, or stream lifecycle and health events", cmd_events},
        {"list", "list containers", cmd_list},
        {"stop", "stop containers: their stop signal, then SIGKILL", cmd_stop},
        {"logs", "print the output of a detached image container", cmd_logs},
        {"inspect", "print state, health and config of an image container", cmd_inspect},
        {"healthcheck", "run an image container's healthcheck now", cmd_healthcheck},
        {"monitor", "internal: what crun-lite-monitor has the runtime do", cmd_monitor},
        {"port", "list the published ports of an image container", cmd_port},
        {"wait", "wait until containers are running, healthy, unhealthy or stopped", cmd_wait},
        {"spec", "write a new config.json", cmd_spec},
        {"image", "load, pull, list, inspect and remove images; registry logins", cmd_image},
        {"volume", "create, list, inspect and remove named volumes", cmd_volume},
        {"features", "print the features this runtime supports", cmd_features},
    };
    return table;
}

po::variables_map parse_args(const std::string& verb, const std::string& usage, const po::options_description& visible,
                             const po::options_description& hidden, const po::positional_options_description& pos,
                             const std::vector<std::string>& args) {
    po::options_description all;
    all.add(visible).add(hidden);
    all.add_options()("help,h", "show help");
    po::variables_map vm;
    try {
        // Options before, between and after the arguments, as urfave/cli reorders
        // runc's ("delete ID --force"), until "--"; each as split_options reads Go's forms.
        std::vector<std::string> words, positional;
        for (size_t i = 0; i < args.size();) {
            std::vector<std::string> tail(args.begin() + static_cast<long>(i), args.end());
            size_t n = split_options(all, tail, words);
            i += n;
            if (n > 0 && tail[n - 1] == "--") {
                positional.insert(positional.end(), args.begin() + static_cast<long>(i), args.end());
                break;
            }
            if (i < args.size()) positional.push_back(args[i++]);
        }
        words.push_back("--");
        words.insert(words.end(), positional.begin(), positional.end());
        po::store(last_wins(po::command_line_parser(words).options(all).positional(pos).run(), all), vm);
        if (vm.count("help")) {
            std::cout << "Usage: crun-lite " << usage << "\n\n" << visible << "\n";
            throw HelpShown{};
        }
        po::notify(vm);
    } catch (const po::too_many_positional_options_error&) {
        std::string most = std::to_string(pos.max_total_count());
        throw arguments_error(verb, pos.max_total_count() <= 1 ? "exactly " + most : "a maximum of " + most);
    } catch (const po::error& e) {
        throw Error(EINVAL, verb + ": " + e.what());
    }
    return vm;
}

Error arguments_error(const std::string& verb, const std::string& rule) {
    return Error(EINVAL, "\"" + verb + "\" requires " + rule + " argument(s)");
}

std::string require_id(const po::variables_map& vm, const std::string& verb, const std::string& rule) {
    if (!vm.count("id")) throw arguments_error(verb, rule);
    return vm["id"].as<std::string>();
}

po::variables_map parse_id_args(const std::string& verb, const po::options_description& opts,
                                const std::vector<std::string>& args, std::string& id) {
    po::options_description hidden;
    hidden.add_options()("id", po::value<std::string>());
    po::positional_options_description pos;
    pos.add("id", 1);
    po::variables_map vm = parse_args(verb, verb + " [options] CONTAINER_ID", opts, hidden, pos, args);
    id = require_id(vm, verb);
    return vm;
}

std::string format_template(const std::string& verb, const std::string& tmpl, const std::string& json_text) {
    json::Document doc = json::parse(json_text, verb);
    return with_context(verb + " --format", [&] { return json::render_template(tmpl, doc.root()); });
}

po::variables_map parse_ids_args(const std::string& verb, const po::options_description& opts,
                                 const std::vector<std::string>& args, std::vector<std::string>& ids) {
    po::options_description hidden;
    hidden.add_options()("id", po::value(&ids));
    po::positional_options_description pos;
    pos.add("id", -1);
    po::variables_map vm = parse_args(verb, verb + " [options] CONTAINER_ID...", opts, hidden, pos, args);
    if (ids.empty()) throw arguments_error(verb, "a minimum of 1");
    return vm;
}

int report_error(const Error& e, int exit_code) {
    log::error(e.message());
    // With --log, on stderr too, bare, as runc's: conmon and containerd's shim pass it
    // on, naming the runtime first themselves.
    if (log::logging_to_file()) std::cerr << e.message() << "\n";
    return exit_code;
}

int64_t parse_time_flag(const std::string& text, const std::string& flag) {
    if (auto t = state::parse_event_time(text)) return *t;
    try {
        return realtime_ns() - app::parse_duration(text, flag);
    } catch (const Error&) {
        throw Error(EINVAL, flag + ": invalid time " + quote(text) +
                                ": want a Unix timestamp, an RFC 3339 time (local without a zone) or a duration (10m)");
    }
}

int64_t parse_size(const std::string& what, const std::string& text) {
    if (text == "-1") return -1;
    if (auto v = ram_in_bytes(text)) return *v;
    throw Error(EINVAL, what + ": invalid size " + quote(text));
}

std::optional<bool> go_bool(std::string_view v) {
    for (const char* t : {"1", "t", "T", "true", "TRUE", "True"})
        if (v == t) return true;
    for (const char* f : {"0", "f", "F", "false", "FALSE", "False"})
        if (v == f) return false;
    return std::nullopt;
}

po::parsed_options last_wins(po::parsed_options parsed, const po::options_description& opts) {
    auto& o = parsed.options;
    for (size_t i = o.size(); i-- > 0;) {
        if (o[i].position_key >= 0 || o[i].unregistered) continue;
        const po::option_description* d = opts.find_nothrow(o[i].string_key, false);
        if (!d || d->semantic()->is_composing()) continue;
        // An earlier occurrence of the same option goes.
        for (size_t j = i; j-- > 0;)
            if (o[j].position_key < 0 && o[j].string_key == o[i].string_key) {
                o.erase(o.begin() + static_cast<long>(j));
                --i;
            }
    }
    return parsed;
}

size_t split_options(const po::options_description& opts, const std::vector<std::string>& args,
                     std::vector<std::string>& own, bool* unknown) {
    size_t i = 0;
    if (unknown) *unknown = false;
    for (; i < args.size(); ++i) {
        std::string a = args[i];
        if (a == "--") return i + 1;
        if (a.empty() || a[0] != '-' || a == "-") break;
        // runc's flags as Go spells them too: "-root DIR" is "--root DIR".
        bool is_long = a.size() > 1 && a[1] == '-';
        // (An empty name would throw from find_nothrow: boost finds it ambiguous.)
        if (!is_long && a.size() > 2 && a[1] != '=' && opts.find_nothrow(a.substr(1, a.find('=') - 1), false)) {
            a.insert(0, "-");
            is_long = true;
        }
        // The next word is this option's value unless the value is attached
        // ("--env=X", "-eX") or the option needs none.
        size_t eq = a.find('=');
        bool attached = is_long ? eq != std::string::npos : a.size() > 2;
        std::string name = is_long ? a.substr(2, eq - 2) : a.substr(0, 2);  // short names keep their dash
        const po::option_description* d = name.empty() || name == "-=" ? nullptr : opts.find_nothrow(name, false);
        // "--detach=true", "-d=false": the flag, or not.
        size_t value_at = is_long ? eq : a.size() > 2 && a[2] == '=' ? 2 : std::string::npos;
        if (d && d->semantic()->max_tokens() == 0 && value_at != std::string::npos)
            if (std::optional<bool> on = go_bool(std::string_view(a).substr(value_at + 1))) {
                if (*on) own.push_back(a.substr(0, value_at));
                continue;
            }
        // "--user=" is an empty value, as Go and podman take it (boost wants one after "=").
        if (d && d->semantic()->max_tokens() > 0 && value_at != std::string::npos && value_at + 1 == a.size()) {
            own.push_back(a.substr(0, value_at));
            own.push_back("");
            continue;
        }
        // Go's "-b=DIR" is "-b DIR".
        if (!is_long && value_at == 2 && d && d->semantic()->max_tokens() > 0) a.erase(2, 1);
        own.push_back(a);
        // Sticky short flags ("-dt") name more than `d`: unknown too.
        if (unknown && (!d || (!is_long && attached && d->semantic()->max_tokens() == 0))) *unknown = true;
        if (d && d->semantic()->min_tokens() > 0 && !attached && i + 1 < args.size()) own.push_back(args[++i]);
    }
    return i;
}

}  // namespace crunlite::cli
