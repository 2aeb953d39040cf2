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
    CHECK_THROWS_WITH(render("{{html .Id}}"), Contains("unsupported `html` (functions: and, or,"));
    CHECK_THROWS_WITH(render("{{}}"), Contains("an empty action"));
    CHECK_THROWS_WITH(render(R"({{(index .Config.annotations "x").Y}})"), Contains("no key `x`"));
    CHECK_THROWS_WITH(render(R"({{index .Config.annotations "x" "y"}})"), Contains("no key `x`"));
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
    CHECK_THROWS_WITH(render("{{printf \"%99999d\" 1}}"), Contains("a width or precision above 9999"));
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

TEST_CASE("template: a key index does not find is empty text, as Docker's maps of strings give", "[template]") {
    CHECK(render(R"([{{index .Config.annotations "x"}}])") == "[]");
    CHECK(render(R"({{if index .Config.annotations "x"}}set{{else}}unset{{end}} {{eq (index .Config.annotations "x") ""}})") ==
          "unset true");
    CHECK(render(R"({{json (index .Config.annotations "x")}} {{len (index .Config.annotations "x")}})") == R"("" 0)");
}

TEST_CASE("template: Go's literals: escapes, number forms, characters", "[template]") {
    CHECK(render(R"({{"\x41\101\u00e9\U0001F600|\a\b\f\r\v|\\\""}})") == "AA\u00e9\U0001F600|\a\b\f\r\v|\\\"");
    CHECK(render("{{1e3}} {{2.50}} {{007}} {{1.0}} {{0x1F}} {{0o17}} {{0b101}} {{1_000}} {{+5}} {{-.5}} {{.5}} {{-0}}") ==
          "1000 2.5 7 1 31 15 5 1000 5 -0.5 0.5 0");
    CHECK(render("{{'a'}} {{'\\n'}} {{'\\''}} {{'\u00e9'}} {{printf \"%c%c\" 'h' 105}}") == "97 10 39 233 hi");
    CHECK(render("{{1e21}} {{0.00001}} {{123456789.5}}") == "1e+21 1e-05 1.234567895e+08");
    CHECK(render("{{-3}}|{{- 3}}") == "-3|3");  // "{{-3}}": the number, "{{- 3}}": trimming
    CHECK(render("a {{- /* c */ -}} b{{/* }} */}}") == "ab");
    CHECK_THROWS_WITH(render(R"({{"\q"}})"), Contains("a bad string `\"\\q\"`"));
    CHECK_THROWS_WITH(render(R"({{"\'"}})"), Contains("a bad string"));
    CHECK_THROWS_WITH(render("{{\"a\nb\"}}"), Contains("a bad string"));  // a newline inside
    CHECK_THROWS_WITH(render(R"({{"\xZZ"}})"), Contains("a bad string"));
    CHECK_THROWS_WITH(render(R"({{"\uD800"}})"), Contains("a bad string"));
    CHECK_THROWS_WITH(render("{{'ab'}}"), Contains("a bad character constant `'ab'`"));
    CHECK(render("{{'\\xff'}} {{'\\377'}}") == "255 255");
    CHECK_THROWS_WITH(render("{{'\x8c\x84\x84\x8a\xba\xba\xba\xba'}}"), Contains("a bad character constant"));  // fuzz: no lead byte
    CHECK_THROWS_WITH(render("{{'\xc3\xa9\xa9'}}"), Contains("a bad character constant"));
    CHECK_THROWS_WITH(render("{{08}}"), Contains("bad number `08`"));
    CHECK_THROWS_WITH(render("{{99999999999999999999}}"), Contains("bad number"));
    CHECK_THROWS_WITH(render("{{ /* c */ }}"), Contains("unexpected `/`"));
    CHECK_THROWS_WITH(render("{{/* c */ }}"), Contains("a comment must end with */ right before }}"));
    CHECK_THROWS_WITH(render("{{\u00fc}}"), Contains("unexpected `\u00fc`"));  // the whole character
}

TEST_CASE("template: printf as Go's fmt", "[template]") {
    CHECK(render(R"({{printf "%x %X %o %b %#x %#o %#b" -255 255 -8 5 255 8 5}})") == "-ff FF -10 101 0xff 010 0b101");
    CHECK(render(R"({{printf "%+d|% d|%05d|%-5d|%.3d|%+05d" 5 5 -42 7 7 3}})") == "+5| 5|-0042|7    |007|+0003");
    CHECK(render(R"({{printf "%g %g %g %.3g %e %.2f %G" 3.14159265 1234567.0 100000.0 3.14159 1.5 2.345 1e-7}})") ==
          "3.14159265 1.234567e+06 100000 3.14 1.500000e+00 2.35 1E-07");
    CHECK(render(R"({{printf "%5s|%-5s|%.1s|%05s|%5.1s|" "\u00e9" "ab" "\u00e9x" "ab" "xyz"}})") ==
          "    \u00e9|ab   |\u00e9|000ab|    x|");
    CHECK(render(R"({{printf "%q %q %c %U % x %X" "a\"b" 97 9731 9731 "hi" "hi"}})") == "\"a\\\"b\" 'a' \u2603 U+2603 68 69 6869");
    CHECK(render(R"({{printf "%d|%x|%t|%z" 1.5 1.5 "x" 1}})") == "%!d(1.5)|%!x(1.5)|%!t(x)|%!z(1)");
    CHECK(render(R"({{printf "%"}}|{{printf "%5"}})") == "%!(NOVERB)|%!(NOVERB)");
    CHECK(render(std::string("{{printf \"%") + '\0' + "d\" 1}}") == std::string("%!") + '\0' + "(1)d");  // fuzz: NUL is no flag
    CHECK_THROWS_WITH(render(R"({{printf "%9999999999999d" 1}})"), Contains("above 9999"));  // fuzz: no int overflow
}

TEST_CASE("template: slice, and limits on work and output", "[template]") {
    CHECK(render("{{slice .Id 1}} {{slice .Id 0 1}} {{slice .State.Health.Log 1}} {{len (slice (split \"a,b,c\" \",\") 1 3)}}") ==
          R"(1 c [{"ExitCode":1}] 2)");
    CHECK_THROWS_WITH(render("{{slice .Id 1 3}}"), Contains("slice: [1:3] out of range of 2"));
    CHECK_THROWS_WITH(render("{{slice .State 1}}"), Contains("slice of an object"));
    CHECK_THROWS_WITH(render("{{nil}}"), Contains("nil is not a command"));
    CHECK_THROWS_WITH(render("{{range $a, $b, $c := .State.Health.Log}}{{end}}"), Contains("too many declarations in range"));
    // A variable that doubles each time round.
    CHECK_THROWS_WITH(render(R"({{$x := "0123456789abcdef"}}{{range split "0123456789012345678901234567890" ""}})"
                             R"({{$x = printf "%s%s" $x $x}}{{end}})"),
                      Contains("printf: a text over 64 MiB"));
    CHECK_THROWS_WITH(render(R"({{range split "0123456789" ""}}{{range split "0123456789" ""}}{{range split "0123456789" ""}})"
                             R"({{range split "0123456789" ""}}{{printf "%9999d" 1}}{{end}}{{end}}{{end}}{{end}})"),
                      Contains("the output is over 64 MiB"));
}
