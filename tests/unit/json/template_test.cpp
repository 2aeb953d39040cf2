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
    CHECK_THROWS_WITH(render("{{template \"x\"}}"), Contains("unsupported `template`"));
    CHECK_THROWS_WITH(render("{{slice .Id 1}}"), Contains("unsupported `slice` (functions: and, or,"));
    CHECK_THROWS_WITH(render("{{}}"), Contains("an empty action"));
    CHECK_THROWS_WITH(render(R"({{index .Config.annotations "x"}})"), Contains("no key `x`"));  // printed
    CHECK_THROWS_WITH(render(R"({{(index .Config.annotations "x").Y}})"), Contains("no key `x`"));
    CHECK_THROWS_WITH(render("{{index .State.Health.Log 2}}"), Contains("no element `2` of 2"));
    CHECK_THROWS_WITH(render("{{json .State .Id}}"), Contains("wrong number of arguments for json: want 1, got 2"));
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

TEST_CASE("template: if, else if, else, with, and a missing member as false", "[template]") {
    CHECK(render("{{if .State.Running}}up{{else}}down{{end}}") == "up");
    CHECK(render("{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}") == "healthy");
    CHECK(render("{{if .State.Nope}}x{{else if .Nothing}}y{{else if eq .Id \"c1\"}}z{{else}}w{{end}}") == "z");
    CHECK(render("{{with .State.Health}}{{.Status}} {{$.Id}}{{end}}") == "healthy c1");  // $: the document
    CHECK(render("{{with .State.Nope}}x{{else}}no{{end}}") == "no");
    CHECK(render("{{with .State.Nope}}x{{else with .State.Pid}}{{.}}{{end}}") == "42");
    CHECK(render("{{if not .Nothing}}empty{{end}}") == "empty");
    CHECK(render(R"({{if and .State.Running (eq .State.Status "running")}}ok{{end}})") == "ok");
    CHECK(render(R"({{or .Nothing .State.Nope "fallback"}})") == "fallback");
    CHECK(render("{{and .State.Running .Nothing}}") == "<nil>");  // the first false argument
    CHECK(render("{{if or .State.Running .State.Nope.Deeper}}short{{end}}") == "short");  // or stops at the first true
    CHECK(render("{{if \"\"}}a{{else}}b{{end}} {{if 0}}a{{else}}b{{end}} {{if .Config}}c{{end}}") == "b b c");
    CHECK(render("a {{- if true -}} b {{- end -}} c") == "abc");
}

TEST_CASE("template: range over arrays, objects (by key), split; variables; break and continue", "[template]") {
    CHECK(render("{{range .State.Health.Log}}[{{.ExitCode}}]{{end}}") == "[0][1]");
    CHECK(render("{{range $i, $e := .State.Health.Log}}{{$i}}={{$e.ExitCode}} {{end}}") == "0=0 1=1 ");
    CHECK(render("{{range $k, $v := .State.Health}}{{$k}};{{end}}") == "Log;Status;");  // keys sorted, as Go's maps
    CHECK(render(R"({{range $p, $b := .NetworkSettings.Ports}}{{$p}}->{{(index $b 0).HostPort}}{{end}})") == "80/tcp->49153");
    CHECK(render("{{range .Nothing}}x{{else}}none{{end}}|{{range .State.Nope}}x{{else}}none{{end}}") == "none|none");
    CHECK(render(R"({{range split "a,b,c" ","}}<{{.}}>{{end}})") == "<a><b><c>");
    CHECK(render(R"({{range $i, $e := split "a,b,c,d" ","}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $e "d"}}{{break}}{{end}}{{$e}}{{end}})") == "ac");
    CHECK(render("{{$n := .State.Pid}}{{$n}} {{$n = 7}}{{$n}}") == "42 7");
    CHECK(render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}") == "2");
    CHECK(render("{{$.State.Status}} {{$h := .State.Health}}{{$h.Status}}") == "running healthy");
    CHECK(render("{{range .State.Health.Log}}{{$.Id}}{{end}}") == "c1c1");
}

