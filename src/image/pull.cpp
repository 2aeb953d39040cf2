#include "crunlite/image/pull.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite/base/helpers.hpp"
#include "crunlite_build_config.h"

extern char** environ;

namespace crunlite::image {
namespace {

constexpr size_t kMaxHelperError = 8192;  // what we read of the helper's stderr
constexpr size_t kMaxRequest = 60 * 1024;  // fits a pipe's buffer: written before the spawn
constexpr size_t kPullJobs = 3;            // blobs downloaded at once (containerd's default)

// One run of crun-lite-pull: its request already in its stdin, its stdout and
// stderr ours to read.  Killed (our own child, by pid) and reaped unless finished.
class Helper {
public:
    Helper(const std::string& path, const std::string& request) {
        if (request.size() > kMaxRequest) throw Error(E2BIG, "pull request larger than 60 KiB (--creds?)");
        int in[2], out[2], err[2];
        check(::pipe2(in, O_CLOEXEC), "pipe");
        sys::UniqueFd in_r(in[0]), in_w(in[1]);
        check(::pipe2(out, O_CLOEXEC), "pipe");
        out_.reset(out[0]);
        sys::UniqueFd out_w(out[1]);
        check(::pipe2(err, O_CLOEXEC), "pipe");
        err_.reset(err[0]);
        sys::UniqueFd err_w(err[1]);
        // The whole request goes in before the helper starts: it fits the pipe,
        // and a helper that dies early cannot make this write raise SIGPIPE.
        if (::write(in_w.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size()))
            throw_errno("write the pull request");
        in_w.reset();
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
        posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
        posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
        char* argv[] = {const_cast<char*>("crun-lite-pull"), nullptr};
        int rc = ::posix_spawn(&pid_, path.c_str(), &fa, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw sys_error(rc, "run the pull helper " + quote(path));
        // SIGINT or SIGTERM sent to us alone (not our process group, as Ctrl-C
        // is) ends it too: a stalled transfer would hold the import until its
        // --stall-timeout.
        forward_ = std::make_unique<sys::ForwardInterrupts>(pid_);
        if (int sig = sys::interrupted_by()) ::kill(pid_, sig);  // it came before the helper was listed
    }
    ~Helper() {
        out_.reset();
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            reap();
        }
    }
    Helper(const Helper&) = delete;
    Helper& operator=(const Helper&) = delete;

    sys::UniqueFd take_stdout() { return std::move(out_); }
    // Kills the helper (reaped by finish, failure or the destructor).
    void stop() {
        if (pid_ > 0) ::kill(pid_, SIGKILL);
    }

    // Everything on stdout, at most `max` bytes.
    std::string read_stdout(size_t max) {
        std::string data;
        char buf[65536];
        for (;;) {
            ssize_t n = ::read(out_.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_errno("read from the pull helper");
            if (n == 0) break;
            data.append(buf, static_cast<size_t>(n));
            if (data.size() > max) throw Error(EFBIG, "the pull helper's answer is larger than expected");
        }
        return data;
    }

    // Waits for the helper to end and throws its error if it failed.
    void finish() {
        if (auto e = failure(-1)) throw *e;
    }

    // The helper's own error, if it failed: waits up to `timeout_ms` (-1: for
    // ever) for it to end, then kills it.  A helper that only saw its pipe
    // closed (EPIPE: our side gave up first) has no error of its own.
    std::optional<Error> failure(int timeout_ms) {
        out_.reset();
        std::string message;
        char buf[1024];
        for (;;) {
            pollfd p{err_.get(), POLLIN, 0};
            int r = ::poll(&p, 1, timeout_ms);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;  // timed out: it is still busy
            ssize_t n = ::read(err_.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            if (message.size() < kMaxHelperError) message.append(buf, static_cast<size_t>(n));
        }
        ::kill(pid_, SIGKILL);  // a no-op unless it outlived the timeout
        int status = reap();
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::nullopt;
        if (WIFSIGNALED(status)) sys::throw_if_interrupted();  // the signal it was sent, named
        message = trim(message);
        size_t sp = message.find(' ');
        auto code = parse_int(message.substr(0, sp));
        if (code && *code > 0 && *code < 4096 && sp != std::string::npos) {
            if (*code == EPIPE) return std::nullopt;
            return Error(static_cast<int>(*code), message.substr(sp + 1));
        }
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && timeout_ms >= 0) return std::nullopt;
        return Error(EIO, "the pull helper failed (" +
                              (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                                   : "status " + std::to_string(WEXITSTATUS(status))) +
                              ")" + (message.empty() ? "" : ": " + message));
    }

private:
    int reap() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
        pid_ = -1;
        return status;
    }

