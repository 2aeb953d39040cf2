#include "crunlite/sys/fd.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "crunlite/base/error.hpp"

namespace crunlite::sys {

Pipe Pipe::make(const std::string& context) {
    int fds[2];
    check(::pipe2(fds, O_CLOEXEC), context);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string read_to_end(int fd, size_t cap) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && out.size() < cap) out.append(buf, std::min(static_cast<size_t>(n), cap - out.size()));
    return out;
}

}  // namespace crunlite::sys
