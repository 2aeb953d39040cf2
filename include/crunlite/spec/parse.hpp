// config.json (runtime-spec 1.3) -> spec::Config.  Pure: no syscalls.
//
// Parsing checks syntax and types only; semantic rules (absolute paths, known
// namespace types, ...) are spec/validate.hpp's job.  Rules:
//   - JSON per json::parse: duplicate keys, oversize input and deep nesting are errors;
//   - unknown keys are ignored (the spec allows extensions), but the fields
//     crun-lite cannot apply (other platforms' sections, linux.intelRdt) are
//     errors naming their path;
//   - null is the same as an absent member;
//   - a member of the wrong type is an error naming its path, and so is a
//     missing member the schema requires (root.path, linux.uidMappings[].size, ...);
//   - integers must be integers and fit the model's type (uint32 uid, int64
//     memory limit, uint64 rlimit up to 18446744073709551615).
// Every function throws crunlite::Error(EINVAL) "source: json.path: what is wrong".
#pragma once

#include <string>
#include <string_view>

#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

// A whole config.json; `source` names it in errors ("/b/config.json").
Config parse_config(std::string_view text, const std::string& source);

// A hooks object alone, and one written back (what create keeps of the poststart and
// poststop hooks for start and delete: runtime-spec, later changes to config.json
// must not affect the container).  hooks_json(parse_hooks(t)) is t's hooks, normalised.
Hooks parse_hooks(std::string_view text, const std::string& source);
std::string hooks_json(const Hooks& hooks);

// A process object alone (`exec --process FILE`); paths have no "process." prefix.
Process parse_process(std::string_view text, const std::string& source);

// A linux.resources object alone (`update --resources FILE`); paths are relative
// to it ("memory.limit").
Resources parse_resources(std::string_view text, const std::string& source);

}  // namespace crunlite::spec
