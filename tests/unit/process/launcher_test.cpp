// process::maps_only_own_id: which id maps stage-1 writes itself.  Pure.
#include <catch2/catch.hpp>

#include "crunlite/process/launcher.hpp"

using crunlite::process::IdMapAction;
using crunlite::process::init_owns_state_dir;
using crunlite::process::LaunchRequest;
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

TEST_CASE("init_owns_state_dir: the init renames its own state only as the directory's owner", "[process][launcher]") {
    crunlite::spec::Config config;
    config.linux.emplace();
    crunlite::linux::ProcessPlan process;
    crunlite::linux::SeccompProgram notify;
    notify.notify = true;
    LaunchRequest req;
    req.config = &config;
    req.process = &process;
    // No state to hand off (create: exec.fifo and the caller commits).
    CHECK_FALSE(init_owns_state_dir(req, 0));
    req.state_handoff.dir_fd = 7;
    // Our user namespace: the init's uid is the host's.
    CHECK(init_owns_state_dir(req, 0));
    CHECK_FALSE(init_owns_state_dir(req, 1000));
    process.user.uid = 1000;
    CHECK(init_owns_state_dir(req, 1000));
    CHECK_FALSE(init_owns_state_dir(req, 0));
    // A user namespace joined by path: its mapping is unknown here.
    config.linux->namespaces.push_back({"user", "/proc/1/ns/user"});
    CHECK_FALSE(init_owns_state_dir(req, 1000));
    // One we make: the uid through its map.
    req.new_userns = true;
    req.uid_map = map({{0, 1000, 1}, {1, 100000, 65536}});
    process.user.uid = 0;
    CHECK(init_owns_state_dir(req, 1000));
    process.user.uid = 1000;  // 100999 on the host
    CHECK_FALSE(init_owns_state_dir(req, 1000));
    CHECK(init_owns_state_dir(req, 100999));
    process.user.uid = 70000;  // not mapped
    CHECK_FALSE(init_owns_state_dir(req, 1000));
    // A filter loaded before Ready could trap the rename.
    process.user.uid = 0;
    req.seccomp = &notify;
    CHECK_FALSE(init_owns_state_dir(req, 1000));
}
