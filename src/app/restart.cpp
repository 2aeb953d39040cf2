// Restart policies and the restart record (app/restart.hpp): the pure rules,
// restart.json, and what `crun-lite monitor exited` does after an exit (runs
// in that child of the detached monitor).
#include "crunlite/app/restart.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "app_record.hpp"
#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/state/events.hpp"
#include "crunlite/state/store.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::app {

RestartPolicy parse_restart_policy(const std::string& text, const std::string& flag) {
    RestartPolicy p;
    size_t colon = text.find(':');
    p.name = text.substr(0, colon);
    if (p.name != "no" && p.name != "on-failure" && p.name != "always" && p.name != "unless-stopped")
        throw Error(EINVAL, flag + ": unknown restart policy " + quote(p.name) +
                                " (want no, on-failure[:N], always or unless-stopped)");
    if (colon == std::string::npos) return p;
    std::string count = text.substr(colon + 1);
    if (p.name != "on-failure")
        throw Error(EINVAL, flag + ": a maximum retry count (" + quote(count) + ") applies to on-failure only, not to " +
                                p.name);
    auto n = parse_int(count);
    if (!n || *n < 0 || *n > 1'000'000)
        throw Error(EINVAL, flag + ": on-failure:N: N must be a number of restarts 0-1000000 (0: no limit), not " +
                                quote(count));
    p.max_retries = static_cast<int>(*n);
    return p;
}

HealthAction parse_health_action(const std::string& text, const std::string& flag) {
    for (HealthAction a : {HealthAction::None, HealthAction::Kill, HealthAction::Restart, HealthAction::Stop})
        if (text == health_action_name(a)) return a;
    throw Error(EINVAL, flag + ": unknown action " + quote(text) + " (want none, kill, restart or stop)");
}

const char* health_action_name(HealthAction a) {
    switch (a) {
        case HealthAction::Kill: return "kill";
        case HealthAction::Restart: return "restart";
        case HealthAction::Stop: return "stop";
        case HealthAction::None: break;
    }
    return "none";
}

void check_restart_flags(const RestartPolicy& policy, std::optional<HealthAction> on_failure,
                         const HealthOverrides& health, bool detach, bool remove, const std::string& verb) {
    std::vector<std::string> restarting;
    if (policy.name != "no") restarting.push_back("--restart " + policy.name);
    if (on_failure == HealthAction::Restart) restarting.push_back("--health-on-failure restart");
    if (health.startup_retries > 0)
        restarting.push_back("--health-startup-retries " + std::to_string(*health.startup_retries));
    for (const auto& flag : restarting) {
        if (remove)
            throw Error(EINVAL, verb + ": " + flag + " conflicts with --rm (a container to restart is not deleted when it exits)");
        if (!detach)
            throw Error(EINVAL, verb + ": " + flag + " needs run -d (the monitor of a detached container restarts it)");
    }
    if (on_failure && health.disable) throw Error(EINVAL, verb + ": --health-on-failure conflicts with --no-healthcheck");
}

bool may_restart(const RestartPolicy& policy, HealthAction on_failure, const std::optional<HealthConfig>& health) {
    return policy.name != "no" || on_failure == HealthAction::Restart ||
           (health && health->startup && health->startup->retries > 0);
}

std::string restart_record_json(const RestartRecord& r) {
    json::Writer w(false);
    w.begin_object();
    w.key("RestartCount").integer(r.restart_count).key("Backoff").integer(r.backoff_ms);
    w.key("StopRequested").boolean(r.stop_requested).key("RestartRequested").string(r.restart_requested);
    w.key("Restarting").boolean(r.restarting);
    if (r.exit_code) w.key("ExitCode").integer(*r.exit_code);
    w.key("FinishedAt").string(r.finished_at).key("StartedAt").integer(r.started_ns);
    if (!r.error.empty()) w.key("Error").string(r.error);
    w.end_object();
    return w.result();
}

RestartRecord parse_restart_record(const std::string& text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    json::Value root = doc.root();
    RestartRecord r;
    r.restart_count = root.get_int32("RestartCount");
    r.backoff_ms = root.get_int64("Backoff");
    r.stop_requested = root.get_bool("StopRequested");
    r.restart_requested = root.get_string("RestartRequested");
    r.restarting = root.get_bool("Restarting");
    r.exit_code = root.find_int32("ExitCode");
    r.finished_at = root.get_string("FinishedAt");
    r.started_ns = root.get_int64("StartedAt");
    if (auto e = root.find("Error")) r.error = e->as_string();
    if (r.restart_count < 0) root.at("RestartCount").fail("must not be negative");
    if (r.backoff_ms < 0 || r.backoff_ms > kMaxBackoff_ms) root.at("Backoff").fail("must be 0-60000 (ms)");
    if (!r.restart_requested.empty() && r.restart_requested != "health" && r.restart_requested != "startup")
        root.at("RestartRequested").fail("want \"\", health or startup");
    return r;
}

