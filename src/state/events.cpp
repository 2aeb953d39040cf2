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
    // forms: the time cut after the hour or minute, or absent; without a zone, local.
    struct tm tm = {};
    const char* rest = ::strptime(text.c_str(), "%Y-%m-%d", &tm);
    if (!rest) return std::nullopt;
    bool seconds = false;
    if (*rest == 'T') {
        rest = ::strptime(rest + 1, "%H", &tm);
        if (rest && *rest == ':') rest = ::strptime(rest + 1, "%M", &tm);
        if (rest && *rest == ':' && (rest = ::strptime(rest + 1, "%S", &tm))) seconds = true;
        if (!rest) return std::nullopt;
    }
    int64_t frac_ns = 0;
    if (*rest == '.' && seconds) {
        std::string digits;
        for (++rest; *rest >= '0' && *rest <= '9'; ++rest) digits += *rest;
        if (digits.empty() || digits.size() > 9) return std::nullopt;
        digits.resize(9, '0');
        frac_ns = static_cast<int64_t>(*parse_uint(digits));
    }
    int64_t offset = 0;
    if (*rest == '+' || *rest == '-') {
        int hh = 0, mm = 0;
        if (std::strlen(rest) != 6 || std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
        offset = (*rest == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    } else if (*rest == '\0') {
        tm.tm_isdst = -1;  // local time
        time_t local = ::mktime(&tm);
        return local == -1 ? std::nullopt : std::optional<int64_t>(static_cast<int64_t>(local) * 1'000'000'000 + frac_ns);
    } else if (std::string_view(rest) != "Z") {
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
