#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/app/health.hpp"

using namespace crunlite;
using app::health_config;
using app::health_cmd_argv;
using app::check_health_overrides;
using app::HealthConfig;
using app::HealthOverrides;
using app::HealthState;
using app::ProbeResult;
using app::record_probe;

namespace {

using Strings = std::vector<std::string>;
constexpr int64_t kSecond = 1'000'000'000;

image::Healthcheck check_of(Strings test) {
    image::Healthcheck h;
    h.test = std::move(test);
    return h;
}

ProbeResult probe(int exit_code, std::string output = "") {
    ProbeResult r;
    r.start = "2024-05-01T10:00:00Z";
    r.end = "2024-05-01T10:00:01Z";
    r.exit_code = exit_code;
    r.output = std::move(output);
    return r;
}

HealthConfig config_with_retries(int retries) {
    HealthConfig c;
    c.test = {"/bin/true"};
    c.retries = retries;
    c.start_period_ns = 60 * kSecond;
    return c;
}

}  // namespace

// health_config

TEST_CASE("an image healthcheck with zero fields gets Docker's defaults", "[health]") {
    auto c = health_config(check_of({"CMD", "curl", "-f", "http://localhost/"}), {});
    REQUIRE(c);
    CHECK(c->test == Strings{"curl", "-f", "http://localhost/"});
    CHECK(c->interval_ns == 30 * kSecond);
    CHECK(c->timeout_ns == 30 * kSecond);
    CHECK(c->start_period_ns == 0);
    CHECK(c->start_interval_ns == 5 * kSecond);
    CHECK(c->retries == 3);
}

TEST_CASE("the image's non-zero healthcheck fields are kept", "[health]") {
    image::Healthcheck h = check_of({"CMD", "/healthz"});
    h.interval_ns = 10 * kSecond;
    h.timeout_ns = 2 * kSecond;
    h.start_period_ns = 40 * kSecond;
    h.start_interval_ns = 1 * kSecond;
    h.retries = 7;
    auto c = health_config(h, {});
    REQUIRE(c);
    CHECK(c->test == Strings{"/healthz"});
    CHECK(c->interval_ns == 10 * kSecond);
    CHECK(c->timeout_ns == 2 * kSecond);
    CHECK(c->start_period_ns == 40 * kSecond);
    CHECK(c->start_interval_ns == 1 * kSecond);
    CHECK(c->retries == 7);
}

TEST_CASE("an interval of 0 (--health-interval disable) is no timer, never stale; the image's 0 is the default",
          "[health]") {
    image::Healthcheck h = check_of({"CMD", "/healthz"});
    h.interval_ns = 0;
    auto c = health_config(h, {});
    REQUIRE(c);
    CHECK(c->interval_ns == 30 * kSecond);
    HealthOverrides o;
    o.interval_ns = 0;
    c = health_config(h, o);
    REQUIRE(c);
    CHECK(c->interval_ns == 0);
    HealthState st;
    st.log.push_back({"2020-01-01T00:00:00Z", "2020-01-01T00:00:01Z", 0, ""});
    CHECK_FALSE(health_stale(st, *c, 0, 4'000'000'000'000'000'000));  // a century later
    o.interval_ns = 500'000;  // below 1ms
    CHECK_THROWS_WITH(health_config(h, o), Catch::Contains("--health-interval: must be at least 1ms (or 0: disabled)"));
    // The image's, named with what runs it anyway.
    h.timeout_ns = 1;
    CHECK_THROWS_WITH(health_config(h, {}), Catch::Contains("the image's config.Healthcheck.Timeout: must be at least "
                                                            "1ms (--no-healthcheck runs the image without it"));
    CHECK_THROWS_WITH(health_config(check_of({"CMD"}), {}),
                      Catch::Contains("CMD needs a command (--no-healthcheck runs the image without it"));
}

TEST_CASE("CMD-SHELL runs through /bin/sh -c; CMD is exec'd without its marker", "[health]") {
    auto shell = health_config(check_of({"CMD-SHELL", "curl -f http://localhost/ || exit 1"}), {});
    REQUIRE(shell);
    CHECK(shell->test == Strings{"/bin/sh", "-c", "curl -f http://localhost/ || exit 1"});
    auto exec = health_config(check_of({"CMD", "pg_isready", "-U", "postgres"}), {});
    REQUIRE(exec);
    CHECK(exec->test == Strings{"pg_isready", "-U", "postgres"});
    // buildah's `config --healthcheck 'CMD-SHELL test -f /tmp/ready'` stores the command split: joined, as podman.
    auto split = health_config(check_of({"CMD-SHELL", "test", "-f", "/tmp/ready"}), {});
    REQUIRE(split);
    CHECK(split->test == Strings{"/bin/sh", "-c", "test -f /tmp/ready"});
}

