// Seccomp filters from linux.seccomp, built with libseccomp.
//
// build_filter() compiles the rules with libseccomp and exports the BPF program
// (no kernel state changes, so it runs in the runtime parent and can be tested
// anywhere); the runtime calls it through build_filter_bounded(), in a child
// with a deadline, because libseccomp can loop forever on some profiles.
// load_filter() installs the program with seccomp(2) itself rather
// than seccomp_load(): that lets us pass every SECCOMP_FILTER_FLAG_* the config
// asks for (libseccomp 2.5 knows no WAIT_KILLABLE_RECV), get the listener fd of
// SCMP_ACT_NOTIFY rules, and never set no_new_privs behind the config's back
// (seccomp_load does by default).
//
// The init loads it last, right before execve, so no call a profile might deny
// comes after it (without no_new_privs, CAP_SYS_ADMIN is kept for the load and
// dropped by one prepared capset; see process/launcher.cpp).  With NOTIFY rules
// it loads before reporting Ready, so the listener fd can reach listenerPath
// during `create`.
#pragma once

#include <linux/filter.h>
#include <seccomp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::linux {

struct SeccompProgram {
    std::vector<sock_filter> bpf;
    unsigned flags = 0;   // SECCOMP_FILTER_FLAG_* from linux.seccomp.flags
    bool notify = false;  // some rule is SCMP_ACT_NOTIFY: load with NEW_LISTENER
};

// Throws Error naming the JSON path of a bad action, architecture, flag or
// operator (`linux.seccomp.syscalls[3].args[0].op: unknown operator "X"`).
// Syscall names this libseccomp/kernel does not know are skipped with a debug
// line, as runc does.
SeccompProgram build_filter(const spec::Seccomp& seccomp);

// How long build_filter_bounded() lets libseccomp work.  Docker's default
// profile compiles in about 10 ms, and 4000 one-condition rules (about the
// most that fit the kernel's 4096 instructions) in 0.4 s: 10 s leaves room
// for a slow, busy host.
constexpr int64_t kSeccompCompileTimeoutMs = 10'000;

// build_filter() in a child process, waited for at most `timeout_ms`:
// libseccomp 2.5.4 never returns on some small profiles (two rules for one
// syscall with different actions and NE conditions on a shared argument), and
// config.json is the caller's input.  Returns the same program and throws the
// same Error (errno and text) as build_filter(); past the deadline the child
// is killed and reaped and Error(ETIMEDOUT) says "linux.seccomp: libseccomp did
// not finish compiling the profile within 10 seconds".  Forks: for a
// single-threaded caller (the runtime parent).
SeccompProgram build_filter_bounded(const spec::Seccomp& seccomp, int64_t timeout_ms = kSeccompCompileTimeoutMs);

// Installs the program in the calling thread.  Returns the listener fd when the
// program has NOTIFY rules, else an empty UniqueFd.  WAIT_KILLABLE_RECV is
// dropped on kernels that refuse it (before 5.19).
sys::UniqueFd load_filter(const SeccompProgram& program);

// Names accepted by build_filter, for `features`.
const std::vector<std::string>& seccomp_actions();
const std::vector<std::string>& seccomp_operators();
const std::vector<std::string>& seccomp_flags();
std::vector<std::string> seccomp_architectures();

}  // namespace crunlite::linux
