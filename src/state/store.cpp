#include "crunlite/state/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "crunlite_build_config.h"
#include "crunlite/state/index.hpp"

namespace crunlite::state {

const char* status_name(Status s) {
    switch (s) {
        case Status::Creating: return "creating";
        case Status::Created: return "created";
        case Status::Running: return "running";
        case Status::Paused: return "paused";
        case Status::Stopped: return "stopped";
    }
    return "unknown";
}

bool valid_id(std::string_view id) {
    if (id.empty() || id == "." || id == ".." || id.size() > 1024) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
               c == '-' || c == '.';
    });
}

void validate_id(const std::string& id) {
    // runc's words, and the id.
    if (id.empty()) throw Error(EINVAL, "container id cannot be empty");
    if (!valid_id(id)) throw Error(EINVAL, "invalid container ID format: " + quote(id));
}

void Store::create_dir(const std::string& id) const {
    // The root may be shared by several users' containers only when it is ours.
    if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) {
        // Create missing parents (e.g. $XDG_RUNTIME_DIR/crun-lite's parent exists; --root a/b/c may not).
        std::string partial;
        for (const auto& part : split(root_, '/')) {
            if (part.empty()) continue;
            partial += "/" + part;
            if (::mkdir(partial.c_str(), 0700) < 0 && errno != EEXIST) throw_errno("create state root " + quote(partial));
        }
    }
    if (::mkdir(dir(id).c_str(), 0700) < 0) {
        if (errno == EEXIST) throw Error(EEXIST, "container with given ID already exists");
        throw_errno("create state directory " + quote(dir(id)));
    }
}

