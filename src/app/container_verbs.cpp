// The verbs of an image container after it was made (stop, logs, inspect,
// healthcheck run, the monitor's tick) and its app.json record
// (app_record.hpp).  Run in the caller's process (and, for the tick, in the
// child the monitor starts).
#include <fcntl.h>
#include <unistd.h>

#include <iostream>

#include "app_record.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/state/events.hpp"

namespace crunlite::app {
namespace detail {

std::string app_json(const App& a) {
    json::Writer w(false);
    w.begin_object();
    w.key("image").string(a.image);
    w.key("stopSignal").string(a.stop_signal);
    w.key("started").integer(a.started_ns);
    w.key("network").string(a.network);
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
    a.started_ns = root.get_int64("started");
    a.network = root.get_string("network");
    if (auto h = root.find("healthcheck")) a.health = parse_health_config(*h);
    return a;
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
    if (!app.health) return -1;
    return next_probe_delay(HealthState{}, *app.health, in_start_period(*app.health, app.started_ns)) / 1'000'000;
}

}  // namespace detail

using detail::App;
using detail::first_tick_ms;
using detail::ImageContainer;
using detail::load_image_container;
using detail::parse_app;

void stop(const runtime::Context& ctx, const std::string& id, int timeout_s) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
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
    runtime::kill(ctx, id, sig, false);
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

void logs(const runtime::Context& ctx, const std::string& id, bool follow) {
    state::Store store(ctx.root);
    ImageContainer c = load_image_container(ctx, id);
    std::string path = c.st.bundle + "/ctr.log";
    sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) throw Error(ENOENT, "container " + id + " has no log (it was not run detached)");
        throw_errno("open " + quote(path));
    }
    char buf[65536];
    for (;;) {
        // Decided before reading, so the last read has all a stopped container wrote.
        bool last = !follow || !store.exists(id) || store.status(c.st) == state::Status::Stopped;
        ssize_t n;
        while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) std::cout.write(buf, n);
        std::cout.flush();
        if (last) return;
        ::usleep(100'000);
    }
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
    json::Writer w(false);
    w.begin_object();
    w.key("Status").string(state::status_name(status));
    w.key("Pid").integer(status == state::Status::Stopped ? 0 : c.st.pid);
    if (auto code = store.exit_status(id)) w.key("ExitCode").integer(*code);
    w.end_object();
    std::string state_obj = w.result();
    if (auto h = health_of(ctx, id)) state_obj.insert(state_obj.size() - 1, ",\"Health\":" + health_json(*h));
    json::Writer head(false);
    head.begin_object();
    head.key("Id").string(id).key("Created").string(c.st.created).key("Image").string(c.app.image);
    head.key("Bundle").string(c.st.bundle).key("Network").string(c.app.network);
    head.end_object();
    std::string out = head.result();
    out.pop_back();
    out += ",\"State\":" + state_obj;
    if (c.app.health) out += ",\"Healthcheck\":" + health_config_json(*c.app.health);
    out += ",\"Config\":" + trim(read_file(c.st.config_path)) + "}";
    return out;
}

namespace {

// One probe of `c`, recorded; a change of its status to healthy or unhealthy
// is an event ("health_status: healthy", Docker's).
HealthState probe(const runtime::Context& ctx, const ImageContainer& c) {
    std::optional<HealthState> before = health_of(ctx, c.st.id);
    HealthState after = probe_and_record(ctx, c.st.id, c.st.bundle, *c.app.health, c.app.started_ns);
    if (after.status != "starting" && (!before || before->status != after.status))
        state::append_event(ctx.root, state::container_event(c.st, "health_status: " + after.status));
    return after;
}

}  // namespace

int healthcheck_run(const runtime::Context& ctx, const std::string& id) {
    ImageContainer c = load_image_container(ctx, id);
    if (!c.app.health) throw Error(EINVAL, "container " + id + " has no healthcheck");
    if (state::Store(ctx.root).status(c.st) != state::Status::Running) throw Error(EINVAL, "container not running");
    HealthState st = probe(ctx, c);
    const ProbeResult& last = st.log.back();
    if (last.exit_code == 0) return 0;
    if (!last.output.empty()) std::cout << last.output << (last.output.back() == '\n' ? "" : "\n");
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
    if (!c.app.health) return -1;
    const HealthConfig& hc = *c.app.health;
    switch (state::Store(ctx.root).status(c.st)) {
        case state::Status::Running: break;
        case state::Status::Created: return first_tick_ms(c.app);  // created, not started yet: again later
        default: return -1;
    }
    try {
        HealthState st = probe(ctx, c);
        return next_probe_delay(st, hc, in_start_period(hc, c.app.started_ns)) / 1'000'000;
    } catch (const Error& e) {
        log::warn("healthcheck of " + id + ": " + e.message());
        return hc.interval_ns / 1'000'000;
    }
}

}  // namespace crunlite::app
