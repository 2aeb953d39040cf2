// inspect --format's Go templates, parsed: actions into tokens, tokens into nodes.
#include "template_parse.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "go_format.hpp"

namespace crunlite::json::tmpl {
namespace {

// Nested parentheses and control structures; bounds the recursion of parse, and
// so of the run.
constexpr int kMaxDepth = 100;

struct Token {
    // Chain: ".Field" right after ")"; Var: "$x" and the fields after it ("$x.A.B").
    enum Kind { Field, Var, String, Number, Name, Open, Close, Chain, Pipe, Declare, Assign, Comma } kind;
    std::string text;
};

const char* const kFunctions[] = {"and", "or",  "not",  "len",  "index", "slice", "print", "printf", "println",
                                  "eq",  "ne",  "lt",   "le",   "gt",    "ge",    "json",  "upper",  "lower",
                                  "title", "split", "join", "pad", "truncate"};

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One action's tokens, read front to back.
class Tokens {
public:
    Tokens(std::string_view body, std::string where) : where_(std::move(where)) { tokenize(body); }

    const std::string& where() const { return where_; }
    bool done() const { return pos_ >= t_.size(); }
    const Token* peek(size_t ahead = 0) const { return pos_ + ahead < t_.size() ? &t_[pos_ + ahead] : nullptr; }
    bool next_is(Token::Kind k, size_t ahead = 0) const { return peek(ahead) && peek(ahead)->kind == k; }
    bool next_is_word(const char* w) const { return next_is(Token::Name) && t_[pos_].text == w; }
    const Token& take() {
        if (done()) fail("a missing operand");
        return t_[pos_++];
    }
    void expect_end() const {
        if (!done()) fail("unexpected " + quote(t_[pos_].text));
    }
    [[noreturn]] void fail(const std::string& why) const { fail_at(where_, why); }

private:
    void tokenize(std::string_view s) {
        size_t i = 0;
        auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
        auto add = [&](Token::Kind k, std::string text) { t_.push_back({k, std::move(text)}); };
        while (i < s.size()) {
            char c = s[i];
            if (blank(c)) {
                ++i;
            } else if (c == '(' || c == ')' || c == '|' || c == ',' || c == '=') {
                add(c == '(' ? Token::Open : c == ')' ? Token::Close : c == '|' ? Token::Pipe : c == ',' ? Token::Comma : Token::Assign,
                    std::string(1, c));
                ++i;
            } else if (c == ':' && i + 1 < s.size() && s[i + 1] == '=') {
                add(Token::Declare, ":=");
                i += 2;
            } else if (c == '"') {
                size_t start = i;
                std::optional<std::string> text = go::unquote(s, i);
                if (!text) {
                    size_t end = start + 1;  // to its closing quote, for the message
                    while (end < s.size() && s[end] != '"') end += s[end] == '\\' ? 2 : 1;
                    fail("a bad string " + quote(std::string(s.substr(start, end + 1 - start))));
                }
                add(Token::String, *text);
            } else if (c == '`') {
                size_t end = s.find('`', i + 1);
                if (end == std::string_view::npos) fail("an unterminated raw string");
                add(Token::String, std::string(s.substr(i + 1, end - i - 1)));
                i = end + 1;
            } else if (c == '\'') {
                size_t start = i;
                std::optional<std::string> text = go::unquote(s, i);
                std::string word(s.substr(start, i - start));
                std::optional<std::string> n = text ? go::number(word) : std::nullopt;
                if (!n) fail("a bad character constant " + quote(word));
                add(Token::Number, *n);
            } else if (c == '.' || c == '$' || ident(c) || c == '-' || c == '+') {
                size_t start = i++;
                auto digit = [&](size_t k) { return k < s.size() && std::isdigit(static_cast<unsigned char>(s[k])); };
                bool number = std::isdigit(static_cast<unsigned char>(c)) ||
                              ((c == '-' || c == '+') && (digit(i) || (i < s.size() && s[i] == '.' && digit(i + 1)))) ||
                              (c == '.' && digit(i) && !(start > 0 && s[start - 1] == ')'));
                while (i < s.size() && (ident(s[i]) || s[i] == '.' ||
                                        (number && (s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
                    ++i;
                std::string word(s.substr(start, i - start));
                if (number) {
                    std::optional<std::string> n = go::number(word);
                    if (!n) fail("bad number " + quote(word));
                    add(Token::Number, *n);
                    continue;
                }
                if (c == '-' || c == '+') fail("bad number " + quote(word));
                add(c == '$' ? Token::Var : c == '.' && start > 0 && s[start - 1] == ')' ? Token::Chain
                                        : c == '.'                                        ? Token::Field
                                                                                          : Token::Name,
                    word);
            } else {
                fail("unexpected " + quote(std::string(s.substr(i, go::utf8_len(s, i)))));
            }
        }
    }

    std::string where_;
    std::vector<Token> t_;
    size_t pos_ = 0;
};

// Where the action whose body starts at `from` ends ("}}" outside its strings and
// comments); npos for nowhere.
size_t action_end(std::string_view t, size_t from) {
    size_t comment = from + (t.substr(from, 1) == "-" && from + 1 < t.size() && blank(t[from + 1]) ? 2 : 0);
    if (t.substr(comment, 2) == "/*") {
        size_t end = t.find("*/", comment + 2);
        if (end == std::string_view::npos) return end;
        from = end + 2;
    }
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

class Parser {
public:
    explicit Parser(std::string_view tmpl) { segment(tmpl); }

    std::vector<Node> parse() {
        std::vector<Node> nodes;
        Stop stop = list(nodes, 0);
        if (stop.kind != Stop::Eof)
            fail_at(stop.toks->where(), std::string(stop.kind == Stop::End ? "an end" : "an else") + " without if, range or with");
        return nodes;
    }

private:
    struct Segment {
        bool action;
        std::string text;  // the text, or the action's body
        std::string where;
    };
    // What ended a list: the template's end, {{end}} or {{else ...}} (its tokens after "else").
    struct Stop {
        enum Kind { Eof, End, Else } kind;
        std::unique_ptr<Tokens> toks;
    };

    // The template as text and actions, "{{- " and " -}}" trimming the text beside them, comments dropped.
    void segment(std::string_view tmpl) {
        size_t i = 0;
        while (i < tmpl.size()) {
            size_t open = tmpl.find("{{", i);
            if (open == std::string_view::npos) {
                segs_.push_back({false, std::string(tmpl.substr(i)), ""});
                break;
            }
            size_t close = action_end(tmpl, open + 2);
            std::string_view whole =
                tmpl.substr(open, close == std::string_view::npos ? std::string_view::npos : close + 2 - open);
            std::string where = quote(std::string(whole));
            if (close == std::string_view::npos) fail_at(where, "no closing }}");
            std::string_view body = tmpl.substr(open + 2, close - open - 2);
            std::string_view text = tmpl.substr(i, open - i);
            if (body.size() >= 2 && body[0] == '-' && blank(body[1])) {
                while (!text.empty() && blank(text.back())) text.remove_suffix(1);
                body.remove_prefix(2);
            }
            segs_.push_back({false, std::string(text), ""});
            bool trim_right = body.size() >= 2 && body.back() == '-' && blank(body[body.size() - 2]);
            if (trim_right) body.remove_suffix(2);
            if (body.substr(0, 2) == "/*") {  // right after {{ or {{-, as Go's
                if (body.size() < 4 || body.substr(body.size() - 2) != "*/") fail_at(where, "a comment must end with */ right before }}");
            } else {
                segs_.push_back({true, std::string(body), where});
            }
            i = close + 2;
            if (trim_right)
                while (i < tmpl.size() && blank(tmpl[i])) ++i;
        }
    }

    Stop list(std::vector<Node>& nodes, int depth) {
        while (next_ < segs_.size()) {
            const Segment& s = segs_[next_++];
            if (!s.action) {
                if (!s.text.empty()) nodes.push_back({Node::Text, s.text, {}, {}, {}});
                continue;
            }
            auto toks = std::make_unique<Tokens>(s.text, s.where);
            if (toks->done()) toks->fail("an empty action");
            std::string word = toks->next_is(Token::Name) ? toks->peek()->text : "";
            if (word == "end" || word == "else") {
                toks->take();
                if (word == "end") toks->expect_end();
                return {word == "end" ? Stop::End : Stop::Else, std::move(toks)};
            }
            if (word == "if" || word == "range" || word == "with") {
                toks->take();
                nodes.push_back(control(word == "if" ? Node::If : word == "range" ? Node::Range : Node::With, *toks, depth + 1));
            } else if (word == "break" || word == "continue") {
                toks->take();
                toks->expect_end();
                if (ranges_ == 0) toks->fail(word + " outside a range");
                nodes.push_back({word == "break" ? Node::Break : Node::Continue, "", {}, {}, {}});
            } else if (word == "define" || word == "template" || word == "block") {
                toks->fail("unsupported " + quote(word) + " (one template only)");
            } else {
                nodes.push_back({Node::Print, "", pipeline(*toks, false), {}, {}});
            }
        }
        return {Stop::Eof, nullptr};
    }

    // {{if|range|with PIPELINE}} BODY [{{else [if|with PIPELINE]}} ALT] {{end}}; `toks` follow the keyword.
    Node control(Node::Kind kind, Tokens& toks, int depth) {
        if (depth > kMaxDepth) toks.fail("control structures nested too deeply");
        size_t scope = vars_.size();  // variables a pipeline declares live until {{end}}
        Node n{kind, "", pipeline(toks, kind == Node::Range), {}, {}};
        size_t declared = vars_.size();
        ranges_ += kind == Node::Range;
        Stop stop = list(n.body, depth);
        ranges_ -= kind == Node::Range;
        vars_.resize(declared);  // the body's own end with it
        if (stop.kind == Stop::Eof) toks.fail("no matching {{end}}");
        if (stop.kind == Stop::Else) {
            Tokens& rest = *stop.toks;
            if (kind != Node::Range && (rest.next_is_word("if") || rest.next_is_word("with"))) {
                Node::Kind chained = rest.take().text == "if" ? Node::If : Node::With;
                n.alt.push_back(control(chained, rest, depth + 1));  // {{else if X}}: {{else}}{{if X}}, sharing the {{end}}
            } else {
                rest.expect_end();
                Stop last = list(n.alt, depth);
                if (last.kind == Stop::Eof) toks.fail("no matching {{end}}");
                if (last.kind == Stop::Else) last.toks->fail("a second else");
            }
        }
        vars_.resize(scope);
        return n;
    }

    Pipeline pipeline(Tokens& toks, bool range) {
        Pipeline p{toks.where(), {}, false, {}};
        auto plain_var = [&](size_t ahead) {
            const Token* t = toks.peek(ahead);
            return t && t->kind == Token::Var && t->text.find('.') == std::string::npos && t->text != "$";
        };
        auto declares = [&](size_t ahead) { return toks.next_is(Token::Declare, ahead) || toks.next_is(Token::Assign, ahead); };
        bool pair = range && plain_var(0) && toks.next_is(Token::Comma, 1) && plain_var(2);
        size_t nvars = plain_var(0) && declares(1) ? 1 : pair && (declares(3) || toks.next_is(Token::Comma, 3)) ? 2 : 0;
        if (range && nvars == 2 && toks.next_is(Token::Comma, 3)) toks.fail("too many declarations in range");
        for (size_t i = 0; i < nvars; ++i) {
            p.vars.push_back(toks.take().text);
            if (i + 1 < nvars) toks.take();  // ,
        }
        if (nvars) p.declare = toks.take().kind == Token::Declare;
        if (nvars && !p.declare)
            for (const auto& v : p.vars)
                if (std::find(vars_.begin(), vars_.end(), v) == vars_.end()) toks.fail("undefined variable " + v);
        p.cmds = commands(toks, 0);
        toks.expect_end();
        if (p.declare) vars_.insert(vars_.end(), p.vars.begin(), p.vars.end());
        return p;
    }

    // COMMAND [| COMMAND]..., up to the end of the action or a ")".
    std::vector<Command> commands(Tokens& toks, int depth) {
        std::vector<Command> cmds;
        for (;;) {
            Command c;
            while (!toks.done() && !toks.next_is(Token::Pipe) && !toks.next_is(Token::Close))
                c.ops.push_back(operand(toks, c.ops.empty(), depth));
            if (c.ops.empty()) toks.fail(cmds.empty() && toks.done() ? "a missing value" : "an empty command");
            if (c.ops[0].kind == Operand::Nil) toks.fail("nil is not a command");
            if (!cmds.empty() && c.ops[0].kind != Operand::Func)
                toks.fail("a pipeline into " + quote(c.ops[0].text) + ", which is not a function");
            cmds.push_back(std::move(c));
            if (!toks.next_is(Token::Pipe)) return cmds;
            toks.take();
        }
    }

    Operand operand(Tokens& toks, bool first, int depth) {
        const Token& t = toks.take();
        switch (t.kind) {
            case Token::Field: return {Operand::Field, t.text, "", nullptr};
            case Token::Var: {
                size_t dot = t.text.find('.');
                std::string name = t.text.substr(0, dot);
                if (std::find(vars_.begin(), vars_.end(), name) == vars_.end()) toks.fail("undefined variable " + name);
                return {Operand::Var, name, dot == std::string::npos ? "" : t.text.substr(dot), nullptr};
            }
            case Token::String: return {Operand::String, t.text, "", nullptr};
            case Token::Number: return {Operand::Number, t.text, "", nullptr};
            case Token::Name: {
                if (t.text == "true" || t.text == "false") return {Operand::Bool, t.text, "", nullptr};
                if (t.text == "nil") return {Operand::Nil, t.text, "", nullptr};
                if (std::find(std::begin(kFunctions), std::end(kFunctions), t.text) == std::end(kFunctions))
                    toks.fail("unsupported " + quote(t.text) + " (functions: " + supported() + ")");
                if (!first) toks.fail("a function inside arguments needs parentheses: " + quote(t.text));
                return {Operand::Func, t.text, "", nullptr};
            }
            case Token::Open: {
                if (depth + 1 > kMaxDepth) toks.fail("parentheses nested too deeply");
                if (toks.done()) toks.fail("an unclosed (");
                auto sub = std::make_shared<Pipeline>(Pipeline{toks.where(), {}, false, commands(toks, depth + 1)});
                if (!toks.next_is(Token::Close)) toks.fail("an unclosed (");
                toks.take();
                std::string chain = toks.next_is(Token::Chain) ? toks.take().text : "";  // (index .Ports "80/tcp" 0).HostPort
                return {Operand::Sub, "(...)", chain, std::move(sub)};
            }
            default: toks.fail("unexpected " + quote(t.text));
        }
    }

    static std::string supported() {
        std::string s;
        for (const char* f : kFunctions) s += (s.empty() ? "" : ", ") + std::string(f);
        return s;
    }

    std::vector<Segment> segs_;
    size_t next_ = 0;
    std::vector<std::string> vars_{"$"};  // declared so far, for "undefined variable"
    int ranges_ = 0;                      // inside how many range bodies (for break, continue)
};

}  // namespace

void fail_at(const std::string& where, const std::string& why) { throw Error(EINVAL, where + ": " + why); }

std::vector<Node> parse(std::string_view tmpl) { return Parser(tmpl).parse(); }

}  // namespace crunlite::json::tmpl
