// Process-wide logger.  Text lines go to stderr (or --log FILE) as
// "crun-lite: level: msg"; with --log-format json each line is one object
// {"level":"...","msg":"...","time":"RFC3339"} as runc writes and podman/containerd
// read.  One process-wide destination; lines from several threads (an image
// pull's layer workers under --debug) are each written with one write(2).
#pragma once

#include <string>

namespace crunlite::log {

enum class Level { Debug, Info, Warn, Error };
enum class Format { Text, Json };

// Configures the sink.  `path` empty means stderr.  Throws Error when the file
// cannot be opened.
void configure(const std::string& path, Format format, bool debug);

bool debug_enabled();

void write(Level level, const std::string& msg);
inline void debug(const std::string& msg) { if (debug_enabled()) write(Level::Debug, msg); }
inline void info(const std::string& msg) { write(Level::Info, msg); }
inline void warn(const std::string& msg) { write(Level::Warn, msg); }
inline void error(const std::string& msg) { write(Level::Error, msg); }

// True when errors should also be echoed on stderr (a log file is configured:
// runc writes the final error both to the log and to stderr).
bool logging_to_file();

}  // namespace crunlite::log
