#include "crunlite/base/error.hpp"

#include <cstring>

namespace crunlite {

Error sys_error(int err, const std::string& context) {
    // Lower-case the errno text as Go does ("no such file or directory"): podman,
    // buildah and containerd match runc's messages literally.
    std::string text = std::strerror(err);
    if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
    return Error(err, context + ": " + text);
}

void throw_errno(const std::string& context) { throw sys_error(errno, context); }

}  // namespace crunlite
