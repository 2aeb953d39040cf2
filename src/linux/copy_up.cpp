#include "copy_up.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::linux {

void copy_up(const std::string& source, int target, const std::string& destination, const CopyableMounts& copyable) {
    if (!copyable.count(sys::mount_id(target, destination))) {
        log::debug("copyup " + quote(destination) + ": another filesystem is mounted there; nothing copied");
        return;
    }
    sys::UniqueFd to(::open(source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!to) throw_errno("open " + quote(source) + " for copyup");
    if (::flock(to.get(), LOCK_EX) < 0) throw_errno("lock " + quote(source) + " for copyup");
    if (!sys::directory_empty(to.get(), source)) return;
    sys::UniqueFd from(::openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat st;
    if (!from || ::fstat(from.get(), &st) < 0) throw_errno("open " + quote(destination) + " for copyup");
    try {
        sys::copy_tree(from.get(), to.get(), destination);
    } catch (...) {
        // Emptied again (best effort): a part copy would pass for a filled volume.
        for (const auto& name : list_dir(sys::fd_path(to.get()))) sys::remove_tree_at(to.get(), name);
        throw;
    }
    if (::fchown(to.get(), st.st_uid, st.st_gid) < 0 && errno != EPERM && errno != EINVAL)
        throw_errno("chown " + quote(source));
    if (::fchmod(to.get(), st.st_mode & 07777) < 0) throw_errno("chmod " + quote(source));
}

}  // namespace crunlite::linux
