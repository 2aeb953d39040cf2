#include <optional>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::cgroup {
namespace {

// A number from a cgroup file ("max" and missing files: nullopt).
std::optional<uint64_t> read_number(const std::string& dir, const std::string& file) {
    if (dir.empty()) return std::nullopt;
    try {
        std::string text = read_file(dir + "/" + file);
        while (!text.empty() && text.back() == '\n') text.pop_back();
        return parse_uint(text);
    } catch (const Error&) {
        return std::nullopt;
    }
}

// A "key value" line of a flat-keyed file (cpu.stat, cpuacct.stat).
std::optional<uint64_t> read_key(const std::string& dir, const std::string& file, const std::string& key) {
    if (dir.empty()) return std::nullopt;
    try {
        for (const auto& line : split(read_file(dir + "/" + file), '\n'))
            if (line.rfind(key + " ", 0) == 0) return parse_uint(line.substr(key.size() + 1));
    } catch (const Error&) {
    }
    return std::nullopt;
}

void put(json::Writer& w, const char* key, std::optional<uint64_t> v) {
    if (v) w.key(key).uinteger(*v);
}

std::string v1_dir(const Paths& p, const char* controller) {
    auto it = p.v1.find(controller);
    return it == p.v1.end() ? "" : it->second;
}

}  // namespace

uint64_t oom_kills(const Paths& p) {
    if (auto v1 = read_key(v1_dir(p, "memory"), "memory.oom_control", "oom_kill")) return *v1;
    return read_key(p.unified, "memory.events", "oom_kill").value_or(0);
}

std::string stats_json(const Paths& p, const std::string& id) {
    const std::string& v2 = p.unified;
    std::string cpuacct = v1_dir(p, "cpuacct"), memory = v1_dir(p, "memory"), pids = v1_dir(p, "pids");
    json::Writer w(false);
    w.begin_object().key("type").string("stats").key("id").string(id).key("data").begin_object();

    w.key("cpu").begin_object().key("usage").begin_object();
    if (!cpuacct.empty()) {  // v1: nanoseconds
        put(w, "total", read_number(cpuacct, "cpuacct.usage"));
        put(w, "user", read_number(cpuacct, "cpuacct.usage_user"));
        put(w, "kernel", read_number(cpuacct, "cpuacct.usage_sys"));
    } else if (auto total = read_key(v2, "cpu.stat", "usage_usec")) {  // v2: microseconds
        w.key("total").uinteger(*total * 1000);
        if (auto u = read_key(v2, "cpu.stat", "user_usec")) w.key("user").uinteger(*u * 1000);
        if (auto k = read_key(v2, "cpu.stat", "system_usec")) w.key("kernel").uinteger(*k * 1000);
    }
    w.end_object().end_object();

    w.key("memory").begin_object().key("usage").begin_object();
    if (!memory.empty()) {
        put(w, "usage", read_number(memory, "memory.usage_in_bytes"));
        put(w, "max", read_number(memory, "memory.max_usage_in_bytes"));
        put(w, "limit", read_number(memory, "memory.limit_in_bytes"));
        put(w, "failcnt", read_number(memory, "memory.failcnt"));
    } else {
        put(w, "usage", read_number(v2, "memory.current"));
        put(w, "max", read_number(v2, "memory.peak"));
        put(w, "limit", read_number(v2, "memory.max"));
    }
    w.end_object().end_object();

    w.key("pids").begin_object();
    const std::string& pdir = pids.empty() ? v2 : pids;
    put(w, "current", read_number(pdir, "pids.current"));
    put(w, "limit", read_number(pdir, "pids.max"));
    w.end_object();

    w.end_object().end_object();
    return w.result();
}

}  // namespace crunlite::cgroup
