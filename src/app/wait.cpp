#include "crunlite/app/wait.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iostream>

#include "app_record.hpp"
#include "crunlite/app/container_dirs.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/app/restart.hpp"
#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/state/events.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::app {
namespace {

constexpr int64_t kSecond = 1'000'000'000, kMilli = 1'000'000;
// Between polls while a stopped container's exit record is due and no inotify
// watch reports it: the monitor writes it right after reaping, and with --rm
// deletes the container a few milliseconds later.
constexpr int64_t kExitRecordPoll_ns = 10 * kMilli;

bool is_health(WaitCondition c) { return c == WaitCondition::Healthy || c == WaitCondition::Unhealthy; }

// "running or healthy", each name once, in the order given.
std::string names(const std::vector<WaitCondition>& conditions) {
    std::vector<std::string> out;
    for (WaitCondition c : conditions)
        if (std::find(out.begin(), out.end(), wait_condition_name(c)) == out.end()) out.push_back(wait_condition_name(c));
    return join(out, " or ");
}

// "; last probe (exit 1): OUTPUT" when the health log has a probe.
std::string last_probe(const std::optional<HealthState>& health) {
    if (!health || health->log.empty()) return "";
    const ProbeResult& r = health->log.back();
    return "; last probe (exit " + std::to_string(r.exit_code) + "): " + trim(r.output);
}

std::string format_duration(int64_t ns) {
    if (ns % kSecond == 0) return std::to_string(ns / kSecond) + "s";
    if (ns % kMilli == 0) return std::to_string(ns / kMilli) + "ms";
    return std::to_string(ns) + "ns";
}

// The reason when every condition is out of reach (see decide).
std::string impossible_reason(const std::vector<WaitCondition>& conditions, const Observation& o) {
    bool health_wanted = std::any_of(conditions.begin(), conditions.end(), is_health);
    if (!o.exists || o.status == state::Status::Stopped) {
        if (!o.exit_code) {
            if (std::count(conditions.begin(), conditions.end(), WaitCondition::Stopped))
                return "stopped, but no exit code was recorded (the monitor of `run -d` and a foreground `run` "
                       "record one: none was there, or it was gone)";
            return "stopped (no exit code was recorded) before it was " + names(conditions) +
                   (health_wanted ? last_probe(o.health) : "");
        }
        return "exited with code " + std::to_string(*o.exit_code) + " before it was " + names(conditions) +
               (health_wanted ? last_probe(o.health) : "");
    }
    if (!o.health) return "has no healthcheck (waiting for " + names(conditions) + ")";
    if (o.health_stale)
        return "is " + o.health->status + " by a healthcheck that no longer runs (its crun-lite-monitor is gone)" +
               last_probe(o.health);
    return "is unhealthy" + last_probe(o.health);
}

}  // namespace

WaitCondition parse_wait_condition(const std::string& text, const std::string& flag) {
    if (text == "running") return WaitCondition::Running;
    if (text == "healthy") return WaitCondition::Healthy;
    if (text == "unhealthy") return WaitCondition::Unhealthy;
    if (text == "stopped" || text == "exited") return WaitCondition::Stopped;
    throw Error(EINVAL, flag + ": unknown condition " + quote(text) +
                            " (want running, healthy, unhealthy, stopped or exited)");
}

const char* wait_condition_name(WaitCondition c) {
    switch (c) {
        case WaitCondition::Running: return "running";
        case WaitCondition::Healthy: return "healthy";
        case WaitCondition::Unhealthy: return "unhealthy";
        case WaitCondition::Stopped: return "stopped";
    }
    return "stopped";
}

