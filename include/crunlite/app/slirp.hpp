// User-mode networking for image containers: slirp4netns joined to the
// container's namespaces, ports published through its API socket; and the
// published ports themselves (-p), shared with pasta (pasta.hpp).  Runs in the
// process that owns the container (the monitor of `run -d`, or `run` itself),
// in the host's network namespace.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "crunlite/runtime/container.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::app {

// The address slirp4netns --configure gives the container.
inline constexpr const char* kSlirpGuestAddr = "10.0.2.100";

struct PortMap {
    std::string proto = "tcp";
    int host = 0, container = 0;       // host 0: any free port (pick_host_ports)
    std::string host_addr = "0.0.0.0";  // an IPv4 or IPv6 address ("::1"), never bracketed
};

// -p as Docker takes it: [IP:][HOST:]CONTAINER[/tcp|udp], where an empty or
// missing HOST ("3000", "127.0.0.1::3000") means a free port picked when the
// container starts; an IPv6 address goes in brackets ("[::1]:8080:3000").
// Pure; throws Error(EINVAL) naming the flag.
PortMap parse_port(const std::string& text);
// parse_port, and Docker's ranges: [IP:]HOST1-HOST2:C1-C2[/PROTO] (as long as
// each other) or [IP::]C1-C2 (free host ports), one PortMap per port.
std::vector<PortMap> parse_ports(const std::string& text);

// -P (Docker's and podman's --publish-all): a free host port on every address
// for each port of `exposed` (ExposedPorts keys: the image's and --expose's)
// that `published` (-p) does not map already.  sctp is skipped with a warning
// (pasta and slirp4netns forward tcp and udp).  Throws Error naming -P past
// 1024 ports.
std::vector<PortMap> publish_all(const std::vector<std::string>& exposed, const std::vector<PortMap>& published);

// "-p 127.0.0.1:8080:3000/udp" as given back in messages.
std::string port_flag(const PortMap& p);

// Makes `ports` publishable on this host, in our network namespace: each fixed
// host port is checked free (bind, SO_REUSEADDR for tcp as the forwarders set
// it) and each port 0 gets a free one (bound to port 0 and released, as Docker
// and podman pick; ports picked in one call differ).  Throws Error naming the
// flag in plain words: EADDRINUSE "-p 8080:3000: host port 8080 (tcp) is
// already in use", EACCES for a privileged port rootless, EADDRNOTAVAIL for an
// address the host does not have.
void pick_host_ports(std::vector<PortMap>& ports);

// <bundle>/ports.json: the published ports, written once they are all
// forwarded, read by `crun-lite port`.  read_ports returns {} when the file is
// absent (nothing published).
void write_ports(const std::string& bundle, const std::vector<PortMap>& ports);
std::vector<PortMap> read_ports(const std::string& bundle);

// `crun-lite port`: the ports published for container `id` of `ctx.root`; {}
// when none were, or once it stopped (its forwarder went with it).  Throws
// Error(ENOENT, "container does not exist").
std::vector<PortMap> published_ports(const runtime::Context& ctx, const std::string& id);

// Docker's name of the container side: "3000/tcp" (`port` lines, inspect's NetworkSettings.Ports).
std::string port_key(const PortMap& p);
// Docker's `port` lines: "3000/tcp -> 0.0.0.0:49153" ("[::1]:8080" for IPv6).
std::string format_port(const PortMap& p);

// The user-mode network helper of a container (slirp4netns or pasta): a child
// of the process that started it, stopped and reaped by stop_user_network.
struct NetHelper {
    pid_t pid = 0;
    sys::UniqueFd exit_fd;  // slirp4netns exits when this closes (pasta gets SIGTERM)
};
using Slirp = NetHelper;

// The network of an image container: `requested` (--network: none, host,
// slirp4netns, pasta; "" for the default), checked against what is installed.
// The default is a user-mode network when the caller is rootless or publishes
// ports (`publish_flag`: "-p" or "-P", the flag that does; "" for none), else
// none: pasta where installed (the faster one, contrib/bench/net-bench.sh), else
// slirp4netns.  `creating` (create --image, which has no monitor to keep a helper
// alive) allows none and host only.  Throws Error naming the flag.
std::string resolve_network_mode(const std::string& requested, const std::string& publish_flag, bool rootless,
                                 bool creating);
bool is_user_network(const std::string& mode);

// What the container's /etc/hosts and /etc/resolv.conf say in `mode`: the
// address its host name resolves to, its nameserver ("": the host's
// resolv.conf as it is), and the host's address the container reaches the host
// at, host.containers.internal and --add-host's host-gateway (podman's: the
// host's first IPv4 address other than loopback; with slirp4netns and host
// only: pasta gives the container the host's addresses, none has no way out).
struct NetworkEtc {
    std::string host_addr = "127.0.1.1";
    std::string nameserver;
    std::string host_gateway;  // "": none
};
NetworkEtc network_etc(const std::string& mode);

// Starts the helper of `mode` (slirp4netns or pasta) joined to the container's
// namespaces, with `ports` published; see start_slirp and start_pasta.
// In the forked child of a network helper (slirp4netns, pasta): `fds` become
// 3, 4, ... (a -1 leaves its slot closed), stdin /dev/null, stdout and stderr
// the file `log_path`; then `args` runs.  Never returns.
[[noreturn]] void exec_network_helper(std::vector<int> fds, const std::string& log_path,
                                      std::vector<std::string> args);

NetHelper start_user_network(const std::string& mode, int netns, int userns, bool rootless, const std::string& bundle,
                             std::vector<PortMap> ports);
// Stops the helper (slirp4netns: its exit fd closes; pasta: SIGTERM) and reaps it.
void stop_user_network(NetHelper& helper);

// Starts slirp4netns in the network namespace `netns` (and, rootless, the user
// namespace `userns`; fds of the container's init), waits until it configured
// tap0, and publishes `ports` through its API socket <bundle>/slirp.sock (named
// relative to the bundle: a unix socket path has 107 bytes), picking free host
// ports first (pick_host_ports) and recording them (write_ports).  Its messages
// go to <bundle>/slirp4netns.log and are quoted in the Error when it fails.  As
// root it runs with --enable-sandbox and --enable-seccomp.
Slirp start_slirp(int netns, int userns, bool rootless, const std::string& bundle, std::vector<PortMap> ports);

}  // namespace crunlite::app
