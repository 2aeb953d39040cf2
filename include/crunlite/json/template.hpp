// Go templates as `docker inspect --format` takes them, the part scripts use,
// over a parsed JSON value: text with actions {{.Field.Path}} ({{.}}: the
// whole value), {{json .Path}} (compact JSON), {{index .Path "key" 0 ...}}
// (map keys a path cannot spell, array elements), {{upper .Path}},
// {{lower .Path}}, parentheses and a field of their value ((index ...).Port),
// comments, and {{- / -}} trimming the blanks beside an action.
// A string prints as itself, null as <nil>, an object or array as JSON.
#pragma once

#include <string>
#include <string_view>

#include "crunlite/json/json.hpp"

namespace crunlite::json {

// Throws Error(EINVAL) naming the action for a template that does not parse,
// an action outside the part above, or a path the value lacks
// ("`{{.State.Health.Status}}`: State has no Health").  Pure.
std::string render_template(std::string_view tmpl, const Value& root);

}  // namespace crunlite::json
