// `run --image` / `create --image`: a container of an image's runtime stage.
//
// The container lives in <image store>/containers/<id>/, its bundle:
//   config.json   generated from the image config and the flags (image_spec.hpp)
//   rootfs/       where the overlay of the image's layers (read-only lower
//                 dirs shared with every container of the image) and ovl/upper/,
//                 ovl/work/ is mounted, inside the container's mount namespace
//                 only (annotation org.crun-lite.rootfs.overlay): nothing to
//                 unmount on the host, ever
//   hosts, hostname, resolv.conf   bind-mounted over /etc/...
//   app.json      what the runtime verbs need later: image, stop signal,
//                 healthcheck, network, restart policy, health-on-failure action
//   ctr.log       stdout and stderr of a detached container, CRI log records (`logs`)
//   health.json   healthcheck status (health.hpp)
//   restart.json  restart count, the last exit, stop and restart requests (restart.hpp)
//   image, state, lock   for the image store: which image it pins, where its
//                 runtime state is, and who is creating it (image/store.hpp)
// `delete` (and --rm) removes the directory with the container.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/image/pull.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/runtime/container.hpp"
#include "crunlite/app/health.hpp"
#include "crunlite/app/restart.hpp"
#include "crunlite/app/run_flags.hpp"
#include "crunlite/spec/config.hpp"
#include "crunlite/state/events.hpp"

