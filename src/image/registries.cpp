#include "crunlite/image/registries.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/toml.hpp"

namespace crunlite::image {
namespace {

constexpr size_t kMaxConfFile = 1 << 20;

// The typed reads of a TOML node, failing with the file and key.
struct Reader {
    const std::string& source;

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw Error(EINVAL, source + ": " + key + ": " + what);
    }
    std::string string(const toml::Value* n, const std::string& key) const {
        if (!n) return "";
        if (!n->is_string()) fail(key, "expected a string");
        return n->string;
    }
    bool boolean(const toml::Value* n, const std::string& key) const {
        if (!n) return false;
        if (!n->is_boolean()) fail(key, "expected true or false");
        return n->boolean;
    }
    std::vector<std::string> strings(const toml::Value* n, const std::string& key) const {
        std::vector<std::string> out;
        if (!n || !n->is_array()) fail(key, "expected an array of strings");
        for (size_t i = 0; i < n->items.size(); ++i)
            out.push_back(string(&n->items[i], key + "[" + std::to_string(i) + "]"));
        return out;
    }
};

std::vector<std::string> conf_files_in(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& n : list_dir(dir))
        if (n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0) out.push_back(dir + "/" + n);
    return out;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The [[registry]] entry for "host/path" (longest matching prefix), or null.
const RegistryEntry* find_entry(const std::string& full, const std::string& host, const RegistriesConf& conf) {
    const RegistryEntry* best = nullptr;
    size_t best_len = 0;
    for (const auto& e : conf.registries) {
        const std::string& p = e.prefix.empty() ? e.location : e.prefix;
        bool match;
        if (p.rfind("*.", 0) == 0) {
            std::string suffix = p.substr(1);  // ".example.com"
            std::string h = host.substr(0, host.rfind(':') == std::string::npos || host.front() == '[' ? host.size()
                                                                                                      : host.rfind(':'));
            match = h.size() > suffix.size() && h.compare(h.size() - suffix.size(), suffix.size(), suffix) == 0;
        } else {
            match = full == p || (full.size() > p.size() && full.compare(0, p.size(), p) == 0 && full[p.size()] == '/');
        }
        if (match && p.size() > best_len) {
            best = &e;
            best_len = p.size();
        }
    }
    return best;
}

// `ref` with the matched prefix replaced by `location`; nullopt when that
// leaves no repository.
std::optional<Reference> rewrite(const Reference& ref, const RegistryEntry& e, const std::string& location) {
    const std::string& p = e.prefix.empty() ? e.location : e.prefix;
    if (location.empty() || p.rfind("*.", 0) == 0) return ref;  // a wildcard entry keeps the name
    std::string full = ref.registry + "/" + ref.repository;
    std::string moved = location + full.substr(p.size());
    size_t slash = moved.find('/');
    if (slash == std::string::npos || slash + 1 == moved.size()) return std::nullopt;
    std::string text = std::string(kRegistryTransport) + moved + (ref.digest.empty() ? ":" + ref.tag : "@" + ref.digest);
    try {
        Reference r = parse_reference(text);
        r.registry = moved.substr(0, slash);  // as written (no docker.io normalisation of a location)
        r.repository = moved.substr(slash + 1);
        return r;
    } catch (const Error& err) {
        throw Error(EINVAL, e.source + ": [[registry]] " + p + ": location " + quote(location) + ": " + err.message());
    }
}

}  // namespace

