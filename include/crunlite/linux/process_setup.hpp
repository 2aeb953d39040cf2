// Process attributes of the container's init process.  All functions run in the
// container's stage-2 process after pivot_root (paths resolve inside the
// container), in the order the launcher calls them:
//   set_rlimits, set_oom_score_adj, find_executable, set_user_and_capabilities,
//   (umask, chdir, no_new_privs), exec_process.
// Each throws crunlite::Error naming what failed.
#pragma once

#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::linux {

// RLIMIT_* name to resource number; -1 when unknown.
int rlimit_resource(const std::string& name);

// A limit above the current hard limit cannot be set without CAP_SYS_RESOURCE:
// reported as "RLIMIT_NOFILE: hard limit 30000 is above the current hard limit 20000".
void set_rlimits(const std::vector<spec::Rlimit>& rlimits);

void set_oom_score_adj(int value);

// chdir(process.cwd), refusing a directory outside the current root (one
// reached through a leaked fd such as "/proc/self/fd/7").
void enter_cwd(const std::string& cwd);

// Resolves process.args[0] like runc: a name with '/' is used as is (it must
// exist), otherwise it is searched in PATH taken from `env`.  Errors use runc's
// wording ("exec: \"x\": executable file not found in $PATH"), which callers match.
std::string find_executable(const std::string& arg0, const std::vector<std::string>& env);

// Switches to user.uid/gid/additionalGids and leaves exactly the configured
// capability sets (bounding, permitted, effective, inheritable, ambient).
// `caps` absent keeps whatever the process has.  `setgroups_allowed` is false in a
// user namespace whose setgroups file says "deny" (single-id rootless mapping).
void set_user_and_capabilities(const spec::User& user, const spec::Capabilities* caps, bool setgroups_allowed);

// linux.personality: LINUX or LINUX32 (the spec defines no flags yet).
void set_personality(const spec::Personality& p);

// A new session keyring "_ses.<id>" (as runc), so containers do not share the
// caller's keys.  Skipped where the kernel has no keyrings (ENOSYS).
void join_session_keyring(const std::string& container_id);

[[noreturn]] void exec_process(const std::string& path, const std::vector<std::string>& args,
                               const std::vector<std::string>& env);

}  // namespace crunlite::linux