TEST_CASE("NONE, no healthcheck and --no-healthcheck mean no healthcheck", "[health]") {
    CHECK_FALSE(health_config(check_of({"NONE"}), {}));
    CHECK_FALSE(health_config(std::nullopt, {}));
    CHECK_FALSE(health_config(check_of({}), {}));
    HealthOverrides off;
    off.disable = true;
    CHECK_FALSE(health_config(check_of({"CMD", "/healthz"}), off));
    off.cmd = "true";  // --no-healthcheck wins over --health-cmd
    CHECK_FALSE(health_config(std::nullopt, off));
}

TEST_CASE("--health-* flags replace the image's fields; --health-cmd is CMD-SHELL", "[health]") {
    image::Healthcheck h = check_of({"CMD", "/healthz"});
    h.interval_ns = 10 * kSecond;
    h.retries = 7;
    HealthOverrides o;
    o.cmd = "wget -q -O- http://localhost:3000/ready";
    o.interval_ns = 5 * kSecond;
    o.timeout_ns = 3 * kSecond;
    o.start_period_ns = 20 * kSecond;
    o.start_interval_ns = 500'000'000;
    o.retries = 2;
    auto c = health_config(h, o);
    REQUIRE(c);
    CHECK(c->test == Strings{"/bin/sh", "-c", "wget -q -O- http://localhost:3000/ready"});
    CHECK(c->interval_ns == 5 * kSecond);
    CHECK(c->timeout_ns == 3 * kSecond);
    CHECK(c->start_period_ns == 20 * kSecond);
    CHECK(c->start_interval_ns == 500'000'000);
    CHECK(c->retries == 2);

    // Only the flags given change anything.
    HealthOverrides some;
    some.timeout_ns = 4 * kSecond;
    c = health_config(h, some);
    REQUIRE(c);
    CHECK(c->test == Strings{"/healthz"});
    CHECK(c->interval_ns == 10 * kSecond);
    CHECK(c->timeout_ns == 4 * kSecond);
    CHECK(c->retries == 7);
}

