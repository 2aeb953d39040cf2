// sys::Child and sys::Pipe: forks of this test process; no privilege needed.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "crunlite/base/error.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"

using crunlite::sys::Child;
using crunlite::sys::Pipe;

namespace {

// A child that waits to be killed.
Child sleeper(Child::Kill kill = Child::Kill::Process) {
    return Child::fork("fork sleeper", [] {
        for (;;) ::pause();
        return 0;
    }, kill);
}

// True once `pid` was reaped by us: it is no child of ours any more.
bool reaped(pid_t pid) {
    errno = 0;
    return ::waitpid(pid, nullptr, WNOHANG) < 0 && errno == ECHILD;
}

// True when `pid` no longer runs: gone, or a zombie (of a parent that is not us).
bool not_running(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return true;
    size_t paren = line.rfind(')');
    return paren != std::string::npos && line.size() > paren + 2 && line[paren + 2] == 'Z';
}

}  // namespace

TEST_CASE("Child: a dropped child is killed and reaped", "[sys][child]") {
    pid_t pid;
    {
        Child c = sleeper();
        pid = c.pid();
        REQUIRE(pid > 0);
        REQUIRE(c.pidfd() >= 0);
        REQUIRE(::kill(pid, 0) == 0);
    }
    CHECK(reaped(pid));  // no zombie left
    errno = 0;
    CHECK((::kill(pid, 0) < 0 && errno == ESRCH));
}

TEST_CASE("Child: Kill::Group also kills what the child started", "[sys][child]") {
    Pipe report = Pipe::make();
    pid_t grandchild = 0;
    pid_t pid;
    {
        Child c = Child::fork("fork group leader", [&] {
            ::setpgid(0, 0);
            pid_t g = ::fork();
            if (g == 0)
                for (;;) ::pause();
            [[maybe_unused]] ssize_t w = ::write(report.write.get(), &g, sizeof g);
            for (;;) ::pause();
            return 0;
        }, Child::Kill::Group);
        pid = c.pid();
        report.write.reset();
        REQUIRE(::read(report.read.get(), &grandchild, sizeof grandchild) == sizeof grandchild);
        REQUIRE(grandchild > 0);
        REQUIRE(!not_running(grandchild));
    }
    CHECK(reaped(pid));
    // The grandchild is reparented (not ours to reap): it must have stopped running.
    bool stopped = false;
    for (int i = 0; i < 200 && !(stopped = not_running(grandchild)); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(stopped);
}

TEST_CASE("Child: release() leaves the process running", "[sys][child]") {
    Child c = sleeper();
    pid_t pid = c.pid();
    crunlite::sys::UniqueFd pidfd = c.release();
    CHECK(pidfd.valid());
    CHECK(c.pid() == 0);
    CHECK(!c);
    { Child moved = std::move(c); }  // an empty Child kills nothing
    CHECK(::kill(pid, 0) == 0);
    CHECK(!reaped(pid));
    // Ours to end now.
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
}

TEST_CASE("Child: wait returns the exit status", "[sys][child]") {
    Child c = Child::fork("fork", [] { return 7; });
    pid_t pid = c.pid();
    int status = c.wait();
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 7));
    CHECK(c.pid() == 0);
    CHECK(c.pidfd() < 0);
    CHECK(reaped(pid));

    // An exception in the child ends it with status 1, never unwinding into our frames.
    Child thrower = Child::fork("fork", []() -> int { throw crunlite::Error(EIO, "in the child"); });
    status = thrower.wait();
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 1));

    // kill() goes through the pidfd.  (Not SIGTERM: Catch2 handles it, here too.)
    Child s = sleeper();
    REQUIRE(s.kill(SIGUSR1) == 0);
    status = s.wait();
    CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1));
    errno = 0;
    CHECK((s.kill(SIGUSR1) < 0 && errno == ESRCH));
}

TEST_CASE("Child: vfork shares our memory until the child exits, and keeps us dumpable", "[sys][child]") {
    REQUIRE(::prctl(PR_SET_DUMPABLE, 1) == 0);
    int seen = 0;
    Pipe report = Pipe::make();
    Child c = Child::vfork("vfork", [&] {
        seen = 42;  // our memory: visible to the caller once we are gone
        ::prctl(PR_SET_DUMPABLE, 0);  // belongs to the shared memory: vfork restores it
        // A fork from the shared memory is a copy; CLONE_PARENT makes it ours,
        // as the launcher's stage-2.
        long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
        if (pid == 0) ::_exit(5);
        pid_t p = static_cast<pid_t>(pid);
        return ::write(report.write.get(), &p, sizeof p) == sizeof p ? 3 : 1;
    });
    // We resume only once the child has exited: it wrote before that.
    // (Built with ASan, vfork() is fork().)
    CHECK(seen == (Child::vfork_shares_memory ? 42 : 0));
    CHECK(::prctl(PR_GET_DUMPABLE) == 1);
    int status = c.wait();
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 3));
    pid_t grandchild = 0;
    REQUIRE(::read(report.read.get(), &grandchild, sizeof grandchild) == sizeof grandchild);
    REQUIRE(::waitpid(grandchild, &status, 0) == grandchild);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 5));

    // As fork(): an exception ends the child with status 1.
    Child thrower = Child::vfork("vfork", []() -> int { throw crunlite::Error(EIO, "in the child"); });
    status = thrower.wait();
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 1));
}

TEST_CASE("Child: wait_for times out, or returns the status", "[sys][child]") {
    Child c = sleeper();
    pid_t pid = c.pid();
    auto start = std::chrono::steady_clock::now();
    CHECK(!c.wait_for(100).has_value());
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(100));
    CHECK(c.pid() == pid);  // still ours
    CHECK(::kill(pid, 0) == 0);
    CHECK(!c.wait_for(0).has_value());

    Child quick = Child::fork("fork", [] { return 3; });
    std::optional<int> status = quick.wait_for(10'000);
    REQUIRE(status.has_value());
    CHECK((WIFEXITED(*status) && WEXITSTATUS(*status) == 3));
}

