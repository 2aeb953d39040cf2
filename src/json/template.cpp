#include "crunlite/json/template.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "go_format.hpp"
#include "template_parse.hpp"

namespace crunlite::json {
namespace {

using namespace tmpl;

// Actions and texts one template may run (nested ranges multiply): a typo does not hang the verb.
constexpr size_t kMaxSteps = 1'000'000;
// The output, and any text a function makes (printf in a range can double a variable each time).
constexpr size_t kMaxText = 64 << 20;

// ---- values ----

// A value while the template runs: the document's (JSON scalars unpacked, `j`
// kept for {{json}}) or one a function made.  Missing: a member the document
// lacks, false in a condition, an error (`why`) where it is printed or used.
struct Val {
    enum Kind { Nil, Missing, Bool, Num, Str, Object, Array, List } kind = Nil;
    bool b = false;
    std::string s;    // Num: as written; Str; Missing: why
    std::string why;  // Str: index's "" for a key the object lacks; why, where it is taken apart
    std::optional<Value> j;
    std::shared_ptr<const std::vector<Val>> list;  // List: split's strings

    static Val of(const Value& v) {
        Val r;
        r.j = v;
        if (v.is_null()) r.kind = Nil;
        else if (v.is_string()) r.kind = Str, r.s = v.as_string();
        else if (v.is_number()) r.kind = Num, r.s = v.number_text();
        else if (v.is_bool()) r.kind = Bool, r.b = v.as_bool();
        else r.kind = v.is_object() ? Object : Array;
        return r;
    }
    static Val text(Kind k, std::string s) {
        Val r;
        r.kind = k;
        r.s = std::move(s);
        return r;
    }
    static Val boolean(bool b) {
        Val r;
        r.kind = Bool;
        r.b = b;
        return r;
    }

    bool scalar() const { return kind == Bool || kind == Num || kind == Str; }
    std::string kind_name() const {
        switch (kind) {
            case Nil: return "null";
            case Missing: return "missing";
            case Bool: return "a boolean";
            case Num: return "a number";
            case Str: return "a string";
            case Object: return "an object";
            case Array: return "an array";
            case List: return "a list";
        }
        return "?";
    }
    size_t size() const { return kind == List ? list->size() : j->size(); }  // Object, Array, List
    Val element(size_t i) const { return kind == List ? (*list)[i] : of(j->element(i)); }
    std::vector<Val> elements() const {
        std::vector<Val> out;
        for (size_t i = 0; i < size(); ++i) out.push_back(element(i));
        return out;
    }
};

void write(Writer& w, const Val& v) {
    if (v.j) w.value(*v.j);
    else if (v.kind == Val::Nil) w.null();
    else if (v.kind == Val::Bool) w.boolean(v.b);
    else if (v.kind == Val::Str) w.string(v.s);
    else if (v.kind == Val::List) {
        w.begin_array();
        for (const Val& e : *v.list) write(w, e);
        w.end_array();
    }
}

bool truth(const Val& v) {
    switch (v.kind) {
        case Val::Nil:
        case Val::Missing: return false;
        case Val::Bool: return v.b;
        case Val::Num: return std::strtod(v.s.c_str(), nullptr) != 0;
        case Val::Str: return !v.s.empty();
        case Val::Object:
        case Val::Array:
        case Val::List: return v.size() != 0;
    }
    return false;
}

enum class Flow { Next, Break, Continue };

class Run {
public:
    explicit Run(const Value& root) : root_(Val::of(root)) { vars_.emplace_back("$", root_); }

    std::string operator()(const std::vector<Node>& nodes) {
        list(nodes, root_);
        return std::move(out_);
    }

private:
    Flow list(const std::vector<Node>& nodes, const Val& dot) {
        for (const Node& n : nodes) {
            Flow f = node(n, dot);
            if (f != Flow::Next) return f;
        }
        return Flow::Next;
    }

