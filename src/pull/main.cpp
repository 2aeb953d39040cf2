// crun-lite-pull: the network half of `crun-lite image pull` (see
// include/crunlite/image/pull.hpp for the protocol and docs/design.md for why
// it is a program of its own).  Reads one JSON request on stdin; `manifest`
// answers on stdout with a JSON line followed by the manifest's and config's
// bytes, `blob` streams one blob's bytes to stdout.  Errors: "ERRNO MESSAGE"
// on stderr, exit 1.  Every message names the registry and repository, and the
// digest or tag concerned.  As root it reads its certificates, then runs as
// nobody (drop_privileges).
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/manifest.hpp"
#include "crunlite/image/pull.hpp"
#include "crunlite/image/registry_auth.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/json/json.hpp"
#include "http.hpp"

namespace crunlite::pull {
namespace {

using image::Challenge;
using image::Credentials;

constexpr size_t kMaxRequest = 64 * 1024;
constexpr size_t kMaxToken = 1 << 20;
constexpr int kMaxRetries = 3;        // 429/503 answers honoured before giving up
constexpr long kMaxRetryAfter = 30;   // seconds: a longer Retry-After is an error, not a wait
constexpr int kMaxResumes = 3;        // a blob's dropped connections resumed with Range

const char* kManifestAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

struct Request {
    std::string op, registry, host, repository, reference, digest;
    int64_t size = 0;
    image::Platform platform;
    std::optional<Credentials> creds;
    std::string cert_dir, scheme, authorization;
    bool tls_verify = true;
    long stall_timeout = 30, max_redirects = 10;
};

Request read_request() {
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > kMaxRequest) throw Error(E2BIG, "request larger than 64 KiB");
    }
    json::Document doc = json::parse(text, "request");
    json::Value v = doc.root();
    Request r;
    r.op = v.get_string("op");
    r.registry = v.get_string("registry");
    r.host = v.get_string("host");
    r.repository = v.get_string("repository");
    r.reference = v.get_string_or("reference", "");
    r.digest = v.get_string_or("digest", "");
    r.size = v.get_int64_or("size", 0);
    if (auto p = v.find("platform"))
        r.platform = {p->get_string("os"), p->get_string("architecture"), p->get_string_or("variant", "")};
    if (auto u = v.find_string("username")) r.creds = Credentials{*u, v.get_string_or("password", "")};
    r.cert_dir = v.get_string_or("certDir", "");
    r.scheme = v.get_string_or("scheme", "");
    r.authorization = v.get_string_or("authorization", "");
    r.tls_verify = v.get_bool_or("tlsVerify", true);
    r.stall_timeout = v.get_int64_or("stallTimeout", 30);
    r.max_redirects = v.get_int64_or("maxRedirects", 10);
    return r;
}

