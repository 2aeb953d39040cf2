#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/json/json.hpp"

using namespace crunlite;

TEST_CASE("duplicate keys are rejected at any depth, naming the path", "[json]") {
    CHECK_THROWS_WITH(json::parse(R"({"a":1,"a":2})", "f.json"), "f.json: duplicate key \"a\"");
    CHECK_THROWS_WITH(json::parse(R"({"linux":{"uidMappings":[{"size":1,"size":2}]}})", "c.json"),
                      "c.json: linux.uidMappings[0]: duplicate key \"size\"");
    CHECK_NOTHROW(json::parse(R"({"a":{"x":1},"b":{"x":1}})", "f"));
    // Past the first 16 members too, the 17th or a later one repeating any.
    std::string many = "{";
    for (int i = 0; i < 40; ++i) many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    CHECK_NOTHROW(json::parse(many + "\"z\":0}", "f"));
    CHECK_THROWS_WITH(json::parse(many + "\"k3\":0}", "f"), "f: duplicate key \"k3\"");
    CHECK_THROWS_WITH(json::parse(many + "\"k39\":0}", "f"), "f: duplicate key \"k39\"");
    CHECK_THROWS_WITH(json::parse(R"({"k0":0,"k1":1,"k1":2})", "f"), "f: duplicate key \"k1\"");
}

TEST_CASE("syntax errors, depth and size caps", "[json]") {
    CHECK_THROWS_WITH(json::parse("{\"a\":", "f"), Catch::StartsWith("f: invalid JSON"));
    std::string deep(70, '[');
    deep += std::string(70, ']');
    std::string at64;
    for (int i = 0; i < 64; ++i) at64 += "[0]";
    CHECK_THROWS_WITH(json::parse(deep, "f"), "f: " + at64 + ": nesting deeper than 64 levels");
    CHECK_THROWS_WITH(json::parse(R"({"a":[1,)" + std::string(63, '['), "f"),
                      "f: a[1]" + at64.substr(6) + ": nesting deeper than 64 levels");
    std::string big(json::kMaxInputSize + 1, ' ');
    CHECK_THROWS_WITH(json::parse(big, "f"), Catch::Contains("larger than"));
}

TEST_CASE("the tree holds every kind of value, in order, at any depth", "[json]") {
    auto doc = json::parse(R"({"a":[1,"x\"y",true,false,null,{"b":[]},[-2.5e3]],"c":{},"d":"\u00e9"})", "f");
    auto members = doc.root().members();
    REQUIRE(members.size() == 3);
    CHECK(members[0].first == "a");
    CHECK(members[2].first == "d");
    auto a = doc.root().at("a").elements();
    REQUIRE(a.size() == 7);
    CHECK(a[0].as_int32() == 1);
    CHECK(a[1].as_string() == "x\"y");
    CHECK(a[2].as_bool());
    CHECK_FALSE(a[3].as_bool());
    CHECK(a[4].is_null());
    CHECK(a[5].at("b").elements().empty());
    CHECK(a[6].elements().at(0).is_number());
    CHECK_THROWS_WITH(a[6].elements().at(0).as_int64(), "f: a[6][0]: expected a 64-bit integer, got -2.5e3");
    CHECK(doc.root().at("c").members().empty());
    CHECK(doc.root().get_string("d") == "\xc3\xa9");
    // A document larger than the arena's first block.
    std::string big = "[";
    for (int i = 0; i < 5000; ++i) big += std::string(i ? "," : "") + "{\"k\":\"" + std::to_string(i) + "\"}";
    auto many = json::parse(big + "]", "f");
    CHECK(many.root().elements().at(4999).get_string("k") == "4999");
}

