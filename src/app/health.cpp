#include "crunlite/app/health.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/state/events.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::app {
namespace {


std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// Why `text` is no port 1-65535, or nullopt.
std::optional<std::string> port_problem(std::string_view text) {
    auto v = parse_uint(text);
    if (!v || *v < 1 || *v > 65535) return "want a port number 1-65535, got " + quote(text);
    return std::nullopt;
}

// Why `url` is no URL check_probe_url accepts, or nullopt.
std::optional<std::string> url_problem(const std::string& url) {
    for (unsigned char c : url)
        if (c <= 0x20 || c >= 0x7f) return "spaces, control and non-ASCII characters must be percent-encoded";
    size_t sep = url.find("://");
    if (sep == std::string::npos) return "want http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH";
    std::string scheme = lower(url.substr(0, sep));
    if (scheme != "http" && scheme != "https") return "the scheme must be http or https, not " + quote(url.substr(0, sep));
    size_t from = sep + 3, to = url.find_first_of("/?#", from);
    std::string authority = url.substr(from, to == std::string::npos ? std::string::npos : to - from);
    if (authority.find('@') != std::string::npos) return "a user name or password in the URL is not supported";
    size_t host_end = authority[0] == '[' ? authority.find(']') : authority.find(':');
    if (authority[0] == '[' && host_end++ == std::string::npos) return "unterminated [IPv6 address]";
    std::string host = lower(authority.substr(0, host_end));
    if (host_end < authority.size()) {
        if (authority[host_end] != ':') return "unexpected " + quote(authority.substr(host_end)) + " after the host";
        if (auto why = port_problem(authority.substr(host_end + 1))) return "port: " + *why;
    }
    if (host != "localhost" && host != "127.0.0.1" && host != "[::1]")
        return "the host must be the container itself: localhost, 127.0.0.1 or [::1] (the probe runs in its "
               "network namespace), not " + quote(host);
    return std::nullopt;
}

// The probe kind the flags give, or nullopt; throws when they give several.
std::optional<ProbeKind> flag_kind(const HealthOverrides& o) {
    int given = (o.cmd ? 1 : 0) + (o.http ? 1 : 0) + (o.tcp ? 1 : 0);
    if (given > 1)
        throw Error(EINVAL, std::string(o.cmd ? "--health-cmd and " : "") + (o.http ? "--health-http" : "") +
                                (o.http && o.tcp ? " and " : "") + (o.tcp ? "--health-tcp" : "") +
                                " conflict: one probe kind at a time");
    if (o.cmd) return ProbeKind::Exec;
    if (o.http) return ProbeKind::Http;
    if (o.tcp) return ProbeKind::Tcp;
    return std::nullopt;
}

// A test in Docker's form (["CMD", argv...], ["CMD-SHELL", command], ["NONE"])
// as the argv a probe runs; empty for none (or NONE).  Errors say "`what`: ...".
// A CMD-SHELL command in several strings (buildah's `config --healthcheck
// 'CMD-SHELL test -f /tmp/ready'` stores it split) is joined with spaces, as podman does.
std::vector<std::string> test_argv(const std::vector<std::string>& test, const std::string& what) {
    if (test.empty() || test[0] == "NONE") return {};
    if (test[0] == "CMD-SHELL") {
        if (test.size() < 2) throw Error(EINVAL, what + ": CMD-SHELL needs a command");
        std::string command = test[1];
        for (size_t i = 2; i < test.size(); ++i) command += " " + test[i];
        return {"/bin/sh", "-c", command};
    }
    if (test[0] == "CMD") {
        if (test.size() < 2) throw Error(EINVAL, what + ": CMD needs a command");
        return {test.begin() + 1, test.end()};
    }
    throw Error(EINVAL, what + ": unknown form " + quote(test[0]) + " (want CMD, CMD-SHELL or NONE)");
}

// What ends an error about the image's Healthcheck: how to run the image anyway.
constexpr const char* kImageHealthHint = " (--no-healthcheck runs the image without it, --health-cmd replaces it)";

// The image's Healthcheck test, in argv form; false for none (or NONE).
bool image_test(const std::vector<std::string>& test, HealthConfig& c) {
    try {
        c.test = test_argv(test, "the image config's config.Healthcheck.Test");
    } catch (const Error& e) {
        throw Error(e.code(), e.message() + kImageHealthHint);
    }
    return !c.test.empty();
}

// The probe: the flags', else the labels' (crun-lite's own, over the image's
// generic Healthcheck), else the image's test.  False for none.
bool choose_probe(const std::optional<image::Healthcheck>& image, const HealthOverrides& o,
                  const std::map<std::string, std::string>& labels, HealthConfig& c) {
    auto http = labels.find(kHealthHttpLabel), tcp = labels.find(kHealthTcpLabel);
    if (http != labels.end() && tcp != labels.end())
        throw Error(EINVAL, std::string("image labels ") + kHealthHttpLabel + " and " + kHealthTcpLabel +
                                " conflict: one probe kind at a time (give --health-http or --health-tcp)");
    std::optional<ProbeKind> kind = flag_kind(o);
    if (kind == ProbeKind::Exec) {
        c.test = health_cmd_argv(*o.cmd, "--health-cmd");
        if (c.test.empty()) return false;
    } else if (kind == ProbeKind::Http || (!kind && http != labels.end())) {
        c.kind = ProbeKind::Http;
        c.url = kind ? *o.http : http->second;
        check_probe_url(c.url, kind ? std::string("--health-http") : std::string("image label ") + kHealthHttpLabel);
    } else if (kind == ProbeKind::Tcp || (!kind && tcp != labels.end())) {
        c.kind = ProbeKind::Tcp;
        c.port = parse_probe_port(kind ? *o.tcp : tcp->second,
                                  kind ? std::string("--health-tcp") : std::string("image label ") + kHealthTcpLabel);
    } else {
        return image && image_test(image->test, c);
    }
    return true;
}

// Appends a probe's result to the log, cut to the configured limits.
void append_result(HealthState& state, const HealthConfig& config, const ProbeResult& result) {
    state.log.push_back(result);
    if (config.max_log_size > 0 && state.log.back().output.size() > static_cast<size_t>(config.max_log_size))
        state.log.back().output.resize(static_cast<size_t>(config.max_log_size));
    while (config.max_log_count > 0 && state.log.size() > static_cast<size_t>(config.max_log_count))
        state.log.pop_front();
}

const char* kind_name(ProbeKind k) {
    switch (k) {
        case ProbeKind::Http: return "http";
        case ProbeKind::Tcp: return "tcp";
        case ProbeKind::Exec: break;
    }
    return "exec";
}

}  // namespace

