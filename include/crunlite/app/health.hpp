// Healthchecks with Docker's semantics, run by `crun-lite monitor tick` (the
// monitor of a detached image container, or the watcher of a foreground run or
// a created one: no daemon, no systemd) and by `healthcheck run`.
//
//   <bundle>/health.json  {"Status","FailingStreak","Log":[{Start,End,ExitCode,Output}]}
//                         written atomically under an flock of <bundle>/health.lock
//
// A probe is one of three kinds:
//   exec  `exec` of the test command in the container, as the container's user,
//         with its output (stdout+stderr) captured up to 4096 bytes; at the
//         timeout its whole process group is killed (no probe outlives its check);
//   http  (--health-http URL, label org.crun-lite.health.http) a GET of a URL to the
//         container itself, by crun-lite-health (libcurl) run in the container's
//         network namespace only: 2xx and 3xx are healthy (health_probe.cpp);
//   tcp   (--health-tcp PORT, label org.crun-lite.health.tcp) a connect to
//         127.0.0.1:PORT and [::1]:PORT from the container's network namespace.
// Exit 0 is healthy; anything else, or running past the timeout, a failure.
// Failures inside the start period do not count while the status is still
// "starting"; `retries` consecutive counted failures make it "unhealthy", one
// success makes it "healthy" again.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/image/manifest.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/runtime/container.hpp"

