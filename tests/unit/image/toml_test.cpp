#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/image/toml.hpp"

using namespace crunlite::image;
using crunlite::Error;

namespace {
toml::Value parse(const std::string& text) { return toml::parse(text, "t.conf"); }

// The message of the Error that parsing `text` throws ("" when it parses).
std::string error_of(const std::string& text) {
    try {
        toml::parse(text, "t.conf");
    } catch (const Error& e) {
        CHECK(e.code() == EINVAL);
        return e.message();
    }
    return "";
}
}  // namespace

TEST_CASE("toml: keys, strings, booleans, integers and comments", "[toml]") {
    toml::Value t = parse("# a comment\n"
                          "bare_key-1 = \"v\"  # after a value\n"
                          "\"quoted key\" = 'literal \\n no escapes'\n"
                          "'literal key' = true\n"
                          "\"\" = false\n"
                          "\tindented = 42\n"
                          "neg = -17\n"
                          "pos = +1_000\n"
                          "zero = 0\n"
                          "escapes = \"q\\\" b\\\\ n\\n t\\t \\u00e9 \\U0001F600 \\b\\f\\r\"\n"
                          "empty = \"\"\r\n"
                          "hash = \"a # not a comment\"\n");
    REQUIRE(t.is_table());
    CHECK(t.get("bare_key-1")->string == "v");
    CHECK(t.get("quoted key")->string == "literal \\n no escapes");
    CHECK(t.get("literal key")->is_boolean());
    CHECK(t.get("literal key")->boolean);
    CHECK_FALSE(t.get("")->boolean);
    CHECK(t.get("indented")->is_integer());
    CHECK(t.get("indented")->integer == 42);
    CHECK(t.get("neg")->integer == -17);
    CHECK(t.get("pos")->integer == 1000);
    CHECK(t.get("zero")->integer == 0);
    CHECK(t.get("escapes")->string == "q\" b\\ n\n t\t \xC3\xA9 \xF0\x9F\x98\x80 \b\f\r");
    CHECK(t.get("empty")->is_string());
    CHECK(t.get("empty")->string.empty());
    CHECK(t.get("hash")->string == "a # not a comment");
    CHECK(t.get("missing") == nullptr);
    CHECK(t.get("neg")->get("x") == nullptr);  // not a table
    CHECK(t.keys.front() == "bare_key-1");     // file order
    CHECK(t.get("zero")->line == 9);
    CHECK(parse("").items.empty());
    CHECK(parse("\n  \n# only comments\n").items.empty());
    CHECK(parse("\xEF\xBB\xBFk = 1").get("k")->integer == 1);  // a byte order mark
    CHECK(parse("big = 9223372036854775807").get("big")->integer == INT64_MAX);
    CHECK(parse("small = -9223372036854775808").get("small")->integer == INT64_MIN);
}

TEST_CASE("toml: arrays over several lines, with comments and trailing commas", "[toml]") {
    toml::Value t = parse("empty = []\n"
                          "one = [ \"a\" ]\n"
                          "regs = [\n"
                          "  \"registry.example\",  # the first\n"
                          "  # a comment line\n"
                          "\n"
                          "  'quay.example',\n"
                          "]\n"
                          "mixed = [1, true, \"s\", [\"nested\"]]\n"
                          "after = 1\n");
    CHECK(t.get("empty")->is_array());
    CHECK(t.get("empty")->items.empty());
    REQUIRE(t.get("one")->items.size() == 1);
    const toml::Value* regs = t.get("regs");
    REQUIRE(regs->items.size() == 2);
    CHECK(regs->items[0].string == "registry.example");
    CHECK(regs->items[1].string == "quay.example");
    const toml::Value* mixed = t.get("mixed");
    REQUIRE(mixed->items.size() == 4);
    CHECK(mixed->items[1].boolean);
    CHECK(mixed->items[3].items[0].string == "nested");
    CHECK(t.get("after")->line == 10);
}

TEST_CASE("toml: tables, dotted keys and arrays of tables", "[toml]") {
    toml::Value t = parse("top = 1\n"
                          "[aliases]\n"
                          "\"app\" = \"registry.example/app\"\n"
                          "'other' = \"x\"\n"
                          "[ a . \"b c\" . d ]\n"
                          "k = 2\n"
                          "[a]\n"  // created implicitly above: may be defined once
                          "dotted.key = 3\n"
                          "dotted.more = 4\n"
                          "[[registry]]\n"
                          "location = \"one\"\n"
                          "[[registry.mirror]]\n"
                          "location = \"m1\"\n"
                          "[[registry.mirror]]\n"
                          "location = \"m2\"\n"
                          "[[registry]]\n"
                          "location = \"two\"\n"
                          "[[registry.mirror]]\n"
                          "location = \"m3\"\n"
                          "[registry.sub]\n"
                          "x = 5\n");
    CHECK(t.get("top")->integer == 1);
    const toml::Value* aliases = t.get("aliases");
    REQUIRE(aliases->is_table());
    CHECK(aliases->keys == std::vector<std::string>{"app", "other"});
    CHECK(aliases->get("app")->string == "registry.example/app");
    CHECK(t.get("a")->get("b c")->get("d")->get("k")->integer == 2);
    CHECK(t.get("a")->get("dotted")->get("key")->integer == 3);
    CHECK(t.get("a")->get("dotted")->get("more")->integer == 4);
    const toml::Value* regs = t.get("registry");
    REQUIRE(regs->is_array());
    REQUIRE(regs->items.size() == 2);
    CHECK(regs->items[0].get("location")->string == "one");
    REQUIRE(regs->items[0].get("mirror")->items.size() == 2);
    CHECK(regs->items[0].get("mirror")->items[1].get("location")->string == "m2");
    CHECK(regs->items[1].get("location")->string == "two");
    REQUIRE(regs->items[1].get("mirror")->items.size() == 1);
    CHECK(regs->items[1].get("mirror")->items[0].get("location")->string == "m3");
    CHECK(regs->items[1].get("sub")->get("x")->integer == 5);  // into the last [[registry]]
    CHECK(parse("a.b.c = 1").get("a")->get("b")->get("c")->integer == 1);
    CHECK(parse("[x]\n[[x.y]]\n[[x.y]]").get("x")->get("y")->items.size() == 2);
}

