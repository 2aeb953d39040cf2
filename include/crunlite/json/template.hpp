// Go templates as `docker inspect --format` takes them, over a parsed JSON
// value: Go's text/template language but for named templates (define,
// template, block): text and actions, fields, $ and variables, pipelines,
// if / else if / else / with / else with / range (arrays, objects by sorted
// key) / break / continue, parentheses with a field of their value, comments,
// {{- / -}} trimming, Go's literals; Go's functions and, or, not, len, index,
// slice, print, printf, println, eq, ne, lt, le, gt, ge and Docker's json,
// upper, lower, title, split, join, pad, truncate.  A string prints as itself,
// null as <nil>, an object or array as JSON.  A member a field path names and
// the value lacks is false in conditions and empty in range; printed or used
// elsewhere it is an error.  index of a missing key is "" (Docker's string maps).
#pragma once

#include <string>
#include <string_view>

#include "crunlite/json/json.hpp"

namespace crunlite::json {

// Throws Error(EINVAL) naming the action for a template that does not parse,
// an action outside the part above, a member the value lacks where it is used
// ("`{{.State.Health.Status}}`: State has no Health"), or a run of more than
// 1,000,000 actions or of more than 64 MiB of text.  Pure.
std::string render_template(std::string_view tmpl, const Value& root);

}  // namespace crunlite::json