int64_t next_backoff_ms(int64_t previous_ms, int64_t ran_ms) {
    if (previous_ms <= 0 || ran_ms >= kBackoffReset_ms) return kFirstBackoff_ms;
    return std::min(previous_ms * 2, kMaxBackoff_ms);
}

RestartDecision decide_restart(const RestartPolicy& policy, const RestartRecord& record, int exit_code, int64_t ran_ms) {
    RestartDecision d;
    if (record.stop_requested) {
        d.why = "a stop was requested";
        return d;
    }
    if (!record.restart_requested.empty()) {
        d.why = record.restart_requested == "startup" ? "the startup healthcheck failed" : "the container turned unhealthy";
    } else if (policy.name == "no") {
        d.why = "restart policy no";
        return d;
    } else if (policy.name == "on-failure") {
        if (exit_code == 0) {
            d.why = "on-failure: exit code 0";
            return d;
        }
        if (policy.max_retries > 0 && record.restart_count >= policy.max_retries) {
            d.why = "on-failure:" + std::to_string(policy.max_retries) + ": restarted " +
                    std::to_string(record.restart_count) + " times already";
            return d;
        }
        d.why = "on-failure: exit code " + std::to_string(exit_code);
    } else {
        d.why = policy.name;
    }
    d.restart = true;
    d.delay_ms = next_backoff_ms(record.backoff_ms, ran_ms);
    return d;
}

namespace {

std::string record_path(const std::string& bundle) { return bundle + "/restart.json"; }

// An exclusive flock of <bundle>/restart.lock, held while the fd lives.
sys::UniqueFd lock_record(const std::string& bundle) {
    std::string path = bundle + "/restart.lock";
    sys::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw_errno("open " + quote(path));
    while (::flock(fd.get(), LOCK_EX) < 0)
        if (errno != EINTR) throw_errno("lock " + quote(path));
    return fd;
}

void write_record(const std::string& bundle, const RestartRecord& r) {
    write_file_atomic(record_path(bundle), restart_record_json(r), 0644);
}

}  // namespace

RestartRecord read_restart_record(const std::string& bundle) {
    std::string path = record_path(bundle);
    if (::access(path.c_str(), F_OK) != 0) return RestartRecord{};
    return parse_restart_record(read_file(path), path);
}

bool restarting(const runtime::Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    return st.annotations.count(state::kImageAnnotation) && store.status(st) == state::Status::Stopped &&
           read_restart_record(st.bundle).restarting;
}

namespace {

// The record's read-change-write under its lock; call with the state lock held.
RestartRecord change_record(const std::string& bundle, const std::function<void(RestartRecord&)>& change) {
    sys::UniqueFd lock = lock_record(bundle);
    RestartRecord r = read_restart_record(bundle);
    change(r);
    write_record(bundle, r);
    return r;
}

}  // namespace

std::optional<RestartRecord> update_restart_record(const runtime::Context& ctx, const std::string& id,
                                                   const std::function<void(RestartRecord&)>& change) {
    state::Store store(ctx.root);
    sys::UniqueFd lock;
    state::State st;
    try {
        lock = store.lock(id);
        st = store.load(id);
    } catch (const Error& e) {
        if (e.code() == ENOENT) return std::nullopt;
        throw;
    }
    return change_record(st.bundle, change);
}

namespace {

// Sleeps `delay_ms`, waking early (inotify on the bundle) to return false as
// soon as a stop is requested or the container's files are being removed.
// The loop's restart is over (done, refused or abandoned): nothing is due any more.
void end_restart(RestartRecord& r) {
    r.restarting = false;
    r.restart_requested.clear();
}

bool wait_backoff(const std::string& bundle, int64_t delay_ms) {
    sys::UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (in) ::inotify_add_watch(in.get(), bundle.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF);
    int64_t deadline = monotonic_ms() + delay_ms;
    for (;;) {
        if (::access((bundle + "/app.json").c_str(), F_OK) != 0) return false;
        try {
            if (read_restart_record(bundle).stop_requested) return false;
        } catch (const Error&) {
            return false;  // half removed
        }
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) return true;
        struct pollfd p = {in.get(), POLLIN, 0};
        // Without inotify (out of instances): polled every 100 ms.
        ::poll(&p, in ? 1 : 0, static_cast<int>(in ? left : std::min<int64_t>(left, 100)));
        char buf[4096];
        while (in && ::read(in.get(), buf, sizeof buf) > 0) {}
    }
}

// Whether `st` is still the container of that id (not deleted, nor replaced by another).
bool same_container(const runtime::Context& ctx, const state::State& st) {
    try {
        return state::Store(ctx.root).load(st.id).created == st.created;
    } catch (const Error&) {
        return false;
    }
}

// After a restart: the run starts afresh for the healthcheck (start period,
// status "starting", the startup probe) and for the backoff.
void reset_run(const detail::ImageContainer& c, detail::App& app, int64_t now_ns) {
    detail::record_run_start(c.st.bundle, app, now_ns);
    ::unlink((c.st.bundle + "/health.json").c_str());
}

