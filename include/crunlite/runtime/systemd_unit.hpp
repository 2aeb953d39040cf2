// The systemd cgroup driver's calls to systemd, through crun-lite-systemd
// (src/systemd/main.cpp: sd-bus, linked dynamically, so the static crun-lite
// does not carry libsystemd; docs/design.md).  Runs in the runtime parent.
// Errors name the helper's message (which names the bus, the unit and the call).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "crunlite/cgroup/systemd.hpp"

namespace crunlite::runtime {

// The helper: $CRUNLITE_SYSTEMD, the installed one, or the build tree's.
std::string find_systemd_helper();

// The manager's own cgroup (Manager.ControlGroup): "" for the system manager
// (not asked), the user manager's for `user`.  Throws Error naming the bus
// when no systemd answers.
std::string systemd_manager_cgroup(bool user);

// Starts `unit` (StartTransientUnit with its properties and PIDs = [pid];
// waits for the job), as runc does with the container's init before it goes
// on.  Throws Error when systemd refuses, or when it put `pid` elsewhere than
// unit.cgroup.
void start_unit(const cgroup::SystemdUnit& unit, pid_t pid);

// AttachProcessesToUnit: `pid` into the unit's cgroup, or `sub` below it
// (`exec` rootless, where the caller may not move a process there itself).
void attach_to_unit(const std::string& unit, bool user, pid_t pid, const std::string& sub);

// SetUnitProperties (runtime) for `update`.
void set_unit_properties(const std::string& unit, bool user, const std::vector<std::string>& properties);

// StopUnit (waits for the job; a unit that is gone is fine), then
// ResetFailedUnit.  Logs instead of throwing: delete goes on to remove what is left.
void stop_unit(const std::string& unit, bool user) noexcept;

}  // namespace crunlite::runtime
