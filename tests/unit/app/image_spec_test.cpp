#include <algorithm>

#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/app/pasta.hpp"
#include "crunlite/app/slirp.hpp"

using namespace crunlite;
using app::adjust_capabilities;
using app::merge_env;
using app::parse_duration;
using app::parse_env_file;
using app::parse_volume;
using app::process_args;
using app::VolumeSpec;
using app::resolve_user;

namespace {

using Strings = std::vector<std::string>;
using Gids = std::vector<uint32_t>;

// An image's /etc/passwd, with the noise real files have.
const std::string kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment line\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "\n"
    "a malformed line\n"
    "evil:x:notanumber:0::/home/evil:/bin/sh\n"
    "nextjs:x:1001:1001::/home/nextjs:/bin/sh\n"
    "nohome:x:1002:1002:::/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

// Its /etc/group: nextjs is listed in nodejs (its primary group), audio, wheel
// and wheel2 (the same gid as wheel); "nextjsx" and "other" are other users.
const std::string kGroup =
    "root:x:0:\n"
    "# a comment line\n"
    "nodejs:x:1001:nextjs\n"
    "\n"
    "malformed\n"
    "audio:x:29:other,nextjs\n"
    "wheel:x:10:root,nextjs\n"
    "wheel2:x:10:nextjs\n"
    "video:x:44:other\n"
    "staff:x:50:nextjsx\n"
    "web:x:2000:\n";

const std::string kPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace

// resolve_user

TEST_CASE("an empty user is root, with root's passwd entry", "[image_spec][user]") {
    auto u = resolve_user("", kPasswd, kGroup);
    CHECK(u.uid == 0);
    CHECK(u.gid == 0);
    CHECK(u.home == "/root");
    // wheel lists root; no USER at all leaves the primary group out, as podman does.
    CHECK(u.additional_gids == Gids{10});
    // "root" or "0" given: the primary group is among the groups.
    CHECK(resolve_user("root", kPasswd, kGroup).additional_gids == Gids{0, 10});
    CHECK(resolve_user("0", kPasswd, kGroup).additional_gids == Gids{0, 10});
}

TEST_CASE("a user name takes uid, gid, home and the groups that list it from the image", "[image_spec][user]") {
    auto u = resolve_user("nextjs", kPasswd, kGroup);
    CHECK(u.uid == 1001);
    CHECK(u.gid == 1001);
    CHECK(u.home == "/home/nextjs");
    // The primary gid first (once, though nodejs lists it too), then the others
    // sorted and unique, not the groups of "nextjsx" or "other" (podman's `id`:
    // groups=1001(nodejs),10(wheel),29(audio)).
    CHECK(u.additional_gids == Gids{1001, 10, 29});
}

TEST_CASE("a numeric user found in passwd takes its entry", "[image_spec][user]") {
    auto u = resolve_user("1001", kPasswd, kGroup);
    CHECK(u.uid == 1001);
    CHECK(u.gid == 1001);
    CHECK(u.home == "/home/nextjs");
    CHECK(u.additional_gids == Gids{1001, 10, 29});
}

TEST_CASE("a numeric user not in passwd runs with gid 0 and home /", "[image_spec][user]") {
    auto u = resolve_user("4242", kPasswd, kGroup);
    CHECK(u.uid == 4242);
    CHECK(u.gid == 0);
    CHECK(u.home == "/");
    CHECK(u.additional_gids == Gids{0});
}

TEST_CASE("a passwd entry with an empty home directory gets /", "[image_spec][user]") {
    auto u = resolve_user("nohome", kPasswd, kGroup);
    CHECK(u.uid == 1002);
    CHECK(u.gid == 1002);
    CHECK(u.home == "/");
    // Its primary group exists in no group file line: still among its groups.
    CHECK(u.additional_gids == Gids{1002});
}

TEST_CASE("a passwd line cut short takes empty fields and gid 0 for those left off", "[image_spec][user]") {
    const std::string passwd = "svc:x:1700:1700::/home/svc\nbare:x:1800\ngidless:x:1900:\nbadgid:x:2100:x:::\n";
    auto u = resolve_user("svc", passwd, std::nullopt);
    CHECK(u.uid == 1700);
    CHECK(u.gid == 1700);
    CHECK(u.home == "/home/svc");
    u = resolve_user("bare", passwd, std::nullopt);
    CHECK(u.uid == 1800);
    CHECK(u.gid == 0);
    CHECK(u.home == "/");
    CHECK(resolve_user("1900", passwd, std::nullopt).gid == 0);
    // A gid that is there but no number is no entry.
    CHECK_THROWS_WITH(resolve_user("badgid", passwd, std::nullopt), Catch::Contains("unable to find user badgid"));
}

TEST_CASE("an explicit group by name replaces the primary and supplementary groups", "[image_spec][user]") {
    auto u = resolve_user("nextjs:web", kPasswd, kGroup);
    CHECK(u.uid == 1001);
    CHECK(u.gid == 2000);
    CHECK(u.home == "/home/nextjs");
    CHECK(u.additional_gids == Gids{2000});  // only the group given (podman: groups=2000(web))

    u = resolve_user("nextjs:nodejs", kPasswd, kGroup);
    CHECK(u.uid == 1001);
    CHECK(u.gid == 1001);
    CHECK(u.additional_gids == Gids{1001});
}

TEST_CASE("an explicit numeric group need not exist in the group file", "[image_spec][user]") {
    auto u = resolve_user("1001:1234", kPasswd, kGroup);
    CHECK(u.uid == 1001);
    CHECK(u.gid == 1234);
    CHECK(u.home == "/home/nextjs");
    CHECK(u.additional_gids == Gids{1234});

    u = resolve_user("4242:4343", std::nullopt, std::nullopt);
    CHECK(u.uid == 4242);
    CHECK(u.gid == 4343);
    CHECK(u.home == "/");
    CHECK(u.additional_gids == Gids{4343});
}

TEST_CASE("an unknown user name is an error naming the user", "[image_spec][user]") {
    CHECK_THROWS_AS(resolve_user("nobody-here", kPasswd, kGroup), Error);
    CHECK_THROWS_WITH(resolve_user("nobody-here", kPasswd, kGroup),
                      Catch::Contains("unable to find user nobody-here"));
    // A line that does not parse does not make its name a user.
    CHECK_THROWS_WITH(resolve_user("evil", kPasswd, kGroup), Catch::Contains("unable to find user evil"));
    // Nor does a comment.
    CHECK_THROWS_WITH(resolve_user("#", kPasswd, kGroup), Catch::Contains("unable to find user"));
}

TEST_CASE("an unknown group name is an error naming the group", "[image_spec][user]") {
    CHECK_THROWS_AS(resolve_user("nextjs:nogroup", kPasswd, kGroup), Error);
    CHECK_THROWS_WITH(resolve_user("nextjs:nogroup", kPasswd, kGroup), Catch::Contains("nogroup"));
    // No group file at all: a group name cannot be found either.
    CHECK_THROWS_WITH(resolve_user("nextjs:web", kPasswd, std::nullopt), Catch::Contains("web"));
}

TEST_CASE("without a passwd file only numeric users resolve", "[image_spec][user]") {
    CHECK_THROWS_WITH(resolve_user("nextjs", std::nullopt, kGroup), Catch::Contains("unable to find user nextjs"));
    auto u = resolve_user("1000", std::nullopt, std::nullopt);
    CHECK(u.uid == 1000);
    CHECK(u.gid == 0);
    CHECK(u.home == "/");
    CHECK(u.additional_gids == Gids{0});
    u = resolve_user("", std::nullopt, std::nullopt);
    CHECK(u.uid == 0);
    CHECK(u.gid == 0);
    CHECK(u.home == "/");
    CHECK(u.additional_gids.empty());
}

TEST_CASE("a user with an empty group part is an error", "[image_spec][user]") {
    CHECK_THROWS_AS(resolve_user("nextjs:", kPasswd, kGroup), Error);
    CHECK_THROWS_WITH(resolve_user("nextjs:", kPasswd, kGroup), Catch::Contains("nextjs:"));
    CHECK_THROWS_AS(resolve_user("1001:", kPasswd, kGroup), Error);
}

// process_args

TEST_CASE("process args are the image's Entrypoint followed by its Cmd", "[image_spec][args]") {
    image::ImageConfig c;
    c.entrypoint = {"docker-entrypoint.sh"};
    c.cmd = {"node", "server.js"};
    CHECK(process_args(c, std::nullopt, {}) == Strings{"docker-entrypoint.sh", "node", "server.js"});

    image::ImageConfig cmd_only;
    cmd_only.cmd = {"sh", "-c", "echo hi"};
    CHECK(process_args(cmd_only, std::nullopt, {}) == Strings{"sh", "-c", "echo hi"});

    image::ImageConfig entry_only;
    entry_only.entrypoint = {"/app", "--serve"};
    CHECK(process_args(entry_only, std::nullopt, {}) == Strings{"/app", "--serve"});
}

TEST_CASE("an image Entrypoint of [\"\"] is none (a Containerfile's reset of the base's)", "[image_spec][args]") {
    image::ImageConfig c;
    c.entrypoint = {""};
    c.cmd = {"echo", "hello"};
    CHECK(process_args(c, std::nullopt, {}) == Strings{"echo", "hello"});
    CHECK(process_args(c, std::nullopt, {"id"}) == Strings{"id"});
    CHECK(process_args(c, std::string(R"([""])"), {"id"}) == Strings{"id"});
}

TEST_CASE("args after the image replace Cmd but keep Entrypoint", "[image_spec][args]") {
    image::ImageConfig c;
    c.entrypoint = {"docker-entrypoint.sh"};
    c.cmd = {"node", "server.js"};
    CHECK(process_args(c, std::nullopt, {"bash", "-l"}) == Strings{"docker-entrypoint.sh", "bash", "-l"});
}

TEST_CASE("--entrypoint replaces Entrypoint and drops Cmd", "[image_spec][args]") {
    image::ImageConfig c;
    c.entrypoint = {"docker-entrypoint.sh"};
    c.cmd = {"node", "server.js"};
    CHECK(process_args(c, std::string("/bin/sh"), {}) == Strings{"/bin/sh"});
    CHECK(process_args(c, std::string("/bin/sh"), {"-c", "id"}) == Strings{"/bin/sh", "-c", "id"});
}

TEST_CASE("an empty --entrypoint with args runs just the args", "[image_spec][args]") {
    image::ImageConfig c;
    c.entrypoint = {"docker-entrypoint.sh"};
    c.cmd = {"node", "server.js"};
    CHECK(process_args(c, std::string(""), {"id", "-u"}) == Strings{"id", "-u"});
}

TEST_CASE("no command at all is an error", "[image_spec][args]") {
    image::ImageConfig none;
    CHECK_THROWS_AS(process_args(none, std::nullopt, {}), Error);
    CHECK_THROWS_AS(process_args(none, std::string(""), {}), Error);
    image::ImageConfig c;
    c.entrypoint = {"docker-entrypoint.sh"};
    c.cmd = {"node"};
    CHECK_THROWS_WITH(process_args(c, std::string(""), {}),  // --entrypoint "" drops Cmd too
                      Catch::Contains("--entrypoint `` replaces the image's Entrypoint and Cmd"));
    // podman's JSON form: an argv.
    CHECK(process_args(c, std::string(R"(["/bin/sh", "-c", "echo $0"])"), {"arg"}) ==
          Strings{"/bin/sh", "-c", "echo $0", "arg"});
    CHECK(process_args(c, std::string("[ -x /app ]"), {}) == Strings{"[ -x /app ]"});  // no JSON: one program
}

// merge_env

TEST_CASE("the environment starts with PATH, HOSTNAME and HOME", "[image_spec][env]") {
    CHECK(merge_env({}, {}, "web", "/home/nextjs", {}) == Strings{kPath, "HOSTNAME=web", "HOME=/home/nextjs"});
}

TEST_CASE("the image's Env overrides the defaults in place and appends the rest", "[image_spec][env]") {
    auto env = merge_env({"NODE_ENV=production", "PATH=/app/bin:/usr/bin", "HOME=/srv"}, {}, "web", "/root", {});
    CHECK(env == Strings{"PATH=/app/bin:/usr/bin", "HOSTNAME=web", "HOME=/srv", "NODE_ENV=production"});
}

TEST_CASE("an image Env entry that is not NAME=VALUE is refused, naming it", "[image_spec][env]") {
    CHECK_THROWS_WITH(merge_env({"A=1", "NOEQUALS"}, {}, "h", "/", {}),
                      "image config: config.Env[1]: `NOEQUALS` is not NAME=VALUE");
    CHECK_THROWS_WITH(merge_env({"=x"}, {}, "h", "/", {}), Catch::Contains("config.Env[0]: `=x`"));
    // An entry no program could be given (the kernel's MAX_ARG_STRLEN, 128 KiB).
    CHECK_THROWS_WITH(merge_env({"A=1", "BIG=" + std::string(128 * 1024, 'x')}, {}, "h", "/", {}),
                      Catch::Contains("config.Env[1]: an entry of 131076 bytes, more than a program takes"));
}

TEST_CASE("an image Env of 200,000 entries merges in linear time, a later name in its place", "[image_spec][env]") {
    Strings image;
    for (int i = 0; i < 200'000; ++i) image.push_back("V" + std::to_string(i % 100'000) + "=" + std::to_string(i));
    auto env = merge_env(image, {"V5=flag"}, "h", "/", {});
    REQUIRE(env.size() == 3 + 100'000);
    CHECK(env[3] == "V0=100000");
    CHECK(env[3 + 5] == "V5=flag");
    CHECK(env.back() == "V99999=199999");
}

TEST_CASE("-e overrides the image's Env in place, in order", "[image_spec][env]") {
    auto env = merge_env({"A=1", "B=2", "C=3"}, {"B=two", "D=4", "A=one", "D=four"}, "h", "/", {});
    CHECK(env == Strings{kPath, "HOSTNAME=h", "HOME=/", "A=one", "B=two", "C=3", "D=four"});
    // A value may hold "=" and be empty.
    env = merge_env({}, {"X=a=b", "Y="}, "h", "/", {});
    CHECK(env == Strings{kPath, "HOSTNAME=h", "HOME=/", "X=a=b", "Y="});
}

TEST_CASE("-e without a valid name is refused, naming it (podman's)", "[image_spec][env]") {
    CHECK_NOTHROW(app::check_env_flags({"A=1", "B", "C=", "D=x=y"}));
    CHECK_THROWS_WITH(app::check_env_flags({"A=1", "=x"}), "-e `=x`: invalid variable name ``");
    CHECK_THROWS_WITH(app::check_env_flags({"A B=1"}), Catch::Contains("-e `A B=1`: invalid variable name `A B`"));
    CHECK_THROWS_WITH(app::check_env_flags({""}), Catch::Contains("invalid variable name"));
}

TEST_CASE("-e NAME takes the value from the host environment, or nothing when unset there", "[image_spec][env]") {
    Strings host = {"TOKEN=s3cret", "TOKENX=no", "EMPTY=", "SHELL=/bin/bash"};
    auto env = merge_env({"A=1"}, {"TOKEN", "MISSING", "EMPTY"}, "h", "/", host);
    CHECK(env == Strings{kPath, "HOSTNAME=h", "HOME=/", "A=1", "TOKEN=s3cret", "EMPTY="});
    // It replaces the image's value in place.
    env = merge_env({"TOKEN=image", "B=2"}, {"TOKEN"}, "h", "/", host);
    CHECK(env == Strings{kPath, "HOSTNAME=h", "HOME=/", "TOKEN=s3cret", "B=2"});
}

// parse_env_file

TEST_CASE("an env file skips comments and blank lines and handles CRLF", "[image_spec][env]") {
    std::string content =
        "# settings\n"
        "\n"
        "FOO=bar\r\n"
        "   \n"
        "  # indented comment\n"
        "PASSTHROUGH\n"
        "EMPTY=\n"
        "URL=http://x/?a=b\r\n"
        "SPACED=a b  \n";
    CHECK(parse_env_file(content, "app.env") ==
          Strings{"FOO=bar", "PASSTHROUGH", "EMPTY=", "URL=http://x/?a=b", "SPACED=a b  "});
    CHECK(parse_env_file("", "empty.env").empty());
    CHECK(parse_env_file("LAST=1", "nonl.env") == Strings{"LAST=1"});
}

TEST_CASE("an invalid name in an env file is an error naming FILE:LINE", "[image_spec][env]") {
    CHECK_THROWS_AS(parse_env_file("OK=1\nBAD NAME=x\n", "app.env"), Error);
    CHECK_THROWS_WITH(parse_env_file("OK=1\nBAD NAME=x\n", "app.env"), Catch::Contains("app.env:2"));
    CHECK_THROWS_WITH(parse_env_file("# c\n\nOK=1\n=value\n", "app.env"), Catch::Contains("app.env:4"));
    CHECK_THROWS_WITH(parse_env_file("A\tB=1\n", "tabs.env"), Catch::Contains("tabs.env:1"));
    CHECK_THROWS_WITH(parse_env_file(std::string("A=1\nB=x\0y\n", 10), "bin.env"), "bin.env:2: a NUL byte (not a text file?)");
}

TEST_CASE("an indented KEY=VALUE line in an env file is accepted, as Docker does", "[image_spec][env]") {
    CHECK(parse_env_file("  FOO=bar\n\tBAZ=1\n", "app.env") == Strings{"FOO=bar", "BAZ=1"});
}

// parse_volume

TEST_CASE("volumes: absolute and relative sources, ro and rw", "[image_spec][volume]") {
    auto v = parse_volume("/a:/b", "/home/me");
    CHECK(v.source == "/a");
    CHECK(v.destination == "/b");
    CHECK_FALSE(v.readonly);

    v = parse_volume("./rel:/b", "/home/me");
    CHECK(v.kind == VolumeSpec::Kind::Bind);
    CHECK(v.source == "/home/me/rel");
    CHECK(v.destination == "/b");

    v = parse_volume("/data:/srv/data:ro", "/");
    CHECK(v.source == "/data");
    CHECK(v.destination == "/srv/data");
    CHECK(v.readonly);

    v = parse_volume("/data:/srv/data:rw", "/");
    CHECK_FALSE(v.readonly);
    // The destination cleaned, as filepath.Clean: one place, one spelling.
    CHECK(parse_volume("/a://srv/./data/", "/").destination == "/srv/data");
    CHECK(parse_volume("/x/../y", "/").destination == "/y");
    CHECK_THROWS_WITH(parse_volume("/a:/x/..", "/"), Catch::Contains("destination can't be /"));
}

TEST_CASE("volumes: a name is a named volume, a lone destination an anonymous one", "[image_spec][volume]") {
    auto v = parse_volume("pgdata:/var/lib/pg:ro,nocopy", "/home/me");
    CHECK(v.kind == VolumeSpec::Kind::Named);
    CHECK(v.source == "pgdata");
    CHECK(v.destination == "/var/lib/pg");
    CHECK((v.readonly && !v.copy));
    CHECK(parse_volume("x:/y:copy", "/").copy);
    v = parse_volume("/data", "/home/me");
    CHECK(v.kind == VolumeSpec::Kind::Anonymous);
    CHECK(v.destination == "/data");
    CHECK(v.source.empty());
    CHECK(app::valid_volume_name("a.b_c-1"));
    CHECK(app::valid_volume_name("9"));
    CHECK_FALSE(app::valid_volume_name(""));
    CHECK_FALSE(app::valid_volume_name("_a"));
    CHECK_FALSE(app::valid_volume_name("a/b"));
    CHECK_FALSE(app::valid_volume_name(std::string(256, 'a')));
}

TEST_CASE("volumes: bind or rbind, propagation, [no]exec, [no]suid, [no]dev; each kind once", "[image_spec][volume]") {
    auto v = parse_volume("/a:/b:bind,rslave,noexec,nosuid,nodev,ro", "/");
    CHECK((!v.recursive && v.readonly));
    CHECK(v.options == std::vector<std::string>{"rslave", "noexec", "nosuid", "nodev"});
    CHECK(parse_volume("/a:/b", "/").recursive);
    CHECK(parse_volume("v:/b:exec,suid,dev,private", "/").options ==
          std::vector<std::string>{"exec", "suid", "dev", "private"});
    for (const char* text : {"/a:/b:ro,rw", "v:/b:copy,nocopy", "/a:/b:bind,rbind", "/a:/b:shared,rprivate",
                             "/a:/b:exec,noexec", "/a:/b:z,Z", "/a:/b:ro,ro"}) {
        INFO(text);
        CHECK_THROWS_WITH(parse_volume(text, "/"), Catch::Contains(text) && Catch::Contains(" only"));
    }
}

TEST_CASE("bad volumes are errors naming the volume", "[image_spec][volume]") {
    CHECK_THROWS_WITH(parse_volume("/a:/b:rx", "/"), Catch::Contains("/a:/b:rx"));
    CHECK_THROWS_WITH(parse_volume("/a:/b:rx", "/"), Catch::Contains("rx"));
    CHECK_THROWS_WITH(parse_volume("/a:b", "/"), Catch::Contains("absolute"));
    CHECK_THROWS_AS(parse_volume("/a:/b:ro:extra", "/"), Error);
    auto v = parse_volume("/data:/srv:ro,Z", "/");
    CHECK((v.readonly && v.relabel));
    v = parse_volume("/data:/srv:z", "/");
    CHECK((!v.readonly && v.relabel));
    CHECK_THROWS_WITH(parse_volume("/a:/b:ro,O", "/"), Catch::Contains("unknown option `O`"));
    CHECK_THROWS_WITH(parse_volume("a", "/"), Catch::Contains("destination must be absolute"));
    CHECK_THROWS_WITH(parse_volume("v:/", "/"), Catch::Contains("destination can't be /"));
    CHECK_THROWS_WITH(parse_volume("//", "/"), Catch::Contains("destination can't be /"));
    CHECK_THROWS_WITH(parse_volume("a b:/x", "/"), Catch::Contains("`a b` is neither a path"));
    CHECK_THROWS_WITH(parse_volume("-a:/x", "/"), Catch::Contains("neither a path"));
    CHECK_THROWS_WITH(parse_volume("/a:/b:nocopy", "/"), Catch::Contains("nocopy is for volumes"));
    CHECK_THROWS_AS(parse_volume(":/b", "/"), Error);
    CHECK_THROWS_AS(parse_volume("/a:", "/"), Error);
    CHECK_THROWS_AS(parse_volume("", "/"), Error);
}

// adjust_capabilities

TEST_CASE("--cap-add takes names with or without CAP_, in any case; the result is sorted", "[image_spec][caps]") {
    Strings base = {"CAP_NET_RAW", "CAP_CHOWN"};
    auto caps = adjust_capabilities(base, {"net_admin", "CAP_SYS_PTRACE"}, {});
    CHECK(caps == Strings{"CAP_CHOWN", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_PTRACE"});
    // Adding one already there keeps a single copy.
    CHECK(adjust_capabilities(base, {"Chown"}, {}) == Strings{"CAP_CHOWN", "CAP_NET_RAW"});
    CHECK(adjust_capabilities(base, {}, {}) == Strings{"CAP_CHOWN", "CAP_NET_RAW"});
}

TEST_CASE("--cap-drop removes from the default set; ALL empties it before additions", "[image_spec][caps]") {
    Strings base = {"CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID"};
    CHECK(adjust_capabilities(base, {}, {"net_raw"}) == Strings{"CAP_CHOWN", "CAP_SETUID"});
    CHECK(adjust_capabilities(base, {}, {"ALL"}).empty());
    CHECK(adjust_capabilities(base, {"net_bind_service"}, {"ALL"}) == Strings{"CAP_NET_BIND_SERVICE"});
    CHECK(adjust_capabilities(base, {"CAP_CHOWN"}, {"all"}) == Strings{"CAP_CHOWN"});
    // Dropping one that is not there is fine.
    CHECK(adjust_capabilities(base, {}, {"SYS_ADMIN"}) == base);
}

TEST_CASE("--cap-add ALL adds every capability", "[image_spec][caps]") {
    auto caps = adjust_capabilities({"CAP_CHOWN"}, {"ALL"}, {});
    CHECK(std::is_sorted(caps.begin(), caps.end()));
    CHECK(std::adjacent_find(caps.begin(), caps.end()) == caps.end());
    CHECK(std::count(caps.begin(), caps.end(), "CAP_SYS_ADMIN") == 1);
    CHECK(std::count(caps.begin(), caps.end(), "CAP_CHOWN") == 1);
    CHECK(std::count(caps.begin(), caps.end(), "CAP_NET_ADMIN") == 1);
    CHECK(caps.size() >= 38);  // Linux 3.x already had 37 (0..36), 4.x 38
    for (const auto& c : caps) CHECK(c.rfind("CAP_", 0) == 0);
}

TEST_CASE("--cap-add ALL with --cap-drop keeps every capability but the dropped ones", "[image_spec][caps]") {
    auto caps = adjust_capabilities({"CAP_CHOWN"}, {"ALL"}, {"MKNOD", "net_raw"});
    CHECK(std::count(caps.begin(), caps.end(), "CAP_SYS_ADMIN") == 1);
    CHECK(std::count(caps.begin(), caps.end(), "CAP_MKNOD") == 0);
    CHECK(std::count(caps.begin(), caps.end(), "CAP_NET_RAW") == 0);
}

TEST_CASE("durations that overflow or have two dots are errors", "[image_spec][duration]") {
    for (const char* text : {"10000000000", "18446744073", "3000000h", "99999999999h", "1.2.3s"})
        CHECK_THROWS_AS(parse_duration(text, "--health-interval"), Error);
}

TEST_CASE("passwd and group files with CRLF line endings", "[image_spec][user]") {
    auto u = resolve_user("app", std::string("app:x:1001:1001::/home/app:/bin/sh\r\n"), std::string("g:x:7:app\r\n"));
    CHECK(u.uid == 1001);
    CHECK(u.home == "/home/app");
    CHECK(u.additional_gids == std::vector<uint32_t>{1001, 7});
}

TEST_CASE("an unknown capability is an error naming it", "[image_spec][caps]") {
    CHECK_THROWS_AS(adjust_capabilities({}, {"CAP_FLY"}, {}), Error);
    CHECK_THROWS_WITH(adjust_capabilities({}, {"CAP_FLY"}, {}), Catch::Contains("CAP_FLY"));
    CHECK_THROWS_WITH(adjust_capabilities({}, {}, {"teleport"}), Catch::Contains("teleport"));
    CHECK_THROWS_AS(adjust_capabilities({}, {"12"}, {}), Error);  // numbers are not names
    CHECK_THROWS_AS(adjust_capabilities({}, {""}, {}), Error);
}

// parse_duration

TEST_CASE("durations in Go syntax, and bare numbers as seconds", "[image_spec][duration]") {
    constexpr int64_t s = 1'000'000'000;
    CHECK(parse_duration("30s", "--health-interval") == 30 * s);
    CHECK(parse_duration("1m30s", "--health-interval") == 90 * s);
    CHECK(parse_duration("500ms", "--health-interval") == 500'000'000);
    CHECK(parse_duration("1h", "--health-interval") == 3600 * s);
    CHECK(parse_duration("1.5s", "--health-interval") == 1'500'000'000);
    CHECK(parse_duration("2", "--health-interval") == 2 * s);
    CHECK(parse_duration("0", "--health-interval") == 0);
    CHECK(parse_duration("0s", "--health-interval") == 0);
    CHECK(parse_duration("1h2m3s", "--health-interval") == 3723 * s);
    CHECK(parse_duration("250us", "--health-interval") == 250'000);
    CHECK(parse_duration("7ns", "--health-interval") == 7);
}

TEST_CASE("bad durations are errors naming the flag", "[image_spec][duration]") {
    for (const char* bad : {"", "abc", "5x", "-1s", "s", "1m30", "1 s", "+1s", "1S"}) {
        INFO("duration " << '"' << bad << '"');
        CHECK_THROWS_AS(parse_duration(bad, "--health-timeout"), Error);
        CHECK_THROWS_WITH(parse_duration(bad, "--health-timeout"), Catch::Contains("--health-timeout"));
    }
}

// parse_port (app/slirp.hpp)

TEST_CASE("-p: [IP:]HOST:CONTAINER[/PROTO]", "[slirp]") {
    auto p = crunlite::app::parse_port("8080:3000");
    CHECK((p.host == 8080 && p.container == 3000 && p.proto == "tcp" && p.host_addr == "0.0.0.0"));
    p = crunlite::app::parse_port("127.0.0.1:53:5353/udp");
    CHECK((p.host == 53 && p.container == 5353 && p.proto == "udp" && p.host_addr == "127.0.0.1"));
    for (const char* bad : {"", "0:80", "8080:65536", "a:b", "1:2:3:4", "80:80/sctp", "80:80/", "0",
                            "localhost:80:80", "::1:80:80", "[::1]:80", "[::1:80:80", "[1.2.3.4]:80:80", "1.2.3:80:80"})
        CHECK_THROWS_AS(crunlite::app::parse_port(bad), crunlite::Error);
    CHECK(crunlite::app::parse_port("8080:80/TCP").proto == "tcp");  // any case, as podman
    CHECK(crunlite::app::parse_port("53:53/Udp").proto == "udp");
}

namespace {

// Port maps as "ADDR|HOST|CONTAINER/PROTO".
Strings text(const std::vector<crunlite::app::PortMap>& v) {
    Strings out;
    for (const auto& p : v)
        out.push_back(p.host_addr + "|" + std::to_string(p.host) + "|" + std::to_string(p.container) + "/" + p.proto);
    return out;
}

}  // namespace

TEST_CASE("-p ranges as Docker's: one port map per port", "[slirp]") {
    using crunlite::app::parse_ports;
    CHECK(text(parse_ports("8080:80")) == Strings{"0.0.0.0|8080|80/tcp"});
    CHECK(text(parse_ports("18094-18095:80-81")) == Strings{"0.0.0.0|18094|80/tcp", "0.0.0.0|18095|81/tcp"});
    CHECK(text(parse_ports("127.0.0.1:9000-9001:90-91/UDP")) == Strings{"127.0.0.1|9000|90/udp", "127.0.0.1|9001|91/udp"});
    CHECK(text(parse_ports("[::1]:9000-9001:90-91")) == Strings{"::1|9000|90/tcp", "::1|9001|91/tcp"});
    CHECK(text(parse_ports("3000-3001")) == Strings{"0.0.0.0|0|3000/tcp", "0.0.0.0|0|3001/tcp"});  // free host ports
    CHECK(text(parse_ports("127.0.0.1::3000-3001")) == Strings{"127.0.0.1|0|3000/tcp", "127.0.0.1|0|3001/tcp"});
    CHECK(text(parse_ports("[::1]::70-71")) == Strings{"::1|0|70/tcp", "::1|0|71/tcp"});
    CHECK_THROWS_WITH(parse_ports("8000-8002:80-81"), Catch::Contains("the host and container ranges differ in length (3 and 2 ports)"));
    CHECK_THROWS_WITH(parse_ports("8000:80-81"), Catch::Contains("differ in length (1 and 2 ports)"));
    CHECK_THROWS_WITH(parse_ports("81-80"), Catch::Contains("-p `81-80`: invalid port range `81-80`"));
    CHECK_THROWS_WITH(parse_ports("0-2"), Catch::Contains("invalid port range"));
    CHECK_THROWS_WITH(parse_ports("80-a"), Catch::Contains("invalid port range"));
    // Errors name the flag as given, not one port of it.
    CHECK_THROWS_WITH(parse_ports("8000-8001:80-81/sctp"), "-p `8000-8001:80-81/sctp`: protocol must be tcp or udp");
    CHECK_THROWS_WITH(parse_ports("[::1]:80-81"), Catch::Contains("-p `[::1]:80-81`: want [IP:][HOST1-HOST2:]C1-C2"));
    CHECK_THROWS_WITH(parse_ports("8000-8001:"), Catch::Contains("want [IP:][HOST1-HOST2:]C1-C2"));
    CHECK_THROWS_WITH(parse_ports("1-65535"), Catch::Contains("a range of at most 1024 ports"));
    CHECK(parse_ports("1000-2023").size() == 1024);
}

TEST_CASE("-P: a free host port for each exposed port no -p maps", "[slirp]") {
    using crunlite::app::publish_all;
    auto published = crunlite::app::parse_ports("127.0.0.1:8080:80");
    CHECK(text(publish_all({"80/tcp", "80/udp", "3000", "7000-7001/tcp", "9/sctp", "3000/tcp"}, published)) ==
          Strings{"0.0.0.0|0|80/udp", "0.0.0.0|0|3000/tcp", "0.0.0.0|0|7000/tcp", "0.0.0.0|0|7001/tcp"});
    CHECK(publish_all({}, {}).empty());
    CHECK_THROWS_WITH(publish_all({"1-2000"}, {}), "-P: more than 1024 exposed ports");
    CHECK_THROWS_WITH(publish_all({"80/icmp"}, {}), Catch::Contains("-P: exposed port `80/icmp`"));
}

TEST_CASE("-p without a host port asks for a free one", "[slirp]") {
    auto p = crunlite::app::parse_port("3000");
    CHECK((p.host == 0 && p.container == 3000 && p.proto == "tcp" && p.host_addr == "0.0.0.0"));
    p = crunlite::app::parse_port("127.0.0.1::53/udp");
    CHECK((p.host == 0 && p.container == 53 && p.proto == "udp" && p.host_addr == "127.0.0.1"));
    CHECK(crunlite::app::port_flag(p) == "-p 127.0.0.1::53/udp");
    CHECK(crunlite::app::port_flag(crunlite::app::parse_port("3000")) == "-p 3000");
    p = crunlite::app::parse_port(":8080");  // podman's
    CHECK((p.host == 0 && p.container == 8080 && p.host_addr == "0.0.0.0"));
    CHECK_THROWS_WITH(crunlite::app::parse_port("x:8080"), Catch::Contains("invalid port `x`"));
}

TEST_CASE("-p with an IPv6 address in brackets", "[slirp]") {
    auto p = crunlite::app::parse_port("[::1]:8080:3000");
    CHECK((p.host == 8080 && p.container == 3000 && p.host_addr == "::1"));
    p = crunlite::app::parse_port("[fd00::2]::3000/udp");
    CHECK((p.host == 0 && p.container == 3000 && p.host_addr == "fd00::2" && p.proto == "udp"));
    CHECK(crunlite::app::port_flag(p) == "-p [fd00::2]::3000/udp");
    p.host = 49153;
    CHECK(crunlite::app::format_port(p) == "3000/udp -> [fd00::2]:49153");
}

TEST_CASE("port lines in Docker's format", "[slirp]") {
    auto p = crunlite::app::parse_port("8080:3000");
    CHECK(crunlite::app::format_port(p) == "3000/tcp -> 0.0.0.0:8080");
    CHECK(crunlite::app::port_flag(p) == "-p 8080:3000");
}

// pasta_args (app/pasta.hpp)

TEST_CASE("pasta: ports become -t/-u specs, the rest is closed", "[pasta]") {
    using crunlite::app::parse_port;
    std::vector<crunlite::app::PortMap> ports = {parse_port("8080:3000"), parse_port("127.0.0.1:53:5353/udp"),
                                                     parse_port("[::1]:8443:443")};
    auto args = crunlite::app::pasta_args(ports, 3, 4, 5, false);
    auto has = [&](const std::string& a, const std::string& b) {
        for (size_t i = 0; i + 1 < args.size(); ++i)
            if (args[i] == a && args[i + 1] == b) return true;
        return false;
    };
    CHECK(has("-t", "8080:3000"));  // 0.0.0.0: no address, pasta binds IPv6 and IPv4
    CHECK(has("-u", "127.0.0.1/53:5353"));
    CHECK(has("-t", "::1/8443:443"));
    CHECK(has("--netns", "/proc/self/fd/3"));
    CHECK(has("--userns", "/proc/self/fd/4"));
    CHECK(has("-P", "/proc/self/fd/5"));
    CHECK(has("-T", "none"));  // nothing from the container to the host's ports
    CHECK(has("-U", "none"));
    CHECK(has("--dns-forward", "169.254.1.1"));
    CHECK(std::find(args.begin(), args.end(), "--no-map-gw") != args.end());
    CHECK(std::find(args.begin(), args.end(), "--config-net") != args.end());
    CHECK(std::find(args.begin(), args.end(), "--runas") == args.end());
    CHECK(!has("-t", "none"));
    CHECK(!has("-u", "none"));
}

TEST_CASE("pasta: no ports means none forwarded; as root it keeps uid 0", "[pasta]") {
    auto args = crunlite::app::pasta_args({}, 3, -1, 5, true);
    auto has = [&](const std::string& a, const std::string& b) {
        for (size_t i = 0; i + 1 < args.size(); ++i)
            if (args[i] == a && args[i + 1] == b) return true;
        return false;
    };
    CHECK(has("-t", "none"));  // pasta's default would forward every port bound in the namespace
    CHECK(has("-u", "none"));
    CHECK(has("--runas", "0:0"));
    CHECK(std::find(args.begin(), args.end(), "--userns") == args.end());
}
