#include "crunlite/json/json.hpp"

#include <cstring>

#include <yajl/yajl_parse.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <set>

#include "crunlite/base/error.hpp"

namespace crunlite::json {
namespace {

std::string prefixed(const std::string& source, const std::string& path, const std::string& message) {
    return path.empty() ? source + ": " + message : source + ": " + path + ": " + message;
}

// ---------------------------------------------------------------------------
// Pre-pass with yajl's event parser.  yajl_tree neither rejects duplicate keys
// nor limits depth, and both its builder and yajl_tree_free recurse once per
// nesting level, so a hostile document must be refused before a tree exists.
// The event parser keeps its own explicit stack and gives exact positions for
// syntax errors.  Callbacks are C frames: they never throw, they record the
// error and return 0 to stop the parse.

struct Frame {
    bool object = false;
    size_t count = 0;  // array: elements seen so far
    std::string key;   // object: current member
    // Object: the members seen so far, in a short list searched in order
    // (config objects have a few), moved into a set past kFewKeys.
    static constexpr size_t kFewKeys = 16;
    std::vector<std::string> few;
    std::set<std::string> many;

    // Records `k`; false when it was there already.
    bool add_key(const std::string& k) {
        if (many.empty()) {
            if (std::find(few.begin(), few.end(), k) != few.end()) return false;
            if (few.size() < kFewKeys) {
                few.push_back(k);
                return true;
            }
            many.insert(few.begin(), few.end());
            few.clear();
        }
        return many.insert(k).second;
    }
};

struct Checker {
    std::vector<Frame> stack;
    std::string error_path;
    std::string error_message;

    // Path of the first n frames' current positions: "a.b[2].c".
    std::string path_upto(size_t n) const {
        std::string p;
        for (size_t i = 0; i < n; ++i) {
            const Frame& f = stack[i];
            if (f.object) {
                if (!p.empty()) p += '.';
                p += f.key;
            } else {
                p += '[' + std::to_string(f.count - 1) + ']';
            }
        }
        return p;
    }

    int fail(std::string path, std::string message) {
        error_path = std::move(path);
        error_message = std::move(message);
        return 0;
    }

    void before_value() {
        if (!stack.empty() && !stack.back().object) ++stack.back().count;
    }