void write_all(int fd, std::string_view data, const char* what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno(what);
        data.remove_prefix(static_cast<size_t>(n));
    }
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A containers-certs.d directory: *.crt are CAs (added to the system's),
// NAME.cert with NAME.key a client certificate.
void read_cert_dir(const std::string& dir, HttpOptions& o) {
    if (dir.empty()) return;
    if (::access(dir.c_str(), R_OK | X_OK) != 0) throw_errno("--cert-dir " + quote(dir));
    std::string extra;
    for (const auto& f : list_dir(dir)) {
        if (ends_with(f, ".crt")) {
            extra += read_file(dir + "/" + f) + "\n";
        } else if (ends_with(f, ".cert")) {
            std::string key = dir + "/" + f.substr(0, f.size() - 5) + ".key";
            if (::access(key.c_str(), R_OK) != 0)
                throw Error(ENOENT, "--cert-dir " + quote(dir) + ": client certificate " + quote(f) + " has no " +
                                        quote(f.substr(0, f.size() - 5) + ".key"));
            if (o.client_cert.empty()) {
                o.client_cert = read_file(dir + "/" + f);
                o.client_key = read_file(key);
            }
        } else if (ends_with(f, ".key")) {
            std::string cert = dir + "/" + f.substr(0, f.size() - 4) + ".cert";
            if (::access(cert.c_str(), R_OK) != 0)
                throw Error(ENOENT, "--cert-dir " + quote(dir) + ": key " + quote(f) + " has no " +
                                        quote(f.substr(0, f.size() - 4) + ".cert"));
        }
    }
    if (extra.empty()) return;
    // The system store first, then the registry's own CAs.
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    std::string bundle = info && info->cainfo ? info->cainfo : "/etc/ssl/certs/ca-certificates.crt";
    if (::access(bundle.c_str(), R_OK) == 0) o.ca_pem = read_file(bundle) + "\n";
    o.ca_pem += extra;
}

// The registry's error message, when its body is the distribution spec's
// {"errors": [{"code", "message"}]}; "" otherwise.
std::string registry_error(const std::string& body) {
    try {
        json::Document doc = json::parse(body, "error");
        auto errors = doc.root().find("errors");
        if (!errors || errors->elements().empty()) return "";
        const json::Value first = errors->elements().front();
        std::string code = first.get_string_or("code", ""), message = first.get_string_or("message", "");
        std::string out = code.empty() ? message : code + (message.empty() ? "" : ": " + message);
        if (out.size() > 200) out = out.substr(0, 200) + "...";
        for (char& c : out)
            if (static_cast<unsigned char>(c) < 0x20) c = ' ';
        return out;
    } catch (const Error&) {
        return "";
    }
}

std::string status_text(const Response& r) {
    std::string reason = registry_error(r.body);
    return "HTTP " + std::to_string(r.status) + (reason.empty() ? "" : " (" + reason + ")");
}

// Everything the connection needs from files (CAs, client certificates),
// read while the helper may still be root.
HttpOptions http_options(const Request& req) {
    HttpOptions o;
    o.tls_verify = req.tls_verify;
    o.stall_timeout = std::clamp<long>(req.stall_timeout, 1, 3600);
    o.max_redirects = std::clamp<long>(req.max_redirects, 0, 50);
    read_cert_dir(req.cert_dir, o);
    return o;
}

// What the registry sends is hostile and parsed here (HTTP, TLS, JSON): as
// root, the helper becomes nobody (65534) first, with no supplementary groups
// and no way back (no_new_privs).  It keeps its stdin, stdout and stderr and
// needs nothing else root has.  Root of a user namespace without 65534 mapped
// (a rootless import) is not root on the host: it stays as it is.
void drop_privileges() {
    if (::geteuid() != 0) return;
    constexpr uid_t kNobody = 65534;
    bool host_root = trim(read_file("/proc/self/uid_map")).find("4294967295") != std::string::npos;
    if (::setgroups(0, nullptr) < 0 || ::setresgid(kNobody, kNobody, kNobody) < 0 ||
        ::setresuid(kNobody, kNobody, kNobody) < 0) {
        if (host_root || errno != EINVAL) throw_errno("drop root privileges (to uid and gid 65534)");
        return;
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw_errno("prctl(PR_SET_NO_NEW_PRIVS)");
    // A change of credentials clears the parent-death signal.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) throw Error(ESRCH, "crun-lite went away");
}

class Registry {
public:
    Registry(const Request& req, const HttpOptions& options) : req_(req), http_(options) {
        where_ = "registry " + req.registry + (req.repository.empty() ? "" : ": repository " + req.repository);
        scheme_ = req.scheme;
        authorization_ = req.authorization;
    }

    const std::string& where() const { return where_; }
    const std::string& scheme() const { return scheme_; }
    const std::string& authorization() const { return authorization_; }

    // Decides https or (with --tls-verify=false only) http, and authenticates
    // once up front from the /v2/ answer, as distribution clients do.
    void connect() {
        if (!scheme_.empty()) return;
        Response r;
        try {
            scheme_ = "https";
            r = http_.get(base() + "/v2/", {}, 64 * 1024, where_);
        } catch (const Error& e) {
            // A plain-HTTP registry answers a TLS hello with garbage, closes, or
            // waits for a request that never comes.
            bool plain = e.code() == EPROTO || e.code() == ECONNRESET || e.code() == ETIMEDOUT;
            if (req_.tls_verify && e.code() == EPROTO && e.message().find("wrong version number") != std::string::npos)
                throw Error(EPROTO, e.message() + " (a plain-HTTP registry? --tls-verify=false, or insecure = true "
                                                  "in registries.conf)");
            if (req_.tls_verify || !plain) throw;
            scheme_ = "http";
            r = http_.get(base() + "/v2/", {}, 64 * 1024, where_);
        }
        if (r.status == 401) authenticate(r);
        else if (r.status != 200) throw Error(EPROTO, where_ + ": /v2/ answered " + status_text(r) + ": not a registry?");
    }

    // GET a path below /v2/<repository>/ with the session's authorization:
    // a 401 re-authenticates once (a token may expire, a scope differ), a 429
    // or 503 is retried after its Retry-After (bounded).  Other statuses are the
    // caller's.
    Response get(const std::string& path, std::vector<std::string> headers, size_t limit, const std::string& what,
                 const Sink& sink = {}) {
        std::string url = base() + "/v2/" + req_.repository + "/" + path;
        bool reauthenticated = false;
        for (int attempt = 0;; ++attempt) {
            std::vector<std::string> h = headers;
            if (!authorization_.empty()) h.push_back("Authorization: " + authorization_);
            Response r = http_.get(url, h, limit, what, sink);
            if (r.status == 401 && !reauthenticated) {
                reauthenticated = true;
                authenticate(r);
                continue;
            }
            if (r.status == 401)
                throw Error(EACCES, what + ": HTTP 401 (" +
                                        (req_.creds ? "the registry refused the credentials"
                                                    : "authentication required: give --creds or log in") +
                                        ")" + (registry_error(r.body).empty() ? "" : ": " + registry_error(r.body)));
            if ((r.status == 429 || r.status == 503) && r.streamed == 0) {
                long wait = attempt + 1;
                if (auto ra = r.headers.find("retry-after"); ra != r.headers.end()) {
                    auto secs = parse_int(ra->second);
                    if (!secs || *secs < 0)
                        throw Error(EBUSY, what + ": " + status_text(r) + " with a Retry-After this client does not read (" +
                                               quote(ra->second.substr(0, 40)) + ")");
                    if (*secs > kMaxRetryAfter)
                        throw Error(EBUSY, what + ": " + status_text(r) + ", retry after " + std::to_string(*secs) +
                                               " s (more than " + std::to_string(kMaxRetryAfter) + " s: giving up)");
                    wait = static_cast<long>(*secs);
                }
                if (attempt >= kMaxRetries)
                    throw Error(EBUSY, what + ": " + status_text(r) + " after " + std::to_string(kMaxRetries) + " retries");
                ::sleep(static_cast<unsigned>(wait));
                continue;
            }
            return r;
        }
    }

    // /v2/ with the session's authorization must answer 200 (image login).
    void check() {
        std::vector<std::string> h;
        if (!authorization_.empty()) h.push_back("Authorization: " + authorization_);
        Response r = http_.get(base() + "/v2/", h, 64 * 1024, where_);
        if (r.status == 401) throw Error(EACCES, where_ + ": the registry refused the credentials (" + status_text(r) + ")");
        if (r.status != 200) throw Error(EPROTO, where_ + ": /v2/ answered " + status_text(r));
    }

private:
    std::string base() const { return scheme_ + "://" + req_.host; }

    // Answers a 401: a Bearer challenge gets a token from its realm (with the
    // credentials, if any, as basic auth there), a Basic one the credentials.
    void authenticate(const Response& r) {
        std::vector<Challenge> challenges;
        for (const auto& h : r.www_authenticate) {
            auto more = with_context(where_, [&] { return image::parse_www_authenticate(h); });
            challenges.insert(challenges.end(), more.begin(), more.end());
        }
        auto find = [&](const char* scheme) -> const Challenge* {
            for (const auto& c : challenges)
                if (c.scheme == scheme) return &c;
            return nullptr;
        };
        std::string basic = req_.creds ? "Basic " + image::base64_encode(req_.creds->username + ":" + req_.creds->password) : "";
        if (const Challenge* bearer = find("bearer")) {
            std::string url = with_context(where_, [&] { return image::token_url(*bearer, req_.repository); });
            std::vector<std::string> h;
            if (!basic.empty()) h.push_back("Authorization: " + basic);
            std::string what = where_ + ": token server " + url.substr(0, url.find('?'));
            Response t = http_.get(url, h, kMaxToken, what);
            if (t.status == 401 || t.status == 403)
                throw Error(EACCES, what + ": " + status_text(t) +
                                        (req_.creds ? ": the credentials were refused" : ": authentication required: give --creds or log in"));
            if (t.status != 200) throw Error(EPROTO, what + ": " + status_text(t));
            authorization_ = "Bearer " + image::parse_token_response(t.body, what);
            return;
        }
        if (find("basic")) {
            if (basic.empty())
                throw Error(EACCES, where_ + ": authentication required (basic): give --creds or log in");
            authorization_ = basic;
            return;
        }
        if (challenges.empty()) throw Error(EACCES, where_ + ": HTTP 401 without a WWW-Authenticate challenge");
        throw Error(EACCES, where_ + ": unsupported authentication scheme " + quote(challenges.front().scheme));
    }

    Request req_;
    Http http_;
    std::string where_, scheme_, authorization_;
};

// What a manifest response is: the document's own mediaType, else the Content-Type.
std::string media_type_of(const std::string& body, const Response& r, const std::string& what) {
    json::Document doc = json::parse(body, what);
    json::Value root = doc.root();
    root.require_object();
    if (auto v = root.find_int64("schemaVersion"); v && *v == 1)
        throw Error(EINVAL, what + ": Docker schema 1 manifests are not supported (push the image again with a current tool)");
    std::string mt = root.get_string_or("mediaType", "");
    if (mt.empty()) {
        auto ct = r.headers.find("content-type");
        mt = ct == r.headers.end() ? "" : trim(ct->second.substr(0, ct->second.find(';')));
    }
    if (mt.empty() || mt == "application/json") mt = root.has("manifests") ? "application/vnd.oci.image.index.v1+json"
                                                                             : "application/vnd.oci.image.manifest.v1+json";
    return mt;
}

// GET manifests/<reference>, capped and verified: by digest, its sha256 must
// match; by tag, Docker-Content-Digest (when sent) must match the bytes.
std::pair<std::string, std::string> fetch_manifest(Registry& reg, const std::string& reference, const std::string& what) {
    Response r = reg.get("manifests/" + reference, {kManifestAccept}, image::kMaxManifest, what);
    if (r.status == 404) throw Error(ENOENT, what + ": not found (" + status_text(r) + ")");
    if (r.status == 403) throw Error(EACCES, what + ": access denied (" + status_text(r) + ")");
    if (r.status != 200) throw Error(EPROTO, what + ": " + status_text(r));
    std::string digest = sha256_digest(r.body);
    if (reference.rfind("sha256:", 0) == 0) image::check_digest(what, "digest", digest, reference);
    if (auto h = r.headers.find("docker-content-digest"); h != r.headers.end() && h->second.rfind("sha256:", 0) == 0 &&
                                                          h->second != digest)
        throw Error(EINVAL, what + ": the registry's Docker-Content-Digest " + h->second +
                                " does not match the manifest it sent (" + digest + ")");
    std::string mt = media_type_of(r.body, r, what);
    return {std::move(r.body), mt};
}

int op_manifest(const Request& req, const HttpOptions& options) {
    Registry reg(req, options);
    reg.connect();
    std::string what = reg.where() + ": manifest " + req.reference;
    auto [body, mt] = fetch_manifest(reg, req.reference, what);
    std::string digest = sha256_digest(body);
    // An index (manifest list): the platform's manifest, fetched by digest (nested at most twice).
    for (int depth = 0; image::is_index(mt); ++depth) {
        if (depth >= 2) throw Error(ELOOP, what + ": image indexes nested more than twice");
        std::vector<image::Descriptor> entries = image::parse_index(body, what);
        if (entries.size() > 1000) throw Error(EINVAL, what + ": the index lists more than 1000 manifests");
        image::Descriptor chosen = image::select_manifest(entries, req.platform, what);
        if (chosen.size > static_cast<int64_t>(image::kMaxManifest))
            throw Error(EFBIG, what + ": manifest " + chosen.digest + " is " + std::to_string(chosen.size) +
                                   " bytes, more than 4 MiB");
        what = reg.where() + ": manifest " + chosen.digest;
        std::tie(body, mt) = fetch_manifest(reg, chosen.digest, what);
        if (static_cast<int64_t>(body.size()) != chosen.size)
            throw Error(EINVAL, what + ": size " + std::to_string(body.size()) + ", the index says " + std::to_string(chosen.size));
        digest = chosen.digest;
    }
    if (!image::is_manifest(mt))
        throw Error(EINVAL, what + ": unsupported manifest media type " + quote(mt));
    image::Manifest m = image::parse_manifest(body, what);

    // The config blob: capped before it is asked for, then exact size and digest.
    const image::Descriptor& c = m.config;
    std::string cwhat = reg.where() + ": config " + c.digest;
    if (c.size > static_cast<int64_t>(image::kMaxConfig))
        throw Error(EFBIG, cwhat + ": " + std::to_string(c.size) + " bytes, more than the 8 MiB a config may have");
    Response r = reg.get("blobs/" + c.digest, {}, static_cast<size_t>(c.size), cwhat);
    if (r.status == 404) throw Error(ENOENT, cwhat + ": not found (" + status_text(r) + ")");
    if (r.status != 200) throw Error(EPROTO, cwhat + ": " + status_text(r));
    if (static_cast<int64_t>(r.body.size()) != c.size)
        throw Error(EINVAL, cwhat + ": size " + std::to_string(r.body.size()) + ", want " + std::to_string(c.size));
    image::check_digest(cwhat, "digest", sha256_digest(r.body), c.digest);

    json::Writer w(false);
    w.begin_object().key("digest").string(digest).key("scheme").string(reg.scheme());
    w.key("authorization").string(reg.authorization());
    w.key("manifestSize").uinteger(body.size()).key("configSize").uinteger(r.body.size()).end_object();
    std::string out = w.result() + "\n" + body + r.body;
    write_all(1, out, "write the answer");
    return 0;
}

// Streams the blob to stdout: exactly its size, nothing past it.  A
// connection dropped midway is resumed where it broke (Range), at most
// kMaxResumes times; a registry that ignores the range (200) has the bytes
// already sent skipped.  The digest, checked by crun-lite, covers the seams.
int op_blob(const Request& req, const HttpOptions& options) {
    Registry reg(req, options);
    reg.connect();
    std::string what = reg.where() + ": blob " + req.digest;
    auto size = static_cast<uint64_t>(req.size);
    uint64_t sent = 0;
    for (int attempt = 0;; ++attempt) {
        uint64_t from = sent, skip = 0;
        bool started = false;
        auto sink = [&](const char* data, size_t len, long status) {
            if (!started) {
                started = true;
                if (from > 0 && status != 206) skip = from;  // the whole blob again
            }
            size_t drop = static_cast<size_t>(std::min<uint64_t>(skip, len));
            skip -= drop;
            data += drop;
            len -= drop;
            if (sent + len > size)
                throw Error(EFBIG, what + ": the registry sent more than the blob's " + std::to_string(size) + " bytes");
            write_all(1, std::string_view(data, len), "write the blob");
            sent += len;
        };
        std::vector<std::string> headers;
        if (from > 0) headers.push_back("Range: bytes=" + std::to_string(from) + "-");
        Response r;
        try {
            // The blob's size caps the response (a 200 to a Range request is the whole blob
            // again); a Content-Length above it fails at once.
            r = reg.get("blobs/" + req.digest, headers, static_cast<size_t>(size), what, sink);
        } catch (const Error& e) {
            if (e.code() == ECONNRESET && sent > 0 && sent < size && attempt < kMaxResumes) continue;
            throw;
        }
        if (r.status == 404) throw Error(ENOENT, what + ": not found (" + status_text(r) + ")");
        if (r.status == 403) throw Error(EACCES, what + ": access denied (" + status_text(r) + ")");
        if (r.status != 200 && !(r.status == 206 && from > 0)) throw Error(EPROTO, what + ": " + status_text(r));
        if (sent != size)
            throw Error(EIO, what + ": the registry sent " + std::to_string(sent) + " of the blob's " + std::to_string(size) +
                                 " bytes");
        if (auto h = r.headers.find("docker-content-digest"); h != r.headers.end() && h->second.rfind("sha256:", 0) == 0 &&
                                                              h->second != req.digest)
            throw Error(EINVAL, what + ": the registry's Docker-Content-Digest is " + h->second);
        return 0;
    }
}

}  // namespace
}  // namespace crunlite::pull

int main() {
    using namespace crunlite;
    // Dies with the crun-lite that asked (kill -9 mid-pull leaves no helper behind).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) return 1;
    ::signal(SIGPIPE, SIG_IGN);
    try {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) throw Error(EIO, "curl_global_init failed");
        pull::Request req = pull::read_request();
        pull::HttpOptions options = pull::http_options(req);
        pull::drop_privileges();
        if (req.op == "manifest") return pull::op_manifest(req, options);
        if (req.op == "blob") return pull::op_blob(req, options);
        if (req.op == "login") {
            pull::Registry reg(req, options);
            reg.connect();  // a token is asked for with the credentials; basic auth is checked next
            reg.check();
            return 0;
        }
        throw Error(EINVAL, "unknown request " + quote(req.op));
    } catch (const Error& e) {
        std::string msg = std::to_string(e.code() ? e.code() : EIO) + " " + e.message();
        if (msg.size() > 4000) msg = msg.substr(0, 4000);
        std::fprintf(stderr, "%s\n", msg.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%d %s\n", EIO, e.what());
    }
    return 1;
}
