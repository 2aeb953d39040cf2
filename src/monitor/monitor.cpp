// crun-lite-monitor: what stays of a detached container's monitor once the
// container has started (`run -d`, docs/design.md "A small monitor").
//
//   crun-lite-monitor -i ID -p PID -s START [-t MS] [-r] [-k PID]... [-n FD] [-u FD] [-L FD -O FD -E FD]
//                     -- RUNTIME [GLOBAL OPTIONS...]
//   crun-lite-monitor -w -i ID -p PID -s START -t MS -- RUNTIME [GLOBAL OPTIONS...]
//
// The `run -d` monitor (a fork of crun-lite: it created and started the
// container, so the init is its child) execs this program in its place, with
// the same pid, children and kept fds, and leaves it to wait.  Until the init
// (pid PID, started at START in /proc/PID/stat's clock ticks) exits, it
//   - reaps every child and orphan (it is a subreaper), and
//   - with -t, runs `RUNTIME ... monitor tick ID` MS milliseconds after start,
//     then again after as many milliseconds as that command prints (-1: never
//     again): the healthcheck, done by the runtime, never by this program;
// and once the init exited, it runs `RUNTIME ... monitor exited ID --pid PID
// --start-time START --status STATUS [--rm] [--netns-fd FD] [--userns-fd FD]`
// (the runtime records the exit status and with -r deletes the container).
// When that command restarted the container (its restart policy, app/restart.hpp:
// the backoff is spent in it, not here) it prints "PID START TICK_MS": the new
// init, our descendant (we are a subreaper), is watched as the first was, its
// ticks first after TICK_MS (-1: none).  Otherwise it prints nothing, and we
// send SIGTERM to each -k PID (network helpers), reap what is left and exit 0.
// -n and -u name fds of the first init's network and user namespaces, held for
// the container's life so that a restarted init joins them (and the helpers
// keep serving it); they are only passed on.
//
// With -L, -O and -E (a detached image container's log) we relay what the
// container writes: -O and -E are the read ends of the pipes that are its
// stdout and stderr (our own fds 1 and 2 are their write ends, so that a
// restarted init, and the runtime we run, write there too), -L the log file
// (ctr.log, O_APPEND).  Each line goes to the log as the CRI's log format has
// it (what podman's k8s-file driver writes): "TIME STREAM F|P TEXT\n", TIME
// RFC 3339 UTC with nanoseconds, F a full line, P part of a longer one (16 KiB
// at most a record).  Our own messages go to the log directly, never through
// a pipe we read (a full pipe would block us).
//
// With -w (watch) the init is not our child (a foreground `run`, or `create
// --image` whose init the caller's subreaper inherits): we only run the ticks,
// until the init exits (its pidfd says so), and record nothing.
//
// Everything that needs the container's state, config or images is the
// runtime's: this program holds no copy of it, so it stays small (a static
// libc-only binary; its resident set is what conmon's is, see the README).
// SIGHUP and SIGPIPE are ignored; the process runs in its own session.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

constexpr int kMaxHelpers = 8;
constexpr int kMaxArgs = 64;

struct Options {
    const char* id = nullptr;
    pid_t init = 0;
    const char* start_time = nullptr;
    long first_tick_ms = -1;
    bool remove = false;
    bool watch = false;
    pid_t helpers[kMaxHelpers] = {};
    int n_helpers = 0;
    const char* netns_fd = nullptr;
    const char* userns_fd = nullptr;
    char start_buf[24] = {};  // a restarted init's start time (start_time points here then)
    int log = -1, out = -1, err = -1;  // -L, -O, -E
    char** runtime = nullptr;  // RUNTIME [GLOBAL OPTIONS...], null-terminated (argv's tail)
    int n_runtime = 0;
};

[[noreturn]] void usage(const char* msg) {
    std::fprintf(stderr,
                 "crun-lite-monitor: %s\nusage: crun-lite-monitor [-w] -i ID -p PID -s START [-t MS] [-r] "
                 "[-k PID]... [-n FD] [-u FD] [-L FD -O FD -E FD] -- RUNTIME [GLOBAL OPTIONS...]\n",
                 msg);
    std::exit(125);
}

// The log records (see the header comment).
int log_fd = -1;  // -L; -1: our messages go to stderr