    int open(bool object) {
        before_value();
        if (stack.size() >= static_cast<size_t>(kMaxDepth))
            return fail(path_upto(stack.size()), "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
        stack.emplace_back();
        stack.back().object = object;
        return 1;
    }

    // A "\u0000" escape decodes to a NUL, which yajl_tree (and every C string
    // after it) cuts the string at: {"User\u0000": "0", "User": "65534"} would
    // read as uid 0 here and as 65534 to every other reader.  Refused in keys
    // and in values, naming where.
    // `depth`: the frames whose path names where (the path is made only for the message).
    int no_nul(const unsigned char* s, size_t len, size_t depth) {
        if (std::memchr(s, 0, len)) return fail(path_upto(depth), "a string holds \\u0000 (NUL), which is not allowed");
        return 1;
    }

    int key(std::string k) {
        Frame& f = stack.back();
        if (!f.add_key(k)) return fail(path_upto(stack.size() - 1), "duplicate key \"" + k + "\"");
        f.key = std::move(k);
        return 1;
    }
};

Checker& ck(void* ctx) { return *static_cast<Checker*>(ctx); }

int on_scalar(void* ctx) {
    ck(ctx).before_value();
    return 1;
}
int on_bool(void* ctx, int) { return on_scalar(ctx); }
int on_number(void* ctx, const char*, size_t) { return on_scalar(ctx); }
int on_string(void* ctx, const unsigned char* s, size_t len) {
    Checker& c = ck(ctx);
    c.before_value();
    try {
        return c.no_nul(s, len, c.stack.size());
    } catch (...) {
        return c.fail("", "out of memory");
    }
}
int on_start_map(void* ctx) {
    try {
        return ck(ctx).open(true);
    } catch (...) {  // bad_alloc must not unwind through yajl
        return ck(ctx).fail("", "out of memory");
    }
}
int on_start_array(void* ctx) {
    try {
        return ck(ctx).open(false);
    } catch (...) {
        return ck(ctx).fail("", "out of memory");
    }
}
int on_map_key(void* ctx, const unsigned char* k, size_t len) {
    try {
        Checker& c = ck(ctx);
        if (!c.no_nul(k, len, c.stack.size() - 1)) return 0;
        return c.key(std::string(reinterpret_cast<const char*>(k), len));
    } catch (...) {
        return ck(ctx).fail("", "out of memory");
    }
}
int on_end(void* ctx) {
    ck(ctx).stack.pop_back();
    return 1;
}

const yajl_callbacks kCheckCallbacks = {
    on_scalar,  // null
    on_bool,
    nullptr,    // integer: with yajl_number set, numbers arrive as text and never overflow
    nullptr,    // double
    on_number,
    on_string,
    on_start_map,
    on_map_key,
    on_end,     // end_map
    on_start_array,
    on_end,     // end_array
};

struct HandleDeleter {
    void operator()(yajl_handle h) const { yajl_free(h); }
};

std::string position(std::string_view text, size_t offset) {
    if (offset > text.size()) offset = text.size();
    size_t line = 1, col = 1;
    for (size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

void check_document(std::string_view text, const std::string& source) {
    Checker checker;
    std::unique_ptr<yajl_handle_t, HandleDeleter> h(yajl_alloc(&kCheckCallbacks, nullptr, &checker));
    if (!h) throw Error(ENOMEM, source + ": cannot allocate a JSON parser");
    // Defaults are strict: no comments, UTF-8 validated, one value, no trailing garbage.
    yajl_status st = yajl_parse(h.get(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
    size_t offset = yajl_get_bytes_consumed(h.get());
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h.get());
        offset = text.size();
    }
    if (st == yajl_status_ok) return;
    if (st == yajl_status_client_canceled)
        throw Error(EINVAL, prefixed(source, checker.error_path, checker.error_message));
    unsigned char* raw = yajl_get_error(h.get(), 0, nullptr, 0);
    std::string msg = raw ? reinterpret_cast<const char*>(raw) : "syntax error";
    if (raw) yajl_free_error(h.get(), raw);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw Error(EINVAL, source + ": invalid JSON at " + position(text, offset) + ": " + msg);
}

// The length of the valid UTF-8 sequence at s[i], 0 when it is not one
// (overlong forms, surrogates and values above U+10FFFF are invalid too).
size_t utf8_sequence(std::string_view s, size_t i) {
    auto c = static_cast<unsigned char>(s[i]);
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

// `s` with every invalid UTF-8 sequence replaced by U+FFFD.
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

Document parse(std::string_view text, const std::string& source) {
    if (text.size() > kMaxInputSize)
        throw Error(EINVAL, source + ": larger than " + std::to_string(kMaxInputSize) + " bytes");
    // yajl_tree_parse takes a C string: an embedded NUL would silently end the document.
    if (text.find('\0') != std::string_view::npos) throw Error(EINVAL, source + ": contains a NUL byte");
    check_document(text, source);
    std::string buf(text);
    char err[512] = {0};
    yajl_val tree = yajl_tree_parse(buf.c_str(), err, sizeof err);
    if (!tree) {  // not expected after check_document; keep yajl's words
        std::string msg = err;
        for (auto& c : msg)
            if (c == '\n') c = ' ';
        throw Error(EINVAL, source + ": invalid JSON: " + msg);
    }
    return Document(TreePtr(tree), source);
}

// ---------------------------------------------------------------------------
// Value

std::string Value::kind() const {
    if (is_null()) return "null";
    if (is_string()) return "a string";
    if (is_object()) return "an object";
    if (is_array()) return "an array";
    if (is_bool()) return "a boolean";
    return "a number";
}

void Value::fail(const std::string& message) const { throw Error(EINVAL, prefixed(*source_, path_, message)); }

std::string Value::member_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void Value::require_object() const {
    if (!is_object()) fail("expected an object, got " + kind());
}

bool Value::has(const char* key) const { return find(key).has_value(); }

std::optional<Value> Value::find(const char* key) const {
    require_object();
    for (size_t i = 0; i < v_->u.object.len; ++i) {
        if (std::string_view(v_->u.object.keys[i]) == key) {
            yajl_val m = v_->u.object.values[i];
            if (!m || YAJL_IS_NULL(m)) return std::nullopt;
            return Value(m, *source_, member_path(key));
        }
    }
    return std::nullopt;
}

Value Value::at(const char* key) const {
    auto v = find(key);
    if (!v) Value(nullptr, *source_, member_path(key)).fail("required field is missing");
    return *v;
}

std::vector<std::pair<std::string, Value>> Value::members() const {
    require_object();
    std::vector<std::pair<std::string, Value>> out;
    out.reserve(v_->u.object.len);
    for (size_t i = 0; i < v_->u.object.len; ++i)
        out.emplace_back(v_->u.object.keys[i],
                         Value(v_->u.object.values[i], *source_, member_path(v_->u.object.keys[i])));
    return out;
}

std::vector<Value> Value::elements() const {
    if (!is_array()) fail("expected an array, got " + kind());
    std::vector<Value> out;
    out.reserve(v_->u.array.len);
    for (size_t i = 0; i < v_->u.array.len; ++i)
        out.push_back(Value(v_->u.array.values[i], *source_, path_ + "[" + std::to_string(i) + "]"));
    return out;
}

std::string Value::as_string() const {
    if (!is_string()) fail("expected a string, got " + kind());
    return YAJL_GET_STRING(v_);
}

bool Value::as_bool() const {
    if (!is_bool()) fail("expected a boolean, got " + kind());
    return YAJL_IS_TRUE(v_);
}

std::pair<bool, uint64_t> Value::integer_parts(const char* what) const {
    if (!is_number()) fail(std::string("expected ") + what + ", got " + kind());
    // yajl keeps every number's text; reading it ourselves avoids both
    // long long overflow (uint64 above INT64_MAX) and double rounding.
    std::string_view text = YAJL_GET_NUMBER(v_) ? YAJL_GET_NUMBER(v_) : "";
    std::string shown(text.substr(0, 40));
    bool negative = !text.empty() && text[0] == '-';
    std::string_view digits = negative ? text.substr(1) : text;
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
        fail(std::string("expected ") + what + ", got " + shown);
    errno = 0;
    unsigned long long magnitude = std::strtoull(std::string(digits).c_str(), nullptr, 10);
    if (errno == ERANGE) fail(std::string("expected ") + what + ", got " + shown + " (out of range)");
    return {negative && magnitude != 0, magnitude};
}

int64_t Value::as_int64() const {
    const char* what = "a 64-bit integer";
    auto [negative, magnitude] = integer_parts(what);
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    if (negative) {
        if (magnitude > kMax + 1) fail(std::string("expected ") + what + ", got a value out of range");
        return magnitude == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(magnitude);
    }
    if (magnitude > kMax) fail(std::string("expected ") + what + ", got " + std::to_string(magnitude));
    return static_cast<int64_t>(magnitude);
}

int32_t Value::as_int32() const {
    const char* what = "a 32-bit integer";
    auto [negative, magnitude] = integer_parts(what);
    if (negative ? magnitude > 0x80000000ULL : magnitude > 0x7fffffffULL)
        fail(std::string("expected ") + what + ", got " + (negative ? "-" : "") + std::to_string(magnitude));
    return negative ? static_cast<int32_t>(-static_cast<int64_t>(magnitude)) : static_cast<int32_t>(magnitude);
}

uint64_t Value::as_uint64() const {
    const char* what = "an unsigned 64-bit integer";
    auto [negative, magnitude] = integer_parts(what);
    if (negative) fail(std::string("expected ") + what + ", got -" + std::to_string(magnitude));
    return magnitude;
}

uint32_t Value::as_uint32() const {
    const char* what = "an unsigned 32-bit integer";
    auto [negative, magnitude] = integer_parts(what);
    if (negative || magnitude > std::numeric_limits<uint32_t>::max())
        fail(std::string("expected ") + what + ", got " + (negative ? "-" : "") + std::to_string(magnitude));
    return static_cast<uint32_t>(magnitude);
}

uint16_t Value::as_uint16() const {
    const char* what = "an unsigned 16-bit integer";
    auto [negative, magnitude] = integer_parts(what);
    if (negative || magnitude > std::numeric_limits<uint16_t>::max())
        fail(std::string("expected ") + what + ", got " + (negative ? "-" : "") + std::to_string(magnitude));
    return static_cast<uint16_t>(magnitude);
}

std::vector<std::string> Value::as_string_array() const {
    std::vector<std::string> out;
    for (const auto& e : elements()) out.push_back(e.as_string());
    return out;
}

std::map<std::string, std::string> Value::as_string_map() const {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : members()) out[k] = v.as_string();
    return out;
}

std::string Value::get_string_or(const char* key, const std::string& dflt) const {
    auto v = find(key);
    return v ? v->as_string() : dflt;
}

int64_t Value::get_int64_or(const char* key, int64_t dflt) const {
    auto v = find(key);
    return v ? v->as_int64() : dflt;
}

bool Value::get_bool_or(const char* key, bool dflt) const {
    auto v = find(key);
    return v ? v->as_bool() : dflt;
}

std::vector<std::string> Value::get_string_array_or(const char* key) const {
    auto v = find(key);
    return v ? v->as_string_array() : std::vector<std::string>{};
}

std::map<std::string, std::string> Value::get_string_map_or(const char* key) const {
    auto v = find(key);
    return v ? v->as_string_map() : std::map<std::string, std::string>{};
}

namespace {
template <typename T, typename Conv>
std::optional<T> optional_member(const Value& obj, const char* key, Conv conv) {
    auto v = obj.find(key);
    if (!v) return std::nullopt;
    return ((*v).*conv)();
}
}  // namespace

std::optional<std::string> Value::find_string(const char* key) const {
    return optional_member<std::string>(*this, key, &Value::as_string);
}
std::optional<bool> Value::find_bool(const char* key) const {
    return optional_member<bool>(*this, key, &Value::as_bool);
}
std::optional<int64_t> Value::find_int64(const char* key) const {
    return optional_member<int64_t>(*this, key, &Value::as_int64);
}
std::optional<int32_t> Value::find_int32(const char* key) const {
    return optional_member<int32_t>(*this, key, &Value::as_int32);
}
std::optional<uint64_t> Value::find_uint64(const char* key) const {
    return optional_member<uint64_t>(*this, key, &Value::as_uint64);
}
std::optional<uint32_t> Value::find_uint32(const char* key) const {
    return optional_member<uint32_t>(*this, key, &Value::as_uint32);
}
std::optional<uint16_t> Value::find_uint16(const char* key) const {
    return optional_member<uint16_t>(*this, key, &Value::as_uint16);
}

// ---------------------------------------------------------------------------
// Writer

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