    Flow node(const Node& n, const Val& dot) {
        if (++steps_ > kMaxSteps) fail_at(n.pipe.where.empty() ? quote(n.text) : n.pipe.where, "the template ran over 1000000 steps");
        switch (n.kind) {
            case Node::Text: out_ += n.text; return Flow::Next;
            case Node::Print: {
                Val v = pipeline(n.pipe, dot);
                if (n.pipe.vars.empty()) out_ += print(v, n.pipe.where);
                if (out_.size() > kMaxText) fail_at(n.pipe.where, "the output is over 64 MiB");
                return Flow::Next;
            }
            case Node::Break: return Flow::Break;
            case Node::Continue: return Flow::Continue;
            case Node::If:
            case Node::With: {
                size_t scope = vars_.size();
                Val v = pipeline(n.pipe, dot);
                Flow f = !truth(v) ? list(n.alt, dot) : list(n.body, n.kind == Node::With ? v : dot);
                vars_.resize(scope);
                return f;
            }
            case Node::Range: return range(n, dot);
        }
        return Flow::Next;
    }

    Flow range(const Node& n, const Val& dot) {
        Val v = commands(n.pipe, dot);
        std::vector<std::pair<Val, Val>> items;  // key or index, element
        if (v.kind == Val::Array || v.kind == Val::List) {
            std::vector<Val> e = v.elements();
            for (size_t i = 0; i < e.size(); ++i) items.emplace_back(Val::text(Val::Num, std::to_string(i)), e[i]);
        } else if (v.kind == Val::Object) {
            for (auto& [k, m] : v.j->members()) items.emplace_back(Val::text(Val::Str, k), Val::of(m));
            std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first.s < b.first.s; });
        } else if (v.kind != Val::Nil && v.kind != Val::Missing) {
            fail_at(n.pipe.where, "range over " + v.kind_name());
        }
        if (items.empty()) return list(n.alt, dot);
        size_t scope = vars_.size();
        for (const auto& [key, elem] : items) {
            if (n.pipe.vars.size() == 2) bind(n.pipe.vars[0], key, n.pipe.declare);
            if (!n.pipe.vars.empty()) bind(n.pipe.vars.back(), elem, n.pipe.declare);
            Flow f = list(n.body, elem);
            vars_.resize(scope);
            if (f == Flow::Break) break;
        }
        return Flow::Next;
    }

    // The pipeline's value, declared or assigned to its variables (range's are its own).
    Val pipeline(const Pipeline& p, const Val& dot) {
        Val v = commands(p, dot);
        if (!p.vars.empty()) bind(p.vars[0], v, p.declare);
        return v;
    }

    void bind(const std::string& name, const Val& v, bool declare) {
        if (declare) {
            vars_.emplace_back(name, v);
            return;
        }
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
            if (it->first == name) {
                it->second = v;
                return;
            }
    }

    Val commands(const Pipeline& p, const Val& dot) {
        std::optional<Val> piped;
        for (const Command& c : p.cmds) piped = command(c, p.where, dot, piped);
        return *piped;
    }

    Val command(const Command& c, const std::string& where, const Val& dot, const std::optional<Val>& piped) {
        const Operand& head = c.ops[0];
        if (head.kind == Operand::Func) {
            Val v = call(head.text, c, where, dot, piped);
            if (v.s.size() > kMaxText) fail_at(where, head.text + ": a text over 64 MiB");
            return v;
        }
        if (c.ops.size() > 1) fail_at(where, "arguments to " + quote(head.text) + ", which is not a function");
        return operand(head, where, dot);
    }

    Val operand(const Operand& o, const std::string& where, const Val& dot) {
        switch (o.kind) {
            case Operand::Field: return field(dot, o.text, "", where);
            case Operand::Var: {
                for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
                    if (it->first == o.text) return field(it->second, o.chain.empty() ? "." : o.chain, o.text, where);
                fail_at(where, "undefined variable " + o.text);
            }
            case Operand::String: return Val::text(Val::Str, o.text);
            case Operand::Number: return Val::text(Val::Num, o.text);
            case Operand::Bool: return Val::boolean(o.text == "true");
            case Operand::Nil: return Val();
            case Operand::Sub: {
                Val v = commands(*o.sub, dot);
                if (o.chain.empty()) return v;
                if (!v.j && v.kind != Val::Missing) fail_at(where, !v.why.empty() ? v.why : "a field of text: " + quote(o.chain));
                return field(v, o.chain, "", where);
            }
            case Operand::Func: break;
        }
        fail_at(where, "a function inside arguments needs parentheses: " + quote(o.text));
    }

