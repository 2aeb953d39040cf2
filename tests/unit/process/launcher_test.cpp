// process::maps_only_own_id: which id maps stage-1 writes itself.  Pure.
#include <catch2/catch.hpp>

#include "crunlite/process/launcher.hpp"

using crunlite::process::IdMapAction;
using crunlite::process::maps_only_own_id;

namespace {

IdMapAction map(std::vector<crunlite::spec::IdMapping> mappings, bool deny_setgroups = true, bool use_helper = false) {
    IdMapAction a;
    a.mappings = std::move(mappings);
    a.deny_setgroups = deny_setgroups;
    a.use_helper = use_helper;
    return a;
}

}  // namespace

TEST_CASE("maps_only_own_id: one id, our own, without the helper", "[process][launcher]") {
    // Rootless with a single mapping (runc's rootless spec): 0 -> our uid.
    CHECK(maps_only_own_id(map({{0, 1000, 1}}), 1000, false));
    CHECK(maps_only_own_id(map({{0, 1000, 1}}), 1000, true));
    // Another id, or more than one: only the parent (or the helper) may write it.
    CHECK_FALSE(maps_only_own_id(map({{0, 1001, 1}}), 1000, false));
    CHECK_FALSE(maps_only_own_id(map({{0, 1000, 2}}), 1000, false));
    CHECK_FALSE(maps_only_own_id(map({{0, 1000, 1}, {1, 100000, 65536}}), 1000, false));
    CHECK_FALSE(maps_only_own_id(map({{0, 1000, 1}}, true, true), 1000, false));
    CHECK_FALSE(maps_only_own_id(map({}), 1000, false));
    // A gid map from inside needs setgroups denied first; a uid map does not care.
    CHECK_FALSE(maps_only_own_id(map({{0, 1000, 1}}, false), 1000, true));
    CHECK(maps_only_own_id(map({{0, 1000, 1}}, false), 1000, false));
}
