#include "crunlite/json/json.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "crunlite/base/error.hpp"

namespace crunlite::json {
namespace {

std::string describe(yajl_val v) {
    if (!v || YAJL_IS_NULL(v)) return "null";
    if (YAJL_IS_STRING(v)) return "a string";
    if (YAJL_IS_OBJECT(v)) return "an object";
    if (YAJL_IS_ARRAY(v)) return "an array";
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) return "a boolean";
    return "a number";
}

// Walks the tree: duplicate keys and depth, with the path of the first offence.
void check_tree(yajl_val v, const std::string& source, const std::string& path, int depth) {
    if (depth > kMaxDepth) throw Error(EINVAL, source + ": " + (path.empty() ? "document" : path) +
                                                   ": nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    if (YAJL_IS_OBJECT(v)) {
        std::set<std::string_view> seen;
        for (size_t i = 0; i < v->u.object.len; ++i) {
            std::string_view key = v->u.object.keys[i];
            if (!seen.insert(key).second)
                throw Error(EINVAL, source + ": " + (path.empty() ? "document" : path) + ": duplicate key \"" +
                                        std::string(key) + "\"");
            check_tree(v->u.object.values[i], source, path.empty() ? std::string(key) : path + "." + std::string(key),
                       depth + 1);
        }
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; ++i)
            check_tree(v->u.array.values[i], source, path + "[" + std::to_string(i) + "]", depth + 1);
    }
}

}  // namespace

Document parse(std::string_view text, const std::string& source) {
    if (text.size() > kMaxInputSize)
        throw Error(EINVAL, source + ": larger than " + std::to_string(kMaxInputSize) + " bytes");
    std::string buf(text);  // yajl_tree_parse wants a NUL-terminated string
    if (buf.find('\0') != std::string::npos) throw Error(EINVAL, source + ": contains a NUL byte");
    char err[512] = {0};
    yajl_val tree = yajl_tree_parse(buf.c_str(), err, sizeof err);
    if (!tree) {
        std::string msg = err;
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        for (auto& c : msg)
            if (c == '\n') c = ' ';
        throw Error(EINVAL, source + ": invalid JSON: " + msg);
    }
    Document doc(std::unique_ptr<std::remove_pointer_t<yajl_val>, TreeDeleter>(tree), source);
    check_tree(tree, source, "", 0);
    return doc;
}

void Value::fail(const std::string& message) const {
    throw Error(EINVAL, source_ + ": " + (path_.empty() ? "document" : path_) + ": " + message);
}

std::string Value::member_path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

void Value::require_object() const {
    if (!is_object()) fail("expected an object, got " + describe(v_));
}

bool Value::has(const char* key) const { return find(key).has_value(); }

std::optional<Value> Value::find(const char* key) const {
    require_object();
    for (size_t i = 0; i < v_->u.object.len; ++i) {
        if (std::string_view(v_->u.object.keys[i]) == key) {
            yajl_val m = v_->u.object.values[i];
            if (!m || YAJL_IS_NULL(m)) return std::nullopt;
            return Value(m, source_, member_path(key));
        }
    }
    return std::nullopt;
}

Value Value::at(const char* key) const {
    auto v = find(key);
    if (!v) Value(nullptr, source_, member_path(key)).fail("required");
    return *v;
}

std::vector<std::pair<std::string, Value>> Value::members() const {
    require_object();
    std::vector<std::pair<std::string, Value>> out;
    for (size_t i = 0; i < v_->u.object.len; ++i)
        out.emplace_back(v_->u.object.keys[i], Value(v_->u.object.values[i], source_, member_path(v_->u.object.keys[i])));
    return out;
}

std::vector<Value> Value::elements() const {
    if (!is_array()) fail("expected an array, got " + describe(v_));
    std::vector<Value> out;
    for (size_t i = 0; i < v_->u.array.len; ++i)
        out.emplace_back(v_->u.array.values[i], source_, path_ + "[" + std::to_string(i) + "]");
    return out;
}

std::string Value::as_string() const {
    if (!is_string()) fail("expected a string, got " + describe(v_));
    return YAJL_GET_STRING(v_);
}

bool Value::as_bool() const {
    if (!v_ || !(YAJL_IS_TRUE(v_) || YAJL_IS_FALSE(v_))) fail("expected a boolean, got " + describe(v_));
    return YAJL_IS_TRUE(v_);
}

