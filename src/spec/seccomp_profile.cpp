#include "crunlite/spec/seccomp_profile.hpp"

#include <algorithm>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite_profiles.h"

namespace crunlite::spec {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// "4.8" -> {4, 8}.
std::pair<int, int> parse_kernel(const json::Value& v) {
    std::string text = v.as_string();
    auto parts = split(text, '.');
    auto major = parts.size() >= 1 ? parse_uint(parts[0]) : std::nullopt;
    auto minor = parts.size() >= 2 ? parse_uint(parts[1]) : std::optional<uint64_t>(0);
    if (!major || !minor) v.fail("expected a kernel version like \"4.8\", got " + quote(text));
    return {static_cast<int>(*major), static_cast<int>(*minor)};
}

// Does the container match a condition object ({"caps", "arches", "minKernel"})?
// All listed capabilities must be held; the architecture must be listed.
bool matches(const json::Value& cond, const ProfileTarget& t, bool for_exclude) {
    std::vector<std::string> caps = cond.get_string_array_or("caps");
    std::vector<std::string> arches = cond.get_string_array_or("arches");
    if (for_exclude) {
        // Excluded when any listed capability is held or the architecture is listed.
        for (const auto& c : caps)
            if (contains(t.capabilities, c)) return true;
        return contains(arches, t.go_arch);
    }
    for (const auto& c : caps)
        if (!contains(t.capabilities, c)) return false;
    if (!arches.empty() && !contains(arches, t.go_arch)) return false;
    if (auto k = cond.find("minKernel"); k && t.kernel < parse_kernel(*k)) return false;
    return true;
}

}  // namespace

std::string_view default_seccomp_profile_json() { return kDefaultSeccompProfile; }

std::vector<std::string> default_capabilities() {
    json::Document doc = json::parse(kDefaultCapabilities, "profiles/capabilities.json");
    return doc.root().at("default").as_string_array();
}

ProfileTarget profile_target(const std::string& machine) {
    static const struct {
        const char* machine;
        const char* scmp;
        const char* go;
    } kArches[] = {
        {"x86_64", "SCMP_ARCH_X86_64", "amd64"}, {"i686", "SCMP_ARCH_X86", "386"},
        {"i386", "SCMP_ARCH_X86", "386"},         {"aarch64", "SCMP_ARCH_AARCH64", "arm64"},
        {"armv7l", "SCMP_ARCH_ARM", "arm"},       {"ppc64le", "SCMP_ARCH_PPC64LE", "ppc64le"},
        {"s390x", "SCMP_ARCH_S390X", "s390x"},    {"riscv64", "SCMP_ARCH_RISCV64", "riscv64"},
    };
    for (const auto& a : kArches)
        if (machine == a.machine) return ProfileTarget{a.scmp, a.go, {}, {}};
    throw Error(ENOTSUP, "no seccomp architecture known for machine " + quote(machine));
}

Seccomp resolve_seccomp_profile(std::string_view profile_json, const std::string& source, const ProfileTarget& t) {
    json::Document doc = json::parse(profile_json, source);
    json::Value root = doc.root();
    Seccomp out;
    out.default_action = root.get_string("defaultAction");
    if (auto e = root.find("defaultErrnoRet")) out.default_errno_ret = e->as_uint32();
    out.architectures.push_back(t.scmp_arch);
    if (auto map = root.find("archMap")) {
        for (const auto& entry : map->elements())
            if (entry.get_string("architecture") == t.scmp_arch)
                for (const auto& sub : entry.get_string_array_or("subArchitectures")) out.architectures.push_back(sub);
    }
    for (const auto& rule : root.at("syscalls").elements()) {
        if (auto inc = rule.find("includes"); inc && !matches(*inc, t, false)) continue;
        if (auto exc = rule.find("excludes"); exc && matches(*exc, t, true)) continue;
        SeccompSyscall s;
        s.names = rule.at("names").as_string_array();
        s.action = rule.get_string("action");
        if (auto e = rule.find("errnoRet")) s.errno_ret = e->as_uint32();
        if (auto args = rule.find("args")) {
            for (const auto& a : args->elements()) {
                SeccompArg arg;
                arg.index = a.get_uint32("index");
                arg.value = a.get_uint64("value");
                if (auto v2 = a.find("valueTwo")) arg.value_two = v2->as_uint64();
                arg.op = a.get_string("op");
                s.args.push_back(arg);
            }
        }
        out.syscalls.push_back(std::move(s));
    }
    return out;
}

}  // namespace crunlite::spec