TEST_CASE("toml: what is not read, malformed or defined twice fails with the line", "[toml]") {
    auto fails = [](const std::string& text, const std::string& why) {
        CHECK_THAT(error_of(text), Catch::Contains(why));
    };
    // Duplicates and redefinitions.
    fails("a = 1\n\nb = 2\na = 3", "t.conf:4: duplicate key a (first defined on line 1)");
    fails("[t]\n\"k\" = 1\n'k' = 2", "t.conf:3: duplicate key k (first defined on line 2)");
    fails("[t]\nx = 1\n[t]", "t.conf:3: [t]: t is already defined (line 1)");
    fails("a = 1\n[a]", "t.conf:2: [a]: a is already an integer (line 1)");
    fails("a = [1]\n[[a]]", "t.conf:2: [[a]]: a is already an array (line 1)");
    fails("[[a]]\n[a]", "t.conf:2: [a]: a is already an array of tables (line 1)");
    fails("a = 1\n[a.b]", "t.conf:2: [a.b]: a is already an integer (line 1), not a table");
    fails("a.b = 1\na.b.c = 2", "t.conf:2: key a.b.c: a.b is already an integer (line 1)");
    fails("[t.u]\n[t]\nu.v = 1", "t.conf:3: key u.v: u is already a table with a [header] (line 1)");
    fails("[t]\nu.v = 1\n[t.u]", "t.conf:3: [t.u]: t.u is already defined (line 2)");
    fails("[[r]]\nm = 1\n[[r.m]]", "t.conf:3: [[r.m]]: r.m is already an integer (line 2)");
    // Not supported.
    fails("a = \"\"\"x\"\"\"", "t.conf:1: multi-line strings");
    fails("a = '''x'''", "t.conf:1: multi-line strings");
    fails("\n[[registry]]\nmirror = [{ location = \"m\" }]", "t.conf:3: inline tables ({...}) are not supported");
    fails("a = {}", "t.conf:1: inline tables");
    fails("a = 1.5", "t.conf:1: unsupported number `1.5`");
    fails("a = 1e3", "unsupported number `1e3`");
    fails("a = inf", "unsupported number `inf`");
    fails("a = 1979-05-27T07:32:00Z", "unsupported number `1979-05-27T07:32:00Z`");
    fails("a = 0x1F", "t.conf:1: unsupported integer `0x1F`: only decimal integers are read");
    fails("a = 012", "unsupported number `012`");
    fails("a = 99999999999999999999", "t.conf:1: integer 99999999999999999999 out of range");
    // Malformed.
    fails("a = [", "t.conf:1: unterminated array (opened on line 1)");
    fails("a = [\n\"x\",\n", "t.conf:3: unterminated array (opened on line 1)");
    fails("a = [\"x\" \"y\"]", "t.conf:1: expected `,` or `]` in the array, found `\"y\"]`");
    fails("a = [,]", "t.conf:1: expected a value, found `,]`");
    fails("a = \"x", "t.conf:1: unterminated string");
    fails("a = 'x\n'", "t.conf:1: unterminated string");
    fails("a = \"\\x\"", "t.conf:1: invalid escape \\x");
    fails("a = \"\\u12\"", "t.conf:1: \\u needs 4 hex digits");
    fails("a = \"\\uD800\"", "not a Unicode scalar value");
    fails("a = \"\\U00110000\"", "not a Unicode scalar value");
    fails("a = \"tab\tok, bell\a not\"", "t.conf:1: control character 7 in a string");
    fails("a = yes", "t.conf:1: invalid value `yes` (a string needs quotes");
    fails("a =", "t.conf:1: expected a value, found the end of the file");
    fails("a = \n", "t.conf:1: expected a value, found the end of the line");
    fails("a", "t.conf:1: expected `=` after the key a, found the end of the file");
    fails("a b = 1", "t.conf:1: expected `=` after the key a, found `b = 1`");
    fails("a = 1 b = 2", "t.conf:1: expected the end of the line after the value, found `b = 2`");
    fails("\n\n= 1", "t.conf:3: expected a key, a [table] header or a comment, found `= 1`");
    fails("a. = 1", "t.conf:1: expected a key, found `= 1`");
    fails("[t", "t.conf:1: expected `]` to close the table header, found the end of the file");
    fails("[[t]", "t.conf:1: expected `]]` to close the table header");
    fails("[t] x = 1", "t.conf:1: expected the end of the line after the table header, found `x = 1`");
    fails("[]", "t.conf:1: expected a key, found `]`");
    fails("a = 1\r", "t.conf:1: expected the end of the line after the value");
    fails("a = " + std::string(40, '[') + std::string(40, ']'), "t.conf:1: arrays nested more than 32 deep");
}
