// sys::remove_tree: a path's last component removed beneath its parent.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "crunlite/sys/syscalls.hpp"

using namespace crunlite;

namespace {

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("remove_tree removes a tree, not what its symlinks point at", "[sys]") {
    char t[] = "/tmp/crunlite-remove-tree-XXXXXX";
    REQUIRE(::mkdtemp(t));
    const std::string dir = t;
    REQUIRE(::mkdir((dir + "/keep").c_str(), 0755) == 0);
    REQUIRE(::close(::open((dir + "/keep/file").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == 0);
    REQUIRE(::mkdir((dir + "/gone").c_str(), 0755) == 0);
    REQUIRE(::mkdir((dir + "/gone/sub").c_str(), 0700) == 0);
    REQUIRE(::symlink((dir + "/keep").c_str(), (dir + "/gone/sub/link").c_str()) == 0);

    CHECK(sys::remove_tree(dir + "/gone//") == 0);  // trailing slashes name the same entry
    CHECK_FALSE(exists(dir + "/gone"));
    CHECK(exists(dir + "/keep/file"));
    CHECK(sys::remove_tree(dir + "/gone") == 0);          // missing: success
    CHECK(sys::remove_tree(dir + "/no/such/parent") == 0);  // missing parent: success
    for (const char* bad : {"", "/", "//", ".", "..", "a/.."}) {
        INFO('"' << bad << '"');
        errno = 0;
        CHECK(sys::remove_tree(bad) == -1);
        CHECK(errno == EINVAL);
    }
    CHECK(sys::remove_tree(dir) == 0);
    CHECK_FALSE(exists(dir));
}

TEST_CASE("remove_tree removes its owner's directories of mode 000 (overlayfs' work/work)", "[sys]") {
    char t[] = "/tmp/crunlite-remove-tree-XXXXXX";
    REQUIRE(::mkdtemp(t));
    const std::string dir = t;
    REQUIRE(::chmod(t, 01777) == 0);
    // As an unprivileged owner: root reads a mode-000 directory anyway.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (::getuid() == 0 && (::setresgid(65534, 65534, 65534) < 0 || ::setresuid(65534, 65534, 65534) < 0)) _exit(2);
        std::string work = dir + "/ovl", inner = work + "/work";
        if (::mkdir(work.c_str(), 0755) < 0 || ::mkdir(inner.c_str(), 0755) < 0 ||
            ::mkdir((inner + "/sub").c_str(), 0755) < 0 || ::chmod(inner.c_str(), 0) < 0)
            _exit(3);
        if (::access((inner + "/sub").c_str(), F_OK) == 0) _exit(4);  // really unreadable to us
        _exit(sys::remove_tree(work) == 0 && !exists(work) ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(sys::remove_tree(dir) == 0);
}
