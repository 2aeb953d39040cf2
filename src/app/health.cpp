#include "crunlite/app/health.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::app {
namespace {

constexpr size_t kMaxOutput = 4096;
constexpr size_t kMaxLog = 5;

// Runs `test` in the container through `exec` in a child process, whose
// output comes back on a pipe.  exec itself SIGKILLs the probe's process group
// at the timeout; should exec hang, we SIGKILL it 2 s later and the probe dies
// with it (kill_with_parent).  A probe that ran past the timeout failed.
ProbeResult run_probe(const runtime::Context& ctx, const std::string& id, const HealthConfig& config) {
    ProbeResult r;
    r.start = rfc3339_utc_now();
    sys::Pipe pipe = sys::Pipe::make();
    sys::Child child = sys::Child::fork("fork healthcheck", [&] {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        ::dup2(devnull, 0);
        ::dup2(pipe.write.get(), 1);
        ::dup2(pipe.write.get(), 2);
        int code = 125;
        try {
            runtime::ExecOptions opts;
            opts.id = id;
            opts.args = config.test;
            // Past the timeout exec kills the probe's process group; if exec
            // itself hangs, we SIGKILL it and the probe dies with it.
            opts.kill_with_parent = true;
            opts.timeout_ns = config.timeout_ns;
            code = runtime::exec(ctx, opts);
        } catch (const Error& e) {
            ::dprintf(2, "healthcheck: %s\n", e.message().c_str());
        } catch (...) {  // never unwind out of the forked probe
            ::dprintf(2, "healthcheck: unexpected error\n");
        }
        return code;
    });
    pipe.write.reset();
    sys::UniqueFd out = std::move(pipe.read);
    ::fcntl(out.get(), F_SETFL, O_NONBLOCK);
    int64_t started = monotonic_ms(), timeout_ms = config.timeout_ns / 1'000'000;
    int64_t deadline = started + timeout_ms + 2000;  // exec kills the probe at the timeout itself
    bool timed_out = false;
    // Output until EOF, or until exec exits: a probe's descendant that escaped
    // its process group (setsid) may hold the pipe open forever.
    bool pidfd = child.pidfd() >= 0;
    auto drain = [&] {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(out.get(), buf, sizeof buf)) > 0)
            if (r.output.size() < kMaxOutput)
                r.output.append(buf, std::min(static_cast<size_t>(n), kMaxOutput - r.output.size()));
        return n == 0;  // EOF
    };
    for (;;) {
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd[2] = {{out.get(), POLLIN, 0}, {child.pidfd(), POLLIN, 0}};
        if (::poll(pfd, pidfd ? 2 : 1, static_cast<int>(std::min<int64_t>(left, INT_MAX))) <= 0) continue;
        if (pfd[0].revents && drain()) break;
        if (pidfd && pfd[1].revents) {
            drain();
            break;
        }
    }
    if (timed_out) child.kill(SIGKILL);  // exec did not end it in time; the probe dies with it
    int status = child.wait();
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (timed_out || monotonic_ms() - started >= timeout_ms) {
        r.exit_code = -1;
        r.output = "Health check exceeded timeout (" +
                   (timeout_ms % 1000 ? std::to_string(timeout_ms) + "ms" : std::to_string(timeout_ms / 1000) + "s") + ")";
    }
    r.end = rfc3339_utc_now();
    return r;
}

}  // namespace

