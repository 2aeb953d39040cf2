// sys::touch_in_root: a mount point for a file, made inside a root without
// leaving it, whatever the root's links say.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "crunlite/sys/syscalls.hpp"

using namespace crunlite;

namespace {

struct Root {
    std::string dir;
    sys::UniqueFd fd;
    Root() {
        char t[] = "/tmp/crunlite-touch-XXXXXX";
        REQUIRE(::mkdtemp(t));
        dir = t;
        fd = sys::UniqueFd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        REQUIRE(fd);
    }
    ~Root() { sys::remove_tree(dir); }
};

struct stat stat_of(int fd) {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    return st;
}

struct stat lstat_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st;
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

}  // namespace

TEST_CASE("touch_in_root creates the file and its parents and returns the new file", "[sys]") {
    Root r;
    sys::UniqueFd fd = sys::touch_in_root(r.fd.get(), "/dev/sub/null", 0600);
    REQUIRE(fd);
    struct stat st = lstat_of(r.dir + "/dev/sub/null");
    CHECK(S_ISREG(st.st_mode));
    CHECK(S_ISDIR(lstat_of(r.dir + "/dev/sub").st_mode));
    CHECK(same_file(stat_of(fd.get()), st));
    CHECK(st.st_size == 0);
}

TEST_CASE("touch_in_root keeps what exists, of any type, unchanged", "[sys]") {
    Root r;
    REQUIRE(::mkdir((r.dir + "/etc").c_str(), 0755) == 0);
    int w = ::open((r.dir + "/etc/hosts").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0640);
    REQUIRE(w >= 0);
    REQUIRE(::write(w, "x", 1) == 1);
    ::close(w);
    REQUIRE(::mkdir((r.dir + "/etc/dir").c_str(), 0755) == 0);

    sys::UniqueFd file = sys::touch_in_root(r.fd.get(), "/etc/hosts", 0644);
    CHECK(same_file(stat_of(file.get()), lstat_of(r.dir + "/etc/hosts")));
    CHECK(lstat_of(r.dir + "/etc/hosts").st_size == 1);
    CHECK((lstat_of(r.dir + "/etc/hosts").st_mode & 07777) == 0640);
    sys::UniqueFd dir = sys::touch_in_root(r.fd.get(), "/etc/dir", 0644);
    CHECK(S_ISDIR(stat_of(dir.get()).st_mode));
}

TEST_CASE("touch_in_root follows links inside the root, never out of it", "[sys]") {
    Root r;
    Root outside;
    REQUIRE(::mkdir((r.dir + "/etc").c_str(), 0755) == 0);
    // A dangling absolute link: its target is made inside the root, not on the host.
    std::string host_target = outside.dir + "/escaped";
    REQUIRE(::symlink(host_target.c_str(), (r.dir + "/etc/resolv.conf").c_str()) == 0);
    sys::UniqueFd fd = sys::touch_in_root(r.fd.get(), "/etc/resolv.conf", 0644);
    REQUIRE(fd);
    struct stat host {};
    CHECK(::lstat(host_target.c_str(), &host) < 0);
    struct stat made = lstat_of(r.dir + host_target);
    CHECK(S_ISREG(made.st_mode));
    CHECK(same_file(stat_of(fd.get()), made));
    CHECK(S_ISLNK(lstat_of(r.dir + "/etc/resolv.conf").st_mode));

    // A link to an existing file leads to that file; a parent that is a link too.
    REQUIRE(::symlink("../etc", (r.dir + "/conf").c_str()) == 0);
    sys::UniqueFd via = sys::touch_in_root(r.fd.get(), "/conf/resolv.conf", 0644);
    CHECK(same_file(stat_of(via.get()), made));
}

TEST_CASE("touch_in_root in a directory the caller has open: the same files, one lookup", "[sys]") {
    Root r;
    sys::UniqueFd dev = sys::mkdir_all_in_root(r.fd.get(), "/dev", 0755);
    sys::UniqueFd null = sys::touch_in_root(r.fd.get(), "/dev/null", 0644, dev.get());
    REQUIRE(null);
    CHECK(same_file(stat_of(null.get()), lstat_of(r.dir + "/dev/null")));
    // What exists is kept, and a dangling link is still followed inside the root.
    sys::UniqueFd again = sys::touch_in_root(r.fd.get(), "/dev/null", 0644, dev.get());
    CHECK(same_file(stat_of(again.get()), lstat_of(r.dir + "/dev/null")));
    REQUIRE(::symlink("/made/zero", (r.dir + "/dev/zero").c_str()) == 0);
    sys::UniqueFd zero = sys::touch_in_root(r.fd.get(), "/dev/zero", 0644, dev.get());
    CHECK(same_file(stat_of(zero.get()), lstat_of(r.dir + "/made/zero")));
}
