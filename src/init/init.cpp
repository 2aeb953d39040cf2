// crun-lite-init: a tiny PID 1 for containers.
//
//   crun-lite-init [-g] [-t SECONDS] [--] COMMAND [ARGS...]
//
// Runs COMMAND as its only child and then, until that child exits:
//   - forwards every signal it receives (standard and real-time, except
//     SIGCHLD and the unblockable ones) to the child, or with -g to the child's
//     process group;
//   - reaps every zombie that is reparented to it (it is PID 1, or a subreaper
//     when it is not).
// When the child exits, it drains the rest: SIGTERM to every remaining process
// it can see, a bounded wait (-t, default 2 s), then SIGKILL; and exits with the
// child's status, or 128+N when the child died of signal N.
// The child starts with an empty signal mask and default dispositions, in its
// own process group, which takes over the terminal when stdin is one.
//
// A separate static binary (it is bind-mounted into containers whose images
// have no libc we could rely on), so it uses only libc.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

[[noreturn]] void usage(const char* msg) {
    std::fprintf(stderr, "crun-lite-init: %s\nusage: crun-lite-init [-g] [-t SECONDS] [--] COMMAND [ARGS...]\n", msg);
    std::exit(125);
}

int status_to_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Reaps every exited child; returns the child's status when it is among them.
bool reap(pid_t child, int* child_status) {
    bool child_done = false;
    int status;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == child) {
            *child_status = status;
            child_done = true;
        }
    }
    return child_done;
}

// Appends the children of `pid` (all its threads) and, recursively, theirs.
void collect_descendants(pid_t pid, pid_t* out, int* count, int max) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    for (char* p = buf; *p && *count < max;) {
        char* end;
        long v = std::strtol(p, &end, 10);
        if (end == p) break;
        out[(*count)++] = static_cast<pid_t>(v);
        collect_descendants(static_cast<pid_t>(v), out, count, max);
        p = end;
    }
}

// Processes that were our children before we started (the runtime's: a
// fuse-overlayfs daemon serving the container's root).  They are not ours to
// drain; the kernel ends them when we exit.
pid_t g_spared[64];
int g_spared_count = 0;

bool spared(pid_t pid) {
    for (int k = 0; k < g_spared_count; ++k)
        if (g_spared[k] == pid) return true;
    return false;
}

// Signals what is left of the container.  As PID 1 of a pid namespace, every
// process of /proc but us and the spared ones, one by one: kill(-1) reports
// success even when every target refused (EPERM), and a process we may not
// signal (another user's) must not hold us.  Otherwise (a subreaper in someone
// else's namespace, where kill(-1) would reach the whole host) only our own
// descendants.  Returns false when nobody we may signal was left.
bool signal_rest(int sig) {
    pid_t pids[4096];
    int count = 0;
    if (::getpid() == 1) {
        DIR* proc = ::opendir("/proc");
        if (!proc) return !(::kill(-1, sig) < 0 && errno == ESRCH);
        while (struct dirent* e = ::readdir(proc)) {
            char* end;
            long pid = std::strtol(e->d_name, &end, 10);
            if (!*end && pid > 1 && count < 4096) pids[count++] = static_cast<pid_t>(pid);
        }
        ::closedir(proc);
    } else {
        collect_descendants(::getpid(), pids, &count, 4096);
    }
    bool any = false;
    for (int k = 0; k < count; ++k)
        if (!spared(pids[k]) && ::kill(pids[k], sig) == 0) any = true;
    return any;
}

// SIGTERM everyone left, wait up to `grace_seconds` for them, then SIGKILL.
void drain(int grace_seconds) {
    if (!signal_rest(SIGTERM)) return;
    struct timespec deadline;
    ::clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += grace_seconds;
    for (;;) {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {}
        if (!signal_rest(0)) return;  // nobody left
        struct timespec now;
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) break;
        struct timespec pause = {0, 20 * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
    }
    signal_rest(SIGKILL);
    // Bounded too: a process we may not signal (another user's, e.g. the root
    // filesystem's fuse-overlayfs when we run as the image's user) would keep a
    // blocking wait forever.  As PID 1, our exit makes the kernel kill the rest.
    for (int i = 0; i < 50 && ::waitpid(-1, nullptr, WNOHANG) >= 0; ++i) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
    }
}

struct Options {
    bool group = false;  // -g: signals go to the child's process group
    int grace = 2;       // -t: seconds between SIGTERM and SIGKILL when draining
    int command = 0;     // argv index of COMMAND
};

Options parse_options(int argc, char** argv) {
    Options o;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            ++i;
            break;
        } else if (std::strcmp(argv[i], "-g") == 0) {
            o.group = true;
        } else if (std::strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            char* end;
            long v = std::strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 3600) usage("-t wants seconds from 0 to 3600");
            o.grace = static_cast<int>(v);
        } else {
            usage("unknown option");
        }
    }
    if (i >= argc) usage("no command");
    o.command = i;
    return o;
}

// The forked child: its own process group (with the terminal), default
// signal handling, then COMMAND.
[[noreturn]] void exec_command(char** argv, bool tty) {
    ::setpgid(0, 0);
    if (tty) {
        // Take the terminal for our new group (SIGTTOU is blocked here).
        ::tcsetpgrp(STDIN_FILENO, ::getpid());
    }
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(argv[0], argv);
    std::fprintf(stderr, "crun-lite-init: exec %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(errno == ENOENT ? 127 : 126);
}

// Forwards the signals read from `sfd` until `child` exits; false when the
// signalfd cannot be read.
bool forward_until_exit(int sfd, pid_t child, bool group, int* child_status) {
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = ::read(sfd, &si, sizeof si);
        if (n != sizeof si) {
            if (n < 0 && errno == EINTR) continue;
            std::perror("crun-lite-init: read signalfd");
            return false;
        }
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
            if (reap(child, child_status)) return true;
            continue;
        }
        // Terminal job-control stops of ourselves are not forwarded.
        if (sig == SIGTTIN || sig == SIGTTOU) continue;
        ::kill(group ? -child : child, sig);
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse_options(argc, argv);

    // When not PID 1 of a pid namespace, orphans must still come to us.
    if (::getpid() != 1) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    // Non-dumpable: the container's processes run as our uid, and one could
    // otherwise ptrace us (PTRACE_ATTACH stops us: signals, reaping and `run`
    // would hang) or read our memory.  The child's execve makes it dumpable again.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_BLOCK, &all, nullptr);
    int sfd = ::signalfd(-1, &all, SFD_CLOEXEC);
    if (sfd < 0) {
        std::perror("crun-lite-init: signalfd");
        return 125;
    }

    // Only as PID 1: then our exit ends them; a subreaper's leftovers would live on.
    if (::getpid() == 1) collect_descendants(::getpid(), g_spared, &g_spared_count, 64);

    bool tty = ::isatty(STDIN_FILENO);
    pid_t child = ::fork();
    if (child < 0) {
        std::perror("crun-lite-init: fork");
        return 125;
    }
    if (child == 0) exec_command(argv + o.command, tty);
    ::setpgid(child, child);  // also from here: no race with the first signal

    int child_status = 0;
    if (!forward_until_exit(sfd, child, o.group, &child_status)) return 125;
    drain(o.grace);
    return status_to_code(child_status);
}
