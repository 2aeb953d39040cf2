#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/image/registry_auth.hpp"

using namespace crunlite::image;

namespace {
Reference ref(const std::string& text) { return parse_reference("docker://" + text); }
std::string b64(const std::string& s) { return base64_encode(s); }
}  // namespace

TEST_CASE("WWW-Authenticate: Bearer and Basic challenges", "[auth]") {
    auto c = parse_www_authenticate(
        R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")");
    REQUIRE(c.size() == 1);
    CHECK(c[0].scheme == "bearer");
    CHECK(c[0].params.at("realm") == "https://auth.docker.io/token");
    CHECK(c[0].params.at("service") == "registry.docker.io");
    CHECK(c[0].params.at("scope") == "repository:samalba/my-app:pull,push");

    c = parse_www_authenticate(R"(Basic realm="Registry Realm")");
    REQUIRE(c.size() == 1);
    CHECK(c[0].scheme == "basic");
    CHECK(c[0].params.at("realm") == "Registry Realm");

    // Several challenges, odd spacing and case, tokens and escapes.
    c = parse_www_authenticate(R"(  basic realm=x , BEARER Realm = "a\"b" ,  Service=svc,, Negotiate)");
    REQUIRE(c.size() == 3);
    CHECK(c[0].scheme == "basic");
    CHECK(c[0].params.at("realm") == "x");
    CHECK(c[1].scheme == "bearer");
    CHECK(c[1].params.at("realm") == "a\"b");
    CHECK(c[1].params.at("service") == "svc");
    CHECK(c[2].scheme == "negotiate");
    CHECK(c[2].params.empty());
    CHECK(parse_www_authenticate("").empty());

    CHECK_THROWS_WITH(parse_www_authenticate(R"(Bearer realm="open)"), Catch::Contains("unterminated quoted string"));
    CHECK_THROWS_WITH(parse_www_authenticate("Bearer realm=x; y"), Catch::Contains("unexpected `;`"));
    CHECK_THROWS_WITH(parse_www_authenticate("=x"), Catch::Contains("expected an authentication scheme"));
    CHECK_THROWS_WITH(parse_www_authenticate(std::string(20000, 'a')), Catch::Contains("longer than 16 KiB"));
    std::string many = "Bearer ";
    for (int i = 0; i < 40; ++i) many += "k" + std::to_string(i) + "=v,";
    CHECK_THROWS_WITH(parse_www_authenticate(many), Catch::Contains("more than 32 parameters"));
}

TEST_CASE("the token URL and the token server's answer", "[auth]") {
    Challenge b{"bearer", {{"realm", "https://auth.example/token"}, {"service", "reg istry"}}};
    CHECK(token_url(b, "team/app") ==
          "https://auth.example/token?service=reg%20istry&scope=repository%3Ateam%2Fapp%3Apull");
    b.params["realm"] = "https://auth.example/token?x=1";
    CHECK(token_url(b, "a") == "https://auth.example/token?x=1&service=reg%20istry&scope=repository%3Aa%3Apull");
    b.params["realm"] = "file:///etc/passwd";
    CHECK_THROWS_WITH(token_url(b, "a"), Catch::Contains("is not an http(s) URL"));
    b.params.erase("realm");
    CHECK_THROWS_WITH(token_url(b, "a"), Catch::Contains("names no realm"));

    CHECK(parse_token_response(R"({"token":"abc","expires_in":300})", "t") == "abc");
    CHECK(parse_token_response(R"({"access_token":"xyz"})", "t") == "xyz");
    CHECK_THROWS_WITH(parse_token_response(R"({"expires_in":1})", "t"), Catch::Contains("no \"token\""));
    CHECK_THROWS_WITH(parse_token_response(R"({"token":"a\nb"})", "t"), Catch::Contains("a header cannot carry"));
    CHECK_THROWS(parse_token_response("<html>", "t"));
}

TEST_CASE("credentials from auth.json and docker's config.json", "[auth]") {
    std::string text = R"({"auths":{
        "127.0.0.1:5000": {"auth": ")" + b64("alice:pw:with:colons") + R"("},
        "127.0.0.1:5000/team": {"auth": ")" + b64("team:tpw") + R"("},
        "https://legacy.example/v1/": {"auth": ")" + b64("old:opw") + R"("},
        "userpass.example": {"username": "u", "password": "p"},
        "https://index.docker.io/v1/": {"auth": ")" + b64("hub:hpw") + R"("},
        "helper.example": {}
    }, "credsStore": "desktop"})";
    auto c = lookup_auth(text, "auth.json", ref("127.0.0.1:5000/app"));
    REQUIRE(c);
    CHECK(c->username == "alice");
    CHECK(c->password == "pw:with:colons");
    c = lookup_auth(text, "auth.json", ref("127.0.0.1:5000/team/app"));  // the most specific key wins
    REQUIRE(c);
    CHECK(c->username == "team");
    c = lookup_auth(text, "auth.json", ref("legacy.example/x"));
    REQUIRE(c);
    CHECK(c->username == "old");
    c = lookup_auth(text, "auth.json", ref("userpass.example/x"));
    REQUIRE(c);
    CHECK(c->password == "p");
    c = lookup_auth(text, "auth.json", ref("busybox"));
    REQUIRE(c);
    CHECK(c->username == "hub");
    CHECK_FALSE(lookup_auth(text, "auth.json", ref("helper.example/x")));
    CHECK_FALSE(lookup_auth(text, "auth.json", ref("other.example/x")));
    CHECK_FALSE(lookup_auth("{}", "auth.json", ref("other.example/x")));

    CHECK_THROWS_WITH(lookup_auth(R"({"auths":{"a.example":{"auth":"!!!"}}})", "auth.json", ref("a.example/x")),
                      Catch::Contains("auth.json: auths.a.example.auth: not base64"));
    CHECK_THROWS_WITH(lookup_auth(R"({"auths":{"a.example":{"auth":")" + b64("nocolon") + R"("}}})", "auth.json",
                                  ref("a.example/x")),
                      Catch::Contains("does not decode to USER:PASSWORD"));
    CHECK_THROWS_WITH(lookup_auth(R"({"auths":[]})", "auth.json", ref("a.example/x")), Catch::Contains("auth.json"));
    CHECK_THROWS(lookup_auth(R"({"auths":{"a.example":{},"a.example":{}}})", "auth.json", ref("a.example/x")));
}

