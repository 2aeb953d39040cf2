#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/image/registries.hpp"

using namespace crunlite::image;
using crunlite::Error;

namespace {
const char* kConf = R"(
unqualified-search-registries = ["registry.example:5000"]
short-name-mode = "enforcing"

[aliases]
"tool" = "quay.example/team/tool"

[[registry]]
prefix = "primary.example/team"
location = "primary.example/team"
insecure = false
[[registry.mirror]]
location = "mirror.example:5001/cache/team"
[[registry.mirror]]
location = "plain.example"
insecure = true

[[registry]]
location = "old.example"
insecure = true

[[registry]]
location = "bad.example"
blocked = true

[[registry]]
prefix = "*.corp.example"
insecure = true
)";
}  // namespace

TEST_CASE("registries.conf is parsed: search, aliases, registries and mirrors", "[registries]") {
    RegistriesConf c = parse_registries_conf(kConf, "r.conf");
    CHECK(c.search == std::vector<std::string>{"registry.example:5000"});
    CHECK(c.search_set);
    CHECK(c.aliases.at("tool") == "quay.example/team/tool");
    REQUIRE(c.registries.size() == 4);
    CHECK(c.registries[0].mirrors.size() == 2);
    CHECK(c.registries[0].mirrors[1].insecure);
    CHECK(c.registries[1].prefix.empty());
    CHECK(c.registries[1].location == "old.example");
    CHECK(c.registries[2].blocked);
    CHECK(c.registries[3].location.empty());
    CHECK(parse_registries_conf("", "empty").registries.empty());
    CHECK_FALSE(parse_registries_conf("", "empty").search_set);

    auto fails = [](const char* text, const std::string& why) {
        CHECK_THROWS_WITH(parse_registries_conf(text, "r.conf"), Catch::Contains(why));
    };
    fails("unqualified-search-registries = \"docker.io\"", "r.conf: unqualified-search-registries: expected an array");
    fails("unqualified-search-registries = [1]", "unqualified-search-registries[0]: expected a string");
    fails("unqualified-search-registries = [\"docker.io/library\"]", "not a registry host");
    fails("[registries.search]\nregistries = [\"docker.io\"]", "version 1 format");
    fails("[[registry]]\ninsecure = true", "registry[0]: needs a prefix or a location");
    fails("[[registry]]\nlocation = \"a.example\"\nblocked = \"yes\"", "registry[0].blocked: expected true or false");
    fails("[aliases]\n\"x\" = \"short\"", "aliases.x: `short` is not a fully qualified name");
    fails("a = [", "r.conf:1:");
}

TEST_CASE("drop-ins override the search list, aliases and registries by prefix", "[registries]") {
    RegistriesConf base = parse_registries_conf(kConf, "main.conf");
    merge_registries_conf(base, parse_registries_conf("[aliases]\n\"tool\" = \"other.example/tool\"\n"
                                                      "[[registry]]\nlocation = \"old.example\"\ninsecure = false\n",
                                                      "d.conf"));
    CHECK(base.search == std::vector<std::string>{"registry.example:5000"});  // not set there: kept
    CHECK(base.aliases.at("tool") == "other.example/tool");
    CHECK(base.registries.size() == 4);
    CHECK_FALSE(base.registries[1].insecure);
    merge_registries_conf(base, parse_registries_conf("unqualified-search-registries = []", "e.conf"));
    CHECK(base.search.empty());
    CHECK(base.files == std::vector<std::string>{"main.conf", "d.conf", "e.conf"});
}

TEST_CASE("short names: an alias or the one search registry, never a guess", "[registries]") {
    RegistriesConf c = parse_registries_conf(kConf, "r.conf");
    CHECK(resolve_short_name("app:1", c).name() == "registry.example:5000/app:1");
    CHECK(resolve_short_name("team/app", c).name() == "registry.example:5000/team/app:latest");
    CHECK(resolve_short_name("tool:2", c).name() == "quay.example/team/tool:2");
    std::string digest = "sha256:" + std::string(64, 'c');
    CHECK(resolve_short_name("tool@" + digest, c).name() == "quay.example/team/tool@" + digest);
    CHECK(resolve_short_name("other.example/x:3", c).name() == "other.example/x:3");  // qualified already

    c.search = {"docker.io", "quay.example"};
    try {
        resolve_short_name("app:1", c);
        FAIL("ambiguous short name accepted");
    } catch (const Error& e) {
        CHECK(e.code() == EINVAL);
        CHECK_THAT(e.message(), Catch::Contains("short name `app:1` is ambiguous: it could be "
                                                "docker.io/library/app:1, quay.example/app:1"));
        CHECK_THAT(e.message(), Catch::Contains("r.conf"));
    }
    CHECK(resolve_short_name("tool", c).name() == "quay.example/team/tool:latest");  // an alias is not ambiguous
    c.search.clear();
    try {
        resolve_short_name("app", c);
        FAIL("short name without search registries accepted");
    } catch (const Error& e) {
        CHECK(e.code() == ENOENT);
        CHECK_THAT(e.message(), Catch::Contains("no unqualified-search-registries"));
    }
    CHECK_THROWS_WITH(resolve_short_name("Bad Name", c), Catch::Contains("invalid"));
    CHECK(is_qualified_name("localhost/app"));
    CHECK(is_qualified_name("127.0.0.1:5000/app"));
    CHECK_FALSE(is_qualified_name("team/app"));
    CHECK_FALSE(is_qualified_name("app.example"));
}

TEST_CASE("endpoints: mirrors first, prefixes rewritten, blocked refused", "[registries]") {
    RegistriesConf c = parse_registries_conf(kConf, "r.conf");
    auto ref = [](const std::string& s) { return parse_reference("docker://" + s); };

    auto eps = endpoints(ref("primary.example/team/app:1"), c);
    REQUIRE(eps.size() == 3);
    CHECK(eps[0].mirror);
    CHECK(eps[0].ref.registry == "mirror.example:5001");
    CHECK(eps[0].ref.repository == "cache/team/app");
    CHECK(eps[0].ref.tag == "1");
    CHECK_FALSE(eps[0].insecure);
    CHECK(eps[1].ref.registry == "plain.example");
    CHECK(eps[1].ref.repository == "app");
    CHECK(eps[1].insecure);
    CHECK_FALSE(eps[2].mirror);
    CHECK(eps[2].ref.name() == "primary.example/team/app:1");

    // The prefix matches whole components only.
    eps = endpoints(ref("primary.example/teamx/app"), c);
    REQUIRE(eps.size() == 1);
    CHECK(eps[0].ref.name() == "primary.example/teamx/app:latest");

    eps = endpoints(ref("old.example/app"), c);
    REQUIRE(eps.size() == 1);
    CHECK(eps[0].insecure);
    eps = endpoints(ref("build.corp.example:443/app"), c);
    REQUIRE(eps.size() == 1);
    CHECK(eps[0].insecure);
    CHECK(eps[0].ref.registry == "build.corp.example:443");
    CHECK_FALSE(endpoints(ref("corp.example/app"), c)[0].insecure);  // "*.corp.example" wants a subdomain

    try {
        endpoints(ref("bad.example/app"), c);
        FAIL("blocked registry accepted");
    } catch (const Error& e) {
        CHECK(e.code() == EACCES);
        CHECK_THAT(e.message(), Catch::Contains("blocked by [[registry]] bad.example in r.conf"));
    }
    eps = endpoints(ref("elsewhere.example/app"), c);
    REQUIRE(eps.size() == 1);
    CHECK(eps[0].ref.name() == "elsewhere.example/app:latest");
}
