#include "crunlite/image/toml.hpp"

#include <charconv>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::image::toml {

const Value* Value::get(std::string_view key) const {
    if (!is_table()) return nullptr;
    auto it = index.find(key);
    return it == index.end() ? nullptr : &items[it->second];
}

namespace {

constexpr int kMaxDepth = 32;  // nested arrays: input we do not control must not exhaust the stack

bool bare(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

// "a.b", with parts that are not bare keys in quotes.
std::string dotted(const std::vector<std::string>& key, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        bool plain = !key[i].empty();
        for (char c : key[i]) plain = plain && bare(c);
        out += (i ? "." : "") + (plain ? key[i] : "\"" + key[i] + "\"");
    }
    return out;
}

std::string kind(const Value& v) {
    switch (v.type) {
        case Value::Type::String: return "a string";
        case Value::Type::Boolean: return "a boolean";
        case Value::Type::Integer: return "an integer";
        case Value::Type::Array: return v.table_array ? "an array of tables" : "an array";
        case Value::Type::Table: break;
    }
    return "a table";
}

Value make_table(Value::Origin origin, int line) {
    Value t;
    t.origin = origin;
    t.line = line;
    return t;
}

Value* find(Value& table, const std::string& key) {
    auto it = table.index.find(key);
    return it == table.index.end() ? nullptr : &table.items[it->second];
}

Value& add(Value& table, const std::string& key, Value v) {
    table.index.emplace(key, table.items.size());
    table.keys.push_back(key);
    table.items.push_back(std::move(v));
    return table.items.back();
}

class Parser {
public:
    Parser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

    Value run() {
        Value root;
        Value* cur = &root;
        if (at("\xEF\xBB\xBF")) p_ += 3;  // a UTF-8 byte order mark
        while (!eof()) {
            skip_ws();
            if (peek() == '[') {
                cur = header(root);
                end_of_line("the table header");
            } else if (bare(peek()) || peek() == '"' || peek() == '\'') {
                key_value(*cur);
                end_of_line("the value");
            } else {
                skip_comment();
                if (!eof() && !at_newline()) fail("expected a key, a [table] header or a comment, found " + found());
                end_of_line("a comment");
            }
        }
        return root;
    }

private:
    std::string_view s_;
    const std::string& source_;
    size_t p_ = 0;
    int line_ = 1;

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(EINVAL, source_ + ":" + std::to_string(line_) + ": " + what);
    }
    bool eof() const { return p_ >= s_.size(); }
    char peek() const { return eof() ? '\0' : s_[p_]; }
    bool at(std::string_view t) const { return s_.substr(p_).substr(0, t.size()) == t; }
    bool at_newline() const { return peek() == '\n' || at("\r\n"); }
    // What is at the cursor, for messages: the rest of the line (at most 24 bytes).
    std::string found() const {
        if (eof()) return "the end of the file";
        if (at_newline()) return "the end of the line";
        std::string rest(s_.substr(p_, std::min(s_.find_first_of("\r\n", p_), p_ + 24) - p_));
        for (char& c : rest)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
        return quote(rest);
    }

    void skip_ws() {
        while (peek() == ' ' || peek() == '\t') ++p_;
    }
    void skip_comment() {
        if (peek() == '#')
            while (!eof() && peek() != '\n') ++p_;
    }
    void newline() {
        p_ += peek() == '\r' ? 2 : 1;
        ++line_;
    }
    // Blanks and a comment, then a new line or the end of the file.
    void end_of_line(const char* after) {
        skip_ws();
        skip_comment();
        if (eof()) return;
        if (!at_newline()) fail(std::string("expected the end of the line after ") + after + ", found " + found());
        newline();
    }
    // Blanks, comments and new lines: the space between array elements.
    void skip_space() {
        for (;;) {
            skip_ws();
            skip_comment();
            if (!at_newline()) return;
            newline();
        }
    }

    std::string simple_key() {
        if (at("\"\"\"") || at("'''")) fail("a multi-line string cannot be a key");
        if (peek() == '"' || peek() == '\'') return string();
        size_t b = p_;
        while (bare(peek())) ++p_;
        if (b == p_) fail("expected a key, found " + found());
        return std::string(s_.substr(b, p_ - b));
    }
    std::vector<std::string> key() {
        std::vector<std::string> k{simple_key()};
        for (skip_ws(); peek() == '.'; skip_ws()) {
            ++p_;
            skip_ws();
            k.push_back(simple_key());
        }
        return k;
    }