TEST_CASE("--creds and base64", "[auth]") {
    Credentials c = parse_creds("bob:secret:more");
    CHECK(c.username == "bob");
    CHECK(c.password == "secret:more");
    CHECK(parse_creds("bob").password.empty());
    CHECK_THROWS_WITH(parse_creds(":pw"), Catch::Contains("the user name is empty"));
    for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
        CHECK(base64_decode(base64_encode(s), "x") == s);
    CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
    for (const char* bad : {"abc", "ab=c", "a===", "ab\ncd"}) CHECK_THROWS(base64_decode(bad, "x"));
}

TEST_CASE("auth files in podman's order", "[auth]") {
    CHECK(auth_files("/x/auth.json") == std::vector<std::string>{"/x/auth.json"});
    ::setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
    ::setenv("HOME", "/home/u", 1);
    ::unsetenv("XDG_CONFIG_HOME");
    ::unsetenv("DOCKER_CONFIG");
    ::unsetenv("REGISTRY_AUTH_FILE");
    CHECK(auth_files("") == std::vector<std::string>{"/run/user/7/containers/auth.json",
                                                     "/home/u/.config/containers/auth.json",
                                                     "/home/u/.docker/config.json"});
}

TEST_CASE("login writes auth.json as podman does, logout removes the entry, nothing else is lost", "[auth]") {
    bool removed = true;
    std::string t = auth_json_with("", "a.json", "127.0.0.1:5000", Credentials{"u", "p:w"}, &removed);
    CHECK_FALSE(removed);
    auto c = lookup_auth(t, "a.json", ref("127.0.0.1:5000/app"));
    REQUIRE(c);
    CHECK(c->username == "u");
    CHECK(c->password == "p:w");
    std::string existing = R"({"auths":{"other.example":{"auth":"eDp5"}},"credsStore":"desktop",
                               "credHelpers":{"gcr.io":"gcloud"}})";
    t = auth_json_with(existing, "a.json", "reg.example/team", Credentials{"a", "b"});
    CHECK(lookup_auth(t, "a.json", ref("other.example/x"))->username == "x");
    CHECK(lookup_auth(t, "a.json", ref("reg.example/team/app"))->username == "a");
    CHECK_FALSE(lookup_auth(t, "a.json", ref("reg.example/other/app")));
    CHECK_THAT(t, Catch::Contains("\"credsStore\": \"desktop\""));
    CHECK_THAT(t, Catch::Contains("\"gcr.io\": \"gcloud\""));
    t = auth_json_with(t, "a.json", "reg.example/team", std::nullopt, &removed);
    CHECK(removed);
    CHECK_FALSE(lookup_auth(t, "a.json", ref("reg.example/team/app")));
    CHECK(lookup_auth(t, "a.json", ref("other.example/x")));
    auth_json_with(t, "a.json", "nothere.example", std::nullopt, &removed);
    CHECK_FALSE(removed);
    CHECK_THROWS_WITH(auth_json_with(R"({"auths":{},"HttpHeaders":{"X":1}})", "a.json", "k", std::nullopt),
                      Catch::Contains("a.json"));
    CHECK_THROWS_WITH(auth_json_with(R"({"auths":{},"n":[1]})", "a.json", "k", std::nullopt),
                      Catch::Contains("a.json: n: not kept by this tool"));
    CHECK_THROWS(auth_json_with("[]", "a.json", "k", std::nullopt));
}

TEST_CASE("a login's token URL has no scope", "[auth]") {
    Challenge b{"bearer", {{"realm", "https://auth.example/token"}, {"service", "svc"}}};
    CHECK(token_url(b, "") == "https://auth.example/token?service=svc");
    b.params.erase("service");
    CHECK(token_url(b, "") == "https://auth.example/token");
}
