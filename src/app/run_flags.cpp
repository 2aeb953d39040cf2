#include "crunlite/app/run_flags.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/mount_options.hpp"
#include "crunlite/spec/validate.hpp"

namespace crunlite::app {
namespace {

bool is_ip(const std::string& text) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool has_blank(const std::string& text) {
    return text.empty() || std::any_of(text.begin(), text.end(), [](char c) {
               return c == '\0' || std::isspace(static_cast<unsigned char>(c));
           });
}

// A domain name as resolv.conf's search takes it (podman's check): labels of
// letters, digits, "-" and "_", not starting or ending with "-", with an
// optional final dot.
bool is_domain(const std::string& name) {
    std::string n = name.size() > 1 && name.back() == '.' ? name.substr(0, name.size() - 1) : name;
    if (n.empty() || n.size() > 253) return false;
    for (const auto& label : split(n, '.')) {
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    return true;
}

// The words after `keyword` on the lines of `conf` starting with it.
std::vector<std::string> conf_words(const std::string& conf, const std::string& keyword) {
    std::vector<std::string> out;
    for (const auto& line : split(conf, '\n')) {
        std::vector<std::string> words;
        for (const auto& w : split(line, ' '))
            for (const auto& v : split(w, '\t'))
                if (!v.empty()) words.push_back(v);
        if (words.empty() || words[0] != keyword) continue;
        out.insert(out.end(), words.begin() + 1, words.end());
    }
    return out;
}

// Why `opt` is no option of a tmpfs mount ("" when it is one): a mount flag of
// the table (ro, exec, noatime...), or tmpfs's size, nr_blocks, nr_inodes
// (a number, k/m/g or % for size), mode (octal), uid, gid, huge.
std::string tmpfs_option_problem(const std::string& opt) {
    if (spec::parse_mount_options({opt}).data.empty()) return "";
    size_t eq = opt.find('=');
    std::string key = opt.substr(0, eq), value = eq == std::string::npos ? "" : opt.substr(eq + 1);
    auto number = [](std::string v, const char* suffixes) {
        if (!v.empty() && std::strchr(suffixes, v.back())) v.pop_back();
        return parse_uint(v).has_value();
    };
    if (key == "size" || key == "nr_blocks" || key == "nr_inodes") {
        if (number(value, key == "size" ? "kKmMgG%" : "kKmMgG")) return "";
    } else if (key == "mode") {
        if (!value.empty() && value.size() <= 8 && value.find_first_not_of("01234567") == std::string::npos &&
            std::strtoul(value.c_str(), nullptr, 8) <= 07777)
            return "";
    } else if (key == "uid" || key == "gid") {
        if (parse_uint(value)) return "";
    } else if (key == "huge") {
        for (const char* v : {"never", "always", "within_size", "advise", "deny", "force"})
            if (value == v) return "";
    } else {
        return "unknown tmpfs option " + quote(opt);
    }
    return "invalid value in " + quote(opt);
}

// A tmpfs at `dst`: rw, noexec, nosuid, nodev, then `opts`, then tmpcopyup
// (unless `copy` is false or an option says notmpcopyup); `what` names the flag.
spec::Mount tmpfs_mount(const std::string& dst, const std::vector<std::string>& opts, bool copy, const std::string& what) {
    if (dst.empty() || dst[0] != '/') throw Error(EINVAL, what + ": the destination must be an absolute path");
    std::string place = absolute_path(dst);  // as filepath.Clean: "//data/" and "/x/../data" are "/data"
    if (place == "/") throw Error(EINVAL, what + ": cannot mount a tmpfs over /");
    if (runtime_mount_point(place)) throw Error(EINVAL, what + ": " + place + " is the runtime's own mount");
    spec::Mount m{place, "tmpfs", "tmpfs", {"rw", "noexec", "nosuid", "nodev"}, {}, {}};
    for (const auto& opt : opts) {
        if (has_blank(opt)) throw Error(EINVAL, what + ": empty or blank option");
        if (opt == "notmpcopyup" || opt == "tmpcopyup") {
            copy = opt == "tmpcopyup";
            continue;
        }
        if (std::string why = tmpfs_option_problem(opt); !why.empty()) throw Error(EINVAL, what + ": " + why);
        m.options.push_back(opt);
    }
    if (copy) m.options.push_back("tmpcopyup");
    return m;
}

}  // namespace

bool runtime_mount_point(const std::string& dst) {
    for (const char* own : {"/proc", "/sys", "/sys/fs/cgroup", "/dev", "/dev/pts", "/dev/mqueue"})
        if (dst == own) return true;
    return false;
}

spec::Mount parse_tmpfs(const std::string& text) {
    size_t colon = text.find(':');
    std::vector<std::string> opts = colon == std::string::npos ? std::vector<std::string>{} : split(text.substr(colon + 1), ',');
    return tmpfs_mount(text.substr(0, colon), opts, true, "--tmpfs " + quote(text));
}

MountFlag parse_mount(const std::string& text, const std::string& cwd) {
    std::string what = "--mount " + quote(text);
    std::string type = "volume", source, destination;
    bool readonly = false, nocopy = false, tmpcopyup = true, nonrecursive = false, relabel = false;
    std::string propagation;
    std::vector<std::string> tmpfs_opts;
    auto flag = [&](const std::string& key, const std::string& value, bool has_value) {
        if (!has_value) return true;
        std::optional<bool> on = value == "true" || value == "1" ? std::optional<bool>(true)
                                 : value == "false" || value == "0" ? std::optional<bool>(false) : std::nullopt;
        if (!on) throw Error(EINVAL, what + ": " + key + " wants true or false, not " + quote(value));
        return *on;
    };
    for (const auto& field : split(text, ',')) {
        size_t eq = field.find('=');
        std::string key = ascii_lower(field.substr(0, eq)), value = eq == std::string::npos ? "" : field.substr(eq + 1);
        bool has_value = eq != std::string::npos;
        if (key == "readonly" || key == "ro") readonly = flag(key, value, has_value);
        else if (key == "rw") readonly = !flag(key, value, has_value);
        else if (key == "bind-nonrecursive") nonrecursive = flag(key, value, has_value);
        else if (key == "volume-nocopy") nocopy = flag(key, value, has_value);
        else if (key == "tmpcopyup" || key == "notmpcopyup") tmpcopyup = flag(key, value, has_value) == (key == "tmpcopyup");
        else if (!has_value || value.empty()) throw Error(EINVAL, what + ": " + quote(field) + " wants KEY=VALUE");
        else if (key == "type") type = value;
        else if (key == "source" || key == "src") source = value;
        else if (key == "destination" || key == "dst" || key == "target") destination = value;
        else if (key == "tmpfs-size") tmpfs_opts.push_back("size=" + value);
        else if (key == "tmpfs-mode") tmpfs_opts.push_back("mode=" + value);
        else if (key == "bind-propagation" && !is_propagation(value))
            throw Error(EINVAL, what + ": bind-propagation " + quote(value) +
                                    ": want [r]shared, [r]slave, [r]private or [r]unbindable");
        else if (key == "bind-propagation") propagation = value;
        else if (key == "relabel" && value != "shared" && value != "private")
            throw Error(EINVAL, what + ": relabel " + quote(value) + ": want shared or private");
        else if (key == "relabel") relabel = true;
        else if (key == "consistency") continue;  // Docker Desktop's; nothing on Linux
        else throw Error(EINVAL, what + ": unknown or unsupported key " + quote(key));
    }
    if (destination.empty()) throw Error(EINVAL, what + ": a destination (dst, destination or target) is required");
    bool is_volume = type == "volume", is_bind = type == "bind", is_tmpfs = type == "tmpfs";
    if (!is_volume && !is_bind && !is_tmpfs) throw Error(EINVAL, what + ": type " + quote(type) + ": want bind, volume or tmpfs");
    if (nocopy && !is_volume) throw Error(EINVAL, what + ": volume-nocopy is for type=volume");
    if (!tmpcopyup && !is_tmpfs) throw Error(EINVAL, what + ": notmpcopyup is for type=tmpfs");
    if (!tmpfs_opts.empty() && !is_tmpfs) throw Error(EINVAL, what + ": tmpfs-size and tmpfs-mode are for type=tmpfs");
    if ((nonrecursive || !propagation.empty()) && !is_bind)
        throw Error(EINVAL, what + ": bind-propagation and bind-nonrecursive are for type=bind");
    if (relabel && is_tmpfs) throw Error(EINVAL, what + ": relabel is for type=bind and type=volume");
    MountFlag out;
    if (is_tmpfs) {
        if (!source.empty()) throw Error(EINVAL, what + ": a tmpfs has no source");
        if (readonly) tmpfs_opts.push_back("ro");
        out.tmpfs = tmpfs_mount(destination, tmpfs_opts, tmpcopyup, what);
        return out;
    }
    if (is_bind && source.empty()) throw Error(EINVAL, what + ": a bind needs a source");
    if (is_bind && source[0] != '/' && source[0] != '.')
        throw Error(EINVAL, what + ": a bind's source is a path (absolute, or starting with \".\")");
    if (is_volume && (source[0] == '/' || source[0] == '.'))
        throw Error(EINVAL, what + ": a volume's source is a volume name (type=bind mounts a path)");
    // As -v: SRC:DST[:OPTIONS], DST alone for an anonymous volume.
    if (source.find(':') != std::string::npos || destination.find(':') != std::string::npos)
        throw Error(EINVAL, what + ": a path with \":\" is not supported");
    out.volume = with_context(what, [&] {
        if (source.empty()) return parse_volume(destination, cwd);  // anonymous
        return parse_volume(source + ":" + destination, cwd);
    });
    out.volume->readonly = readonly;
    out.volume->copy = !nocopy;
    out.volume->recursive = !nonrecursive;
    out.volume->relabel = relabel;
    if (!propagation.empty()) out.volume->options.push_back(propagation);
    return out;
}

DeviceFlag parse_device(const std::string& text) {
    auto parts = split(text, ':');
    auto is_access = [](const std::string& p) {
        return !p.empty() && p.size() <= 3 && p.find_first_not_of("rwm") == std::string::npos;
    };
    DeviceFlag d;
    if (parts.size() > 3 || parts[0].empty()) throw Error(EINVAL, "--device " + quote(text) + ": want HOST[:CONTAINER][:PERMS]");
    d.host = d.container = parts[0];
    if (parts.size() == 2 && is_access(parts[1])) d.access = parts[1];
    else if (parts.size() >= 2) d.container = parts[1];
    if (parts.size() == 3) d.access = parts[2];
    if (!is_access(d.access)) throw Error(EINVAL, "--device " + quote(text) + ": permissions " + quote(d.access) + ": want r, w and m");
    if (d.host[0] != '/' || d.container.empty() || d.container[0] != '/')
        throw Error(EINVAL, "--device " + quote(text) + ": the paths must be absolute");
    d.host = absolute_path(d.host);
    d.container = absolute_path(d.container);
    return d;
}

std::string hosts_entry(const std::string& text, const std::string& gateway) {
    size_t colon = text.find(':');
    std::string name = text.substr(0, colon);
    std::string ip = colon == std::string::npos ? "" : text.substr(colon + 1);
    if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    if (colon == std::string::npos || has_blank(name))
        throw Error(EINVAL, "--add-host " + quote(text) + ": want NAME:IP");
    if (ip == "host-gateway" && gateway.empty())
        throw Error(ENOTSUP, "--add-host " + quote(text) + ": host-gateway needs --network slirp4netns or host, and an "
                                                          "IPv4 address of the host (with pasta the host's addresses "
                                                          "are the container's own)");
    if (ip == "host-gateway") ip = gateway;
    if (!is_ip(ip)) throw Error(EINVAL, "--add-host " + quote(text) + ": " + quote(ip) + " is not an IP address");
    return ip + "\t" + name + "\n";
}

bool keeps_image_resolv_conf(const DnsFlags& dns) {
    if (std::find(dns.servers.begin(), dns.servers.end(), "none") == dns.servers.end()) return false;
    if (dns.servers.size() > 1 || !dns.search.empty() || !dns.options.empty())
        throw Error(EINVAL, "--dns none writes no resolv.conf: it takes no other --dns, --dns-search or --dns-option");
    return true;
}

std::string resolv_conf(const std::string& base, const DnsFlags& dns) {
    if (dns.empty()) return base;
    for (const auto& s : dns.servers)
        if (!is_ip(s)) throw Error(EINVAL, "--dns " + quote(s) + ": not an IP address");
    for (const auto& s : dns.search)
        if (s != "." && !is_domain(s)) throw Error(EINVAL, "--dns-search " + quote(s) + ": not a domain");
    for (const auto& s : dns.options)
        if (has_blank(s)) throw Error(EINVAL, "--dns-option " + quote(s) + ": empty or blank");
    std::vector<std::string> servers = dns.servers.empty() ? conf_words(base, "nameserver") : dns.servers;
    std::vector<std::string> search = dns.search.empty() ? conf_words(base, "search") : dns.search;
    std::vector<std::string> options = dns.options.empty() ? conf_words(base, "options") : dns.options;
    if (search.size() == 1 && search[0] == ".") search.clear();
    std::string out;
    for (const auto& s : servers) out += "nameserver " + s + "\n";
    if (!search.empty()) out += "search " + join(search, " ") + "\n";
    if (!options.empty()) out += "options " + join(options, " ") + "\n";
    return out;
}

std::string network_resolv_conf(const std::string& host, const std::string& nameserver, bool ipv6) {
    std::string out = "nameserver " + nameserver + "\n";
    for (const auto& s : conf_words(host, "nameserver")) {
        bool v6 = s.find(':') != std::string::npos;
        if (s != nameserver && s.rfind("127.", 0) != 0 && s != "::1" && (ipv6 || !v6))
            out += "nameserver " + s + "\n";
    }
    // The last search line is the one the resolver takes; options add up.
    std::string search;
    for (const auto& line : split(host, '\n'))
        if (auto words = conf_words(line, "search"); !words.empty()) search = "search " + join(words, " ") + "\n";
    out += search;
    if (auto options = conf_words(host, "options"); !options.empty()) out += "options " + join(options, " ") + "\n";
    return out;
}

spec::Rlimit parse_ulimit(const std::string& text) {
    static const char* const kNames[] = {"as",    "core",     "cpu",  "data",  "fsize",  "locks",
                                         "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
                                         "rtprio",  "rttime",   "sigpending", "stack"};
    size_t eq = text.find('=');
    std::string name = text.substr(0, eq);
    if (eq == std::string::npos) throw Error(EINVAL, "--ulimit " + quote(text) + ": want NAME=SOFT[:HARD]");
    if (std::none_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return name == n; }))
        throw Error(EINVAL, "--ulimit " + quote(text) + ": invalid ulimit type " + quote(name));
    std::string values = text.substr(eq + 1);
    size_t colon = values.find(':');
    auto limit = [&](const std::string& v) {
        if (v == "-1") return ~uint64_t{0};  // unlimited
        auto n = parse_uint(v);
        if (!n) throw Error(EINVAL, "--ulimit " + quote(text) + ": " + quote(v) + " is not a limit (a number, or -1: unlimited)");
        return *n;
    };
    spec::Rlimit r{"RLIMIT_" + ascii_upper(name), limit(values.substr(0, colon)), 0};
    r.hard = colon == std::string::npos ? r.soft : limit(values.substr(colon + 1));
    if (r.soft > r.hard)
        throw Error(EINVAL, "--ulimit " + quote(text) + ": the soft limit must not be above the hard limit");
    return r;
}