    // `path` (".A.B", "." itself) of `v`; `seen` names `v` in messages ("" for "the value").
    static Val field(Val v, const std::string& path, std::string seen, const std::string& where) {
        if (path == ".") return v;
        for (const auto& name : split(path.substr(1), '.')) {
            if (name.empty()) fail_at(where, "a bad field path " + quote(path));
            if (v.kind == Val::Missing) fail_at(where, v.s);
            std::string whose = seen.empty() ? "the value" : seen;
            if (v.kind != Val::Object) fail_at(where, !v.why.empty() ? v.why : whose + " is " + v.kind_name() + ", not an object");
            std::optional<Value> next = v.j->member(name);
            v = next ? Val::of(*next) : Val::text(Val::Missing, whose + " has no " + name);
            seen += (seen.empty() ? "" : ".") + name;
        }
        return v;
    }

    // `v` as {{.}} prints it: a string as itself, null as <nil>, an object or array as JSON.
    static std::string print(const Val& v, const std::string& where) {
        switch (v.kind) {
            case Val::Missing: fail_at(where, v.s);
            case Val::Nil: return "<nil>";
            case Val::Bool: return v.b ? "true" : "false";
            case Val::Num:
            case Val::Str: return v.s;
            case Val::Object:
            case Val::Array: return json(v, where);
            case Val::List: {
                std::string s = "[";
                for (const Val& e : *v.list) s += (s.size() > 1 ? " " : "") + print(e, where);
                return s + "]";
            }
        }
        return "";
    }

    static std::string json(const Val& v, const std::string& where) {
        if (v.kind == Val::Missing) fail_at(where, v.s);
        if (v.kind == Val::Num && !v.j) return v.s;
        Writer w(false);
        write(w, v);
        return w.result();
    }

