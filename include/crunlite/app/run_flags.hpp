// Docker's and podman's `run` flags for what the image does not say: tmpfs
// mounts, /etc/hosts and resolv.conf entries, rlimits, sysctls and labels.
// Pure parsers; each throws Error(EINVAL) naming the flag and what was wrong.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::app {

// --tmpfs DST[:OPT[,OPT]]: a tmpfs at the absolute DST (not "/"), podman's
// defaults first (rw, noexec, nosuid, nodev, and tmpcopyup: it starts with
// what the image has there), then OPT, later options winning (exec,
// size=64m, mode=1777, notmpcopyup).
spec::Mount parse_tmpfs(const std::string& text);

// --add-host NAME:IP (IPv6 unbracketed or in brackets): the /etc/hosts line
// "IP\tNAME\n".
std::string hosts_entry(const std::string& text);

struct DnsFlags {
    std::vector<std::string> servers, search, options;  // --dns, --dns-search, --dns-option
    bool empty() const { return servers.empty() && search.empty() && options.empty(); }
};
// resolv.conf for the container: `base` (the network's, or the host's) as it
// is without DNS flags; else its nameservers, search and options lines, each
// replaced by the flags that are given (Docker's: --dns-search . means none).
// A --dns that is not an IP address is an error.
std::string resolv_conf(const std::string& base, const DnsFlags& dns);

// --ulimit NAME=SOFT[:HARD] as Docker's: NAME one of core, cpu, data, fsize,
// locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime,
// sigpending, stack, as; -1 is unlimited; no HARD: HARD = SOFT.
spec::Rlimit parse_ulimit(const std::string& text);

// `rlimits` with `r` set, replacing one of its type.
void set_rlimit(std::vector<spec::Rlimit>& rlimits, const spec::Rlimit& r);

// KEY=VALUE of --sysctl (VALUE may hold "=") or, with `value_optional`,
// --label's KEY[=VALUE].  KEY must not be empty nor hold blanks.
std::pair<std::string, std::string> parse_key_value(const std::string& text, const std::string& flag,
                                                    bool value_optional);

}  // namespace crunlite::app
