#include "crunlite/app/container_dirs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/state/store.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::app {
namespace {

// Names a container id cannot have ("@" cannot start one): dead directories moved aside.
constexpr const char* kAsidePrefix = "@dead-";

// <dir>/state's lines: the state path first, then each image pinned (the last counts).
std::vector<std::string> state_lines(const std::string& dir) { return split(trim(read_file(dir + "/state")), '\n'); }

bool has_state(const std::string& dir) {
    try {
        return state::state_in(state_lines(dir).at(0));
    } catch (const Error&) {
        return false;  // no state path yet: being created, or left over
    }
}

// A lock taken to test it is dropped with its fd (a directory's fd of its own).
bool held(int dir_fd) { return ::flock(dir_fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK; }

}  // namespace

bool container_dir_live(const std::string& dir) { return has_state(dir) || container_dir_held(dir); }

bool container_dir_held(const std::string& dir) {
    sys::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return fd && held(fd.get());
}

bool await_container_dir_released(int dir_fd, int timeout_ms) {
    for (int waited = 0; held(dir_fd); waited += 10) {
        if (waited >= timeout_ms) return false;
        ::usleep(10'000);
    }
    ::flock(dir_fd, LOCK_UN);
    return true;
}

std::map<std::string, std::string> ContainerDirs::images_in_use() const {
    std::map<std::string, std::string> out;
    for (const auto& c : list_dir(root_)) {
        if (!container_dir_live(dir(c))) continue;
        try {
            auto lines = state_lines(dir(c));
            // A directory made before the pin moved into state has an image file.
            out.emplace(lines.size() > 1 ? lines.back() : trim(read_file(dir(c) + "/image")), c);
        } catch (const Error&) {
            // Being removed.
        }
    }
    return out;
}

void ContainerDirs::pin(const std::string& holder, const std::string& id) const {
    // Appended under the store lock, under which images_in_use reads it: no
    // file of its own (each inode made costs ~0.1 ms on an ext4 that recycles many).
    std::string path = holder + "/state";
    sys::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    std::string line = id + "\n";
    if (!fd || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        throw_errno("write " + quote(path));
}

void ContainerDirs::prune() const {
    // Under the store lock no directory is half made.
    for (const auto& c : list_dir(root_))
        if (!container_dir_live(dir(c))) sys::remove_tree(dir(c));  // best effort: the next prune takes a leftover
}

sys::UniqueFd ContainerDirs::create(const image::Store& store, const std::string& id,
                                    const std::string& state_dir) const {
    state::validate_id(id);
    sys::UniqueFd store_lock = store.lock();
    std::string d = dir(id);
    ::mkdir(root_.c_str(), 0700);
    if (::mkdir(d.c_str(), 0700) < 0) {
        if (errno != EEXIST) throw_errno("create " + quote(d));
        auto taken = [] { return Error(EEXIST, "container with given ID already exists"); };
        if (has_state(d)) throw taken();
        // A run killed outright (SIGKILL) leaves children that die with it (their
        // parent-death signal); the rootless import's, which inherited the locked
        // fd, holds the lock until its own SIGKILL has landed, a few ms later.  A
        // held directory without state is given a second for that, without the
        // store's lock, which a creator still at work needs to go on.
        if (sys::UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); fd && held(fd.get())) {
            store_lock.reset();
            bool released = await_container_dir_released(fd.get(), 1000);
            store_lock = store.lock();
            if (!released || container_dir_live(d)) throw taken();
        }
        // A dead container's (its state is gone: a run killed before it cleaned
        // up): removed, or, when files of subordinate ids remain that only a user
        // namespace of the caller's can remove, moved aside for prune (it runs
        // there).  Without its state path it stays dead once this id's new state exists.
        ::unlink((d + "/state").c_str());
        if (::access(d.c_str(), F_OK) == 0 && sys::remove_tree(d) < 0) {
            std::string aside = dir(kAsidePrefix + id + "-" + std::to_string(::getpid()));
            if (::rename(d.c_str(), aside.c_str()) < 0) throw_errno("move aside " + quote(d));
        }
        if (::mkdir(d.c_str(), 0700) < 0) throw_errno("create " + quote(d));
    }
    try {
        // The directory itself is the lock: no file to make and remove.
        sys::UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) throw_errno("lock " + quote(d));
        write_file_atomic(d + "/state", state_dir + "\n", 0644);
        return fd;
    } catch (...) {
        sys::remove_tree(d);  // best effort: a leftover is prune's to take
        throw;
    }
}

bool ContainerDirs::remove_dead(const image::Store& store, const std::string& id) const {
    state::validate_id(id);
    sys::UniqueFd store_lock = store.lock();
    std::string d = dir(id);
    if (::access(d.c_str(), F_OK) < 0) return false;
    if (container_dir_live(d)) throw Error(EBUSY, "container " + id + " is in use (its directory is live)");
    sys::remove_tree(d);  // best effort: a leftover is prune's to take
    return true;
}

}  // namespace crunlite::app