void Store::remove(const std::string& id) const {
    // Listed as removed first: a rebuild (which holds the index) then finds the
    // directory whole or not at all.
    bool rewrite = index::append(root_, index::removed_line(id));
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    // A container that ran to its end leaves state.json alone: removed by name,
    // then the directory; anything more (exec.fifo, exit, cgroups.json, ...)
    // and the whole tree is read and removed.
    ::unlinkat(fd, (id + "/state.json").c_str(), 0);
    if (::unlinkat(fd, id.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT) sys::remove_tree_at(fd, id);
    ::close(fd);
    if (rewrite) rewrite_index();
}

bool Store::exists(const std::string& id) const { return state_in(dir(id)); }

bool state_in(const std::string& container_dir) {
    struct stat st;
    return ::stat((container_dir + "/state.json").c_str(), &st) == 0;
}

namespace {

// The cgroup fields of state.json, which cgroups.json holds alone.
void write_cgroup_fields(json::Writer& w, const State& st) {
    w.key("cgroup_unified").string(st.cgroup_unified);
    w.key("cgroup_v1").begin_object();
    for (const auto& [k, val] : st.cgroup_v1) w.key(k).string(val);
    w.end_object();
    if (!st.systemd_unit.empty()) {
        w.key("systemd_unit").string(st.systemd_unit);
        w.key("systemd_user").boolean(st.systemd_user);
    }
}

void read_cgroup_fields(const json::Value& v, State& st) {
    st.cgroup_unified = v.get_string_or("cgroup_unified", "");
    st.cgroup_v1 = v.get_string_map_or("cgroup_v1");
    st.systemd_unit = v.get_string_or("systemd_unit", "");
    st.systemd_user = v.get_bool_or("systemd_user", false);
}

}  // namespace

State Store::load(const std::string& id) const {
    validate_id(id);
    std::string text;
    try {
        text = read_file(dir(id) + "/state.json");
    } catch (const Error& e) {
        if (e.code() == ENOENT || e.code() == ENOTDIR) throw Error(ENOENT, "container does not exist");
        throw;
    }
    json::Document doc = json::parse(text, dir(id) + "/state.json");
    json::Value v = doc.root();
    State st;
    st.id = v.get_string("id");
    st.pid = static_cast<pid_t>(v.get_int64("pid"));
    st.start_time = v.get_uint64("start_time");
    st.bundle = v.get_string("bundle");
    st.rootfs = v.get_string_or("rootfs", "");
    st.created = v.get_string("created");
    st.owner = v.get_string_or("owner", "");
    st.annotations = v.get_string_map_or("annotations");
    st.config_path = v.get_string("config_path");
    st.owned_bundle = v.get_bool_or("owned_bundle", false);
    st.pid_namespace = v.get_bool_or("pid_namespace", true);
    st.rootless = v.get_bool_or("rootless", false);
    st.hooks_kept = v.get_bool_or("hooks_kept", false);
    st.setgroups = v.find_bool("setgroups");
    read_cgroup_fields(v, st);
    return st;
}

PendingSave::PendingSave(const Store& store, const std::string& dir, std::string index_line)
    : store_(&store), path_(dir + "/" + kStateFile), ahead_(dir + "/" + kStateAheadFile),
      index_line_(std::move(index_line)) {}

PendingSave::PendingSave(PendingSave&& other) noexcept
    : store_(other.store_), path_(std::move(other.path_)), ahead_(std::move(other.ahead_)),
      index_line_(std::move(other.index_line_)),
      pending_(std::exchange(other.pending_, false)) {}

PendingSave::~PendingSave() {
    if (pending_) ::unlink(ahead_.c_str());
}

void PendingSave::commit() {
    pending_ = false;
    if (::rename(ahead_.c_str(), path_.c_str()) < 0) {
        int err = errno;
        ::unlink(ahead_.c_str());
        throw sys_error(err, "write " + quote(path_));
    }
    adopt();
}

void PendingSave::adopt() {
    pending_ = false;
    if (index::append(store_->root_, index_line_)) store_->rewrite_index();
}

void Store::save(const State& st) const { save_ahead(st).commit(); }

PendingSave Store::save_ahead(const State& st) const {
    json::Writer w(false);
    w.begin_object();
    w.key("id").string(st.id);
    w.key("pid").integer(st.pid);
    w.key("start_time").uinteger(st.start_time);
    w.key("bundle").string(st.bundle);
    w.key("rootfs").string(st.rootfs);
    w.key("created").string(st.created);
    w.key("owner").string(st.owner);
    w.key("annotations").begin_object();
    for (const auto& [k, val] : st.annotations) w.key(k).string(val);
    w.end_object();
    w.key("config_path").string(st.config_path);
    w.key("owned_bundle").boolean(st.owned_bundle);
    w.key("pid_namespace").boolean(st.pid_namespace);
    w.key("rootless").boolean(st.rootless);
    if (st.hooks_kept) w.key("hooks_kept").boolean(true);
    if (st.setgroups) w.key("setgroups").boolean(*st.setgroups);
    write_cgroup_fields(w, st);
    w.end_object();
    PendingSave pending(*this, dir(st.id), index::saved_line(listing(st)));
    write_new_file(pending.ahead_, w.result(), 0600);
    return pending;
}

void Store::rewrite_index() const {
    sys::UniqueFd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat st;
    if (root && ::fstat(root.get(), &st) == 0 && st.st_nlink >= 2) from_directories(root.get(), true);
}

void Store::save_cgroup_intent(const State& st) const {
    json::Writer w(false);
    w.begin_object();
    write_cgroup_fields(w, st);
    w.end_object();
    write_file_atomic(dir(st.id) + "/cgroups.json", w.result(), 0600);
}

std::optional<State> Store::load_cgroup_intent(const std::string& id) const {
    validate_id(id);
    std::string path = dir(id) + "/cgroups.json";
    std::string text;
    try {
        text = read_file(path);
    } catch (const Error& e) {
        if (e.code() == ENOENT || e.code() == ENOTDIR) return std::nullopt;
        throw;
    }
    json::Document doc = json::parse(text, path);
    State st;
    st.id = id;
    read_cgroup_fields(doc.root(), st);
    return st;
}

namespace {

// The index's text, mapped (its pages are the page cache's, not copies), and
// its size; none when there is no index.
std::pair<std::shared_ptr<const char>, size_t> map_index(int root_fd) {
    sys::UniqueFd fd(::openat(root_fd, index::kFile, O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) < 0 || st.st_size == 0) return {};
    auto size = static_cast<size_t>(st.st_size);
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) return {};
    return {std::shared_ptr<const char>(static_cast<const char*>(p),
                                        [size](const char* q) { ::munmap(const_cast<char*>(q), size); }),
            size};
}

}  // namespace

Listing Store::list(bool all_fields) const {
    sys::UniqueFd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) {
        if (errno == ENOENT) return {};
        throw_errno("open state root " + quote(root_));
    }
    struct stat st;
    if (::fstat(root.get(), &st) < 0) throw_errno("stat state root " + quote(root_));
    // Every container has a directory, so the index holds them all when it
    // lists as many as there are (a directory's link count is 2 + its
    // subdirectories' on ext4, xfs and tmpfs; btrfs and overlayfs say 1: read
    // every state.json there, and write no index).
    // Few lines of removed containers: it is rewritten after ~2 changes a container.
    Listing out;
    size_t size;
    std::tie(out.text_, size) = map_index(root.get());
    std::optional<index::Parsed> idx = index::parse({out.text_.get(), size}, all_fields);
    if (idx && st.st_nlink >= 2 && st.st_nlink - 2 == idx->live.size() + idx->aux_dirs &&
        idx->lines <= 2 * idx->live.size() + 256) {
        for (size_t i : idx->looks) {
            Listed& l = idx->live[i];
            try {
                l = listing(out.keep(load(std::string(l.id))));
            } catch (const Error&) {
                l.id = {};  // being created or deleted: not listed
            }
        }
        std::erase_if(idx->live, [](const Listed& l) { return l.id.empty(); });
        out.rows = std::move(idx->live);
        return out;
    }

    // No count to check an index by: none is written.
    return from_directories(root.get(), st.st_nlink >= 2);
}

