#include "crunlite/cgroup/plan.hpp"

#include <algorithm>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"

namespace crunlite::cgroup {

namespace {

// linux.resources as writes, with the device rules as writes (v1) or a
// program (v2: into plan.device_program).
std::vector<Write> plan_limits(Plan& plan, const HostCgroups& host, const spec::Linux& config, bool rootless,
                               const std::string& where) {
    const auto& r = config.resources;
    if (!r) return {};
    std::vector<Write> writes = with_context(where, [&] {
        return plan_resources(*r, [&](const std::string& c) { return host.v2_controllers.count(c) > 0; });
    });
    if (r->devices.empty()) return writes;
    if (rootless)
        log::debug("linux.resources.devices: not applied rootless");
    else if (host.layout.v1.count("devices"))
        for (auto& w : plan_device_rules(r->devices, config.devices)) writes.push_back(w);
    else
        plan.device_program = device_program(effective_device_rules(r->devices, config.devices));
    return writes;
}

}  // namespace

Plan plan(const HostCgroups& host, const spec::Linux& config, const std::string& id, bool rootless,
          const std::string& where) {
    Plan plan;
    Paths paths =
        with_context(where, [&] { return plan_paths(host.layout, host.may_create, config.cgroups_path, id); });
    for (auto& h : v1_hierarchy_dirs(host.layout, paths)) {
        std::erase(h.controllers, h.name);  // a link only where the name differs
        plan.view.push_back(std::move(h));
    }
    for (auto& w : plan_limits(plan, host, config, rootless, where)) {
        bool have = w.v2 ? !paths.unified.empty() : paths.v1.count(w.controller) > 0;
        if (have)
            plan.writes.push_back(std::move(w));
        else if (rootless)
            plan.warnings.push_back(where + ": linux.resources: " + w.file + " not applied: the " + w.controller +
                                    " cgroup controller is not delegated to this user");
        else
            throw Error(ENOTSUP, where + ": linux.resources: " + w.file + ": no " + w.controller + " cgroup here");
    }
    if (paths.empty()) return plan;
    if (!plan.device_program.empty() && paths.unified.empty())
        throw Error(ENOTSUP, where + ": linux.resources.devices: no cgroup to attach the device program to");
    plan.paths = std::move(paths);
    return plan;
}

void make(const Plan& plan, sys::Kernel& k) {
    if (plan.paths.empty()) return;
    try {
        create(plan.paths, plan.writes, k);
        if (!plan.device_program.empty()) attach_device_program(plan.paths.unified, plan.device_program);
    } catch (...) {
        destroy(plan.paths, k);
        throw;
    }
}

}  // namespace crunlite::cgroup
