// Go's literal syntax and fmt verbs, as the templates of template.cpp take them.
#include "go_format.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::json::go {
namespace {

// snprintf into a string; `f` is one conversion that crun-lite built.
template <typename T>
std::string c_format(const std::string& f, T x) {
    int len = std::snprintf(nullptr, 0, f.c_str(), x);
    std::string s(static_cast<size_t>(std::max(len, 0)), '\0');
    std::snprintf(s.data(), s.size() + 1, f.c_str(), x);
    return s;
}

// Go's %e, %f, %g of `d` with `flags` (+, space, #); precision -1: Go's default,
// 6 for %e and %f, the fewest digits that read back as `d` for %g (%e from an
// exponent of 6 or below -4 on, as Go's %v of a float64).
std::string go_float(double d, char verb, int prec, const std::string& flags) {
    if (std::tolower(verb) != 'g' || prec >= 0) return c_format("%" + flags + "." + std::to_string(prec < 0 ? 6 : prec) + verb, d);
    if (!std::isfinite(d)) return c_format("%" + flags + verb, d);
    for (int digits = 1;; ++digits) {
        std::string e = c_format("%." + std::to_string(digits - 1) + "e", d);
        if (digits < 17 && std::strtod(e.c_str(), nullptr) != d) continue;
        int exp = std::atoi(e.c_str() + e.find('e') + 1);
        if (exp < -4 || exp >= 6) return c_format("%" + flags + "." + std::to_string(digits - 1) + (verb == 'G' ? 'E' : 'e'), d);
        return c_format("%" + flags + "." + std::to_string(std::max(digits - 1 - exp, 0)) + "f", d);
    }
}

struct Spec {
    std::string flags;
    int width = 0;
    int prec = -1;
    bool has(char f) const { return flags.find(f) != std::string::npos; }
    // `s` padded to the width in characters: spaces (zeros with 0), after it with -.
    std::string pad(std::string s, bool zeros_after_sign = false) const {
        size_t chars = 0;
        for (size_t i = 0; i < s.size(); i += utf8_len(s, i)) ++chars;
        if (chars >= static_cast<size_t>(width)) return s;
        size_t n = static_cast<size_t>(width) - chars;
        if (has('-')) return s + std::string(n, ' ');
        if (!has('0')) return std::string(n, ' ') + s;
        size_t at = zeros_after_sign && !s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ') ? 1 : 0;
        return s.insert(at, n, '0');
    }
};

std::string format_one(const Spec& spec, char verb, const Arg& v) {
    auto bad = [&] { return std::string("%!") + verb + "(" + v.printed + ")"; };
    std::optional<int64_t> parsed = v.kind == Arg::Num ? parse_int(v.text) : std::nullopt;
    bool integral = parsed.has_value();
    int64_t n = parsed.value_or(0);
    auto text = [&](std::string s) {  // precision: at most that many characters
        if (spec.prec >= 0) {
            size_t end = 0;
            for (int k = 0; k < spec.prec && end < s.size(); ++k) end += utf8_len(s, end);
            s.resize(end);
        }
        return spec.pad(s);
    };
    auto sign = [&](bool negative) { return std::string(negative ? "-" : spec.has('+') ? "+" : spec.has(' ') ? " " : ""); };
    switch (verb) {
        case 'v':
        case 's': return text(v.printed);
        case 't': return v.kind == Arg::Bool ? text(v.b ? "true" : "false") : bad();
        case 'q':
            if (v.kind == Arg::Str) {
                Writer w(false);
                w.string(v.text);
                return spec.pad(w.result());
            }
            if (integral && n >= 0 && n <= 0x10FFFF) {
                std::string c;
                append_utf8(c, static_cast<uint32_t>(n));
                return spec.pad("'" + (c == "'" || c == "\\" ? "\\" + c : c) + "'");
            }
            return bad();
        case 'c':
            if (integral && n >= 0 && n <= 0x10FFFF) {
                std::string c;
                append_utf8(c, static_cast<uint32_t>(n));
                return spec.pad(c);
            }
            return bad();
        case 'U': return integral && n >= 0 ? spec.pad(c_format("U+%04llX", static_cast<unsigned long long>(n))) : bad();
        case 'd':
        case 'b':
        case 'o':
        case 'x':
        case 'X': {
            if (!integral) {
                if (v.kind != Arg::Str || (verb != 'x' && verb != 'X')) return bad();
                std::string hex;  // a string's bytes, spaced with ' '
                for (size_t k = 0; k < v.text.size(); ++k)
                    hex += (k && spec.has(' ') ? " " : "") +
                           c_format(verb == 'x' ? "%02x" : "%02X", static_cast<unsigned>(static_cast<unsigned char>(v.text[k])));
                return text(hex);
            }
            // Go writes the sign and then the magnitude, in every base.
            unsigned long long m = n < 0 ? 0ULL - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
            std::string digits;
            unsigned base = verb == 'd' ? 10 : verb == 'b' ? 2 : verb == 'o' ? 8 : 16;
            const char* symbols = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            do {
                digits.insert(digits.begin(), symbols[m % base]);
                m /= base;
            } while (m);
            if (spec.prec >= 0 && digits.size() < static_cast<size_t>(spec.prec)) digits.insert(0, static_cast<size_t>(spec.prec) - digits.size(), '0');
            if (spec.prec == 0 && n == 0) digits.clear();
            std::string prefix = !spec.has('#') ? "" : verb == 'x' ? "0x" : verb == 'X' ? "0X" : verb == 'b' ? "0b" : verb == 'o' && digits[0] != '0' ? "0" : "";
            return spec.pad(sign(n < 0) + prefix + digits, spec.prec < 0);
        }
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G': {
            if (v.kind != Arg::Num) return bad();
            std::string flags;
            for (char f : std::string("+ #"))
                if (spec.has(f)) flags += f;
            return spec.pad(go_float(std::strtod(v.text.c_str(), nullptr), verb, spec.prec, flags), true);
        }
        default: return bad();
    }
}

}  // namespace

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

