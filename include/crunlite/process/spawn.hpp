// Running a helper program (newuidmap, ps) and capturing one of its outputs.
#pragma once

#include <string>
#include <vector>

namespace crunlite::process {

struct Captured {
    int status = 0;      // waitpid status
    std::string output;  // what it wrote to the captured fd, trailing newlines trimmed
    bool ok() const;     // exited with 0
};

// Runs argv[0] (searched in PATH) with the other fds inherited, capturing its
// stdout (`fd` 1) or stderr (`fd` 2).  An exec failure is reported in `output`
// with status 127.  Throws only when it cannot fork.
Captured run_capturing(const std::vector<std::string>& argv, int fd);

}  // namespace crunlite::process
