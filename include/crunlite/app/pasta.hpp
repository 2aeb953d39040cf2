// pasta(1) (Debian's passt) as an image container's network: the container's
// network namespace gets a tap interface with the host's own addresses and
// routes, IPv4 and IPv6 (--config-net); published ports are bound on the host
// by pasta and forwarded to the container, a client's address kept (a loopback
// client is spliced to the container's loopback).  Runs in the process that
// owns the container (the monitor of `run -d`, or `run` itself).
#pragma once

#include <string>
#include <vector>

#include "crunlite/app/slirp.hpp"

namespace crunlite::app {

// The address the container sends DNS queries to: pasta forwards them to the
// host's first nameserver (--dns-forward); link-local, as podman's choice.
inline constexpr const char* kPastaDnsAddr = "169.254.1.1";

// Starts pasta in the foreground as our child, in the network namespace
// `netns` (and, rootless, the user namespace `userns`; fds of the container's
// init, passed as /proc/self/fd paths), and returns once it is ready: the
// interface is configured and every port of `ports` bound (free host ports
// picked first, pick_host_ports; then recorded, write_ports).  It forwards only
// the published ports into the container, nothing from it to the host's
// loopback (-T none -U none, --no-map-gw).  Its messages go to
// <bundle>/pasta.log and are quoted in the Error when it fails.  It gets
// SIGTERM should its parent die.  As root it keeps uid 0 (--runas 0:0) to
// reach the namespace fds, confined by its own sandbox and a handful of
// capabilities.
NetHelper start_pasta(int netns, int userns, bool rootless, const std::string& bundle, std::vector<PortMap> ports);

// The arguments start_pasta runs pasta with (after argv[0]): pure, for tests.
// `netns_fd`, `userns_fd` (-1: none), `pid_fd`: the fd numbers in pasta;
// `as_root`: we are uid 0 (pasta would switch to nobody, who cannot use them).
std::vector<std::string> pasta_args(const std::vector<PortMap>& ports, int netns_fd, int userns_fd, int pid_fd,
                                    bool as_root);

}  // namespace crunlite::app
