// Small string and file helpers shared by every module.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crunlite {

// Splits on every `sep`; "a,,b" gives {"a","","b"}; "" gives {""}.
std::vector<std::string> split(std::string_view s, char sep);
// The same as views into `s` (no copies: for parsing large or hot input).
std::vector<std::string_view> split_view(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Without leading and trailing whitespace.
std::string trim(std::string_view s);

// Parses a whole decimal string; nullopt on empty input, junk or overflow.
std::optional<int64_t> parse_int(std::string_view s);
std::optional<uint64_t> parse_uint(std::string_view s);

// Go's units.RAMInBytes (docker/go-units), which runc's update and Docker's
// --memory and --shm-size read sizes with: what matches
// ^(\d+(\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$ ("64m", "1.5GiB", "512 KB",
// "10Mi", "1048576"), in binary multiples (k is 1024), the product cut toward
// 0 ("1.5k" is 1536, "0.5" is 0).  nullopt for anything else, and past
// int64 (which Go wraps).  Pure.
std::optional<int64_t> ram_in_bytes(std::string_view s);

// `s` with ASCII letters in lower or upper case (names, keywords; no locale).
std::string ascii_lower(std::string s);
std::string ascii_upper(std::string s);

// Quotes a value for messages: `value`.
std::string quote(std::string_view s);

// A CLOCK_REALTIME time in ns as UTC RFC3339 with nanoseconds
// ("2026-11-22T10:00:00.123456789Z"), the form runc uses for `created` and log
// lines; rfc3339_utc_now() is now's.
std::string rfc3339_utc(int64_t ns);
std::string rfc3339_utc_now();

// `path` made absolute against the current directory ("" and "." give the
// directory) and cleaned as Go's filepath.Abs does it for runc's bundle and
// pid file: no "//", "." or trailing "/", and ".." taken lexically.
std::string absolute_path(const std::string& path);

// The names in directory `dir`, sorted, without "." and ".."; none when it cannot be read.
std::vector<std::string> list_dir(const std::string& dir);

// Reads a whole file; throws Error naming the path.
std::string read_file(const std::string& path);

// Writes `data` to an existing file (O_WRONLY|O_TRUNC); throws Error naming the path.
void write_file(const std::string& path, std::string_view data);

// Writes `data` to `path`, created (or truncated) with `mode`; on failure it is
// removed and Error names it.
void write_new_file(const std::string& path, std::string_view data, mode_t mode);

// Replaces `path` with `data` atomically: written to "<path><tmp_suffix>" with
// `mode`, then renamed over it, so readers never see a partial file.
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                       const std::string& tmp_suffix = ".tmp");

}  // namespace crunlite
