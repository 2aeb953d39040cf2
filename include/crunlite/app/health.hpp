// Healthchecks with Docker's semantics, run by `crun-lite monitor tick` (the
// monitor of a detached image container, or the watcher of a foreground run or
// a created one: no daemon, no systemd) and by `healthcheck run`.
//
//   <bundle>/health.json  {"Status","FailingStreak","Log":[{Start,End,ExitCode,Output}]}
//                         written atomically under an flock of <bundle>/health.lock
//
// A probe is `exec` of the test command in the container, as the container's
// user, with its output (stdout+stderr) captured up to 4096 bytes; at the
// timeout its whole process group is killed (no probe outlives its check).  Exit 0 is
// healthy; anything else, or running past the timeout, a failure.  Failures
// inside the start period do not count while the status is still "starting";
// `retries` consecutive counted failures make it "unhealthy", one success makes
// it "healthy" again.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/image/manifest.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/runtime/container.hpp"

namespace crunlite::app {

struct HealthConfig {
    std::vector<std::string> test;  // the argv to exec (CMD-SHELL already wrapped in /bin/sh -c)
    int64_t interval_ns = 30'000'000'000, timeout_ns = 30'000'000'000;
    int64_t start_period_ns = 0, start_interval_ns = 5'000'000'000;
    int retries = 3;
};

// --health-* flags; unset fields keep the image's value.
struct HealthOverrides {
    std::optional<std::string> cmd;  // CMD-SHELL form
    std::optional<int64_t> interval_ns, timeout_ns, start_period_ns, start_interval_ns;
    std::optional<int> retries;
    bool disable = false;            // --no-healthcheck
};

// The effective healthcheck: image Healthcheck (Docker defaults for zero
// fields) with `overrides`; nullopt for none, NONE or --no-healthcheck.
// Throws Error(EINVAL) for a malformed test ("Healthcheck.Test: ...").
std::optional<HealthConfig> health_config(const std::optional<image::Healthcheck>& image,
                                          const HealthOverrides& overrides);

struct ProbeResult {
    std::string start, end;  // RFC3339
    int exit_code = 0;       // -1: timed out or could not run
    std::string output;      // at most 4096 bytes
};

struct HealthState {
    std::string status = "starting";  // starting | healthy | unhealthy
    int failing_streak = 0;
    std::deque<ProbeResult> log;      // the last 5
};

// Folds one probe result into `state`; `in_start_period`: the container is
// younger than the start period.  Pure.
void record_probe(HealthState& state, const HealthConfig& config, const ProbeResult& result, bool in_start_period);

// Whether a container started at `started_ns` (CLOCK_REALTIME) is still in
// its start period.
bool in_start_period(const HealthConfig& config, int64_t started_ns);

// How long until the next probe (ns): start_interval while starting inside the
// start period, else interval.  Pure.
int64_t next_probe_delay(const HealthState& state, const HealthConfig& config, bool in_start_period);

std::string health_json(const HealthState& state);
HealthState parse_health_json(const std::string& text, const std::string& source);
std::string health_config_json(const HealthConfig& config);
HealthConfig parse_health_config(const json::Value& value);

// Runs the probe of container `id` once (exec, timeout) and records its result
// in <bundle>/health.json.  `started_ns`: the container's start, CLOCK_REALTIME.
// Returns the new state.
HealthState probe_and_record(const runtime::Context& ctx, const std::string& id, const std::string& bundle,
                             const HealthConfig& config, int64_t started_ns);

}  // namespace crunlite::app
