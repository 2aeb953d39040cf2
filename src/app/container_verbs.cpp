// The verbs of an image container after it was made (stop, logs, inspect,
// healthcheck run, the monitor's tick) and its app.json record
// (app_record.hpp).  Run in the caller's process (and, for the tick, in the
// child the monitor starts).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <vector>

#include "app_record.hpp"
#include "crunlite/app/container_dirs.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/app/restart.hpp"
#include "crunlite/app/slirp.hpp"
#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/state/events.hpp"

namespace crunlite::app {
namespace detail {

// Docker's inspect Mounts: [{"Type": "volume", "Name": "data", "Source": ..., "Destination": ..., "RW": true}].
void write_mounts(json::Writer& w, const std::vector<MountRecord>& mounts) {
    w.begin_array();
    for (const auto& m : mounts) {
        w.begin_object().key("Type").string(m.type);
        if (!m.name.empty()) w.key("Name").string(m.name);
        w.key("Source").string(m.source).key("Destination").string(m.destination).key("RW").boolean(m.rw);
        w.end_object();
    }
    w.end_array();
}

std::string app_json(const App& a) {
    json::Writer w(false);
    w.begin_object();
    w.key("image").string(a.image);
    w.key("stopSignal").string(a.stop_signal);
    w.key("stopTimeout").integer(a.stop_timeout_s);
    w.key("started").integer(a.started_ns);
    w.key("network").string(a.network);
    w.key("restartPolicy").begin_object();
    w.key("Name").string(a.restart.name).key("MaximumRetryCount").integer(a.restart.max_retries);
    w.end_object();
    w.key("healthOnFailure").string(health_action_name(a.on_failure));
    write_mounts(w.key("mounts"), a.mounts);
    w.end_object();
    std::string out = w.result();
    if (a.health) out.insert(out.size() - 1, ",\"healthcheck\":" + health_config_json(*a.health));
    return out;
}

App parse_app(const std::string& path) {
    json::Document doc = json::parse(read_file(path), path);
    json::Value root = doc.root();
    App a;
    a.image = root.get_string("image");
    a.stop_signal = root.get_string("stopSignal");
    a.stop_timeout_s = static_cast<int>(root.get_int64_or("stopTimeout", 10));  // absent before --stop-timeout
    a.started_ns = root.get_int64("started");
    a.network = root.get_string("network");
    if (auto h = root.find("healthcheck")) a.health = parse_health_config(*h);
    // Absent in app.json from before restart policies: no, none.
    if (auto p = root.find("restartPolicy")) {
        std::string text = p->get_string("Name");
        int64_t max = p->get_int64("MaximumRetryCount");
        if (max > 0) text += ":" + std::to_string(max);
        a.restart = with_context(path, [&] { return parse_restart_policy(text, "restartPolicy"); });
    }
    a.on_failure = with_context(path, [&] {
        return parse_health_action(root.get_string_or("healthOnFailure", "none"), "healthOnFailure");
    });
    if (auto mounts = root.find("mounts"))  // absent in app.json from before volumes
        for (const auto& m : mounts->elements())
            a.mounts.push_back({m.get_string("Type"), m.get_string_or("Name", ""), m.get_string("Source"),
                                m.get_string("Destination"), m.get_bool("RW")});
    return a;
}

void record_run_start(const std::string& bundle, App& app, int64_t ns) {
    app.started_ns = ns;
    write_file_atomic(bundle + "/app.json", app_json(app), 0644);
}

ImageContainer load_image_container(const runtime::Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    ImageContainer c{store.load(id), {}};
    if (!c.st.annotations.count(kImageAnnotation))
        throw Error(EINVAL, "container " + id + " was not created from an image (run --image)");
    c.app = parse_app(c.st.bundle + "/app.json");
    return c;
}

int64_t first_tick_ms(const App& app) {
    if (!app.health || app.health->interval_ns == 0) return -1;  // interval 0: `healthcheck run` only
    return next_probe_delay(HealthState{}, *app.health, in_start_period(*app.health, app.started_ns)) / 1'000'000;
}

}  // namespace detail

using detail::App;
using detail::first_tick_ms;
using detail::ImageContainer;
using detail::load_image_container;
using detail::parse_app;

namespace {

// The stop signal, then SIGKILL after `timeout_s`; returns once `st` stopped.
void stop_container(const runtime::Context& ctx, const state::State& st, int timeout_s) {
    state::Store store(ctx.root);
    const std::string& id = st.id;
    if (store.status(st) == state::Status::Stopped) return;
    std::string sig = "SIGTERM";
    if (auto it = st.annotations.find("org.opencontainers.image.stopSignal"); it != st.annotations.end()) {
        try {
            runtime::parse_signal(it->second);
            sig = it->second;
        } catch (const Error& e) {
            log::warn("stop " + id + ": " + e.message() + " in the stop signal annotation: using SIGTERM");
        }
    }
    try {
        runtime::kill(ctx, id, sig, false);
    } catch (const Error& e) {
        if (e.code() == ESRCH) return;  // it exited by itself meanwhile
        throw;
    }
    // A paused container's processes see the signal once thawed (Docker: the signal, then unpause).
    if (runtime::live_status(store, st) == state::Status::Paused) runtime::resume(ctx, id);
    for (int i = 0; i < timeout_s * 10; ++i) {
        if (!store.exists(id) || store.status(st) == state::Status::Stopped) return;
        ::usleep(100'000);
    }
    log::debug("stop " + id + ": still running after " + std::to_string(timeout_s) + "s, sending SIGKILL");
    runtime::kill(ctx, id, "SIGKILL", true);
    for (int i = 0; i < 100; ++i) {
        if (!store.exists(id) || store.status(st) == state::Status::Stopped) return;
        ::usleep(100'000);
    }
    throw Error(ETIMEDOUT, "container " + id + " did not stop after SIGKILL");
}

}  // namespace

namespace {

// The directory whose lock a container's monitor (or foreground run) holds while it lives.
sys::UniqueFd monitor_lock_dir(const state::State& st) {
    return sys::UniqueFd(::open(st.bundle.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// Until the monitor has ended the network helper (its host ports free again) and exited.
void await_monitor(const sys::UniqueFd& dir, const std::string& id) {
    if (dir && !await_container_dir_released(dir.get(), 5000))
        log::warn(id + ": its monitor has not exited yet: its published ports may be busy for a moment");
}

}  // namespace

void stop(const runtime::Context& ctx, const std::string& id, std::optional<int> timeout) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    bool image = st.annotations.count(kImageAnnotation) > 0;
    int timeout_s = timeout.value_or(image ? parse_app(st.bundle + "/app.json").stop_timeout_s : 10);
    // A created image container is left as it is, as Docker's and podman's stop leaves one:
    // nothing of it has run, so there is no exit to make up.
    if (image && runtime::live_status(store, st) == state::Status::Created) return;
    // Asked first: an exit from here on is not restarted, nor is one whose
    // restart is waiting (its backoff wakes up and ends the loop).
    if (image) update_restart_record(ctx, id, [](RestartRecord& r) { r.stop_requested = true; });
    sys::UniqueFd dir = image ? monitor_lock_dir(st) : sys::UniqueFd();  // before --rm's monitor removes it
    stop_container(ctx, store.load(id), timeout_s);  // loaded again: a restart may have made a new init
    if (!image) return;
    // A restart that was waiting its backoff: until the monitor ended the loop.
    for (int i = 0;; ++i) {
        try {
            if (!read_restart_record(st.bundle).restarting) break;
        } catch (const Error&) {
            return;  // removed meanwhile
        }
        if (i == 100) {
            log::warn("stop " + id + ": stopped, but its monitor has not recorded the end of its restart loop yet");
            return;
        }
        ::usleep(50'000);
    }
    // A restart decided just before our request may have started an init after we stopped.
    if (store.exists(id)) stop_container(ctx, store.load(id), timeout_s);
    await_monitor(dir, id);
}

void remove(const runtime::Context& ctx, const std::string& id, bool force) {
    sys::UniqueFd dir;
    try {
        state::State st = state::Store(ctx.root).load(id);
        if (st.annotations.count(kImageAnnotation)) dir = monitor_lock_dir(st);
    } catch (const Error&) {
        // No state: runtime::remove says what there is to say.
    }
    runtime::remove(ctx, id, force);
    await_monitor(dir, id);
}

off_t tail_offset(int fd, int64_t lines) {
    struct stat st;
    if (::fstat(fd, &st) < 0) throw_errno("stat the log");
    off_t end = st.st_size, pos = end;
    if (lines <= 0) return end;
    char buf[65536];
    int64_t seen = 0;
    while (pos > 0) {
        size_t n = static_cast<size_t>(std::min<off_t>(pos, sizeof buf));
        pos -= static_cast<off_t>(n);
        if (::pread(fd, buf, n, pos) != static_cast<ssize_t>(n)) throw_errno("read the log");
        for (size_t i = n; i-- > 0;)
            if (buf[i] == '\n' && pos + static_cast<off_t>(i) != end - 1 && ++seen == lines)
                return pos + static_cast<off_t>(i) + 1;
    }
    return 0;
}

std::optional<LogRecord> parse_log_record(std::string_view line) {
    // "TIME STREAM F|P TEXT", TIME "2026-12-07T15:04:05.123456789Z" (crun-lite-monitor's).
    size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || sp1 < 20 || line[sp1 - 1] != 'Z' || line[10] != 'T') return std::nullopt;
    std::string_view rest = line.substr(sp1 + 1);
    LogRecord r;
    if (rest.rfind("stdout ", 0) == 0) r.err = false;
    else if (rest.rfind("stderr ", 0) == 0) r.err = true;
    else return std::nullopt;
    rest.remove_prefix(7);
    if (rest.size() < 2 || (rest[0] != 'F' && rest[0] != 'P') || rest[1] != ' ') return std::nullopt;
    auto time = state::parse_event_time(std::string(line.substr(0, sp1)));
    if (!time) return std::nullopt;
    r.time_ns = *time;
    r.stamp = line.substr(0, sp1);
    r.partial = rest[0] == 'P';
    r.text = rest.substr(2);
    return r;
}

namespace {

// Prints one line of the log as `o` asks: a record's text on its stream (with
// its time, -t), a line that is none (a watcher's message) on stderr.
class LogPrinter {
public:
    explicit LogPrinter(const LogOptions& o) : o_(o) {}
    void line(std::string_view text) {
        auto r = parse_log_record(text);
        if (!r) {  // not a record: shown as it is, on stderr, its time unknown (not filtered)
            std::cerr << text << '\n';
            return;
        }
        if ((o_.since_ns && r->time_ns < *o_.since_ns) || (o_.until_ns && r->time_ns > *o_.until_ns)) return;
        std::ostream& out = r->err ? std::cerr : std::cout;
        // A line logged in parts: the time before its first part only.
        bool& open = r->err ? err_open_ : out_open_;
        if (o_.timestamps && !open) out << r->stamp << ' ';
        out << r->text;
        if (!r->partial) out << '\n';
        open = r->partial;
    }
    void flush() {
        std::cout.flush();
        std::cerr.flush();
    }

private:
    const LogOptions& o_;
    bool out_open_ = false, err_open_ = false;
};

}  // namespace

void logs(const runtime::Context& ctx, const std::string& id, const LogOptions& o) {
    state::Store store(ctx.root);
    ImageContainer c = load_image_container(ctx, id);
    std::string path = c.st.bundle + "/ctr.log";
    sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) throw Error(ENOENT, "container " + id + " has no log (it was not run detached)");
        throw_errno("open " + quote(path));
    }
    if (o.tail && ::lseek(fd.get(), tail_offset(fd.get(), *o.tail), SEEK_SET) < 0) throw_errno("seek " + quote(path));
    LogPrinter printer(o);
    std::string pending;  // a line not yet ended
    char buf[65536];
    int64_t stopped_at = 0;
    for (;;) {
        // Decided before reading, so the last read has all a stopped container wrote:
        // its monitor has logged it all once the exit is recorded (or, should none
        // come, a second after).
        // Read again each time: a restarted container has another init.
        bool gone = false;
        try {
            c.st = store.load(id);
        } catch (const Error&) {
            gone = true;  // deleted
        }
        bool stopped = !gone && store.status(c.st) == state::Status::Stopped;
        if (stopped && !stopped_at) stopped_at = monotonic_ms();
        bool settled = !stopped || store.exit_status(id) || monotonic_ms() - stopped_at > 1000;
        bool last = settled && (!o.follow || gone || stopped);
        ssize_t n;
        while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
            pending.append(buf, static_cast<size_t>(n));
            size_t start = 0;
            for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
                printer.line(std::string_view(pending).substr(start, nl - start));
            pending.erase(0, start);
        }
        if (last) {
            if (!pending.empty()) printer.line(pending);
            printer.flush();
            return;
        }
        printer.flush();
        ::usleep(settled ? 100'000 : 20'000);
    }
}

void starting(const state::State& st) {
    if (!st.annotations.count(kImageAnnotation)) return;
    App app = parse_app(st.bundle + "/app.json");
    record_run_start(st.bundle, app, realtime_ns());
}

std::optional<HealthState> health_of(const runtime::Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    if (!st.annotations.count(kImageAnnotation)) return std::nullopt;
    std::string path = st.bundle + "/health.json";
    if (::access(path.c_str(), F_OK) == 0) return parse_health_json(read_file(path), path);
    App app = parse_app(st.bundle + "/app.json");
    if (!app.health) return std::nullopt;
    return HealthState{};
}

std::string inspect_json(const runtime::Context& ctx, const std::string& id) {
    ImageContainer c = load_image_container(ctx, id);
    state::Store store(ctx.root);
    state::Status status = runtime::live_status(store, c.st);
    RestartRecord restart = read_restart_record(c.st.bundle);
    bool restarting = restart.restarting && status == state::Status::Stopped;
    json::Writer w(false);
    w.begin_object();
    w.key("Status").string(restarting ? "restarting" : state::status_name(status));
    // Docker's booleans: Running is true while paused too.
    w.key("Running").boolean(status == state::Status::Running || status == state::Status::Paused);
    w.key("Paused").boolean(status == state::Status::Paused);
    w.key("Restarting").boolean(restarting);
    w.key("Pid").integer(status == state::Status::Stopped ? 0 : c.st.pid);
    // The last exit: this run's record, else the one before the last restart,
    // else (a foreground run, which records none) its die event.
    std::optional<int> code = store.exit_status(id);
    if (!code) code = restart.exit_code;
    std::string finished = restart.finished_at;
    if (!code && status == state::Status::Stopped)
        if (auto die = state::last_die(ctx.root, id, c.st.created, restart.started_ns)) {
            code = die->exit_code;
            finished = rfc3339_utc(die->time_ns);
        }
    if (status != state::Status::Stopped) code = 0;  // Docker's: reset at each start
    if (code) w.key("ExitCode").integer(*code);
    w.key("Error").string(status == state::Status::Stopped ? restart.error : "");  // Docker's: why it could not start
    // Docker's: the kernel's OOM killer ended a process of the last run (its "oom" event).
    bool oom = false;
    if (status == state::Status::Stopped) {
        uint64_t offset = 0;
        for (const auto& e : state::read_events(ctx.root, c.app.started_ns, 0, {id}, offset, true))
            oom = oom || e.action == "oom";
    }
    w.key("OOMKilled").boolean(oom);
    // Docker's times, its zero time for none: this run's start, the last exit.
    constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";
    bool started = status != state::Status::Created && c.app.started_ns > 0;  // (0: an older crun-lite's app.json)
    // The first run's start is taken before its state is made: never shown before Created
    // (both RFC 3339 in UTC with nanoseconds, so they compare as strings).
    std::string started_at = started ? std::max(rfc3339_utc(c.app.started_ns), c.st.created) : kZeroTime;
    w.key("StartedAt").string(started_at);
    w.key("FinishedAt").string(finished.empty() ? kZeroTime : finished);
    w.end_object();
    std::string state_obj = w.result();
    if (auto h = health_of(ctx, id)) {
        std::string health = health_json(*h);
        // Nothing updates it any more (see health_stale): said, not hidden.
        if (status == state::Status::Running && c.app.health &&
            health_stale(*h, *c.app.health, c.app.started_ns, realtime_ns()) && !container_dir_held(c.st.bundle))
            health.insert(health.size() - 1, ",\"Stale\":true");
        state_obj.insert(state_obj.size() - 1, ",\"Health\":" + health);
    }
    json::Writer head(false);
    head.begin_object();
    // The id is the name too (podman's Name: no leading "/").
    head.key("Id").string(id).key("Name").string(id).key("Created").string(c.st.created).key("Image").string(c.app.image);
    head.key("Bundle").string(c.st.bundle).key("Network").string(c.app.network);
    // Docker's: {"3000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}]}, while it runs.
    head.key("NetworkSettings").begin_object().key("Ports").begin_object();
    std::map<std::string, std::vector<PortMap>> ports;
    if (status != state::Status::Stopped)
        for (auto& p : read_ports(c.st.bundle)) ports[port_key(p)].push_back(p);
    for (const auto& [key, maps] : ports) {
        head.key(key).begin_array();
        for (const auto& p : maps)
            head.begin_object().key("HostIp").string(p.host_addr).key("HostPort").string(std::to_string(p.host)).end_object();
        head.end_array();
    }
    head.end_object().end_object();
    head.key("RestartCount").integer(restart.restart_count);
    head.key("HostConfig").begin_object().key("RestartPolicy").begin_object();
    head.key("Name").string(c.app.restart.name).key("MaximumRetryCount").integer(c.app.restart.max_retries);
    head.end_object().end_object();
    head.key("HealthcheckOnFailureAction").string(health_action_name(c.app.on_failure));
    write_mounts(head.key("Mounts"), c.app.mounts);
    head.end_object();
    std::string out = head.result();
    out.pop_back();
    out += ",\"State\":" + state_obj;
    if (c.app.health) out += ",\"Healthcheck\":" + health_config_json(*c.app.health);
    out += ",\"Config\":" + trim(read_file(c.st.config_path)) + "}";
    return out;
}

namespace {

// --health-on-failure (and a failed startup probe, which restarts): what the
// monitor's tick (or `healthcheck run`) does to the container.  kill: SIGKILL,
// then the restart policy decides as for any exit; stop: stopped for good;
// restart: stopped, then restarted by the monitor whatever the policy.
void act_on_failure(const runtime::Context& ctx, const ImageContainer& c, HealthAction action, const char* request) {
    if (action == HealthAction::None) return;
    std::string why = std::string(request) == "startup" ? "startup healthcheck failed" : "unhealthy";
    log::warn("container " + c.st.id + ": " + why + ", action " + health_action_name(action));
    switch (action) {
        case HealthAction::None: break;
        case HealthAction::Kill: runtime::kill(ctx, c.st.id, "SIGKILL", true); return;
        case HealthAction::Stop:
            update_restart_record(ctx, c.st.id, [](RestartRecord& r) { r.stop_requested = true; });
            break;
        case HealthAction::Restart:
            update_restart_record(ctx, c.st.id, [&](RestartRecord& r) { r.restart_requested = request; });
            break;
    }
    stop_container(ctx, c.st, c.app.stop_timeout_s);
}

// One probe of `c`, recorded; a change of its status to healthy or unhealthy
// is an event ("health_status: healthy", Docker's) and, to unhealthy, the
// --health-on-failure action's cue; a failed startup probe restarts it.
// nullopt: it stopped meanwhile (probe_and_record).
std::optional<HealthState> probe(const runtime::Context& ctx, const ImageContainer& c) {
    std::optional<HealthState> before = health_of(ctx, c.st.id);
    StartupOutcome startup = StartupOutcome::Continue;
    std::optional<HealthState> recorded =
        probe_and_record(ctx, c.st.id, c.st.bundle, *c.app.health, c.app.started_ns, &startup);
    if (!recorded) return std::nullopt;
    const HealthState& after = *recorded;
    bool changed = !before || before->status != after.status;
    if (after.status != "starting" && changed)
        state::append_event(ctx.root, state::container_event(c.st, "health_status: " + after.status));
    if (startup == StartupOutcome::Failed) act_on_failure(ctx, c, HealthAction::Restart, "startup");
    else if (after.status == "unhealthy" && changed) act_on_failure(ctx, c, c.app.on_failure, "health");
    return recorded;
}

}  // namespace

int healthcheck_run(const runtime::Context& ctx, const std::string& id) {
    ImageContainer c = load_image_container(ctx, id);
    if (!c.app.health) throw Error(EINVAL, "container " + id + " has no healthcheck");
    // A paused one is probed, as the monitor's tick may be: the probe that could not run is
    // logged and changes nothing (crun-lite-healthcheck(1)).
    state::Status status = runtime::live_status(state::Store(ctx.root), c.st);
    if (status != state::Status::Running && status != state::Status::Paused)
        throw Error(EINVAL, "container " + id + " is not running");
    std::optional<HealthState> st = probe(ctx, c);
    if (!st) throw Error(EINVAL, "container " + id + " is not running");  // it stopped as it was probed
    const ProbeResult& last = st->log.back();
    if (last.exit_code == 0) return 0;
    // podman's: the status (unhealthy, or starting in the start period) on stdout; the probe's output on stderr.
    if (!last.output.empty()) std::cerr << last.output << (last.output.back() == '\n' ? "" : "\n");
    std::cout << st->status << "\n";
    return 1;
}

int64_t health_tick(const runtime::Context& ctx, const std::string& id) {
    std::optional<ImageContainer> loaded;
    try {
        loaded = load_image_container(ctx, id);
    } catch (const Error&) {
        return -1;  // deleted meanwhile
    }
    ImageContainer& c = *loaded;
    if (!c.app.health || c.app.health->interval_ns == 0) return -1;
    const HealthConfig& hc = *c.app.health;
    state::Store store(ctx.root);
    switch (runtime::live_status(store, c.st)) {
        case state::Status::Running: break;
        case state::Status::Created: return first_tick_ms(c.app);  // created, not started yet: again later
        case state::Status::Paused: return hc.interval_ns / 1'000'000;  // not probed while paused
        default: return -1;
    }
    try {
        std::optional<HealthState> st = probe(ctx, c);
        // Stopped as it was probed: the monitor takes no tick result once the init
        // is gone, and a restarted init's ticks go on from the interval.
        if (!st) return hc.interval_ns / 1'000'000;
        return next_probe_delay(*st, hc, in_start_period(hc, c.app.started_ns)) / 1'000'000;
    } catch (const Error& e) {
        log::warn("healthcheck of " + id + ": " + e.message());
        return hc.interval_ns / 1'000'000;
    }
}

}  // namespace crunlite::app
