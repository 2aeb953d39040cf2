// Protection of the runtime binary against CVE-2019-5736-style overwrites.
//
// The container's init runs our code until its final execve.  If process.args
// resolves to /proc/self/exe (a symlink, or a `#!/proc/self/exe` script), the
// kernel executes *this binary* as the container process, and a container
// process could later open it through /proc/<pid>/exe and write it on the host.
// So every command that puts a process into a container first re-executes the
// runtime from a view of itself that nothing can write: as root (CAP_SYS_ADMIN
// over our mount namespace), the binary through a detached read-only overlayfs
// mount that has no upper layer (no copy; no one can make it writable, unlike a
// read-only bind mount); as a user running a binary it owns, a read-only bind
// mount made in a user namespace of its own, which no container's root holds
// capabilities over; where the kernel refuses either, a sealed memfd copy.
// What the container can reach through /proc/<pid>/exe is then unwritable.
//
// Not needed, and skipped, when an unprivileged user runs a root-owned binary
// that only root can write (see self_clone.cpp).
//
// Only the loadable part of the ELF file is copied (program headers, code,
// data; not debug sections), which keeps the copy small even for debug builds.
#pragma once

#include <string>

namespace crunlite::process {

// Returns if the running image already is protected (a view, a sealed copy, or
// needs neither); otherwise execs a view or a sealed memfd copy with the same
// argv and environment (does not return).  Throws Error when /proc/self/exe cannot be read or copied.
void ensure_sealed_self(char** argv);

// The runtime binary on disk, also from the sealed copy (which records where it
// came from): what a process that runs crun-lite again later executes (the
// detached monitor's healthchecks and exit record, monitor/monitor.cpp).
std::string runtime_path();

}  // namespace crunlite::process
