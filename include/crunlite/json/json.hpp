// JSON for crun-lite, on yajl 2.
//
// parse(): yajl's tree parser plus what the OCI documents need and yajl does not
// do: duplicate keys are rejected, input size and nesting depth are capped, and
// every error names the source file and the JSON path ("config.json:
// linux.uidMappings[0].size: expected an unsigned 32-bit integer").
//
// Value: a read-only view into a parsed Document that knows its own path, so
// typed getters report exactly where a document is wrong.  Views are valid while
// their Document lives.
//
// Writer: yajl_gen in RAII.  Solidus is never escaped ("/run", not "\/run"),
// matching runc, whose output hooks and tools compare textually.
#pragma once

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crunlite::json {

constexpr size_t kMaxInputSize = 16 * 1024 * 1024;
constexpr int kMaxDepth = 64;

struct TreeDeleter {
    void operator()(yajl_val v) const { yajl_tree_free(v); }
};

class Value {
public:
    Value(yajl_val v, std::string source, std::string path) : v_(v), source_(std::move(source)), path_(std::move(path)) {}

    const std::string& path() const { return path_; }
    bool is_null() const { return !v_ || YAJL_IS_NULL(v_); }
    bool is_object() const { return v_ && YAJL_IS_OBJECT(v_); }
    bool is_array() const { return v_ && YAJL_IS_ARRAY(v_); }
    bool is_string() const { return v_ && YAJL_IS_STRING(v_); }

    // Throws Error(EINVAL) "source: path: message".
    [[noreturn]] void fail(const std::string& message) const;

    // Object members.  has() is false for absent keys; a JSON null counts as absent.
    bool has(const char* key) const;
    Value at(const char* key) const;             // required member
    std::optional<Value> find(const char* key) const;
    std::vector<std::pair<std::string, Value>> members() const;  // requires an object
    // Array elements (requires an array).
    std::vector<Value> elements() const;

    // Typed conversions of this value.
    std::string as_string() const;
    bool as_bool() const;
    int64_t as_int64() const;
    uint64_t as_uint64() const;
    uint32_t as_uint32() const;
    int32_t as_int32() const;
    uint16_t as_uint16() const;
    std::vector<std::string> as_string_array() const;
    std::map<std::string, std::string> as_string_map() const;

    // Member shortcuts: required, or with a default when absent.
    std::string get_string(const char* key) const { return at(key).as_string(); }
    std::string get_string_or(const char* key, const std::string& dflt) const;
    int64_t get_int64(const char* key) const { return at(key).as_int64(); }
    int64_t get_int64_or(const char* key, int64_t dflt) const;
    uint64_t get_uint64(const char* key) const { return at(key).as_uint64(); }
    bool get_bool_or(const char* key, bool dflt) const;
    std::vector<std::string> get_string_array_or(const char* key) const;
    std::map<std::string, std::string> get_string_map_or(const char* key) const;

private:
    std::string member_path(const char* key) const;
    void require_object() const;

    yajl_val v_;
    std::string source_;
    std::string path_;
};

class Document {
public:
    Document(std::unique_ptr<std::remove_pointer_t<yajl_val>, TreeDeleter> tree, std::string source)
        : tree_(std::move(tree)), source_(std::move(source)) {}
    Value root() const { return Value(tree_.get(), source_, ""); }

private:
    std::unique_ptr<std::remove_pointer_t<yajl_val>, TreeDeleter> tree_;
    std::string source_;
};

// Parses `text`; `source` names it in errors (a file path, "stdin").  Throws
// Error(EINVAL) on syntax errors, duplicate keys, oversize input, deep nesting.
Document parse(std::string_view text, const std::string& source);

class Writer {
public:
    explicit Writer(bool pretty);
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    Writer& begin_object();
    Writer& end_object();
    Writer& begin_array();
    Writer& end_array();
    Writer& key(std::string_view k);
    Writer& string(std::string_view s);
    Writer& integer(int64_t v);
    Writer& uinteger(uint64_t v);
    Writer& boolean(bool v);
    Writer& null();

    // The document so far (complete once every container is closed).
    std::string result() const;

private:
    yajl_gen gen_;
};

}  // namespace crunlite::json
