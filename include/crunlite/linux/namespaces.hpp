// Namespace helpers.  Run in the container's stage-1 process (see process/launcher.hpp).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"
#include "crunlite/sys/kernel.hpp"

namespace crunlite::linux {

// CLONE_NEW* flag of an OCI namespace type ("network" -> CLONE_NEWNET); throws
// Error naming the type when it is unknown.
int clone_flag(const std::string& type);

// OR of the CLONE_NEW* flags of the namespaces in `namespaces` that have no path
// (i.e. are to be created).
int new_namespace_flags(const std::vector<spec::Namespace>& namespaces);

// setns() into every namespace that has a path, user namespace first (joining
// it changes which other namespaces we may join).  Throws Error naming the path.
void join_namespaces(const std::vector<spec::Namespace>& namespaces, sys::Kernel& k = sys::host_kernel());

// Sets "lo" up in a network namespace we just created (as crun does; runc
// leaves it to the caller): without it even 127.0.0.1 is unreachable in a
// container with --network none, healthchecks included.
void bring_up_loopback();

// CLONE_NEW* flags of the namespaces of `pid` that differ from ours (user,
// mount, pid, ipc, uts, net, cgroup, time): what `exec` must join.
int differing_namespaces(pid_t pid);

}  // namespace crunlite::linux
