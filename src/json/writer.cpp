// Writer: JSON text through yajl_gen, strings repaired to valid UTF-8 first.
#include <yajl/yajl_gen.h>

#include <string>
#include <string_view>

#include "crunlite/base/error.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::json {
namespace {

// The length of the valid UTF-8 sequence at s[i], 0 when it is not one
// (overlong forms, surrogates and values above U+10FFFF are invalid too), or
// when it is a NUL: our reader refuses "\u0000" (json.cpp), so what we write
// (a probe's output in health.json, say) must not hold one.
size_t utf8_sequence(std::string_view s, size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return 0;
    if (c < 0x80) return 1;
    size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return 0;
    uint32_t cp = len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t j = 1; j < len; ++j) {
        auto cc = static_cast<unsigned char>(s[i + j]);
        if ((cc & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

bool is_utf8(std::string_view s) {
    for (size_t i = 0, len; i < s.size(); i += len)
        if ((len = utf8_sequence(s, i)) == 0) return false;
    return true;
}

// `s` with every invalid UTF-8 sequence (and NUL) replaced by U+FFFD.
std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    size_t i = 0;
    while (i < s.size()) {
        size_t len = utf8_sequence(s, i);
        if (len) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\xef\xbf\xbd";
            ++i;
        }
    }
    return out;
}

}  // namespace

Writer::Writer(bool pretty) : gen_(yajl_gen_alloc(nullptr)) {
    if (!gen_) throw Error(ENOMEM, "json writer: cannot allocate a generator");
    if (pretty) {
        yajl_gen_config(gen_, yajl_gen_beautify, 1);
        yajl_gen_config(gen_, yajl_gen_indent_string, "  ");
    }
    // Explicit, though it is yajl's default: runc writes "/run", never "\/run".
    yajl_gen_config(gen_, yajl_gen_escape_solidus, 0);
    // string() repairs UTF-8 itself, so yajl never has a reason to refuse a string.
    yajl_gen_config(gen_, yajl_gen_validate_utf8, 0);
}

Writer::~Writer() { yajl_gen_free(gen_); }

namespace {
void gen_check(yajl_gen_status st) {
    if (st == yajl_gen_status_ok) return;
    const char* why = st == yajl_gen_keys_must_be_strings        ? "a key must be a string"
                      : st == yajl_max_depth_exceeded            ? "nesting too deep"
                      : st == yajl_gen_in_error_state            ? "earlier error"
                      : st == yajl_gen_generation_complete       ? "document already complete"
                      : st == yajl_gen_invalid_number            ? "invalid number"
                      : st == yajl_gen_invalid_string            ? "invalid string"
                                                                 : "invalid call sequence";
    throw Error(EINVAL, std::string("json writer: ") + why);
}
}  // namespace

Writer& Writer::begin_object() {
    gen_check(yajl_gen_map_open(gen_));
    return *this;
}
Writer& Writer::end_object() {
    gen_check(yajl_gen_map_close(gen_));
    return *this;
}
Writer& Writer::begin_array() {
    gen_check(yajl_gen_array_open(gen_));
    return *this;
}
Writer& Writer::end_array() {
    gen_check(yajl_gen_array_close(gen_));
    return *this;
}
Writer& Writer::key(std::string_view k) { return string(k); }
Writer& Writer::string(std::string_view s) {
    // Almost always valid already: copied only to repair it.
    std::string repaired;
    if (!is_utf8(s)) s = repaired = valid_utf8(s);
    gen_check(yajl_gen_string(gen_, reinterpret_cast<const unsigned char*>(s.data()), s.size()));
    return *this;
}
Writer& Writer::integer(int64_t v) {
    gen_check(yajl_gen_integer(gen_, v));
    return *this;
}
Writer& Writer::uinteger(uint64_t v) {
    // yajl_gen_integer takes long long; values above INT64_MAX go out as number text.
    std::string text = std::to_string(v);
    gen_check(yajl_gen_number(gen_, text.data(), text.size()));
    return *this;
}
Writer& Writer::boolean(bool v) {
    gen_check(yajl_gen_bool(gen_, v));
    return *this;
}
Writer& Writer::null() {
    gen_check(yajl_gen_null(gen_));
    return *this;
}
Writer& Writer::value(const Value& v) {
    if (v.is_object()) {
        begin_object();
        for (const auto& [k, m] : v.members()) key(k).value(m);
        return end_object();
    }
    if (v.is_array()) {
        begin_array();
        for (const auto& e : v.elements()) value(e);
        return end_array();
    }
    if (v.is_string()) return string(v.as_string());
    if (v.is_bool()) return boolean(v.as_bool());
    if (v.is_number()) {
        std::string text = v.number_text();
        gen_check(yajl_gen_number(gen_, text.data(), text.size()));
        return *this;
    }
    return null();
}
Writer& Writer::string_array(const std::vector<std::string>& values) {
    begin_array();
    for (const auto& v : values) string(v);
    return end_array();
}

std::string Writer::result() const {
    const unsigned char* buf = nullptr;
    size_t len = 0;
    yajl_gen_get_buf(gen_, &buf, &len);
    std::string out(reinterpret_cast<const char*>(buf), len);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace crunlite::json