int64_t Value::as_int64() const {
    if (!v_ || !YAJL_IS_INTEGER(v_)) {
        // yajl gives up on integers beyond long long; those are out of range, not "not integers".
        if (v_ && YAJL_IS_NUMBER(v_)) {
            std::string_view text = YAJL_GET_NUMBER(v_);
            if (!text.empty() && text.find_first_not_of("-0123456789") == std::string_view::npos)
                fail("integer out of range");
        }
        fail("expected an integer, got " + describe(v_) + (v_ && YAJL_IS_DOUBLE(v_) ? " with a fraction" : ""));
    }
    return YAJL_GET_INTEGER(v_);
}

uint64_t Value::as_uint64() const {
    if (v_ && YAJL_IS_NUMBER(v_)) {
        // yajl stores integers as long long; values above INT64_MAX only survive as text.
        const char* text = YAJL_GET_NUMBER(v_);
        bool digits = text && *text;
        for (const char* p = text; p && *p; ++p)
            if (*p < '0' || *p > '9') digits = false;
        if (digits) {
            errno = 0;
            unsigned long long u = std::strtoull(text, nullptr, 10);
            if (errno == ERANGE) fail("integer out of range for an unsigned 64-bit value");
            return u;
        }
    }
    int64_t v = as_int64();
    if (v < 0) fail("expected an unsigned integer, got " + std::to_string(v));
    return static_cast<uint64_t>(v);
}

uint32_t Value::as_uint32() const {
    uint64_t v = as_uint64();
    if (v > std::numeric_limits<uint32_t>::max()) fail("expected an unsigned 32-bit integer, got " + std::to_string(v));
    return static_cast<uint32_t>(v);
}

int32_t Value::as_int32() const {
    int64_t v = as_int64();
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        fail("expected a 32-bit integer, got " + std::to_string(v));
    return static_cast<int32_t>(v);
}

uint16_t Value::as_uint16() const {
    uint64_t v = as_uint64();
    if (v > std::numeric_limits<uint16_t>::max()) fail("expected an unsigned 16-bit integer, got " + std::to_string(v));
    return static_cast<uint16_t>(v);
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

Writer::Writer(bool pretty) : gen_(yajl_gen_alloc(nullptr)) {
    if (!gen_) throw Error(ENOMEM, "yajl_gen_alloc");
    if (pretty) {
        yajl_gen_config(gen_, yajl_gen_beautify, 1);
        yajl_gen_config(gen_, yajl_gen_indent_string, "  ");
    }
    yajl_gen_config(gen_, yajl_gen_validate_utf8, 0);
}

Writer::~Writer() { yajl_gen_free(gen_); }

static void gen_check(yajl_gen_status st) {
    if (st != yajl_gen_status_ok) throw Error(EINVAL, "json writer: invalid call sequence (status " + std::to_string(st) + ")");
}

Writer& Writer::begin_object() { gen_check(yajl_gen_map_open(gen_)); return *this; }
Writer& Writer::end_object() { gen_check(yajl_gen_map_close(gen_)); return *this; }
Writer& Writer::begin_array() { gen_check(yajl_gen_array_open(gen_)); return *this; }
Writer& Writer::end_array() { gen_check(yajl_gen_array_close(gen_)); return *this; }
Writer& Writer::key(std::string_view k) { return string(k); }
Writer& Writer::string(std::string_view s) {
    gen_check(yajl_gen_string(gen_, reinterpret_cast<const unsigned char*>(s.data()), s.size()));
    return *this;
}
Writer& Writer::integer(int64_t v) { gen_check(yajl_gen_integer(gen_, v)); return *this; }
Writer& Writer::uinteger(uint64_t v) {
    std::string text = std::to_string(v);
    gen_check(yajl_gen_number(gen_, text.data(), text.size()));
    return *this;
}
Writer& Writer::boolean(bool v) { gen_check(yajl_gen_bool(gen_, v)); return *this; }
Writer& Writer::null() { gen_check(yajl_gen_null(gen_)); return *this; }

std::string Writer::result() const {
    const unsigned char* buf;
    size_t len;
    yajl_gen_get_buf(gen_, &buf, &len);
    std::string out(reinterpret_cast<const char*>(buf), len);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace crunlite::json
