// User-mode networking for image containers: slirp4netns joined to the
// container's namespaces, ports published through its API socket.  Runs in the
// process that owns the container (the monitor of `run -d`, or `run` itself).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "crunlite/sys/fd.hpp"

namespace crunlite::runtime {

// The address slirp4netns --configure gives the container.
inline constexpr const char* kSlirpGuestAddr = "10.0.2.100";

struct PortMap {
    std::string proto = "tcp";
    int host = 0, container = 0;
    std::string host_addr = "0.0.0.0";
};

// -p [IP:]HOST:CONTAINER[/tcp|udp].  Pure; throws Error(EINVAL) naming the flag.
PortMap parse_port(const std::string& text);

struct Slirp {
    pid_t pid = 0;
    sys::UniqueFd exit_fd;  // slirp4netns exits when this closes
};

// Starts slirp4netns in the network namespace `netns` (and, rootless, the user
// namespace `userns`; fds of the container's init), waits until it configured
// tap0, and publishes `ports` through its API socket <bundle>/slirp.sock (named
// relative to the bundle: a unix socket path has 107 bytes).  Its messages go to
// <bundle>/slirp4netns.log and are quoted in the Error when it fails.  As root
// it runs with --enable-sandbox and --enable-seccomp.
Slirp start_slirp(int netns, int userns, bool rootless, const std::string& bundle, const std::vector<PortMap>& ports);

}  // namespace crunlite::runtime
