// crun-lite volume create|ls|inspect|rm|prune: the named volumes of image containers (app/volumes.hpp).
#include <cstdio>
#include <iostream>

#include "../command.hpp"
#include "crunlite/app/volumes.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::cli {
namespace {

void print_usage() {
    std::cout << "Usage: crun-lite volume COMMAND [options]\n\nCommands:\n"
                 "  create [NAME]     make a volume (a random name when none is given)\n"
                 "  ls                list volumes\n"
                 "  inspect NAME...   print volumes as JSON\n"
                 "  rm NAME...        remove volumes no container uses\n"
                 "  prune             remove every volume no container uses\n\n"
                 "Every command takes --store DIR (default /var/lib/crun-lite, or\n"
                 "$XDG_DATA_HOME/crun-lite rootless), where volumes are <store>/volumes/NAME/_data.\n";
}

// Docker's volume inspect object.
std::string volume_json(const app::Volumes& volumes, const std::string& name) {
    json::Writer w(false);
    w.begin_object();
    w.key("CreatedAt").string(volumes.created_at(name)).key("Driver").string("local");
    w.key("Labels").begin_object().end_object();
    w.key("Mountpoint").string(volumes.data(name)).key("Name").string(name);
    w.key("Options").begin_object().end_object();
    w.key("Scope").string("local");
    w.end_object();
    return w.result();
}

// Each of `names` by `one`: an error is reported and the rest go on; 1 when any failed.
template <typename F>
int each(const std::string& verb, const std::vector<std::string>& names, F one) {
    int failed = 0;
    for (const auto& name : names) {
        try {
            one(name);
        } catch (const Error& e) {
            ++failed;
            report_error(e.with_context("volume " + verb + " " + name), 1);
        }
    }
    return failed ? 1 : 0;
}

}  // namespace

int cmd_volume(const Global& g, const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        print_usage();
        return args.empty() ? 1 : 0;
    }
    const std::string& verb = args[0];
    if (verb != "create" && verb != "ls" && verb != "inspect" && verb != "rm" && verb != "prune")
        throw Error(EINVAL, "volume: unknown command " + quote(verb) + " (want create, ls, inspect, rm or prune)");
    std::string store, format = "table", tmpl;
    bool quiet = false, force = false;
    po::options_description opts("Options"), hidden;
    opts.add_options()("store", po::value(&store), "image store directory, which holds the volumes");
    if (verb == "ls")
        opts.add_options()("format", po::value(&format), "table or json")("quiet,q", po::bool_switch(&quiet), "names only");
    if (verb == "inspect")
        opts.add_options()("format,f", po::value(&tmpl), "a Go template over each volume's JSON: {{.Mountpoint}}");
    if (verb == "rm") opts.add_options()("force,f", po::bool_switch(&force), "a volume that does not exist is no error");
    hidden.add_options()("name", po::value<std::vector<std::string>>());
    po::positional_options_description pos;
    if (verb != "ls" && verb != "prune") pos.add("name", verb == "create" ? 1 : -1);
    std::string usage = "volume " + verb + " [options]" +
                        (verb == "create" ? " [NAME]" : pos.max_total_count() ? " NAME [NAME...]" : "");
    auto vm = parse_args("volume " + verb, usage, opts, hidden, pos, std::vector<std::string>(args.begin() + 1, args.end()));
    std::vector<std::string> names;
    if (vm.count("name")) names = vm["name"].as<std::vector<std::string>>();
    if ((verb == "inspect" || verb == "rm") && names.empty())
        throw Error(EINVAL, "volume " + verb + ": a volume name is required");
    if (format != "table" && format != "json")
        throw Error(EINVAL, "volume ls: invalid format " + quote(format) + ": want table or json");

    app::Volumes volumes(image::store_root(store, g.context().rootless));
    if (verb == "create") {
        std::string name = names.empty() ? app::random_volume_name() : names[0];
        volumes.create(name);  // an existing one is no error, as Docker's
        std::cout << name << std::endl;
        return 0;
    }
    if (verb == "ls") {
        std::vector<std::string> all = volumes.list();
        if (format == "json") {
            std::vector<std::string> objects;
            for (const auto& name : all) objects.push_back(volume_json(volumes, name));
            std::cout << "[" << join(objects, ",") << "]\n";
        } else {
            if (!quiet) std::printf("%-10s%s\n", "DRIVER", "VOLUME NAME");
            for (const auto& name : all) std::printf(quiet ? "%.0s%s\n" : "%-10s%s\n", "local", name.c_str());
        }
        std::fflush(stdout);
        return 0;
    }
    if (verb == "inspect") {
        std::vector<std::string> objects;
        int rc = each(verb, names, [&](const std::string& name) {
            if (!volumes.exists(name)) throw Error(ENOENT, "no such volume " + quote(name));
            objects.push_back(volume_json(volumes, name));
        });
        if (!tmpl.empty()) {
            for (const auto& o : objects) std::cout << format_template("volume inspect", tmpl, o) << "\n";
        } else {
            std::cout << "[" << join(objects, ",") << "]\n";
        }
        return rc;
    }
    if (verb == "rm")
        return each(verb, names, [&](const std::string& name) {
            if (force && !volumes.exists(name)) return;
            volumes.remove(name);
            std::cout << name << std::endl;
        });
    // prune: those in use stay, quietly.
    for (const auto& name : volumes.list()) {
        if (!volumes.users(name).empty()) continue;
        try {
            volumes.remove(name);
            std::cout << name << std::endl;
        } catch (const Error& e) {
            if (e.code() != EBUSY) throw e.with_context("volume prune " + name);
        }
    }
    return 0;
}

}  // namespace crunlite::cli
