// `events --stats`: runc's stats event, with its fields and their omissions
// (runc's types/events.go: "omitempty" fields are left out at zero, the others
// always written), read from whichever hierarchy holds each controller.
#include <unistd.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::cgroup {
namespace {

constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();  // v2's "max", as runc reports it

std::optional<std::string> read_text(const std::string& dir, const std::string& file) {
    if (dir.empty()) return std::nullopt;
    try {
        return read_file(dir + "/" + file);
    } catch (const Error&) {
        return std::nullopt;
    }
}

// A number from a cgroup file; "max" is `max_value`; missing files: nullopt.
std::optional<uint64_t> read_number(const std::string& dir, const std::string& file,
                                    std::optional<uint64_t> max_value = std::nullopt) {
    std::optional<std::string> text = read_text(dir, file);
    if (!text) return std::nullopt;
    std::string t = trim(*text);
    return t == "max" ? max_value : parse_uint(t);
}

// The "key value" lines of a flat-keyed file (cpu.stat, memory.stat, ...).
std::map<std::string, uint64_t> read_keyed(const std::string& dir, const std::string& file) {
    std::map<std::string, uint64_t> out;
    if (auto text = read_text(dir, file))
        for (const auto& line : split(*text, '\n')) {
            size_t sp = line.find(' ');
            if (sp == std::string::npos) continue;
            if (auto v = parse_uint(line.substr(sp + 1))) out[line.substr(0, sp)] = *v;
        }
    return out;
}

std::optional<uint64_t> read_key(const std::string& dir, const std::string& file, const std::string& key) {
    auto m = read_keyed(dir, file);
    auto it = m.find(key);
    return it == m.end() ? std::nullopt : std::optional<uint64_t>(it->second);
}

// Numbers separated by blanks (cpuacct.usage_percpu).
std::vector<uint64_t> read_numbers(const std::string& dir, const std::string& file) {
    std::vector<uint64_t> out;
    if (auto text = read_text(dir, file))
        for (const auto& f : split(trim(*text), ' '))
            if (auto v = parse_uint(f)) out.push_back(*v);
    return out;
}

// A cpuset list ("0-3,5") as its members; nothing for a malformed one.
std::vector<uint64_t> read_cpu_list(const std::string& dir, const std::string& file) {
    std::vector<uint64_t> out;
    std::optional<std::string> text = read_text(dir, file);
    if (!text) return out;
    for (const auto& part : split(trim(*text), ',')) {
        if (part.empty()) continue;
        size_t dash = part.find('-');
        auto lo = parse_uint(part.substr(0, dash));
        auto hi = dash == std::string::npos ? lo : parse_uint(part.substr(dash + 1));
        if (!lo || !hi || *hi < *lo || *hi >= 65536) return {};
        for (uint64_t c = *lo; c <= *hi; ++c) out.push_back(c);
    }
    return out;
}

std::string v1_dir(const Paths& p, const char* controller) {
    auto it = p.v1.find(controller);
    return it == p.v1.end() ? "" : it->second;
}

// Go's omitempty: a zero (or missing) value is left out.
void put_nonzero(json::Writer& w, const char* key, std::optional<uint64_t> v) {
    if (v && *v) w.key(key).uinteger(*v);
}

void put_array(json::Writer& w, const char* key, const std::vector<uint64_t>& v) {
    if (v.empty()) return;
    w.key(key).begin_array();
    for (uint64_t x : v) w.uinteger(x);
    w.end_array();
}

void cpu(json::Writer& w, const Paths& p) {
    std::string acct = v1_dir(p, "cpuacct"), cpu = v1_dir(p, "cpu");
    const std::string& v2 = p.unified;
    w.key("cpu").begin_object().key("usage").begin_object();
    std::optional<uint64_t> user, kernel;
    std::map<std::string, uint64_t> stat;
    if (!acct.empty()) {  // v1: nanoseconds
        put_nonzero(w, "total", read_number(acct, "cpuacct.usage"));
        put_array(w, "percpu", read_numbers(acct, "cpuacct.usage_percpu"));
        put_array(w, "percpu_kernel", read_numbers(acct, "cpuacct.usage_percpu_sys"));
        put_array(w, "percpu_user", read_numbers(acct, "cpuacct.usage_percpu_user"));
        kernel = read_number(acct, "cpuacct.usage_sys");
        user = read_number(acct, "cpuacct.usage_user");
        stat = read_keyed(cpu, "cpu.stat");
    } else {  // v2: microseconds
        stat = read_keyed(v2, "cpu.stat");
        auto us = [&](const char* key) -> std::optional<uint64_t> {
            auto it = stat.find(key);
            return it == stat.end() ? std::nullopt : std::optional<uint64_t>(it->second * 1000);
        };
        put_nonzero(w, "total", us("usage_usec"));
        kernel = us("system_usec");
        user = us("user_usec");
        if (stat.count("throttled_usec")) stat["throttled_time"] = stat["throttled_usec"] * 1000;
    }
    w.key("kernel").uinteger(kernel.value_or(0)).key("user").uinteger(user.value_or(0));
    w.end_object().key("throttling").begin_object();
    put_nonzero(w, "periods", stat["nr_periods"]);
    put_nonzero(w, "throttledPeriods", stat["nr_throttled"]);
    put_nonzero(w, "throttledTime", stat["throttled_time"]);
    w.end_object().end_object();
}

void cpuset(json::Writer& w, const Paths& p) {
    std::string v1 = v1_dir(p, "cpuset");
    const std::string& dir = v1.empty() ? p.unified : v1;
    const char* prefix = "cpuset.";
    w.key("cpuset").begin_object();
    put_array(w, "cpus", read_cpu_list(dir, v1.empty() ? "cpuset.cpus.effective" : "cpuset.cpus"));
    auto flag = [&](const char* key) { w.key(key).uinteger(read_number(v1, prefix + std::string(key)).value_or(0)); };
    flag("cpu_exclusive");
    put_array(w, "mems", read_cpu_list(dir, v1.empty() ? "cpuset.mems.effective" : "cpuset.mems"));
    for (const char* key : {"mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                            "memory_spread_slab", "memory_pressure", "sched_load_balance"})
        flag(key);
    int64_t relax = -1;  // the kernel's default: the system's
    if (auto text = read_text(v1, "cpuset.sched_relax_domain_level"))
        if (auto v = parse_int(trim(*text))) relax = *v;
    w.key("sched_relax_domain_level").integer(v1.empty() ? 0 : relax);
    w.end_object();
}

struct MemoryEntry {
    uint64_t limit = 0, usage = 0, max = 0, failcnt = 0;
};

void put_entry(json::Writer& w, const char* key, const MemoryEntry& e) {
    w.key(key).begin_object().key("limit").uinteger(e.limit);
    put_nonzero(w, "usage", e.usage);
    put_nonzero(w, "max", e.max);
    w.key("failcnt").uinteger(e.failcnt).end_object();
}

// v1's memory.<prefix>usage_in_bytes, ... ("" memory's own, "memsw.", "kmem.", "kmem.tcp.").
MemoryEntry v1_entry(const std::string& dir, const std::string& prefix) {
    std::string f = "memory." + prefix;
    return {read_number(dir, f + "limit_in_bytes").value_or(0), read_number(dir, f + "usage_in_bytes").value_or(0),
            read_number(dir, f + "max_usage_in_bytes").value_or(0), read_number(dir, f + "failcnt").value_or(0)};
}

// v2's memory.<prefix>current, .max, .peak and memory.<prefix>events' max.
MemoryEntry v2_entry(const std::string& dir, const std::string& prefix) {
    std::string f = "memory." + prefix;
    return {read_number(dir, f + "max", kUnlimited).value_or(0), read_number(dir, f + "current").value_or(0),
            read_number(dir, f + "peak").value_or(0), read_key(dir, f + "events", "max").value_or(0)};
}

void memory(json::Writer& w, const Paths& p) {
    std::string v1 = v1_dir(p, "memory");
    const std::string& dir = v1.empty() ? p.unified : v1;
    std::map<std::string, uint64_t> raw = read_keyed(dir, "memory.stat");
    MemoryEntry usage, swap, kernel, tcp;
    if (!v1.empty()) {
        usage = v1_entry(v1, ""), swap = v1_entry(v1, "memsw."), kernel = v1_entry(v1, "kmem."), tcp = v1_entry(v1, "kmem.tcp.");
    } else {
        usage = v2_entry(dir, "");
        // As runc: v1's swap is memory and swap together, and v2's is reported so.
        swap = v2_entry(dir, "swap.");
        swap.usage += usage.usage;
        swap.limit = swap.limit == kUnlimited || usage.limit == kUnlimited ? kUnlimited : swap.limit + usage.limit;
    }
    w.key("memory").begin_object();
    if (auto cache = raw.find(v1.empty() ? "file" : "cache"); cache != raw.end()) put_nonzero(w, "cache", cache->second);
    put_entry(w, "usage", usage);
    put_entry(w, "swap", swap);
    put_entry(w, "kernel", kernel);
    put_entry(w, "kernelTCP", tcp);
    if (!raw.empty()) {
        w.key("raw").begin_object();
        for (const auto& [k, v] : raw) w.key(k).uinteger(v);
        w.end_object();
    }
    w.end_object();
}

void pids(json::Writer& w, const Paths& p) {
    std::string v1 = v1_dir(p, "pids");
    const std::string& dir = v1.empty() ? p.unified : v1;
    w.key("pids").begin_object();
    put_nonzero(w, "current", read_number(dir, "pids.current"));
    put_nonzero(w, "limit", read_number(dir, "pids.max"));
    w.end_object();
}

struct BlkioEntry {
    uint64_t major = 0, minor = 0;
    std::string op;
    uint64_t value = 0;
};

void put_blkio(json::Writer& w, const char* key, const std::vector<BlkioEntry>& entries) {
    if (entries.empty()) return;
    w.key(key).begin_array();
    for (const auto& e : entries) {
        w.begin_object();
        put_nonzero(w, "major", e.major);
        put_nonzero(w, "minor", e.minor);
        if (!e.op.empty()) w.key("op").string(e.op);
        put_nonzero(w, "value", e.value);
        w.end_object();
    }
    w.end_array();
}

// "MAJ:MIN [OP] VALUE" lines of a v1 blkio file ("Total N" left out).
std::vector<BlkioEntry> read_blkio(const std::string& dir, const std::string& file) {
    std::vector<BlkioEntry> out;
    std::optional<std::string> text = read_text(dir, file);
    if (!text) return out;
    for (const auto& line : split(*text, '\n')) {
        std::vector<std::string> f;
        for (auto& x : split(line, ' '))
            if (!x.empty()) f.push_back(x);
        if (f.size() < 2 || f.size() > 3 || f[0] == "Total") continue;
        size_t colon = f[0].find(':');
        auto major = parse_uint(f[0].substr(0, colon)), value = parse_uint(f.back());
        auto minor = colon == std::string::npos ? std::nullopt : parse_uint(f[0].substr(colon + 1));
        if (!major || !minor || !value) continue;
        out.push_back({*major, *minor, f.size() == 3 ? f[1] : "", *value});
    }
    return out;
}

void blkio(json::Writer& w, const Paths& p) {
    std::string v1 = v1_dir(p, "blkio");
    w.key("blkio").begin_object();
    if (!v1.empty()) {
        // The throttle policy's counters (the CFQ and BFQ schedulers' are gone from current kernels).
        auto recursive = [&](const std::string& file) {
            auto e = read_blkio(v1, file + "_recursive");
            return e.empty() ? read_blkio(v1, file) : e;
        };
        put_blkio(w, "ioServiceBytesRecursive", recursive("blkio.throttle.io_service_bytes"));
        put_blkio(w, "ioServicedRecursive", recursive("blkio.throttle.io_serviced"));
    } else if (auto text = read_text(p.unified, "io.stat")) {
        // "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...": bytes and operations, read and written.
        std::vector<BlkioEntry> bytes, ios;
        for (const auto& line : split(*text, '\n')) {
            std::vector<std::string> f = split(line, ' ');
            size_t colon = f[0].find(':');
            auto major = parse_uint(f[0].substr(0, colon));
            auto minor = colon == std::string::npos ? std::nullopt : parse_uint(f[0].substr(colon + 1));
            if (!major || !minor) continue;
            for (size_t i = 1; i < f.size(); ++i) {
                size_t eq = f[i].find('=');
                std::string k = f[i].substr(0, eq);
                auto v = eq == std::string::npos ? std::nullopt : parse_uint(f[i].substr(eq + 1));
                if (!v) continue;
                if (k == "rbytes" || k == "wbytes") bytes.push_back({*major, *minor, k[0] == 'r' ? "Read" : "Write", *v});
                if (k == "rios" || k == "wios") ios.push_back({*major, *minor, k[0] == 'r' ? "Read" : "Write", *v});
            }
        }
        put_blkio(w, "ioServiceBytesRecursive", bytes);
        put_blkio(w, "ioServicedRecursive", ios);
    }
    w.end_object();
}

// Per huge page size ("2MB"): v1's hugetlb.<size>.usage_in_bytes, .max_usage_in_bytes
// and .failcnt; v2's hugetlb.<size>.current and hugetlb.<size>.events' max.
void hugetlb(json::Writer& w, const Paths& p) {
    std::string v1 = v1_dir(p, "hugetlb");
    const std::string& dir = v1.empty() ? p.unified : v1;
    w.key("hugetlb").begin_object();
    std::vector<std::string> sizes;
    if (!dir.empty())
        try {
            for (const auto& f : list_dir(dir)) {
                std::string tail = v1.empty() ? ".current" : ".usage_in_bytes";
                if (f.rfind("hugetlb.", 0) == 0 && f.size() > 8 + tail.size() &&
                    f.compare(f.size() - tail.size(), tail.size(), tail) == 0 && f.find(".rsvd.") == std::string::npos)
                    sizes.push_back(f.substr(8, f.size() - 8 - tail.size()));
            }
        } catch (const Error&) {
        }
    for (const auto& size : sizes) {
        std::string f = "hugetlb." + size + ".";
        w.key(size).begin_object();
        if (!v1.empty()) {
            put_nonzero(w, "usage", read_number(dir, f + "usage_in_bytes"));
            put_nonzero(w, "max", read_number(dir, f + "max_usage_in_bytes"));
            w.key("failcnt").uinteger(read_number(dir, f + "failcnt").value_or(0));
        } else {
            put_nonzero(w, "usage", read_number(dir, f + "current"));
            w.key("failcnt").uinteger(read_key(dir, f + "events", "max").value_or(0));
        }
        w.end_object();
    }
    w.end_object();
}

}  // namespace

uint64_t oom_kills(const Paths& p) {
    if (auto v1 = read_key(v1_dir(p, "memory"), "memory.oom_control", "oom_kill")) return *v1;
    return read_key(p.unified, "memory.events", "oom_kill").value_or(0);
}

std::string stats_json(const Paths& p, const std::string& id) {
    json::Writer w(false);
    w.begin_object().key("type").string("stats").key("id").string(id).key("data").begin_object();
    cpu(w, p);
    cpuset(w, p);
    memory(w, p);
    pids(w, p);
    blkio(w, p);
    hugetlb(w, p);
    // runc's own when it applies neither: Intel RDT is refused at create
    // (features: intelRdt disabled), and its interface counters are of the
    // networks of its Go API, which an OCI bundle has none of.
    w.key("intel_rdt").begin_object().end_object();
    w.key("network_interfaces").null();
    w.end_object().end_object();
    return w.result();
}

}  // namespace crunlite::cgroup