TEST_CASE("--health-cmd takes podman's forms: JSON arrays, CMD, CMD-SHELL, none", "[health]") {
    auto argv = [](const std::string& text) { return health_cmd_argv(text, "--health-cmd"); };
    Strings curl{"curl", "-f", "http://localhost/"};
    CHECK(argv("curl -f http://localhost/") == Strings{"/bin/sh", "-c", "curl -f http://localhost/"});
    CHECK(argv(R"(["CMD", "curl", "-f", "http://localhost/"])") == curl);
    CHECK(argv(R"(["cmd","curl","-f","http://localhost/"])") == curl);
    CHECK(argv(R"( ["curl", "-f", "http://localhost/"] )") == curl);  // an argv: CMD
    CHECK(argv(R"(["CMD-SHELL", "curl -f x || exit 1"])") == Strings{"/bin/sh", "-c", "curl -f x || exit 1"});
    CHECK(argv(R"(["test -f /ready"])") == Strings{"/bin/sh", "-c", "test -f /ready"});  // one string: shell
    CHECK(argv("CMD curl  -f\thttp://localhost/\n") == curl);  // split at blanks, tabs and newlines
    CHECK(argv("CMD curl -f http://localhost/") == curl);
    CHECK(argv("CMD-SHELL curl -f x || exit 1") == Strings{"/bin/sh", "-c", "curl -f x || exit 1"});
    // Not JSON: a shell command, brackets and all.
    CHECK(argv("[ -f /ready ]") == Strings{"/bin/sh", "-c", "[ -f /ready ]"});
    CHECK(argv("[1, 2]") == Strings{"/bin/sh", "-c", "[1, 2]"});
    CHECK(argv("CMDX") == Strings{"/bin/sh", "-c", "CMDX"});
    CHECK(argv("none").empty());
    CHECK(argv("NONE").empty());
    CHECK(argv(R"(["NONE"])").empty());
    CHECK_THROWS_WITH(argv("[]"), Catch::Contains("--health-cmd `[]`: an empty command"));
    CHECK_THROWS_WITH(argv(R"(["CMD"])"), Catch::Contains("CMD needs a command"));
    CHECK_THROWS_WITH(argv("CMD"), Catch::Contains("--health-cmd `CMD`: CMD needs a command"));
    CHECK(argv(R"(["CMD-SHELL", "a", "b"])") == Strings{"/bin/sh", "-c", "a b"});  // joined, as podman
    CHECK_THROWS_WITH(argv("CMD-SHELL"), Catch::Contains("CMD-SHELL needs a command"));
    CHECK_THROWS_WITH(argv(R"(["NONE", "x"])"), Catch::Contains("NONE takes nothing after it"));
    CHECK_THROWS_WITH(argv("none x"), Catch::Contains("NONE takes nothing after it"));
    for (const char* blank : {" ", "CMD-SHELL  ", R"([""])", R"(["CMD", " "])"})
        CHECK_THROWS_WITH(argv(blank), Catch::Contains("an empty command"));

    HealthOverrides o;
    o.cmd = R"(["CMD", "curl", "-f", "http://localhost/"])";
    auto c = health_config(std::nullopt, o);
    REQUIRE(c);
    CHECK(c->test == curl);
    o.startup_cmd = R"(["test", "-f", "/ready"])";
    c = health_config(std::nullopt, o);
    REQUIRE(c);
    REQUIRE(c->startup);
    CHECK(c->startup->test == Strings{"test", "-f", "/ready"});
    o.cmd = "[]";
    CHECK_THROWS_WITH(check_health_overrides(o, "run"), Catch::Contains("run: --health-cmd `[]`: an empty command"));
    o.cmd = "true";
    o.startup_cmd = "none";
    CHECK_THROWS_WITH(check_health_overrides(o, "run"), Catch::Contains("--health-startup-cmd: a command is required"));
}

TEST_CASE("--health-cmd gives a healthcheck to an image without one, or with NONE", "[health]") {
    HealthOverrides o;
    o.cmd = "test -f /tmp/ready";
    auto c = health_config(std::nullopt, o);
    REQUIRE(c);
    CHECK(c->test == Strings{"/bin/sh", "-c", "test -f /tmp/ready"});
    CHECK(c->interval_ns == 30 * kSecond);
    CHECK(c->retries == 3);
    c = health_config(check_of({"NONE"}), o);
    REQUIRE(c);
    CHECK(c->test == Strings{"/bin/sh", "-c", "test -f /tmp/ready"});
}

TEST_CASE("malformed healthchecks are errors", "[health]") {
    CHECK_THROWS_WITH(health_config(check_of({"CMD"}), {}), Catch::Contains("Healthcheck.Test"));
    CHECK_THROWS_WITH(health_config(check_of({"CMD-SHELL"}), {}), Catch::Contains("Healthcheck.Test"));
    CHECK_THROWS_WITH(health_config(check_of({"curl", "-f", "x"}), {}), Catch::Contains("curl"));
    CHECK_THROWS_AS(health_config(check_of({"cmd", "x"}), {}), Error);  // the form is case-sensitive

    HealthOverrides zero_retries;
    zero_retries.retries = 0;
    CHECK_THROWS_AS(health_config(check_of({"CMD", "x"}), zero_retries), Error);
    HealthOverrides tiny_interval;
    tiny_interval.interval_ns = 1000;  // 1us: below the 1ms minimum
    CHECK_THROWS_AS(health_config(check_of({"CMD", "x"}), tiny_interval), Error);
    HealthOverrides tiny_timeout;
    tiny_timeout.timeout_ns = 0;
    CHECK_THROWS_AS(health_config(check_of({"CMD", "x"}), tiny_timeout), Error);
}

// record_probe

TEST_CASE("a successful probe makes the container healthy and resets the streak", "[health]") {
    auto c = config_with_retries(3);
    HealthState s;
    CHECK(s.status == "starting");
    s.failing_streak = 2;
    record_probe(s, c, probe(0, "ok"), false);
    CHECK(s.status == "healthy");
    CHECK(s.failing_streak == 0);
    REQUIRE(s.log.size() == 1);
    CHECK(s.log.back().output == "ok");
    CHECK(s.log.back().exit_code == 0);
}

TEST_CASE("failures inside the start period do not count while starting", "[health]") {
    auto c = config_with_retries(1);
    HealthState s;
    for (int i = 0; i < 4; ++i) record_probe(s, c, probe(1), true);
    CHECK(s.status == "starting");
    CHECK(s.failing_streak == 0);
    CHECK(s.log.size() == 4);  // logged all the same

    // Past the start period the first failure counts.
    record_probe(s, c, probe(1), false);
    CHECK(s.status == "unhealthy");
    CHECK(s.failing_streak == 1);
}

TEST_CASE("after a success, failures inside the start period count", "[health]") {
    auto c = config_with_retries(2);
    HealthState s;
    record_probe(s, c, probe(0), true);
    CHECK(s.status == "healthy");
    record_probe(s, c, probe(1), true);
    CHECK(s.status == "healthy");
    CHECK(s.failing_streak == 1);
    record_probe(s, c, probe(-1, "Health check exceeded timeout (30s)"), true);
    CHECK(s.status == "unhealthy");
    CHECK(s.failing_streak == 2);
}

TEST_CASE("`retries` consecutive failures make the container unhealthy; one success heals it", "[health]") {
    auto c = config_with_retries(3);
    HealthState s;
    record_probe(s, c, probe(0), false);
    record_probe(s, c, probe(1), false);
    record_probe(s, c, probe(2), false);
    CHECK(s.status == "healthy");
    CHECK(s.failing_streak == 2);
    record_probe(s, c, probe(0), false);  // breaks the streak
    CHECK(s.failing_streak == 0);
    record_probe(s, c, probe(1), false);
    record_probe(s, c, probe(1), false);
    CHECK(s.status == "healthy");
    record_probe(s, c, probe(137), false);
    CHECK(s.status == "unhealthy");
    CHECK(s.failing_streak == 3);
    record_probe(s, c, probe(1), false);  // stays unhealthy, streak grows
    CHECK(s.status == "unhealthy");
    CHECK(s.failing_streak == 4);
    record_probe(s, c, probe(0), false);
    CHECK(s.status == "healthy");
    CHECK(s.failing_streak == 0);
}

TEST_CASE("the probe log keeps only the last 5 results", "[health]") {
    auto c = config_with_retries(100);
    HealthState s;
    for (int i = 1; i <= 8; ++i) record_probe(s, c, probe(i, "probe " + std::to_string(i)), false);
    REQUIRE(s.log.size() == 5);
    CHECK(s.log.front().output == "probe 4");
    CHECK(s.log.front().exit_code == 4);
    CHECK(s.log.back().output == "probe 8");
    CHECK(s.failing_streak == 8);
}

// next_probe_delay

TEST_CASE("probes come every start interval while starting in the start period, else every interval", "[health]") {
    HealthConfig c;
    c.interval_ns = 30 * kSecond;
    c.start_interval_ns = 2 * kSecond;
    c.start_period_ns = 60 * kSecond;
    HealthState s;
    CHECK(app::next_probe_delay(s, c, true) == 2 * kSecond);
    CHECK(app::next_probe_delay(s, c, false) == 30 * kSecond);
    s.status = "healthy";
    CHECK(app::next_probe_delay(s, c, true) == 30 * kSecond);
    s.status = "unhealthy";
    CHECK(app::next_probe_delay(s, c, true) == 30 * kSecond);
}

// health.json and the stored config

TEST_CASE("health state survives health_json and parse_health_json", "[health]") {
    HealthState s;
    s.status = "unhealthy";
    s.failing_streak = 4;
    s.log.push_back(probe(0, "ok\n"));
    s.log.push_back(probe(1, "line \"one\"\nline\ttwo \\ /path \x01"));
    s.log.push_back(probe(-1, "Health check exceeded timeout (30s)"));
    s.log.push_back(probe(2, ""));
    auto back = app::parse_health_json(app::health_json(s), "health.json");
    CHECK(back.status == s.status);
    CHECK(back.failing_streak == s.failing_streak);
    REQUIRE(back.log.size() == s.log.size());
    for (size_t i = 0; i < s.log.size(); ++i) {
        CHECK(back.log[i].start == s.log[i].start);
        CHECK(back.log[i].end == s.log[i].end);
        CHECK(back.log[i].exit_code == s.log[i].exit_code);
        CHECK(back.log[i].output == s.log[i].output);
    }

    HealthState fresh;
    auto empty = app::parse_health_json(app::health_json(fresh), "health.json");
    CHECK(empty.status == "starting");
    CHECK(empty.failing_streak == 0);
    CHECK(empty.log.empty());
}

TEST_CASE("probe output that is not UTF-8 still gives a health.json that parses", "[health]") {
    // The output is cut at 4096 bytes, possibly inside a character.
    HealthState s;
    s.log.push_back(probe(1, "caf\xc3"));
    s.log.push_back(probe(1, "\xff\xfe binary"));
    HealthState back;
    REQUIRE_NOTHROW(back = app::parse_health_json(app::health_json(s), "health.json"));
    REQUIRE(back.log.size() == 2);
    CHECK(back.log[0].output.rfind("caf", 0) == 0);
    CHECK(back.log[1].output.find(" binary") != std::string::npos);
}

TEST_CASE("a bad health.json is an error naming its source", "[health]") {
    CHECK_THROWS_WITH(app::parse_health_json("{", "/b/health.json"), Catch::Contains("/b/health.json"));
    CHECK_THROWS_WITH(app::parse_health_json(R"({"Status":"healthy","Log":[]})", "/b/health.json"),
                      Catch::Contains("FailingStreak"));
}

TEST_CASE("the health config survives health_config_json and parse_health_config", "[health]") {
    HealthConfig c;
    c.test = {"/bin/sh", "-c", "curl -f \"http://localhost:8080/\" || exit 1"};
    c.interval_ns = 15 * kSecond;
    c.timeout_ns = 2'500'000'000;
    c.start_period_ns = 120 * kSecond;
    c.start_interval_ns = 750'000'000;
    c.retries = 9;
    json::Document doc = json::parse(app::health_config_json(c), "health-config");
    HealthConfig back = app::parse_health_config(doc.root());
    CHECK(back.test == c.test);
    CHECK(back.interval_ns == c.interval_ns);
    CHECK(back.timeout_ns == c.timeout_ns);
    CHECK(back.start_period_ns == c.start_period_ns);
    CHECK(back.start_interval_ns == c.start_interval_ns);
    CHECK(back.retries == c.retries);

    // The defaults too, and a config from health_config.
    auto from_image = health_config(check_of({"CMD", "/healthz", "--quick"}), {});
    REQUIRE(from_image);
    json::Document doc2 = json::parse(app::health_config_json(*from_image), "health-config");
    HealthConfig back2 = app::parse_health_config(doc2.root());
    CHECK(back2.test == from_image->test);
    CHECK(back2.interval_ns == 30 * kSecond);
    CHECK(back2.start_interval_ns == 5 * kSecond);
    CHECK(back2.retries == 3);
}

TEST_CASE("a stored health config with a missing or mistyped field is an error", "[health]") {
    json::Document missing = json::parse(R"({"Test":["x"],"Interval":1,"Timeout":1,"StartPeriod":0,"StartInterval":1})",
                                         "cfg");
    CHECK_THROWS_WITH(app::parse_health_config(missing.root()), Catch::Contains("Retries"));
    json::Document mistyped = json::parse(
        R"({"Test":"x","Interval":1,"Timeout":1,"StartPeriod":0,"StartInterval":1,"Retries":3})", "cfg");
    CHECK_THROWS_WITH(app::parse_health_config(mistyped.root()), Catch::Contains("Test"));
}

// http and tcp probes: flags, labels, URLs, ports

TEST_CASE("probe URLs must be http(s) to the container itself", "[health]") {
    for (const char* ok : {"http://localhost:3000/health", "https://localhost/", "http://127.0.0.1", "http://[::1]:8080/a?b=c",
                           "HTTP://LocalHost:1/x#frag", "http://localhost:65535/%20space"})
        CHECK_NOTHROW(app::check_probe_url(ok, "--health-http"));
    auto refused = [](const char* url, const char* why) {
        CHECK_THROWS_WITH(app::check_probe_url(url, "--health-http"),
                          Catch::StartsWith("--health-http: ") && Catch::Contains(why));
    };
    refused("", "a URL is required");
    refused("localhost:3000/health", "want http://HOST[:PORT]/PATH");
    refused("ftp://localhost/", "the scheme must be http or https");
    refused("http://example.com/", "the host must be the container itself");
    refused("http://10.0.2.100:3000/", "`10.0.2.100`");
    refused("http://localhost.example.com/", "the host must be");
    refused("http://user:pw@localhost/", "user name or password");
    refused("http://localhost@example.com/", "user name or password");
    refused("http://localhost:0/", "port: want a port number 1-65535, got `0`");
    refused("http://localhost:65536/", "port");
    refused("http://localhost:/", "port");
    refused("http://localhost:80x/", "port");
    refused("http://[::1/", "unterminated");
    refused("http://[::1]x/", "after the host");
    refused("http://localhost/a b", "percent-encoded");
    refused("http://localhost/\x01", "percent-encoded");
    CHECK_THROWS_WITH(app::check_probe_url("http://example.com/", "image label x"),
                      Catch::StartsWith("image label x: `http://example.com/`"));
}

TEST_CASE("probe ports are 1-65535", "[health]") {
    CHECK(app::parse_probe_port("1", "--health-tcp") == 1);
    CHECK(app::parse_probe_port("65535", "--health-tcp") == 65535);
    for (const char* bad : {"0", "65536", "-1", "", "80a", "+80", " 80", "http"})
        CHECK_THROWS_WITH(app::parse_probe_port(bad, "--health-tcp"),
                          Catch::StartsWith("--health-tcp: want a port number 1-65535"));
}

TEST_CASE("--health-cmd, --health-http and --health-tcp conflict; bad values name the flag", "[health]") {
    HealthOverrides o;
    o.cmd = "true";
    o.http = "http://localhost/";
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"),
                      "run: --health-cmd and --health-http conflict: one probe kind at a time");
    o.cmd.reset();
    o.tcp = "80";
    CHECK_THROWS_WITH(app::check_health_overrides(o, "create"), Catch::StartsWith("create: --health-http and --health-tcp conflict"));
    o.cmd = "true";
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"), Catch::Contains("--health-cmd and --health-http and --health-tcp"));
    CHECK_THROWS_AS(health_config(std::nullopt, o), Error);  // health_config refuses them too

    HealthOverrides bad_url;
    bad_url.http = "http://db:5432/";
    CHECK_THROWS_WITH(app::check_health_overrides(bad_url, "run"), Catch::StartsWith("run: --health-http: `http://db:5432/`"));
    HealthOverrides bad_port;
    bad_port.tcp = "99999";
    CHECK_THROWS_WITH(app::check_health_overrides(bad_port, "run"), Catch::StartsWith("run: --health-tcp: "));
    HealthOverrides off;
    off.disable = true;
    off.tcp = "80";
    CHECK_THROWS_WITH(app::check_health_overrides(off, "run"), Catch::Contains("--no-healthcheck (or --health-cmd none) conflicts"));
    HealthOverrides fine;
    fine.http = "https://[::1]:8443/ready";
    fine.interval_ns = kSecond;
    CHECK_NOTHROW(app::check_health_overrides(fine, "run"));
}

TEST_CASE("--health-http and --health-tcp give http and tcp probes", "[health]") {
    HealthOverrides o;
    o.http = "http://localhost:3000/health";
    o.timeout_ns = 2 * kSecond;
    auto c = health_config(check_of({"CMD", "/healthz"}), o);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Http);
    CHECK(c->url == "http://localhost:3000/health");
    CHECK(c->test.empty());
    CHECK(c->timeout_ns == 2 * kSecond);
    HealthOverrides t;
    t.tcp = "5432";
    c = health_config(std::nullopt, t);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Tcp);
    CHECK(c->port == 5432);
    CHECK(c->interval_ns == 30 * kSecond);
}

TEST_CASE("image labels give an http or tcp probe; flags override them", "[health]") {
    std::map<std::string, std::string> http = {{"org.crun-lite.health.http", "http://127.0.0.1:3000/"}, {"other", "x"}};
    std::map<std::string, std::string> tcp = {{"org.crun-lite.health.tcp", "3000"}};
    auto c = health_config(std::nullopt, {}, http);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Http);
    CHECK(c->url == "http://127.0.0.1:3000/");
    c = health_config(std::nullopt, {}, tcp);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Tcp);
    CHECK(c->port == 3000);

    // The label replaces the image's test; its timings stay.
    image::Healthcheck h = check_of({"CMD-SHELL", "curl -f http://localhost:3000/"});
    h.interval_ns = 7 * kSecond;
    h.retries = 5;
    c = health_config(h, {}, tcp);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Tcp);
    CHECK(c->test.empty());
    CHECK(c->interval_ns == 7 * kSecond);
    CHECK(c->retries == 5);
    c = health_config(check_of({"NONE"}), {}, http);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Http);

    HealthOverrides cmd;
    cmd.cmd = "true";
    c = health_config(std::nullopt, cmd, http);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Exec);
    CHECK(c->test == Strings{"/bin/sh", "-c", "true"});
    HealthOverrides port;
    port.tcp = "8080";
    c = health_config(std::nullopt, port, http);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Tcp);
    CHECK(c->port == 8080);
    CHECK(c->url.empty());
    HealthOverrides url;
    url.http = "http://[::1]/";
    c = health_config(std::nullopt, url, tcp);
    REQUIRE(c);
    CHECK(c->kind == app::ProbeKind::Http);
    CHECK(c->url == "http://[::1]/");
    CHECK(c->port == 0);

    HealthOverrides off;
    off.disable = true;
    CHECK_FALSE(health_config(std::nullopt, off, http));
}

