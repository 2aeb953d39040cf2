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
        for (auto& w : plan_device_rules(r->devices)) writes.push_back(w);
    else
        plan.device_program = device_program(effective_device_rules(r->devices));
    return writes;
}

// The systemd driver: the unit, and the config as the cgroup files still see
// it (the unit's cgroup as an absolute cgroupsPath, resources systemd does not
// set).  systemd makes the unit's cgroup2 directory, so it may always be "made".
const spec::Linux& plan_systemd(Plan& plan, HostCgroups& host, const spec::Linux& config, spec::Linux& rest,
                                const std::string& id, bool rootless, const std::string& where) {
    if (!host.systemd_manager_cgroup) return config;
    SystemdUnit unit = with_context(
        where, [&] { return plan_systemd_unit(config.cgroups_path, id, rootless, *host.systemd_manager_cgroup); });
    unit.properties = systemd_unit_properties(unit, id);
    rest = config;
    rest.cgroups_path = unit.cgroup;
    if (config.resources) {
        SystemdResources r = with_context(where, [&] { return systemd_resources(*config.resources); });
        unit.properties.insert(unit.properties.end(), r.properties.begin(), r.properties.end());
        rest.resources = std::move(r.rest);
    }
    if (host.layout.has_unified)
        host.may_create = [unified = host.layout.unified.mount + unit.cgroup, may = host.may_create](const std::string& d) {
            return d == unified || may(d);
        };
    plan.systemd = std::move(unit);
    return rest;
}

}  // namespace

Plan plan(const HostCgroups& host_facts, const spec::Linux& original, const std::string& id, bool rootless,
          const std::string& where) {
    Plan plan;
    HostCgroups host = host_facts;
    spec::Linux rest;
    const spec::Linux& config = plan_systemd(plan, host, original, rest, id, rootless, where);
    if (plan.systemd) host.layout.v1.erase("name=systemd");  // systemd places its unit there itself
    Paths paths =
        with_context(where, [&] { return plan_paths(host.layout, host.may_create, config.cgroups_path, id); });
    // Without a cgroup of its own (rootless, none delegated) it stays in ours: a
    // `cgroup` mount shows ours then, as runc's does, not the host's whole tree.
    for (auto& h : v1_hierarchy_dirs(host.layout, paths.empty() ? own_paths(host.layout) : paths)) {
        // A link only where a controller's name differs (none for name=systemd's "systemd").
        std::erase_if(h.controllers, [&](const std::string& c) { return c == h.name || c.rfind("name=", 0) == 0; });
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
        destroy(plan.paths, false, k);  // nothing of the container is in them yet
        throw;
    }
}

}  // namespace crunlite::cgroup