TEST_CASE("Child: adopt takes a child forked by other means", "[sys][child]") {
    CHECK(!Child::adopt(0));
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(4);
    REQUIRE(pid > 0);
    Child c = Child::adopt(pid);
    REQUIRE(c.pid() == pid);
    int status = c.wait();
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 4));
}

TEST_CASE("Child: a failed fork names what was forked", "[sys][child]") {
    // In a child of ours, so the limit stays there: no process may be added.
    // Root ignores RLIMIT_NPROC, so as root that child becomes nobody first.
    pid_t tester = ::fork();
    REQUIRE(tester >= 0);
    if (tester == 0) {
        if (::geteuid() == 0 && (::setresgid(65534, 65534, 65534) < 0 || ::setresuid(65534, 65534, 65534) < 0))
            ::_exit(77);
        rlimit none = {0, 0};
        if (::setrlimit(RLIMIT_NPROC, &none) < 0) ::_exit(77);
        try {
            Child c = Child::fork("fork the probe", [] { return 0; });
            c.wait();
            ::_exit(2);  // it forked after all
        } catch (const crunlite::Error& e) {
            bool named = e.code() == EAGAIN && e.message().rfind("fork the probe: ", 0) == 0;
            ::_exit(named ? 0 : 3);
        }
    }
    int status = 0;
    REQUIRE(::waitpid(tester, &status, 0) == tester);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        WARN("skipped: cannot become nobody or lower RLIMIT_NPROC here");
        return;
    }
    // 2: the limit did not hold (a capability overrides it).
    if (WEXITSTATUS(status) == 2) {
        WARN("skipped: RLIMIT_NPROC does not apply here");
        return;
    }
    CHECK(WEXITSTATUS(status) == 0);
}

// Our own cgroup v2 directory ("" without a cgroup2 mount): the mount's
// path joined with our "0::" line, which is relative to that mount's root.
std::string own_cgroup2_dir() {
    std::ifstream cg("/proc/self/cgroup"), mi("/proc/self/mountinfo");
    std::string line, path, mount;
    while (std::getline(cg, line))
        if (line.rfind("0::", 0) == 0) path = line.substr(3);
    while (std::getline(mi, line))
        if (line.find(" - cgroup2 ") != std::string::npos) {
            std::istringstream fields(line);
            std::string id, parent, dev, root;
            fields >> id >> parent >> dev >> root >> mount;
        }
    return path.empty() || mount.empty() ? "" : (path == "/" ? mount : mount + path);
}

TEST_CASE("Child: fork_into_cgroup: the child is born in the cgroup; a refused one is named", "[sys][child]") {
    // A directory that is no cgroup v2 directory: clone3 refuses it, and no process is left.
    crunlite::sys::UniqueFd tmp(::open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(tmp);
    bool placed = true;
    try {
        Child c = Child::fork_into_cgroup("enter cgroup `/tmp`", tmp.get(), placed, [] { return 0; });
        FAIL("a child was born in /tmp: " << c.pid());
    } catch (const crunlite::Error& e) {
        CHECK(e.code() == EBADF);
        CHECK(e.message().rfind("enter cgroup `/tmp`: ", 0) == 0);
        CHECK(!placed);
    }
    CHECK(::waitpid(-1, nullptr, WNOHANG) < 0);  // no child of ours

    // Our own cgroup, which root may always enter (another user: where it was delegated).
    std::string dir = own_cgroup2_dir();
    if (dir.empty()) {
        WARN("skipped: no cgroup2 mount here");
        return;
    }
    crunlite::sys::UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(fd);
    Pipe p = Pipe::make();
    placed = false;
    try {
        Child c = Child::fork_into_cgroup("enter cgroup", fd.get(), placed, [&] {
            // What the child sees: whether it was placed, and its cgroup.
            std::ifstream cg("/proc/self/cgroup");
            std::string line, report = placed ? "placed " : "moved ";
            while (std::getline(cg, line))
                if (line.rfind("0::", 0) == 0) report += line;
            return ::write(p.write.get(), report.data(), report.size()) == static_cast<ssize_t>(report.size()) ? 0 : 1;
        });
        p.write.reset();
        int status = c.wait();
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    } catch (const crunlite::Error& e) {
        REQUIRE(::geteuid() != 0);
        CHECK(e.code() == EACCES);
        WARN("skipped: our own cgroup is not ours to enter here (" << e.what() << ")");
        return;
    }
    char buf[4096];
    ssize_t n = ::read(p.read.get(), buf, sizeof buf);
    REQUIRE(n > 0);
    std::string own;
    std::ifstream cg("/proc/self/cgroup");
    for (std::string line; std::getline(cg, line);)
        if (line.rfind("0::", 0) == 0) own = line;
    CHECK(placed);  // Linux >= 5.7
    CHECK(std::string(buf, static_cast<size_t>(n)) == "placed " + own);
}

TEST_CASE("Pipe: both ends close-on-exec", "[sys][child]") {
    Pipe p = Pipe::make();
    REQUIRE(p.read.valid());
    REQUIRE(p.write.valid());
    CHECK((::fcntl(p.read.get(), F_GETFD) & FD_CLOEXEC));
    CHECK((::fcntl(p.write.get(), F_GETFD) & FD_CLOEXEC));
    REQUIRE(::write(p.write.get(), "x", 1) == 1);
    char c = 0;
    CHECK(::read(p.read.get(), &c, 1) == 1);
    CHECK(c == 'x');
}
