// USER of an image against its own /etc/passwd and /etc/group (hostile), and
// the other passwd/subuid readers.  Input: "USER\0PASSWD\0GROUP".
#include <cstddef>
#include <cstdint>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/spec/idmap.hpp"

using namespace crunlite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    size_t a = in.find('\0'), b = a == std::string::npos ? a : in.find('\0', a + 1);
    std::string user = in.substr(0, a);
    std::optional<std::string> passwd, group;
    if (a != std::string::npos) passwd = in.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    if (b != std::string::npos) group = in.substr(b + 1);
    try {
        app::resolve_user(user, passwd, group);
    } catch (const Error&) {
    }
    spec::passwd_home(passwd.value_or(""), 1000);
    spec::passwd_user_name(passwd.value_or(""), 0);
    spec::parse_subid_file(passwd.value_or(""), user, 1000);
    return 0;
}
