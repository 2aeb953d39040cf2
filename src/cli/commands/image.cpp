// crun-lite image load|import|pull|ls|inspect|rm|prune|login|logout: the image store and registries.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "../command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/manifest.hpp"
#include "crunlite/image/reference.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/app/image_store.hpp"
#include "pull_flags.hpp"

namespace crunlite::cli {
namespace {

std::string human_size(uint64_t bytes) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000 && u < 4) v /= 1000, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

void write_image(json::Writer& w, const image::StoredImage& img) {
    w.begin_object();
    w.key("id").string(img.id);
    w.key("names").string_array(img.names);
    w.key("layers").string_array(img.layers);
    w.key("size").uinteger(img.size);
    w.key("owners").string(img.owners);
    w.end_object();
}

// On a terminal: one line per layer, like docker pull's ("sha256:3f1c2a9b7e00
// 12.3 MB / 45.6 MB  34.5 MB/s  ETA 1s"), redrawn at most every 100 ms while
// layers are read (several at once for a pull).  Lines above the first layer
// still being read are final and left alone.  The store calls one at a time.
image::Store::Progress terminal_progress() {
    using Clock = std::chrono::steady_clock;
    struct Line {
        std::string layer, text;
        Clock::time_point start;
        bool done = false;
    };
    struct Board {
        std::vector<Line> lines;  // on the screen, from the first not done
        Clock::time_point last;
        Line& line(const std::string& layer) {
            for (auto& l : lines)
                if (l.layer == layer) return l;
            lines.push_back({layer, "", Clock::now()});
            return lines.back();
        }
        void draw(size_t drawn) {
            if (drawn) std::fprintf(stderr, "\033[%zuA", drawn);
            for (const auto& l : lines) std::fprintf(stderr, "\r%.19s  %s\033[K\n", l.layer.c_str(), l.text.c_str());
            std::fflush(stderr);
            size_t final = 0;
            while (final < lines.size() && lines[final].done) ++final;
            lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(final));
        }
    };
    auto board = std::make_shared<Board>();
    image::Store::Progress p;
    p.reading = [board](const std::string& layer, uint64_t read, uint64_t size) {
        size_t drawn = board->lines.size();
        Line& l = board->line(layer);
        auto now = Clock::now();
        if (board->lines.size() == drawn && now - board->last < std::chrono::milliseconds(100)) return;
        board->last = now;
        double secs = std::chrono::duration<double>(now - l.start).count();
        double per_sec = secs > 0.05 ? static_cast<double>(read) / secs : 0;
        l.text = human_size(read) + (size ? " / " + human_size(size) : "");
        if (per_sec > 0) l.text += "  " + human_size(static_cast<uint64_t>(per_sec)) + "/s";
        if (per_sec > 0 && size > read)
            l.text += "  ETA " + std::to_string(static_cast<uint64_t>(static_cast<double>(size - read) / per_sec + 0.5)) + "s";
        board->draw(drawn);
    };
    p.done = [board](const std::string& layer, uint64_t size, bool skipped) {
        size_t drawn = board->lines.size();
        Line& l = board->line(layer);
        l.text = skipped ? "already present" : "done, " + human_size(size);
        l.done = true;
        board->draw(drawn);
    };
    return p;
}

void print_list(const std::vector<image::StoredImage>& images, const std::string& format, bool quiet) {
    if (format == "json") {
        json::Writer w(false);
        w.begin_array();
        for (const auto& img : images) write_image(w, img);
        w.end_array();
        std::cout << w.result() << "\n";
        return;
    }
    if (!quiet) std::printf("%-40s %-14s %8s  %s\n", "NAME", "ID", "LAYERS", "SIZE");
    for (const auto& img : images) {
        if (quiet) {
            std::cout << img.id << "\n";
            continue;
        }
        std::string names = img.names.empty() ? "<none>" : join(img.names, ",");
        std::printf("%-40s %-14s %8zu  %s\n", names.c_str(), img.id.substr(7, 12).c_str(), img.layers.size(),
                    human_size(img.size).c_str());
    }
    std::fflush(stdout);
}