size_t utf8_len(std::string_view s, size_t i) {
    size_t j = i + 1;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
    return j - i;
}

std::optional<std::string> unquote(std::string_view s, size_t& i) {
    char q = s[i];
    std::string out;
    for (++i; i < s.size() && s[i] != q; ++i) {
        if (s[i] == '\n') return std::nullopt;
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (++i >= s.size()) return std::nullopt;
        char e = s[i];
        const char* simple = std::strchr("abfnrtv\\", e);
        if (simple && e) {
            out += "\a\b\f\n\r\t\v\\"[simple - "abfnrtv\\"];
        } else if (e == q) {
            out += q;
        } else if (e == 'x' || e == 'u' || e == 'U' || (e >= '0' && e <= '7')) {
            size_t n = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 3;
            size_t from = e >= '0' && e <= '7' ? i : i + 1;
            if (from + n > s.size()) return std::nullopt;
            uint32_t v = 0;
            for (size_t k = from; k < from + n; ++k) {
                char h = static_cast<char>(std::tolower(static_cast<unsigned char>(s[k])));
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : 99;
                if (d >= (e >= '0' && e <= '7' ? 8 : 16)) return std::nullopt;
                v = v * (e >= '0' && e <= '7' ? 8 : 16) + static_cast<uint32_t>(d);
            }
            i = from + n - 1;
            if (e == 'x' || (e >= '0' && e <= '7')) {
                if (v > 255) return std::nullopt;
                out += static_cast<char>(v);  // a byte
            } else {
                if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) return std::nullopt;
                append_utf8(out, v);
            }
        } else {
            return std::nullopt;
        }
    }
    if (i >= s.size()) return std::nullopt;
    ++i;
    return out;
}

