// Semantic checks of a parsed config, before anything is created.  Pure.
// Throws Error(EINVAL) "SOURCE: JSON.path: what is wrong" for the first problem.
#pragma once

#include <string>

#include "crunlite/spec/config.hpp"

namespace crunlite::spec {

void validate(const Config& config, const std::string& source);

}  // namespace crunlite::spec
