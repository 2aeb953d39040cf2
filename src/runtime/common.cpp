#include "internal.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "crunlite/runtime/systemd_unit.hpp"
#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/sha256.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/spec/default_spec.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::runtime {
namespace detail {

// Writes `pid` to `path` atomically (temp file + rename), as runc does, so a
// reader polling for the file never sees it empty.
void write_pid_file(const std::string& path, pid_t pid) {
    with_context("pid file " + quote(path),
                 [&] { write_file_atomic(absolute_path(path), std::to_string(pid), 0644, ".tmp-crun-lite"); });
}

int wait_forwarding_signals(process::Launched& c, linux::TerminalProxy* tty, int64_t timeout_ms) {
    const pid_t child = c.process.pid();
    const int pidfd = c.process.pidfd();
    sigset_t all;
    sigfillset(&all);
    sigset_t old;
    ::sigprocmask(SIG_BLOCK, &all, &old);
    sys::UniqueFd sfd(::signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sfd) throw_errno("signalfd");
    bool tty_open = tty != nullptr;
    int exit_code = -1;
    int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
    while (exit_code < 0) {
        if (deadline >= 0 && monotonic_ms() >= deadline) {
            // Its whole process group (it leads one), so its children go too.
            ::kill(-child, SIGKILL);
            sys::pidfd_send_signal(pidfd, SIGKILL);
            deadline = -1;
        }
        pollfd fds[4] = {{sfd.get(), POLLIN, 0},
                         {pidfd, POLLIN, 0},
                         {tty_open ? tty->master() : -1, POLLIN, 0},
                         {tty_open && tty->stdin_open() ? STDIN_FILENO : -1, POLLIN, 0}};
        int wait = deadline < 0 ? -1 : static_cast<int>(std::clamp<int64_t>(deadline - monotonic_ms(), 0, INT_MAX));
        if (::poll(fds, 4, wait) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (fds[2].revents) tty_open = tty->pump_output();
        if (fds[3].revents) tty->pump_input();
        signalfd_siginfo si;
        while (::read(sfd.get(), &si, sizeof si) == sizeof si) {
            int sig = static_cast<int>(si.ssi_signo);
            if (sig == SIGWINCH && tty) tty->resize();
            if (sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH) continue;
            sys::pidfd_send_signal(pidfd, sig);
        }
        int status;
        pid_t pid;
        while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != child) continue;
            exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    // With a timeout (a healthcheck probe), what the process left running in
    // its group goes with it.
    if (timeout_ms >= 0) ::kill(-child, SIGKILL);
    c.process.release();  // reaped above (its pidfd is closed with the rest)
    if (tty_open) tty->drain();
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return exit_code;
}

// After the init exited: an exec failure is reported on the sync socket.
void report_exec_failure(const process::SyncSocket& sync) {
    int fl = ::fcntl(sync.fd(), F_GETFL);
    ::fcntl(sync.fd(), F_SETFL, fl | O_NONBLOCK);
    process::Message msg;
    try {
        if (sync.receive(msg) && msg.type == process::MsgType::Error) {
            size_t sp = msg.payload.find(' ');
            log::error("unable to start container process: " + msg.payload.substr(sp == std::string::npos ? 0 : sp + 1));
        }
    } catch (const Error&) {
        // EAGAIN: nothing was reported; the process exec'd and exited normally.
    }
}

namespace {
int first_unopened_fd = -1;  // at start (note_inherited_fds); -1: not noted
}  // namespace

void require_preserved_fds_open(int count) {
    for (int fd = 3; fd < 3 + count; ++fd)
        if (first_unopened_fd >= 0 ? fd >= first_unopened_fd : ::fcntl(fd, F_GETFD) < 0)
            throw Error(EBADF, "fd " + std::to_string(fd) + " is not open, but the process is to keep fds 3.." +
                                   std::to_string(2 + count) + " (--preserve-fds, LISTEN_FDS)");
}

cgroup::Paths cgroup_paths(const state::State& st) { return cgroup::Paths{st.cgroup_unified, st.cgroup_v1}; }

void destroy_cgroups(const state::State& st) {
    if (!st.systemd_unit.empty()) stop_unit(st.systemd_unit, st.systemd_user);
    // With a pid namespace of its own, the container's processes died with its
    // init: what the cgroup still holds is another's (a cgroup two containers
    // share, a process put there by hand), which runc's delete leaves alone too.
    cgroup::destroy(cgroup_paths(st), !st.pid_namespace);
}

}  // namespace detail

void note_inherited_fds() {
    int fd = 3;
    while (::fcntl(fd, F_GETFD) >= 0) ++fd;
    detail::first_unopened_fd = fd;
}

sys::UniqueFd open_init_pidfd(const state::State& st) {
    sys::UniqueFd fd(sys::pidfd_open(st.pid, 0));
    sys::ProcStat ps;
    if (fd && (!sys::read_proc_stat(st.pid, ps) || ps.start_time != st.start_time)) fd.reset();
    return fd;
}

state::Status live_status(const state::Store& store, const state::State& st) {
    state::Status s = store.status(st);
    if ((s == state::Status::Running || s == state::Status::Created) && cgroup::frozen(detail::cgroup_paths(st)))
        return state::Status::Paused;
    return s;
}

namespace detail {

namespace {
constexpr int kSeccompCacheFormat = 1;
}  // namespace

linux::SeccompProgram seccomp_program(const std::string& state_root, const spec::Seccomp& seccomp,
                                      const std::string& where) {
    json::Writer w(false);
    spec::write_seccomp(w, seccomp);
    const scmp_version* v = seccomp_version();
    // kSeccompCacheFormat changes whenever build_filter would compile a profile
    // differently, so an upgrade is never served an old program.
    std::string key = sha256_digest(w.result() + "\n" + std::to_string(v->major) + "." +
                                           std::to_string(v->minor) + "." + std::to_string(v->micro) + " " +
                                           std::to_string(seccomp_arch_native()) + " format " +
                                           std::to_string(kSeccompCacheFormat));
    std::string dir = state_root + "/@seccomp-cache", path = dir + "/" + key.substr(7);
    // File: flags (u32), notify (u8), then the program.
    struct Header {
        uint32_t flags;
        uint8_t notify;
    };
    // Only our own private files: a program from elsewhere would become the filter.
    auto ours = [](const std::string& p, mode_t forbidden) {
        struct stat st;
        return ::lstat(p.c_str(), &st) == 0 && st.st_uid == ::geteuid() && !(st.st_mode & forbidden);
    };
    try {
        if (!ours(dir, 077) || !ours(path, 077)) throw Error(ENOENT, "not cached");
        std::string data = read_file(path);
        size_t body = data.size() - sizeof(Header);
        if (data.size() > sizeof(Header) && body % sizeof(sock_filter) == 0) {
            Header h;
            std::memcpy(&h, data.data(), sizeof h);
            linux::SeccompProgram p;
            p.flags = h.flags & (SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                                 SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
            p.notify = h.notify != 0;
            p.bpf.resize(body / sizeof(sock_filter));
            std::memcpy(p.bpf.data(), data.data() + sizeof h, body);
            return p;
        }
    } catch (const Error&) {
        // Not cached yet.
    }
    // Compiled in a child with a deadline: config.json can make libseccomp loop forever.
    linux::SeccompProgram p = with_context(where, [&] { return linux::build_filter_bounded(seccomp); });
    try {
        ::mkdir(state_root.c_str(), 0700);
        ::mkdir(dir.c_str(), 0700);
        Header h{p.flags, static_cast<uint8_t>(p.notify)};
        std::string data(reinterpret_cast<const char*>(&h), sizeof h);
        data.append(reinterpret_cast<const char*>(p.bpf.data()), p.bpf.size() * sizeof(sock_filter));
        write_file_atomic(path, data, 0600, ".tmp" + std::to_string(::getpid()));
    } catch (const Error& e) {
        log::debug("seccomp program not cached: " + e.message());
    }
    return p;
}

}  // namespace detail
}  // namespace crunlite::runtime