    Val call(const std::string& f, const Command& c, const std::string& where, const Val& dot, const std::optional<Val>& piped) {
        size_t n = c.ops.size() - 1 + (piped ? 1 : 0);
        auto arg = [&](size_t i) { return i + 1 < c.ops.size() ? operand(c.ops[i + 1], where, dot) : *piped; };
        auto want = [&](size_t lo, size_t hi) {
            if (n < lo || n > hi)
                fail_at(where, "wrong number of arguments for " + f + ": want " +
                                   (lo == hi ? std::to_string(lo) : lo == hi - 1 ? std::to_string(lo) + " or " + std::to_string(hi)
                                                                                 : "at least " + std::to_string(lo)) +
                                   ", got " + std::to_string(n));
        };
        if (f == "and" || f == "or") {  // the first false (and) or true (or) argument, else the last; the rest unevaluated
            want(1, SIZE_MAX);
            Val v;
            for (size_t i = 0; i < n; ++i)
                if (v = arg(i); truth(v) == (f == "or")) return v;
            return v;
        }
        std::vector<Val> a;
        for (size_t i = 0; i < n; ++i) a.push_back(arg(i));
        auto str = [&](size_t i) {
            if (!a[i].scalar() && a[i].kind != Val::Missing) fail_at(where, f + " of " + a[i].kind_name());
            return print(a[i], where);
        };
        auto integer = [&](size_t i) {
            std::optional<int64_t> v = a[i].kind == Val::Num ? parse_int(a[i].s) : std::nullopt;
            if (!v || *v < 0) fail_at(where, f + ": want a count, got " + (a[i].scalar() ? quote(print(a[i], where)) : a[i].kind_name()));
            return static_cast<size_t>(*v);
        };
        if (f == "not") return want(1, 1), Val::boolean(!truth(a[0]));
        if (f == "eq") {
            want(2, SIZE_MAX);
            for (size_t i = 1; i < n; ++i)
                if (compare(a[0], a[i], f, where) == 0) return Val::boolean(true);
            return Val::boolean(false);
        }
        if (f == "ne" || f == "lt" || f == "le" || f == "gt" || f == "ge") {
            want(2, 2);
            int r = compare(a[0], a[1], f, where);
            return Val::boolean(f == "ne" ? r != 0 : f == "lt" ? r < 0 : f == "le" ? r <= 0 : f == "gt" ? r > 0 : r >= 0);
        }
        if (f == "len") {
            want(1, 1);
            const Val& v = a[0];
            if (v.kind == Val::Missing) fail_at(where, v.s);
            if (v.kind == Val::Str) return Val::text(Val::Num, std::to_string(v.s.size()));
            if (v.kind != Val::Object && v.kind != Val::Array && v.kind != Val::List) fail_at(where, "len of " + v.kind_name());
            return Val::text(Val::Num, std::to_string(v.size()));
        }
        if (f == "index") {
            want(1, SIZE_MAX);
            Val v = a[0];
            for (size_t i = 1; i < n; ++i) v = index(v, a[i], where);
            return v;
        }
        if (f == "slice") {  // slice X [I [J]]: X[I:J] of a string or an array
            want(1, 3);
            const Val& x = a[0];
            if (x.kind != Val::Str && x.kind != Val::Array && x.kind != Val::List) fail_at(where, "slice of " + x.kind_name());
            size_t len = x.kind == Val::Str ? x.s.size() : x.size();
            size_t from = n > 1 ? integer(1) : 0, to = n > 2 ? integer(2) : len;
            if (from > to || to > len)
                fail_at(where, "slice: [" + std::to_string(from) + ":" + std::to_string(to) + "] out of range of " + std::to_string(len));
            if (x.kind == Val::Str) return Val::text(Val::Str, x.s.substr(from, to - from));
            auto part = std::make_shared<std::vector<Val>>();
            for (size_t i = from; i < to; ++i) part->push_back(x.element(i));
            Val r;
            r.kind = Val::List;
            r.list = std::move(part);
            return r;
        }
        if (f == "json") return want(1, 1), Val::text(Val::Str, json(a[0], where));
        if (f == "upper" || f == "lower") return want(1, 1), Val::text(Val::Str, f == "upper" ? ascii_upper(str(0)) : ascii_lower(str(0)));
        if (f == "title") {
            want(1, 1);
            std::string s = str(0);
            for (size_t i = 0; i < s.size(); ++i)
                if (i == 0 || !(std::isalnum(static_cast<unsigned char>(s[i - 1])) || s[i - 1] == '_' || (s[i - 1] & 0x80)))
                    s[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
            return Val::text(Val::Str, s);
        }
        if (f == "split") {
            want(2, 2);
            std::string s = str(0), sep = str(1);
            auto parts = std::make_shared<std::vector<Val>>();
            if (sep.empty()) {  // each UTF-8 sequence
                for (size_t i = 0; i < s.size();) {
                    size_t j = i + 1;
                    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
                    parts->push_back(Val::text(Val::Str, s.substr(i, j - i)));
                    i = j;
                }
            } else {
                for (size_t i = 0;;) {
                    size_t j = s.find(sep, i);
                    parts->push_back(Val::text(Val::Str, s.substr(i, j == std::string::npos ? j : j - i)));
                    if (j == std::string::npos) break;
                    i = j + sep.size();
                }
            }
            Val r;
            r.kind = Val::List;
            r.list = std::move(parts);
            return r;
        }
        if (f == "join") {
            want(2, 2);
            if (a[0].kind != Val::Array && a[0].kind != Val::List) fail_at(where, "join of " + a[0].kind_name());
            std::string sep = str(1), out;
            std::vector<Val> e = a[0].elements();
            for (size_t i = 0; i < e.size(); ++i) out += (i ? sep : "") + print(e[i], where);
            return Val::text(Val::Str, out);
        }
        if (f == "pad") {  // Docker's: spaces before and after a string that is not empty
            want(3, 3);
            std::string s = str(0);
            size_t before = integer(1), after = integer(2);
            if (before > 4096 || after > 4096) fail_at(where, "pad: at most 4096 spaces");
            return Val::text(Val::Str, s.empty() ? s : std::string(before, ' ') + s + std::string(after, ' '));
        }
        if (f == "truncate") return want(2, 2), Val::text(Val::Str, str(0).substr(0, integer(1)));
        if (f == "print" || f == "println") {
            std::string s;
            for (size_t i = 0; i < n; ++i) {
                // Sprint: a space between operands when neither is a string; Sprintln: always.
                if (i && (f == "println" || (a[i].kind != Val::Str && a[i - 1].kind != Val::Str))) s += ' ';
                s += print(a[i], where);
            }
            return Val::text(Val::Str, f == "println" ? s + "\n" : s);
        }
        want(1, SIZE_MAX);  // printf
        std::vector<go::Arg> args;
        for (size_t i = 1; i < n; ++i) {
            const Val& v = a[i];
            args.push_back({v.kind == Val::Bool ? go::Arg::Bool : v.kind == Val::Num ? go::Arg::Num : v.kind == Val::Str ? go::Arg::Str : go::Arg::Other,
                            v.s, print(v, where), v.b});
        }
        return with_context(where + ": printf", [&] { return Val::text(Val::Str, go::format(str(0), args)); });
    }

    static Val index(const Val& v, const Val& key, const std::string& where) {
        if (v.kind == Val::Missing || key.kind == Val::Missing) fail_at(where, (v.kind == Val::Missing ? v : key).s);
        if (key.kind != Val::Str && key.kind != Val::Num) fail_at(where, "index keys are strings or numbers, not " + key.kind_name());
        if (v.kind == Val::Object) {
            if (std::optional<Value> m = v.j->member(key.s)) return Val::of(*m);
            Val none = Val::text(Val::Str, "");  // as Docker's maps of strings give
            none.why = "no key " + quote(key.s);
            return none;
        }
        if (v.kind == Val::Array || v.kind == Val::List) {
            std::optional<uint64_t> i = parse_uint(key.s);
            if (!i || *i >= v.size()) fail_at(where, "no element " + quote(key.s) + " of " + std::to_string(v.size()));
            return v.element(*i);
        }
        fail_at(where, !v.why.empty() ? v.why : "index of " + v.kind_name());
    }

    // <0, 0, >0; equality only (`op` eq, ne) for booleans and null.
    static int compare(const Val& a, const Val& b, const std::string& op, const std::string& where) {
        auto nil = [](const Val& v) { return v.kind == Val::Nil || v.kind == Val::Missing; };
        bool equality = op == "eq" || op == "ne";
        if (equality && (nil(a) || nil(b))) return nil(a) && nil(b) ? 0 : 1;
        if (equality && a.kind == Val::Bool && b.kind == Val::Bool) return a.b == b.b ? 0 : 1;
        if (a.kind == Val::Num && b.kind == Val::Num) {
            std::optional<int64_t> x = parse_int(a.s), y = parse_int(b.s);
            if (x && y) return *x < *y ? -1 : *x > *y;
            double p = std::strtod(a.s.c_str(), nullptr), q = std::strtod(b.s.c_str(), nullptr);
            return p < q ? -1 : p > q;
        }
        if (a.kind == Val::Str && b.kind == Val::Str) return a.s.compare(b.s) < 0 ? -1 : a.s != b.s;
        fail_at(where, op + ": cannot compare " + a.kind_name() + " with " + b.kind_name());
    }


    Val root_;
    std::vector<std::pair<std::string, Val>> vars_;
    std::string out_;
    size_t steps_ = 0;
};


}  // namespace

std::string render_template(std::string_view text, const Value& root) {
    std::vector<tmpl::Node> nodes = tmpl::parse(text);
    return Run(root)(nodes);
}

}  // namespace crunlite::json