TEST_CASE("bad or conflicting health labels are errors naming the label", "[health]") {
    CHECK_THROWS_WITH(health_config(std::nullopt, {}, {{"org.crun-lite.health.http", "http://example.com/"}}),
                      Catch::StartsWith("image label org.crun-lite.health.http: `http://example.com/`"));
    CHECK_THROWS_WITH(health_config(std::nullopt, {}, {{"org.crun-lite.health.tcp", "none"}}),
                      Catch::StartsWith("image label org.crun-lite.health.tcp: want a port number"));
    CHECK_THROWS_WITH(health_config(std::nullopt, {}, {{"org.crun-lite.health.http", ""}}),
                      Catch::Contains("a URL is required"));
    std::map<std::string, std::string> both = {{"org.crun-lite.health.http", "http://localhost/"},
                                               {"org.crun-lite.health.tcp", "80"}};
    CHECK_THROWS_WITH(health_config(std::nullopt, {}, both),
                      Catch::Contains("org.crun-lite.health.http and org.crun-lite.health.tcp conflict"));
    // A flag settles it; --no-healthcheck too.
    HealthOverrides o;
    o.tcp = "80";
    CHECK_THROWS_AS(health_config(std::nullopt, o, both), Error);
    o.tcp.reset();
    o.disable = true;
    CHECK_FALSE(health_config(std::nullopt, o, both));
}