namespace crunlite::app {

// The image labels that give an image an http or tcp probe (flags override them).
inline constexpr const char* kHealthHttpLabel = "org.crun-lite.health.http";
inline constexpr const char* kHealthTcpLabel = "org.crun-lite.health.tcp";

enum class ProbeKind { Exec, Http, Tcp };

// podman 5's startup healthcheck (--health-startup-*): an exec probe that runs
// first, every `interval_ns`, while the status is "starting"; once it passed
// `success` times in a row (0: once) the regular healthcheck takes over; once
// it failed `retries` times in a row (0: never) the container is restarted.
struct StartupProbe {
    std::vector<std::string> test;  // /bin/sh -c CMD
    int64_t interval_ns = 30'000'000'000, timeout_ns = 30'000'000'000;
    int retries = 0, success = 0;
    bool operator==(const StartupProbe&) const = default;
};

struct HealthConfig {
    ProbeKind kind = ProbeKind::Exec;
    std::vector<std::string> test;  // exec: the argv (CMD-SHELL already wrapped in /bin/sh -c)
    std::string url;                // http: a URL check_probe_url accepts
    int port = 0;                   // tcp: 1-65535
    int64_t interval_ns = 30'000'000'000, timeout_ns = 30'000'000'000;
    int64_t start_period_ns = 0, start_interval_ns = 5'000'000'000;
    int retries = 3;
    // The Health log (podman 5's --health-max-log-count/-size/--health-log-destination):
    int max_log_count = 5;           // entries kept in health.json; 0: all
    int max_log_size = 4096;         // bytes of each probe's output kept; 0: what is captured (4096)
    std::string log_destination = "local";  // or an absolute directory: every entry also goes to
                                            // DIR/<id>-healthcheck.log, one JSON object per line
    std::optional<StartupProbe> startup;
};

// --health-* flags; unset fields keep the image's value.
struct HealthOverrides {
    std::optional<std::string> cmd;   // --health-cmd, as given (health_cmd_argv)
    std::optional<std::string> http;  // --health-http URL
    std::optional<std::string> tcp;   // --health-tcp PORT, as given
    std::optional<int64_t> interval_ns, timeout_ns, start_period_ns, start_interval_ns;
    std::optional<int> retries;
    std::optional<int> max_log_count, max_log_size;  // --health-max-log-count, --health-max-log-size
    std::optional<std::string> log_destination;      // --health-log-destination local|DIR
    bool disable = false;            // --no-healthcheck
    // --health-startup-cmd, -interval, -timeout, -retries, -success
    std::optional<std::string> startup_cmd;
    std::optional<int64_t> startup_interval_ns, startup_timeout_ns;
    std::optional<int> startup_retries, startup_success;
};

// Checks the flags alone, before anything is made: at most one of --health-cmd,
// --health-http, --health-tcp; --no-healthcheck with none of them (nor a
// startup probe); the other --health-startup-* only with --health-startup-cmd,
// its retries and success not negative; the URL and
// port valid; log count and size not negative; a log destination that is
// "local" or an absolute path to a directory (the one thing it looks at on the
// host).  Throws Error(EINVAL) "`verb`: --health-...: why".
void check_health_overrides(const HealthOverrides& overrides, const std::string& verb);

// --health-cmd (and --health-startup-cmd) as podman takes it: a JSON array of
// strings (["CMD", argv...], ["CMD-SHELL", "command"], ["NONE"], an argv of
// several strings, or one string, a shell command), "CMD prog args" (split at
// blanks), "CMD-SHELL command", "none"; any other text is a shell command
// (also "[ -f /ready ]", which is no JSON).  Keywords in any case.  Returns
// the argv a probe runs (a shell command as /bin/sh -c), empty for none.
// Throws Error(EINVAL) "`what` `text`: why".  Pure.
std::vector<std::string> health_cmd_argv(const std::string& text, const std::string& what);

// An http probe's URL: http or https, to the container itself (host localhost,
// 127.0.0.1 or [::1]), an optional port 1-65535, then a path (and query); no
// user name or password, no whitespace or control characters.  Throws
// Error(EINVAL) "`what`: why" (`what` names the flag or label).  Pure.
void check_probe_url(const std::string& url, const std::string& what);

// A tcp probe's port: decimal 1-65535.  Throws Error(EINVAL) "`what`: ...".  Pure.
int parse_probe_port(const std::string& text, const std::string& what);

// The effective healthcheck: the image's Healthcheck (Docker defaults for zero
// fields), whose test the image's kHealthHttpLabel or kHealthTcpLabel replaces
// (not both), then `overrides`; nullopt for none, NONE or --no-healthcheck.
// Throws Error(EINVAL) for a malformed test ("Healthcheck.Test: ...") or label
// ("image label org.crun-lite.health.tcp: ...").  Pure.
std::optional<HealthConfig> health_config(const std::optional<image::Healthcheck>& image,
                                          const HealthOverrides& overrides,
                                          const std::map<std::string, std::string>& labels = {});

struct ProbeResult {
    std::string start, end;  // RFC3339
    int exit_code = 0;       // -1: timed out or could not run
    std::string output;      // at most 4096 bytes
};

struct HealthState {
    std::string status = "starting";  // starting | healthy | unhealthy
    int failing_streak = 0;
    std::deque<ProbeResult> log;      // the last max_log_count
    // The startup probe (a config with one): done once it passed; until
    // then its streaks of passes and failures.
    bool startup_done = false;
    int startup_passes = 0, startup_failures = 0;
};

// Whether the next probe of `state` is the startup probe.  Pure.
bool in_startup(const HealthState& state, const HealthConfig& config);

// Whether a running container's health is stale: no probe ended for twice the
// gap `config` allows between two (the interval, the start interval in the
// start period, the startup probe's until it passed; plus the timeout) and 2 s
// more since its last probe (or, when it restarted since, since `started_ns`,
// CLOCK_REALTIME); never before a first probe.  Unless it was paused
// meanwhile (callers also check that no monitor holds the container
// directory's lock), the prober (crun-lite-monitor) is gone then: nothing
// updates the status.  Pure.
bool health_stale(const HealthState& state, const HealthConfig& config, int64_t started_ns, int64_t now_ns);

enum class StartupOutcome { Continue, Passed, Failed };
// Folds one startup probe result into `state` (logged like any probe; the
// status stays "starting"): Passed when it passed config.startup->success
// times in a row (0: once), the regular healthcheck's turn from now on;
// Failed when it failed `retries` times in a row (retries > 0): the container
// is to be restarted (and the streak starts again).  Pure.
StartupOutcome record_startup_probe(HealthState& state, const HealthConfig& config, const ProbeResult& result);

// Folds one probe result into `state` (its output cut to max_log_size, the log
// to max_log_count); `in_start_period`: the container is younger than the
// start period.  Pure.
void record_probe(HealthState& state, const HealthConfig& config, const ProbeResult& result, bool in_start_period);

// Whether a container started at `started_ns` (CLOCK_REALTIME) is still in
// its start period.
bool in_start_period(const HealthConfig& config, int64_t started_ns);

// How long until the next probe (ns): the startup probe's interval while it
// runs; start_interval while starting inside the start period; else interval.  Pure.
int64_t next_probe_delay(const HealthState& state, const HealthConfig& config, bool in_start_period);

std::string health_json(const HealthState& state);
HealthState parse_health_json(const std::string& text, const std::string& source);
// {"Kind":"exec","Test":[...]} | {"Kind":"http","URL":...} | {"Kind":"tcp","Port":N},
// each with "Interval", "Timeout", "StartPeriod", "StartInterval" (ns), "Retries".
// parse_health_config reads what health_config_json writes (a config without
// Kind is exec, as app.json before probe kinds) and checks the URL and port
// again; it throws Error(EINVAL) naming the field.
std::string health_config_json(const HealthConfig& config);
HealthConfig parse_health_config(const json::Value& value);

// Runs the probe of container `id` once (run_probe) and records its result in
// <bundle>/health.json, and with a log destination directory also appends it
// there (<dir>/<id>-healthcheck.log: {"Start","End","ExitCode","Output","Status"}).
// `started_ns`: the container's start, CLOCK_REALTIME.  Runs in the monitor or
// `healthcheck run`.  Returns the new state.
// With a startup probe due (in_startup) that probe runs instead, and
// `startup`, when given, gets its outcome.  A probe that failed on a paused
// container is logged and changes nothing else (no streak, status or startup).
// One that failed as the container stopped (its exec found no init to join) is
// dropped, as Docker drops a result that comes after the stop: nullopt.
std::optional<HealthState> probe_and_record(const runtime::Context& ctx, const std::string& id,
                                            const std::string& bundle, const HealthConfig& config, int64_t started_ns,
                                            StartupOutcome* startup = nullptr);

// One probe of container `id`, not recorded (health_probe.cpp; runs in the
// monitor or `healthcheck run`, forking a child for the probe):
//   exec: the child calls runtime::exec; exec kills the probe's process group
//         at the timeout, we kill exec 2 s after it should have.
//   http, tcp: the child joins the init's network namespace (its user
//         namespace first when that differs: rootless), never its mount
//         namespace, and drops privileges before it talks to the container
//         (root there: nobody, no groups; else no capabilities; no_new_privs
//         either way); nothing of the container runs.  tcp: it connects to
//         127.0.0.1:PORT and [::1]:PORT, healthy when either accepts.  http: it
//         execs crun-lite-health (find_health_helper) with the URL and the
//         timeout.  It is killed at the timeout.
// Past the timeout the result is exit code -1, "Health check exceeded timeout
// (T)"; a probe that cannot run is exit code 125 with the reason as output.
ProbeResult run_probe(const runtime::Context& ctx, const std::string& id, const HealthConfig& config);

// crun-lite-health, the http probe's helper: $CRUNLITE_HEALTH, the installed
// <libexecdir>/crun-lite/crun-lite-health, or the build tree's.  Throws
// Error(ENOENT) naming where it looked.
std::string find_health_helper();

}  // namespace crunlite::app
