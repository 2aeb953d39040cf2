#include "crunlite/app/image_spec.hpp"

#include <sys/capability.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <unordered_map>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::app {
namespace {

// The colon-separated fields of each non-comment line of a passwd/group file.
std::vector<std::vector<std::string>> entries(const std::string& content) {
    std::vector<std::vector<std::string>> out;
    for (auto line : split(content, '\n')) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        out.push_back(split(line, ':'));
    }
    return out;
}

std::optional<uint32_t> id_number(const std::string& text) {
    auto v = parse_uint(text);
    if (!v || *v > 0xFFFFFFFEu) return std::nullopt;
    return static_cast<uint32_t>(*v);
}

// A group given by number, or by name in `groups` (entries of /etc/group).
std::optional<uint32_t> group_id(const std::string& name, const std::vector<std::vector<std::string>>& groups) {
    if (auto gid = id_number(name)) return gid;
    for (const auto& f : groups)
        if (f.size() >= 3 && f[0] == name)
            if (auto gid = id_number(f[2])) return gid;
    return std::nullopt;
}

std::string env_name(const std::string& entry) { return entry.substr(0, entry.find('=')); }

bool valid_env_name(const std::string& name) {
    return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
        return c == '=' || c == '\0' || std::isspace(static_cast<unsigned char>(c));
    });
}

// An environment being built: a later entry of a name replaces the earlier in
// its place.  Indexed: an image's Env may hold 100,000 entries.
class EnvBuilder {
public:
    explicit EnvBuilder(std::vector<std::string> env) : env_(std::move(env)) {
        for (size_t i = 0; i < env_.size(); ++i) at_.emplace(env_name(env_[i]), i);
    }
    void set(const std::string& entry) {
        auto [it, fresh] = at_.emplace(env_name(entry), env_.size());
        if (fresh) env_.push_back(entry);
        else env_[it->second] = entry;
    }
    std::vector<std::string> take() { return std::move(env_); }

private:
    std::vector<std::string> env_;
    std::unordered_map<std::string, size_t> at_;
};

std::string cap_name(const std::string& text) {
    std::string up = ascii_upper(text);
    if (up == "ALL") return up;
    if (up.rfind("CAP_", 0) != 0) up = "CAP_" + up;
    cap_value_t v;
    if (cap_from_name(ascii_lower(up).c_str(), &v) < 0) throw Error(EINVAL, "unknown capability " + quote(text));
    return up;
}

std::vector<std::string> all_capabilities() {
    std::vector<std::string> out;
    for (cap_value_t v = 0; v <= CAP_LAST_CAP; ++v) {
        char* name = cap_to_name(v);
        if (!name) continue;
        std::string n = ascii_upper(name);
        cap_free(name);
        if (n.rfind("CAP_", 0) == 0) out.push_back(n);
    }
    return out;
}

}  // namespace

