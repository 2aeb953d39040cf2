// inspect --format's Go templates over parsed JSON.
#include <catch2/catch.hpp>

#include "crunlite/json/json.hpp"
#include "crunlite/json/template.hpp"

using namespace crunlite;
using Catch::Contains;

namespace {

const char* kDoc = R"({"Id":"c1","State":{"Status":"running","Running":true,"Pid":42,"Ratio":1.5,
  "Health":{"Status":"healthy","Log":[{"ExitCode":0},{"ExitCode":1}]}},
  "Config":{"annotations":{"org.example.tier":"web"}},"Nothing":null,
  "NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"49153"}]}}})";

std::string render(const std::string& tmpl) {
    json::Document d = json::parse(kDoc, "inspect");
    return json::render_template(tmpl, d.root());
}

}  // namespace

TEST_CASE("template: fields, text around them, scalars as Go prints them", "[template]") {
    CHECK(render("{{.State.Status}}") == "running");
    CHECK(render("{{ .State.Health.Status }}") == "healthy");
    CHECK(render("pid={{.State.Pid}} running={{.State.Running}} ratio={{.State.Ratio}}\n") ==
          "pid=42 running=true ratio=1.5\n");
    CHECK(render("{{.Nothing}}") == "<nil>");
    CHECK(render("no actions") == "no actions");
    CHECK(render("{{.State.Health.Log}}") == R"([{"ExitCode":0},{"ExitCode":1}])");  // containers as JSON
}

TEST_CASE("template: json, index, upper, lower, parentheses, trimming, comments", "[template]") {
    CHECK(render("{{json .State.Health}}") == R"({"Status":"healthy","Log":[{"ExitCode":0},{"ExitCode":1}]})");
    CHECK(render("{{json .Id}}") == R"("c1")");
    CHECK(render(R"({{index .Config.annotations "org.example.tier"}})") == "web");
    CHECK(render("{{index .State.Health.Log 1 `ExitCode`}}") == "1");
    CHECK(render(R"({{json (index .Config.annotations "org.example.tier")}})") == R"("web")");
    CHECK(render("{{upper .State.Status}} {{lower .Id}}") == "RUNNING c1");
    // Docker's way to a published port: a field of a parenthesised value.
    CHECK(render(R"({{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}})") == "49153");
    CHECK(render("{{(.State.Health).Status}}") == "healthy");
    CHECK(render("a  {{- .Id -}}  b") == "ac1b");
    CHECK(render("{{json .Id}} {{- .Id}}") == R"("c1"c1)");        // the text is trimmed, not an action's output
    CHECK(render(R"({{index .Config.annotations "org.example.tier"}}|{{"}}"}})") == "web|}}");  // }} in a string
    CHECK(render("{{/* a comment */}}x") == "x");
    CHECK(render("{{json .}}").rfind(R"({"Id":"c1",)", 0) == 0);
}

TEST_CASE("template: errors name the action and what is missing", "[template]") {
    CHECK_THROWS_WITH(render("{{.State.Nope}}"), Contains("`{{.State.Nope}}`: State has no Nope"));
    CHECK_THROWS_WITH(render("{{.Id.X}}"), Contains("Id is a string, not an object"));
    CHECK_THROWS_WITH(render("{{.State.Status"), Contains("no closing }}"));
    CHECK_THROWS_WITH(render("{{range .State}}{{end}}"), Contains("unsupported `range`"));
    CHECK_THROWS_WITH(render("{{.State.Status | upper}}"), Contains("pipelines are not supported"));
    CHECK_THROWS_WITH(render("{{}}"), Contains("an empty action"));
    CHECK_THROWS_WITH(render(R"({{index .Config.annotations "x"}})"), Contains("no key `x`"));
    CHECK_THROWS_WITH(render("{{index .State.Health.Log 2}}"), Contains("no element `2` of 2"));
    CHECK_THROWS_WITH(render("{{json .State .Id}}"), Contains("json takes one field"));
    CHECK_THROWS_WITH(render(R"({{index .Id "x"}})"), Contains("index of a string"));
    CHECK_THROWS_WITH(render(R"({{.Id "x}})"), Contains("no closing }}"));  // the string runs on
    CHECK_THROWS_WITH(render("{{json (index .Config.annotations}}"), Contains("an unclosed ("));
    CHECK_THROWS_WITH(render("{{-.Id}}"), Contains("bad number `-.Id`"));
    CHECK_THROWS_WITH(render("{{(upper .Id).X}}"), Contains("a field of text: `.X`"));
    CHECK_THROWS_WITH(render("{{(.State).Nope}}"), Contains("the value has no Nope"));
    CHECK_THROWS_WITH(render("{{9lives}}"), Contains("bad number `9lives`"));
    CHECK_THROWS_WITH(render("{{/* x */ .Id}}"), Contains("a comment must end with */"));
    CHECK_THROWS_WITH(render("{{" + std::string(200, '(') + ".Id" + std::string(200, ')') + "}}"),
                      Contains("nested too deeply"));
}