    // A basic ("...") or literal ('...') string on one line.
    std::string string() {
        char q = s_[p_++];
        std::string out;
        for (;;) {
            if (eof() || at_newline()) fail("unterminated string (a string ends on its line)");
            char c = s_[p_++];
            if (c == q) return out;
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
                fail("control character " + std::to_string(static_cast<unsigned char>(c)) + " in a string");
            if (c != '\\' || q == '\'') {
                out += c;
                continue;
            }
            if (eof()) fail("unterminated string");
            switch (char e = s_[p_++]) {
                case 'b': out += '\b'; break;
                case 't': out += '\t'; break;
                case 'n': out += '\n'; break;
                case 'f': out += '\f'; break;
                case 'r': out += '\r'; break;
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case 'u': utf8(out, hex(4)); break;
                case 'U': utf8(out, hex(8)); break;
                default:
                    fail(std::string("invalid escape \\") + (static_cast<unsigned char>(e) < 0x20 ? '?' : e) +
                         " in a string (use \\\\ for a backslash, or a '...' literal string)");
            }
        }
    }
    uint32_t hex(int n) {
        uint32_t v = 0;
        for (int i = 0; i < n; ++i, ++p_) {
            char c = peek();
            int d = digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
            if (d < 0) fail("\\" + std::string(n == 4 ? "u" : "U") + " needs " + std::to_string(n) + " hex digits");
            v = v * 16 + static_cast<uint32_t>(d);
        }
        return v;
    }
    void utf8(std::string& out, uint32_t c) {
        if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) fail("escape of " + std::to_string(c) + ": not a Unicode scalar value");
        auto b = [&](uint32_t x) { out += static_cast<char>(x); };
        if (c < 0x80) b(c);
        else if (c < 0x800) b(0xC0 | c >> 6), b(0x80 | (c & 0x3F));
        else if (c < 0x10000) b(0xE0 | c >> 12), b(0x80 | (c >> 6 & 0x3F)), b(0x80 | (c & 0x3F));
        else b(0xF0 | c >> 18), b(0x80 | (c >> 12 & 0x3F)), b(0x80 | (c >> 6 & 0x3F)), b(0x80 | (c & 0x3F));
    }

    Value value(int depth) {
        Value v;
        v.line = line_;
        if (at("\"\"\"") || at("'''")) fail("multi-line strings (\"\"\" or ''') are not supported");
        if (peek() == '"' || peek() == '\'') {
            v.type = Value::Type::String;
            v.string = string();
            return v;
        }
        if (peek() == '{') fail("inline tables ({...}) are not supported: use a [table] or [[table]] header");
        if (peek() == '[') {
            if (depth >= kMaxDepth) fail("arrays nested more than " + std::to_string(kMaxDepth) + " deep");
            ++p_;
            v.type = Value::Type::Array;
            for (skip_space(); peek() != ']'; skip_space()) {
                if (eof()) fail("unterminated array (opened on line " + std::to_string(v.line) + ")");
                v.items.push_back(value(depth + 1));
                skip_space();
                if (peek() == ']') break;
                if (eof()) fail("unterminated array (opened on line " + std::to_string(v.line) + ")");
                if (peek() != ',') fail("expected `,` or `]` in the array, found " + found());
                ++p_;
            }
            ++p_;
            return v;
        }
        size_t b = p_;
        while (bare(peek()) || peek() == '+' || peek() == '.' || peek() == ':') ++p_;
        std::string tok(s_.substr(b, p_ - b));
        if (tok.empty()) fail("expected a value, found " + found());
        if (tok == "true" || tok == "false") {
            v.type = Value::Type::Boolean;
            v.boolean = tok == "true";
            return v;
        }
        std::string_view num(tok);
        if (num[0] == '+' || num[0] == '-') num.remove_prefix(1);
        if (num.size() > 1 && num[0] == '0' && std::strchr("xob", num[1]))
            fail("unsupported integer " + quote(tok) + ": only decimal integers are read");
        bool integer = !num.empty() && !(num[0] == '0' && num.size() > 1);
        std::string digits = tok[0] == '-' ? "-" : "";
        for (size_t i = 0; i < num.size() && integer; ++i) {
            if (digit(num[i])) digits += num[i];
            else integer = num[i] == '_' && i > 0 && i + 1 < num.size() && digit(num[i - 1]) && digit(num[i + 1]);
        }
        if (integer) {
            auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v.integer);
            if (ec != std::errc() || end != digits.data() + digits.size()) fail("integer " + tok + " out of range");
            v.type = Value::Type::Integer;
            return v;
        }
        if (!num.empty() && (digit(num[0]) || num == "inf" || num == "nan"))
            fail("unsupported number " + quote(tok) +
                 ": only decimal integers without leading zeros are read, not floats, dates or times");
        fail("invalid value " + quote(tok) + " (a string needs quotes, a boolean is true or false)");
    }

    // [a.b] or [[a.b]]: the table that the following keys go to.
    Value* header(Value& root) {
        bool array = at("[[");
        p_ += array ? 2 : 1;
        skip_ws();
        std::vector<std::string> k = key();
        if (array ? !at("]]") : peek() != ']')
            fail(std::string("expected ") + (array ? "`]]`" : "`]`") + " to close the table header, found " + found());
        p_ += array ? 2 : 1;
        std::string name = array ? "[[" + dotted(k, k.size()) + "]]" : "[" + dotted(k, k.size()) + "]";
        Value* t = &root;
        for (size_t i = 0; i + 1 < k.size(); ++i) {
            Value* next = find(*t, k[i]);
            if (!next) next = &add(*t, k[i], make_table(Value::Origin::Implicit, line_));
            else if (next->is_array() && next->table_array) next = &next->items.back();
            else if (!next->is_table())
                fail(name + ": " + dotted(k, i + 1) + " is already " + kind(*next) + " (line " +
                     std::to_string(next->line) + "), not a table");
            t = next;
        }
        Value* last = find(*t, k.back());
        if (array) {
            if (!last) {
                Value a;
                a.type = Value::Type::Array;
                a.table_array = true;
                a.line = line_;
                last = &add(*t, k.back(), std::move(a));
            } else if (!last->table_array) {
                fail(name + ": " + dotted(k, k.size()) + " is already " + kind(*last) + " (line " +
                     std::to_string(last->line) + ")");
            }
            last->items.push_back(make_table(Value::Origin::Header, line_));
            return &last->items.back();
        }
        if (!last) return &add(*t, k.back(), make_table(Value::Origin::Header, line_));
        if (last->is_table() && last->origin == Value::Origin::Implicit) {
            last->origin = Value::Origin::Header;
            last->line = line_;
            return last;
        }
        fail(name + ": " + dotted(k, k.size()) + " is already " +
             (last->is_table() ? "defined" : kind(*last)) + " (line " + std::to_string(last->line) + ")");
    }

    // key = value, into `table` (a dotted key into its sub-tables).
    void key_value(Value& table) {
        std::vector<std::string> k = key();
        if (peek() != '=') fail("expected `=` after the key " + dotted(k, k.size()) + ", found " + found());
        ++p_;
        skip_ws();
        Value* t = &table;
        for (size_t i = 0; i + 1 < k.size(); ++i) {
            Value* next = find(*t, k[i]);
            if (!next) next = &add(*t, k[i], make_table(Value::Origin::Dotted, line_));
            else if (!next->is_table() || next->origin != Value::Origin::Dotted)
                fail("key " + dotted(k, k.size()) + ": " + dotted(k, i + 1) + " is already " +
                     (next->is_table() ? "a table with a [header]" : kind(*next)) + " (line " + std::to_string(next->line) + ")");
            t = next;
        }
        if (const Value* old = t->get(k.back()))
            fail("duplicate key " + dotted(k, k.size()) + " (first defined on line " + std::to_string(old->line) + ")");
        add(*t, k.back(), value(0));
    }
};

}  // namespace

Value parse(std::string_view text, const std::string& source) { return Parser(text, source).run(); }

}  // namespace crunlite::image::toml