std::vector<std::string> health_cmd_argv(const std::string& text, const std::string& what) {
    std::vector<std::string> test;
    if (auto array = json::string_array_of(text)) {
        test = std::move(*array);
    } else {
        constexpr const char* kBlanks = " \t\n";
        size_t blank = text.find_first_of(kBlanks);
        std::string first = ascii_upper(text.substr(0, blank));
        if (first == "CMD") {
            for (size_t i = 0; (i = text.find_first_not_of(kBlanks, i)) != std::string::npos;) {
                size_t end = std::min(text.find_first_of(kBlanks, i), text.size());
                test.push_back(text.substr(i, end - i));
                i = end;
            }
        } else if (first == "CMD-SHELL" || first == "NONE") {  // (NONE with more is refused below)
            test = {first};
            if (blank != std::string::npos) test.push_back(text.substr(blank + 1));
        } else {
            test = {"CMD-SHELL", text};
        }
    }
    std::string head = test.empty() ? "" : ascii_upper(test[0]);
    std::string where = what + " " + quote(text);
    if (test.empty()) throw Error(EINVAL, where + ": an empty command");
    if (head == "NONE" && test.size() > 1) throw Error(EINVAL, where + ": NONE takes nothing after it");
    if (head == "CMD" || head == "CMD-SHELL" || head == "NONE") test[0] = head;
    else if (test.size() == 1) test.insert(test.begin(), "CMD-SHELL");  // one string: a shell command
    else test.insert(test.begin(), "CMD");                              // an argv
    if (test[0] != "NONE" && test.size() >= 2 && trim(test[1]).empty()) throw Error(EINVAL, where + ": an empty command");
    return test_argv(test, where);
}

void check_probe_url(const std::string& url, const std::string& what) {
    if (url.empty()) throw Error(EINVAL, what + ": a URL is required (http://localhost:PORT/PATH)");
    if (auto why = url_problem(url)) throw Error(EINVAL, what + ": " + quote(url) + ": " + *why);
}

int parse_probe_port(const std::string& text, const std::string& what) {
    if (auto why = port_problem(text)) throw Error(EINVAL, what + ": " + *why);
    return static_cast<int>(*parse_uint(text));
}

