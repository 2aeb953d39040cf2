#include "crunlite/process/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/interrupt.hpp"

namespace crunlite::process {
namespace {

constexpr size_t kCaptureLimit = 64 * 1024;

// Child side, between fork and exec: async-signal-safe calls only.  An exec
// failure is reported as errno through `report`.
[[noreturn]] void exec_hook(char* const* argv, char* const* envp, const char* path, int in, int out, int err,
                            int report) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::setpgid(0, 0);  // its own group, so a timeout kills what it started too
    // Not outliving whoever waits for it (a runtime killed outright, an init killed with its create).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
        int e = errno;
        [[maybe_unused]] ssize_t w = ::write(report, &e, sizeof e);
        ::_exit(127);
    }
    ::execve(path, argv, envp);
    int e = errno;
    [[maybe_unused]] ssize_t w = ::write(report, &e, sizeof e);
    ::_exit(127);
}

// Reads what is available from `fd` into `into` (bounded); closes `fd` at EOF.
// Returns true when it read something.
bool collect(sys::UniqueFd& fd, std::string& into) {
    char buf[4096];
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r > 0) {
        if (into.size() < kCaptureLimit) into.append(buf, static_cast<size_t>(r));
        return true;
    }
    if (r == 0 || (errno != EAGAIN && errno != EINTR)) fd.reset();
    return false;
}

// Runs one hook; throws an Error without context on failure.
void run_one(const spec::Hook& hook, const std::string& state) {
    std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = hook.env.value_or(std::vector<std::string>{});
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    char** environment = hook.env ? envp.data() : environ;  // none given: ours, as runc's

    using sys::Pipe;
    const char* pipe_context = "pipe for hook";
    Pipe in = Pipe::make(pipe_context), out = Pipe::make(pipe_context), err = Pipe::make(pipe_context),
         report = Pipe::make(pipe_context);
    // Killed (with its process group) and reaped on every way out but a
    // normal exit.
    sys::Child child = sys::Child::fork("fork", [&]() -> int {
        exec_hook(argv.data(), environment, hook.path.c_str(), in.read.get(), out.write.get(), err.write.get(),
                  report.write.get());
    }, sys::Child::Kill::Group);
    in.read.reset();
    out.write.reset();
    err.write.reset();
    report.write.reset();

    int exec_errno = 0;
    if (::read(report.read.get(), &exec_errno, sizeof exec_errno) == sizeof exec_errno)
        throw sys_error(exec_errno, "exec");

    child.require_pidfd("pidfd_open hook");
    for (int fd : {in.write.get(), out.read.get(), err.read.get()}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

    // Feed stdin, collect stdout/stderr, until the hook exits (or times out).
    size_t written = 0;
    std::string captured[2];
    int64_t deadline = hook.timeout ? monotonic_ms() + int64_t{*hook.timeout} * 1000 : -1;
    bool exited = false;
    while (!exited) {
        sys::throw_if_interrupted();  // the hook's group is killed on the way out
        if (written == state.size()) in.write.reset();  // EOF for the hook
        pollfd fds[4] = {{child.pidfd(), POLLIN, 0},
                         {in.write ? in.write.get() : -1, POLLOUT, 0},
                         {out.read ? out.read.get() : -1, POLLIN, 0},
                         {err.read ? err.read.get() : -1, POLLIN, 0}};
        int wait_ms = deadline < 0 ? -1 : static_cast<int>(std::max<int64_t>(0, deadline - monotonic_ms()));
        int n = ::poll(fds, 4, wait_ms);
        if (n < 0 && errno != EINTR) throw_errno("poll hook");
        if (n == 0) throw Error(ETIMEDOUT, "timed out after " + std::to_string(*hook.timeout) + "s");
        if (fds[1].revents) {
            ssize_t w = ::write(in.write.get(), state.data() + written, state.size() - written);
            if (w > 0) written += static_cast<size_t>(w);
            else if (errno != EAGAIN && errno != EINTR) in.write.reset();  // EPIPE: it does not read stdin
        }
        for (int i = 0; i < 2; ++i)
            if (fds[2 + i].revents) collect(i == 0 ? out.read : err.read, captured[i]);
        exited = fds[0].revents & POLLIN;
    }
    // Whatever it wrote just before exiting.
    for (int i = 0; i < 2; ++i)
        while ((i == 0 ? out.read : err.read) && collect(i == 0 ? out.read : err.read, captured[i])) {}
    int status = child.wait();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    std::string what = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                         : std::string("killed by signal ") + sigabbrev_np(WTERMSIG(status));
    std::string output = captured[1].empty() ? captured[0] : captured[1];
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    throw Error(ECANCELED, output.empty() ? what : what + ": " + output);
}

}  // namespace

void run_hooks(const std::vector<spec::Hook>& hooks, const std::string& kind, const std::string& state_json) {
    // A hook that does not read its stdin must not kill us with SIGPIPE.
    struct sigaction ignore{}, old{};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &old);
    struct Restore {
        struct sigaction old;
        ~Restore() { ::sigaction(SIGPIPE, &old, nullptr); }
    } restore{old};
    for (size_t i = 0; i < hooks.size(); ++i)
        with_context(kind + " hook #" + std::to_string(i) + " (" + quote(hooks[i].path) + ")",
                     [&] { run_one(hooks[i], state_json); });
}

}  // namespace crunlite::process
