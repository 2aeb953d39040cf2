// crun-lite-systemd: what the systemd cgroup driver asks of systemd, over
// D-Bus with sd-bus (libsystemd).  The runtime (src/cgroup/systemd.cpp plans
// the unit, src/runtime/systemd_unit.cpp runs us) is the only caller:
//
//   crun-lite-systemd [--user] start UNIT PID PROPERTY...
//       StartTransientUnit(UNIT, "replace", PROPERTY... + PIDs=[PID]) and waits
//       for its job; prints PID's cgroup then (the unit's, relative to the
//       cgroup root: the "0::" line of /proc/PID/cgroup, or name=systemd's).
//   crun-lite-systemd [--user] attach UNIT PID [SUBCGROUP]
//       AttachProcessesToUnit: moves PID into the unit's cgroup (or SUBCGROUP
//       below it), which a user's manager asks of the system's manager when the
//       process is in a cgroup the user may not write (`exec`, rootless).
//   crun-lite-systemd [--user] set UNIT PROPERTY...      SetUnitProperties (runtime)
//   crun-lite-systemd [--user] stop UNIT                 StopUnit, waits; then ResetFailedUnit
//   crun-lite-systemd [--user] manager-cgroup            prints the manager's ControlGroup
//
// PROPERTY is NAME=SIG:VALUE with SIG one of b s t u i x (VALUE as text:
// true/false, a string, a decimal), au (decimals, comma-separated), ay (hex
// bytes), a(ss) (comma-separated "FIRST SECOND" pairs; an empty VALUE is an
// empty array).  --user talks to the user's manager (the session bus:
// $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus), else the system's.
// Errors go to stderr, naming the bus, the unit and the call; exit 1 (2 on
// usage errors).
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr const char* kService = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr uint64_t kJobTimeoutUsec = 30'000'000;  // as runc

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string errno_text(int r) { return std::strerror(r < 0 ? -r : r); }

void check(int r, const std::string& what) {
    if (r < 0) throw Failure(what + ": " + errno_text(r));
}

// The bus, named in every error.
struct Bus {
    sd_bus* bus = nullptr;
    std::string name;
    ~Bus() { sd_bus_flush_close_unref(bus); }

    explicit Bus(bool user) {
        if (user) {
            const char* addr = std::getenv("DBUS_SESSION_BUS_ADDRESS");
            const char* xdg = std::getenv("XDG_RUNTIME_DIR");
            name = std::string("the user's bus (") +
                   (addr && *addr ? addr : xdg && *xdg ? std::string(xdg) + "/bus" : "no $XDG_RUNTIME_DIR") + ")";
        } else {
            const char* addr = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
            name = std::string("the system bus (") + (addr && *addr ? addr : "/run/dbus/system_bus_socket") + ")";
        }
        int r = user ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
        if (r < 0) throw Failure("connect to " + name + ": " + errno_text(r) + " (is systemd running there?)");
    }
};

// One method call's error, as systemd words it.
struct CallError {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    ~CallError() { sd_bus_error_free(&e); }
    std::string text(int r) const { return e.message ? e.message : errno_text(r); }
    bool is(const char* name) const { return sd_bus_error_has_name(&e, name); }
};

struct Message {
    sd_bus_message* m = nullptr;
    ~Message() { sd_bus_message_unref(m); }
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    if (s.empty()) return out;
    size_t at = 0;
    for (size_t next; (next = s.find(sep, at)) != std::string::npos; at = next + 1) out.push_back(s.substr(at, next - at));
    out.push_back(s.substr(at));
    return out;
}

unsigned long long number(const std::string& v, const std::string& what) {
    errno = 0;
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || v[0] == '-') throw Failure(what + ": not a number: " + v);
    return n;
}

long long signed_number(const std::string& v, const std::string& what) {
    errno = 0;
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno) throw Failure(what + ": not a number: " + v);
    return n;
}

