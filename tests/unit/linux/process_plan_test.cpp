// plan_process: a container process's setup resolved in the runtime parent.
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/linux/process_plan.hpp"
#include "crunlite/linux/process_setup.hpp"
#include "../temp_dir.hpp"

using namespace crunlite;
using Catch::Contains;

TEST_CASE("plan_process: names become the numbers the kernel takes; defaults filled in", "[process_plan]") {
    spec::Process proc;
    proc.args = {"node", "dist/index.js"};
    proc.env = {"PATH=/bin"};
    proc.cwd = "/app";
    proc.user.uid = 1001;
    proc.user.additional_gids = {10};
    proc.rlimits = {{"RLIMIT_NOFILE", 1024, 4096}};
    proc.capabilities.emplace();
    proc.capabilities->bounding = {"CAP_NET_BIND_SERVICE", "cap_kill"};
    proc.capabilities->ambient = {"CAP_NET_BIND_SERVICE"};
    proc.no_new_privileges = true;
    proc.oom_score_adj = 100;

    linux::ProcessPlan p = linux::plan_process(proc, {"LISTEN_FDS=1"}, 40);
    CHECK(p.args == proc.args);
    CHECK(p.env == std::vector<std::string>{"PATH=/bin", "LISTEN_FDS=1"});
    CHECK(p.cwd == "/app");
    CHECK(p.user == proc.user);
    CHECK(p.umask == 022);
    REQUIRE(p.rlimits.size() == 1);
    CHECK(p.rlimits[0] == linux::ResourceLimit{"RLIMIT_NOFILE", RLIMIT_NOFILE, 1024, 4096});
    CHECK(p.caps.bounding == std::vector<int>{10, 5});  // CAP_NET_BIND_SERVICE, CAP_KILL
    CHECK(p.caps.ambient == std::vector<int>{10});
    CHECK(p.caps.effective.empty());
    CHECK(p.no_new_privileges);
    CHECK(p.oom_score_adj == 100);
    CHECK_FALSE(p.personality);
    CHECK(p.session_keyring.empty());

    proc.user.umask = 077;
    proc.capabilities.reset();
    p = linux::plan_process(proc, {}, 40);
    CHECK(p.umask == 077);
    // Absent: none at all, as runc (not the runtime's own).
    CHECK((p.caps.bounding.empty() && p.caps.permitted.empty() && p.caps.effective.empty() &&
           p.caps.inheritable.empty() && p.caps.ambient.empty()));
}

TEST_CASE("plan_process: a bad name is an error naming the entry", "[process_plan]") {
    spec::Process proc;
    proc.args = {"sh"};
    proc.rlimits = {{"RLIMIT_FLY", 1, 1}};
    CHECK_THROWS_WITH(linux::plan_process(proc, {}, 40), Contains("process.rlimits: unknown rlimit `RLIMIT_FLY`"));
    proc.rlimits.clear();
    proc.capabilities.emplace();
    proc.capabilities->inheritable = {"CAP_KILL", "KILL"};  // no CAP_ prefix
    CHECK_THROWS_WITH(linux::plan_process(proc, {}, 40),
                      Contains("process.capabilities.inheritable: unknown capability `KILL`"));
}

TEST_CASE("plan_init_extras: personality, memory policy and the keyring name", "[process_plan]") {
    spec::Linux lnx;
    linux::ProcessPlan p;
    linux::plan_init_extras(p, lnx, "");
    CHECK_FALSE(p.personality);
    CHECK_FALSE(p.memory_policy);
    CHECK(p.session_keyring.empty());

    lnx.personality = spec::Personality{"LINUX", {}};
    lnx.memory_policy = spec::MemoryPolicy{"MPOL_BIND", "0", {}};
    linux::plan_init_extras(p, lnx, "web");
    CHECK(p.personality == static_cast<unsigned long>(PER_LINUX));
    CHECK(p.memory_policy == lnx.memory_policy);
    CHECK(p.session_keyring == "_ses.web");

    lnx.personality->flags = {"ADDR_NO_RANDOMIZE"};
    CHECK_THROWS_WITH(linux::plan_init_extras(p, lnx, "web"), Contains("linux.personality.flags"));
}

TEST_CASE("find_executable: a command not found, or not executable, says which", "[process_plan]") {
    testing::TempDir t("crl-exe");
    std::ofstream(t.path + "/data") << "x";
    REQUIRE(::chmod((t.path + "/data").c_str(), 0644) == 0);
    std::ofstream(t.path + "/tool") << "#!/bin/sh\n";
    REQUIRE(::chmod((t.path + "/tool").c_str(), 0755) == 0);
    std::vector<std::string> env{"PATH=" + t.path};
    CHECK(linux::find_executable("tool", env) == t.path + "/tool");
    auto kind_of = [&](const std::string& arg0) {
        try {
            linux::find_executable(arg0, env);
        } catch (const Error& e) {
            return e.kind();
        }
        return Error::Kind::Other;
    };
    CHECK(kind_of("nosuch") == Error::Kind::CommandNotFound);
    CHECK(kind_of(t.path + "/nosuch") == Error::Kind::CommandNotFound);
    CHECK(kind_of(t.path + "/data/x") == Error::Kind::CommandNotFound);  // ENOTDIR
    CHECK(kind_of(t.path + "/data") == Error::Kind::CommandNotExecutable);
    CHECK(kind_of(t.path) == Error::Kind::CommandNotExecutable);  // a directory
    CHECK(kind_of("data") == Error::Kind::CommandNotExecutable);  // found in PATH, not executable
    CHECK(kind_of("") == Error::Kind::CommandNotFound);  // not PATH's directories (Go's LookPath)
}
