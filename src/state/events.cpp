#include "crunlite/state/events.hpp"

// The event log (state/events.hpp).  Runs in whichever process records an
// event (create's caller at start, the monitor's commands at exit and probes)
// and in `events`.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/state/store.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::state {
namespace {

// "@" cannot start a container id, so the names never collide with one.
std::string log_path(const std::string& root) { return root + "/@events.jsonl"; }

// Past kMaxLogBytes, the log becomes @events.jsonl.1 (replacing the previous
// one), under the root's @events.lock so two writers rotate once.
void rotate_if_full(const std::string& root, int fd) {
    struct stat st;
    if (::fstat(fd, &st) < 0 || static_cast<uint64_t>(st.st_size) < kMaxLogBytes) return;
    sys::UniqueFd lock(::open((root + "/@events.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock || ::flock(lock.get(), LOCK_EX) < 0) return;
    struct stat now;
    // Still the full file (no other writer rotated it meanwhile)?
    if (::stat(log_path(root).c_str(), &now) == 0 && now.st_ino == st.st_ino)
        ::rename(log_path(root).c_str(), (log_path(root) + ".1").c_str());
}

// Appends complete lines of `path` from `offset` on to `out`; returns the new offset.
uint64_t read_lines(const std::string& path, uint64_t offset, std::vector<std::string>& out) {
    sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return 0;
    struct stat st;
    if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) return 0;
    if (static_cast<uint64_t>(st.st_size) < offset) offset = 0;  // rotated (a new, shorter file)
    std::string text;
    char buf[65536];
    ssize_t n;
    off_t at = static_cast<off_t>(offset);
    while ((n = ::pread(fd.get(), buf, sizeof buf, at)) > 0) {
        text.append(buf, static_cast<size_t>(n));
        at += n;
    }
    size_t end = text.rfind('\n');
    if (end == std::string::npos) return offset;  // no complete line yet
    for (auto& line : split(std::string_view(text).substr(0, end), '\n')) out.push_back(std::move(line));
    return offset + end + 1;
}

}  // namespace

std::optional<int64_t> parse_event_time(const std::string& text) {
    // A Unix timestamp, with an optional fraction.
    size_t dot = text.find('.');
    std::optional<uint64_t> secs = parse_uint(text.substr(0, dot));
    if (secs && *secs < 100'000'000'000) {
        int64_t ns = static_cast<int64_t>(*secs) * 1'000'000'000;
        if (dot == std::string::npos) return ns;
        std::string frac = text.substr(dot + 1);
        if (frac.empty() || frac.size() > 9 || !parse_uint(frac)) return std::nullopt;
        frac.resize(9, '0');
        return ns + static_cast<int64_t>(*parse_uint(frac));
    }
    // RFC 3339, YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm), and Docker's shorter
    // forms: the time cut after the hour or minute, or absent; without a zone,
    // local.  Each field has its digits exactly and is in range (no day 31 of June).
    std::string_view t = text;
    size_t at = 0;
    auto field = [&](size_t width, int low, int high) -> std::optional<int> {
        if (t.size() - at < width) return std::nullopt;
        int v = 0;
        for (size_t i = 0; i < width; ++i, ++at) {
            if (t[at] < '0' || t[at] > '9') return std::nullopt;
            v = v * 10 + (t[at] - '0');
        }
        return v >= low && v <= high ? std::optional<int>(v) : std::nullopt;
    };
    auto sep = [&](char c) { return at < t.size() && t[at] == c ? (++at, true) : false; };
    struct tm tm = {};
    auto year = field(4, 1970, 9999);
    auto month = year && sep('-') ? field(2, 1, 12) : std::nullopt;
    static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    auto day = month && sep('-') ? field(2, 1, kDays[*month - 1]) : std::nullopt;
    if (!day || (*month == 2 && *day == 29 && !(*year % 4 == 0 && (*year % 100 != 0 || *year % 400 == 0))))
        return std::nullopt;
    tm.tm_year = *year - 1900, tm.tm_mon = *month - 1, tm.tm_mday = *day;
    bool seconds = false;
    if (sep('T')) {
        auto hour = field(2, 0, 23);
        if (!hour) return std::nullopt;
        tm.tm_hour = *hour;
        if (sep(':')) {
            auto minute = field(2, 0, 59);
            if (!minute) return std::nullopt;
            tm.tm_min = *minute;
            if (sep(':')) {
                auto second = field(2, 0, 59);
                if (!second) return std::nullopt;
                tm.tm_sec = *second;
                seconds = true;
            }
        }
    }
    int64_t frac_ns = 0;
    if (seconds && sep('.')) {
        size_t from = at;
        while (at < t.size() && t[at] >= '0' && t[at] <= '9') ++at;
        std::string digits(t.substr(from, at - from));
        if (digits.empty() || digits.size() > 9) return std::nullopt;
        digits.resize(9, '0');
        frac_ns = static_cast<int64_t>(*parse_uint(digits));
    }
    if (at == t.size()) {  // no zone: local time
        tm.tm_isdst = -1;
        time_t local = ::mktime(&tm);
        if (local == -1) return std::nullopt;
        return static_cast<int64_t>(local) * 1'000'000'000 + frac_ns;
    }
    int64_t offset = 0;
    if (t[at] == '+' || t[at] == '-') {
        int sign = t[at++] == '+' ? 1 : -1;
        auto hh = field(2, 0, 23);
        auto mm = hh && sep(':') ? field(2, 0, 59) : std::nullopt;
        if (!mm || at != t.size()) return std::nullopt;
        offset = sign * (*hh * 3600 + *mm * 60);
    } else if (t.substr(at) != "Z") {
        return std::nullopt;
    }
    return (static_cast<int64_t>(::timegm(&tm)) - offset) * 1'000'000'000 + frac_ns;
}

Event container_event(const State& st, std::string action) {
    Event e;
    e.action = std::move(action);
    e.id = st.id;
    for (const auto& [k, v] : st.annotations)
        if (k.rfind("org.crun-lite.", 0) != 0) e.attributes[k] = v;
    if (auto it = st.annotations.find(kImageAnnotation); it != st.annotations.end()) e.image = it->second;
    return e;
}

std::string event_json(const Event& e) {
    json::Writer w(false);
    w.begin_object();
    w.key("status").string(e.action);
    w.key("id").string(e.id);
    if (!e.image.empty()) w.key("from").string(e.image);
    w.key("Type").string("container");
    w.key("Action").string(e.action);
    w.key("Actor").begin_object();
    w.key("ID").string(e.id);
    w.key("Attributes").begin_object();
    std::map<std::string, std::string> attrs = e.attributes;
    attrs["name"] = e.id;
    if (!e.image.empty()) attrs["image"] = e.image;
    for (const auto& [k, v] : attrs) w.key(k).string(v);
    w.end_object();
    w.end_object();
    w.key("scope").string("local");
    w.key("time").integer(e.time_ns / 1'000'000'000);
    w.key("timeNano").integer(e.time_ns);
    w.end_object();
    return w.result();
}

std::optional<Event> parse_event(std::string_view line) {
    try {
        json::Document doc = json::parse(line, "@events.jsonl");
        json::Value v = doc.root();
        Event e;
        e.action = v.get_string("Action");
        e.id = v.get_string("id");
        e.image = v.get_string_or("from", "");
        e.time_ns = v.get_int64("timeNano");
        e.attributes = v.at("Actor").get_string_map_or("Attributes");
        e.attributes.erase("name");
        e.attributes.erase("image");
        return e;
    } catch (const Error&) {
        return std::nullopt;
    }
}

void append_event(const std::string& root, Event e) {
    if (e.time_ns == 0) e.time_ns = realtime_ns();
    try {
        std::string line = event_json(e) + "\n";
        sys::UniqueFd fd(::open(log_path(root).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd) throw_errno("open " + quote(log_path(root)));
        rotate_if_full(root, fd.get());
        if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            throw_errno("write " + quote(log_path(root)));
    } catch (const Error& err) {
        log::debug("event " + e.action + " of " + e.id + " not recorded: " + err.message());
    }
}

std::vector<Event> read_events(const std::string& root, int64_t since_ns, int64_t until_ns,
                               const std::vector<std::string>& ids, uint64_t& offset, bool with_rotated) {
    std::vector<std::string> lines;
    if (with_rotated) {
        uint64_t none = 0;
        read_lines(log_path(root) + ".1", none, lines);
    }
    offset = read_lines(log_path(root), offset, lines);
    std::vector<Event> out;
    for (const auto& line : lines) {
        std::optional<Event> e = parse_event(line);
        if (!e || e->time_ns < since_ns || (until_ns > 0 && e->time_ns >= until_ns)) continue;
        if (!ids.empty() && std::find(ids.begin(), ids.end(), e->id) == ids.end()) continue;
        out.push_back(std::move(*e));
    }
    return out;
}

std::optional<Die> last_die(const std::string& root, const std::string& id, const std::string& created,
                            int64_t run_ns) {
    std::optional<int64_t> since = parse_event_time(created);
    if (!since) return std::nullopt;
    uint64_t offset = 0;
    std::optional<Die> last;
    for (const auto& e : read_events(root, std::max(*since, run_ns), 0, {id}, offset, true))
        if (auto it = e.attributes.find("exitCode"); e.action == "die" && it != e.attributes.end())
            if (auto code = parse_int(it->second)) last = Die{static_cast<int>(*code), e.time_ns};
    return last;
}

std::optional<int> die_exit_code(const std::string& root, const std::string& id, const std::string& created,
                                 int64_t run_ns) {
    std::optional<Die> d = last_die(root, id, created, run_ns);
    return d ? std::optional<int>(d->exit_code) : std::nullopt;
}

}  // namespace crunlite::state
