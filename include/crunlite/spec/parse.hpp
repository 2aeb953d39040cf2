// config.json (and its parts) -> the typed model of spec/config.hpp.
// Unknown keys are ignored (the spec allows extensions); a known key with the
// wrong type is an Error(EINVAL) naming the source and JSON path:
//   "/b/config.json: process.user.uid: expected an unsigned 32-bit integer, got a string"
// Duplicate keys anywhere are rejected (json::parse).
#pragma once

#include <string>
#include <string_view>

#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

Config parse_config(std::string_view text, const std::string& source);

// `exec --process FILE`: an OCI process object on its own.
Process parse_process(std::string_view text, const std::string& source);

// `update --resources FILE|-`: a LinuxResources object on its own.
Resources parse_resources(std::string_view text, const std::string& source);

}  // namespace crunlite::spec