void write_record(const char* stream, const char* text, size_t len, bool partial) {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    ::gmtime_r(&ts.tv_sec, &t);
    char head[64];
    size_t n = std::strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &t);
    n += static_cast<size_t>(std::snprintf(head + n, sizeof head - n, ".%09ldZ %s %c ", ts.tv_nsec, stream,
                                           partial ? 'P' : 'F'));
    iovec parts[3] = {{head, n}, {const_cast<char*>(text), len}, {const_cast<char*>("\n"), 1}};
    // One writev: O_APPEND keeps each record whole among the log's other writers.  A short
    // write (a full disk) ends the record cut, on a line of its own, so the next one is whole.
    ssize_t w;
    while ((w = ::writev(log_fd, parts, 3)) < 0 && errno == EINTR) {}
    if (w > 0 && static_cast<size_t>(w) < n + len + 1)
        while (::write(log_fd, "\n", 1) < 0 && errno == EINTR) {}
}

// Our own message, as the runtime's look ("crun-lite-monitor: ..."): a stderr record, or stderr.
void say(const char* what, const char* detail) {
    char text[512];
    int n = std::snprintf(text, sizeof text, "crun-lite-monitor: %s%s%s", what, detail ? ": " : "",
                          detail ? detail : "");
    if (n < 0) return;
    size_t len = std::min(static_cast<size_t>(n), sizeof text - 1);
    if (log_fd >= 0) write_record("stderr", text, len, false);
    else std::fprintf(stderr, "%s\n", text);
}

// One of the container's streams: the pipe's read end and the line being gathered.
struct Stream {
    const char* name;
    int fd = -1;
    char buf[16384] = {};
    size_t len = 0;
};

// Reads what `s` has (the pipe is non-blocking) and logs each full line; a line
// longer than the buffer, or one the pipe holds only the start of (a prompt, a
// progress bar), goes in parts (P), as conmon logs them.  `all`: up to 1 MiB
// (the init exited), else 256 KiB: a container that never stops writing does
// not keep us from our children.
void relay(Stream& s, bool all) {
    if (s.fd < 0) return;
    for (size_t budget = all ? 1 << 20 : 256 << 10; budget > 0;) {
        ssize_t n = ::read(s.fd, s.buf + s.len, sizeof s.buf - s.len);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) {
            s.len += static_cast<size_t>(n);
            budget -= std::min(budget, static_cast<size_t>(n));
        }
        size_t start = 0;
        for (char* nl; (nl = static_cast<char*>(std::memchr(s.buf + start, '\n', s.len - start)));) {
            size_t end = static_cast<size_t>(nl - s.buf);
            write_record(s.name, s.buf + start, end - start, false);
            start = end + 1;
        }
        std::memmove(s.buf, s.buf + start, s.len - start);
        s.len -= start;
        if (s.len == sizeof s.buf || (s.len > 0 && n <= 0)) {
            write_record(s.name, s.buf, s.len, true);
            s.len = 0;
        }
        if (n <= 0) return;  // drained (EAGAIN), or every writer gone
    }
}

long number(const char* text, const char* what) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') usage(what);
    return v;
}

Options parse(int argc, char** argv) {
    Options o;
    int c;
    while ((c = ::getopt(argc, argv, "+i:p:s:t:rk:wn:u:L:O:E:")) != -1) {
        switch (c) {
            case 'i': o.id = optarg; break;
            case 'p': o.init = static_cast<pid_t>(number(optarg, "-p: not a pid")); break;
            case 's': o.start_time = optarg; break;
            case 't': o.first_tick_ms = number(optarg, "-t: not a number of milliseconds"); break;
            case 'r': o.remove = true; break;
            case 'w': o.watch = true; break;
            case 'n': number(optarg, "-n: not an fd"); o.netns_fd = optarg; break;
            case 'u': number(optarg, "-u: not an fd"); o.userns_fd = optarg; break;
            case 'L': o.log = static_cast<int>(number(optarg, "-L: not an fd")); break;
            case 'O': o.out = static_cast<int>(number(optarg, "-O: not an fd")); break;
            case 'E': o.err = static_cast<int>(number(optarg, "-E: not an fd")); break;
            case 'k':
                if (o.n_helpers == kMaxHelpers) usage("too many -k");
                o.helpers[o.n_helpers++] = static_cast<pid_t>(number(optarg, "-k: not a pid"));
                break;
            default: usage("unknown option");
        }
    }
    if (!o.id || o.init <= 0 || !o.start_time) usage("-i, -p and -s are required");
    if (o.watch && (o.remove || o.n_helpers > 0 || o.first_tick_ms < 0)) usage("-w takes -t, and neither -r nor -k");
    if ((o.log >= 0) != (o.out >= 0) || (o.log >= 0) != (o.err >= 0) || (o.watch && o.log >= 0))
        usage("-L, -O and -E go together, and not with -w");
    if (optind >= argc) usage("no runtime command after --");
    o.runtime = argv + optind;
    o.n_runtime = argc - optind;
    if (o.n_runtime + 16 > kMaxArgs) usage("runtime command too long");
    return o;
}

