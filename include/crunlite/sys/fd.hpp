// UniqueFd: move-only owner of a file descriptor; closes it on destruction.
// Functions that only use an fd take `int` (a borrowed view); functions that
// take ownership take UniqueFd by value.  Pipe: the two ends of a pipe.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>

namespace crunlite::sys {

class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }

    // Gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// A pipe, both ends close-on-exec (a forked child that execs keeps only what
// it dup2()s onto its own fds).
struct Pipe {
    UniqueFd read, write;

    // pipe2(O_CLOEXEC); throws Error "`context`: <strerror>" when it fails.
    static Pipe make(const std::string& context = "pipe");
};

// Reads `fd` until EOF (retrying EINTR), keeping the first `cap` bytes and
// draining the rest.  Stops early on a read error (the bytes so far).
std::string read_to_end(int fd, size_t cap = SIZE_MAX);

}  // namespace crunlite::sys