ContainerUser resolve_user(const std::string& user, const std::optional<std::string>& passwd,
                           const std::optional<std::string>& group) {
    std::string name = user, group_name;
    if (size_t colon = user.find(':'); colon != std::string::npos) {
        name = user.substr(0, colon);
        group_name = user.substr(colon + 1);
        if (group_name.empty()) throw Error(EINVAL, "invalid user " + quote(user) + ": empty group");
    }
    if (name.empty()) name = "0";
    ContainerUser out;
    // The user: a passwd entry by name, or by number (optional for a number).
    std::string user_name;
    std::optional<uint32_t> number = id_number(name);
    bool found = false;
    if (passwd) {
        // Fields left off the end are empty, a gid 0 (as runc's and Docker's reader takes
        // them: hand-written files in scratch images often end at the home directory).
        for (const auto& f : entries(*passwd)) {
            if (f.size() < 3) continue;
            bool match = number ? id_number(f[2]) == number : f[0] == name;
            if (!match) continue;
            auto uid = id_number(f[2]);
            auto gid = f.size() > 3 && !f[3].empty() ? id_number(f[3]) : std::optional<uint32_t>(0);
            if (!uid || !gid) continue;
            out.uid = *uid;
            out.gid = *gid;
            out.home = f.size() > 5 && !f[5].empty() ? f[5] : "/";
            user_name = f[0];
            found = true;
            break;
        }
    }
    if (!found) {
        if (!number) throw Error(EINVAL, "unable to find user " + name + ": no matching entries in passwd file");
        out.uid = *number;
    }
    // Its groups: an explicit one replaces primary and supplementary groups.
    // A USER given at all (the image's or -u) puts the primary group among the
    // supplementary ones too, as podman (4.3, runc and crun alike) does: `id`
    // shows it in groups=.  Only an image without USER runs as root with just
    // the groups that list root.
    auto groups = group ? entries(*group) : std::vector<std::vector<std::string>>{};
    if (!group_name.empty()) {
        std::optional<uint32_t> gid = group_id(group_name, groups);
        if (!gid) throw Error(EINVAL, "unable to find group " + group_name + ": no matching entries in group file");
        out.gid = *gid;
        out.additional_gids = {*gid};
        return out;
    }
    std::set<uint32_t> extra;
    for (const auto& f : groups) {
        if (f.size() < 4 || user_name.empty()) continue;
        auto members = split(f[3], ',');
        auto gid = id_number(f[2]);
        if (gid && *gid != out.gid && std::find(members.begin(), members.end(), user_name) != members.end())
            extra.insert(*gid);
    }
    if (!user.empty()) out.additional_gids.push_back(out.gid);
    out.additional_gids.insert(out.additional_gids.end(), extra.begin(), extra.end());
    return out;
}

std::vector<uint32_t> resolve_groups(const std::vector<std::string>& names, const std::optional<std::string>& group) {
    auto groups = group ? entries(*group) : std::vector<std::vector<std::string>>{};
    std::vector<uint32_t> out;
    for (const auto& name : names) {
        std::optional<uint32_t> gid = group_id(name, groups);
        if (!gid) throw Error(EINVAL, "--group-add: unable to find group " + name + ": no matching entries in group file");
        out.push_back(*gid);
    }
    return out;
}

std::vector<std::string> process_args(const image::ImageConfig& config, const std::optional<std::string>& entrypoint,
                                      const std::vector<std::string>& args) {
    std::vector<std::string> out;
    if (entrypoint) {
        // A JSON array is an argv (podman's form); other text one program.
        if (auto argv = json::string_array_of(*entrypoint)) out = std::move(*argv);
        else if (!entrypoint->empty()) out.push_back(*entrypoint);
    } else {
        out = config.entrypoint;
    }
    // [""] is none: Containerfiles reset an inherited one with ENTRYPOINT [""] (Docker's rule).
    if (out.size() == 1 && out[0].empty()) out.clear();
    const std::vector<std::string>& tail = !args.empty() || entrypoint ? args : config.cmd;
    out.insert(out.end(), tail.begin(), tail.end());
    if (out.empty())
        throw Error(EINVAL, entrypoint ? "no command: --entrypoint " + quote(*entrypoint) +
                                             " replaces the image's Entrypoint and Cmd (as Docker's), and none was given"
                                       : "no command: the image has no Entrypoint or Cmd and none was given");
    return out;
}