// Appends the variant's value of type `sig` from its text.
void append_value(sd_bus_message* m, const std::string& sig, const std::string& v, const std::string& prop) {
    int r = 0;
    if (sig == "b") {
        if (v != "true" && v != "false") throw Failure("property " + prop + ": want true or false, not " + v);
        r = sd_bus_message_append(m, "b", v == "true" ? 1 : 0);
    } else if (sig == "s") {
        r = sd_bus_message_append(m, "s", v.c_str());
    } else if (sig == "t") {
        r = sd_bus_message_append(m, "t", static_cast<uint64_t>(number(v, "property " + prop)));
    } else if (sig == "u") {
        r = sd_bus_message_append(m, "u", static_cast<uint32_t>(number(v, "property " + prop)));
    } else if (sig == "i") {
        r = sd_bus_message_append(m, "i", static_cast<int32_t>(signed_number(v, "property " + prop)));
    } else if (sig == "x") {
        r = sd_bus_message_append(m, "x", static_cast<int64_t>(signed_number(v, "property " + prop)));
    } else if (sig == "au") {
        std::vector<uint32_t> items;
        for (const auto& s : split(v, ',')) items.push_back(static_cast<uint32_t>(number(s, "property " + prop)));
        r = sd_bus_message_append_array(m, 'u', items.data(), items.size() * sizeof(uint32_t));
    } else if (sig == "ay") {
        if (v.size() % 2) throw Failure("property " + prop + ": odd number of hex digits: " + v);
        std::vector<uint8_t> bytes;
        for (size_t i = 0; i < v.size(); i += 2) {
            char* end = nullptr;
            std::string two = v.substr(i, 2);
            unsigned long b = std::strtoul(two.c_str(), &end, 16);
            if (*end) throw Failure("property " + prop + ": not hex: " + v);
            bytes.push_back(static_cast<uint8_t>(b));
        }
        r = sd_bus_message_append_array(m, 'y', bytes.data(), bytes.size());
    } else if (sig == "a(ss)") {
        check(sd_bus_message_open_container(m, 'a', "(ss)"), "property " + prop);
        for (const auto& pair : split(v, ',')) {
            size_t space = pair.find(' ');
            if (space == std::string::npos) throw Failure("property " + prop + ": want \"FIRST SECOND\", not " + pair);
            check(sd_bus_message_append(m, "(ss)", pair.substr(0, space).c_str(), pair.substr(space + 1).c_str()),
                  "property " + prop);
        }
        r = sd_bus_message_close_container(m);
    } else {
        throw Failure("property " + prop + ": unsupported type " + sig);
    }
    check(r, "property " + prop);
}

// PROPERTY arguments (NAME=SIG:VALUE) into an open a(sv).
void append_properties(sd_bus_message* m, const std::vector<std::string>& props) {
    for (const auto& p : props) {
        size_t eq = p.find('='), colon = p.find(':', eq == std::string::npos ? 0 : eq);
        if (eq == std::string::npos || eq == 0 || colon == std::string::npos)
            throw Failure("bad property " + p + ": want NAME=SIG:VALUE");
        std::string name = p.substr(0, eq), sig = p.substr(eq + 1, colon - eq - 1), value = p.substr(colon + 1);
        check(sd_bus_message_open_container(m, 'r', "sv"), "property " + name);
        check(sd_bus_message_append(m, "s", name.c_str()), "property " + name);
        check(sd_bus_message_open_container(m, 'v', sig.c_str()), "property " + name);
        append_value(m, sig, value, name);
        check(sd_bus_message_close_container(m), "property " + name);
        check(sd_bus_message_close_container(m), "property " + name);
    }
}

// Waits for a job's JobRemoved signal.
struct JobWait {
    std::string job, result;
    sd_bus_slot* slot = nullptr;
    ~JobWait() { sd_bus_slot_unref(slot); }

