// Device rules on cgroup v2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE
// attached to the container's cgroup (v2 has no devices.allow file).
//
// device_program() is pure: the rules become a chain of checks, evaluated from
// the last rule to the first, the first match deciding (so later rules override
// earlier ones, as with v1's allow/deny files after a "deny all"); no match
// denies.  A rule matches when the device type, major and minor match (absent =
// any) and the requested access is within the rule's access.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::cgroup {

// One eBPF instruction as its 8 bytes (struct bpf_insn on a little-endian host:
// code, dst | src << 4, off, imm), which keeps GCC's bit-field checks quiet.
using BpfInsn = uint64_t;
BpfInsn bpf_encode(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm);

std::vector<BpfInsn> device_program(const std::vector<spec::DeviceCgroup>& rules);

// Loads the program and attaches it to the cgroup directory `dir`.  Needs
// CAP_SYS_ADMIN (or CAP_BPF): only used as root.  Throws Error naming `dir`.
void attach_device_program(const std::string& dir, const std::vector<BpfInsn>& program);

}  // namespace crunlite::cgroup
