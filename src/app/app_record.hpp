// Private to src/app/: what the verbs after `run --image` and `create --image`
// know of an image container, its <bundle>/app.json (written by
// image_run.cpp when the container is made, read by container_verbs.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/app/health.hpp"
#include "crunlite/app/restart.hpp"
#include "crunlite/runtime/container.hpp"
#include "crunlite/state/store.hpp"

namespace crunlite::app::detail {

// A bind or volume of -v or the image's Volumes (inspect's Mounts; volume rm).
struct MountRecord {
    std::string type;  // "bind" or "volume"
    std::string name;  // a named volume's; "" for binds and anonymous volumes
    std::string source, destination;
    bool rw = true;
};

// What the later verbs need to know about an image container (app.json).
struct App {
    std::string image;        // image id
    std::string stop_signal;  // "" = SIGTERM
    int stop_timeout_s = 10;  // stop's default wait before SIGKILL (--stop-timeout)
    std::optional<HealthConfig> health;
    int64_t started_ns = 0;  // the current run's start (rewritten at each restart)
    std::string network;
    RestartPolicy restart;                         // --restart
    HealthAction on_failure = HealthAction::None;  // --health-on-failure
    std::vector<MountRecord> mounts;
};

std::string app_json(const App& a);
// Throws Error naming `path` for a file that is not app.json.
App parse_app(const std::string& path);
// A run of the container in `bundle` starts at `ns` (start, a restart): app.json rewritten.
void record_run_start(const std::string& bundle, App& app, int64_t ns);

// The image container `id`: its state and app.json.  Throws for a container
// that was not made from an image.
struct ImageContainer {
    state::State st;
    App app;
};
ImageContainer load_image_container(const runtime::Context& ctx, const std::string& id);

// The delay of the first healthcheck tick (-1: the container has none).
int64_t first_tick_ms(const App& app);

}  // namespace crunlite::app::detail