Verdict decide(const std::vector<WaitCondition>& conditions, const Observation& o) {
    Verdict v;
    if (!o.exists && !o.exit_code) {
        v.kind = Verdict::Impossible;
        v.reason = o.seen ? "was deleted while waiting for it to be " + names(conditions) : "does not exist";
        return v;
    }
    // Deleted after its exit code was read (run --rm): it stopped with that code.
    // Stopped but to be restarted: as if it ran on.
    bool stopped = !o.exists || (o.status == state::Status::Stopped && !o.restarting);
    if (stopped && !o.exit_code && !o.exit_overdue) return v;  // the exit record is due
    if (o.exists && o.restarting) return v;                    // running again soon
    bool waiting = false;
    // Stopped, and that is asked for: the exit code, whatever else it still is (unhealthy).
    bool stop_asked = std::find(conditions.begin(), conditions.end(), WaitCondition::Stopped) != conditions.end();
    if (stopped && o.exit_code && stop_asked) {
        v.kind = Verdict::Reached;
        v.exit_code = *o.exit_code;
        return v;
    }
    for (WaitCondition c : conditions) {
        bool reached = false, possible = !stopped;
        if (c == WaitCondition::Stopped) {
            reached = stopped && o.exit_code.has_value();
            possible = !stopped;  // stopped without a record: nobody will write one
        } else if (c == WaitCondition::Running) {
            reached = !stopped && o.status == state::Status::Running;
        } else if (stopped) {
            // It stopped unhealthy (the status inspect shows, as --health-on-failure
            // stop and kill leave it): that was reached.  Stopped is never healthy.
            reached = c == WaitCondition::Unhealthy && o.health && o.health->status == "unhealthy";
        } else {
            std::string want = c == WaitCondition::Healthy ? "healthy" : "unhealthy";
            // A status nothing updates any more (its monitor is gone) is no answer.
            reached = o.health && !o.health_stale && o.health->status == want;
            // Like --wait-healthy: unhealthy ends a wait for healthy.
            possible = o.health && !o.health_stale && !(c == WaitCondition::Healthy && o.health->status == "unhealthy");
        }
        if (reached) {
            v.kind = Verdict::Reached;
            v.exit_code = c == WaitCondition::Stopped ? *o.exit_code : -1;
            return v;
        }
        waiting = waiting || possible;
    }
    if (waiting) return v;
    v.kind = Verdict::Impossible;
    v.reason = impossible_reason(conditions, o);
    return v;
}

std::string timeout_reason(const std::vector<WaitCondition>& conditions, const Observation& o, int64_t timeout_ns) {
    std::string now = std::string("status ") + state::status_name(o.status);
    if (o.status == state::Status::Stopped && !o.exit_code) now += ", its exit code not recorded yet";
    if (o.health) now += ", health " + o.health->status;
    bool health_wanted = std::any_of(conditions.begin(), conditions.end(), is_health);
    return "not " + names(conditions) + " after " + format_duration(timeout_ns) + " (" + now + ")" +
           (health_wanted ? last_probe(o.health) : "");
}

namespace {

int64_t monotonic_ns() {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * kSecond + ts.tv_nsec;
}

// One container being waited for.
struct Watch {
    std::string id;
    std::string created;           // of the container first seen: another one of the same id is not it
    pid_t pid = 0;                 // its init's, as last seen: a restart (the same container) changes it
    bool counts = false;           // this run's exit is one to report: seen running, or started since
    int64_t run_ns = 0;            // this run's start when it is a restart (restart.json), else 0
    bool seen = false, settled = false;
    int64_t stopped_since = -1;    // monotonic ns, when first seen stopped
    sys::UniqueFd pidfd;           // of its running process: readable once it exits
    bool exit_noticed = false;     // the pidfd fired: never open another
    int wd = -1;                   // inotify watch of its state directory
    std::optional<int> exit_code;  // read as soon as recorded: it outlives a deletion (--rm)
    Observation last;
    WaitOutcome outcome;
};

// The polling side of wait_for: observes the containers, sleeps between polls.
class Waiter {
public:
    Waiter(const runtime::Context& ctx, const WaitOptions& o)
        : ctx_(ctx), store_(ctx.root), conditions_(o.conditions), interval_ns_(o.interval_ns) {
        if (conditions_.empty()) conditions_.push_back(WaitCondition::Stopped);
        want_health_ = std::any_of(conditions_.begin(), conditions_.end(), is_health);
        follow_restarts_ = std::all_of(conditions_.begin(), conditions_.end(), is_health);
        watches_.resize(o.ids.size());
        for (size_t i = 0; i < o.ids.size(); ++i) watches_[i].id = watches_[i].outcome.id = o.ids[i];
        // Without inotify (out of instances) the exit record is polled for instead.
        inotify_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    }

    // One poll of every unsettled container; true once all settled.
    bool poll(std::ostream& err);
    // Sleeps until the next poll is due, at most `limit_ns`; earlier when a
    // process exits or an exit code is recorded.
    void pause(int64_t limit_ns);
    void time_out(int64_t timeout_ns, std::ostream& err);
    std::vector<WaitOutcome> outcomes() const;

private:
    Observation observe(Watch& w, int64_t now);
    bool restarted(Watch& w, Observation& o);
    void read_exit_events();

