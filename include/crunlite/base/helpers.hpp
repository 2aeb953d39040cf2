// Where crun-lite's helper programs are: crun-lite-init, crun-lite-pull,
// crun-lite-monitor (each its own executable, see docs/architecture.md).
#pragma once

#include <string>

namespace crunlite {

// The helper `name`: $`env_var` when set and not empty, else the installed
// <libexecdir>/crun-lite/`name`, else `build_path` (the build tree's, for a
// crun-lite run from its build directory).  Throws Error(ENOENT) naming the
// places it looked and the variable that overrides them.
std::string find_helper(const std::string& name, const char* env_var, const char* build_path);

}  // namespace crunlite
