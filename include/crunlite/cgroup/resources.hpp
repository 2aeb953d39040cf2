// linux.resources -> cgroup file writes.  Pure (unit-tested); the manager
// performs the writes.  Each controller is written through the hierarchy that
// owns it: cgroup v2 names when `on_v2(controller)` says so, else cgroup v1's
// (memory.limit_in_bytes, cpu.cfs_quota_us, ...), which is how limits are really
// enforced on hybrid hosts.
#pragma once

#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::cgroup {

struct Write {
    std::string controller;  // "memory", "cpu", ...: which hierarchy (v1) or "" for v2 core files
    bool v2 = true;
    std::string file;        // "memory.max"
    std::string value;       // "67108864"
    bool optional = false;   // a file the kernel may lack (memsw without swap accounting): skipped then
    bool reorder = false;    // refused for its order (v1 memory above memsw, a period the old quota
                             // does not fit): written again after the rest of its controller
    std::string field = {};  // where the value comes from, for errors: "linux.resources.memory.limit"
    bool operator==(const Write& o) const {  // the write itself: `field` only names it
        return std::tie(controller, v2, file, value, optional, reorder) ==
               std::tie(o.controller, o.v2, o.file, o.value, o.optional, o.reorder);
    }
};

// v2 controller names: "memory", "pids", "cpu", "cpuset", "io", "hugetlb".  v1
// uses "blkio" for "io".  A limit, weight, share, period or quota of 0 is not
// set, as runc reads it (pids.limit too: -1 is "max").  Throws Error(EINVAL)
// naming the field for values that cannot be expressed (e.g. memory.swap below
// memory.limit).
std::vector<Write> plan_resources(const spec::Resources& r, const std::function<bool(const std::string&)>& on_v2);

// The fields of `r` that set a limit ("linux.resources.memory.limit", ...; devices
// aside): what is not applied where no cgroup is made.
std::vector<std::string> limit_fields(const spec::Resources& r);

// Device access rules for the v1 devices controller, in order: the configured
// linux.resources.devices, then runc's allowed devices (mknod of any node, the
// default /dev/null, zero, full, random, urandom, tty, the pts, ptmx and tun),
// so a "deny all" config still works.  As runc 1.1.5, a node of linux.devices
// is usable only as far as a configured rule allows it (Docker's and podman's
// --device HOST:CTR:r send an "r" rule with it).
std::vector<Write> plan_device_rules(const std::vector<spec::DeviceCgroup>& rules);

// The same rule list as data: what plan_device_rules writes, and what the
// cgroup v2 device program (device_bpf.hpp) enforces.
std::vector<spec::DeviceCgroup> effective_device_rules(const std::vector<spec::DeviceCgroup>& rules);

// cpu.shares (v1, 2..262144) -> cpu.weight (v2, 1..10000), as runc and crun convert.
uint64_t shares_to_weight(uint64_t shares);

}  // namespace crunlite::cgroup
