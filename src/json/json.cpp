#include "crunlite/json/json.hpp"

#include <cstring>

#include <yajl/yajl_parse.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <memory_resource>
#include <set>

#include "crunlite/base/error.hpp"

namespace crunlite::json {
namespace {

std::string prefixed(const std::string& source, const std::string& path, const std::string& message) {
    return path.empty() ? source + ": " + message : source + ": " + path + ": " + message;
}

// ---------------------------------------------------------------------------
// One pass with yajl's event parser, building the tree as the events come.
// yajl_tree_parse neither rejects duplicate keys nor limits depth, and its
// builder recurses once per nesting level, so this builder does what it does
// and those checks on the way: a hostile document is refused before it nests
// deeper than kMaxDepth, and exact positions come with syntax errors.  The
// nodes are yajl_tree's own structs (so Value reads them with yajl_tree.h's
// macros), allocated from the Document's arena: one pass, no allocation per
// node, nothing freed node by node.  Numbers keep only their text, which is
// all Value reads (integer_parts).  Callbacks are C frames: they never throw,
// they record the error and return 0 to stop the parse.

// An open array or object.  Frames are reused from one container to the next
// at the same depth, so their vectors keep their capacity.
struct Frame {
    yajl_val node = nullptr;
    std::vector<yajl_val> values;
    std::vector<std::string_view> keys;  // object: keys in the arena, in order
    // Object: past kFewKeys members a duplicate is looked up in a set.
    static constexpr size_t kFewKeys = 16;
    std::set<std::string_view> many;

    // Records `k`; false when it was there already.
    bool add_key(std::string_view k) {
        if (keys.size() < kFewKeys) {
            if (std::find(keys.begin(), keys.end(), k) != keys.end()) return false;
        } else {
            if (many.empty()) many.insert(keys.begin(), keys.end());
            if (!many.insert(k).second) return false;
        }
        keys.push_back(k);
        return true;
    }
};

struct Builder {
    std::pmr::memory_resource* arena;
    std::vector<Frame> frames;  // frames[0, depth) are open
    size_t depth = 0;
    yajl_val root = nullptr;
    std::string error_path;
    std::string error_message;

    // Path of the first n open frames' current positions: "a.b[2].c".
    std::string path_upto(size_t n) const {
        std::string p;
        for (size_t i = 0; i < n; ++i) {
            const Frame& f = frames[i];
            if (f.node->type == yajl_t_object) {
                if (!p.empty()) p += '.';
                p += f.keys.back();
            } else {
                p += '[' + std::to_string(f.values.size() - 1) + ']';
            }
        }
        return p;
    }

    int fail(std::string path, std::string message) {
        error_path = std::move(path);
        error_message = std::move(message);
        return 0;
    }

    template <typename T>
    T* allocate(size_t n) {
        return static_cast<T*>(arena->allocate(n * sizeof(T), alignof(T)));
    }

    // A copy of s[0, len) in the arena, NUL-terminated.
    char* copy(const void* s, size_t len) {
        char* out = allocate<char>(len + 1);
        std::memcpy(out, s, len);
        out[len] = '\0';
        return out;
    }

    yajl_val add(yajl_type type) {
        auto* v = allocate<yajl_val_s>(1);
        std::memset(v, 0, sizeof *v);
        v->type = type;
        if (depth == 0)
            root = v;
        else
            frames[depth - 1].values.push_back(v);
        return v;
    }