RegistriesConf parse_registries_conf(std::string_view text, const std::string& source) {
    const toml::Value t = toml::parse(text, source);  // Error(EINVAL) "SOURCE:LINE: ..."
    Reader r{source};
    RegistriesConf c;
    c.files.push_back(source);
    if (const toml::Value* v1 = t.get("registries"))
        if (v1->get("search") || v1->get("insecure") || v1->get("block"))
            throw Error(EINVAL, source + ": the version 1 format ([registries.search]) is not supported: "
                                         "use unqualified-search-registries and [[registry]] (containers-registries.conf(5))");
    if (const toml::Value* s = t.get("unqualified-search-registries")) {
        c.search = r.strings(s, "unqualified-search-registries");
        c.search_set = true;
        for (const auto& reg : c.search)
            if (reg.empty() || reg.find('/') != std::string::npos)
                r.fail("unqualified-search-registries", "not a registry host: " + quote(reg));
    }
    if (const toml::Value* a = t.get("aliases")) {
        if (!a->is_table()) r.fail("aliases", "expected a table");
        for (size_t i = 0; i < a->keys.size(); ++i) {
            const std::string& key = a->keys[i];
            std::string value = r.string(&a->items[i], "aliases." + key);
            if (!is_qualified_name(value))
                r.fail("aliases." + key, quote(value) + " is not a fully qualified name (registry/name)");
            c.aliases[key] = value;
        }
    }
    if (const toml::Value* regs = t.get("registry")) {
        if (!regs->is_array()) r.fail("registry", "expected [[registry]] tables");
        for (size_t i = 0; i < regs->items.size(); ++i) {
            std::string key = "registry[" + std::to_string(i) + "]";
            const toml::Value* rt = &regs->items[i];
            if (!rt->is_table()) r.fail(key, "expected a table");
            RegistryEntry e;
            e.source = source;
            e.prefix = r.string(rt->get("prefix"), key + ".prefix");
            e.location = r.string(rt->get("location"), key + ".location");
            e.insecure = r.boolean(rt->get("insecure"), key + ".insecure");
            e.blocked = r.boolean(rt->get("blocked"), key + ".blocked");
            if (e.prefix.empty() && e.location.empty()) r.fail(key, "needs a prefix or a location");
            if (e.location.empty() && e.prefix.rfind("*.", 0) != 0) e.location = e.prefix;
            if (const toml::Value* m = rt->get("mirror")) {
                if (!m->is_array()) r.fail(key + ".mirror", "expected [[registry.mirror]] tables");
                for (size_t j = 0; j < m->items.size(); ++j) {
                    std::string mk = key + ".mirror[" + std::to_string(j) + "]";
                    const toml::Value* mt = &m->items[j];
                    if (!mt->is_table()) r.fail(mk, "expected a table");
                    RegistryEndpoint ep{r.string(mt->get("location"), mk + ".location"),
                                        r.boolean(mt->get("insecure"), mk + ".insecure")};
                    if (ep.location.empty()) r.fail(mk + ".location", "must not be empty");
                    e.mirrors.push_back(ep);
                }
            }
            c.registries.push_back(std::move(e));
        }
    }
    return c;
}

void merge_registries_conf(RegistriesConf& base, RegistriesConf&& later) {
    if (later.search_set) {
        base.search = std::move(later.search);
        base.search_set = true;
    }
    for (auto& [k, v] : later.aliases) base.aliases[k] = v;
    for (auto& e : later.registries) {
        auto key = [](const RegistryEntry& x) { return x.prefix.empty() ? x.location : x.prefix; };
        auto it = std::find_if(base.registries.begin(), base.registries.end(),
                               [&](const RegistryEntry& b) { return key(b) == key(e); });
        if (it != base.registries.end()) *it = std::move(e);
        else base.registries.push_back(std::move(e));
    }
    for (auto& f : later.files) base.files.push_back(std::move(f));
}

RegistriesConf load_registries_conf() {
    std::vector<std::string> files;
    if (const char* env = std::getenv("CONTAINERS_REGISTRIES_CONF"); env && *env) {
        files.push_back(env);
    } else {
        std::string user_dir;
        if (::geteuid() != 0) {
            const char* config = std::getenv("XDG_CONFIG_HOME");
            const char* home = std::getenv("HOME");
            if (config && *config) user_dir = std::string(config) + "/containers";
            else if (home && *home) user_dir = std::string(home) + "/.config/containers";
        }
        std::string main = !user_dir.empty() && exists(user_dir + "/registries.conf") ? user_dir + "/registries.conf"
                                                                                     : "/etc/containers/registries.conf";
        files.push_back(main);
        for (const auto& f : conf_files_in("/etc/containers/registries.conf.d")) files.push_back(f);
        if (!user_dir.empty())
            for (const auto& f : conf_files_in(user_dir + "/registries.conf.d")) files.push_back(f);
    }
    RegistriesConf conf;
    for (const auto& f : files) {
        if (!exists(f)) continue;
        std::string text = read_file(f);
        if (text.size() > kMaxConfFile) throw Error(EFBIG, quote(f) + ": larger than 1 MiB");
        merge_registries_conf(conf, parse_registries_conf(text, f));
    }
    return conf;
}

