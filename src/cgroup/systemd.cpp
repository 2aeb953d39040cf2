#include "crunlite/cgroup/systemd.hpp"

#include <algorithm>
#include <cstdint>
#include <map>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/resources.hpp"

namespace crunlite::cgroup {

namespace {

constexpr uint64_t kInfinity = UINT64_MAX;  // systemd's "infinity" for limits and USec
constexpr uint64_t kDefaultPeriod = 100000;

std::string prop_t(const std::string& name, uint64_t v) { return name + "=t:" + std::to_string(v); }
std::string prop_limit(const std::string& name, int64_t v) { return prop_t(name, v < 0 ? kInfinity : uint64_t(v)); }

// Unit names: no path separators, nothing systemd would have to escape.
void check_unit_part(const std::string& part, const std::string& what, const std::string& cgroups_path) {
    for (char c : part)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' || c == '@'))
            throw Error(EINVAL, "linux.cgroupsPath " + quote(cgroups_path) + ": the " + what + " " + quote(part) +
                                    " has a character systemd does not allow in a unit name");
}

// "0-3,5" -> systemd's CPU/NUMA-node bitmask (ay): byte i holds bits 8i..8i+7.
std::string range_to_bits(const std::string& list, const std::string& field) {
    std::vector<uint8_t> bytes;
    for (const auto& part : split(trim(list), ',')) {
        std::string p = trim(part);
        size_t dash = p.find('-');
        auto lo = parse_int(p.substr(0, dash));
        auto hi = dash == std::string::npos ? lo : parse_int(p.substr(dash + 1));
        if (!lo || !hi || *lo < 0 || *hi < *lo || *hi > 8191)
            throw Error(EINVAL, field + ": bad range " + quote(p) + " in " + quote(list));
        for (int64_t i = *lo; i <= *hi; ++i) {
            if (bytes.size() <= size_t(i / 8)) bytes.resize(i / 8 + 1, 0);
            bytes[i / 8] |= uint8_t(1u << (i % 8));
        }
    }
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (uint8_t b : bytes) out += {hex[b >> 4], hex[b & 15]};
    return out;
}

// CPUQuotaPerSecUSec from a quota per period, rounded up to 10 ms as runc
// does (systemd keeps whole percents).  Quota <= 0: no limit.
std::string cpu_quota(int64_t quota, uint64_t period) {
    uint64_t per_sec = kInfinity;
    if (quota > 0) {
        per_sec = uint64_t(quota) * 1000000 / (period ? period : kDefaultPeriod);
        if (per_sec % 10000) per_sec = (per_sec / 10000 + 1) * 10000;
    }
    return prop_t("CPUQuotaPerSecUSec", per_sec);
}

void map_memory(spec::Resources::Memory& m, std::vector<std::string>& out) {
    if (m.limit) out.push_back(prop_limit("MemoryMax", *m.limit));
    if (m.reservation) out.push_back(prop_limit("MemoryLow", *m.reservation));
    if (m.swap) {
        // OCI's swap is memory+swap; systemd's MemorySwapMax is swap alone.
        if (*m.swap < 0) out.push_back(prop_t("MemorySwapMax", kInfinity));
        else if (!m.limit || *m.limit < 0)
            throw Error(EINVAL, "linux.resources.memory.swap: needs a memory.limit with the systemd cgroup driver");
        else if (*m.swap < *m.limit)
            throw Error(EINVAL, "linux.resources.memory.swap: " + std::to_string(*m.swap) + " is below memory.limit " +
                                    std::to_string(*m.limit));
        else out.push_back(prop_t("MemorySwapMax", uint64_t(*m.swap - *m.limit)));
    }
    m.limit.reset();
    m.reservation.reset();
    m.swap.reset();
}

void map_cpu(spec::Resources::Cpu& c, std::vector<std::string>& out) {
    if (c.shares && *c.shares) out.push_back(prop_t("CPUWeight", shares_to_weight(*c.shares)));
    if (c.period) out.push_back(prop_t("CPUQuotaPeriodUSec", *c.period));
    if (c.quota || c.period) out.push_back(cpu_quota(c.quota.value_or(0), c.period.value_or(kDefaultPeriod)));
    if (!c.cpus.empty()) out.push_back("AllowedCPUs=ay:" + range_to_bits(c.cpus, "linux.resources.cpu.cpus"));
    if (!c.mems.empty()) out.push_back("AllowedMemoryNodes=ay:" + range_to_bits(c.mems, "linux.resources.cpu.mems"));
    c.shares.reset();
    c.quota.reset();
    c.period.reset();
    c.cpus.clear();
    c.mems.clear();
}

// The unified keys systemd has properties for (runc's list); the others stay files.
void map_unified(std::map<std::string, std::string>& unified, std::vector<std::string>& out) {
    static const std::map<std::string, std::string> kMemory = {{"memory.high", "MemoryHigh"},
                                                               {"memory.low", "MemoryLow"},
                                                               {"memory.min", "MemoryMin"},
                                                               {"memory.max", "MemoryMax"},
                                                               {"memory.swap.max", "MemorySwapMax"}};
    for (auto it = unified.begin(); it != unified.end();) {
        const std::string& k = it->first;
        std::string v = trim(it->second), field = "linux.resources.unified." + k;
        auto number = [&](const std::string& text) -> uint64_t {
            if (text == "max") return kInfinity;
            auto n = parse_int(text);
            if (!n || *n < 0) throw Error(EINVAL, field + ": not a number: " + quote(text));
            return uint64_t(*n);
        };
        if (auto m = kMemory.find(k); m != kMemory.end()) out.push_back(prop_t(m->second, number(v)));
        else if (k == "pids.max") out.push_back(prop_t("TasksMax", number(v)));
        else if (k == "cpu.weight") out.push_back(prop_t("CPUWeight", number(v)));
        else if (k == "cpuset.cpus") out.push_back("AllowedCPUs=ay:" + range_to_bits(v, field));
        else if (k == "cpuset.mems") out.push_back("AllowedMemoryNodes=ay:" + range_to_bits(v, field));
        else if (k == "cpu.max") {
            auto f = split(v, ' ');
            std::erase(f, "");
            if (f.empty() || f.size() > 2) throw Error(EINVAL, field + ": want \"QUOTA [PERIOD]\", not " + quote(v));
            uint64_t period = f.size() == 2 ? number(f[1]) : kDefaultPeriod;
            uint64_t quota = number(f[0]);
            out.push_back(prop_t("CPUQuotaPeriodUSec", period));
            out.push_back(cpu_quota(quota == kInfinity ? 0 : int64_t(quota), period));
        } else {
            ++it;
            continue;
        }
        it = unified.erase(it);
    }
}

// A DeviceAllow entry for an allow rule, or "" for rules systemd cannot say ("*:n").
std::string device_entry(const spec::DeviceCgroup& r) {
    std::string group = r.type == "b" ? "block-" : "char-";
    if (!r.major) return r.minor ? "" : group + "*";
    if (!r.minor) return group + std::to_string(*r.major);
    return (r.type == "b" ? "/dev/block/" : "/dev/char/") + std::to_string(*r.major) + ":" + std::to_string(*r.minor);
}

// DevicePolicy and DeviceAllow from the effective rules, replayed as the
// kernel's v1 list would: "a" rules reset to allow-all or deny-all; in
// deny-all, allows add entries and denies remove exact ones.  systemd has no
// deny list: an allow-all with denies becomes strict with nothing allowed (the
// device program, which enforces the rules, still lets the rest through).
void map_devices(const spec::Resources& r, std::vector<std::string>& out) {
    bool allow_all = true, has_denies = false;
    std::vector<std::pair<std::string, std::string>> allowed;  // entry, access
    for (const auto& rule : effective_device_rules(r.devices)) {
        std::string access = rule.access.empty() ? "rwm" : rule.access;
        if (rule.type.empty() || rule.type == "a") {
            allow_all = rule.allow;
            has_denies = false;
            allowed.clear();
            continue;
        }
        if (allow_all) {
            has_denies = has_denies || !rule.allow;
            continue;
        }
        std::string entry = device_entry(rule);
        if (entry.empty()) {
            log::debug("systemd cannot express the device rule " + rule.type + " *:" + std::to_string(*rule.minor));
            continue;
        }
        std::erase_if(allowed, [&](const auto& e) { return e.first == entry; });
        if (rule.allow) allowed.emplace_back(entry, access);
    }
    // An empty DeviceAllow first: SetUnitProperties appends to the list otherwise.
    out.push_back("DeviceAllow=a(ss):");
    if (allow_all && !has_denies) {
        out.push_back("DevicePolicy=s:auto");
        return;
    }
    out.push_back("DevicePolicy=s:strict");
    if (allow_all) return;
    std::string list;
    for (const auto& [entry, access] : allowed) list += (list.empty() ? "" : ",") + entry + " " + access;
    if (!list.empty()) out.push_back("DeviceAllow=a(ss):" + list);
}

}  // namespace

std::string expand_slice(const std::string& slice) {
    const std::string suffix = ".slice";
    if (slice.size() <= suffix.size() || !slice.ends_with(suffix) || slice.find('/') != std::string::npos)
        throw Error(EINVAL, "invalid slice name " + quote(slice));
    std::string name = slice.substr(0, slice.size() - suffix.size());
    if (name == "-") return "/";
    std::string path, prefix;
    for (const auto& part : split(name, '-')) {
        if (part.empty()) throw Error(EINVAL, "invalid slice name " + quote(slice));
        path += "/" + prefix + part + suffix;
        prefix += part + "-";
    }
    return path;
}

SystemdUnit plan_systemd_unit(const std::string& cgroups_path, const std::string& id, bool rootless,
                              const std::string& manager_cgroup) {
    SystemdUnit u;
    u.user = rootless;
    std::string slice, prefix = "crun-lite", name = id;
    if (!cgroups_path.empty()) {
        auto parts = split(cgroups_path, ':');
        if (parts.size() != 3)
            throw Error(EINVAL, "linux.cgroupsPath: expected cgroupsPath to be of format \"slice:prefix:name\" for "
                                "systemd cgroups, got " + quote(cgroups_path) + " instead");
        slice = parts[0];
        prefix = parts[1];
        name = parts[2];
    }
    if (slice.empty()) slice = rootless ? "user.slice" : "system.slice";
    if (name.empty()) throw Error(EINVAL, "linux.cgroupsPath " + quote(cgroups_path) + ": the name is empty");
    if (name.ends_with(".slice"))
        throw Error(EINVAL, "linux.cgroupsPath " + quote(cgroups_path) +
                                ": a slice as the container's unit is not supported; name a scope");
    check_unit_part(prefix, "prefix", cgroups_path);
    check_unit_part(name, "name", cgroups_path);
    u.slice = slice;
    u.name = (prefix.empty() ? "" : prefix + "-") + name + ".scope";
    std::string slice_path = with_context("linux.cgroupsPath", [&] { return expand_slice(slice); });
    std::string base = manager_cgroup == "/" ? "" : manager_cgroup;
    u.cgroup = base + (slice_path == "/" ? "" : slice_path) + "/" + u.name;
    return u;
}

SystemdResources systemd_resources(const spec::Resources& r) {
    SystemdResources out;
    out.rest = r;
    auto& p = out.properties;
    if (!r.devices.empty()) map_devices(r, p);
    if (out.rest.memory) map_memory(*out.rest.memory, p);
    if (out.rest.cpu) map_cpu(*out.rest.cpu, p);
    if (r.pids_limit && *r.pids_limit != 0) {
        p.push_back(prop_limit("TasksMax", *r.pids_limit));
        out.rest.pids_limit.reset();
    }
    if (out.rest.block_io && out.rest.block_io->weight) {
        // blkio.weight 10..1000 -> IOWeight 1..10000, as the io.weight file gets it.
        p.push_back(prop_t("IOWeight", 1 + (uint64_t{*out.rest.block_io->weight} - 10) * 9999 / 990));
        out.rest.block_io->weight.reset();
    }
    map_unified(out.rest.unified, p);
    return out;
}

std::vector<std::string> systemd_unit_properties(const SystemdUnit& unit, const std::string& id) {
    return {"Description=s:crun-lite container " + id,
            "Slice=s:" + unit.slice,
            "Delegate=b:true",
            "MemoryAccounting=b:true",
            "CPUAccounting=b:true",
            "IOAccounting=b:true",
            "TasksAccounting=b:true",
            "DefaultDependencies=b:false"};
}

}  // namespace crunlite::cgroup
