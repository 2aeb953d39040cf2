#include "crunlite/cgroup/resources.hpp"

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"

namespace crunlite::cgroup {
namespace {

std::string max_or(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

std::string dev(int64_t major, int64_t minor) { return std::to_string(major) + ":" + std::to_string(minor); }

}  // namespace

uint64_t shares_to_weight(uint64_t shares) {
    if (shares == 0) return 0;
    if (shares < 2) shares = 2;
    if (shares > 262144) shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

std::vector<Write> plan_resources(const spec::Resources& r, const std::function<bool(const std::string&)>& on_v2) {
    std::vector<Write> out;
    auto add = [&](const std::string& controller, const std::string& file, const std::string& value) {
        bool v2 = on_v2(controller);
        std::string hierarchy = !v2 && controller == "io" ? "blkio" : controller;
        out.push_back({hierarchy, v2, file, value});
    };
    auto v2 = [&](const char* c) { return on_v2(c); };

    if (r.memory) {
        const auto& m = *r.memory;
        if (v2("memory")) {
            if (m.limit) add("memory", "memory.max", max_or(*m.limit));
            if (m.reservation) add("memory", "memory.low", max_or(*m.reservation));
            if (m.swap) {
                // OCI's swap is memory+swap; v2's swap.max is swap alone.
                if (*m.swap < 0) add("memory", "memory.swap.max", "max");
                else if (!m.limit || *m.limit < 0)
                    throw Error(EINVAL, "linux.resources.memory.swap: needs a memory.limit on cgroup v2");
                else if (*m.swap < *m.limit)
                    throw Error(EINVAL, "linux.resources.memory.swap: " + std::to_string(*m.swap) +
                                            " is below memory.limit " + std::to_string(*m.limit));
                else add("memory", "memory.swap.max", std::to_string(*m.swap - *m.limit));
            }
            if (m.disable_oom_killer && *m.disable_oom_killer)
                throw Error(EINVAL, "linux.resources.memory.disableOOMKiller: not available on cgroup v2");
            if (m.kernel_tcp)
                throw Error(EINVAL, "linux.resources.memory.kernelTCP: not available on cgroup v2");
            if (m.use_hierarchy && !*m.use_hierarchy)
                throw Error(EINVAL, "linux.resources.memory.useHierarchy: cgroup v2 is always hierarchical");
        } else {
            if (m.limit) add("memory", "memory.limit_in_bytes", std::to_string(*m.limit));
            if (m.reservation) add("memory", "memory.soft_limit_in_bytes", std::to_string(*m.reservation));
            if (m.swap) add("memory", "memory.memsw.limit_in_bytes", std::to_string(*m.swap));
            if (m.swappiness) add("memory", "memory.swappiness", std::to_string(*m.swappiness));
            if (m.disable_oom_killer) add("memory", "memory.oom_control", *m.disable_oom_killer ? "1" : "0");
            if (m.kernel_tcp) add("memory", "memory.kmem.tcp.limit_in_bytes", std::to_string(*m.kernel_tcp));
            if (m.use_hierarchy) add("memory", "memory.use_hierarchy", *m.use_hierarchy ? "1" : "0");
        }
        // runtime-spec: deprecated (no kernel since 5.4 limits it), "may be ignored by runtimes".
        if (m.kernel) log::warn("linux.resources.memory.kernel: deprecated and ignored (the kernel no longer limits kernel memory)");
    }
    if (r.pids_limit) add("pids", "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max");
    if (r.cpu) {
        const auto& c = *r.cpu;
        if (v2("cpu")) {
            if (c.shares && *c.shares) add("cpu", "cpu.weight", std::to_string(shares_to_weight(*c.shares)));
            if (c.quota || c.period)
                add("cpu", "cpu.max", max_or(c.quota.value_or(-1)) + " " + std::to_string(c.period.value_or(100000)));
            if (c.burst) add("cpu", "cpu.max.burst", std::to_string(*c.burst));
            if (c.idle) add("cpu", "cpu.idle", std::to_string(*c.idle));
            if (c.realtime_period || c.realtime_runtime)
                throw Error(EINVAL, std::string("linux.resources.cpu.") +
                                        (c.realtime_period ? "realtimePeriod" : "realtimeRuntime") +
                                        ": not available on cgroup v2");
        } else {
            if (c.shares) add("cpu", "cpu.shares", std::to_string(*c.shares));
            if (c.period) add("cpu", "cpu.cfs_period_us", std::to_string(*c.period));
            if (c.quota) add("cpu", "cpu.cfs_quota_us", std::to_string(*c.quota));
            if (c.realtime_period) add("cpu", "cpu.rt_period_us", std::to_string(*c.realtime_period));
            if (c.realtime_runtime) add("cpu", "cpu.rt_runtime_us", std::to_string(*c.realtime_runtime));
            if (c.burst) add("cpu", "cpu.cfs_burst_us", std::to_string(*c.burst));
            if (c.idle) add("cpu", "cpu.idle", std::to_string(*c.idle));
        }
        if (!c.cpus.empty()) add("cpuset", "cpuset.cpus", c.cpus);
        if (!c.mems.empty()) add("cpuset", "cpuset.mems", c.mems);
    }
    if (r.block_io) {
        const auto& b = *r.block_io;
        bool io2 = v2("io");
        if (b.weight) {
            // blkio.weight 10..1000 -> io.weight 1..10000
            if (io2) add("io", "io.weight", "default " + std::to_string(1 + (uint64_t{*b.weight} - 10) * 9999 / 990));
            else add("io", "blkio.weight", std::to_string(*b.weight));
        }
        if (b.leaf_weight) {
            if (io2) throw Error(EINVAL, "linux.resources.blockIO.leafWeight: not available on cgroup v2");
            add("io", "blkio.leaf_weight", std::to_string(*b.leaf_weight));
        }
        for (size_t i = 0; i < b.weight_device.size(); ++i) {
            const auto& d = b.weight_device[i];
            if (d.weight) add("io", io2 ? "io.weight" : "blkio.weight_device", dev(d.major, d.minor) + " " + std::to_string(*d.weight));
            if (d.leaf_weight) {
                if (io2)
                    throw Error(EINVAL, "linux.resources.blockIO.weightDevice[" + std::to_string(i) +
                                            "].leafWeight: not available on cgroup v2");
                add("io", "blkio.leaf_weight_device", dev(d.major, d.minor) + " " + std::to_string(*d.leaf_weight));
            }
        }
        struct Throttle {
            const std::vector<spec::ThrottleDevice>* devs;
            const char* v1_file;
            const char* v2_key;
        } throttles[] = {
            {&b.throttle_read_bps, "blkio.throttle.read_bps_device", "rbps"},
            {&b.throttle_write_bps, "blkio.throttle.write_bps_device", "wbps"},
            {&b.throttle_read_iops, "blkio.throttle.read_iops_device", "riops"},
            {&b.throttle_write_iops, "blkio.throttle.write_iops_device", "wiops"},
        };
        for (const auto& t : throttles)
            for (const auto& d : *t.devs)
                add("io", io2 ? "io.max" : t.v1_file,
                    dev(d.major, d.minor) + (io2 ? std::string(" ") + t.v2_key + "=" : " ") + std::to_string(d.rate));
    }
    // net_cls and net_prio exist only on cgroup v1: where they are not mounted,
    // the caller reports "no net_cls cgroup here" (root) or drops them (rootless).
    if (r.network) {
        if (r.network->class_id) add("net_cls", "net_cls.classid", std::to_string(*r.network->class_id));
        for (const auto& [iface, prio] : r.network->priorities)
            add("net_prio", "net_prio.ifpriomap", iface + " " + std::to_string(prio));
    }
    for (const auto& [device, limit] : r.rdma) {
        std::string value = device;
        if (limit.hca_handles) value += " hca_handle=" + std::to_string(*limit.hca_handles);
        if (limit.hca_objects) value += " hca_object=" + std::to_string(*limit.hca_objects);
        add("rdma", "rdma.max", value);
    }
    for (const auto& h : r.hugepage_limits)
        add("hugetlb", "hugetlb." + h.page_size + (v2("hugetlb") ? ".max" : ".limit_in_bytes"), std::to_string(h.limit));
    for (const auto& [key, value] : r.unified) {
        // cgroup v2 files by name; the controller is the part before the first dot.
        size_t dot = key.find('.');
        if (dot == std::string::npos || key.find('/') != std::string::npos)
            throw Error(EINVAL, "linux.resources.unified: invalid key " + key);
        std::string controller = key.substr(0, dot);
        if (controller == "cgroup") out.push_back({"", true, key, value});
        else if (!v2(controller.c_str()))
            throw Error(EINVAL, "linux.resources.unified." + key + ": controller " + controller +
                                    " is not available on cgroup v2 here");
        else add(controller, key, value);
    }
    return out;
}

std::vector<spec::DeviceCgroup> effective_device_rules(const std::vector<spec::DeviceCgroup>& rules,
                                                       const std::vector<spec::Device>& devices) {
    std::vector<spec::DeviceCgroup> out;
    for (size_t i = 0; i < rules.size(); ++i) {
        const auto& r = rules[i];
        if (!r.type.empty() && r.type != "a" && r.type != "c" && r.type != "b")
            throw Error(EINVAL, "linux.resources.devices[" + std::to_string(i) + "].type: must be a, c or b");
        out.push_back(r);
    }
    static const int64_t kDefault[][2] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}};
    for (const auto& d : kDefault) out.push_back({true, "c", d[0], d[1], "rwm"});
    out.push_back({true, "c", 136, std::nullopt, "rwm"});  // /dev/pts/*
    for (const auto& d : devices)
        if (d.type == "c" || d.type == "b" || d.type == "u")
            out.push_back({true, d.type == "b" ? "b" : "c", d.major, d.minor, "rwm"});
    return out;
}

std::vector<Write> plan_device_rules(const std::vector<spec::DeviceCgroup>& rules,
                                     const std::vector<spec::Device>& devices) {
    std::vector<Write> out;
    for (const auto& r : effective_device_rules(rules, devices)) {
        std::string t = r.type.empty() ? "a" : r.type;
        std::string spec = t == "a" ? "a" : t + " " + (r.major ? std::to_string(*r.major) : "*") + ":" +
                                                (r.minor ? std::to_string(*r.minor) : "*") + " " +
                                                (r.access.empty() ? "rwm" : r.access);
        out.push_back(Write{"devices", false, r.allow ? "devices.allow" : "devices.deny", spec});
    }
    return out;
}

}  // namespace crunlite::cgroup
