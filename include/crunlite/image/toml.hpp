// A small TOML (v1.0) reader for what containers-registries.conf(5) files hold:
// comments; bare, quoted and dotted keys; basic strings (with escapes) and
// literal strings; booleans; decimal integers; arrays (over several lines,
// with comments and a trailing comma); [table] and [[array.of.tables]] headers,
// [[a.b]] appending to the last [[a]].  Not read: multi-line strings, floats,
// dates and times, inline tables, non-decimal integers.  Anything unread,
// malformed or defined twice is Error(EINVAL) "SOURCE:LINE: what is wrong".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace crunlite::image::toml {

struct Value {
    enum class Type { String, Boolean, Integer, Array, Table };
    Type type = Type::Table;
    std::string string;
    bool boolean = false;
    int64_t integer = 0;
    std::vector<Value> items;       // an Array's elements, or a Table's values
    std::vector<std::string> keys;  // a Table's keys, in file order, one per item
    int line = 0;                   // where it was defined (0: the root)

    bool is_string() const { return type == Type::String; }
    bool is_boolean() const { return type == Type::Boolean; }
    bool is_integer() const { return type == Type::Integer; }
    bool is_array() const { return type == Type::Array; }
    bool is_table() const { return type == Type::Table; }
    // A Table's value for `key`, or null (also when this is not a Table).
    const Value* get(std::string_view key) const;

    // Parser bookkeeping: how a Table came to be, whether an Array is [[...]]'s.
    enum class Origin { Implicit, Header, Dotted };
    Origin origin = Origin::Implicit;
    bool table_array = false;
    std::map<std::string, size_t, std::less<>> index;  // a Table's key -> its position in items
};

// The root Table of `text`; `source` (the file name) starts error messages.
Value parse(std::string_view text, const std::string& source);

}  // namespace crunlite::image::toml