    pid_t pid_ = -1;
    sys::UniqueFd out_, err_;
    std::unique_ptr<sys::ForwardInterrupts> forward_;
};

// The fields every request has: where, who, how.
void common_request(json::Writer& w, const Reference& ref, const PullOptions& o, const std::optional<Credentials>& creds,
                    const std::string& cert_dir) {
    w.key("registry").string(ref.registry);
    w.key("host").string(ref.api_host());
    w.key("repository").string(ref.repository);
    if (creds) w.key("username").string(creds->username).key("password").string(creds->password);
    w.key("certDir").string(cert_dir);
    w.key("tlsVerify").boolean(o.tls_verify);
    w.key("stallTimeout").integer(o.stall_timeout);
    w.key("maxRedirects").integer(o.max_redirects);
}

std::string helper_path(const PullOptions& o) { return o.helper.empty() ? find_pull_helper() : o.helper; }

// containers-certs.d: the first of the user's (rootless), /etc/containers' and
// /etc/docker's directories for HOST[:PORT] that exists; "" when none does.
std::string default_cert_dir(const std::string& registry) {
    std::vector<std::string> dirs;
    if (::geteuid() != 0) {
        const char* config = std::getenv("XDG_CONFIG_HOME");
        const char* home = std::getenv("HOME");
        if (config && *config) dirs.push_back(std::string(config) + "/containers/certs.d/" + registry);
        else if (home && *home) dirs.push_back(std::string(home) + "/.config/containers/certs.d/" + registry);
    }
    dirs.push_back("/etc/containers/certs.d/" + registry);
    dirs.push_back("/etc/docker/certs.d/" + registry);
    for (const auto& d : dirs)
        if (::access(d.c_str(), F_OK) == 0) return d;
    return "";
}

// A login key as podman takes it: "https://HOST/" is HOST.
std::string login_key(std::string key) {
    for (const char* scheme : {"https://", "http://"})
        if (key.rfind(scheme, 0) == 0) key.erase(0, std::strlen(scheme));
    while (!key.empty() && key.back() == '/') key.pop_back();
    return key;
}

// The registry of a login key, checked as a reference would be.
Reference login_target(const std::string& key) {
    if (key.empty() || key.find("://") != std::string::npos)
        throw Error(EINVAL, "login: want HOST[:PORT][/NAMESPACE], got " + quote(key));
    std::string probe = key.find('/') == std::string::npos ? key + "/x" : key;
    Reference r = with_context("login", [&] { return parse_reference(std::string(kRegistryTransport) + probe); });
    if (!is_qualified_name(probe)) throw Error(EINVAL, "login: " + quote(key) + " does not start with a registry host");
    r.repository.clear();
    return r;
}

void save_auth_file(const std::string& file, const std::string& key, const std::optional<Credentials>& creds,
                    bool* removed) {
    std::string text;
    if (::access(file.c_str(), F_OK) == 0) text = read_file(file);
    std::string out = auth_json_with(text, file, key, creds, removed);
    std::string dir = file.substr(0, file.rfind('/'));
    if (!dir.empty() && ::access(dir.c_str(), F_OK) != 0 && ::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
        throw_errno("create " + quote(dir));
    write_file_atomic(file, out, 0600);
}

}  // namespace

void login(const std::string& given, const Credentials& creds, const PullOptions& o, const std::string& authfile) {
    std::string key = login_key(given);
    Reference r = login_target(key);
    json::Writer w(false);
    w.begin_object().key("op").string("login");
    common_request(w, r, o, creds, o.cert_dir.empty() ? default_cert_dir(r.registry) : o.cert_dir);
    w.end_object();
    Helper helper(helper_path(o), w.result());
    helper.read_stdout(65536);
    helper.finish();
    save_auth_file(authfile.empty() ? default_login_file() : authfile, key, creds, nullptr);
}

bool logout(const std::string& given, const std::string& authfile) {
    std::string key = login_key(given);
    login_target(key);
    std::string file = authfile.empty() ? default_login_file() : authfile;
    if (::access(file.c_str(), F_OK) != 0) return false;
    bool removed = false;
    save_auth_file(file, key, std::nullopt, &removed);
    return removed;
}

std::string find_pull_helper() { return find_helper("crun-lite-pull", "CRUNLITE_PULL", CRUNLITE_BUILD_PULL); }

Reference parse_pull_reference(std::string_view text) {
    if (is_registry_ref(text)) return parse_reference(text);
    if (is_qualified_name(text)) return parse_reference(std::string(kRegistryTransport) + std::string(text));
    return resolve_short_name(text, load_registries_conf());
}

namespace {

// One endpoint: the manifest and config through the helper, re-checked here.
Resolved resolve_at(const Reference& ref, const PullOptions& o) {
    Resolved r;
    r.ref = ref;
    r.name = ref.name();
    r.options = o;
    r.creds = o.creds ? o.creds : find_credentials(ref, o.authfile);
    r.cert_dir = o.cert_dir.empty() ? default_cert_dir(ref.registry) : o.cert_dir;
    Platform want = o.platform.value_or(host_platform());
    json::Writer w(false);
    w.begin_object().key("op").string("manifest");
    common_request(w, ref, o, r.creds, r.cert_dir);
    w.key("reference").string(ref.reference());
    w.key("platform").begin_object().key("os").string(want.os).key("architecture").string(want.architecture);
    w.key("variant").string(want.variant).end_object();
    w.end_object();
    Helper helper(helper_path(o), w.result());
    std::string out = helper.read_stdout(2 * (kMaxManifest + kMaxConfig) + 65536);
    helper.finish();

    // A JSON line, then the manifest's and the config's bytes.
    std::string where = "registry " + ref.registry + ": repository " + ref.repository;
    size_t nl = out.find('\n');
    if (nl == std::string::npos) throw Error(EPROTO, where + ": the pull helper gave no answer");
    json::Document doc = json::parse(std::string_view(out).substr(0, nl), "pull helper");
    json::Value head = doc.root();
    r.digest = head.get_string("digest");
    r.scheme = head.get_string("scheme");
    r.authorization = head.get_string_or("authorization", "");
    uint64_t msize = head.get_uint64("manifestSize"), csize = head.get_uint64("configSize");
    if (msize > kMaxManifest || csize > kMaxConfig || out.size() - nl - 1 != msize + csize)
        throw Error(EPROTO, where + ": the pull helper's answer does not add up");
    r.manifest_json = out.substr(nl + 1, msize);
    r.config_json = out.substr(nl + 1 + msize);
    // The helper checked all of this; a second look costs nothing.
    check_digest(where + ": manifest", "digest", sha256_digest(r.manifest_json), r.digest);
    r.manifest = parse_manifest(r.manifest_json, where + ": manifest " + r.digest);
    check_digest(where + ": config " + r.manifest.config.digest, "digest", sha256_digest(r.config_json),
                 r.manifest.config.digest);
    if (r.manifest.layers.size() > kMaxLayers)
        throw Error(EINVAL, where + ": manifest " + r.digest + " lists " + std::to_string(r.manifest.layers.size()) +
                                " layers, more than " + std::to_string(kMaxLayers));
    for (const auto& l : r.manifest.layers) check_layer_media_type(l, where + ": layer " + l.digest);
    return r;
}

}  // namespace

Resolved resolve(const Reference& ref, const PullOptions& o) {
    std::vector<std::string> mirrors_failed;
    for (const Endpoint& ep : endpoints(ref, load_registries_conf())) {
        PullOptions eo = o;
        if (ep.insecure && !o.tls_verify_set) eo.tls_verify = false;
        try {
            Resolved r = resolve_at(ep.ref, eo);
            r.name = ref.name();
            return r;
        } catch (const Error& e) {
            if (!ep.mirror) {
                if (mirrors_failed.empty()) throw;
                throw Error(e.code(), e.message() + " (after the mirrors failed: " + join(mirrors_failed, "; ") + ")");
            }
            log::debug("mirror " + ep.ref.registry + ": " + e.message());
            mirrors_failed.push_back(e.message());
        }
    }
    throw Error(ENOENT, "registry " + ref.registry + ": no endpoint");  // endpoints() always ends with the registry
}

StoredImage import(Store& store, const Resolved& r, const Store::Progress& progress) {
    const PullOptions& o = r.options;
    std::string where = "registry " + r.ref.registry + ": repository " + r.ref.repository;
    Store::Parts parts;
    parts.config_json = r.config_json;
    for (const auto& l : r.manifest.layers) parts.layers.emplace_back(l);
    parts.names = {r.name};
    parts.source = std::string(kRegistryTransport) + r.ref.registry + "/" + r.ref.repository + "@" + r.digest;
    parts.label = where + ": manifest " + r.digest;
    parts.jobs = kPullJobs;
    std::string path = helper_path(o);
    // One helper per blob being read; the store's workers call in from their threads.
    std::mutex mu;
    std::map<size_t, std::unique_ptr<Helper>> helpers;
    std::optional<Error> helper_error;  // the first helper that failed on its own
    parts.open_layer = [&](size_t i) {
        const Descriptor& d = r.manifest.layers[i];
        json::Writer w(false);
        w.begin_object().key("op").string("blob");
        common_request(w, r.ref, o, r.creds, r.cert_dir);
        w.key("scheme").string(r.scheme).key("authorization").string(r.authorization);
        w.key("digest").string(d.digest).key("size").integer(d.size);
        w.end_object();
        auto h = std::make_unique<Helper>(path, w.result());
        sys::UniqueFd out = h->take_stdout();
        std::lock_guard g(mu);
        helpers[i] = std::move(h);
        return BlobInput{std::move(out)};
    };
    // The transfer's verdict comes before the digests': "the registry sent more
    // than N bytes" says more than a digest mismatch.  A blob stream that ended
    // early fails in the decompressor or the tar reader; the helper knows why
    // (it names registry, repository and digest).
    parts.layer_end = [&](size_t i, bool failed) {
        std::unique_ptr<Helper> h;
        {
            std::lock_guard g(mu);
            h = std::move(helpers.at(i));
            helpers.erase(i);
        }
        if (!failed) return h->finish();
        if (auto e = h->failure(2000)) {
            std::lock_guard g(mu);
            if (!helper_error) helper_error = e;
        }
    };
    parts.cancel = [&] {  // a helper still in the map is not reaped yet: its pid is still our child's
        std::lock_guard g(mu);
        for (auto& [i, h] : helpers) h->stop();
    };
    try {
        return store.import(parts, progress);
    } catch (const Error& e) {
        std::lock_guard g(mu);
        if (helper_error) throw *helper_error;
        if (e.message().starts_with(where)) throw;  // the helper's own error names them already
        throw e.with_context(where);
    }
}

}  // namespace crunlite::image
