#include "crunlite/cgroup/resources.hpp"

#include <algorithm>
#include <set>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"

namespace crunlite::cgroup {
namespace {

std::string max_or(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

std::string dev(int64_t major, int64_t minor) { return std::to_string(major) + ":" + std::to_string(minor); }

// The writes being planned, each through the hierarchy that owns its controller.
class Planner {
public:
    Planner(std::vector<Write>& out, const std::function<bool(const std::string&)>& on_v2)
        : out_(out), on_v2_(on_v2) {}
    bool v2(const std::string& controller) const { return on_v2_(controller); }
    // `field`: where in linux.resources the value comes from ("memory.limit").
    Write& add(const std::string& field, const std::string& controller, const std::string& file,
               const std::string& value, bool optional = false) {
        bool v2 = on_v2_(controller);
        std::string hierarchy = !v2 && controller == "io" ? "blkio" : controller;
        return out_.emplace_back(Write{hierarchy, v2, file, value, optional, false, "linux.resources." + field});
    }
    // A v2 core file ("cgroup.*"), which no controller owns.
    void add_core(const std::string& field, const std::string& file, const std::string& value) {
        out_.push_back({"", true, file, value, false, false, "linux.resources." + field});
    }

private:
    std::vector<Write>& out_;
    const std::function<bool(const std::string&)>& on_v2_;
};

void plan_memory_v2(Planner& p, const spec::Resources::Memory& m) {
    if (m.limit) p.add("memory.limit", "memory", "memory.max", max_or(*m.limit));
    if (m.reservation) p.add("memory.reservation", "memory", "memory.low", max_or(*m.reservation));
    if (m.swap) {
        // OCI's swap is memory+swap; v2's swap.max is swap alone.
        if (*m.swap < 0) p.add("memory.swap", "memory", "memory.swap.max", "max");
        else if (!m.limit || *m.limit < 0)
            throw Error(EINVAL, "linux.resources.memory.swap: needs a memory.limit on cgroup v2");
        else if (*m.swap < *m.limit)
            throw Error(EINVAL, "linux.resources.memory.swap: " + std::to_string(*m.swap) +
                                    " is below memory.limit " + std::to_string(*m.limit));
        else p.add("memory.swap", "memory", "memory.swap.max", std::to_string(*m.swap - *m.limit));
    }
    if (m.disable_oom_killer && *m.disable_oom_killer)
        throw Error(EINVAL, "linux.resources.memory.disableOOMKiller: not available on cgroup v2");
    if (m.kernel_tcp)
        throw Error(EINVAL, "linux.resources.memory.kernelTCP: not available on cgroup v2");
    if (m.swappiness)
        throw Error(EINVAL, "linux.resources.memory.swappiness: not available on cgroup v2");
    if (m.use_hierarchy && !*m.use_hierarchy)
        throw Error(EINVAL, "linux.resources.memory.useHierarchy: cgroup v2 is always hierarchical");
}

void plan_memory_v1(Planner& p, const spec::Resources::Memory& m) {
    // The kernel keeps memsw at or above the memory limit: a new pair may
    // need either written first (runc orders them by the current limit).
    if (m.limit) p.add("memory.limit", "memory", "memory.limit_in_bytes", std::to_string(*m.limit)).reorder = true;
    // As runc: no memory limit, and no swap given, is no swap limit either.
    if (m.limit && *m.limit == -1 && !m.swap)
        p.add("memory.swap", "memory", "memory.memsw.limit_in_bytes", "-1", true).reorder = true;
    if (m.reservation)
        p.add("memory.reservation", "memory", "memory.soft_limit_in_bytes", std::to_string(*m.reservation));
    if (m.swap) p.add("memory.swap", "memory", "memory.memsw.limit_in_bytes", std::to_string(*m.swap)).reorder = true;
    // As runc: -1 (as the uint64 it is in the spec) leaves it; above 100 the kernel would refuse it.
    if (m.swappiness && *m.swappiness > 100 && *m.swappiness != ~uint64_t{0})
        throw Error(EINVAL,
                    "invalid memory swappiness value: " + std::to_string(*m.swappiness) + " (valid range is 0-100)");
    if (m.swappiness && *m.swappiness <= 100)
        p.add("memory.swappiness", "memory", "memory.swappiness", std::to_string(*m.swappiness));
    if (m.disable_oom_killer)
        p.add("memory.disableOOMKiller", "memory", "memory.oom_control", *m.disable_oom_killer ? "1" : "0");
    if (m.kernel_tcp)
        p.add("memory.kernelTCP", "memory", "memory.kmem.tcp.limit_in_bytes", std::to_string(*m.kernel_tcp));
    // Kernels since 5.11 are always hierarchical and refuse 0 (runc leaves it unwritten).
    if (m.use_hierarchy && !*m.use_hierarchy)
        log::warn("linux.resources.memory.useHierarchy: false is not applied (memory cgroups are always hierarchical)");
    else if (m.use_hierarchy) p.add("memory.useHierarchy", "memory", "memory.use_hierarchy", "1");
}

void plan_memory(Planner& p, const spec::Resources::Memory& m) {
    if (p.v2("memory")) plan_memory_v2(p, m);
    else plan_memory_v1(p, m);
    // runtime-spec: deprecated (no kernel since 5.4 limits it), "may be ignored by runtimes".
    if (m.kernel)
        log::warn("linux.resources.memory.kernel: deprecated and ignored (the kernel no longer limits kernel memory)");
}

void plan_cpu_v2(Planner& p, const spec::Resources::Cpu& c) {
    if (c.shares && *c.shares) p.add("cpu.shares", "cpu", "cpu.weight", std::to_string(shares_to_weight(*c.shares)));
    if (c.quota || c.period)
        p.add(c.quota ? "cpu.quota" : "cpu.period", "cpu", "cpu.max",
              max_or(c.quota.value_or(-1)) + " " + std::to_string(c.period.value_or(100000)));
    if (c.burst) p.add("cpu.burst", "cpu", "cpu.max.burst", std::to_string(*c.burst));
    if (c.idle) p.add("cpu.idle", "cpu", "cpu.idle", std::to_string(*c.idle));
    if (c.realtime_period || c.realtime_runtime)
        throw Error(EINVAL, std::string("linux.resources.cpu.") +
                                (c.realtime_period ? "realtimePeriod" : "realtimeRuntime") +
                                ": not available on cgroup v2");
}

void plan_cpu_v1(Planner& p, const spec::Resources::Cpu& c) {
    // The kernel clamps to [2, 262144]; runc reads the value back and refuses, in these words.
    if (c.shares && *c.shares < 2)
        throw Error(EINVAL, "linux.resources.cpu.shares: the minimum allowed cpu-shares is 2");
    if (c.shares && *c.shares > 262144)
        throw Error(EINVAL, "linux.resources.cpu.shares: the maximum allowed cpu-shares is 262144");
    if (c.shares) p.add("cpu.shares", "cpu", "cpu.shares", std::to_string(*c.shares));
    // A shorter period with the old quota may exceed the parent's quota (EINVAL):
    // with a new quota too, the period is written again after it, as runc does.
    if (c.period)
        p.add("cpu.period", "cpu", "cpu.cfs_period_us", std::to_string(*c.period)).reorder = c.quota.has_value();
    if (c.quota) p.add("cpu.quota", "cpu", "cpu.cfs_quota_us", std::to_string(*c.quota));
    if (c.realtime_period) p.add("cpu.realtimePeriod", "cpu", "cpu.rt_period_us", std::to_string(*c.realtime_period));
    if (c.realtime_runtime)
        p.add("cpu.realtimeRuntime", "cpu", "cpu.rt_runtime_us", std::to_string(*c.realtime_runtime));
    if (c.burst) p.add("cpu.burst", "cpu", "cpu.cfs_burst_us", std::to_string(*c.burst));
    if (c.idle) p.add("cpu.idle", "cpu", "cpu.idle", std::to_string(*c.idle));
}

// The cpu controller, then cpuset (the same OCI object).
void plan_cpu(Planner& p, const spec::Resources::Cpu& c) {
    if (p.v2("cpu")) plan_cpu_v2(p, c);
    else plan_cpu_v1(p, c);
    if (!c.cpus.empty()) p.add("cpu.cpus", "cpuset", "cpuset.cpus", c.cpus);
    if (!c.mems.empty()) p.add("cpu.mems", "cpuset", "cpuset.mems", c.mems);
}

void plan_block_io_weights(Planner& p, const spec::Resources::BlockIO& b, bool io2) {
    if (b.weight) {
        // blkio.weight 10..1000 -> io.weight 1..10000
        if (io2)
            p.add("blockIO.weight", "io", "io.weight",
                  "default " + std::to_string(1 + (uint64_t{*b.weight} - 10) * 9999 / 990));
        else p.add("blockIO.weight", "io", "blkio.weight", std::to_string(*b.weight));
    }
    if (b.leaf_weight) {
        if (io2) throw Error(EINVAL, "linux.resources.blockIO.leafWeight: not available on cgroup v2");
        p.add("blockIO.leafWeight", "io", "blkio.leaf_weight", std::to_string(*b.leaf_weight));
    }
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
        const auto& d = b.weight_device[i];
        std::string field = "blockIO.weightDevice[" + std::to_string(i) + "]";
        if (d.weight)
            p.add(field + ".weight", "io", io2 ? "io.weight" : "blkio.weight_device",
                  dev(d.major, d.minor) + " " + std::to_string(*d.weight));
        if (d.leaf_weight) {
            if (io2)
                throw Error(EINVAL, "linux.resources.blockIO.weightDevice[" + std::to_string(i) +
                                        "].leafWeight: not available on cgroup v2");
            p.add(field + ".leafWeight", "io", "blkio.leaf_weight_device",
                  dev(d.major, d.minor) + " " + std::to_string(*d.leaf_weight));
        }
    }
}

void plan_block_io_throttles(Planner& p, const spec::Resources::BlockIO& b, bool io2) {
    struct Throttle {
        const std::vector<spec::ThrottleDevice>* devs;
        const char* field;
        const char* v1_file;
        const char* v2_key;
    } throttles[] = {
        {&b.throttle_read_bps, "throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"},
        {&b.throttle_write_bps, "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"},
        {&b.throttle_read_iops, "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"},
        {&b.throttle_write_iops, "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"},
    };
    for (const auto& t : throttles)
        for (size_t i = 0; i < t.devs->size(); ++i)
            p.add(std::string("blockIO.") + t.field + "[" + std::to_string(i) + "]", "io", io2 ? "io.max" : t.v1_file,
                  dev((*t.devs)[i].major, (*t.devs)[i].minor) + (io2 ? std::string(" ") + t.v2_key + "=" : " ") +
                      std::to_string((*t.devs)[i].rate));
}

void plan_block_io(Planner& p, const spec::Resources::BlockIO& b) {
    bool io2 = p.v2("io");
    plan_block_io_weights(p, b, io2);
    plan_block_io_throttles(p, b, io2);
}

// net_cls and net_prio exist only on cgroup v1: where they are not mounted,
// the caller reports "no net_cls cgroup here" (root) or drops them (rootless).
void plan_network(Planner& p, const spec::Resources::Network& n) {
    if (n.class_id) p.add("network.classID", "net_cls", "net_cls.classid", std::to_string(*n.class_id));
    for (const auto& [iface, prio] : n.priorities)
        p.add("network.priorities", "net_prio", "net_prio.ifpriomap", iface + " " + std::to_string(prio));
}

void plan_rdma(Planner& p, const std::map<std::string, spec::Resources::RdmaLimit>& rdma) {
    for (const auto& [device, limit] : rdma) {
        std::string value = device;
        if (limit.hca_handles) value += " hca_handle=" + std::to_string(*limit.hca_handles);
        if (limit.hca_objects) value += " hca_object=" + std::to_string(*limit.hca_objects);
        p.add("rdma", "rdma", "rdma.max", value);
    }
}

void plan_hugetlb(Planner& p, const std::vector<spec::HugepageLimit>& limits) {
    for (const auto& h : limits)
        p.add("hugepageLimits", "hugetlb", "hugetlb." + h.page_size + (p.v2("hugetlb") ? ".max" : ".limit_in_bytes"),
              std::to_string(h.limit));
}

void plan_unified(Planner& p, const std::map<std::string, std::string>& unified) {
    for (const auto& [key, value] : unified) {
        // cgroup v2 files by name; the controller is the part before the first dot.
        size_t dot = key.find('.');
        if (dot == std::string::npos || key.find('/') != std::string::npos)
            throw Error(EINVAL, "linux.resources.unified: invalid key " + key);
        std::string controller = key.substr(0, dot);
        // The core files that are limits; the others (cgroup.procs, .freeze, .kill,
        // .subtree_control, .type...) are the runtime's to write, never a config's.
        static const std::set<std::string> kCoreLimits = {"cgroup.max.depth", "cgroup.max.descendants",
                                                          "cgroup.pressure"};
        if (controller == "cgroup" && !kCoreLimits.count(key))
            throw Error(EINVAL, "linux.resources.unified." + key +
                                    ": not a limit (of the cgroup.* files only cgroup.max.depth, "
                                    "cgroup.max.descendants and cgroup.pressure are)");
        if (controller == "cgroup") p.add_core("unified." + key, key, value);
        else if (!p.v2(controller))
            throw Error(EINVAL, "linux.resources.unified." + key + ": controller " + controller +
                                    " is not available on cgroup v2 here");
        else p.add("unified." + key, controller, key, value);
    }
}

// runc's reading of a resource that is 0 (or ""): not set.  Its update
// template is all zeros ("unchanged values can be omitted"), and callers that
// serialise every field send zeros for what they leave alone; writing them
// starved a container (cpu.shares 2), lifted a pids limit, or failed (a quota
// or memory limit of 0).
spec::Resources without_zeros(spec::Resources r) {
    auto unset = [](auto& field) {
        if (field && *field == 0) field.reset();
    };
    if (auto& m = r.memory) {
        for (auto* f : {&m->limit, &m->reservation, &m->swap, &m->kernel, &m->kernel_tcp}) unset(*f);
    }
    if (auto& c = r.cpu) {
        for (auto* f : {&c->shares, &c->period, &c->realtime_period}) unset(*f);
        for (auto* f : {&c->quota, &c->realtime_runtime}) unset(*f);
    }
    unset(r.pids_limit);
    if (auto& b = r.block_io) {
        unset(b->weight);
        unset(b->leaf_weight);
        for (auto& d : b->weight_device) {
            unset(d.weight);
            unset(d.leaf_weight);
        }
    }
    if (auto& n = r.network) unset(n->class_id);
    return r;
}

}  // namespace

uint64_t shares_to_weight(uint64_t shares) {
    if (shares == 0) return 0;
    if (shares < 2) shares = 2;
    if (shares > 262144) shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

std::vector<Write> plan_resources(const spec::Resources& given, const std::function<bool(const std::string&)>& on_v2) {
    spec::Resources r = without_zeros(given);
    std::vector<Write> out;
    Planner p(out, on_v2);
    if (r.memory) plan_memory(p, *r.memory);
    if (r.pids_limit)
        p.add("pids.limit", "pids", "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max");
    if (r.cpu) plan_cpu(p, *r.cpu);
    if (r.block_io) plan_block_io(p, *r.block_io);
    if (r.network) plan_network(p, *r.network);
    plan_rdma(p, r.rdma);
    plan_hugetlb(p, r.hugepage_limits);
    plan_unified(p, r.unified);
    return out;
}

std::vector<std::string> limit_fields(const spec::Resources& given) {
    spec::Resources r = given;
    r.unified.clear();
    std::vector<std::string> out;
    try {
        for (const auto& w : plan_resources(r, [](const std::string&) { return false; }))
            if (std::find(out.begin(), out.end(), w.field) == out.end()) out.push_back(w.field);
    } catch (const Error&) {  // a value no cgroup would take: all of them, then
        return {"linux.resources"};
    }
    for (const auto& [key, value] : given.unified) out.push_back("linux.resources.unified." + key);
    return out;
}

std::vector<spec::DeviceCgroup> effective_device_rules(const std::vector<spec::DeviceCgroup>& rules) {
    std::vector<spec::DeviceCgroup> out;
    for (size_t i = 0; i < rules.size(); ++i) {
        const auto& r = rules[i];
        if (!r.type.empty() && r.type != "a" && r.type != "c" && r.type != "b")
            throw Error(EINVAL, "linux.resources.devices[" + std::to_string(i) + "].type: must be a, c or b");
        out.push_back(r);
    }
    // runc's allowed devices, in its order: mknod of any node (the nodes made
    // are still refused their use), the default nodes, /dev/pts/*, ptmx, tun.
    out.push_back({true, "c", std::nullopt, std::nullopt, "m"});
    out.push_back({true, "b", std::nullopt, std::nullopt, "m"});
    static const int64_t kDefault[][2] = {{1, 3}, {1, 8}, {1, 7}, {5, 0}, {1, 5}, {1, 9}};
    for (const auto& d : kDefault) out.push_back({true, "c", d[0], d[1], "rwm"});
    out.push_back({true, "c", 136, std::nullopt, "rwm"});  // /dev/pts/*
    out.push_back({true, "c", 5, 2, "rwm"});              // /dev/ptmx
    out.push_back({true, "c", 10, 200, "rwm"});           // /dev/net/tun
    return out;
}

std::vector<Write> plan_device_rules(const std::vector<spec::DeviceCgroup>& rules) {
    std::vector<Write> out;
    for (const auto& r : effective_device_rules(rules)) {
        std::string t = r.type.empty() ? "a" : r.type;
        std::string spec = t == "a" ? "a" : t + " " + (r.major ? std::to_string(*r.major) : "*") + ":" +
                                                (r.minor ? std::to_string(*r.minor) : "*") + " " +
                                                (r.access.empty() ? "rwm" : r.access);
        out.push_back(Write{"devices", false, r.allow ? "devices.allow" : "devices.deny", spec, false, false,
                            "linux.resources.devices"});
    }
    return out;
}

}  // namespace crunlite::cgroup