// image login|logout: credentials in auth.json, as podman login writes them.
int login_logout(const std::string& verb, const std::vector<std::string>& rest) {
    std::string authfile, username, password;
    bool password_stdin = false;
    PullFlags pull;
    po::options_description opts("Options"), hidden;
    opts.add_options()("authfile", po::value(&authfile),
                       "the auth.json to write (default $XDG_RUNTIME_DIR/containers/auth.json)");
    if (verb == "login") {
        opts.add_options()("username,u", po::value(&username), "user name")(
            "password,p", po::value(&password), "password (visible to other processes: prefer --password-stdin)")(
            "password-stdin", po::bool_switch(&password_stdin), "read the password from standard input")(
            "cert-dir", po::value(&pull.cert_dir), "registry certificates, as for pull")(
            "tls-verify", po::value(&pull.tls_verify)->implicit_value("true"), "verify the registry's certificate (default true)");
    }
    hidden.add_options()("registry", po::value<std::string>());
    po::positional_options_description pos;
    pos.add("registry", 1);
    auto vm = parse_args("image " + verb, "image " + verb + " [options] HOST[:PORT][/NAMESPACE]", opts, hidden, pos, rest);
    if (!vm.count("registry")) throw Error(EINVAL, "image " + verb + ": a registry is required");
    const std::string& key = vm["registry"].as<std::string>();
    if (verb == "logout") {
        if (!image::logout(key, authfile)) throw Error(ENOENT, "image logout: not logged in to " + quote(key));
        std::cout << "Removed login credentials for " << key << "\n";
        return 0;
    }
    if (username.empty()) throw Error(EINVAL, "image login: --username is required");
    if (password_stdin) {
        if (!password.empty()) throw Error(EINVAL, "image login: --password and --password-stdin conflict");
        std::getline(std::cin, password);
    }
    if (password.empty()) throw Error(EINVAL, "image login: give the password with --password-stdin or --password");
    image::login(key, image::Credentials{username, password}, pull_options(pull, "image login"), authfile);
    std::cout << "Login Succeeded!\n";
    return 0;
}

void print_usage() {
    std::cout << "Usage: crun-lite image COMMAND [options]\n\nCommands:\n"
                 "  load SRC      import an image (oci:DIR[:TAG], oci-archive:FILE[:TAG],\n"
                 "                docker-archive:FILE[:TAG], or a path); also `import`\n"
                 "  pull REF      pull [docker://][HOST[:PORT]/]NAME[:TAG|@DIGEST] from a registry\n"
                 "                (a short NAME through registries.conf)\n"
                 "  ls            list images\n"
                 "  inspect REF   print an image's config JSON\n"
                 "  rm REF        remove an image and the layers no other image uses\n"
                 "  prune         remove unnamed images, unused layers and leftovers\n"
                 "  login HOST    check and record registry credentials in auth.json\n"
                 "  logout HOST   remove them\n\n"
                 "Every command but login and logout takes --store DIR (default\n"
                 "/var/lib/crun-lite, or $XDG_DATA_HOME/crun-lite rootless).\n";
}

// The options of the verbs that use the store (load, pull, ls, inspect, rm, prune).
struct StoreFlags {
    std::string store_dir, name, format = "table", max_size;
    std::string ref;  // the image (SRC of load, REF of the others); "" for ls and prune
    std::optional<std::string> tmpl;  // inspect --format
    bool quiet = false;
    uint64_t max_entries = 0, max_ratio = 0;
    PullFlags pull;
};

// `verb` is the canonical name ("load"), `typed` the word given ("import").
StoreFlags parse_store_flags(const std::string& verb, const std::string& typed, const std::vector<std::string>& rest) {
    StoreFlags f;
    po::options_description opts("Options"), hidden;
    opts.add_options()("store", po::value(&f.store_dir), "image store directory");
    if (verb == "pull") add_pull_options(opts, f.pull);
    if (verb == "load")
        opts.add_options()("name", po::value(&f.name), "NAME:TAG to give the image")(
            "input,i", po::value<std::string>(), "the archive to load: SRC, as podman's and Docker's flag");
    if (verb == "load" || verb == "pull")
        opts.add_options()(
            "quiet,q", po::bool_switch(&f.quiet), "print only the image id")(
            "format", po::value(&f.format), "table or json")(
            "max-layer-size", po::value(&f.max_size), "refuse a layer whose files add up to more (default 64g)")(
            "max-entries", po::value(&f.max_entries), "refuse a layer with more entries (default 1000000)")(
            "max-ratio", po::value(&f.max_ratio),
            "refuse a layer that decompresses to more than N times its size, past 256 MiB (default 200)");
    if (verb == "ls")
        opts.add_options()("format", po::value(&f.format), "table or json")(
            "quiet,q", po::bool_switch(&f.quiet), "ids only");
    if (verb == "inspect")
        opts.add_options()("format,f", po::value<std::string>(),
                           "a Go template over the image config, as docker inspect --format takes it: {{.config.User}}");
    hidden.add_options()("ref", po::value<std::string>());
    po::positional_options_description pos;
    if (verb != "ls" && verb != "prune") pos.add("ref", 1);
    std::string usage =
        "image " + typed + " [options]" + (verb == "load" ? " SRC" : pos.max_total_count() ? " REF" : "");
    if (verb == "pull") usage = "image pull [options] [docker://][HOST[:PORT]/]NAME[:TAG|@DIGEST]";
    auto vm = parse_args("image " + verb, usage, opts, hidden, pos, rest);
    if (vm.count("input")) {
        if (vm.count("ref")) throw Error(EINVAL, "image " + verb + ": give SRC or --input, not both");
        f.ref = vm["input"].as<std::string>();
    } else if (pos.max_total_count() && !vm.count("ref")) {
        throw Error(EINVAL, "image " + verb + ": an image is required");
    }
    if (verb == "inspect" && vm.count("format")) f.tmpl = vm["format"].as<std::string>();
    else if (f.format != "table" && f.format != "json")
        throw Error(EINVAL, "image " + verb + ": invalid format " + quote(f.format) + ": want table or json");
    if (vm.count("ref")) f.ref = vm["ref"].as<std::string>();
    if (!f.name.empty()) with_context("image load: --name", [&] { image::check_image_name(f.name); });
    return f;
}