long long now_ms() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1'000'000;
}

// Forks `RUNTIME [GLOBAL...] extra...`; with `out`, its stdout goes to a pipe
// whose read end is stored there; `report_fd` then passes the pipe as
// "--report-fd N" instead, its stdout staying ours (a restarted init's).
// Returns the child's pid, or -1.
pid_t spawn(const Options& o, const char* const* extra, int* out, bool report_fd = false) {
    int fds[2] = {-1, -1};
    if (out && ::pipe2(fds, O_CLOEXEC) < 0) return -1;
    pid_t pid = ::fork();
    if (pid == 0) {
        char report[16] = "";
        int copy = out && report_fd ? ::fcntl(fds[1], F_DUPFD, 3) : -1;  // a copy without CLOEXEC
        if (copy >= 0)
            std::snprintf(report, sizeof report, "%d", copy);
        else if (out)
            ::dup2(fds[1], STDOUT_FILENO);  // dup2 clears CLOEXEC on the copy (the report on stdout then)
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGHUP, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        const char* args[kMaxArgs];
        int n = 0;
        for (int i = 0; i < o.n_runtime; ++i) args[n++] = o.runtime[i];
        for (; *extra; ++extra) args[n++] = *extra;
        if (report[0]) args[n++] = "--report-fd", args[n++] = report;
        args[n] = nullptr;
        ::execv(args[0], const_cast<char* const*>(args));
        say(args[0], std::strerror(errno));
        ::_exit(127);
    }
    if (out) {
        ::close(fds[1]);
        if (pid < 0) {
            ::close(fds[0]);
        } else {
            ::fcntl(fds[0], F_SETFL, O_NONBLOCK);  // read as it comes; the loop never blocks on it
            *out = fds[0];
        }
    }
    return pid;
}

// A command in flight (the healthcheck tick, `monitor exited`): its pid and
// what it printed so far.
struct Tick {
    pid_t pid = 0;
    int out = -1;
    char buf[64] = {};  // "PID START_TIME TICK_MS\n" at most
    size_t len = 0;
};

