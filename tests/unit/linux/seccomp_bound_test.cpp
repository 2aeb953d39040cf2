// linux::build_filter_bounded: build_filter in a child with a deadline.  It
// must give exactly what build_filter gives (program or Error), and stop a
// libseccomp that never returns.  Forks of this test process; no privilege.
#include <catch2/catch.hpp>
#include <seccomp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/linux/seccomp.hpp"
#include "crunlite/spec/seccomp_profile.hpp"

using namespace crunlite;

namespace {

// The pids of this process's children, as the kernel lists them.
std::string children() {
    std::ifstream f("/proc/self/task/" + std::to_string(::getpid()) + "/children");
    return std::string(std::istreambuf_iterator<char>(f), {});
}

bool same_program(const linux::SeccompProgram& a, const linux::SeccompProgram& b) {
    return a.flags == b.flags && a.notify == b.notify && a.bpf.size() == b.bpf.size() &&
           std::memcmp(a.bpf.data(), b.bpf.data(), a.bpf.size() * sizeof(sock_filter)) == 0;
}

// The Error `f` throws; nullopt when it returns.
template <typename F>
std::optional<Error> error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    return std::nullopt;
}

// libseccomp 2.5.4 (Debian 12) never returns from seccomp_rule_add_array on this.
spec::Seccomp hanging_profile() {
    spec::Seccomp sc;
    sc.default_action = "SCMP_ACT_ERRNO";
    sc.syscalls.push_back(
        {{"personality"}, "SCMP_ACT_LOG", std::nullopt, {{0, 3, 0, "SCMP_CMP_NE"}, {1, 0, 0, "SCMP_CMP_NE"}}});
    sc.syscalls.push_back(
        {{"personality"}, "SCMP_ACT_ALLOW", std::nullopt, {{0, 3, 0, "SCMP_CMP_NE"}, {2, 3, 0, "SCMP_CMP_EQ"}}});
    return sc;
}

}  // namespace

TEST_CASE("a profile libseccomp never finishes compiling fails at the deadline, leaving no child", "[seccomp]") {
    std::string before = children();
    int64_t start = monotonic_ms();
    std::optional<Error> e = error_of([] { linux::build_filter_bounded(hanging_profile(), 1000); });
    int64_t took = monotonic_ms() - start;
    const scmp_version* v = seccomp_version();
    if (!e && !(v->major == 2 && v->minor == 5 && v->micro == 4)) {
        WARN("this libseccomp compiles the profile: the deadline is not exercised");
        return;
    }
    REQUIRE(e);
    CHECK(e->code() == ETIMEDOUT);
    CHECK(e->message() ==
          "linux.seccomp: libseccomp did not finish compiling the profile within 1 second "
          "(a libseccomp bug some argument rules trigger)");
    CHECK(took >= 1000);
    CHECK(took < 4000);  // the deadline plus the kill and reap, on a busy host
    CHECK(children() == before);  // killed and reaped
}

TEST_CASE("a bounded compile gives the program build_filter gives", "[seccomp]") {
    spec::ProfileTarget t = spec::profile_target("x86_64");
    t.capabilities = spec::default_capabilities();
    t.kernel = {6, 1};
    spec::Seccomp docker =
        spec::resolve_seccomp_profile(spec::default_seccomp_profile_json(), "profiles/seccomp.json", t);
    spec::Seccomp notify;
    notify.default_action = "SCMP_ACT_ALLOW";
    notify.listener_path = "/run/agent.sock";
    notify.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    notify.syscalls.push_back({{"mkdir"}, "SCMP_ACT_NOTIFY", std::nullopt, {}});
    notify.syscalls.push_back({{"chmod"}, "SCMP_ACT_ERRNO", 38, {{1, 04000, 04000, "SCMP_CMP_MASKED_EQ"}}});
    for (const spec::Seccomp* sc : {&docker, &notify}) {
        linux::SeccompProgram in_process = linux::build_filter(*sc);
        linux::SeccompProgram bounded = linux::build_filter_bounded(*sc);
        CHECK(same_program(bounded, in_process));
    }
    CHECK(linux::build_filter_bounded(notify).notify);
    CHECK(linux::build_filter_bounded(notify).flags != 0);
}

TEST_CASE("a bounded compile throws build_filter's errno and text", "[seccomp]") {
    auto with = [](std::string default_action, std::vector<spec::SeccompSyscall> rules) {
        spec::Seccomp sc;
        sc.default_action = std::move(default_action);
        sc.syscalls = std::move(rules);
        return sc;
    };
    std::vector<spec::Seccomp> bad = {
        with("SCMP_ACT_BOGUS", {}),
        with("SCMP_ACT_NOTIFY", {}),
        with("SCMP_ACT_ALLOW", {{{"read"}, "SCMP_ACT_ERRNO", std::nullopt, {{0, 1, 0, "SCMP_CMP_SOMETIMES"}}}}),
        with("SCMP_ACT_ALLOW", {{{"read"}, "SCMP_ACT_ERRNO", std::nullopt, {{6, 1, 0, "SCMP_CMP_EQ"}}}}),
        with("SCMP_ACT_ALLOW", {{{"mkdir"}, "SCMP_ACT_NOTIFY", std::nullopt, {}}}),
    };
    bad.push_back(with("SCMP_ACT_ALLOW", {}));
    bad.back().architectures = {"SCMP_ARCH_PDP11"};
    bad.push_back(with("SCMP_ACT_ALLOW", {}));
    bad.back().flags = {"SECCOMP_FILTER_FLAG_BOGUS"};
    bad.push_back(with("SCMP_ACT_ALLOW", {}));  // more distinct rules than 4096: E2BIG before compiling
    for (int i = 0; i < 5000; ++i)
        bad.back().syscalls.push_back(
            {{"chmod"}, "SCMP_ACT_ERRNO", std::nullopt, {{1, static_cast<uint64_t>(i), 0, "SCMP_CMP_EQ"}}});
    bad.push_back(with("SCMP_ACT_ALLOW", {}));  // a compiled program over 4096 instructions: E2BIG after
    for (int i = 0; i < 2100; ++i)
        bad.back().syscalls.push_back({{"chmod"}, "SCMP_ACT_ERRNO", std::nullopt,
                                       {{0, static_cast<uint64_t>(i), 0, "SCMP_CMP_EQ"}, {1, 7, 0, "SCMP_CMP_EQ"}}});
    for (const auto& sc : bad) {
        std::optional<Error> in_process = error_of([&] { linux::build_filter(sc); });
        std::optional<Error> bounded = error_of([&] { linux::build_filter_bounded(sc); });
        REQUIRE(in_process);
        REQUIRE(bounded);
        CHECK(bounded->code() == in_process->code());
        CHECK(bounded->message() == in_process->message());
        CHECK_THAT(bounded->message(), Catch::StartsWith("linux.seccomp"));
    }
}
