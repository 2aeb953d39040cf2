// The parsed form of inspect --format's Go templates (template.cpp runs them).  Pure.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crunlite::json::tmpl {

struct Pipeline;

struct Operand {
    enum Kind { Field, Var, String, Number, Bool, Nil, Func, Sub } kind;
    std::string text;   // ".A.B"; "$x"; the literal; "true"; the function's name
    std::string chain;  // Var, Sub: the fields after it (".A.B"), or ""
    std::shared_ptr<const Pipeline> sub;
};

struct Command {
    std::vector<Operand> ops;  // a Func first: a call with the rest as arguments
};

struct Pipeline {
    std::string where;              // the action, quoted, for messages
    std::vector<std::string> vars;  // $x := / $x = / range $i, $e :=
    bool declare = false;
    std::vector<Command> cmds;      // each one's value is the next one's last argument
};

struct Node {
    enum Kind { Text, Print, If, Range, With, Break, Continue } kind;
    std::string text;
    Pipeline pipe;
    std::vector<Node> body, alt;  // alt: after {{else}}
};

// Throws Error(EINVAL) "`{{action}}`: why".
[[noreturn]] void fail_at(const std::string& where, const std::string& why);

// The template's nodes; throws Error(EINVAL) naming the action for one that
// does not parse (syntax, an unknown function, an undefined variable, break
// outside a range, ...).
std::vector<Node> parse(std::string_view tmpl);

}  // namespace crunlite::json::tmpl