bool is_qualified_name(std::string_view name) {
    size_t slash = name.find('/');
    if (slash == std::string_view::npos) return false;
    std::string_view head = name.substr(0, slash);
    return head.find('.') != std::string_view::npos || head.find(':') != std::string_view::npos || head == "localhost";
}

Reference resolve_short_name(std::string_view name, const RegistriesConf& conf) {
    if (is_qualified_name(name)) return parse_reference(std::string(kRegistryTransport) + std::string(name));
    // The name without its tag or digest, for the aliases.
    std::string_view base = name.substr(0, name.find('@'));
    if (size_t colon = base.rfind(':'); colon != std::string_view::npos && base.find('/', colon) == std::string_view::npos)
        base = base.substr(0, colon);
    std::string suffix(name.substr(base.size()));
    std::string files = conf.files.empty() ? "no registries.conf" : join(conf.files, ", ");
    if (auto a = conf.aliases.find(std::string(base)); a != conf.aliases.end()) {
        log::debug("short name " + quote(name) + ": alias " + a->second);
        return parse_reference(std::string(kRegistryTransport) + a->second + suffix);
    }
    // Check the name itself before naming candidates (under a placeholder registry, not shown).
    try {
        parse_reference("docker://registry.invalid/" + std::string(name));
    } catch (const Error& e) {
        std::string msg = e.message(), placeholder = quote("docker://registry.invalid/" + std::string(name));
        if (size_t at = msg.find(placeholder); at != std::string::npos)
            msg.replace(at, placeholder.size(), quote(name));
        throw Error(e.code(), msg);
    }
    if (conf.search.empty())
        throw Error(ENOENT, "short name " + quote(name) + ": no unqualified-search-registries to resolve it in (" + files +
                                "): give the full name, HOST/NAME[:TAG]");
    if (conf.search.size() > 1) {
        std::vector<std::string> candidates;
        for (const auto& reg : conf.search)
            candidates.push_back(parse_reference(std::string(kRegistryTransport) + reg + "/" + std::string(name)).name());
        throw Error(EINVAL, "short name " + quote(name) + " is ambiguous: it could be " + join(candidates, ", ") +
                                " (unqualified-search-registries in " + files +
                                "); give the full name, or an alias in registries.conf");
    }
    return parse_reference(std::string(kRegistryTransport) + conf.search.front() + "/" + std::string(name));
}

std::vector<Endpoint> endpoints(const Reference& ref, const RegistriesConf& conf) {
    std::string full = ref.registry + "/" + ref.repository;
    const RegistryEntry* e = find_entry(full, ref.registry, conf);
    if (!e) return {Endpoint{ref, false, false}};
    const std::string& p = e->prefix.empty() ? e->location : e->prefix;
    if (e->blocked)
        throw Error(EACCES, "registry " + ref.registry + ": repository " + ref.repository + ": blocked by [[registry]] " + p +
                                " in " + e->source);
    std::vector<Endpoint> out;
    for (const auto& m : e->mirrors)
        if (auto r = rewrite(ref, *e, m.location)) out.push_back(Endpoint{*r, m.insecure, true});
    if (auto r = rewrite(ref, *e, e->location)) out.push_back(Endpoint{*r, e->insecure, false});
    if (out.empty())
        throw Error(EINVAL, "registry " + ref.registry + ": [[registry]] " + p + " in " + e->source + " leaves no repository");
    return out;
}

}  // namespace crunlite::image