void set_rlimit(std::vector<spec::Rlimit>& rlimits, const spec::Rlimit& r) {
    std::erase_if(rlimits, [&](const spec::Rlimit& e) { return e.type == r.type; });
    rlimits.push_back(r);
}

std::pair<std::string, std::string> parse_sysctl(const std::string& text, bool host_network) {
    auto [key, value] = parse_key_value(text, "--sysctl", false);
    std::string ns = spec::sysctl_namespace(key), what = "--sysctl " + quote(text) + ": ";
    if (ns.empty()) throw Error(EINVAL, what + key + " is not in a separate kernel namespace (it would change the host's)");
    if (ns == "uts") throw Error(EINVAL, what + key + " is not allowed (--hostname names the container)");
    if (ns == "network" && host_network) throw Error(EINVAL, what + "not allowed with --network host (the host's network)");
    return {key, value};
}

std::pair<std::string, std::string> parse_key_value(const std::string& text, const std::string& flag,
                                                    bool value_optional) {
    size_t eq = text.find('=');
    std::string key = text.substr(0, eq);
    if (has_blank(key) || (eq == std::string::npos && !value_optional))
        throw Error(EINVAL, flag + " " + quote(text) + (value_optional ? ": want KEY[=VALUE]" : ": want KEY=VALUE"));
    return {key, eq == std::string::npos ? "" : text.substr(eq + 1)};
}

}  // namespace crunlite::app
