#include "crunlite/image/registry_auth.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::image {
namespace {

constexpr size_t kMaxAuthFile = 1 << 20;
constexpr size_t kMaxHeader = 16 * 1024;


std::string percent_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// The "auths" keys that may hold credentials for `ref`, most specific first.
std::vector<std::string> candidate_keys(const Reference& ref) {
    std::vector<std::string> keys;
    std::string path = ref.registry + "/" + ref.repository;
    for (;;) {
        keys.push_back(path);
        size_t slash = path.rfind('/');
        if (slash == std::string::npos) break;
        path.resize(slash);
    }
    // Docker's older keys: a URL, often with /v1/ or /v2/.
    for (const char* suffix : {"", "/", "/v1/", "/v2/"}) {
        keys.push_back("https://" + ref.registry + suffix);
        keys.push_back("http://" + ref.registry + suffix);
    }
    if (ref.registry == "docker.io")
        for (const char* k : {"index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"}) keys.push_back(k);
    return keys;
}

}  // namespace

std::string base64_encode(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::string base64_decode(std::string_view text, const std::string& what) {
    std::string t = trim(text);
    if (t.size() % 4 != 0 || t.find_first_not_of(
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != std::string::npos)
        throw Error(EINVAL, what + ": not base64");
    size_t pad = 0;
    while (pad < t.size() && t[t.size() - 1 - pad] == '=') ++pad;
    if (pad > 2 || t.find('=') < t.size() - pad) throw Error(EINVAL, what + ": not base64");
    std::string out(t.size() / 4 * 3 + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(t.data()), static_cast<int>(t.size()));
    if (n < 0) throw Error(EINVAL, what + ": not base64");
    out.resize(static_cast<size_t>(n) - pad);
    return out;
}

Credentials parse_creds(std::string_view text) {
    size_t colon = text.find(':');
    Credentials c{std::string(text.substr(0, colon)), colon == std::string_view::npos ? "" : std::string(text.substr(colon + 1))};
    if (c.username.empty()) throw Error(EINVAL, "--creds: want USER[:PASSWORD], the user name is empty");
    return c;
}

std::optional<Credentials> lookup_auth(std::string_view text, const std::string& source, const Reference& ref) {
    json::Document doc = json::parse(text, source);
    auto auths = doc.root().find("auths");
    if (!auths) return std::nullopt;
    auths->require_object();
    std::map<std::string, json::Value> entries;
    for (auto& [k, v] : auths->members()) entries.emplace(k, v);
    for (const auto& key : candidate_keys(ref)) {
        auto it = entries.find(key);
        if (it == entries.end()) continue;
        const json::Value& e = it->second;
        e.require_object();
        if (auto auth = e.find_string("auth"); auth && !auth->empty()) {
            std::string plain = base64_decode(*auth, source + ": auths." + key + ".auth");
            size_t colon = plain.find(':');
            if (colon == std::string::npos || colon == 0)
                e.at("auth").fail("does not decode to USER:PASSWORD");
            return Credentials{plain.substr(0, colon), plain.substr(colon + 1)};
        }
        if (auto user = e.find_string("username"); user && !user->empty())
            return Credentials{*user, e.get_string_or("password", "")};
        // An entry without credentials (docker's credsStore keeps them elsewhere): look further.
        log::debug(source + ": auths." + key + " has no credentials (credential helpers are not run)");
    }
    return std::nullopt;
}

std::vector<std::string> auth_files(const std::string& authfile) {
    if (!authfile.empty()) return {authfile};
    std::vector<std::string> files;
    auto env = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v && *v ? v : "";
    };
    if (std::string f = env("REGISTRY_AUTH_FILE"); !f.empty()) files.push_back(f);
    if (std::string x = env("XDG_RUNTIME_DIR"); !x.empty()) files.push_back(x + "/containers/auth.json");
    else files.push_back("/run/containers/" + std::to_string(::geteuid()) + "/auth.json");
    std::string home = env("HOME");
    if (std::string c = env("XDG_CONFIG_HOME"); !c.empty()) files.push_back(c + "/containers/auth.json");
    else if (!home.empty()) files.push_back(home + "/.config/containers/auth.json");
    if (std::string d = env("DOCKER_CONFIG"); !d.empty()) files.push_back(d + "/config.json");
    else if (!home.empty()) files.push_back(home + "/.docker/config.json");
    return files;
}

std::optional<Credentials> find_credentials(const Reference& ref, const std::string& authfile) {
    for (const auto& file : auth_files(authfile)) {
        if (::access(file.c_str(), F_OK) != 0) {
            if (!authfile.empty()) throw_errno("--authfile " + quote(authfile));
            continue;
        }
        std::string text = read_file(file);
        if (text.size() > kMaxAuthFile) throw Error(EFBIG, quote(file) + ": larger than 1 MiB");
        if (auto c = lookup_auth(text, file, ref)) {
            log::debug("credentials for " + ref.registry + " from " + file);
            return c;
        }
    }
    return std::nullopt;
}

std::vector<Challenge> parse_www_authenticate(std::string_view h) {
    auto bad = [&](const std::string& why) {
        return Error(EINVAL, "malformed WWW-Authenticate header " + quote(h.substr(0, 200)) + ": " + why);
    };
    if (h.size() > kMaxHeader) throw bad("longer than 16 KiB");
    auto is_tchar = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    };
    size_t i = 0;
    auto skip_ws = [&] {
        while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
    };
    auto token = [&] {
        size_t start = i;
        while (i < h.size() && is_tchar(h[i])) ++i;
        return std::string(h.substr(start, i - start));
    };
    std::vector<Challenge> out;
    for (;;) {
        while (i < h.size() && (h[i] == ',' || h[i] == ' ' || h[i] == '\t')) ++i;  // empty list elements
        if (i >= h.size()) break;
        Challenge c;
        c.scheme = ascii_lower(token());
        if (c.scheme.empty()) throw bad("expected an authentication scheme at offset " + std::to_string(i));
        // name=value parameters separated by commas; a token not followed by
        // '=' is the next challenge's scheme.
        for (;;) {
            skip_ws();
            size_t mark = i;
            std::string name = token();
            skip_ws();
            if (name.empty() || i >= h.size() || h[i] != '=') {
                i = mark;
                break;
            }
            ++i;
            skip_ws();
            std::string value;
            if (i < h.size() && h[i] == '"') {
                bool closed = false;
                for (++i; i < h.size() && !closed;) {
                    char ch = h[i++];
                    if (ch == '\\' && i < h.size()) value += h[i++];
                    else if (ch == '"') closed = true;
                    else value += ch;
                }
                if (!closed) throw bad("unterminated quoted string");
            } else {
                value = token();
                while (i < h.size() && h[i] == '=') value += h[i++];  // token68 padding ("Basic abc==")
            }
            if (c.params.size() >= 32) throw bad("more than 32 parameters");
            c.params[ascii_lower(name)] = value;
            skip_ws();
            if (i >= h.size() || h[i] != ',') break;
            ++i;
        }
        skip_ws();
        if (i < h.size() && h[i] != ',' && !is_tchar(h[i]))
            throw bad("unexpected " + quote(h.substr(i, 1)) + " at offset " + std::to_string(i));
        out.push_back(std::move(c));
        if (out.size() > 16) throw bad("more than 16 challenges");
    }
    return out;
}

