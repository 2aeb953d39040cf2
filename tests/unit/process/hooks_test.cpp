// run_hooks with /bin/sh hooks: no privilege needed.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "crunlite/base/error.hpp"
#include "crunlite/process/hooks.hpp"

using crunlite::process::run_hooks;
using crunlite::spec::Hook;

namespace {

Hook sh(const std::string& script, std::vector<std::string> env = {}) {
    return Hook{"/bin/sh", {"sh", "-c", script}, std::move(env), std::nullopt};
}

std::string temp_path(const char* name) {
    return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/crl-hooks-" +
           std::to_string(::getpid()) + "-" + name;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// True when we have no child left (exited or not).
bool no_children() {
    errno = 0;
    return ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD;
}

}  // namespace

TEST_CASE("a hook gets the state on stdin, its env exactly and its argv", "[hooks]") {
    std::string out = temp_path("state");
    run_hooks({sh("cat > " + out + "; env >> " + out + "; echo \"$0\" >> " + out, {"A=1", "B=two"})}, "prestart",
              R"({"id":"x"})");
    std::string text = slurp(out);
    CHECK(text.rfind("{\"id\":\"x\"}", 0) == 0);
    CHECK(text.find("A=1\n") != std::string::npos);
    CHECK(text.find("B=two\n") != std::string::npos);
    CHECK(text.find("HOME=") == std::string::npos);
    CHECK(text.find("\nsh\n") != std::string::npos);
    ::unlink(out.c_str());
    CHECK(no_children());
}

TEST_CASE("a failing hook names itself, its status and its stderr; later hooks do not run", "[hooks]") {
    std::string marker = temp_path("later");
    CHECK_THROWS_WITH(run_hooks({sh("exit 0"), sh("echo oops >&2; exit 3"), sh("touch " + marker)}, "createRuntime",
                                "{}"),
                      "createRuntime hook #1 (`/bin/sh`): exit status 3: oops");
    CHECK(::access(marker.c_str(), F_OK) != 0);
    CHECK(no_children());
}

TEST_CASE("a missing hook binary is an exec error", "[hooks]") {
    CHECK_THROWS_WITH(run_hooks({Hook{"/nonexistent/hook", {}, {}, std::nullopt}}, "poststop", "{}"),
                      "poststop hook #0 (`/nonexistent/hook`): exec: no such file or directory");
    CHECK(no_children());
}

TEST_CASE("a hook past its timeout is killed", "[hooks]") {
    Hook h = sh("sleep 30");
    h.timeout = 1;
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(run_hooks({h}, "poststart", "{}"), "poststart hook #0 (`/bin/sh`): timed out after 1s");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    CHECK(no_children());
}

TEST_CASE("a hook that ignores a large stdin still succeeds", "[hooks]") {
    std::string big(1 << 20, 'x');
    CHECK_NOTHROW(run_hooks({sh("exit 0"), sh("head -c 10 >/dev/null")}, "prestart", big));
    CHECK(no_children());
}
