#include "crunlite/state/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "crunlite_build_config.h"

namespace crunlite::state {
namespace {

}  // namespace

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

void validate_id(const std::string& id) {
    bool ok = !id.empty() && id != "." && id != ".." && id.size() <= 1024;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.')) ok = false;
    if (!ok) throw Error(EINVAL, "invalid id format: " + id);
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
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    sys::remove_tree_at(fd, id);
    ::close(fd);
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
    read_cgroup_fields(v, st);
    return st;
}

void Store::save(const State& st) const {
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
    write_cgroup_fields(w, st);
    w.end_object();
    write_file_atomic(dir(st.id) + "/state.json", w.result(), 0600);
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

std::vector<State> Store::load_all() const {
    // One read a container, no stat first: a directory without a state.json
    // (being created or deleted, or no container's: @events.jsonl) fails its load.
    std::vector<State> out;
    for (const auto& n : list_dir(root_)) {
        try {
            out.push_back(load(n));
        } catch (const Error&) {
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

void Store::record_exit_status(const std::string& id, int status) const {
    write_file_atomic(dir(id) + "/exit", std::to_string(status), 0600);
}

void Store::clear_exit_status(const std::string& id) const {
    if (::unlink((dir(id) + "/exit").c_str()) < 0 && errno != ENOENT) throw_errno("remove " + quote(dir(id) + "/exit"));
}

Status Store::status(const State& st) const {
    sys::ProcStat ps;
    if (st.pid <= 0 || !sys::read_proc_stat(st.pid, ps) || ps.start_time != st.start_time || ps.state == 'Z' ||
        ps.state == 'X')
        return Status::Stopped;
    struct stat sb;
    if (::stat(fifo_path(st.id).c_str(), &sb) == 0) return Status::Created;
    return Status::Running;
}

std::string oci_state_json(const State& st, Status status, bool pretty) {
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
