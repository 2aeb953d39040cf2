// Process attributes of the container's init and exec'd processes, applied
// from their plan (linux/process_plan.hpp).  They run in stage-2 after
// pivot_root (paths resolve inside the container), in the order the launcher
// calls them, except set_oom_score_adj, which exec's stage-1 calls (a lower
// score needs the caller's privilege, before the user namespace):
//   set_rlimits, (umask, chdir), apply_apparmor_profile, set_user_and_capabilities,
//   find_executable, (no_new_privs, fds, signals), [seccomp, drop_kept_sys_admin],
//   exec_process.
// Each throws crunlite::Error naming what failed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crunlite/linux/process_plan.hpp"
#include "crunlite/spec/config.hpp"

namespace crunlite::linux {

// A limit above the current hard limit cannot be set without CAP_SYS_RESOURCE:
// reported as "RLIMIT_NOFILE: hard limit 30000 is above the current hard limit 20000".
void set_rlimits(const std::vector<ResourceLimit>& rlimits);

void set_oom_score_adj(int value);

// Whether the AppArmor LSM is enabled (/sys/module/apparmor/parameters/enabled).
bool apparmor_enabled();
// process.apparmorProfile, as runc's: the profile the next execve enters
// ("exec PROFILE" to /proc/thread-self/attr/apparmor/exec, or attr/exec on
// kernels before 5.8).  Throws "apparmor failed to apply profile ...".
void apply_apparmor_profile(const std::string& profile);

// chdir(process.cwd), refusing a directory outside the current root (one
// reached through a leaked fd such as "/proc/self/fd/7").
void enter_cwd(const std::string& cwd);
// The same, but false (nothing done) when chdir is refused with EACCES: the
// caller tries again with enter_cwd() once it runs as the container's user.
bool try_enter_cwd(const std::string& cwd);
// Throws unless the current directory lies inside the current root.
void check_cwd_inside(const std::string& cwd);

// The HOME runc gives a process whose env has none: the home of `uid` in the
// container's /etc/passwd (opened in-root, a regular file of at most 1 MiB;
// anything else counts as no entry), else "/".  Runs after pivot_root.
std::string container_home(uint32_t uid);

// As runc: stdio fds that are pipes, sockets or devices other than a terminal
// or /dev/null are chowned to `uid` (owner only), so a non-root process can
// reopen /dev/stdout; skipped where they are not ours to chown (EPERM, EINVAL:
// unmapped, EROFS).  Unlike runc, a regular file is left alone: it is the
// caller's file on the host (ctr.log of `run -d --image`, a redirect), whose
// owner must not change.  Runs before the switch to the container's user.
void give_stdio_to(uint32_t uid);

// Resolves process.args[0] like runc: a name with '/' is used as is (it must
// exist), otherwise it is searched in PATH taken from `env`.  Errors use runc's
// wording ("exec: \"x\": executable file not found in $PATH"), which callers match,
// and the kind Error::Kind::CommandNotFound or CommandNotExecutable.
std::string find_executable(const std::string& arg0, const std::vector<std::string>& env);

// Switches to user.uid/gid/additionalGids and leaves exactly the configured
// capability sets (bounding, permitted, effective, inheritable, ambient).
// `setgroups_allowed` is false in a
// user namespace whose setgroups file says "deny" (single-id rootless mapping).
// `keep_sys_admin`: a seccomp filter without no_new_privs is still to be loaded,
// which needs CAP_SYS_ADMIN; it is then kept permitted and effective beyond the
// configured sets, and the returned call, run once the filter is in, drops it:
// a single capset(2) prepared in advance, the only call between filter and execve.
struct CapsetCall {
    struct Data {
        uint32_t effective = 0, permitted = 0, inheritable = 0;
    };
    bool pending = false;
    Data data[2];
    void run() const;  // nothing when not pending; throws Error on failure
};
CapsetCall set_user_and_capabilities(const spec::User& user, const CapabilitySets& caps, bool setgroups_allowed,
                                     bool keep_sys_admin = false);

// linux.personality, planned (PER_LINUX or PER_LINUX32).
void set_personality(unsigned long domain);

// A new session keyring `name` ("_ses.<id>", as runc), so containers do not
// share the caller's keys.  Skipped where the kernel has no keyrings (ENOSYS).
void join_session_keyring(const std::string& name);

[[noreturn]] void exec_process(const std::string& path, const std::vector<std::string>& args,
                               const std::vector<std::string>& env);

}  // namespace crunlite::linux
