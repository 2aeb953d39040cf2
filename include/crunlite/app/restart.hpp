// Restart policies (`run -d --restart`, Docker's) and the healthcheck's
// failure actions (`--health-on-failure`, podman's), carried out by the
// detached monitor through `crun-lite monitor exited` (no daemon).
//
//   <bundle>/restart.json  {"RestartCount","Backoff","StopRequested","RestartRequested",
//                           "Restarting","ExitCode","FinishedAt","StartedAt"}
//                          written atomically under an flock of <bundle>/restart.lock by
//                          `monitor exited` (each exit, each restart), `stop` (its request)
//                          and a healthcheck tick (a restart it asks for)
//
// The policy decides at each exit of the container's init (decide_restart):
//   no              never restarted
//   on-failure[:N]  restarted after a non-zero exit, at most N times (N = 0 or none: no limit)
//   always          restarted after every exit
//   unless-stopped  the same here: the two differ in Docker only when its daemon
//                   starts, and there is no daemon (nothing restarts a container
//                   after a reboot, under either)
// A container `stop` asked for is never restarted (nor while its restart waits);
// a restart a healthcheck asked for (--health-on-failure restart, a failed
// startup probe) happens whatever the policy.  Before each restart the monitor
// waits Docker's backoff: 100 ms, doubled each time up to 1 min, back to 100 ms
// once a run stayed up 10 s.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "crunlite/app/health.hpp"
#include "crunlite/runtime/container.hpp"

namespace crunlite::app {

struct RestartPolicy {
    std::string name = "no";  // no | on-failure | always | unless-stopped
    int max_retries = 0;      // on-failure: at most this many restarts; 0: no limit
    bool operator==(const RestartPolicy&) const = default;
};

// "no", "on-failure", "on-failure:N" (N >= 0, decimal), "always", "unless-stopped".
// Throws Error(EINVAL) "`flag`: why" for anything else.  Pure.
RestartPolicy parse_restart_policy(const std::string& text, const std::string& flag);

// What the monitor does when the health status turns unhealthy.
enum class HealthAction { None, Kill, Restart, Stop };
// "none", "kill", "restart", "stop"; throws Error(EINVAL) "`flag`: why".  Pure.
HealthAction parse_health_action(const std::string& text, const std::string& flag);
const char* health_action_name(HealthAction a);

// The rules of the flags that restart, checked before anything is made (the
// monitor of `run -d` is what restarts, and --rm would delete what it restarts):
// --restart other than no, --health-on-failure restart and a startup probe
// that restarts (--health-startup-retries > 0) need run -d (`detach`) and
// conflict with --rm (`remove`), as Docker refuses --restart with --rm;
// --health-on-failure conflicts with --no-healthcheck.  Throws Error(EINVAL)
// "`verb`: ..." naming the flags.  Pure.
void check_restart_flags(const RestartPolicy& policy, std::optional<HealthAction> on_failure,
                         const HealthOverrides& health, bool detach, bool remove, const std::string& verb);

// Whether a container with these settings may be restarted by its monitor
// (which then keeps its namespaces: RunHooks::keep_namespaces).  Pure.
bool may_restart(const RestartPolicy& policy, HealthAction on_failure, const std::optional<HealthConfig>& health);

inline constexpr int64_t kFirstBackoff_ms = 100;
inline constexpr int64_t kMaxBackoff_ms = 60'000;
inline constexpr int64_t kBackoffReset_ms = 10'000;  // a run this long resets the backoff

struct RestartRecord {
    int restart_count = 0;
    int64_t backoff_ms = 0;              // the last restart's delay (0: none yet)
    bool stop_requested = false;         // `stop` (or --health-on-failure stop): never again
    std::string restart_requested;       // "health" | "startup": restart whatever the policy
    bool restarting = false;             // an exit was seen and a restart is due
    std::optional<int> exit_code;        // the last exit (128+n for signal n)
    std::string finished_at;             // its time, RFC 3339
    int64_t started_ns = 0;              // the current run's start (CLOCK_REALTIME); 0: the first run
    std::string error;                   // why the last restart failed (Docker's State.Error)
    bool operator==(const RestartRecord&) const = default;
};

std::string restart_record_json(const RestartRecord& r);
// Throws Error naming `source` and the field for a malformed record.
RestartRecord parse_restart_record(const std::string& text, const std::string& source);

// The delay before the next restart, given the last one's (0: none) and how
// long the run that just ended lasted.  Pure.
int64_t next_backoff_ms(int64_t previous_ms, int64_t ran_ms);

struct RestartDecision {
    bool restart = false;
    int64_t delay_ms = 0;
    std::string why;  // "on-failure: exit code 0", "a stop was requested", "always", ...
};

// At an exit with `exit_code` of a run that lasted `ran_ms`: restart or not,
// after which delay (see the top of this file).  Pure.
RestartDecision decide_restart(const RestartPolicy& policy, const RestartRecord& record, int exit_code, int64_t ran_ms);

// The record of the image container with bundle `bundle` (a default one when
// it has none yet).
RestartRecord read_restart_record(const std::string& bundle);
// Whether container `id` is stopped and waiting its backoff before a restart
// (Docker's "restarting"): `rm` without --force refuses it, as Docker does.
bool restarting(const runtime::Context& ctx, const std::string& id);

// Changes the record of image container `id` under its state lock (a
// `delete` removing the bundle never races the write) and <bundle>/restart.lock:
// `change` gets the current record and edits it; the result is written
// atomically and returned.  nullopt when the container is gone.
std::optional<RestartRecord> update_restart_record(const runtime::Context& ctx, const std::string& id,
                                                   const std::function<void(RestartRecord&)>& change);

// What `crun-lite monitor exited` does once the init (pid, start time, wait
// status) of container `id` exited: for an image container (without
// `remove`) decides with its policy and record whether it restarts (and
// records that first), then has the runtime record the exit
// (runtime::monitor_exited; with `remove`, delete the container).  For a
// restart it waits the backoff (ended early by `stop`'s request or the
// container's deletion: inotify on the bundle), then recreates the container
// with the same id, bundle (upper dir), log and network namespace (`netns_fd`,
// and rootless `userns_fd`: inherited fds of the first init's namespaces that
// the monitor holds; -1: none, the container gets new ones) and starts it.
// Its init is this process's child; it becomes the monitor's when we exit
// (the monitor is a subreaper).  No restart once our parent, the monitor, is
// gone (killed): nothing would watch it.  Returns it, or nullopt: no restart.
// Runs in that child of the monitor; its stderr is the container's log.
struct Restarted {
    pid_t pid = 0;
    uint64_t start_time = 0;
    int64_t first_tick_ms = -1;  // the healthcheck's first tick (-1: none)
};
std::optional<Restarted> container_exited(const runtime::Context& ctx, const std::string& id, pid_t pid,
                                          uint64_t start_time, int status, bool remove, int netns_fd, int userns_fd);

}  // namespace crunlite::app