    const runtime::Context& ctx_;
    state::Store store_;
    std::vector<WaitCondition> conditions_;
    int64_t interval_ns_;
    bool want_health_ = false, record_due_ = false;
    // Waiting for health alone: an exit that its monitor restarts is not the end
    // (a service that crashes once before it is healthy, under --restart).
    bool follow_restarts_ = false;
    sys::UniqueFd inotify_;
    std::vector<Watch> watches_;
};

// A new run of a restarted container (app/restart.hpp keeps `created`, the
// pid changes; the state directory stays).  True when the run `w` watched
// exited after the wait began and was restarted before a poll saw it stopped:
// `o` is then that exit (its code read at once through inotify, else from its
// die event).  Otherwise `w` starts afresh with the new run, whose exit counts.
bool Waiter::restarted(Watch& w, Observation& o) {
    std::optional<int> code = w.exit_code;
    if (!code && w.counts && !follow_restarts_) code = state::die_exit_code(ctx_.root, w.id, w.created, w.run_ns);
    if (w.counts && code && !follow_restarts_) {
        o.status = state::Status::Stopped;
        o.exit_code = w.exit_code = code;
        return true;
    }
    w.stopped_since = -1;
    w.exit_noticed = false;
    w.exit_code.reset();
    w.pidfd.reset();
    w.counts = true;
    return false;
}

Observation Waiter::observe(Watch& w, int64_t now) {
    Observation o;
    o.seen = w.seen;
    try {
        state::State st = store_.load(w.id);
        if (w.seen && st.created != w.created) throw Error(ENOENT, "replaced");
        if (!w.seen && inotify_)  // before the first read of the record: no write is missed
            w.wd = ::inotify_add_watch(inotify_.get(), store_.dir(w.id).c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
        if (w.seen && st.pid != w.pid && restarted(w, o)) return o;
        w.seen = true;
        w.created = st.created;
        w.pid = st.pid;
        o.status = runtime::live_status(store_, st);
        if (o.status != state::Status::Stopped) w.counts = true;
        // This run's start first: a die event of a run before it (a restart, a start again) is not its exit.
        std::optional<RestartRecord> record;
        if (st.annotations.count(kImageAnnotation)) {
            try {
                record = read_restart_record(st.bundle);
                w.run_ns = record->started_ns;
            } catch (const Error&) {
                // Being removed: not restarted.
            }
        }
        if (auto code = store_.exit_status(w.id)) w.exit_code = code;
        if (o.status == state::Status::Stopped && !w.exit_code)
            w.exit_code = state::die_exit_code(ctx_.root, w.id, w.created, w.run_ns);
        o.exit_code = w.exit_code;
        if (o.status == state::Status::Stopped) {
            w.pidfd.reset();
            if (w.stopped_since < 0) w.stopped_since = now;
            o.exit_overdue = now - w.stopped_since >= kExitRecordGrace_ns;
        } else if (!w.pidfd && !w.exit_noticed) {
            w.pidfd = runtime::open_init_pidfd(st);
        }
        if (record) {
            const RestartRecord& r = *record;
            // Stopped before the wait began, and to be restarted: its next exit is awaited.
            o.restarting = o.status == state::Status::Stopped && r.restarting && (!w.counts || follow_restarts_);
            // An exit its policy restarts, before the monitor has said so: for a while.
            if (follow_restarts_ && o.status == state::Status::Stopped && !o.restarting && o.exit_code &&
                now - w.stopped_since < kExitRecordGrace_ns) {
                try {
                    RestartPolicy policy = detail::parse_app(st.bundle + "/app.json").restart;
                    o.restarting = decide_restart(policy, r, *o.exit_code, 0).restart;
                } catch (const Error&) {
                    // Being removed: not restarted.
                }
            }
        }
        if (want_health_ && st.annotations.count(kImageAnnotation)) {
            o.health = health_of(ctx_, w.id);
            // A monitor holding the container's lock keeps it current: app.json is
            // read (each poll) only when none does.
            if (o.health && o.status == state::Status::Running && !container_dir_held(st.bundle)) {
                detail::App app = detail::parse_app(st.bundle + "/app.json");
                o.health_stale = app.health && health_stale(*o.health, *app.health, app.started_ns, realtime_ns());
            }
        }
    } catch (const Error& e) {
        if (e.code() != ENOENT) throw;
        o.exists = false;
        // Deleted after its exit was recorded (--rm): read then, or from its die event.
        if (w.seen && !w.exit_code) w.exit_code = state::die_exit_code(ctx_.root, w.id, w.created);
        o.exit_code = w.exit_code;
    }
    return o;
}

bool Waiter::poll(std::ostream& err) {
    record_due_ = false;
    for (auto& w : watches_) {
        if (w.settled) continue;
        Verdict v;
        try {
            w.last = observe(w, monotonic_ns());
            v = decide(conditions_, w.last);
        } catch (const Error& e) {
            v.kind = Verdict::Impossible;
            v.reason = "could not be read: " + e.message();
        }
        if (v.kind == Verdict::Waiting) {
            // A stopped container's exit record is due: polled for when no
            // inotify watch tells us of it.
            record_due_ = record_due_ || (w.last.exists && w.last.status == state::Status::Stopped && w.wd < 0);
            continue;
        }
        w.settled = true;
        w.pidfd.reset();
        w.outcome = {w.id, v.kind == Verdict::Reached, v.exit_code};
        if (v.kind == Verdict::Impossible) err << "container " << w.id << " " << v.reason << std::endl;
    }
    return std::all_of(watches_.begin(), watches_.end(), [](const Watch& w) { return w.settled; });
}

// The exit records written since the last call, read at once: with --rm the
// monitor deletes the container a few milliseconds later.
void Waiter::read_exit_events() {
    alignas(struct inotify_event) char buf[4096];
    ssize_t n;
    while ((n = ::read(inotify_.get(), buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<struct inotify_event*>(p);
            p += sizeof(struct inotify_event) + ev->len;
            if (ev->len == 0 || std::string(ev->name) != "exit") continue;
            for (auto& w : watches_)
                if (w.wd == ev->wd && !w.settled)
                    if (auto code = store_.exit_status(w.id)) w.exit_code = code;
        }
    }
}

void Waiter::pause(int64_t limit_ns) {
    int64_t ns = std::min(limit_ns, record_due_ ? std::min(interval_ns_, kExitRecordPoll_ns) : interval_ns_);
    std::vector<struct pollfd> fds;
    std::vector<Watch*> owners;
    if (inotify_) fds.push_back({inotify_.get(), POLLIN, 0});
    for (auto& w : watches_)
        if (!w.settled && w.pidfd) {
            fds.push_back({w.pidfd.get(), POLLIN, 0});
            owners.push_back(&w);
        }
    struct timespec ts = {static_cast<time_t>(ns / kSecond), static_cast<long>(ns % kSecond)};
    if (::ppoll(fds.data(), fds.size(), &ts, nullptr) <= 0) return;
    size_t first = inotify_ ? 1 : 0;
    if (inotify_ && fds[0].revents) read_exit_events();
    for (size_t i = first; i < fds.size(); ++i)
        if (fds[i].revents) {  // exited: the next poll sees it stopped
            owners[i - first]->pidfd.reset();
            owners[i - first]->exit_noticed = true;
        }
}

void Waiter::time_out(int64_t timeout_ns, std::ostream& err) {
    for (auto& w : watches_)
        if (!w.settled) err << "container " << w.id << " " << timeout_reason(conditions_, w.last, timeout_ns) << std::endl;
}

std::vector<WaitOutcome> Waiter::outcomes() const {
    std::vector<WaitOutcome> out;
    for (const auto& w : watches_) out.push_back(w.outcome);
    return out;
}

}  // namespace

std::vector<WaitOutcome> wait_for(const runtime::Context& ctx, const WaitOptions& o, std::ostream& err) {
    if (o.interval_ns <= 0) throw Error(EINVAL, "wait: the interval must be positive");
    for (const auto& id : o.ids) state::validate_id(id);
    Waiter waiter(ctx, o);
    int64_t deadline = o.timeout_ns ? monotonic_ns() + *o.timeout_ns : -1;
    while (!waiter.poll(err)) {
        int64_t now = monotonic_ns();
        if (deadline >= 0 && now >= deadline) {
            waiter.time_out(*o.timeout_ns, err);
            break;
        }
        waiter.pause(deadline >= 0 ? deadline - now : INT64_MAX);
    }
    return waiter.outcomes();
}

int wait_healthy(const runtime::Context& ctx, const std::string& id, int64_t timeout_ns) {
    WaitOptions o;
    o.ids = {id};
    o.conditions = {WaitCondition::Healthy};
    o.interval_ns = 100 * kMilli;
    o.timeout_ns = timeout_ns;
    return wait_for(ctx, o, std::cerr).front().reached ? 0 : 1;
}

}  // namespace crunlite::app