void check_health_overrides(const HealthOverrides& o, const std::string& verb) {
    with_context(verb, [&] {
        flag_kind(o);
        if (o.cmd) health_cmd_argv(*o.cmd, "--health-cmd");
        if (o.startup_cmd && !o.startup_cmd->empty() && health_cmd_argv(*o.startup_cmd, "--health-startup-cmd").empty())
            throw Error(EINVAL, "--health-startup-cmd: a command is required (not none)");
        if (o.http) check_probe_url(*o.http, "--health-http");
        if (o.tcp) parse_probe_port(*o.tcp, "--health-tcp");
    });
    if (o.disable && (o.cmd || o.http || o.tcp || o.interval_ns || o.timeout_ns || o.start_period_ns ||
                      o.start_interval_ns || o.retries || o.max_log_count || o.max_log_size || o.log_destination ||
                      o.startup_cmd))
        throw Error(EINVAL, verb + ": --no-healthcheck (or --health-cmd none) conflicts with the --health-* options");
    if (!o.startup_cmd && (o.startup_interval_ns || o.startup_timeout_ns || o.startup_retries || o.startup_success))
        throw Error(EINVAL, verb + ": --health-startup-interval, -timeout, -retries and -success need --health-startup-cmd");
    if (o.startup_cmd && o.startup_cmd->empty()) throw Error(EINVAL, verb + ": --health-startup-cmd: a command is required");
    if (o.startup_retries && *o.startup_retries < 0)
        throw Error(EINVAL, verb + ": --health-startup-retries must not be negative (0: never restart)");
    if (o.startup_success && *o.startup_success < 0)
        throw Error(EINVAL, verb + ": --health-startup-success must not be negative (0: one pass)");
    for (auto [flag, v] : {std::pair{"--health-startup-interval", o.startup_interval_ns},
                           std::pair{"--health-startup-timeout", o.startup_timeout_ns}})
        if (v && *v < 1'000'000) throw Error(EINVAL, verb + ": " + flag + " must be at least 1ms");
    if (o.max_log_count && *o.max_log_count < 0)
        throw Error(EINVAL, verb + ": --health-max-log-count must not be negative (0: keep every entry)");
    if (o.max_log_size && *o.max_log_size < 0)
        throw Error(EINVAL, verb + ": --health-max-log-size must not be negative (0: no limit but the capture's)");
    if (const auto& d = o.log_destination; d && *d != "local") {
        struct stat st;
        if (d->empty() || (*d)[0] != '/')
            throw Error(EINVAL, verb + ": --health-log-destination " + quote(*d) + ": want local or an absolute directory");
        if (::stat(d->c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
            throw Error(ENOTDIR, verb + ": --health-log-destination " + quote(*d) + ": not a directory");
    }
}

std::optional<HealthConfig> health_config(const std::optional<image::Healthcheck>& image, const HealthOverrides& o,
                                          const std::map<std::string, std::string>& labels) {
    if (o.disable) return std::nullopt;
    HealthConfig c;
    if (image) {
        if (image->interval_ns > 0) c.interval_ns = image->interval_ns;
        if (image->timeout_ns > 0) c.timeout_ns = image->timeout_ns;
        if (image->start_period_ns > 0) c.start_period_ns = image->start_period_ns;
        if (image->start_interval_ns > 0) c.start_interval_ns = image->start_interval_ns;
        if (image->retries > 0) c.retries = image->retries;
    }
    if (o.interval_ns) c.interval_ns = *o.interval_ns;
    if (o.timeout_ns) c.timeout_ns = *o.timeout_ns;
    if (o.start_period_ns) c.start_period_ns = *o.start_period_ns;
    if (o.start_interval_ns) c.start_interval_ns = *o.start_interval_ns;
    if (o.retries) c.retries = *o.retries;
    if (o.max_log_count) c.max_log_count = *o.max_log_count;
    if (o.max_log_size) c.max_log_size = *o.max_log_size;
    if (o.log_destination) c.log_destination = *o.log_destination;
    bool have = choose_probe(image, o, labels, c);
    if (o.startup_cmd && !have)
        throw Error(EINVAL, "--health-startup-cmd needs a regular healthcheck (the image's, or --health-cmd, "
                            "--health-http or --health-tcp): the startup probe hands over to it");
    if (!have) return std::nullopt;
    if (o.startup_cmd) {
        StartupProbe sp;
        sp.test = health_cmd_argv(*o.startup_cmd, "--health-startup-cmd");
        if (sp.test.empty()) throw Error(EINVAL, "--health-startup-cmd: a command is required (not none)");
        if (o.startup_interval_ns) sp.interval_ns = *o.startup_interval_ns;
        if (o.startup_timeout_ns) sp.timeout_ns = *o.startup_timeout_ns;
        if (o.startup_retries) sp.retries = *o.startup_retries;
        if (o.startup_success) sp.success = *o.startup_success;
        c.startup = sp;
    }
    // An interval of 0 (--health-interval disable) is podman's: no timer.
    const struct {
        int64_t ns;
        bool flag, zero_ok;
        const char *name, *key;
    } durations[] = {
        {c.interval_ns, o.interval_ns.has_value(), true, "--health-interval", "Interval"},
        {c.timeout_ns, o.timeout_ns.has_value(), false, "--health-timeout", "Timeout"},
        {c.start_interval_ns, o.start_interval_ns.has_value(), false, "--health-start-interval", "StartInterval"}};
    for (const auto& d : durations) {
        if (d.ns >= 1'000'000 || (d.ns == 0 && d.zero_ok)) continue;
        std::string what = d.flag ? d.name : "the image's config.Healthcheck." + std::string(d.key);
        throw Error(EINVAL, what + ": must be at least 1ms" + (d.zero_ok ? " (or 0: disabled)" : "") +
                                (d.flag ? "" : kImageHealthHint));
    }
    if (c.retries < 1) throw Error(EINVAL, "healthcheck: retries must be at least 1");
    return c;
}

void record_probe(HealthState& state, const HealthConfig& config, const ProbeResult& result, bool in_start_period) {
    append_result(state, config, result);
    if (result.exit_code == 0) {
        state.status = "healthy";
        state.failing_streak = 0;
        return;
    }
    // Docker: failures in the start period do not count until the first success.
    if (in_start_period && state.status == "starting") return;
    if (++state.failing_streak >= config.retries) state.status = "unhealthy";
}

bool in_startup(const HealthState& state, const HealthConfig& config) {
    return config.startup && !state.startup_done;
}

bool health_stale(const HealthState& state, const HealthConfig& config, int64_t started_ns, int64_t now_ns) {
    if (state.log.empty()) return false;  // (a created container's start may come long after)
    if (config.interval_ns == 0) return false;  // no timer: probed by `healthcheck run` alone
    std::optional<int64_t> end = state::parse_event_time(state.log.back().end);
    if (!end) return false;
    int64_t last = std::max(started_ns, *end);
    int64_t gap = config.interval_ns + config.timeout_ns;
    if (last < started_ns + config.start_period_ns)  // probes at the start interval then
        gap = std::max(gap, config.start_interval_ns + config.timeout_ns);
    if (in_startup(state, config)) gap = std::max(gap, config.startup->interval_ns + config.startup->timeout_ns);
    return now_ns - last > 2 * gap + 2'000'000'000;
}

StartupOutcome record_startup_probe(HealthState& state, const HealthConfig& config, const ProbeResult& result) {
    append_result(state, config, result);
    const StartupProbe& sp = *config.startup;
    if (result.exit_code == 0) {
        state.startup_failures = 0;
        if (++state.startup_passes < std::max(sp.success, 1)) return StartupOutcome::Continue;
        state.startup_done = true;
        return StartupOutcome::Passed;
    }
    state.startup_passes = 0;
    if (sp.retries == 0 || ++state.startup_failures < sp.retries) return StartupOutcome::Continue;
    state.startup_failures = 0;
    return StartupOutcome::Failed;
}

bool in_start_period(const HealthConfig& config, int64_t started_ns) {
    return realtime_ns() - started_ns < config.start_period_ns;
}

int64_t next_probe_delay(const HealthState& state, const HealthConfig& config, bool in_start_period) {
    if (in_startup(state, config)) return config.startup->interval_ns;
    return in_start_period && state.status == "starting" ? config.start_interval_ns : config.interval_ns;
}

std::string health_json(const HealthState& s) {
    json::Writer w(false);
    w.begin_object();
    w.key("Status").string(s.status);
    w.key("FailingStreak").integer(s.failing_streak);
    if (s.startup_done || s.startup_passes || s.startup_failures) {
        w.key("StartupDone").boolean(s.startup_done);
        w.key("StartupPasses").integer(s.startup_passes).key("StartupFailures").integer(s.startup_failures);
    }
    w.key("Log").begin_array();
    for (const auto& r : s.log) {
        w.begin_object();
        w.key("Start").string(r.start).key("End").string(r.end);
        w.key("ExitCode").integer(r.exit_code).key("Output").string(r.output);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    return w.result();
}

HealthState parse_health_json(const std::string& text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    json::Value root = doc.root();
    HealthState s;
    s.status = root.get_string("Status");
    s.failing_streak = root.get_int32("FailingStreak");
    s.startup_done = root.get_bool_or("StartupDone", false);
    s.startup_passes = static_cast<int>(root.get_int64_or("StartupPasses", 0));
    s.startup_failures = static_cast<int>(root.get_int64_or("StartupFailures", 0));
    for (const auto& e : root.at("Log").elements())
        s.log.push_back({e.get_string("Start"), e.get_string("End"), e.get_int32("ExitCode"), e.get_string("Output")});
    return s;
}

std::string health_config_json(const HealthConfig& c) {
    json::Writer w(false);
    w.begin_object();
    w.key("Kind").string(kind_name(c.kind));
    switch (c.kind) {
        case ProbeKind::Exec: w.key("Test").string_array(c.test); break;
        case ProbeKind::Http: w.key("URL").string(c.url); break;
        case ProbeKind::Tcp: w.key("Port").integer(c.port); break;
    }
    w.key("Interval").integer(c.interval_ns).key("Timeout").integer(c.timeout_ns);
    w.key("StartPeriod").integer(c.start_period_ns).key("StartInterval").integer(c.start_interval_ns);
    w.key("Retries").integer(c.retries);
    w.key("MaxLogCount").integer(c.max_log_count).key("MaxLogSize").integer(c.max_log_size);
    w.key("LogDestination").string(c.log_destination);
    if (const auto& sp = c.startup) {
        w.key("Startup").begin_object();
        w.key("Test").string_array(sp->test).key("Interval").integer(sp->interval_ns);
        w.key("Timeout").integer(sp->timeout_ns).key("Retries").integer(sp->retries);
        w.key("Success").integer(sp->success);
        w.end_object();
    }
    w.end_object();
    return w.result();
}

HealthConfig parse_health_config(const json::Value& root) {
    HealthConfig c;
    std::string kind = root.get_string_or("Kind", "exec");
    // Only the field of its kind: a stored config is never half of two.
    auto only = [&](const char* key) {
        for (const char* other : {"Test", "URL", "Port"})
            if (std::string_view(other) != key && root.has(other))
                root.at(other).fail("not a field of Kind " + quote(kind));
    };
    if (kind == "exec") {
        only("Test");
        c.test = root.at("Test").as_string_array();
        if (c.test.empty()) root.at("Test").fail("must not be empty");
    } else if (kind == "http") {
        only("URL");
        c.kind = ProbeKind::Http;
        c.url = root.get_string("URL");
        if (auto why = url_problem(c.url)) root.at("URL").fail(*why);
    } else if (kind == "tcp") {
        only("Port");
        c.kind = ProbeKind::Tcp;
        c.port = root.get_int32("Port");
        if (c.port < 1 || c.port > 65535) root.at("Port").fail("must be 1-65535");
    } else {
        root.at("Kind").fail("unknown probe kind " + quote(kind) + " (want exec, http or tcp)");
    }
    c.interval_ns = root.get_int64("Interval");
    c.timeout_ns = root.get_int64("Timeout");
    c.start_period_ns = root.get_int64("StartPeriod");
    c.start_interval_ns = root.get_int64("StartInterval");
    c.retries = root.get_int32("Retries");
    // Absent in app.json from before log limits: the defaults.
    c.max_log_count = static_cast<int>(root.get_int64_or("MaxLogCount", c.max_log_count));
    c.max_log_size = static_cast<int>(root.get_int64_or("MaxLogSize", c.max_log_size));
    c.log_destination = root.get_string_or("LogDestination", c.log_destination);
    if (c.max_log_count < 0) root.at("MaxLogCount").fail("must not be negative");
    if (c.max_log_size < 0) root.at("MaxLogSize").fail("must not be negative");
    if (c.log_destination != "local" && c.log_destination.rfind('/', 0) != 0)
        root.at("LogDestination").fail("want local or an absolute directory");
    if (auto st = root.find("Startup")) {
        StartupProbe sp;
        sp.test = st->at("Test").as_string_array();
        sp.interval_ns = st->get_int64("Interval");
        sp.timeout_ns = st->get_int64("Timeout");
        sp.retries = st->get_int32("Retries");
        sp.success = st->get_int32("Success");
        if (sp.test.empty()) st->at("Test").fail("must not be empty");
        if (sp.interval_ns < 1'000'000 || sp.timeout_ns < 1'000'000) st->fail("Interval and Timeout must be at least 1ms");
        if (sp.retries < 0 || sp.success < 0) st->fail("Retries and Success must not be negative");
        c.startup = sp;
    }
    return c;
}

namespace {

// One line per probe in DIR/<id>-healthcheck.log: the entry as health.json
// has it (its output cut as there) and the status it left.  A destination that
// cannot be written is a warning: the probe is recorded in health.json all the same.
void append_to_log_destination(const std::string& dir, const std::string& id, const HealthState& state) {
    const ProbeResult& r = state.log.back();
    json::Writer w(false);
    w.begin_object();
    w.key("Start").string(r.start).key("End").string(r.end).key("ExitCode").integer(r.exit_code);
    w.key("Output").string(r.output).key("Status").string(state.status);
    w.end_object();
    std::string line = w.result() + "\n";
    std::string path = dir + "/" + id + "-healthcheck.log";
    sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        log::warn("healthcheck of " + id + ": cannot append to " + quote(path) + ": " + std::strerror(errno));
}

// Container `id`'s status after a failed probe (stopped when it is gone).  A
// probe that could not run (125), or was killed (137: its pid namespace torn
// down), may have met an init that is exiting: its namespaces are gone before
// it is a zombie.  Such an init gets 250 ms to end.
state::Status status_after_failure(const runtime::Context& ctx, const std::string& id, int exit_code) {
    try {
        state::Store store(ctx.root);
        state::State st = store.load(id);
        state::Status s = runtime::live_status(store, st);
        if (s != state::Status::Running || (exit_code != 125 && exit_code != 137)) return s;
        sys::UniqueFd pidfd = runtime::open_init_pidfd(st);
        pollfd exited = {pidfd.get(), POLLIN, 0};
        if (pidfd && ::poll(&exited, 1, 250) == 0) return s;  // still running
        return runtime::live_status(store, st);
    } catch (const Error&) {
        return state::Status::Stopped;  // deleted meanwhile
    }
}

}  // namespace

std::optional<HealthState> probe_and_record(const runtime::Context& ctx, const std::string& id,
                                            const std::string& bundle, const HealthConfig& config, int64_t started_ns,
                                            StartupOutcome* startup) {
    std::string path = bundle + "/health.json";
    HealthState seen;
    if (::access(path.c_str(), F_OK) == 0) seen = parse_health_json(read_file(path), path);
    bool startup_probe = in_startup(seen, config);
    HealthConfig probed = config;
    if (startup_probe) {  // the startup probe: an exec probe with its own timeout
        probed.kind = ProbeKind::Exec;
        probed.test = config.startup->test;
        probed.timeout_ns = config.startup->timeout_ns;
    }
    ProbeResult result = run_probe(ctx, id, probed);
    // A probe that failed on a paused container (exec refuses one) is logged but
    // says nothing of its health: unhealthy would set off --health-on-failure and
    // undo the pause (podman's status stays too).  One that failed as the
    // container stopped says nothing either: it would count an exit as a failure.
    state::Status now =
        result.exit_code != 0 ? status_after_failure(ctx, id, result.exit_code) : state::Status::Running;
    if (now != state::Status::Running && now != state::Status::Paused) return std::nullopt;
    bool paused = now == state::Status::Paused;
    bool in_start = in_start_period(config, started_ns);
    sys::UniqueFd lock(::open((bundle + "/health.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock) throw_errno("open " + quote(bundle + "/health.lock"));
    while (::flock(lock.get(), LOCK_EX) < 0 && errno == EINTR) {}
    HealthState state;
    if (::access(path.c_str(), F_OK) == 0) state = parse_health_json(read_file(path), path);
    if (paused) {
        append_result(state, config, result);
    } else if (startup_probe && in_startup(state, config)) {
        StartupOutcome out = record_startup_probe(state, config, result);
        if (startup) *startup = out;
    } else {
        record_probe(state, config, result, in_start);
    }
    write_file_atomic(path, health_json(state), 0644);
    if (config.log_destination != "local") append_to_log_destination(config.log_destination, id, state);
    return state;
}

}  // namespace crunlite::app