namespace crunlite::app {

// The annotation marking an image container; its value is the image id.
inline constexpr const char* kImageAnnotation = state::kImageAnnotation;

struct ImageRunOptions {
    std::string image;       // stored name/id, or an archive (docker-archive:F, oci-archive:F, oci:DIR, a file)
    std::string store_root;  // default image::default_store_root
    std::string id;          // container id
    bool detach = false, remove = false, tty = false;
    std::vector<std::string> env, env_files, volumes, cap_add, cap_drop, publish;
    bool publish_all = false;           // -P: the image's ExposedPorts and --expose, on free host ports
    std::vector<std::string> expose;    // --expose PORT[-PORT][/PROTO]: added to the image's ExposedPorts
    std::optional<std::string> user, workdir, entrypoint, hostname;
    std::vector<std::string> args;  // after the image: replaces Cmd
    bool read_only = false;
    bool read_only_tmpfs = true;    // with read_only: tmpfs on /tmp, /var/tmp and /run (podman's default)
    int64_t memory = 0, pids_limit = 0;
    double cpus = 0;
    std::string seccomp;            // "": the default profile; "unconfined"; or a profile file
    bool init = true;
    std::string init_path;          // default: find_init()
    std::string network;            // none | host | pasta | slirp4netns; "": see resolve_network_mode (slirp.hpp)
    std::string overlay = "auto";   // auto | native | fuse (fuse-overlayfs); see linux/mount_plan.hpp
    HealthOverrides health;
    RestartPolicy restart;                         // --restart (run -d only)
    std::optional<HealthAction> on_failure;        // --health-on-failure: needs a healthcheck
    std::optional<std::string> stop_signal;        // --stop-signal: instead of the image's StopSignal
    std::optional<int> stop_timeout;               // --stop-timeout: stop's default wait, seconds
    bool require_healthcheck = false;  // --wait-healthy: refuse before starting when there is none
    std::string pid_file;
    // Docker's flags for what the image does not say (run_flags.hpp):
    std::vector<std::string> tmpfs, mounts, devices, add_hosts, ulimits, sysctls, labels, group_add;
    DnsFlags dns;
    int64_t shm_size = 0;  // /dev/shm's size in bytes; 0: 64 MiB
    // docker:// images: pull when the store lacks the name (missing), every
    // time (always) or never; how (image/pull.hpp).
    std::string pull = "missing";
    image::PullOptions pull_options;
};

// Creates (create) or runs (run) the container; returns run's exit code.
// On any failure nothing is left: no container dir, state, cgroup or process.
// A healthcheck is probed by the monitor (run -d) or a watcher (foreground
// run, create: runtime::watch_ticks).
void create_from_image(const runtime::Context& ctx, const ImageRunOptions& opts);

// `start` of a stopped image container, as Docker's: a new detached run of
// its bundle, with a monitor (logs, healthcheck, restart policy), its upper
// layer, volumes and published host ports kept, its restart count too.
// Returns false, doing nothing, for any other container (runtime::start's).
bool start_again(const runtime::Context& ctx, const std::string& id);

// exec --user into an image container, as podman's exec -u: names or ids
// resolved in the running container's /etc/passwd and /etc/group (its gid and groups
// unless given), HOME the user's (unless -e sets it), and root gets the
// container's bounding set as its capabilities.  Other containers, and
// --process, keep runc's meaning (numeric ids, nothing added).
void resolve_exec_user(const runtime::Context& ctx, runtime::ExecOptions& o);
// Whether `id` names a container of run/create --image (false for none).
bool is_image_container(const runtime::Context& ctx, const std::string& id);
int run_image(const runtime::Context& ctx, const ImageRunOptions& opts);

// `start` of an image container (runtime::start's `starting`, under the
// container's lock): its run, and its healthcheck's start period, begin now
// (create --image set a provisional start).  Nothing for a bundle container.
void starting(const state::State& st);

// stop: the stop signal (--stop-signal, else the image's StopSignal, else
// SIGTERM), then SIGKILL after `timeout_s` (nullopt: the container's
// --stop-timeout, else 10).  Recorded first in restart.json: the container is
// not restarted (restart.hpp), and a restart waiting its backoff is called off
// (we return once it is), and once its monitor has exited (its network helper
// gone, the host ports it published free again), for at most 5 s.
void stop(const runtime::Context& ctx, const std::string& id, std::optional<int> timeout_s);

// rm: runtime::remove (delete), then, for an image container, waits for its
// monitor as stop does.
void remove(const runtime::Context& ctx, const std::string& id, bool force);

// A record of ctr.log, as crun-lite-monitor writes them: "TIME STREAM F|P TEXT"
// (the CRI's log format); nullopt for a line that is none.  Pure.
struct LogRecord {
    std::string_view stamp;  // "2026-12-07T15:04:05.123456789Z"
    int64_t time_ns = 0;
    bool err = false;      // stderr, else stdout
    bool partial = false;  // P: the line goes on in the next record of its stream
    std::string_view text;
};
std::optional<LogRecord> parse_log_record(std::string_view line);

struct LogOptions {
    bool follow = false;             // keep printing until the container stops
    std::optional<int64_t> tail;     // the last lines only
    bool timestamps = false;         // each line after its time
    std::optional<int64_t> since_ns, until_ns;  // the records of that time only
};

// logs: the detached container's captured output, stdout's on stdout and
// stderr's on stderr, as `o` asks.
void logs(const runtime::Context& ctx, const std::string& id, const LogOptions& o);

// Where the last `lines` lines of the file `fd` start (a final newline ends
// the last line); 0 when it has fewer.
off_t tail_offset(int fd, int64_t lines);

// inspect: {"Id","Created","Image","Bundle","Network","NetworkSettings":{"Ports"},"RestartCount","HostConfig":{"RestartPolicy"},
// "HealthcheckOnFailureAction","State":{...,"Restarting","ExitCode","StartedAt","FinishedAt","Health"},
// "Healthcheck","Config":<config.json>}.
std::string inspect_json(const runtime::Context& ctx, const std::string& id);

// The health status of an image container ("" without a healthcheck).
std::optional<HealthState> health_of(const runtime::Context& ctx, const std::string& id);

// healthcheck run: one probe now.  0 healthy, 1 unhealthy; throws when the
// container has no healthcheck or is not running.
int healthcheck_run(const runtime::Context& ctx, const std::string& id);

// The detached monitor's tick (`crun-lite monitor tick`): one probe, recorded;
// returns the ms until the next (-1: none, the container has no healthcheck or
// is not running).  A probe that cannot run is logged and retried after the interval.
int64_t health_tick(const runtime::Context& ctx, const std::string& id);

// A seccomp profile (profiles/seccomp.json's format) resolved for this machine
// (architecture, kernel) and a container with capabilities `caps`.
spec::Seccomp host_seccomp_profile(std::string_view profile, const std::string& source,
                                   const std::vector<std::string>& caps);

// crun-lite-init: $CRUNLITE_INIT, the installed libexec copy, or the build tree's.
std::string find_init();

}  // namespace crunlite::app
