#include "crunlite/base/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::log {
namespace {

int g_fd = STDERR_FILENO;
Format g_format = Format::Text;
bool g_debug = false;
bool g_to_file = false;

const char* level_name(Level level) {
    switch (level) {
        case Level::Debug: return "debug";
        case Level::Info: return "info";
        case Level::Warn: return "warning";
        case Level::Error: return "error";
    }
    return "error";
}

std::string json_escape(const std::string& s) {
    std::string out;
    out.reserve(s.size() + 2);
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out;
}

}  // namespace

void configure(const std::string& path, Format format, bool debug) {
    g_format = format;
    g_debug = debug;
    if (!path.empty()) {
        int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) throw_errno("open log file " + quote(path));
        g_fd = fd;
        g_to_file = true;
    }
}

bool debug_enabled() { return g_debug; }
bool logging_to_file() { return g_to_file; }

void write(Level level, const std::string& msg) {
    std::string line;
    if (g_format == Format::Json) {
        line = "{\"level\":\"" + std::string(level_name(level)) + "\",\"msg\":\"" + json_escape(msg) +
               "\",\"time\":\"" + rfc3339_utc_now() + "\"}\n";
    } else {
        line = "crun-lite: ";
        if (level != Level::Error) line += std::string(level_name(level)) + ": ";
        line += msg + "\n";
    }
    // One write() per line so concurrent writers never interleave within a line.
    [[maybe_unused]] ssize_t n = ::write(g_fd, line.data(), line.size());
}

}  // namespace crunlite::log
