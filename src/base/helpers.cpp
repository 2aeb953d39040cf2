#include "crunlite/base/helpers.hpp"

#include <unistd.h>

#include <cstdlib>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite_build_config.h"

namespace crunlite {

std::string find_helper(const std::string& name, const char* env_var, const char* build_path) {
    if (const char* env = std::getenv(env_var); env && *env) return env;
    std::string installed = std::string(CRUNLITE_LIBEXECDIR) + "/" + name;
    if (::access(installed.c_str(), X_OK) == 0) return installed;
    if (::access(build_path, X_OK) == 0) return build_path;
    throw Error(ENOENT, name + " is not installed: looked for " + quote(installed) + " and " + quote(build_path) +
                            "; set " + env_var);
}

}  // namespace crunlite