void read_tick(Tick& t) {
    ssize_t n;
    while (t.out >= 0 && (n = ::read(t.out, t.buf + t.len, sizeof t.buf - 1 - t.len)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        t.len += static_cast<size_t>(n);
        if (t.len == sizeof t.buf - 1) break;
    }
}

// The delay the tick printed, or `fallback` when it printed none (it failed).
long tick_delay(Tick& t, long fallback) {
    read_tick(t);
    t.buf[t.len] = '\0';
    char* end = nullptr;
    long v = std::strtol(t.buf, &end, 10);
    bool ok = end != t.buf && (*end == '\n' || *end == '\0');
    if (t.out >= 0) ::close(t.out);
    t = Tick{};
    return ok ? v : fallback;
}

// `RUNTIME monitor exited ...` for the init's wait status, its stdout read
// into `t`; its pid, or -1.
pid_t run_exited(const Options& o, int status, Tick& t) {
    char st[16], init_pid[16];
    std::snprintf(st, sizeof st, "%d", status);
    std::snprintf(init_pid, sizeof init_pid, "%d", static_cast<int>(o.init));
    const char* args[20] = {"monitor", "exited", o.id, "--pid", init_pid, "--start-time", o.start_time, "--status", st};
    int n = 9;
    if (o.remove) args[n++] = "--rm";
    if (o.netns_fd) args[n++] = "--netns-fd", args[n++] = o.netns_fd;
    if (o.userns_fd) args[n++] = "--userns-fd", args[n++] = o.userns_fd;
    args[n] = nullptr;
    t.pid = spawn(o, args, &t.out, true);
    if (t.pid < 0) {
        say("fork", std::strerror(errno));
        t = Tick{};
        return -1;
    }
    return t.pid;
}

// What `monitor exited` printed: a restarted init ("PID START TICK_MS") is
// adopted into `o` (true, with its first tick's delay in `tick_ms`).
bool adopt_restarted(Options& o, Tick& t, long& tick_ms) {
    read_tick(t);
    t.buf[t.len] = '\0';
    // strtol, not sscanf: the monitor touches as little of libc as it can (its memory budget).
    char* p = t.buf;
    long pid = std::strtol(p, &p, 10);
    char* start = p + (*p == ' ' ? 1 : 0);
    std::strtoull(start, &p, 10);
    size_t start_len = static_cast<size_t>(p - start);
    long tick = *p == ' ' ? std::strtol(p + 1, &p, 10) : 0;
    bool ok = pid > 0 && start_len > 0 && start_len < sizeof o.start_buf && (*p == '\n' || *p == '\0');
    if (ok) {
        o.init = static_cast<pid_t>(pid);
        std::memcpy(o.start_buf, start, start_len);
        o.start_buf[start_len] = '\0';
        o.start_time = o.start_buf;
        tick_ms = tick;
    }
    if (t.out >= 0) ::close(t.out);
    t = Tick{};
    return ok;
}

// A pidfd of the init (-w), or -1 when it is gone already.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGXFSZ, SIG_IGN);  // a log past RLIMIT_FSIZE: short writes, not our end
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    // The log's fds are ours alone: not the runtime's we run, nor a restarted init's.
    static Stream out{"stdout"}, err{"stderr"};  // static: their buffers cost pages only once written
    out.fd = o.out;
    err.fd = o.err;
    auto drain = [] {
        relay(out, true);
        relay(err, true);
    };
    if (o.log >= 0) {
        log_fd = o.log;
        for (int fd : {o.log, o.out, o.err}) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        for (int fd : {o.out, o.err}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
    }
    int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        say("signalfd", std::strerror(errno));
        return 1;
    }
    int init_fd = o.watch ? open_pidfd(o.init) : -1;

    Tick tick, exited;
    long interval = o.first_tick_ms;  // the delay to use when a tick says nothing
    long long due = o.first_tick_ms >= 0 ? now_ms() + o.first_tick_ms : -1;
    bool init_done = o.watch && init_fd < 0;
    pid_t exit_cmd = 0;
    for (;;) {
        int status;
        pid_t pid;
        while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == o.init && !init_done) {
                init_done = true;
                // All it wrote is in the log before its exit is recorded (logs reads until then).
                drain();
                exit_cmd = run_exited(o, status, exited);
            } else if (pid == tick.pid) {
                long next = tick_delay(tick, interval);
                if (next > 0) interval = next;
                due = next < 0 || init_done ? -1 : now_ms() + next;
            } else if (pid == exit_cmd) {
                exit_cmd = -1;
                long first = -1;
                if (adopt_restarted(o, exited, first)) {  // restarted: watched as the first init
                    init_done = false;
                    exit_cmd = 0;
                    if (first > 0) interval = first;
                    due = first >= 0 ? now_ms() + first : -1;
                }
            }
        }
        // Nothing left to reap; watching, also the init gone.
        if (pid < 0 && errno == ECHILD && (!o.watch || init_done)) {
            drain();
            break;
        }
        if (init_done && exit_cmd <= 0 && o.n_helpers > 0) {
            // The container is gone (and recorded): its network helpers go too.
            for (int i = 0; i < o.n_helpers; ++i) ::kill(o.helpers[i], SIGTERM);
            o.n_helpers = 0;
        }
        if (!init_done && due >= 0 && tick.pid == 0 && now_ms() >= due) {
            const char* args[] = {"monitor", "tick", o.id, nullptr};
            tick.pid = spawn(o, args, &tick.out);
            if (tick.pid < 0) {
                tick = Tick{};
                due = now_ms() + (interval > 0 ? interval : 1000);
            }
            continue;
        }
        pollfd fds[6] = {{sfd, POLLIN, 0},      {tick.out, POLLIN, 0}, {init_done ? -1 : init_fd, POLLIN, 0},
                         {exited.out, POLLIN, 0}, {out.fd, POLLIN, 0},  {err.fd, POLLIN, 0}};
        long long wait = due < 0 || tick.pid != 0 || init_done ? -1 : due - now_ms();
        if (wait > INT_MAX) wait = INT_MAX;
        if (wait < -1) wait = 0;
        if (::poll(fds, 6, static_cast<int>(wait)) < 0 && errno != EINTR) {
            say("poll", std::strerror(errno));
            return 1;
        }
        if (fds[1].revents) read_tick(tick);
        if (fds[3].revents) read_tick(exited);
        if (fds[2].revents) init_done = true;  // watching: the init exited
        if (fds[4].revents) relay(out, false);
        if (fds[5].revents) relay(err, false);
        signalfd_siginfo si;
        while (::read(sfd, &si, sizeof si) > 0) {}
    }
    return 0;
}
