#include "crunlite/json/template.hpp"

#include <cctype>
#include <optional>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::json {
namespace {

struct Token {
    enum Kind { Path, String, Number, Name, Open, Close, Chain } kind;  // Chain: ".Field" right after ")"
    std::string text;
};

// What an operand or command gives: a value of the document, or text (upper, json).
struct Result {
    std::optional<Value> value;
    std::string text;
};

class Action {
public:
    Action(std::string_view body, std::string where, const Value& root) : root_(root), where_(std::move(where)) {
        tokenize(body);
    }

    std::string run() {
        if (tokens_.empty()) fail("an empty action");
        Result r = command();
        if (pos_ < tokens_.size()) fail("unexpected " + quote(tokens_[pos_].text));
        return r.value ? text_of(*r.value) : r.text;
    }

private:
    [[noreturn]] void fail(const std::string& why) const { throw Error(EINVAL, where_ + ": " + why); }

    void tokenize(std::string_view s) {
        size_t i = 0;
        auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
        while (i < s.size()) {
            char c = s[i];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                ++i;
            } else if (c == '(' || c == ')') {
                tokens_.push_back({c == '(' ? Token::Open : Token::Close, std::string(1, c)});
                ++i;
            } else if (c == '"') {
                std::string out;
                for (++i; i < s.size() && s[i] != '"'; ++i) {
                    if (s[i] == '\\' && i + 1 < s.size()) {
                        char e = s[++i];
                        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
                    } else {
                        out += s[i];
                    }
                }
                if (i == s.size()) fail("an unterminated string");
                tokens_.push_back({Token::String, out});
                ++i;
            } else if (c == '`') {
                size_t end = s.find('`', i + 1);
                if (end == std::string_view::npos) fail("an unterminated raw string");
                tokens_.push_back({Token::String, std::string(s.substr(i + 1, end - i - 1))});
                i = end + 1;
            } else if (c == '.' || ident(c) || c == '-') {
                size_t start = i++;
                while (i < s.size() && (ident(s[i]) || s[i] == '.')) ++i;
                std::string word(s.substr(start, i - start));
                Token::Kind kind = c == '.' && start > 0 && s[start - 1] == ')'       ? Token::Chain
                                   : c == '.'                                            ? Token::Path
                                   : std::isdigit(static_cast<unsigned char>(c)) || c == '-' ? Token::Number
                                                                                               : Token::Name;
                if (kind == Token::Number && !parse_int(word)) fail("bad number " + quote(word));
                tokens_.push_back({kind, word});
            } else {
                fail("unexpected " + quote(std::string(1, c)) +
                     (c == '|' ? " (pipelines are not supported)" : c == '$' ? " (variables are not supported)" : ""));
            }
        }
    }

    // name operand... | operand
    Result command() {
        const Token& t = tokens_[pos_];
        if (t.kind != Token::Name) return operand();
        ++pos_;
        std::vector<Result> args;
        while (pos_ < tokens_.size() && tokens_[pos_].kind != Token::Close) args.push_back(operand());
        auto one = [&]() -> const Value& {
            if (args.size() != 1 || !args[0].value) fail(t.text + " takes one field of the document");
            return *args[0].value;
        };
        if (t.text == "json") {
            Writer w(false);
            w.value(one());
            return {std::nullopt, w.result()};
        }
        if (t.text == "upper" || t.text == "lower") {
            return {std::nullopt, t.text == "upper" ? ascii_upper(text_of(one())) : ascii_lower(text_of(one()))};
        }
        if (t.text == "index") {
            if (args.empty() || !args[0].value) fail("index takes a field, then keys or positions");
            Value v = *args[0].value;
            for (size_t i = 1; i < args.size(); ++i) v = index(v, args[i]);
            return {v, ""};
        }
        fail("unsupported " + quote(t.text) + " (supported: .Field.Path, json, index, upper, lower)");
    }

    Result operand() {
        if (pos_ >= tokens_.size()) fail("a missing operand");
        const Token& t = tokens_[pos_++];
        switch (t.kind) {
            case Token::Path: return {field(root_, t.text), ""};
            case Token::String:
            case Token::Number: return {std::nullopt, t.text};
            case Token::Open: {
                if (pos_ >= tokens_.size()) fail("an unclosed (");
                if (++depth_ > kMaxDepth) fail("parentheses nested too deeply");
                Result r = command();
                if (pos_ >= tokens_.size() || tokens_[pos_].kind != Token::Close) fail("an unclosed (");
                ++pos_;
                --depth_;
                if (pos_ < tokens_.size() && tokens_[pos_].kind == Token::Chain) {  // (index .Ports "80/tcp" 0).HostPort
                    if (!r.value) fail("a field of text: " + quote(tokens_[pos_].text));
                    r.value = field(*r.value, tokens_[pos_++].text);
                }
                return r;
            }
            case Token::Close: fail("an unexpected )");
            case Token::Chain: fail("an unexpected " + quote(t.text));
            case Token::Name: fail("a function inside arguments needs parentheses: " + quote(t.text));
        }
        fail("a bad operand");
    }

