// The event log of a state root: <root>/@events.jsonl, one JSON object per line
// in Docker's event format ({"status", "id", "from", "Type": "container",
// "Action", "Actor": {"ID", "Attributes"}, "scope": "local", "time",
// "timeNano"}), appended by the runtime (start, die, oom) and by the
// healthcheck (health_status: healthy|unhealthy), read by `events --format
// json`.  Each append is one write(2) of one line, O_APPEND, so concurrent
// writers never interleave within a line.  Past kMaxLogBytes the file is
// rotated once to @events.jsonl.1 (under an flock of the root's @events.lock),
// so the log of a long-lived root stays bounded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crunlite::state {

inline constexpr uint64_t kMaxLogBytes = 4u << 20;

struct Event {
    std::string action;  // start | die | oom | health_status: healthy | ...
    std::string id;
    std::string image;   // "from"; "" for a bundle container
    int64_t time_ns = 0;
    std::map<std::string, std::string> attributes;  // besides name (= id) and image: exitCode, ...
    bool operator==(const Event&) const = default;
};

// The annotation that names an image container's image (app/image_run.hpp).
inline constexpr const char* kImageAnnotation = "org.crun-lite.image";

// An event of the container `st` records: Docker's labels are its
// annotations (but crun-lite's own, org.crun-lite.*), "from" its image.
struct State;
Event container_event(const State& st, std::string action);

std::string event_json(const Event& e);
// nullopt for a line that is not an event (a torn or foreign line is skipped).
std::optional<Event> parse_event(std::string_view line);

// `events --since/--until` times, as Docker takes them: a Unix timestamp
// ("1764745200", "1764745200.5") or an RFC 3339 time ("2026-12-03T07:00:00Z",
// "...T08:00:00.25+01:00"), also cut after the hour or minute or without the
// time ("2026-12-03"), in local time without a zone; in ns; nullopt for
// anything else (the caller then tries a duration before now, "10m").  Pure
// but for the local time zone.
std::optional<int64_t> parse_event_time(const std::string& text);

// Appends `e` (time_ns 0: now) to `root`'s log.  Never throws: an event that
// cannot be written is logged at debug level, and the operation goes on.
void append_event(const std::string& root, Event e);

// The events of `root`'s log (rotated part first) with since_ns <= time < until_ns
// (until_ns <= 0: no bound), of the given ids (empty: all), in order.
// `offset`: where reading the current log begins; set to where it ended, so a
// follower reads only what was appended since (0 after a rotation it noticed).
std::vector<Event> read_events(const std::string& root, int64_t since_ns, int64_t until_ns,
                               const std::vector<std::string>& ids, uint64_t& offset, bool with_rotated);

// The last "die" event with an exit code of container `id`, created at
// `created` (RFC 3339): what a foreground run leaves, and what outlives a
// `run -d --rm` deletion.  Only a die of the run that started at `run_ns` or
// later (0: any of this container).  nullopt without one.
struct Die {
    int exit_code = 0;
    int64_t time_ns = 0;
};
std::optional<Die> last_die(const std::string& root, const std::string& id, const std::string& created,
                            int64_t run_ns = 0);
// Its exit code.
std::optional<int> die_exit_code(const std::string& root, const std::string& id, const std::string& created,
                                 int64_t run_ns = 0);

}  // namespace crunlite::state