TEST_CASE("http and tcp configs survive health_config_json and parse_health_config", "[health]") {
    HealthConfig http;
    http.kind = app::ProbeKind::Http;
    http.url = "https://[::1]:8443/health?deep=1";
    http.timeout_ns = 3 * kSecond;
    http.retries = 4;
    json::Document doc = json::parse(app::health_config_json(http), "health-config");
    CHECK(doc.root().get_string("Kind") == "http");
    CHECK_FALSE(doc.root().has("Test"));
    HealthConfig back = app::parse_health_config(doc.root());
    CHECK(back.kind == app::ProbeKind::Http);
    CHECK(back.url == http.url);
    CHECK(back.test.empty());
    CHECK(back.timeout_ns == 3 * kSecond);
    CHECK(back.retries == 4);

    HealthConfig tcp;
    tcp.kind = app::ProbeKind::Tcp;
    tcp.port = 6379;
    tcp.interval_ns = kSecond;
    json::Document doc2 = json::parse(app::health_config_json(tcp), "health-config");
    CHECK(doc2.root().get_int32("Port") == 6379);
    HealthConfig back2 = app::parse_health_config(doc2.root());
    CHECK(back2.kind == app::ProbeKind::Tcp);
    CHECK(back2.port == 6379);
    CHECK(back2.interval_ns == kSecond);

    HealthConfig exec;
    exec.test = {"/healthz"};
    json::Document doc3 = json::parse(app::health_config_json(exec), "health-config");
    CHECK(doc3.root().get_string("Kind") == "exec");
    CHECK(app::parse_health_config(doc3.root()).kind == app::ProbeKind::Exec);
}

