// Go's literal syntax and fmt verbs, for the templates of template.cpp.  Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crunlite::json::go {

void append_utf8(std::string& out, uint32_t code_point);

// The bytes of the UTF-8 sequence at s[i] (1 for a stray byte).
size_t utf8_len(std::string_view s, size_t i);

// Go's string ("...") and character ('.') literals, from the opening quote at
// s[i]: the text, and i moved past the closing quote.  nullopt for bad syntax
// (an unknown escape, a newline, no closing quote).
std::optional<std::string> unquote(std::string_view s, size_t& i);

// A number literal of Go's (-12, +5, 0x1F, 0o17, 0b101, 017, 1_000, 1.5, .5,
// 2e3, 'a') as templates print it: an integral value in decimal, others as
// Go's %v of a float64.  nullopt for bad syntax or an int64 overflow.
std::optional<std::string> number(std::string literal);

// An argument of format(): its kind, its text (a number as written, a
// string), and how %v prints it.
struct Arg {
    enum Kind { Other, Bool, Num, Str } kind;
    std::string text;
    std::string printed;
    bool b = false;
};

// Go's fmt.Sprintf: verbs %v %s %q %d %b %o %x %X %c %U %e %E %f %F %g %G %t
// %%, flags "-+# 0", width and precision.  A verb without an argument prints
// %!v(MISSING), one of the wrong kind %!d(text), arguments left over
// %!(EXTRA ...).  Throws Error(EINVAL) for a width or precision above 9999.
std::string format(const std::string& fmt, const std::vector<Arg>& args);

}  // namespace crunlite::json::go