// Limits against tar bombs, applied to every layer.
image::LayerLimits layer_limits(const StoreFlags& f) {
    image::LayerLimits limits;
    if (f.max_entries) limits.max_entries = f.max_entries;
    if (f.max_ratio) limits.max_ratio = f.max_ratio;
    if (!f.max_size.empty()) {
        int64_t bytes = parse_size("--max-layer-size", f.max_size);
        if (bytes <= 0) throw Error(EINVAL, "--max-layer-size: must be positive");
        limits.max_bytes = static_cast<uint64_t>(bytes);
    }
    return limits;
}

image::Store::Progress progress(bool show) { return show ? terminal_progress() : image::Store::Progress{}; }

// A loaded or pulled image, as --format and --quiet ask.
void print_image(const image::StoredImage& img, const char* done, const StoreFlags& f) {
    if (f.format == "json") {
        json::Writer w(false);
        write_image(w, img);
        std::cout << w.result() << "\n";
    } else if (f.quiet) {
        std::cout << img.id << "\n";
    } else {
        std::cout << done << " image " << (img.names.empty() ? img.id : join(img.names, ", ")) << " (" << img.id
                  << ", " << img.layers.size() << (img.layers.size() == 1 ? " layer, " : " layers, ")
                  << human_size(img.size) << ")\n";
    }
    std::cout.flush();
}

// Every store verb but pull, in the store's process (see app::with_image_store).
void run_store_verb(image::Store& store, const std::string& verb, const StoreFlags& f, bool show) {
    if (verb == "load") {
        print_image(store.load(f.ref, f.name, progress(show)), "Loaded", f);
    } else if (verb == "ls") {
        print_list(store.list(), f.format, f.quiet);
    } else if (verb == "inspect") {
        std::string config = store.inspect(f.ref).config_json;
        std::cout << (f.tmpl ? format_template("image inspect", *f.tmpl, config) : trim(config)) << "\n";
    } else if (verb == "rm") {
        store.remove(f.ref);
    } else {
        store.prune();
    }
    std::cout.flush();
}

}  // namespace

int cmd_image(const Global& g, const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        print_usage();
        return args.empty() ? 1 : 0;
    }
    std::string verb = args[0] == "import" ? "load" : args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (verb == "login" || verb == "logout") return login_logout(verb, rest);
    if (verb != "load" && verb != "pull" && verb != "ls" && verb != "inspect" && verb != "rm" && verb != "prune")
        throw Error(EINVAL, "image: unknown command " + quote(args[0]) +
                                " (want load, import, pull, ls, inspect, rm, prune, login or logout)");
    StoreFlags f = parse_store_flags(verb, args[0], rest);

    runtime::Context ctx = g.context();
    std::string root = image::store_root(f.store_dir, ctx.rootless);
    image::LayerLimits limits = layer_limits(f);
    bool show = !f.quiet && f.format != "json" && ::isatty(STDERR_FILENO);
    if (verb == "pull") {
        image::PullOptions options = pull_options(f.pull, "image pull");
        image::StoredImage img =
            app::pull_image(ctx, root, image::parse_pull_reference(f.ref), options, limits, progress(show));
        // podman's warning: a single-platform image is pulled whatever its platform.
        image::Platform want = options.platform.value_or(image::host_platform());
        image::Platform got = image::parse_image_config(img.config_json, "image " + img.id + " config").platform;
        bool other_os = !got.os.empty() && got.os != want.os;
        if (other_os || (!got.architecture.empty() && got.architecture != want.architecture))
            log::warn("image " + quote(f.ref) + " is for " + image::platform_name(got) + ", not the " +
                      image::platform_name(want) + " asked for");
        print_image(img, "Pulled", f);
        return 0;
    }
    app::with_image_store(ctx, root, limits, [&](image::Store& store) { run_store_verb(store, verb, f, show); });
    return 0;
}

}  // namespace crunlite::cli
