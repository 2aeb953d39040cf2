#include "crunlite/app/volumes.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "app_record.hpp"
#include "crunlite/app/container_dirs.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/runtime/user_namespace.hpp"

namespace crunlite::app {

namespace {

void check_name(const std::string& name) {
    if (!valid_volume_name(name))
        throw Error(EINVAL, "invalid volume name " + quote(name) + ": letters, digits, _ . -, a letter or digit first");
}

}  // namespace

bool Volumes::exists(const std::string& name) const {
    return valid_volume_name(name) && ::access(data(name).c_str(), F_OK) == 0;
}

bool Volumes::create(const std::string& name) const {
    check_name(name);
    std::string dir = root_ + "/" + name;
    ::mkdir(store_root_.c_str(), 0700);
    if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) throw_errno("create " + quote(root_));
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) throw_errno("create volume " + quote(dir));
    // _data is what counts: `dir` may be another's, made a moment ago (its _data too,
    // maybe between our two mkdirs), or left half made.
    if (::mkdir(data(name).c_str(), 0755) == 0) return true;
    if (errno != EEXIST) throw_errno("create " + quote(data(name)));
    return false;
}

sys::UniqueFd Volumes::hold(const std::string& name) const {
    std::string dir = root_ + "/" + name;
    sys::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::flock(fd.get(), LOCK_SH) < 0) throw_errno("lock volume " + quote(dir));
    return fd;
}

std::vector<std::string> Volumes::list() const {
    std::vector<std::string> out;
    for (auto& name : list_dir(root_))
        if (exists(name)) out.push_back(name);
    return out;
}

std::vector<std::string> Volumes::users(const std::string& name) const {
    std::vector<std::string> out;
    ContainerDirs dirs(store_root_);
    for (const auto& id : list_dir(store_root_ + "/containers")) {
        std::string dir = dirs.dir(id);
        if (!container_dir_live(dir)) continue;
        try {
            auto mounts = detail::parse_app(dir + "/app.json").mounts;
            if (std::any_of(mounts.begin(), mounts.end(), [&](const auto& m) { return m.name == name; }))
                out.push_back(id);
        } catch (const Error&) {
            // Being made (holding its volumes, see hold) or removed.
        }
    }
    return out;
}

void Volumes::remove(const std::string& name) const {
    check_name(name);
    std::string dir = root_ + "/" + name;
    if (!exists(name)) throw Error(ENOENT, "no such volume " + quote(name));
    sys::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open volume " + quote(dir));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0)
        throw Error(EBUSY, "volume " + quote(name) + " is in use by a container being created");
    if (auto ids = users(name); !ids.empty())
        throw Error(EBUSY, "volume " + quote(name) + " is in use by container" + (ids.size() > 1 ? "s " : " ") +
                               join(ids, ", ") + ": remove " + (ids.size() > 1 ? "them" : "it") + " first");
    // _data first: a volume without it no longer exists for the others.
    runtime::remove_tree_as_owner(data(name));
    if (::access(data(name).c_str(), F_OK) == 0) throw Error(EIO, "remove volume " + quote(name) + ": files remain in " + data(name));
    runtime::remove_tree_as_owner(dir);
}

std::string Volumes::created_at(const std::string& name) const {
    struct stat st;
    if (::stat((root_ + "/" + name).c_str(), &st) < 0) throw_errno("stat volume " + quote(name));
    return rfc3339_utc(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
}

std::string random_volume_name() {
    unsigned char bytes[32];
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) throw_errno("getrandom");
    std::string out;
    char hex[3];
    for (unsigned char b : bytes) {
        std::snprintf(hex, sizeof hex, "%02x", b);
        out += hex;
    }
    return out;
}

}  // namespace crunlite::app