TEST_CASE("a stored health config of an older crun-lite (no Kind) is an exec probe", "[health]") {
    json::Document old = json::parse(
        R"({"Test":["/bin/sh","-c","true"],"Interval":1000000,"Timeout":1000000,"StartPeriod":0,"StartInterval":1000000,"Retries":3})",
        "app.json");
    HealthConfig c = app::parse_health_config(old.root());
    CHECK(c.kind == app::ProbeKind::Exec);
    CHECK(c.test == Strings{"/bin/sh", "-c", "true"});
}

TEST_CASE("a stored http or tcp config is checked again", "[health]") {
    auto parse = [](const std::string& kind_fields) {
        std::string text = "{" + kind_fields + R"(,"Interval":1,"Timeout":1,"StartPeriod":0,"StartInterval":1,"Retries":3})";
        json::Document doc = json::parse(text, "app.json");
        return app::parse_health_config(doc.root());
    };
    CHECK_THROWS_WITH(parse(R"("Kind":"http","URL":"http://10.0.0.1/")"),
                      Catch::StartsWith("app.json: URL: ") && Catch::Contains("container itself"));
    CHECK_THROWS_WITH(parse(R"("Kind":"http")"), Catch::Contains("URL: required field is missing"));
    CHECK_THROWS_WITH(parse(R"("Kind":"tcp","Port":0)"), Catch::Contains("Port: must be 1-65535"));
    CHECK_THROWS_WITH(parse(R"("Kind":"tcp","Port":70000)"), Catch::Contains("Port: must be 1-65535"));
    CHECK_THROWS_WITH(parse(R"("Kind":"tcp","Port":80,"Test":["x"])"), Catch::Contains("Test: not a field of Kind `tcp`"));
    CHECK_THROWS_WITH(parse(R"("Kind":"exec","Test":["x"],"URL":"http://localhost/")"),
                      Catch::Contains("URL: not a field of Kind `exec`"));
    CHECK_THROWS_WITH(parse(R"("Kind":"exec","Test":[])"), Catch::Contains("Test: must not be empty"));
    CHECK_THROWS_WITH(parse(R"("Kind":"grpc","Port":80)"), Catch::Contains("unknown probe kind `grpc`"));
    CHECK(parse(R"("Kind":"tcp","Port":80)").port == 80);
}

// The Health log's limits: --health-max-log-count, --health-max-log-size, --health-log-destination

TEST_CASE("the Health log keeps max_log_count results, outputs cut to max_log_size; 0 keeps all", "[health]") {
    auto c = config_with_retries(100);
    c.max_log_count = 2;
    c.max_log_size = 3;
    HealthState s;
    for (int i = 1; i <= 4; ++i) record_probe(s, c, probe(i, "output " + std::to_string(i)), false);
    REQUIRE(s.log.size() == 2);
    CHECK(s.log.front().output == "out");
    CHECK(s.log.back().exit_code == 4);
    c.max_log_count = 0;
    c.max_log_size = 0;
    for (int i = 5; i <= 12; ++i) record_probe(s, c, probe(i, "output " + std::to_string(i)), false);
    CHECK(s.log.size() == 10);
    CHECK(s.log.back().output == "output 12");
}

TEST_CASE("log limit flags: kept in the config, checked, and round-tripped", "[health]") {
    HealthOverrides o;
    o.cmd = "true";
    o.max_log_count = 0;
    o.max_log_size = 100;
    o.log_destination = "/tmp";
    CHECK_NOTHROW(app::check_health_overrides(o, "run"));
    auto c = health_config(std::nullopt, o);
    REQUIRE(c);
    CHECK(c->max_log_count == 0);
    CHECK(c->max_log_size == 100);
    CHECK(c->log_destination == "/tmp");
    json::Document doc = json::parse(app::health_config_json(*c), "cfg");
    HealthConfig back = app::parse_health_config(doc.root());
    CHECK((back.max_log_count == 0 && back.max_log_size == 100 && back.log_destination == "/tmp"));
    // Defaults: 5 entries, 4096 bytes, local; also for a config stored before the limits.
    auto d = health_config(std::nullopt, [] {
        HealthOverrides x;
        x.cmd = "true";
        return x;
    }());
    CHECK((d->max_log_count == 5 && d->max_log_size == 4096 && d->log_destination == "local"));
    json::Document old = json::parse(
        R"({"Test":["x"],"Interval":1000000,"Timeout":1000000,"StartPeriod":0,"StartInterval":1000000,"Retries":3})",
        "cfg");
    CHECK(app::parse_health_config(old.root()).max_log_count == 5);

    o.max_log_count = -1;
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"), Catch::Contains("--health-max-log-count"));
    o.max_log_count = 5;
    o.max_log_size = -2;
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"), Catch::Contains("--health-max-log-size"));
    o.max_log_size = 5;
    o.log_destination = "logs";
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"), Catch::Contains("absolute directory"));
    o.log_destination = "/etc/passwd";
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"), Catch::Contains("not a directory"));
    o.log_destination = "local";
    o.disable = true;
    o.cmd.reset();
    CHECK_THROWS_WITH(app::check_health_overrides(o, "run"), Catch::Contains("--no-healthcheck (or --health-cmd none) conflicts"));
    json::Document bad = json::parse(
        R"({"Test":["x"],"Interval":1,"Timeout":1,"StartPeriod":0,"StartInterval":1,"Retries":3,"LogDestination":"x"})",
        "cfg");
    CHECK_THROWS_WITH(app::parse_health_config(bad.root()), Catch::Contains("LogDestination"));
}

TEST_CASE("health is stale when no probe ended for twice the gap the config allows, and 2 s", "[health]") {
    app::HealthConfig c;
    c.interval_ns = 1'000'000'000;
    c.timeout_ns = 500'000'000;
    c.start_interval_ns = 5'000'000'000;
    const int64_t s = 1'000'000'000, t0 = 1'764'000'000 * s;  // the start
    app::HealthState st;
    CHECK_FALSE(app::health_stale(st, c, t0, t0 + 600 * s));  // no probe yet: no judgement
    app::ProbeResult r;
    r.end = "2025-11-24T16:00:10Z";  // t0 + 10 s
    st.log.push_back(r);
    CHECK_FALSE(app::health_stale(st, c, t0, t0 + 14 * s));  // 2 * 1.5 + 2 = 5 s after it
    CHECK(app::health_stale(st, c, t0, t0 + 16 * s));
    // In the start period probes come at the start interval: 2 * 5.5 + 2 = 13 s.
    c.start_period_ns = 30 * s;
    CHECK_FALSE(app::health_stale(st, c, t0, t0 + 22 * s));
    CHECK(app::health_stale(st, c, t0, t0 + 24 * s));
    // A restart since the last probe: counted from the restart.
    CHECK_FALSE(app::health_stale(st, c, t0 + 100 * s, t0 + 110 * s));
}