TEST_CASE("typed getters name the path and check ranges", "[json]") {
    auto doc = json::parse(R"({"u":{"uid":1.5,"big":18446744073709551615,"neg":-1,"s":"x","n":70000,"i":-5}})", "c");
    auto u = doc.root().at("u");
    CHECK_THROWS_WITH(u.at("uid").as_uint32(), "c: u.uid: expected an unsigned 32-bit integer, got 1.5");
    CHECK(u.at("big").as_uint64() == 18446744073709551615ULL);
    CHECK_THROWS_WITH(u.at("big").as_int64(), "c: u.big: expected a 64-bit integer, got 18446744073709551615");
    CHECK_THROWS_WITH(u.at("neg").as_uint32(), "c: u.neg: expected an unsigned 32-bit integer, got -1");
    CHECK_THROWS_WITH(u.at("s").as_bool(), "c: u.s: expected a boolean, got a string");
    CHECK_THROWS_WITH(u.at("n").as_uint16(), Catch::Contains("unsigned 16-bit"));
    CHECK(u.at("i").as_int32() == -5);
    CHECK_THROWS_WITH(u.at("missing"), "c: u.missing: required field is missing");
    CHECK(u.get_string_or("missing", "d") == "d");
    CHECK_THROWS_WITH(doc.root().at("u").at("s").elements(), "c: u.s: expected an array, got a string");
}

TEST_CASE("null members count as absent", "[json]") {
    auto doc = json::parse(R"({"a":null})", "f");
    CHECK_FALSE(doc.root().has("a"));
}

TEST_CASE("writer: compact, pretty, no escaped solidus", "[json]") {
    json::Writer w(false);
    w.begin_object().key("path").string("/run/x").key("n").integer(-3).key("u").uinteger(18446744073709551615ULL);
    w.key("b").boolean(true).key("z").null().key("a").begin_array().string("q\"").end_array().end_object();
    CHECK(w.result() == R"({"path":"/run/x","n":-3,"u":18446744073709551615,"b":true,"z":null,"a":["q\""]})");
    json::Writer p(true);
    p.begin_object().key("a").integer(1).end_object();
    CHECK(p.result() == "{\n  \"a\": 1\n}");
}

TEST_CASE("writer: valid UTF-8 goes out as it is, each invalid sequence (and NUL) as U+FFFD", "[json]") {
    auto out = [](std::string_view s) {
        json::Writer w(false);
        w.begin_array().string(s).end_array();
        return w.result();
    };
    CHECK(out("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3") == "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3\"]");
    CHECK(out("a\xff" "b") == "[\"a\xef\xbf\xbd" "b\"]");                      // not a lead byte
    CHECK(out("a\xc3") == "[\"a\xef\xbf\xbd\"]");                          // cut short
    CHECK(out("\xc0\xaf") == "[\"\xef\xbf\xbd\xef\xbf\xbd\"]");           // overlong '/'
    CHECK(out("\xed\xa0\x80") == "[\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]");  // a surrogate
    // A NUL too (a probe's binary output): what we write, our reader must read.
    std::string written = out(std::string_view("a\0b", 3));
    CHECK(written == "[\"a\xef\xbf\xbd" "b\"]");
    CHECK(json::parse(written, "w").root().as_string_array() == std::vector<std::string>{"a\xef\xbf\xbd" "b"});
}

TEST_CASE("a \\u0000 (NUL) in a key or a string is refused, naming where", "[json]") {
    // Every C-string reader after yajl would cut at the NUL: "User\u0000" and "User"
    // would be two keys here and one to them.
    CHECK_THROWS_WITH(json::parse(R"({"User\u0000": "0", "User": "65534"})", "c.json"),
                      "c.json: a string holds \\u0000 (NUL), which is not allowed");
    CHECK_THROWS_WITH(json::parse(R"({"process": {"user\u0000x": 1}})", "c.json"),
                      "c.json: process: a string holds \\u0000 (NUL), which is not allowed");
    CHECK_THROWS_WITH(json::parse(R"({"mounts": [{"destination": "/proc\u0000/../.."}]})", "c.json"),
                      "c.json: mounts[0].destination: a string holds \\u0000 (NUL), which is not allowed");
    // An escaped backslash followed by "u0000" is an ordinary string.
    CHECK(json::parse(R"({"a": "\\u0000"})", "c.json").root().get_string("a") == "\\u0000");
}
