#include <catch2/catch.hpp>

#include <algorithm>

#include "crunlite/base/error.hpp"
#include "crunlite/spec/seccomp_profile.hpp"

using namespace crunlite::spec;

namespace {

ProfileTarget amd64(std::vector<std::string> caps, std::pair<int, int> kernel = {6, 1}) {
    ProfileTarget t = profile_target("x86_64");
    t.capabilities = std::move(caps);
    t.kernel = kernel;
    return t;
}

// The rules that name `syscall`.
std::vector<SeccompSyscall> rules_for(const Seccomp& s, const std::string& syscall) {
    std::vector<SeccompSyscall> out;
    for (const auto& r : s.syscalls)
        if (std::find(r.names.begin(), r.names.end(), syscall) != r.names.end()) out.push_back(r);
    return out;
}

bool allowed_unconditionally(const Seccomp& s, const std::string& syscall) {
    for (const auto& r : rules_for(s, syscall))
        if (r.action == "SCMP_ACT_ALLOW" && r.args.empty()) return true;
    return false;
}

Seccomp resolve_default(const ProfileTarget& t) {
    return resolve_seccomp_profile(default_seccomp_profile_json(), "profiles/seccomp.json", t);
}

}  // namespace

TEST_CASE("the embedded defaults parse", "[seccomp_profile]") {
    auto caps = default_capabilities();
    CHECK(caps.size() == 11);
    CHECK(std::find(caps.begin(), caps.end(), "CAP_NET_BIND_SERVICE") != caps.end());
    CHECK(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN") == caps.end());
    Seccomp s = resolve_default(amd64(caps));
    CHECK(s.default_action == "SCMP_ACT_ERRNO");
    CHECK(s.default_errno_ret == 1u);
    CHECK(s.architectures == std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
}

TEST_CASE("default caps: ordinary calls allowed, dangerous ones left to the default EPERM", "[seccomp_profile]") {
    Seccomp s = resolve_default(amd64(default_capabilities()));
    for (const char* ok : {"read", "write", "execve", "openat", "arch_prctl", "chroot", "ptrace"})
        CHECK(allowed_unconditionally(s, ok));
    for (const char* no : {"mount", "unshare", "setns", "keyctl", "umount2", "bpf", "reboot", "init_module",
                           "open_by_handle_at", "add_key", "kexec_load"})
        CHECK(rules_for(s, no).empty());
    // clone: only without namespace flags (masked-eq on the flags argument).
    auto clone = rules_for(s, "clone");
    REQUIRE(clone.size() == 1);
    REQUIRE(clone[0].args.size() == 1);
    CHECK(clone[0].args[0].op == "SCMP_CMP_MASKED_EQ");
    CHECK(clone[0].args[0].index == 0);
    CHECK(clone[0].args[0].value == 2114060288u);
    // clone3 cannot be inspected: ENOSYS makes libc fall back to clone.
    auto clone3 = rules_for(s, "clone3");
    REQUIRE(clone3.size() == 1);
    CHECK(clone3[0].action == "SCMP_ACT_ERRNO");
    CHECK(clone3[0].errno_ret == 38u);
    // personality: only the harmless personas.
    CHECK(rules_for(s, "personality").size() == 5);
}

TEST_CASE("capabilities unlock their syscalls", "[seccomp_profile]") {
    auto caps = default_capabilities();
    caps.push_back("CAP_SYS_ADMIN");
    caps.push_back("CAP_SYS_PTRACE");
    Seccomp s = resolve_default(amd64(caps));
    for (const char* ok : {"mount", "unshare", "setns", "clone", "clone3", "kcmp", "process_vm_readv"})
        CHECK(allowed_unconditionally(s, ok));
    for (const auto& r : rules_for(s, "clone3")) CHECK(r.action == "SCMP_ACT_ALLOW");
}

TEST_CASE("arch and kernel conditions", "[seccomp_profile]") {
    ProfileTarget arm = profile_target("aarch64");
    arm.capabilities = default_capabilities();
    arm.kernel = {6, 1};
    Seccomp s = resolve_default(arm);
    CHECK(s.architectures == std::vector<std::string>{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"});
    CHECK(allowed_unconditionally(s, "set_tls"));
    CHECK(rules_for(s, "arch_prctl").empty());
    // ptrace is allowed from 4.8 on (earlier kernels let it bypass seccomp).
    CHECK(rules_for(resolve_default(amd64(default_capabilities(), {4, 4})), "ptrace").empty());
    CHECK_THROWS_WITH(profile_target("pdp11"), Catch::Contains("pdp11"));
}

TEST_CASE("a malformed profile names the JSON path", "[seccomp_profile]") {
    CHECK_THROWS_WITH(resolve_seccomp_profile(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read"}]})",
                                              "p.json", amd64({})),
                      Catch::Contains("p.json: syscalls[0].names"));
    CHECK_THROWS_WITH(
        resolve_seccomp_profile(
            R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"new"}}]})",
            "p.json", amd64({})),
        Catch::Contains("p.json: syscalls[0].includes.minKernel"));
}