std::string token_url(const Challenge& bearer, const std::string& repository) {
    auto realm = bearer.params.find("realm");
    if (realm == bearer.params.end() || realm->second.empty())
        throw Error(EINVAL, "the registry's Bearer challenge names no realm (token server)");
    const std::string& r = realm->second;
    if (r.rfind("https://", 0) != 0 && r.rfind("http://", 0) != 0)
        throw Error(EINVAL, "the registry's token server " + quote(r) + " is not an http(s) URL");
    std::string url = r + (r.find('?') == std::string::npos ? "?" : "&");
    if (auto s = bearer.params.find("service"); s != bearer.params.end())
        url += "service=" + percent_encode(s->second) + "&";
    if (repository.empty()) return url.substr(0, url.size() - 1);  // a login: no scope
    return url + "scope=" + percent_encode("repository:" + repository + ":pull");
}

std::string auth_json_with(std::string_view text, const std::string& source, const std::string& key,
                           const std::optional<Credentials>& creds, bool* removed) {
    std::map<std::string, std::map<std::string, std::string>> auths, objects;
    std::map<std::string, std::string> strings;
    if (!trim(text).empty()) {
        json::Document doc = json::parse(text, source);
        json::Value root = doc.root();
        root.require_object();
        for (const auto& [k, v] : root.members()) {
            if (k == "auths") {
                v.require_object();
                for (const auto& [host, entry] : v.members()) auths[host] = entry.as_string_map();
            } else if (v.is_string()) {
                strings[k] = v.as_string();
            } else if (v.is_object()) {
                objects[k] = v.as_string_map();  // fails naming the key unless all strings
            } else {
                v.fail("not kept by this tool (only strings and objects of strings); edit the file with podman login");
            }
        }
    }
    if (removed) *removed = auths.count(key) > 0;
    if (creds) auths[key] = {{"auth", base64_encode(creds->username + ":" + creds->password)}};
    else auths.erase(key);
    json::Writer w(true);
    w.begin_object().key("auths").begin_object();
    for (const auto& [host, entry] : auths) {
        w.key(host).begin_object();
        for (const auto& [k, v] : entry) w.key(k).string(v);
        w.end_object();
    }
    w.end_object();
    for (const auto& [k, v] : strings) w.key(k).string(v);
    for (const auto& [k, m] : objects) {
        w.key(k).begin_object();
        for (const auto& [mk, mv] : m) w.key(mk).string(mv);
        w.end_object();
    }
    w.end_object();
    return w.result() + "\n";
}

std::string default_login_file() {
    const char* f = std::getenv("REGISTRY_AUTH_FILE");
    if (f && *f) return f;
    const char* x = std::getenv("XDG_RUNTIME_DIR");
    if (x && *x) return std::string(x) + "/containers/auth.json";
    return "/run/containers/" + std::to_string(::geteuid()) + "/auth.json";
}

std::string parse_token_response(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    json::Value root = doc.root();
    root.require_object();
    std::string token = root.get_string_or("token", "");
    if (token.empty()) token = root.get_string_or("access_token", "");
    if (token.empty()) root.fail("no \"token\" or \"access_token\" in the answer");
    for (char c : token)
        if (c < 0x21 || c > 0x7e) root.fail("the token has characters a header cannot carry");
    return token;
}

}  // namespace crunlite::image
