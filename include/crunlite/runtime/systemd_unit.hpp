// The systemd cgroup driver's calls to systemd, through crun-lite-systemd
// (src/systemd/main.cpp: sd-bus, linked dynamically, so the static crun-lite
// does not carry libsystemd; docs/design.md).  Runs in the runtime parent.
// Errors name the helper's message (which names the bus, the unit and the call).
#pragma once

#include <string>
#include <vector>

#include "crunlite/cgroup/systemd.hpp"
#include "crunlite/sys/child.hpp"

namespace crunlite::runtime {

// The helper: $CRUNLITE_SYSTEMD, the installed one, or the build tree's.
std::string find_systemd_helper();

// The manager's own cgroup (Manager.ControlGroup): "" for the system manager
// (not asked), the user manager's for `user`.  Throws Error naming the bus
// when no systemd answers.
std::string systemd_manager_cgroup(bool user);

// A started unit whose first process is the helper itself: the unit's cgroup
// exists and is never empty while this is held.  release() (once the
// container's init is in the cgroup) ends the helper (SIGTERM, which it also
// gets if we die first).
class StartedUnit {
public:
    // Starts `unit` (StartTransientUnit with its properties; waits for the
    // job).  Throws Error when systemd refuses, or when it put the unit
    // elsewhere than unit.cgroup.
    explicit StartedUnit(const cgroup::SystemdUnit& unit);
    StartedUnit(StartedUnit&&) noexcept = default;
    StartedUnit& operator=(StartedUnit&&) noexcept = default;
    ~StartedUnit() { release(); }
    void release() noexcept;

private:
    sys::Child helper_;
};

// SetUnitProperties (runtime) for `update`.
void set_unit_properties(const std::string& unit, bool user, const std::vector<std::string>& properties);

// StopUnit (waits for the job; a unit that is gone is fine), then
// ResetFailedUnit.  Logs instead of throwing: delete goes on to remove what is left.
void stop_unit(const std::string& unit, bool user) noexcept;

}  // namespace crunlite::runtime