    static int on_removed(sd_bus_message* m, void* data, sd_bus_error*) {
        auto* self = static_cast<JobWait*>(data);
        uint32_t id = 0;
        const char *path = nullptr, *unit = nullptr, *result = nullptr;
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) >= 0 && path && self->job == path)
            self->result = result ? result : "";
        return 0;
    }

    // Matched before the call that makes the job, so its signal cannot be missed.
    explicit JobWait(Bus& b) {
        check(sd_bus_match_signal(b.bus, &slot, kService, kPath, kManager, "JobRemoved", on_removed, this),
              "subscribe to systemd's JobRemoved on " + b.name);
    }

    // "" when the job is done, else systemd's result ("failed", "timeout", ...).
    std::string wait(Bus& b, const std::string& what) {
        timespec start{};
        ::clock_gettime(CLOCK_MONOTONIC, &start);
        while (result.empty()) {
            int r = sd_bus_process(b.bus, nullptr);
            check(r, what + ": " + b.name);
            if (r > 0) continue;
            timespec now{};
            ::clock_gettime(CLOCK_MONOTONIC, &now);
            uint64_t spent = (now.tv_sec - start.tv_sec) * 1'000'000ULL + (now.tv_nsec - start.tv_nsec) / 1000;
            if (spent >= kJobTimeoutUsec) throw Failure(what + ": timed out waiting for systemd's job " + job);
            check(sd_bus_wait(b.bus, kJobTimeoutUsec - spent), what + ": " + b.name);
        }
        return result == "done" ? "" : result;
    }
};

// Calls a Manager method that returns a job and waits for it.  Returns "" when
// done, else systemd's result; throws with systemd's message when refused.
std::string call_job(Bus& b, sd_bus_message* call, const std::string& what, CallError& err, bool& refused, int& rc) {
    JobWait jw(b);
    Message reply;
    rc = sd_bus_call(b.bus, call, 0, &err.e, &reply.m);
    refused = rc < 0;
    if (refused) return {};
    const char* path = nullptr;
    check(sd_bus_message_read(reply.m, "o", &path), what);
    jw.job = path;
    return jw.wait(b, what);
}

void reset_failed(Bus& b, const std::string& unit) {
    CallError err;
    sd_bus_call_method(b.bus, kService, kPath, kManager, "ResetFailedUnit", &err.e, nullptr, "s", unit.c_str());
}

// The cgroup of `pid`: the unit's once systemd moved it there.
std::string cgroup_of(const std::string& pid) {
    std::ifstream in("/proc/" + pid + "/cgroup");
    std::string line, v1;
    while (std::getline(in, line)) {
        if (line.rfind("0::", 0) == 0) return line.substr(3);
        if (line.find(":name=systemd:") != std::string::npos) v1 = line.substr(line.find(":name=systemd:") + 14);
    }
    if (v1.empty()) throw Failure("no systemd cgroup in /proc/" + pid + "/cgroup");
    return v1;
}

void start(Bus& b, const std::string& unit, uint32_t pid, const std::vector<std::string>& props) {
    std::string what = "StartTransientUnit " + unit + " on " + b.name;
    for (int attempt = 0;; ++attempt) {
        Message call;
        check(sd_bus_message_new_method_call(b.bus, &call.m, kService, kPath, kManager, "StartTransientUnit"), what);
        check(sd_bus_message_append(call.m, "ss", unit.c_str(), "replace"), what);
        check(sd_bus_message_open_container(call.m, 'a', "(sv)"), what);
        append_properties(call.m, props);
        check(sd_bus_message_append(call.m, "(sv)", "PIDs", "au", 1, pid), what);
        check(sd_bus_message_close_container(call.m), what);
        check(sd_bus_message_append(call.m, "a(sa(sv))", 0), what);
        CallError err;
        bool refused = false;
        int rc = 0;
        std::string result = call_job(b, call.m, what, err, refused, rc);
        if (refused) {
            // A leftover failed unit of the same name: reset it and retry once, as runc.
            if (attempt == 0 && err.is("org.freedesktop.systemd1.UnitExists")) {
                reset_failed(b, unit);
                continue;
            }
            throw Failure(what + ": " + err.text(rc));
        }
        if (!result.empty()) {
            reset_failed(b, unit);
            throw Failure(what + ": the job ended \"" + result + "\"");
        }
        return;
    }
}

