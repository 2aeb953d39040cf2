// JSON for crun-lite, on yajl 2.1.  Pure: no syscalls.
//
// parse(): strict JSON (no comments, no trailing garbage) plus what the OCI
// documents need and yajl_tree does not do: duplicate keys are rejected, input
// size and nesting depth are capped, and every error names the source and the
// JSON path ("config.json: linux.uidMappings[1]: duplicate key \"size\"").
//
// Value: a read-only view into a parsed Document that knows its own path, so the
// typed getters report exactly where a document is wrong ("config.json:
// process.user.uid: expected an unsigned 32-bit integer, got 1.5").  Views are
// valid while their Document lives.  A JSON null counts as an absent member,
// as Go's encoding/json (runc) treats it.
//
// Writer: yajl_gen in RAII.  Solidus is never escaped ("/run", not "\/run"),
// matching runc, whose output tools compare textually.  Invalid UTF-8 in
// strings is replaced by U+FFFD (as Go does) so the output is always JSON that
// parse() accepts.
//
// Every error is crunlite::Error with code EINVAL (ENOMEM for allocation).
#pragma once

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include <cstdint>
#include <map>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crunlite::json {

constexpr size_t kMaxInputSize = 16 * 1024 * 1024;
// Containers nested deeper than this are refused (the root object is level 1).
// runtime-spec documents need about 6; the cap keeps recursion bounded.
constexpr int kMaxDepth = 64;

class Value {
public:
    // "linux.uidMappings[1]"; empty for the document root.
    const std::string& path() const { return path_; }
    const std::string& source() const { return *source_; }
    bool is_null() const { return !v_ || YAJL_IS_NULL(v_); }
    bool is_object() const { return v_ && YAJL_IS_OBJECT(v_); }
    bool is_array() const { return v_ && YAJL_IS_ARRAY(v_); }
    bool is_string() const { return v_ && YAJL_IS_STRING(v_); }
    bool is_number() const { return v_ && YAJL_IS_NUMBER(v_); }
    bool is_bool() const { return v_ && (YAJL_IS_TRUE(v_) || YAJL_IS_FALSE(v_)); }
    // "an object", "a string", "null", ... for messages.
    std::string kind() const;

    // Throws Error(EINVAL) "source: path: message" ("source: message" at the root).
    [[noreturn]] void fail(const std::string& message) const;
    // Throws unless this is an object: "path: expected an object, got an array".
    void require_object() const;

    // Object members; each throws unless this is an object.  has() is false for
    // an absent key and for a key whose value is null.
    bool has(const char* key) const;
    Value at(const char* key) const;  // required member: "path.key: required field is missing"
    std::optional<Value> find(const char* key) const;
    std::vector<std::pair<std::string, Value>> members() const;
    // Array elements (throws unless this is an array).
    std::vector<Value> elements() const;
    // One at a time, without views of the rest: the members of an object or the
    // elements of an array; element i (throws unless an array longer than i); a
    // member, null ones too (find() takes null for absent).
    size_t size() const;
    Value element(size_t i) const;
    std::optional<Value> member(std::string_view key) const;

    // Typed conversions.  Integers must be written as integers ("1", not "1.0"
    // or "1e0") and fit the type; otherwise "expected an unsigned 32-bit integer,
    // got 1.5".  uint64 values above INT64_MAX are read from yajl's number text.
    std::string as_string() const;
    bool as_bool() const;
    int64_t as_int64() const;
    int32_t as_int32() const;
    uint64_t as_uint64() const;
    uint32_t as_uint32() const;
    uint16_t as_uint16() const;
    // A number as written in the document ("1.5", "-2"); throws unless a number.
    std::string number_text() const;
    std::vector<std::string> as_string_array() const;
    std::map<std::string, std::string> as_string_map() const;  // object of strings

    // Required members.
    std::string get_string(const char* key) const { return at(key).as_string(); }
    bool get_bool(const char* key) const { return at(key).as_bool(); }
    int64_t get_int64(const char* key) const { return at(key).as_int64(); }
    int32_t get_int32(const char* key) const { return at(key).as_int32(); }
    uint64_t get_uint64(const char* key) const { return at(key).as_uint64(); }
    uint32_t get_uint32(const char* key) const { return at(key).as_uint32(); }

    // Members with a default when absent (or null).
    std::string get_string_or(const char* key, const std::string& dflt) const;
    int64_t get_int64_or(const char* key, int64_t dflt) const;
    bool get_bool_or(const char* key, bool dflt) const;
    std::vector<std::string> get_string_array_or(const char* key) const;          // default {}
    std::map<std::string, std::string> get_string_map_or(const char* key) const;  // default {}

    // Optional members: nullopt when absent (or null), an error when mistyped.
    std::optional<std::string> find_string(const char* key) const;
    std::optional<bool> find_bool(const char* key) const;
    std::optional<int64_t> find_int64(const char* key) const;
    std::optional<int32_t> find_int32(const char* key) const;
    std::optional<uint64_t> find_uint64(const char* key) const;
    std::optional<uint32_t> find_uint32(const char* key) const;
    std::optional<uint16_t> find_uint16(const char* key) const;

private:
    friend class Document;
    // `source` (the document's name, for messages) must outlive the Value, as
    // the tree `v` must: both are the Document's.
    Value(yajl_val v, const std::string& source, std::string path)
        : v_(v), source_(&source), path_(std::move(path)) {}

    std::string member_path(std::string_view key) const;
    // Reads an integer number: {negative, magnitude}; fails with "expected <what>".
    std::pair<bool, uint64_t> integer_parts(const char* what) const;

    yajl_val v_;
    const std::string* source_;
    std::string path_;
};

// Owns a parsed tree: yajl_tree's node structs, all in one arena.  Move-only.
class Document {
public:
    Document(std::unique_ptr<std::pmr::monotonic_buffer_resource> arena, yajl_val root, std::string source)
        : arena_(std::move(arena)), root_(root), source_(std::make_unique<const std::string>(std::move(source))) {}
    Value root() const { return Value(root_, *source_, ""); }
    const std::string& source() const { return *source_; }

private:
    std::unique_ptr<std::pmr::monotonic_buffer_resource> arena_;
    yajl_val root_;
    std::unique_ptr<const std::string> source_;  // where Values point: stays put when the Document moves
};

// Parses `text`; `source` names it in errors (a file path, "stdin").  Throws
// Error(EINVAL) on: input above kMaxInputSize, NUL bytes, syntax errors
// ("source: invalid JSON at line 3, column 7: <yajl's message>"), containers
// nested deeper than kMaxDepth and duplicate keys, the last two naming the path.
Document parse(std::string_view text, const std::string& source);

// `text` as a JSON array of strings (blanks around it allowed), or nullopt for
// any other text: what podman's flags that take a command (--health-cmd,
// --entrypoint) accept besides a plain string.
std::optional<std::vector<std::string>> string_array_of(std::string_view text);

// Builds a JSON text.  Calls must form a valid document (keys only inside
// objects, balanced begin/end); a wrong sequence throws Error(EINVAL).
class Writer {
public:
    // pretty: newline and two-space indentation per level.
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

    // A parsed value (of any kind), written again.
    Writer& value(const Value& v);

    // Convenience: an array of strings.
    Writer& string_array(const std::vector<std::string>& values);

    // The document so far (complete once every container is closed), without a
    // trailing newline.
    std::string result() const;

private:
    yajl_gen gen_;
};

}  // namespace crunlite::json
