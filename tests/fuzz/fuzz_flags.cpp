// The docker-like flag values `run --image` parses: --env-file contents, -v,
// -p, durations, signals, capability lists, --format templates.  Input: one value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/json/template.hpp"
#include "crunlite/runtime/container.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/app/slirp.hpp"

using namespace crunlite;

template <typename F>
void quietly(F f) {
    try {
        f();
    } catch (const Error&) {
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string s(reinterpret_cast<const char*>(data), size);
    quietly([&] { app::parse_env_file(s, "env"); });
    quietly([&] { app::parse_volume(s, "/work"); });
    quietly([&] { app::parse_port(s); });
    quietly([&] { app::parse_duration(s, "--health-interval"); });
    quietly([&] { runtime::parse_signal(s); });
    quietly([&] { app::adjust_capabilities({"CAP_KILL", "CAP_CHOWN"}, {s}, {"CAP_KILL"}); });
    static const json::Document doc =
        json::parse(R"({"Id":"c","State":{"Pid":1,"Log":[{"A":1},{"A":"x"}],"H":null},"L":{"a.b":"c"}})", "inspect");
    quietly([&] { json::render_template(s, doc.root()); });
    return 0;
}
