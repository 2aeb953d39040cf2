// Docker's and podman's `run` flags for what the image does not say: tmpfs
// and --mount mounts, devices, /etc/hosts and resolv.conf entries, rlimits,
// sysctls and labels.
// Pure parsers; each throws Error(EINVAL) naming the flag and what was wrong.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crunlite/app/image_spec.hpp"
#include "crunlite/spec/config.hpp"

namespace crunlite::app {

// --tmpfs DST[:OPT[,OPT]]: a tmpfs at the absolute DST (cleaned; not "/" nor
// one of the runtime's own mounts, /proc, /sys, /dev...), Docker's and
// podman's defaults first (rw, noexec, nosuid, nodev, and podman's tmpcopyup:
// it starts with what the image has there), then OPT, later options winning
// (exec, size=64m, mode=1777, notmpcopyup); an option a tmpfs does not know
// is an error.
spec::Mount parse_tmpfs(const std::string& text);

// --mount as Docker's: comma-separated KEY=VALUE, type=bind|volume|tmpfs
// (default volume), source|src, destination|dst|target, readonly|ro[=BOOL];
// volume-nocopy[=BOOL] for a volume; tmpfs-size, tmpfs-mode and podman's
// tmpcopyup/notmpcopyup for a tmpfs.
// A bind or volume is what -v would give (image_spec.hpp: a relative bind
// source starts with "."), a tmpfs what --tmpfs would.
struct MountFlag {
    std::optional<VolumeSpec> volume;
    std::optional<spec::Mount> tmpfs;
};
MountFlag parse_mount(const std::string& text, const std::string& cwd);

// --device HOST[:CONTAINER][:PERMS] as Docker's: absolute paths (cleaned),
// PERMS of r, w and m (default rwm).  HOST may be a directory of devices.
struct DeviceFlag {
    std::string host, container, access = "rwm";
};
DeviceFlag parse_device(const std::string& text);

// --add-host NAME:IP (IPv6 unbracketed or in brackets): the /etc/hosts line
// "IP\tNAME\n".  IP may be Docker's host-gateway: `gateway`, the host's address
// the container reaches it at (NetworkEtc), refused when that is "".
std::string hosts_entry(const std::string& text, const std::string& gateway);

struct DnsFlags {
    std::vector<std::string> servers, search, options;  // --dns, --dns-search, --dns-option
    bool empty() const { return servers.empty() && search.empty() && options.empty(); }
};
// resolv.conf for the container: `base` (the network's, or the host's) as it
// is without DNS flags; else its nameservers, search and options lines, each
// replaced by the flags that are given (Docker's: --dns-search . means none).
// A --dns that is not an IP address is an error.
std::string resolv_conf(const std::string& base, const DnsFlags& dns);
// The base resolv.conf of a network with its own DNS forwarder (slirp4netns,
// pasta): `nameserver` first, then the host's (`host`, its resolv.conf) that
// the container can reach (not loopback; IPv6 ones only with `ipv6`), its
// search and options (podman's).
std::string network_resolv_conf(const std::string& host, const std::string& nameserver, bool ipv6);
// `--dns none` (podman's): no resolv.conf is written, the image's stays.  With
// another --dns, a --dns-search or a --dns-option it is an error.
bool keeps_image_resolv_conf(const DnsFlags& dns);

// The runtime's own mounts (/proc, /sys, /dev, ...): a tmpfs or an empty volume
// there would hide what they hold.  `dst` is clean (absolute_path).
bool runtime_mount_point(const std::string& dst);

// --ulimit NAME=SOFT[:HARD] as Docker's: NAME one of core, cpu, data, fsize,
// locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime,
// sigpending, stack, as; -1 is unlimited; no HARD: HARD = SOFT.
spec::Rlimit parse_ulimit(const std::string& text);

// `rlimits` with `r` set, replacing one of its type.
void set_rlimit(std::vector<spec::Rlimit>& rlimits, const spec::Rlimit& r);

// --sysctl KEY=VALUE of a namespaced sysctl: an IPC one, or net.* unless the
// container has the host's network; not kernel.hostname/domainname (podman's).
std::pair<std::string, std::string> parse_sysctl(const std::string& text, bool host_network);

// KEY=VALUE of --sysctl (VALUE may hold "=") or, with `value_optional`,
// --label's KEY[=VALUE].  KEY must not be empty nor hold blanks.
std::pair<std::string, std::string> parse_key_value(const std::string& text, const std::string& flag,
                                                    bool value_optional);

}  // namespace crunlite::app
