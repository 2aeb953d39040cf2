#include "crunlite/cgroup/device_bpf.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::cgroup {
namespace {

// The few eBPF instructions the program needs (linux/bpf.h encodings).
BpfInsn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    return bpf_encode(code, dst, src, off, imm);
}
BpfInsn load_u32(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0); }
BpfInsn mov_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
BpfInsn mov_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
BpfInsn and_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm); }
BpfInsn rsh_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm); }
BpfInsn jne_imm(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm); }
BpfInsn jset_imm(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JSET | BPF_K, dst, 0, off, imm); }
BpfInsn jeq_imm(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm); }
BpfInsn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int access_bits(const std::string& access) {
    if (access.empty()) return BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
    int bits = 0;
    for (char c : access)
        bits |= c == 'm' ? BPF_DEVCG_ACC_MKNOD : c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : 0;
    return bits;
}

long bpf(int cmd, bpf_attr& attr) { return ::syscall(SYS_bpf, cmd, &attr, sizeof attr); }

}  // namespace

BpfInsn bpf_encode(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    static_assert(sizeof(BpfInsn) == sizeof(bpf_insn));
    return uint64_t{code} | uint64_t((dst & 0xf) | (src & 0xf) << 4) << 8 | uint64_t(uint16_t(off)) << 16 |
           uint64_t(uint32_t(imm)) << 32;
}

std::vector<BpfInsn> device_program(const std::vector<spec::DeviceCgroup>& rules) {
    // r2 = device type, r3 = requested access, r4 = major, r5 = minor.
    std::vector<BpfInsn> p = {load_u32(2, 1, 0), mov_reg(3, 2), and_imm(2, 0xffff), rsh_imm(3, 16),
                               load_u32(4, 1, 4), load_u32(5, 1, 8)};
    for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
        const auto& r = *it;
        // Checks, each ending in a jump past this rule's verdict when it fails;
        // the jump offsets are filled in once the block's length is known.
        std::vector<BpfInsn> block;
        std::vector<size_t> jumps;
        auto check_jump = [&](BpfInsn jump) {
            jumps.push_back(block.size());
            block.push_back(jump);
        };
        if (!r.type.empty() && r.type != "a")
            check_jump(jne_imm(2, r.type == "b" ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
        int acc = access_bits(r.access);
        if (acc != 7) {
            if (r.allow) {
                // An allow covers a request only if every requested bit is in it.
                check_jump(jset_imm(3, ~acc & 7, 0));
            } else {
                // A deny hits a request that asks for any of its bits.
                block.push_back(mov_reg(6, 3));
                block.push_back(and_imm(6, acc));
                check_jump(jeq_imm(6, 0, 0));
            }
        }
        if (r.major) check_jump(jne_imm(4, static_cast<int32_t>(*r.major), 0));
        if (r.minor) check_jump(jne_imm(5, static_cast<int32_t>(*r.minor), 0));
        block.push_back(mov_imm(0, r.allow ? 1 : 0));
        block.push_back(exit_insn());
        for (size_t at : jumps) {
            auto off = static_cast<uint16_t>(block.size() - at - 1);
            block[at] = (block[at] & ~(uint64_t{0xffff} << 16)) | uint64_t{off} << 16;
        }
        p.insert(p.end(), block.begin(), block.end());
        // A rule without checks matches everything: what comes after is
        // unreachable, which the verifier refuses.
        if (jumps.empty()) return p;
    }
    p.push_back(mov_imm(0, 0));  // nothing matched: deny
    p.push_back(exit_insn());
    return p;
}

void attach_device_program(const std::string& dir, const std::vector<BpfInsn>& program) {
    static const char kLicense[] = "Apache-2.0";
    bpf_attr load{};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = reinterpret_cast<uint64_t>(program.data());
    load.insn_cnt = static_cast<uint32_t>(program.size());
    load.license = reinterpret_cast<uint64_t>(kLicense);
    sys::UniqueFd prog(static_cast<int>(bpf(BPF_PROG_LOAD, load)));
    if (!prog && errno == EINVAL) {
        // Ask the verifier why, for the error message.
        std::string log(16384, '\0');
        load.log_level = 1;
        load.log_buf = reinterpret_cast<uint64_t>(log.data());
        load.log_size = static_cast<uint32_t>(log.size());
        bpf(BPF_PROG_LOAD, load);
        log.resize(std::strlen(log.c_str()));
        throw Error(EINVAL, "load the device cgroup program for " + quote(dir) + ": rejected by the verifier: " + log);
    }
    if (!prog) throw_errno("load the device cgroup program for " + quote(dir));
    sys::UniqueFd cg(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cg) throw_errno("open cgroup " + quote(dir));
    bpf_attr attach{};
    attach.target_fd = static_cast<uint32_t>(cg.get());
    attach.attach_bpf_fd = static_cast<uint32_t>(prog.get());
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attach) < 0) throw_errno("attach the device cgroup program to " + quote(dir));
}

}  // namespace crunlite::cgroup