TEST_CASE("template: pipelines and the functions of Go and Docker", "[template]") {
    CHECK(render("{{.State.Status | upper}}") == "RUNNING");
    CHECK(render(R"({{.State.Status | printf "%s!" | upper}})") == "RUNNING!");
    CHECK(render("{{len .State.Health.Log}} {{len .Id}} {{len .Config.annotations}}") == "2 2 1");
    CHECK(render(R"({{printf "%d-%5s|%-4s|%q|%.2f|%x|%t|%v%%" .State.Pid "ab" "c" .Id .State.Ratio 255 true .Nothing}})") ==
          R"(42-   ab|c   |"c1"|1.50|ff|true|<nil>%)");
    CHECK(render(R"({{printf "%d %s" 1}})") == "1 %!s(MISSING)");
    CHECK(render(R"({{printf "%d" "x"}})") == "%!d(x)");
    CHECK(render(R"({{printf "%s" "a" "b"}})") == "a%!(EXTRA b)");
    CHECK(render(R"({{print "a" "b" 1 2 .State.Running}} {{println "x" 1}})") == "ab1 2 true x 1\n");
    CHECK(render(R"({{join (split "a b c" " ") "+"}} {{split "a:b" ":"}} {{json (split "a:b" ":")}})") == R"(a+b+c [a b] ["a","b"])");
    CHECK(render(R"({{title "hello wide-world"}} {{lower "ABC"}} {{truncate .State.Status 3}} [{{pad "x" 2 1}}] [{{pad "" 2 1}}])") ==
          "Hello Wide-World abc run [  x ] []");
    CHECK(render(R"({{eq .State.Pid 42}} {{ne .Id "c1"}} {{lt .State.Ratio 2}} {{ge .State.Pid 42}} {{gt "b" "a"}} {{eq .Id "x" "c1"}})") ==
          "true false true true true true");
    CHECK(render("{{eq .Nothing nil}} {{eq .State.Nope nil}} {{eq .State.Running true}}") == "true true true");
    CHECK(render("{{json 1.5}} {{json true}} {{json .Nothing}} {{json \"a\\\"b\"}}") == R"(1.5 true null "a\"b")");
    CHECK(render("{{index .State.Health.Log 1 | json}}") == R"({"ExitCode":1})");
}

TEST_CASE("template: errors of control structures, variables and functions", "[template]") {
    CHECK_THROWS_WITH(render("{{if .Id}}x"), Contains("`{{if .Id}}`: no matching {{end}}"));
    CHECK_THROWS_WITH(render("{{end}}"), Contains("`{{end}}`: an end without if, range or with"));
    CHECK_THROWS_WITH(render("x{{else}}y"), Contains("an else without if, range or with"));
    CHECK_THROWS_WITH(render("{{if 1}}{{else}}{{else}}{{end}}"), Contains("a second else"));
    CHECK_THROWS_WITH(render("{{range .Id}}{{end}}"), Contains("`{{range .Id}}`: range over a string"));
    CHECK_THROWS_WITH(render("{{range .State.Health.Log}}{{else if 1}}{{end}}"), Contains("unexpected `if`"));
    CHECK_THROWS_WITH(render("{{break}}"), Contains("break outside a range"));
    CHECK_THROWS_WITH(render("{{range .State.Health.Log}}{{else}}{{continue}}{{end}}"), Contains("continue outside a range"));
    CHECK_THROWS_WITH(render("{{$x}}"), Contains("undefined variable $x"));
    CHECK_THROWS_WITH(render("{{$x = 1}}"), Contains("undefined variable $x"));
    CHECK_THROWS_WITH(render("{{if true}}{{$y := 1}}{{end}}{{$y}}"), Contains("undefined variable $y"));  // scope ends at {{end}}
    CHECK_THROWS_WITH(render("{{range $i, $e := .State.Health.Log}}{{end}}{{$e}}"), Contains("undefined variable $e"));
    CHECK_THROWS_WITH(render("{{if}}{{end}}"), Contains("a missing value"));
    CHECK_THROWS_WITH(render("{{.Id | .State}}"), Contains("a pipeline into `.State`, which is not a function"));
    CHECK_THROWS_WITH(render("{{.Id | }}"), Contains("an empty command"));
    CHECK_THROWS_WITH(render("{{.Id .State}}"), Contains("arguments to `.Id`, which is not a function"));
    CHECK_THROWS_WITH(render("{{len .State.Pid}}"), Contains("len of a number"));
    CHECK_THROWS_WITH(render("{{len .State.Nope}}"), Contains("State has no Nope"));
    CHECK_THROWS_WITH(render("{{lt .Id 1}}"), Contains("lt: cannot compare a string with a number"));
    CHECK_THROWS_WITH(render("{{eq .State .Id}}"), Contains("cannot compare an object with a string"));
    CHECK_THROWS_WITH(render("{{upper .State}}"), Contains("upper of an object"));
    CHECK_THROWS_WITH(render("{{join .Id \",\"}}"), Contains("join of a string"));
    CHECK_THROWS_WITH(render("{{truncate .Id -1}}"), Contains("truncate: want a count, got `-1`"));
    CHECK_THROWS_WITH(render("{{not 1 2}}"), Contains("wrong number of arguments for not: want 1, got 2"));
    CHECK_THROWS_WITH(render("{{printf \"%99999d\" 1}}"), Contains("at most 9999"));
    CHECK_THROWS_WITH(render("{{with .State}}{{.Nope}}{{end}}"), Contains("the value has no Nope"));
    CHECK_THROWS_WITH(render("{{$h := .State}}{{$h.Nope}}"), Contains("$h has no Nope"));
    std::string blowup;  // 10^8 steps, stopped at 10^6: a typo does not hang the verb
    for (int i = 0; i < 8; ++i) blowup += R"({{range split "0123456789" ""}})";
    for (int i = 0; i < 8; ++i) blowup += "{{end}}";
    CHECK_THROWS_WITH(render(blowup), Contains("ran over 1000000 steps"));
    std::string deep;
    for (int i = 0; i < 150; ++i) deep += "{{if true}}";
    CHECK_THROWS_WITH(render(deep), Contains("nested too deeply"));
}
