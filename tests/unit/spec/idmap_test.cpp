#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/spec/idmap.hpp"

using namespace crunlite::spec;

TEST_CASE("subid files: by name or uid, junk skipped", "[idmap]") {
    std::string content =
        "# comment\n\ntester:100000:65536\nother:200000:10\n1001:300000:5\nbroken:line\ntester:x:1\ntester:5:0\n"
        "tester:4294967295:2\n";
    auto r = parse_subid_file(content, "tester", 1001);
    REQUIRE(r.size() == 2);
    CHECK(r[0].start == 100000);
    CHECK(r[0].count == 65536);
    CHECK(r[1].start == 300000);
    CHECK(r[1].count == 5);
    CHECK(parse_subid_file(content, "nobody", 9).empty());
}

TEST_CASE("mapping plans", "[idmap]") {
    std::vector<SubIdRange> ranges = {{100000, 65536}};
    SECTION("privileged callers write anything directly") {
        auto p = plan_id_mappings({{0, 5000, 10}}, 0, {}, true, "root", "/etc/subuid");
        CHECK_FALSE(p.use_helper);
        CHECK_FALSE(p.deny_setgroups);
    }
    SECTION("a single mapping of ourselves is written directly with setgroups denied") {
        auto p = plan_id_mappings({{0, 1001, 1}}, 1001, ranges, false, "tester", "/etc/subuid");
        CHECK_FALSE(p.use_helper);
        CHECK(p.deny_setgroups);
    }
    SECTION("ourselves plus a subordinate range needs the helper") {
        auto p = plan_id_mappings({{0, 1001, 1}, {1, 100000, 65536}}, 1001, ranges, false, "tester", "/etc/subuid");
        CHECK(p.use_helper);
    }
    SECTION("a range spanning ourselves and an adjacent subordinate range is allowed") {
        auto p = plan_id_mappings({{0, 99999, 2}}, 99999, ranges, false, "tester", "/etc/subuid");
        CHECK(p.use_helper);
    }
    SECTION("ids outside the ranges are refused, naming the mapping and file") {
        CHECK_THROWS_WITH(plan_id_mappings({{0, 1001, 1}, {1, 200000, 10}}, 1001, ranges, false, "tester", "/etc/subuid"),
                          "[1]: host IDs 200000-200009 are not in /etc/subuid ranges of user tester");
        CHECK_THROWS_WITH(plan_id_mappings({{0, 100000, 65537}}, 1001, ranges, false, "tester", "/etc/subgid"),
                          Catch::Contains("host IDs 100000-165536"));
        CHECK_THROWS_WITH(plan_id_mappings({{0, 0, 1}}, 1001, {}, false, "", "/etc/subuid"),
                          Catch::Contains("ranges of user 1001"));
    }
}

TEST_CASE("root in another user namespace maps what that namespace has", "[idmap]") {
    // Rootless podman's: 0 -> the user, 1-65536 -> the user's subordinate ids.
    auto own = parse_id_map_inside("         0       1001          1\n         1     100000      65536\n");
    CHECK(own == std::vector<SubIdRange>{{0, 1}, {1, 65536}});
    CHECK(parse_id_map_inside("0 0 4294967295\n") == std::vector<SubIdRange>{{0, 4294967295u}});
    CHECK(parse_id_map_inside("junk\n1 2\n5 6 0\n1 x 3\n").empty());
    // --userns=keep-id: 0..1000 -> 1..1001, 1001 -> 0, the rest above.
    CHECK_NOTHROW(check_ids_mapped({{0, 1, 1001}, {1001, 0, 1}, {1002, 1002, 64535}}, own, "/proc/self/uid_map"));
    CHECK_THROWS_WITH(check_ids_mapped({{0, 0, 1}, {1, 60000, 10000}}, own, "/proc/self/uid_map"),
                      "[1]: host IDs 60000-69999 are not mapped in our user namespace (/proc/self/uid_map)");
}

TEST_CASE("default rootless mappings", "[idmap]") {
    auto m = default_rootless_mappings(1001, {{100000, 65536}, {500000, 10}});
    REQUIRE(m.size() == 2);
    CHECK(m[0].container_id == 0);
    CHECK(m[0].host_id == 1001);
    CHECK(m[0].size == 1);
    CHECK(m[1].container_id == 1);
    CHECK(m[1].host_id == 100000);
    CHECK(m[1].size == 65536);
    CHECK(default_rootless_mappings(1001, {}).size() == 1);
}

TEST_CASE("user names come from passwd content, else the number", "[idmap]") {
    const char* passwd = "root:x:0:0:root:/root:/bin/bash\n#x:x:5:5\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    CHECK(passwd_user_name(passwd, 0) == "root");
    CHECK(passwd_user_name(passwd, 1000) == "alice");
    CHECK(passwd_user_name(passwd, 1001) == "1001");
    CHECK(passwd_user_name("", 7) == "7");
}

TEST_CASE("HOME comes from the uid's passwd entry, else /", "[idmap]") {
    const char* passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n"
                         "bob:x:1002:1002::::\nshort:x:1003:1003\nnoshell:x:1004:1004::/home/noshell\n";
    CHECK(passwd_home(passwd, 0) == "/root");
    CHECK(passwd_home(passwd, 1000) == "/home/alice");
    CHECK(passwd_home(passwd, 1001) == "/");  // no entry
    CHECK(passwd_home(passwd, 1002) == "/");  // empty home field
    CHECK(passwd_home(passwd, 1003) == "/");  // cut short before the home
    CHECK(passwd_home(passwd, 1004) == "/home/noshell");  // cut short after it
    CHECK(passwd_home("", 0) == "/");
}
