// Seccomp filters from linux.seccomp, built with libseccomp.
//
// build_filter() only compiles (no kernel state changes, so it can run and be
// tested anywhere); load_filter() installs it and runs in the container's
// stage-2 process as late as possible: right before execve when
// noNewPrivileges is set, otherwise before the uid switch (loading a filter
// without no_new_privs needs CAP_SYS_ADMIN).
#pragma once

#include <seccomp.h>

#include <memory>
#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::linux {

struct SeccompDeleter {
    void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using SeccompFilter = std::unique_ptr<void, SeccompDeleter>;

// Throws Error naming the JSON path of a bad action, architecture, flag or
// operator (`linux.seccomp.syscalls[3].args[0].op: unknown operator "X"`).
// Syscall names this libseccomp/kernel does not know are skipped with a debug
// line, as runc does.
SeccompFilter build_filter(const spec::Seccomp& seccomp);

void load_filter(const SeccompFilter& filter);

// Names accepted by build_filter, for `features`.
const std::vector<std::string>& seccomp_actions();
const std::vector<std::string>& seccomp_operators();
const std::vector<std::string>& seccomp_flags();
std::vector<std::string> seccomp_architectures();

}  // namespace crunlite::linux
