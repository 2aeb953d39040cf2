// Container state directory: <root>/<id>/ holding
//   state.json   what `state` reports plus private fields (written atomically:
//                temp file + rename, so readers never see half a file)
//   exec.fifo    exists from create until start (runc's convention): the blocked
//                container init holds it open for reading and execs once `start`
//                writes one byte
//   exit         exit status recorded by the monitor of a detached container
//   cgroups.json the cgroups `create` is about to make, written before it makes
//                them: a create killed before state.json exists leaves this
//                record, and `delete --force` removes what it names
// The directory itself is created with mkdir(2), which is atomic: of two
// concurrent `create` of one ID exactly one wins.  Mutating verbs hold an flock
// on the directory.  <root>/@containers.tsv indexes what `list` shows of every
// container (state/index.hpp): save and remove append a line to it.
#pragma once

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/sys/fd.hpp"

namespace crunlite::state {

enum class Status { Creating, Created, Running, Paused, Stopped };
const char* status_name(Status s);

struct State {
    std::string id;
    pid_t pid = 0;
    uint64_t start_time = 0;  // /proc/PID/stat field 22, guards against pid reuse
    std::string bundle;
    std::string rootfs;
    std::string created;  // RFC3339 with nanoseconds
    std::string owner;
    std::map<std::string, std::string> annotations;
    std::string config_path;  // config.json used at create time
    bool owned_bundle = false;  // the bundle goes with the container (run --image made it)
    bool pid_namespace = true;   // a pid namespace was made for it (not one joined by path)
    bool rootless = false;
    // create kept the poststart and poststop hooks in hooks.json (none there: none); a
    // container of an older crun-lite has its config.json's.
    bool hooks_kept = false;
    // Whether the container's user namespace allows setgroups, when create
    // knew (runtime::UserNamespacePlan): `exec` then need not ask /proc.
    std::optional<bool> setgroups;
    // The container's cgroup directories (empty: none): the v2 one and, on
    // hybrid/v1 hosts, controller -> directory.
    std::string cgroup_unified;
    std::map<std::string, std::string> cgroup_v1;
    // The systemd driver's unit holding them ("" with cgroupfs), and whether
    // the user's manager owns it.
    std::string systemd_unit;
    bool systemd_user = false;
};

// What `list` shows of a container: the fields of its state that the OCI
// state holds, viewing the text they were read from (a Listing keeps it).
struct Listed {
    std::string_view id;
    pid_t pid = 0;
    uint64_t start_time = 0;
    std::string_view bundle;
    std::string_view rootfs;
    std::string_view created;
    std::string_view owner;
    std::map<std::string, std::string> annotations;
    bool exited = false;  // known gone (its exit was recorded): Stopped without a look at /proc
};

// The fields of `st`, which must outlive them.
Listed listing(const State& st);

// Store::list's rows, sorted by ID, and what they view: the index, mapped, and
// the states read from their state.json.
// Moved, never copied (a copy's rows would view the original's states).
class Listing {
public:
    Listing() = default;
    Listing(Listing&&) = default;
    Listing& operator=(Listing&&) = default;
    Listing(const Listing&) = delete;
    Listing& operator=(const Listing&) = delete;

    std::vector<Listed> rows;
    // Keeps `st` as long as the listing, for rows that view it.
    const State& keep(State st) { return states_.emplace_back(std::move(st)); }

private:
    friend class Store;
    std::shared_ptr<const char> text_;  // unmapped when the listing goes
    std::deque<State> states_;          // a deque: its elements stay where they are
};

// Whether a container's state directory (Store::dir of its id) holds its
// state: for modules that record where a container's state lives.
bool state_in(const std::string& container_dir);

// Validates an ID like runc: [A-Za-z0-9_+.-]+, not "." or "..", at most 1024 bytes.
bool valid_id(std::string_view id);
// Throws Error(EINVAL, "invalid id format: ID") for an ID that is not valid.
void validate_id(const std::string& id);

class Store;

// The names, in a container's directory, of its state and of a state written ahead.
inline constexpr const char* kStateFile = "state.json";
inline constexpr const char* kStateAheadFile = "state.json.tmp";

// A state written ahead (state.json.tmp), while the init still sets up:
// commit() puts it in place and lists it; dropped uncommitted, it is removed.
// adopt() lists it when another process (the init, with renameat on the
// container's directory) puts it in place.
class PendingSave {
public:
    PendingSave(PendingSave&& other) noexcept;
    PendingSave& operator=(PendingSave&&) = delete;
    ~PendingSave();
    void commit();
    void adopt();

private:
    friend class Store;
    PendingSave(const Store& store, const std::string& dir, std::string index_line);
    const Store* store_;
    std::string path_, ahead_, index_line_;  // dir/kStateFile, dir/kStateAheadFile
    bool pending_ = true;
};

class Store {
public:
    explicit Store(std::string root) : root_(std::move(root)) {}

    const std::string& root() const { return root_; }
    std::string dir(const std::string& id) const { return root_ + "/" + id; }
    std::string fifo_path(const std::string& id) const { return dir(id) + "/exec.fifo"; }

    // Creates <root> (0700) if needed and <root>/<id>; throws Error
    // "container with given ID already exists" (EEXIST) when it exists.
    void create_dir(const std::string& id) const;
    // Removes <root>/<id> and everything in it; missing is fine.
    void remove(const std::string& id) const;
    bool exists(const std::string& id) const;

    // Throws Error(ENOENT, "container does not exist") when there is no state.
    State load(const std::string& id) const;
    void save(const State& st) const;
    // save() in two steps: written now, in place at commit().
    PendingSave save_ahead(const State& st) const;

    // The intent record (cgroups.json): the cgroup fields of `st`, before they exist.
    void save_cgroup_intent(const State& st) const;
    // A State holding only the recorded cgroup fields, or nullopt without a record.
    std::optional<State> load_cgroup_intent(const std::string& id) const;

    // Every container with a state, sorted by id (the others are being created
    // or deleted): from the index when it matches the root's directories (as
    // many containers as it lists), else from every state.json, and the index
    // is written again from them.  Without `all_fields`, the rootfs and
    // annotations are left out of those from the index.
    Listing list(bool all_fields = true) const;

    // Exclusive lock on the container directory, held while the returned fd lives.
    sys::UniqueFd lock(const std::string& id) const;

    // Exit status recorded by a monitor, if any.
    std::optional<int> exit_status(const std::string& id) const;
    // Also tells the index that st's init has exited (an "x" line).
    void record_exit_status(const State& st, int status) const;
    // Forgets it: the container is started again (a restart policy).
    void clear_exit_status(const std::string& id) const;

    // Current status: Stopped when the process is gone, a zombie, or a different
    // process now holds the pid; Created while exec.fifo exists; else Running.
    Status status(const State& st) const { return status(st.id, st.pid, st.start_time); }
    Status status(const Listed& l) const { return status(l.id, l.pid, l.start_time); }
    Status status(std::string_view id, pid_t pid, uint64_t start_time) const;

private:
    // Every state.json in the root open at `root_fd`, sorted; when
    // `write_index`, the index is written again from them, under its
    // exclusive lock.
    Listing from_directories(int root_fd, bool write_index) const;
    // After an append found the index too large (index::kRewriteBytes).
    void rewrite_index() const;

    friend class PendingSave;
    std::string root_;
};

// Serializes the public OCI state (ociVersion, id, status, pid, bundle, ...).
std::string oci_state_json(const Listed& l, Status status, bool pretty);
inline std::string oci_state_json(const State& st, Status status, bool pretty) {
    return oci_state_json(listing(st), status, pretty);
}

}  // namespace crunlite::state
