// `wait`: until containers reach a condition, as `podman wait` does.
//
//   running            the container's process runs (not created, not paused)
//   healthy, unhealthy its healthcheck's status (health.hpp: <bundle>/health.json)
//   stopped, exited    its process is gone; the result is its exit code, read
//                      from <state root>/<id>/exit, which a `run -d` monitor
//                      records (128+n for signal n).  In a restart loop
//                      (app/restart.hpp) the first exit after the wait began
//                      is the result, even when the monitor restarts the
//                      container, as Docker's and podman's wait do; one that
//                      stopped before the wait began and waits its backoff
//                      has not stopped: its next exit is awaited
//
// A container settles once it reached ONE of the conditions asked for, or
// once none of them can happen any more: it does not exist or was deleted, it
// stopped (for running, healthy, unhealthy), it has no healthcheck (healthy,
// unhealthy), it turned unhealthy (healthy; one success could make it healthy
// again, but like `run --wait-healthy` we do not wait for a recovery), or it
// stopped and no exit code was recorded within kExitRecordGrace (stopped: no
// monitor, e.g. `create` + `start`, or a foreground `run --keep`).
//
// The split: parse_wait_condition and decide are pure (unit-tested);
// wait_for observes the containers (state, exit record, health.json) in the
// calling process, by polling at an interval and, between polls, waking early
// when the process of a container exits (a pidfd per running container) or
// its exit record is written (inotify on its state directory: the code is read
// at once and kept, so a container deleted right after, by `run -d --rm`'s
// monitor, still reports it).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/app/health.hpp"
#include "crunlite/runtime/container.hpp"
#include "crunlite/state/store.hpp"

namespace crunlite::app {

enum class WaitCondition { Running, Healthy, Unhealthy, Stopped };

// "running", "healthy", "unhealthy", "stopped" or "exited" (= stopped).
// Throws Error(EINVAL) naming `flag` and the text for anything else.
WaitCondition parse_wait_condition(const std::string& text, const std::string& flag);
const char* wait_condition_name(WaitCondition c);

// How long a stopped container may lack its exit record before we conclude
// that nobody will write one (the monitor writes it right after reaping).
inline constexpr int64_t kExitRecordGrace_ns = 2'000'000'000;

// What one poll saw of a container.
struct Observation {
    bool exists = true;                 // its state is there (and is the container first seen);
                                        // gone with exit_code set: deleted after it exited
    bool seen = false;                  // an earlier poll saw it: a missing one was deleted
    state::Status status = state::Status::Running;
    std::optional<int> exit_code;       // the exit record, when there is one
    bool exit_overdue = false;          // stopped for kExitRecordGrace_ns without a record
    std::optional<HealthState> health;  // nullopt: no healthcheck (or not an image container)
    bool health_stale = false;          // running, and no probe for long (health_stale): its
                                        // monitor is gone, and nothing updates `health`
    bool restarting = false;            // stopped before the wait began (or, waiting for
                                        // health alone, at any time), and its monitor is to
                                        // restart it: not stopped, as Docker's Restarting
};

struct Verdict {
    enum Kind { Waiting, Reached, Impossible } kind = Waiting;
    // Reached: what to print, the exit code for stopped, -1 for the other
    // conditions (as podman prints).
    int exit_code = -1;
    // Impossible: why, to follow "container ID " ("exited with code 3 before it
    // was healthy; last probe (exit 1): ...").
    std::string reason;
};

// Reached when `seen` meets one of `conditions`, Impossible when it can meet
// none any more, else Waiting (also while a stopped container's exit record
// is due, so the code can be printed).  `conditions` is not empty.  Pure.
Verdict decide(const std::vector<WaitCondition>& conditions, const Observation& seen);

// Why a container has not settled yet, for a timeout: "not healthy after 5s
// (status running, health starting)".  Pure.
std::string timeout_reason(const std::vector<WaitCondition>& conditions, const Observation& seen, int64_t timeout_ns);

struct WaitOptions {
    std::vector<std::string> ids;             // waited for together; duplicates allowed
    std::vector<WaitCondition> conditions;    // empty: stopped
    int64_t interval_ns = 250'000'000;        // between polls; > 0
    std::optional<int64_t> timeout_ns;        // none: no limit; 0: decide from one poll
};

struct WaitOutcome {
    std::string id;
    bool reached = false;
    int exit_code = -1;  // when reached: see Verdict
};

// Waits until every container of `o.ids` settled (or the timeout passed).
// Each failure is written to `err` as it happens, one line "container ID
// REASON"; returns one outcome per id, in order.  Runs in the caller's
// process, as root or rootless; needs no lock and changes nothing.
std::vector<WaitOutcome> wait_for(const runtime::Context& ctx, const WaitOptions& o, std::ostream& err);

// run -d --wait-healthy: wait_for one container and healthy, polling every
// 100ms; 0 once healthy, else 1 with the reason (and the last probe's output)
// on stderr: unhealthy, stopped, deleted, or `timeout_ns` passed.
int wait_healthy(const runtime::Context& ctx, const std::string& id, int64_t timeout_ns);

}  // namespace crunlite::app