std::optional<HealthConfig> health_config(const std::optional<image::Healthcheck>& image,
                                          const HealthOverrides& o) {
    if (o.disable) return std::nullopt;
    HealthConfig c;
    std::vector<std::string> test;
    if (image) {
        test = image->test;
        if (image->interval_ns > 0) c.interval_ns = image->interval_ns;
        if (image->timeout_ns > 0) c.timeout_ns = image->timeout_ns;
        if (image->start_period_ns > 0) c.start_period_ns = image->start_period_ns;
        if (image->start_interval_ns > 0) c.start_interval_ns = image->start_interval_ns;
        if (image->retries > 0) c.retries = image->retries;
    }
    if (o.cmd) test = {"CMD-SHELL", *o.cmd};
    if (o.interval_ns) c.interval_ns = *o.interval_ns;
    if (o.timeout_ns) c.timeout_ns = *o.timeout_ns;
    if (o.start_period_ns) c.start_period_ns = *o.start_period_ns;
    if (o.start_interval_ns) c.start_interval_ns = *o.start_interval_ns;
    if (o.retries) c.retries = *o.retries;
    if (test.empty() || test[0] == "NONE") return std::nullopt;
    if (test[0] == "CMD-SHELL") {
        if (test.size() != 2) throw Error(EINVAL, "Healthcheck.Test: CMD-SHELL takes exactly one command string");
        c.test = {"/bin/sh", "-c", test[1]};
    } else if (test[0] == "CMD") {
        if (test.size() < 2) throw Error(EINVAL, "Healthcheck.Test: CMD needs a command");
        c.test.assign(test.begin() + 1, test.end());
    } else {
        throw Error(EINVAL, "Healthcheck.Test: unknown form " + quote(test[0]) + " (want CMD, CMD-SHELL or NONE)");
    }
    if (c.interval_ns < 1'000'000 || c.timeout_ns < 1'000'000 || c.start_interval_ns < 1'000'000)
        throw Error(EINVAL, "healthcheck: interval, timeout and start interval must be at least 1ms");
    if (c.retries < 1) throw Error(EINVAL, "healthcheck: retries must be at least 1");
    return c;
}

void record_probe(HealthState& state, const HealthConfig& config, const ProbeResult& result, bool in_start_period) {
    state.log.push_back(result);
    while (state.log.size() > kMaxLog) state.log.pop_front();
    if (result.exit_code == 0) {
        state.status = "healthy";
        state.failing_streak = 0;
        return;
    }
    // Docker: failures in the start period do not count until the first success.
    if (in_start_period && state.status == "starting") return;
    if (++state.failing_streak >= config.retries) state.status = "unhealthy";
}

bool in_start_period(const HealthConfig& config, int64_t started_ns) {
    return realtime_ns() - started_ns < config.start_period_ns;
}

int64_t next_probe_delay(const HealthState& state, const HealthConfig& config, bool in_start_period) {
    return in_start_period && state.status == "starting" ? config.start_interval_ns : config.interval_ns;
}

std::string health_json(const HealthState& s) {
    json::Writer w(false);
    w.begin_object();
    w.key("Status").string(s.status);
    w.key("FailingStreak").integer(s.failing_streak);
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
    for (const auto& e : root.at("Log").elements())
        s.log.push_back({e.get_string("Start"), e.get_string("End"), e.get_int32("ExitCode"), e.get_string("Output")});
    return s;
}

std::string health_config_json(const HealthConfig& c) {
    json::Writer w(false);
    w.begin_object();
    w.key("Test").string_array(c.test);
    w.key("Interval").integer(c.interval_ns).key("Timeout").integer(c.timeout_ns);
    w.key("StartPeriod").integer(c.start_period_ns).key("StartInterval").integer(c.start_interval_ns);
    w.key("Retries").integer(c.retries);
    w.end_object();
    return w.result();
}

HealthConfig parse_health_config(const json::Value& root) {
    HealthConfig c;
    c.test = root.at("Test").as_string_array();
    c.interval_ns = root.get_int64("Interval");
    c.timeout_ns = root.get_int64("Timeout");
    c.start_period_ns = root.get_int64("StartPeriod");
    c.start_interval_ns = root.get_int64("StartInterval");
    c.retries = root.get_int32("Retries");
    return c;
}

HealthState probe_and_record(const runtime::Context& ctx, const std::string& id, const std::string& bundle,
                             const HealthConfig& config, int64_t started_ns) {
    ProbeResult result = run_probe(ctx, id, config);
    bool in_start = in_start_period(config, started_ns);
    std::string path = bundle + "/health.json";
    sys::UniqueFd lock(::open((bundle + "/health.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock) throw_errno("open " + quote(bundle + "/health.lock"));
    while (::flock(lock.get(), LOCK_EX) < 0 && errno == EINTR) {}
    HealthState state;
    if (::access(path.c_str(), F_OK) == 0) state = parse_health_json(read_file(path), path);
    record_probe(state, config, result, in_start);
    write_file_atomic(path, health_json(state), 0644);
    return state;
}

}  // namespace crunlite::app
