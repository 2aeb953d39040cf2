// linux::differing_namespaces: against ourselves and a child in a user
// namespace of its own (where the kernel allows an unprivileged one).
#include <catch2/catch.hpp>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crunlite/base/error.hpp"
#include "crunlite/linux/namespaces.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"

using namespace crunlite;

TEST_CASE("differing_namespaces: none against ourselves, the new ones against a child", "[namespaces]") {
    CHECK(linux::differing_namespaces(::getpid()) == 0);
    // Types known to be new are taken as differing, unread.
    CHECK(linux::differing_namespaces(::getpid(), CLONE_NEWNS | CLONE_NEWIPC) == (CLONE_NEWNS | CLONE_NEWIPC));

    // The child reports whether unshare worked, then waits to be killed.
    sys::Pipe ready = sys::Pipe::make();
    sys::Child child = sys::Child::fork("fork", [&] {
        char ok = ::unshare(CLONE_NEWUSER | CLONE_NEWUTS) == 0 ? 'y' : 'n';
        if (::write(ready.write.get(), &ok, 1) != 1) return 1;
        for (;;) ::pause();
    });
    char ok = 0;
    REQUIRE(::read(ready.read.get(), &ok, 1) == 1);
    if (ok == 'y') {
        CHECK(linux::differing_namespaces(child.pid()) == (CLONE_NEWUSER | CLONE_NEWUTS));
        CHECK(linux::differing_namespaces(child.pid(), CLONE_NEWPID) == (CLONE_NEWUSER | CLONE_NEWUTS | CLONE_NEWPID));
    } else {
        WARN("unprivileged user namespaces are off here: only the self comparison ran");
    }
    child.kill(SIGKILL);
    child.wait();

    // A pid that is not there names what it could not read.
    CHECK_THROWS_WITH(linux::differing_namespaces(999999999), Catch::Contains("/proc/999999999/ns"));
}
