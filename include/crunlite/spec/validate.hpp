// Semantic checks of a parsed config, before anything is created.  Pure.
// Throws Error(EINVAL) "SOURCE: JSON.path: what is wrong" for the first problem.
#pragma once

#include <string>

#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

void validate(const Config& config, const std::string& source);

// The same checks of an `exec --process` file, whose paths have no "process." prefix.
void validate_process(const Process& process, const std::string& source);

// The namespace whose own instance a sysctl `key` belongs to: "ipc", "network"
// or "uts" (kernel.hostname, kernel.domainname); "" when it is not namespaced
// (setting it in a container would change the host's).
std::string sysctl_namespace(const std::string& key);

}  // namespace crunlite::spec
