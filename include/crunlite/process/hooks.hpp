// OCI hooks (runtime-spec config.md, "POSIX-platform Hooks").
//
// run_hooks() runs the hooks of one lifecycle point in order, each to
// completion: fork + execve(path, args, env exactly as configured), the
// container state JSON on stdin, stdout/stderr captured (bounded) for the error
// message.  A hook with a timeout is killed when it expires.  Called by the
// runtime (prestart, createRuntime, poststart, poststop) and by the container's
// init (createContainer, startContainer), so it is single-threaded, installs no
// signal handlers and waits for exactly its own child.
#pragma once

#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::process {

// Throws crunlite::Error on the first hook that fails, naming it:
//   "createRuntime hook #1 (`/usr/bin/x`): exit status 3: <stderr>"
//   "poststart hook #0 (`/bin/sleep`): timed out after 2s"
//   "prestart hook #0 (`/nope`): exec: no such file or directory"
// No hook process outlives the call.
void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& kind, const std::string& state_json);

}  // namespace crunlite::process
