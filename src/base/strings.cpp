#include "crunlite/base/strings.hpp"

#include <dirent.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <system_error>
#include <fcntl.h>
#include <unistd.h>

#include "crunlite/base/error.hpp"

namespace crunlite {

std::vector<std::string_view> split_view(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        size_t pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            out.push_back(s.substr(start));
            return out;
        }
        out.push_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts = split_view(s, sep);
    return {parts.begin(), parts.end()};
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += sep;
        out += parts[i];
    }
    return out;
}

template <typename T>
static std::optional<T> parse_number(std::string_view s) {
    T value{};
    if (s.empty()) return std::nullopt;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return value;
}

std::string trim(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return std::string(s);
}

std::optional<int64_t> parse_int(std::string_view s) { return parse_number<int64_t>(s); }
std::optional<uint64_t> parse_uint(std::string_view s) { return parse_number<uint64_t>(s); }

std::optional<int64_t> ram_in_bytes(std::string_view s) {
    size_t i = 0;
    auto digits = [&] {
        size_t from = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        return i > from;
    };
    // (The regex takes "1.2.3" too, which strconv.ParseFloat then refuses.)
    if (!digits() || (i < s.size() && s[i] == '.' && (++i, !digits()))) return std::nullopt;
    std::string_view number = s.substr(0, i);
    if (i < s.size() && s[i] == ' ') ++i;
    int shift = 0;
    if (i < s.size())
        if (size_t p = std::string_view("kmgtp").find(static_cast<char>(s[i] | 0x20)); p != std::string_view::npos) {
            shift = 10 * static_cast<int>(p + 1);
            ++i;
        }
    if (i < s.size() && (s[i] == 'i' || s[i] == 'I')) ++i;
    if (i < s.size() && (s[i] == 'b' || s[i] == 'B')) ++i;
    double v = 0;
    if (i != s.size() || std::from_chars(number.data(), number.data() + number.size(), v).ec != std::errc{})
        return std::nullopt;
    v *= static_cast<double>(int64_t{1} << shift);
    if (!(v < 9223372036854775808.0)) return std::nullopt;
    return static_cast<int64_t>(v);
}

std::string ascii_lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

std::string ascii_upper(std::string s) {
    for (char& c : s)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return s;
}

std::string quote(std::string_view s) { return "`" + std::string(s) + "`"; }

std::string rfc3339_utc(int64_t ns) {
    // The calendar from <chrono>, not gmtime_r or strftime: glibc's initialise
    // its time zone first, reading /etc/localtime (7 system calls on every
    // create) for a UTC time that needs no zone.
    using namespace std::chrono;
    int64_t secs = ns / 1'000'000'000, frac = ns % 1'000'000'000;
    if (frac < 0) secs -= 1, frac += 1'000'000'000;
    sys_seconds t{seconds(secs)};
    sys_days day = floor<days>(t);
    year_month_day ymd(day);
    hh_mm_ss hms(t - day);
    char out[96];
    std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02d:%02d:%02d.%09ldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), static_cast<long>(frac));
    return out;
}

std::string rfc3339_utc_now() {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return rfc3339_utc(int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec);
}

std::string absolute_path(const std::string& path) {
    bool clean = !path.empty() && path[0] == '/' && path.find("//") == std::string::npos &&
                 path.find("/.") == std::string::npos && (path.size() == 1 || path.back() != '/');
    if (clean) return path;
    std::string whole = path;
    if (path.empty() || path[0] != '/') {
        char buf[4096];
        if (!::getcwd(buf, sizeof buf)) throw_errno("getcwd");
        if (path.empty() || path == ".") return buf;  // getcwd's is clean
        whole = std::string(buf) + "/" + path;
    }
    std::vector<std::string_view> parts;
    for (std::string_view rest = whole; !rest.empty();) {
        size_t slash = rest.find('/');
        std::string_view part = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (!parts.empty()) parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (auto p : parts) out.append("/").append(p);
    return out.empty() ? "/" : out;
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::string n = e->d_name; n != "." && n != "..") out.push_back(std::move(n));
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + quote(path));
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            throw sys_error(err, "read " + quote(path));
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

void write_file(const std::string& path, std::string_view data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + quote(path));
    ssize_t n = ::write(fd, data.data(), data.size());
    int err = errno;
    ::close(fd);
    if (n < 0) throw sys_error(err, "write " + quote(path));
    if (static_cast<size_t>(n) != data.size()) throw Error(EIO, "write " + quote(path) + ": short write");
}

void write_new_file(const std::string& path, std::string_view data, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw_errno("create " + quote(path));
    ssize_t n = ::write(fd, data.data(), data.size());
    int err = n < 0 ? errno : EIO;  // a short write: out of space
    ::close(fd);
    if (n != static_cast<ssize_t>(data.size())) {
        ::unlink(path.c_str());
        throw sys_error(err, "write " + quote(path));
    }
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode, const std::string& tmp_suffix) {
    std::string tmp = path + tmp_suffix;
    write_new_file(tmp, data, mode);
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw sys_error(err, "write " + quote(path));
    }
}

}  // namespace crunlite