std::optional<std::string> number(std::string w) {
    bool negative = !w.empty() && w[0] == '-';
    if (!w.empty() && (w[0] == '-' || w[0] == '+')) w.erase(0, 1);
    if (w.empty()) return std::nullopt;
    if (w[0] == '\'') {
        size_t i = 0;
        std::optional<std::string> c = unquote(w, i);
        if (!c || i != w.size() || c->empty()) return std::nullopt;
        // One byte ('a', '\xff', '\377') is its value; more must be one UTF-8 character.
        auto byte = [&](size_t k) { return static_cast<unsigned char>((*c)[k]); };
        uint32_t cp = byte(0);
        size_t n = c->size();
        if (n > 1) {
            size_t want = (cp & 0xE0) == 0xC0 ? 2 : (cp & 0xF0) == 0xE0 ? 3 : (cp & 0xF8) == 0xF0 ? 4 : 0;
            if (n != want) return std::nullopt;
            cp &= 0x7Fu >> n;
            for (size_t k = 1; k < n; ++k) {
                if ((byte(k) & 0xC0) != 0x80) return std::nullopt;
                cp = cp << 6 | (byte(k) & 0x3F);
            }
        }
        return (negative ? "-" : "") + std::to_string(cp);
    }
    w.erase(std::remove(w.begin(), w.end(), '_'), w.end());
    int base = 10;
    size_t skip = 0;
    if (w.size() > 1 && w[0] == '0') {
        char b = static_cast<char>(std::tolower(static_cast<unsigned char>(w[1])));
        base = b == 'x' ? 16 : b == 'o' ? 8 : b == 'b' ? 2 : std::isdigit(static_cast<unsigned char>(b)) ? 8 : 10;
        skip = b == 'x' || b == 'o' || b == 'b' ? 2 : base == 8 ? 1 : 0;
    }
    if (base != 10 || w.find_first_of(".eE") == std::string::npos) {
        std::string digits = w.substr(skip);
        if (digits.empty()) return std::nullopt;
        errno = 0;
        char* end = nullptr;
        unsigned long long v = std::strtoull(digits.c_str(), &end, base);
        if (errno || *end || !std::isalnum(static_cast<unsigned char>(digits[0])) || v > (negative ? 1ULL << 63 : INT64_MAX))
            return std::nullopt;
        return (negative && v ? "-" : "") + std::to_string(v);
    }
    char* end = nullptr;
    double d = std::strtod(w.c_str(), &end);
    if (*end || w.find_first_of("xXpPnNiI") != std::string::npos || !std::isfinite(d)) return std::nullopt;
    if (negative) d = -d;
    if (d == std::floor(d) && std::fabs(d) < 9.2e18) return std::to_string(static_cast<long long>(d));
    return go_float(d, 'g', -1, "");
}

std::string format(const std::string& fmt, const std::vector<Arg>& args) {
    std::string out;
    size_t next = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        Spec spec;
        for (++i; i < fmt.size() && fmt[i] && std::strchr("-+# 0", fmt[i]); ++i) spec.flags += fmt[i];
        auto number = [&](int& n) {
            for (n = 0; i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])); ++i) {
                n = n * 10 + (fmt[i] - '0');
                if (n > 9999) throw Error(EINVAL, "a width or precision above 9999");
            }
        };
        number(spec.width);
        if (i < fmt.size() && fmt[i] == '.') {
            ++i;
            number(spec.prec);
        }
        if (i >= fmt.size()) {
            out += "%!(NOVERB)";
            break;
        }
        char verb = fmt[i];
        if (verb == '%') {
            out += '%';
        } else if (next >= args.size()) {
            out += std::string("%!") + verb + "(MISSING)";
        } else {
            out += format_one(spec, verb, args[next++]);
        }
    }
    if (next < args.size()) {
        out += "%!(EXTRA ";
        for (size_t k = next; k < args.size(); ++k) out += (k > next ? ", " : "") + args[k].printed;
        out += ")";
    }
    return out;
}

}  // namespace crunlite::json::go