    // `path` (".A.B", "." itself) of `v`.
    Value field(Value v, const std::string& path) const {
        if (path == ".") return v;
        std::string seen;
        for (const auto& name : split(path.substr(1), '.')) {
            if (name.empty()) fail("a bad field path " + quote(path));
            if (!v.is_object()) fail((seen.empty() ? "the value" : seen) + " is " + v.kind() + ", not an object");
            std::optional<Value> next = member(v, name);
            if (!next) fail((seen.empty() ? "the value" : seen) + " has no " + name);
            seen += (seen.empty() ? "" : ".") + name;
            v = *next;
        }
        return v;
    }

    Value index(const Value& v, const Result& key) const {
        if (key.value) fail("index keys are strings or numbers");
        if (v.is_object()) {
            std::optional<Value> m = member(v, key.text);
            if (!m) fail("no key " + quote(key.text));
            return *m;
        }
        if (v.is_array()) {
            std::optional<uint64_t> i = parse_uint(key.text);
            std::vector<Value> e = v.elements();
            if (!i || *i >= e.size()) fail("no element " + quote(key.text) + " of " + std::to_string(e.size()));
            return e[*i];
        }
        fail("index of " + v.kind());
    }

    // An object's member, null ones too (find() takes null for absent).
    static std::optional<Value> member(const Value& v, const std::string& name) {
        for (auto& [k, m] : v.members())
            if (k == name) return m;
        return std::nullopt;
    }

    static std::string text_of(const Value& v) {
        if (v.is_string()) return v.as_string();
        if (v.is_number()) return v.number_text();
        if (v.is_bool()) return v.as_bool() ? "true" : "false";
        if (v.is_null()) return "<nil>";
        Writer w(false);
        w.value(v);
        return w.result();
    }

    const Value& root_;
    std::string where_;
    std::vector<Token> tokens_;
    size_t pos_ = 0;
    static constexpr int kMaxDepth = 100;
    int depth_ = 0;
};

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Where the action whose body starts at `from` ends ("}}" outside its strings); npos for nowhere.
size_t action_end(std::string_view t, size_t from) {
    for (size_t i = from; i + 1 < t.size(); ++i) {
        if (t[i] == '"') {
            for (++i; i < t.size() && t[i] != '"'; ++i)
                if (t[i] == '\\') ++i;
        } else if (t[i] == '`') {
            i = t.find('`', i + 1);
            if (i == std::string_view::npos) return i;
        } else if (t[i] == '}' && t[i + 1] == '}') {
            return i;
        }
    }
    return std::string_view::npos;
}

}  // namespace

std::string render_template(std::string_view tmpl, const Value& root) {
    std::string out;
    size_t i = 0;
    while (i < tmpl.size()) {
        size_t open = tmpl.find("{{", i);
        if (open == std::string_view::npos) {
            out += tmpl.substr(i);
            break;
        }
        size_t close = action_end(tmpl, open + 2);
        std::string_view whole = tmpl.substr(open, close == std::string_view::npos ? std::string_view::npos : close + 2 - open);
        std::string where = quote(std::string(whole));
        if (close == std::string_view::npos) throw Error(EINVAL, where + ": no closing }}");
        std::string_view body = tmpl.substr(open + 2, close - open - 2);
        std::string_view text = tmpl.substr(i, open - i);
        // "{{- " and " -}}" trim the blanks of the text beside the action.
        if (body.size() >= 2 && body[0] == '-' && blank(body[1])) {
            while (!text.empty() && blank(text.back())) text.remove_suffix(1);
            body.remove_prefix(2);
        }
        out += text;
        bool trim_right = body.size() >= 2 && body.back() == '-' && blank(body[body.size() - 2]);
        if (trim_right) body.remove_suffix(2);
        std::string_view inner = body;
        while (!inner.empty() && blank(inner.front())) inner.remove_prefix(1);
        while (!inner.empty() && blank(inner.back())) inner.remove_suffix(1);
        if (inner.substr(0, 2) == "/*") {
            if (inner.size() < 4 || inner.substr(inner.size() - 2) != "*/") throw Error(EINVAL, where + ": a comment must end with */");
        } else {
            out += Action(body, where, root).run();
        }
        i = close + 2;
        if (trim_right)
            while (i < tmpl.size() && blank(tmpl[i])) ++i;
    }
    return out;
}

}  // namespace crunlite::json