    int open(yajl_type type) {
        yajl_val v = add(type);  // first: the path below names it
        if (depth >= static_cast<size_t>(kMaxDepth))
            return fail(path_upto(depth), "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
        if (frames.size() == depth) frames.emplace_back();
        Frame& f = frames[depth++];
        f.node = v;
        f.values.clear();
        f.keys.clear();
        f.many.clear();
        return 1;
    }

    int close() {
        Frame& f = frames[--depth];
        auto* values = allocate<yajl_val>(f.values.size());
        std::copy(f.values.begin(), f.values.end(), values);
        if (f.node->type == yajl_t_object) {
            auto* keys = allocate<const char*>(f.keys.size());
            for (size_t i = 0; i < f.keys.size(); ++i) keys[i] = f.keys[i].data();
            f.node->u.object = {keys, values, f.values.size()};
        } else {
            f.node->u.array = {values, f.values.size()};
        }
        return 1;
    }

    // A "\u0000" escape decodes to a NUL, which every C string after it (the
    // tree's included) cuts the string at: {"User\u0000": "0", "User": "65534"}
    // would read as uid 0 here and as 65534 to every other reader.  Refused in
    // keys and in values, naming where.  `n`: the frames whose path names where
    // (the path is made only for the message).
    int no_nul(const unsigned char* s, size_t len, size_t n) {
        if (std::memchr(s, 0, len)) return fail(path_upto(n), "a string holds \\u0000 (NUL), which is not allowed");
        return 1;
    }

    int key(const unsigned char* k, size_t len) {
        if (!no_nul(k, len, depth - 1)) return 0;
        Frame& f = frames[depth - 1];
        std::string_view kv(copy(k, len), len);
        if (!f.add_key(kv)) return fail(path_upto(depth - 1), "duplicate key \"" + std::string(kv) + "\"");
        return 1;
    }

    int string(const unsigned char* s, size_t len) {
        add(yajl_t_string)->u.string = copy(s, len);
        return no_nul(s, len, depth);
    }
};

Builder& bd(void* ctx) { return *static_cast<Builder*>(ctx); }

// Runs a callback's work, turning an exception (bad_alloc) into a stopped parse:
// nothing may unwind through yajl.
template <typename F>
int guarded(void* ctx, F&& f) {
    try {
        return f(bd(ctx));
    } catch (...) {
        return bd(ctx).fail("", "out of memory");
    }
}

int on_null(void* ctx) {
    return guarded(ctx, [](Builder& b) { return b.add(yajl_t_null), 1; });
}
int on_bool(void* ctx, int value) {
    return guarded(ctx, [value](Builder& b) { return b.add(value ? yajl_t_true : yajl_t_false), 1; });
}
int on_number(void* ctx, const char* s, size_t len) {
    return guarded(ctx, [s, len](Builder& b) { return b.add(yajl_t_number)->u.number.r = b.copy(s, len), 1; });
}
int on_string(void* ctx, const unsigned char* s, size_t len) {
    return guarded(ctx, [s, len](Builder& b) { return b.string(s, len); });
}
int on_start_map(void* ctx) {
    return guarded(ctx, [](Builder& b) { return b.open(yajl_t_object); });
}
int on_start_array(void* ctx) {
    return guarded(ctx, [](Builder& b) { return b.open(yajl_t_array); });
}
int on_map_key(void* ctx, const unsigned char* k, size_t len) {
    return guarded(ctx, [k, len](Builder& b) { return b.key(k, len); });
}
int on_end(void* ctx) {
    return guarded(ctx, [](Builder& b) { return b.close(); });
}

const yajl_callbacks kBuildCallbacks = {
    on_null,
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

// The tree of `text`, its nodes in `arena`.
yajl_val build_tree(std::string_view text, const std::string& source, std::pmr::memory_resource& arena) {
    Builder builder{&arena, {}, 0, nullptr, {}, {}};
    std::unique_ptr<yajl_handle_t, HandleDeleter> h(yajl_alloc(&kBuildCallbacks, nullptr, &builder));
    if (!h) throw Error(ENOMEM, source + ": cannot allocate a JSON parser");
    // Defaults are strict: no comments, UTF-8 validated, one value, no trailing garbage.
    yajl_status st = yajl_parse(h.get(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
    size_t offset = yajl_get_bytes_consumed(h.get());
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h.get());
        offset = text.size();
    }
    if (st == yajl_status_ok) return builder.root;
    if (st == yajl_status_client_canceled)
        throw Error(EINVAL, prefixed(source, builder.error_path, builder.error_message));
    unsigned char* raw = yajl_get_error(h.get(), 0, nullptr, 0);
    std::string msg = raw ? reinterpret_cast<const char*>(raw) : "syntax error";
    if (raw) yajl_free_error(h.get(), raw);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw Error(EINVAL, source + ": invalid JSON at " + position(text, offset) + ": " + msg);
}

}  // namespace

Document parse(std::string_view text, const std::string& source) {
    if (text.size() > kMaxInputSize)
        throw Error(EINVAL, source + ": larger than " + std::to_string(kMaxInputSize) + " bytes");
    // A raw NUL is not JSON; named as such rather than as a syntax error somewhere.
    if (text.find('\0') != std::string_view::npos) throw Error(EINVAL, source + ": contains a NUL byte");
    // The nodes, keys and strings take about twice the text; the first block
    // holds them for documents of a few KB, later blocks grow geometrically.
    auto arena = std::make_unique<std::pmr::monotonic_buffer_resource>(std::max<size_t>(1024, 2 * text.size()));
    yajl_val root = build_tree(text, source, *arena);
    return Document(std::move(arena), root, source);
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

size_t Value::size() const {
    if (is_object()) return v_->u.object.len;
    if (is_array()) return v_->u.array.len;
    fail("expected an object or an array, got " + kind());
}

Value Value::element(size_t i) const {
    if (!is_array()) fail("expected an array, got " + kind());
    if (i >= v_->u.array.len) fail("no element " + std::to_string(i) + " of " + std::to_string(v_->u.array.len));
    return Value(v_->u.array.values[i], *source_, path_ + "[" + std::to_string(i) + "]");
}

std::optional<Value> Value::member(std::string_view key) const {
    require_object();
    for (size_t i = 0; i < v_->u.object.len; ++i)
        if (key == v_->u.object.keys[i]) return Value(v_->u.object.values[i], *source_, member_path(key));
    return std::nullopt;
}

std::string Value::as_string() const {
    if (!is_string()) fail("expected a string, got " + kind());
    return YAJL_GET_STRING(v_);
}

bool Value::as_bool() const {
    if (!is_bool()) fail("expected a boolean, got " + kind());
    return YAJL_IS_TRUE(v_);
}

std::optional<std::vector<std::string>> string_array_of(std::string_view text) {
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || text[first] != '[') return std::nullopt;
    try {
        Document d = parse(text, "");
        if (!d.root().is_array()) return std::nullopt;
        return d.root().as_string_array();
    } catch (const Error&) {
        return std::nullopt;
    }
}

std::string Value::number_text() const {
    if (!is_number()) fail("expected a number, got " + kind());
    return YAJL_GET_NUMBER(v_) ? YAJL_GET_NUMBER(v_) : "";
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

}  // namespace crunlite::json