void set(Bus& b, const std::string& unit, const std::vector<std::string>& props) {
    std::string what = "SetUnitProperties " + unit + " on " + b.name;
    Message call;
    check(sd_bus_message_new_method_call(b.bus, &call.m, kService, kPath, kManager, "SetUnitProperties"), what);
    check(sd_bus_message_append(call.m, "sb", unit.c_str(), 1), what);
    check(sd_bus_message_open_container(call.m, 'a', "(sv)"), what);
    append_properties(call.m, props);
    check(sd_bus_message_close_container(call.m), what);
    CallError err;
    int rc = sd_bus_call(b.bus, call.m, 0, &err.e, nullptr);
    if (rc < 0) throw Failure(what + ": " + err.text(rc));
}

// A unit that is already gone is stopped.
void stop(Bus& b, const std::string& unit) {
    std::string what = "StopUnit " + unit + " on " + b.name;
    Message call;
    check(sd_bus_message_new_method_call(b.bus, &call.m, kService, kPath, kManager, "StopUnit"), what);
    check(sd_bus_message_append(call.m, "ss", unit.c_str(), "replace"), what);
    CallError err;
    bool refused = false;
    int rc = 0;
    std::string result = call_job(b, call.m, what, err, refused, rc);
    reset_failed(b, unit);
    if (refused && !err.is("org.freedesktop.systemd1.NoSuchUnit")) throw Failure(what + ": " + err.text(rc));
    if (!refused && !result.empty()) std::fprintf(stderr, "crun-lite-systemd: %s: the job ended \"%s\"\n", what.c_str(), result.c_str());
}

void attach(Bus& b, const std::string& unit, uint32_t pid, const std::string& sub) {
    std::string what = "AttachProcessesToUnit " + unit + " on " + b.name;
    CallError err;
    int rc = sd_bus_call_method(b.bus, kService, kPath, kManager, "AttachProcessesToUnit", &err.e, nullptr, "ssau",
                                unit.c_str(), sub.c_str(), 1, pid);
    if (rc < 0) throw Failure(what + ": " + err.text(rc));
}

std::string manager_cgroup(Bus& b) {
    CallError err;
    char* value = nullptr;
    int rc = sd_bus_get_property_string(b.bus, kService, kPath, kManager, "ControlGroup", &err.e, &value);
    if (rc < 0) throw Failure("read the manager's ControlGroup on " + b.name + ": " + err.text(rc));
    std::string out = value ? value : "";
    std::free(value);
    return out;
}


int usage() {
    std::fputs("usage: crun-lite-systemd [--user] start UNIT PID [NAME=SIG:VALUE...] | set UNIT [NAME=SIG:VALUE...] |"
               " attach UNIT PID [SUBCGROUP] | stop UNIT | manager-cgroup\n",
               stderr);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    bool user = !args.empty() && args[0] == "--user";
    if (user) args.erase(args.begin());
    if (args.empty()) return usage();
    std::string verb = args[0];
    bool needs_unit = verb == "start" || verb == "set" || verb == "stop" || verb == "attach";
    if (needs_unit && args.size() < (verb == "start" || verb == "attach" ? 3u : 2u)) return usage();
    if ((verb == "stop" && args.size() != 2) || (verb == "attach" && args.size() > 4) ||
        (verb == "manager-cgroup" && args.size() != 1))
        return usage();
    if (!needs_unit && verb != "manager-cgroup") return usage();
    try {
        Bus b(user);
        if (verb == "attach") {
            attach(b, args[1], static_cast<uint32_t>(number(args[2], "PID")), args.size() == 4 ? args[3] : "");
            return 0;
        }
        size_t first_prop = verb == "start" ? 3 : needs_unit ? 2 : 1;
        std::vector<std::string> props(args.begin() + first_prop, args.end());
        if (verb == "start") {
            uint32_t pid = static_cast<uint32_t>(number(args[2], "PID"));
            start(b, args[1], pid, props);
            std::printf("%s\n", cgroup_of(args[2]).c_str());
        } else if (verb == "set") {
            set(b, args[1], props);
        } else if (verb == "stop") {
            stop(b, args[1]);
        } else {
            std::printf("%s\n", manager_cgroup(b).c_str());
        }
        return 0;
    } catch (const Failure& e) {
        std::fprintf(stderr, "crun-lite-systemd: %s\n", e.what());
        return 1;
    }
}
