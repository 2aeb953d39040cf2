// config.json as the runtime reads it: parse, validate, then every pure planner
// that consumes it (mounts, cgroup writes, device rules, scheduling syscalls'
// arguments).  Anything but crunlite::Error is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/cgroup/resources.hpp"
#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/spec/sched.hpp"
#include "crunlite/spec/validate.hpp"

using namespace crunlite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        spec::Config c = spec::parse_config(text, "config.json");
        spec::validate(c, "config.json");
        if (!c.linux) c.linux.emplace();
        linux::MountPlanInput in;
        in.bundle = "/b";
        linux::plan_mounts(c, in);
        if (c.linux->resources) {
            for (bool v2 : {false, true}) {
                try {
                    cgroup::plan_resources(*c.linux->resources, [v2](const std::string&) { return v2; });
                } catch (const Error&) {
                }
            }
            cgroup::plan_device_rules(c.linux->resources->devices);
        }
        if (c.process && c.process->scheduler) spec::sched_attr_for(*c.process->scheduler);
        if (c.linux->memory_policy) spec::mempolicy_for(*c.linux->memory_policy);
    } catch (const Error&) {
    }
    return 0;
}