std::vector<std::string> merge_env(const std::vector<std::string>& image_env, const std::vector<std::string>& overrides,
                                   const std::string& hostname, const std::string& home,
                                   const std::vector<std::string>& host_env) {
    EnvBuilder env({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + hostname,
                    "HOME=" + home});
    constexpr size_t kMaxArgString = 32 * 4096;  // the kernel's MAX_ARG_STRLEN: a longer one fails execve
    for (size_t i = 0; i < image_env.size(); ++i) {
        const std::string& e = image_env[i];
        // The image's own (hostile) entries: refused here, naming them, rather than by
        // the generated config.json's check, which names a file the user never wrote.
        std::string where = "image config: config.Env[" + std::to_string(i) + "]: ";
        if (e.size() >= kMaxArgString)
            throw Error(E2BIG, where + "an entry of " + std::to_string(e.size()) + " bytes, more than a program takes");
        if (e.find('=') == std::string::npos || !valid_env_name(env_name(e)))
            throw Error(EINVAL, where + quote(e) + " is not NAME=VALUE");
        env.set(e);
    }
    for (const auto& e : overrides) {
        if (e.find('=') != std::string::npos) {
            env.set(e);
            continue;
        }
        for (const auto& h : host_env)
            if (env_name(h) == e && h.size() > e.size()) env.set(h);
    }
    return env.take();
}

void check_env_flags(const std::vector<std::string>& env) {
    for (const auto& e : env)
        if (!valid_env_name(env_name(e))) throw Error(EINVAL, "-e " + quote(e) + ": invalid variable name " + quote(env_name(e)));
}

std::vector<std::string> parse_env_file(const std::string& content, const std::string& file) {
    std::vector<std::string> out;
    size_t n = 0;
    for (const auto& raw : split(content, '\n')) {
        ++n;
        // Leading whitespace goes (as docker does); the value keeps the rest.
        std::string line = raw;
        line.erase(0, line.find_first_not_of(" \t"));
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (trim(line).empty() || line[0] == '#') continue;
        if (line.find('\0') != std::string::npos)
            throw Error(EINVAL, file + ":" + std::to_string(n) + ": a NUL byte (not a text file?)");
        std::string name = env_name(line);
        if (!valid_env_name(name))
            throw Error(EINVAL, file + ":" + std::to_string(n) + ": invalid variable name " + quote(name));
        out.push_back(line.find('=') == std::string::npos ? trim(line) : line);
    }
    return out;
}

bool valid_volume_name(const std::string& name) {
    auto ok = [](char c, bool first) {
        return std::isalnum(static_cast<unsigned char>(c)) || (!first && (c == '_' || c == '.' || c == '-'));
    };
    if (name.empty() || name.size() > 255 || !ok(name[0], true)) return false;
    return std::all_of(name.begin() + 1, name.end(), [&](char c) { return ok(c, false); });
}

namespace {
const std::vector<std::string> kPropagations = {"shared",  "rshared",  "slave",      "rslave",
                                                "private", "rprivate", "unbindable", "runbindable"};
}  // namespace

VolumeSpec parse_volume(const std::string& text, const std::string& cwd) {
    auto parts = split(text, ':');
    auto bad = [&](const std::string& why) { return Error(EINVAL, "invalid volume " + quote(text) + ": " + why); };
    VolumeSpec v;
    if (parts.size() > 3 || std::any_of(parts.begin(), parts.end(), [](auto& p) { return p.empty(); }))
        throw bad("want SRC:DST[:OPTIONS] or DST");
    if (parts.size() == 1) {
        v.kind = VolumeSpec::Kind::Anonymous;
        v.destination = parts[0];
    } else {
        const std::string& src = parts[0];
        v.destination = parts[1];
        if (src[0] == '/' || src[0] == '.') {
            v.source = absolute_path(src[0] == '/' ? src : cwd + "/" + src);  // cleaned, as Docker's
        } else if (valid_volume_name(src)) {
            v.kind = VolumeSpec::Kind::Named;
            v.source = src;
        } else {
            throw bad(quote(src) + " is neither a path (absolute, or starting with \".\") nor a volume name "
                      "(letters, digits, _ . -, a letter or digit first)");
        }
    }
    if (v.destination[0] != '/') throw bad("destination must be absolute");
    v.destination = absolute_path(v.destination);  // as filepath.Clean: "//data/" and "/x/../data" are "/data"
    if (v.destination == "/") throw bad("destination can't be /");
    if (parts.size() < 3) return v;
    static const std::vector<std::string> kKinds[] = {
        {"ro", "rw"}, {"z", "Z"}, {"copy", "nocopy"}, {"bind", "rbind"}, {"exec", "noexec"}, {"suid", "nosuid"},
        {"dev", "nodev"}, kPropagations};
    std::set<const std::vector<std::string>*> seen;
    for (const auto& opt : split(parts[2], ',')) {
        auto kind = std::find_if(std::begin(kKinds), std::end(kKinds),
                                 [&](const auto& k) { return std::find(k.begin(), k.end(), opt) != k.end(); });
        if (kind == std::end(kKinds)) throw bad("unknown option " + quote(opt));
        if (!seen.insert(&*kind).second) throw bad(quote(opt) + ": one of " + join(*kind, ", ") + " only");
        if (opt == "ro" || opt == "rw") v.readonly = opt == "ro";
        else if (opt == "z" || opt == "Z") v.relabel = true;
        else if ((opt == "copy" || opt == "nocopy") && v.kind == VolumeSpec::Kind::Bind)
            throw bad(opt + " is for volumes: a bind mount is never filled from the image");
        else if (opt == "copy" || opt == "nocopy") v.copy = opt == "copy";
        else if (opt == "bind" || opt == "rbind") v.recursive = opt == "rbind";
        else v.options.push_back(opt);
    }
    return v;
}