// The restart itself, by the runtime under the state lock (a `stop` or
// `delete` waits for it, then acts on the new run), unless a stop was
// requested meanwhile; the record is updated under that lock too.
std::optional<Restarted> recreate_now(const runtime::Context& ctx, detail::ImageContainer& c, pid_t pid,
                                      uint64_t start_time, int code, int netns_fd, int userns_fd, pid_t monitor) {
    runtime::CreateOptions opts;
    opts.id = c.st.id;
    if (netns_fd >= 0) opts.join_namespaces["network"] = "/proc/self/fd/" + std::to_string(netns_fd);
    if (userns_fd >= 0) opts.join_namespaces["user"] = "/proc/self/fd/" + std::to_string(userns_fd);
    int64_t now = realtime_ns();
    RestartRecord r;
    // Our parent is the monitor: killed meanwhile, nobody would watch the new run.
    bool orphaned = ::getppid() != monitor;
    auto proceed = [&] {
        r = change_record(c.st.bundle, [&](RestartRecord& rec) {
            if (rec.stop_requested || orphaned) end_restart(rec);
        });
        if (orphaned) log::error("container " + c.st.id + " not restarted: its monitor is gone");
        if (r.stop_requested || orphaned) return false;
        reset_run(c, c.app, now);
        return true;
    };
    auto started = [&](const state::State&) {
        r = change_record(c.st.bundle, [&](RestartRecord& rec) {
            rec.restart_count++;
            end_restart(rec);
            rec.started_ns = now;
            rec.error.clear();
        });
    };
    int64_t last_start = c.app.started_ns;
    std::optional<state::State> st;
    try {
        st = runtime::recreate(ctx, opts, pid, start_time, proceed, started);
    } catch (const Error& e) {
        if (!same_container(ctx, c.st)) return std::nullopt;  // deleted or replaced meanwhile
        // The container stays as the run that ended left it (its exit and times),
        // the reason in its log and in inspect's State.Error.
        log::error("container " + c.st.id + " not restarted: " + e.message());
        runtime::restore_exit_record(ctx, c.st, code);
        detail::record_run_start(c.st.bundle, c.app, last_start);
        update_restart_record(ctx, c.st.id, [&](RestartRecord& rec) {
            end_restart(rec);
            rec.error = e.message();
        });
        return std::nullopt;
    }
    if (!st) return std::nullopt;
    state::Event ev = state::container_event(*st, "restart");
    ev.attributes["restartCount"] = std::to_string(r.restart_count);
    state::append_event(ctx.root, std::move(ev));
    return Restarted{st->pid, st->start_time, detail::first_tick_ms(c.app)};
}

}  // namespace

std::optional<Restarted> container_exited(const runtime::Context& ctx, const std::string& id, pid_t pid,
                                          uint64_t start_time, int status, bool remove, int netns_fd, int userns_fd) {
    std::optional<detail::ImageContainer> loaded;
    if (!remove) {
        try {
            loaded = detail::load_image_container(ctx, id);
            if (loaded->st.pid != pid || loaded->st.start_time != start_time) loaded.reset();
        } catch (const Error&) {
            // Deleted meanwhile, or a bundle container: recorded (or not) as ever.
        }
    }
    pid_t monitor = ::getppid();
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    // An init that died before `start` (create --image, then kill or stop): the
    // policy applies from start on, as Docker's.
    bool never_started = ::access(state::Store(ctx.root).fifo_path(id).c_str(), F_OK) == 0;
    RestartDecision d;
    // Decided (and "Restarting" recorded) before the exit is: `wait` never
    // sees an exit record without knowing whether a restart follows.
    if (loaded) {
        detail::ImageContainer& c = *loaded;
        update_restart_record(ctx, id, [&](RestartRecord& r) {
            int64_t started = r.started_ns > 0 ? r.started_ns : c.app.started_ns;
            d = decide_restart(c.app.restart, r, code, (realtime_ns() - started) / 1'000'000);
            if (never_started) d = RestartDecision{false, 0, "it never started"};
            r.exit_code = code;
            r.finished_at = rfc3339_utc_now();
            r.restarting = d.restart;
            if (d.restart) r.backoff_ms = d.delay_ms;
            else r.restart_requested.clear();
        });
        log::debug("container " + id + " exited with " + std::to_string(code) + ": " +
                   (d.restart ? "restart in " + std::to_string(d.delay_ms) + " ms (" + d.why + ")"
                              : "no restart (" + d.why + ")"));
    }
    runtime::monitor_exited(ctx, id, pid, start_time, status, remove);
    if (!d.restart) return std::nullopt;
    detail::ImageContainer& c = *loaded;
    if (!wait_backoff(c.st.bundle, d.delay_ms)) {
        update_restart_record(ctx, id, end_restart);
        return std::nullopt;
    }
    return recreate_now(ctx, c, pid, start_time, code, netns_fd, userns_fd, monitor);
}

}  // namespace crunlite::app
