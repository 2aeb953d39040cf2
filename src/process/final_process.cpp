#include "final_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/linux/sched.hpp"
#include "crunlite/linux/terminal.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::process::detail {

// The container starts with default dispositions and nothing blocked, whatever
// the caller ignored or blocked (shells ignore SIGINT for background jobs).
// execve resets what has a handler (a created init's, launcher.cpp) but keeps what is
// ignored: the parent reads which signals that is, once (ignored_signals()),
// and the container process resets those alone, instead of a sigaction for
// each of the 64 (~20 us here).  The init is told while it sets up (Ignored):
// the parent reads them then, not before it forks.  (exec's process needs them
// sooner than the parent would have them: they are read before its fork.)
static void reset_signals(uint64_t ignored) {
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP && ((ignored >> (sig - 1)) & 1)) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

uint64_t ignored_signals() {
    try {
        std::string status = read_file("/proc/self/status");
        size_t at = status.find("\nSigIgn:\t");
        if (at != std::string::npos && at + 9 + 16 <= status.size()) {
            const char* hex = status.data() + at + 9;
            uint64_t mask = 0;
            auto [end, ec] = std::from_chars(hex, hex + 16, mask, 16);
            if (ec == std::errc() && end == hex + 16) return mask;
        }
    } catch (const Error&) {
    }
    return ~uint64_t{0};
}

FinalProcess finish_process(const linux::ProcessPlan& proc, const linux::SeccompProgram* seccomp,
                            const SyncSocket& sync, bool setgroups_allowed, int preserve_fds, uint64_t ignored,
                            sys::UniqueFd pty) {
    FinalProcess out;
    out.env = proc.env;
    // runc's rule: a process without HOME, or with an empty one (podman's exec -u of a uid
    // without a passwd entry sends "HOME="), gets its passwd entry's, else "/".
    auto is_home = [](const std::string& e) { return e.rfind("HOME=", 0) == 0; };
    auto home = std::find_if(out.env.rbegin(), out.env.rend(), is_home);
    if (home == out.env.rend()) out.env.push_back("HOME=" + linux::container_home(proc.user.uid));
    else if (*home == "HOME=") *home += linux::container_home(proc.user.uid);
    // The pty comes from the container's devpts; its master goes to the parent.
    // An exec'd process makes its own here and waits until the parent has handed
    // the master on (console socket, or our terminal's size copied in): conmon
    // sizes it on receipt, so the process sees that size from its first
    // instruction.  An init is held at start anyway.
    if (proc.terminal) {
        bool exec_process = !pty;
        sys::UniqueFd master = exec_process ? linux::setup_terminal(proc.user.uid, proc.console_size) : std::move(pty);
        sync.send_fd(MsgType::Pty, master.get());
        if (exec_process) sync.expect(MsgType::Go, "hand the terminal over");
    }
    linux::set_rlimits(proc.rlimits);
    // After the rlimits (RLIMIT_RTPRIO/NICE may allow them), before the user switch drops CAP_SYS_NICE.
    if (proc.scheduler) linux::set_scheduler(*proc.scheduler);
    if (proc.io_priority) linux::set_io_priority(*proc.io_priority);
    ::umask(proc.umask);
    // As runc: enter the cwd while still root (a directory the runtime may
    // reach but the user not), and again as the user if that was refused.
    bool cwd_entered = linux::try_enter_cwd(proc.cwd);
    // Everything we opened (fifo, sync socket, ...) closes at exec; only stdio
    // and the preserved fds reach the container process.
    check(sys::close_range_cloexec(3 + static_cast<unsigned>(preserve_fds)), "close_range");
    for (int fd = 3; fd < 3 + preserve_fds; ++fd) {
        int fl = ::fcntl(fd, F_GETFD);
        if (fl >= 0) ::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
    reset_signals(ignored);
    if (!proc.terminal) linux::give_stdio_to(proc.user.uid);
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: keep it until then.
    bool filter_needs_admin = seccomp && !proc.no_new_privileges;
    if (!proc.apparmor_profile.empty()) linux::apply_apparmor_profile(proc.apparmor_profile);
    out.drop_sys_admin = linux::set_user_and_capabilities(proc.user, proc.caps, setgroups_allowed, filter_needs_admin);
    if (!cwd_entered) linux::enter_cwd(proc.cwd);
    out.exe = linux::find_executable(proc.args.at(0), out.env);
    if (proc.init_command) linux::find_executable(proc.args.at(proc.init_command), out.env);
    if (proc.no_new_privileges) check(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl PR_SET_NO_NEW_PRIVS");
    ::prctl(PR_SET_PDEATHSIG, 0);
    // A NOTIFY listener goes to the parent before Ready, so `create` can pass it
    // to listenerPath; any notified call we make from then on waits for its supervisor.
    if (seccomp && seccomp->notify) {
        if (sys::UniqueFd listener = linux::load_filter(*seccomp)) sync.send_fd(MsgType::SeccompFd, listener.get());
        out.seccomp_loaded = true;
        out.drop_sys_admin.run();
        out.drop_sys_admin.pending = false;
    }
    return out;
}

[[noreturn]] void exec_final(const linux::ProcessPlan& proc, const linux::SeccompProgram* seccomp, const FinalProcess& fp) {
    if (seccomp && !fp.seccomp_loaded) linux::load_filter(*seccomp);
    fp.drop_sys_admin.run();
    linux::exec_process(fp.exe, proc.args, fp.env);
}

bool setgroups_allowed(std::optional<bool> known) {
    if (known) return *known;
    try {
        return read_file("/proc/self/setgroups").rfind("deny", 0) != 0;
    } catch (const Error&) {
        return true;
    }
}

}  // namespace crunlite::process::detail
