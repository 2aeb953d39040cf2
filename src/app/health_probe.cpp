// Running one healthcheck probe (app/health.hpp: run_probe, find_health_helper).
// Runs in the `run -d` monitor or in `healthcheck run`; every probe is a
// forked child whose stdout and stderr come back on one pipe.
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/securebits.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "crunlite/app/health.hpp"
#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/helpers.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/linux/namespaces.hpp"
#include "crunlite/linux/process_plan.hpp"
#include "crunlite/state/store.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "crunlite_build_config.h"

extern char** environ;

namespace crunlite::app {
namespace {

constexpr size_t kMaxOutput = 4096;
constexpr int64_t kExecGraceMs = 2000;  // exec kills its probe at the timeout itself

// A forked probe and the read end of its output pipe.
struct Running {
    sys::Child child;
    sys::UniqueFd out;
};

void say(const std::string& text) {
    for (size_t done = 0; done < text.size();) {
        ssize_t n = ::write(1, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<size_t>(n);
    }
}

// Forks `body` with stdin /dev/null and stdout and stderr on a new pipe.  Its
// return value is the exit code; an error it throws is printed as
// "healthcheck: ..." with exit code 125 (it never unwinds out of the child).
template <typename Body>
Running start(Body body) {
    sys::Pipe pipe = sys::Pipe::make();
    sys::Child child = sys::Child::fork("fork healthcheck", [&] {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        ::dup2(devnull, 0);
        ::dup2(pipe.write.get(), 1);
        ::dup2(pipe.write.get(), 2);
        try {
            return body();
        } catch (const Error& e) {
            say("healthcheck: " + e.message() + "\n");
        } catch (...) {
            say("healthcheck: unexpected error\n");
        }
        return 125;
    });
    pipe.write.reset();
    ::fcntl(pipe.read.get(), F_SETFL, O_NONBLOCK);
    return {std::move(child), std::move(pipe.read)};
}

std::string timeout_text(int64_t timeout_ms) {
    return timeout_ms % 1000 ? std::to_string(timeout_ms) + "ms" : std::to_string(timeout_ms / 1000) + "s";
}

// The probe's output until EOF, or until it exits (a descendant that escaped
// may hold the pipe open), or until `deadline_ms` (monotonic), when it is
// killed.  Reaps it.  A probe that ran for `timeout_ms` or more failed.
ProbeResult collect(Running& p, ProbeResult r, int64_t started_ms, int64_t timeout_ms, int64_t deadline_ms) {
    bool timed_out = false, pidfd = p.child.pidfd() >= 0;
    auto drain = [&] {
        char buf[4096];
        ssize_t n;
        while ((n = ::read(p.out.get(), buf, sizeof buf)) > 0)
            if (r.output.size() < kMaxOutput)
                r.output.append(buf, std::min(static_cast<size_t>(n), kMaxOutput - r.output.size()));
        return n == 0;  // EOF
    };
    for (;;) {
        int64_t left = deadline_ms - monotonic_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd[2] = {{p.out.get(), POLLIN, 0}, {p.child.pidfd(), POLLIN, 0}};
        if (::poll(pfd, pidfd ? 2 : 1, static_cast<int>(std::min<int64_t>(left, INT_MAX))) <= 0) continue;
        if (pfd[0].revents && drain()) break;
        if (pidfd && pfd[1].revents) {
            drain();
            break;
        }
    }
    if (timed_out) p.child.kill(SIGKILL);
    int status = p.child.wait();
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (timed_out || monotonic_ms() - started_ms >= timeout_ms) {
        r.exit_code = -1;
        r.output = "Health check exceeded timeout (" + timeout_text(timeout_ms) + ")";
    }
    r.end = rfc3339_utc_now();
    return r;
}

// Runs `test` in the container through `exec` in a child process.  exec
// itself SIGKILLs the probe's process group at the timeout; should exec hang,
// we SIGKILL it 2 s later and the probe dies with it (kill_with_parent).
ProbeResult run_exec_probe(const runtime::Context& ctx, const std::string& id, const HealthConfig& config) {
    ProbeResult r;
    r.start = rfc3339_utc_now();
    int64_t started = monotonic_ms(), timeout_ms = config.timeout_ns / 1'000'000;
    state::Store store(ctx.root);
    if (runtime::live_status(store, store.load(id)) == state::Status::Paused) {  // as network_target says it
        r.exit_code = 125;
        r.output = "healthcheck: cannot probe a paused container";
        r.end = rfc3339_utc_now();
        return r;
    }
    Running p = start([&] {
        runtime::ExecOptions opts;
        opts.id = id;
        opts.args = config.test;
        opts.kill_with_parent = true;
        opts.timeout_ns = config.timeout_ns;
        opts.own_cgroup = true;  // nothing the probe starts outlives it
        return runtime::exec(ctx, opts);
    });
    return collect(p, std::move(r), started, timeout_ms, started + timeout_ms + kExecGraceMs);
}

// The container's init, pinned by a pidfd, and the namespaces of it to join:
// its network namespace (none with --network host), its user namespace
// first where that differs too (rootless).
struct Target {
    sys::UniqueFd pidfd;
    int flags = 0;
};

Target network_target(const runtime::Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    switch (runtime::live_status(store, st)) {
        case state::Status::Stopped: throw Error(EINVAL, "cannot probe a stopped container");
        case state::Status::Paused: throw Error(EINVAL, "cannot probe a paused container");
        default: break;
    }
    Target t;
    // The pidfd pins the init; checking the state after opening it rules out pid reuse.
    t.pidfd.reset(sys::pidfd_open(st.pid, 0));
    if (!t.pidfd || store.status(st) == state::Status::Stopped) throw Error(EINVAL, "cannot probe a stopped container");
    int differ = linux::differing_namespaces(st.pid);
    if (differ & CLONE_NEWNET) t.flags = differ & (CLONE_NEWUSER | CLONE_NEWNET);
    return t;
}

// After joining the container's namespaces, before talking to it.  Root there
// becomes nobody (65534) with no groups, which ends every capability; where
// 65534 is not mapped (a rootless user namespace with a small range), or for
// a user holding capabilities in a joined user namespace, they are dropped
// (bounding set, ambient, the sets themselves) and root may not regain them at
// execve (SECBIT_NOROOT, locked).  no_new_privs either way; PDEATHSIG again,
// as a change of credentials clears it.
void drop_privileges() {
    constexpr uid_t kNobody = 65534;
    bool nobody = false;
    if (::geteuid() == 0) {
        // A user namespace with a single-id mapping denies setgroups: the caller's groups stay.
        if (::setgroups(0, nullptr) < 0 && errno != EPERM) throw_errno("drop supplementary groups");
        nobody = ::setresgid(kNobody, kNobody, kNobody) == 0 && ::setresuid(kNobody, kNobody, kNobody) == 0;
        if (!nobody && errno != EINVAL) throw_errno("become nobody (uid and gid 65534)");
    }
    if (!nobody) {
        ::prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                       SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED);
        for (int cap = 0; cap <= linux::host_cap_last_cap(); ++cap) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        cap_t none = cap_init();
        if (!none) throw_errno("cap_init");
        int rc = cap_set_proc(none);
        cap_free(none);
        if (rc < 0) throw_errno("drop capabilities");
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw_errno("prctl(PR_SET_NO_NEW_PRIVS)");
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
}

// Connects to 127.0.0.1:port and [::1]:port at once; 0 ("connected to ...")
// as soon as one accepts, 1 with the errors when neither does.
int tcp_probe(int port, int64_t timeout_ms) {
    struct Attempt {
        std::string name;
        sys::UniqueFd fd;
        int error = 0;
    } tries[2] = {{"127.0.0.1:" + std::to_string(port), {}, 0}, {"[::1]:" + std::to_string(port), {}, 0}};
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<uint16_t>(port));
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<uint16_t>(port));
    v6.sin6_addr = in6addr_loopback;
    const std::pair<const sockaddr*, socklen_t> addrs[2] = {{reinterpret_cast<const sockaddr*>(&v4), sizeof v4},
                                                            {reinterpret_cast<const sockaddr*>(&v6), sizeof v6}};
    auto connected = [](const Attempt& a) {
        say("connected to " + a.name);
        return 0;
    };
    for (int i = 0; i < 2; ++i) {
        Attempt& a = tries[i];
        a.fd.reset(::socket(addrs[i].first->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!a.fd) a.error = errno;
        else if (::connect(a.fd.get(), addrs[i].first, addrs[i].second) == 0) return connected(a);
        else if (errno != EINPROGRESS) a.error = errno;
        if (a.error) a.fd.reset();
    }
    int64_t deadline = monotonic_ms() + timeout_ms;
    while (tries[0].fd || tries[1].fd) {
        struct pollfd pfd[2];
        nfds_t n = 0;
        for (auto& a : tries)
            if (a.fd) pfd[n++] = {a.fd.get(), POLLOUT, 0};
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) {
            say("connect: no answer within " + timeout_text(timeout_ms));
            return 1;
        }
        if (::poll(pfd, n, static_cast<int>(std::min<int64_t>(left, INT_MAX))) <= 0) continue;
        for (auto& a : tries) {
            auto ready = std::find_if(pfd, pfd + n, [&](const pollfd& p) { return a.fd && p.fd == a.fd.get(); });
            if (ready == pfd + n || !ready->revents) continue;
            socklen_t len = sizeof a.error;
            if (::getsockopt(a.fd.get(), SOL_SOCKET, SO_ERROR, &a.error, &len) < 0) a.error = errno;
            if (a.error == 0) return connected(a);
            a.fd.reset();
        }
    }
    if (tries[0].error == tries[1].error)
        say("connect: " + std::string(std::strerror(tries[0].error)) + " (" + tries[0].name + ", " + tries[1].name + ")");
    else
        say("connect: " + tries[0].name + ": " + std::strerror(tries[0].error) + "; " + tries[1].name + ": " +
            std::strerror(tries[1].error));
    return 1;
}

// An http or tcp probe (see run_probe).
ProbeResult run_network_probe(const runtime::Context& ctx, const std::string& id, const HealthConfig& config) {
    ProbeResult r;
    r.start = rfc3339_utc_now();
    int64_t started = monotonic_ms(), timeout_ms = config.timeout_ns / 1'000'000;
    Target target;
    std::string helper;
    sys::UniqueFd helper_fd;  // opened while we may still reach it: nobody may not search its directories
    try {
        target = network_target(ctx, id);
        if (config.kind == ProbeKind::Http) {
            helper = find_health_helper();
            helper_fd.reset(::open(helper.c_str(), O_PATH | O_CLOEXEC));
            if (!helper_fd) throw_errno("open the http probe helper " + quote(helper));
        }
    } catch (const Error& e) {  // recorded as a probe that could not run, as exec's are
        r.exit_code = 125;
        r.output = "healthcheck: " + e.message();
        r.end = rfc3339_utc_now();
        return r;
    }
    Running p = start([&] {
        if (target.flags && ::setns(target.pidfd.get(), target.flags) < 0)
            throw_errno("join the container's network namespace");
        drop_privileges();
        if (::getppid() == 1) throw Error(ESRCH, "the monitor went away");
        if (config.kind == ProbeKind::Tcp) return tcp_probe(config.port, timeout_ms);
        if (sys::close_range_cloexec(3) < 0) throw_errno("close_range");
        std::string timeout = std::to_string(timeout_ms);
        char* argv[] = {const_cast<char*>("crun-lite-health"), const_cast<char*>(config.url.c_str()),
                        timeout.data(), nullptr};
        sys::execveat_empty_path(helper_fd.get(), argv);
        throw_errno("run the http probe helper " + quote(helper));
    });
    return collect(p, std::move(r), started, timeout_ms, started + timeout_ms);
}

}  // namespace

ProbeResult run_probe(const runtime::Context& ctx, const std::string& id, const HealthConfig& config) {
    if (config.kind == ProbeKind::Exec) return run_exec_probe(ctx, id, config);
    return run_network_probe(ctx, id, config);
}

std::string find_health_helper() { return find_helper("crun-lite-health", "CRUNLITE_HEALTH", CRUNLITE_BUILD_HEALTH); }

}  // namespace crunlite::app