bool is_propagation(const std::string& opt) {
    return std::find(kPropagations.begin(), kPropagations.end(), opt) != kPropagations.end();
}

std::vector<std::string> adjust_capabilities(const std::vector<std::string>& base, const std::vector<std::string>& add,
                                             const std::vector<std::string>& drop) {
    // Docker's order: --cap-add ALL starts from everything and drops apply;
    // --cap-drop ALL starts from nothing and adds apply; else base + add - drop.
    std::vector<std::string> adds, drops;
    for (const auto& a : add) adds.push_back(cap_name(a));
    for (const auto& d : drop) drops.push_back(cap_name(d));
    auto has_all = [](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), "ALL") != v.end(); };
    std::set<std::string> caps;
    if (has_all(adds)) {
        auto all = all_capabilities();
        caps.insert(all.begin(), all.end());
    } else if (!has_all(drops)) {
        caps.insert(base.begin(), base.end());
    }
    if (!has_all(adds))
        for (const auto& a : adds) caps.insert(a);
    if (!has_all(drops))
        for (const auto& d : drops) caps.erase(d);
    return {caps.begin(), caps.end()};
}

int64_t parse_duration(const std::string& text, const std::string& flag) {
    auto bad = [&] { return Error(EINVAL, flag + ": invalid duration " + quote(text) + " (e.g. 30s, 1m30s, 500ms)"); };
    if (text.empty()) throw bad();
    if (auto secs = parse_uint(text)) {
        if (*secs > 9'000'000'000) throw bad();
        return static_cast<int64_t>(*secs) * 1'000'000'000;
    }
    int64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
        if (i == start || std::count(text.begin() + static_cast<long>(start), text.begin() + static_cast<long>(i), '.') > 1)
            throw bad();
        double value = 0;
        try {
            value = std::stod(text.substr(start, i - start));
        } catch (const std::exception&) {
            throw bad();
        }
        size_t unit_start = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        std::string unit = text.substr(unit_start, i - unit_start);
        double scale = unit == "ns" ? 1 : unit == "us" ? 1e3 : unit == "ms" ? 1e6 : unit == "s" ? 1e9
                     : unit == "m" ? 60e9 : unit == "h" ? 3600e9 : -1;
        if (scale < 0) throw bad();
        // Past ~292 years an int64 of nanoseconds overflows: refuse, never wrap.
        double ns = value * scale;
        if (ns >= 9.2e18 - static_cast<double>(total)) throw bad();
        total += static_cast<int64_t>(ns);
    }
    return total;
}

}  // namespace crunlite::app
