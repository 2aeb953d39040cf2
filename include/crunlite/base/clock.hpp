// Clock readings as plain integers, for deadlines (monotonic) and timestamps
// that must survive a process (realtime).
#pragma once

#include <cstdint>

namespace crunlite {

int64_t monotonic_ms();
int64_t realtime_ns();

}  // namespace crunlite