Listing Store::from_directories(int root_fd, bool write_index) const {
    // Under the index's exclusive lock: a change waits to append until the new
    // index is in place (save: its state.json is then written; remove: the
    // directory is still whole).
    Listing out;
    // Empty when the root may only be read.
    sys::UniqueFd lock = write_index ? index::open_locked(root_, O_RDWR | O_CREAT, LOCK_EX) : sys::UniqueFd();
    std::vector<std::string> looks;
    size_t aux = 0;
    if (DIR* d = ::fdopendir(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0))) {
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            struct stat sb;
            bool is_dir = e->d_type == DT_DIR ||
                          (e->d_type == DT_UNKNOWN && ::fstatat(root_fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                           S_ISDIR(sb.st_mode));
            if (!is_dir || name == "." || name == "..") continue;
            if (!valid_id(name)) {
                ++aux;  // not a container's (@seccomp-cache)
                continue;
            }
            try {
                out.rows.push_back(listing(out.keep(load(name))));
                // Read after its state: an exit recorded is that init's (a restart
                // removes it before it saves the new one).
                out.rows.back().exited = ::faccessat(root_fd, (name + "/exit").c_str(), F_OK, 0) == 0;
            } catch (const Error&) {
                looks.push_back(name);  // being created or deleted
            }
        }
        ::closedir(d);
    }
    std::sort(out.rows.begin(), out.rows.end(), [](const Listed& a, const Listed& b) { return a.id < b.id; });
    if (lock) {
        std::vector<std::pair<std::string_view, std::string>> lines;
        for (const auto& l : out.rows) lines.emplace_back(l.id, index::saved_line(l));
        for (const auto& id : looks) lines.emplace_back(id, index::look_line(id));
        std::sort(lines.begin(), lines.end());  // sorted, its reader need not sort it
        std::string text = index::header(aux);
        for (const auto& [id, line] : lines) text += line;
        try {
            write_file_atomic(root_ + "/" + index::kFile, text, 0600);
        } catch (const Error&) {
            // Listed from the directories again next time.
        }
    }
    return out;
}

sys::UniqueFd Store::lock(const std::string& id) const {
    validate_id(id);
    sys::UniqueFd fd(::open(dir(id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) throw Error(ENOENT, "container does not exist");
        throw_errno("open state directory " + quote(dir(id)));
    }
    while (::flock(fd.get(), LOCK_EX) < 0)
        if (errno != EINTR) throw_errno("lock state directory " + quote(dir(id)));
    return fd;
}

std::optional<int> Store::exit_status(const std::string& id) const {
    try {
        return static_cast<int>(parse_int(read_file(dir(id) + "/exit")).value_or(-1));
    } catch (const Error&) {
        return std::nullopt;
    }
}

void Store::record_exit_status(const State& st, int status) const {
    write_file_atomic(dir(st.id) + "/exit", std::to_string(status), 0600);
    Listed exited = listing(st);
    exited.exited = true;
    if (index::append(root_, index::saved_line(exited))) rewrite_index();
}

void Store::clear_exit_status(const std::string& id) const {
    if (::unlink((dir(id) + "/exit").c_str()) < 0 && errno != ENOENT) throw_errno("remove " + quote(dir(id) + "/exit"));
}

Status Store::status(std::string_view id, pid_t pid, uint64_t start_time) const {
    sys::ProcStat ps;
    if (pid <= 0 || !sys::read_proc_stat(pid, ps) || ps.start_time != start_time || ps.state == 'Z' || ps.state == 'X')
        return Status::Stopped;
    struct stat sb;
    if (::stat(fifo_path(std::string(id)).c_str(), &sb) == 0) return Status::Created;
    return Status::Running;
}

Listed listing(const State& st) {
    return {st.id, st.pid, st.start_time, st.bundle, st.rootfs, st.created, st.owner, st.annotations};
}

std::string oci_state_json(const Listed& st, Status status, bool pretty) {
    json::Writer w(pretty);
    w.begin_object();
    w.key("ociVersion").string(CRUNLITE_SPEC_VERSION);
    w.key("id").string(st.id);
    w.key("pid").integer(status == Status::Stopped ? 0 : st.pid);
    w.key("status").string(status_name(status));
    w.key("bundle").string(st.bundle);
    w.key("rootfs").string(st.rootfs);
    w.key("created").string(st.created);
    w.key("owner").string(st.owner);
    if (!st.annotations.empty()) {
        w.key("annotations").begin_object();
        for (const auto& [k, v] : st.annotations) w.key(k).string(v);
        w.end_object();
    }
    w.end_object();
    return w.result();
}

}  // namespace crunlite::state
