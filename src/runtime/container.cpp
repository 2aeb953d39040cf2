#include "crunlite/runtime/container.hpp"

// The verbs on an existing container (kill, delete, pause, resume, update,
// stats, ps, state, list), and the lifecycle helpers create and run share.

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>
#include <ostream>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/cgroup/resources.hpp"
#include "crunlite/cgroup/systemd.hpp"
#include "crunlite/runtime/systemd_unit.hpp"
#include "crunlite/process/hooks.hpp"
#include "crunlite/state/events.hpp"
#include "crunlite/runtime/user_namespace.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "internal.hpp"

namespace crunlite::runtime {
namespace {

using detail::config_hooks;
using detail::kill_and_wait;
using detail::remove_stopped;

// poststart and poststop: a failure is a warning and the lifecycle goes on
// (runtime-spec config.md "Hooks").
void run_hooks_warning(const std::vector<spec::Hook>& hooks, const char* kind, const state::State& st,
                       state::Status status) {
    if (hooks.empty()) return;
    try {
        process::run_hooks(hooks, kind, state::oci_state_json(st, status, false));
    } catch (const Error& e) {
        log::warn(e.message());
    }
}

pid_t live_pid(const state::Store& store, const state::State& st, state::Status& status) {
    status = store.status(st);
    return status == state::Status::Stopped ? 0 : st.pid;
}

// The processes of a container without a cgroup: with its own pid namespace,
// every process whose pid namespace is the init's; otherwise the init and its
// descendants.
std::vector<pid_t> processes_by_namespace(const state::State& st) {
    std::string init_ns;
    char buf[128];
    ssize_t n = ::readlink(("/proc/" + std::to_string(st.pid) + "/ns/pid").c_str(), buf, sizeof buf);
    if (n > 0) init_ns.assign(buf, static_cast<size_t>(n));
    std::vector<pid_t> targets;
    std::vector<std::pair<pid_t, pid_t>> parent_of;
    for (pid_t pid : sys::proc_pids()) {
        sys::ProcStat ps;
        if (!sys::read_proc_stat(pid, ps)) continue;
        parent_of.emplace_back(pid, ps.ppid);
        if (st.pid_namespace) {
            ssize_t m = ::readlink(("/proc/" + std::to_string(pid) + "/ns/pid").c_str(), buf, sizeof buf);
            if (m > 0 && std::string(buf, static_cast<size_t>(m)) == init_ns) targets.push_back(pid);
        }
    }
    if (!st.pid_namespace) {
        targets.push_back(st.pid);
        for (size_t i = 0; i < targets.size(); ++i)
            for (auto [pid, ppid] : parent_of)
                if (ppid == targets[i]) targets.push_back(pid);
    }
    return targets;
}

// Signals every process of the container: through its cgroup when it has one
// (a frozen one included), else by scanning its pid namespace.
void signal_everything(const state::State& st, int sig) {
    cgroup::Paths cg = detail::cgroup_paths(st);
    if (!cg.empty()) cgroup::kill_all(cg, sig);
    else
        for (pid_t pid : processes_by_namespace(st)) ::kill(pid, sig);
}

// `kill --all` of a stopped container, as runc: whatever its cgroup still holds (children
// of an init that shared a PID namespace, as a Kubernetes pod's containers do) gets the
// signal; containerd's shim asks for that once the init has exited.  False without a cgroup.
bool signal_leftovers(const state::State& st, int sig) {
    cgroup::Paths cg = detail::cgroup_paths(st);
    if (cg.empty()) return false;
    try {
        cgroup::kill_all(cg, sig);
    } catch (const Error& e) {
        if (e.code() != ENOENT) throw;  // the cgroup is gone already: nothing left to signal
    }
    return true;
}

// How the init `pidfd` (opened while it ran) ended: its exit code (128+n for
// signal n) as the kernel keeps it for the pidfd once the init's parent reaped
// it (PIDFD_INFO_EXIT, Linux 6.15).  A zombie's parent, its monitor, reaps it
// at once: a moment's grace for that.  nullopt when it does not, or on an
// older kernel.  (A zombie's /proc/PID/stat exit code is no answer: where we
// may not ptrace it, as rootless a non-dumpable crun-lite-init, it reads 0.)
std::optional<int> reaped_exit_code(const state::State& st, int pidfd) {
    sys::ProcStat ps;
    for (int i = 0; i < 20 && sys::read_proc_stat(st.pid, ps) && ps.start_time == st.start_time && ps.state == 'Z'; ++i)
        ::usleep(5'000);
    std::optional<int> status = sys::pidfd_exit_status(pidfd);
    if (!status) return std::nullopt;
    return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
}

}  // namespace

namespace detail {

void keep_hooks(const state::Store& store, const std::string& id, const spec::Hooks& hooks, bool again) {
    std::string path = store.dir(id) + "/" + kHooksFile;
    if (hooks.poststart.empty() && hooks.poststop.empty()) {
        if (again && ::unlink(path.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + quote(path));
        return;
    }
    spec::Hooks kept;
    kept.poststart = hooks.poststart;
    kept.poststop = hooks.poststop;
    write_file_atomic(path, spec::hooks_json(kept), 0600);
}

spec::Hooks config_hooks(const state::Store& store, const state::State& st) {
    std::string path = st.hooks_kept ? store.dir(st.id) + "/" + kHooksFile : st.config_path;
    try {
        if (!st.hooks_kept) return spec::parse_config(read_file(path), path).hooks;
        return spec::parse_hooks(read_file(path), path);
    } catch (const Error& e) {
        if (e.code() != ENOENT) log::warn("hooks of " + st.id + " not run: " + e.message());
        return {};
    }
}

// Releases a created container and runs its poststart hooks.
void start_created(const state::Store& store, const state::State& st, const std::vector<spec::Hook>& poststart,
                   bool started) {
    if (!started) {
        log::debug("container " + st.id + ": releasing init pid " + std::to_string(st.pid));
        process::release_fifo(store.fifo_path(st.id));
    }
    state::append_event(store.root(), state::container_event(st, "start"));
    run_hooks_warning(poststart, "poststart", st, state::Status::Running);
}

// Deletes the container's state and runs its poststop hooks.
void remove_stopped(const state::Store& store, const state::State& st, const std::vector<spec::Hook>& poststop) {
    store.remove(st.id);
    run_hooks_warning(poststop, "poststop", st, state::Status::Stopped);
    if (st.owned_bundle) remove_tree_as_owner(st.bundle);
}

// Kills the init with SIGKILL and waits (bounded) until it is gone; a frozen
// container is thawed so its processes can die.  Throws, keeping the state, if
// the init outlives the wait: `delete --force` must never report success then.
void kill_and_wait(const state::Store& store, const state::State& st) {
    sys::UniqueFd pidfd(sys::pidfd_open(st.pid, 0));
    if (!pidfd) return;
    if (store.status(st) == state::Status::Stopped) return;  // pid reused by someone else
    // With a pid namespace of its own, the init's end kills the rest (destroy_cgroups).
    if (!st.pid_namespace) signal_everything(st, SIGKILL);
    sys::pidfd_send_signal(pidfd.get(), SIGKILL);
    cgroup::Paths cg = detail::cgroup_paths(st);
    // Thawed whether or not it reads as frozen yet (a freeze may be under way).
    if (!cg.empty()) {
        try {
            cgroup::freeze(cg, false);
        } catch (const Error& e) {
            log::debug("thaw " + st.id + ": " + e.what());  // the wait below tells whether it mattered
        }
    }
    struct pollfd pfd = {pidfd.get(), POLLIN, 0};
    // The init may remain a zombie of another parent: then liveness ends at exit.
    for (int i = 0; i < 100 && store.status(st) != state::Status::Stopped; ++i) ::poll(&pfd, 1, 100);
    if (store.status(st) != state::Status::Stopped)
        throw Error(EBUSY, "container " + st.id + ": init " + std::to_string(st.pid) + " is still alive after SIGKILL");
}

}  // namespace detail

int parse_signal(const std::string& text) {
    if (auto n = parse_int(text)) {
        if (*n <= 0 || *n > SIGRTMAX) throw Error(EINVAL, "invalid signal " + quote(text));
        return static_cast<int>(*n);
    }
    std::string name = ascii_upper(text);
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    for (int sig = 1; sig < NSIG; ++sig) {
        const char* abbrev = sigabbrev_np(sig);
        if (abbrev && name == abbrev) return sig;
    }
    if (name == "IO") return SIGIO;  // glibc names it POLL; runc (Go) IO
    // Real-time signals: RTMIN, RTMIN+N, RTMAX, RTMAX-N.
    if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {
        bool min = name.compare(0, 5, "RTMIN") == 0;
        std::string off = name.substr(5);
        std::optional<int64_t> delta = 0;
        if (!off.empty()) {
            char sign = off[0];
            delta = parse_int(off.substr(1));
            if (!delta || sign != (min ? '+' : '-')) delta.reset();
            else if (!min) delta = -*delta;
        }
        if (delta) {
            int64_t sig = (min ? SIGRTMIN : SIGRTMAX) + *delta;
            if (sig >= SIGRTMIN && sig <= SIGRTMAX) return static_cast<int>(sig);
        }
    }
    throw Error(EINVAL, "unknown signal \"" + text + "\"");  // runc's words
}

void kill(const Context& ctx, const std::string& id, const std::string& signal, bool all) {
    // As runc: 0 checks that the container runs, and no signal is SIGTERM.
    int sig = signal == "0" ? 0 : signal.empty() ? SIGTERM : parse_signal(signal);
    state::Store store(ctx.root);
    state::State st = store.load(id);
    state::Status status;
    // A stopped container's --all succeeds as runc's, signalling what its cgroup still
    // holds; without one, what a pid namespace held ended with the init.
    if (!live_pid(store, st, status)) {
        if (all && (signal_leftovers(st, sig) || st.pid_namespace)) return;
        throw Error(ESRCH, "container not running");
    }
    sys::UniqueFd pidfd(sys::pidfd_open(st.pid, 0));
    if (!pidfd || store.status(st) == state::Status::Stopped) {
        if (all && (signal_leftovers(st, sig) || st.pid_namespace)) return;
        throw Error(ESRCH, "container not running");
    }
    // As runc: a paused container is thawed after a SIGKILL (the v1 freezer holds
    // a frozen task until then: delete would find it still paused), and after
    // any signal to all (runc freezes, signals and thaws).
    cgroup::Paths cg = detail::cgroup_paths(st);
    bool thaw = (all || sig == SIGKILL) && !cg.empty() && live_status(store, st) == state::Status::Paused;
    if (all) signal_everything(st, sig);
    if (sys::pidfd_send_signal(pidfd.get(), sig) < 0 && !(all && errno == ESRCH)) throw_errno("kill container init");
    if (thaw) {
        try {
            cgroup::freeze(cg, false);
        } catch (const Error& e) {
            log::debug("thaw " + st.id + ": " + e.what());
        }
    }
}

void remove(const Context& ctx, const std::string& id, bool force) {
    state::validate_id(id);  // runc's error for a bad id, not "does not exist"
    state::Store store(ctx.root);
    if (!store.exists(id)) {
        // runc: --force succeeds, removing what an aborted create may have left:
        // the cgroups it recorded before making them, then the directory.
        if (!force) throw Error(ENOENT, "container does not exist");
        state::validate_id(id);
        if (auto intent = store.load_cgroup_intent(id)) detail::destroy_cgroups(*intent);
        store.remove(id);
        return;
    }
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    state::Status status = live_status(store, st);
    if (status == state::Status::Running || status == state::Status::Paused) {
        if (!force)
            throw Error(EBUSY, "cannot delete container " + id + " that is not stopped: " + state::status_name(status));
    }
    if (status != state::Status::Stopped) {
        sys::UniqueFd pidfd(sys::pidfd_open(st.pid, 0));  // before the kill: how the init ended, below
        kill_and_wait(store, st);
        // Its end, which a monitor waiting on our lock finds no container to record
        // (record_exit), for wait and events: SIGKILL's, as Docker's rm -f, unless
        // the init had exited by itself just before (the kernel tells: its own code).
        if (!store.exit_status(id)) {
            std::optional<int> code = pidfd ? reaped_exit_code(st, pidfd.get()) : std::nullopt;
            store.record_exit_status(st, code.value_or(128 + SIGKILL));
            detail::record_end_events(ctx, st, code.value_or(128 + SIGKILL));
        }
    }
    detail::destroy_cgroups(st);
    remove_stopped(store, st, config_hooks(store, st).poststop);
}

namespace {

// The container's cgroups, which pause/resume/ps need.
cgroup::Paths require_cgroup(const state::State& st) {
    cgroup::Paths cg = detail::cgroup_paths(st);
    if (cg.empty())
        throw Error(ENOTSUP, "container " + st.id + " has no cgroup (--cgroup-manager disabled, or rootless "
                             "without a delegated cgroup)");
    return cg;
}

}  // namespace

void pause(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    // As runc: a created container can be paused (resume makes it created again);
    // a paused one is "not running".
    state::Status status = live_status(store, st);
    if (status != state::Status::Running && status != state::Status::Created)
        throw Error(EINVAL, "container not running");
    cgroup::freeze(require_cgroup(st), true);
}

void resume(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    if (live_status(store, st) != state::Status::Paused) throw Error(EINVAL, "container not paused");
    cgroup::freeze(require_cgroup(st), false);
}

void update(const Context& ctx, const std::string& id, const spec::Resources& resources) {
    state::Store store(ctx.root);
    sys::UniqueFd lock = store.lock(id);
    state::State st = store.load(id);
    if (store.status(st) == state::Status::Stopped) throw Error(EINVAL, "container not running");
    cgroup::Paths cg = require_cgroup(st);
    cgroup::Layout layout = cgroup::parse_layout(read_file("/proc/self/mountinfo"), read_file("/proc/self/cgroup"));
    auto v2 = cgroup::v2_controllers(layout);
    // The systemd driver: what systemd has properties for goes to the unit, the rest to the files.
    std::optional<cgroup::SystemdResources> by_systemd;
    if (!st.systemd_unit.empty()) by_systemd = cgroup::systemd_resources(resources);
    const spec::Resources& files = by_systemd ? by_systemd->rest : resources;
    auto writes = cgroup::plan_resources(files, [&](const std::string& c) { return v2.count(c) > 0; });
    // memory.checkBeforeUpdate: a new limit below what the container uses now is refused.
    if (const auto& m = resources.memory; m && m->check_before_update.value_or(false) && m->limit && *m->limit >= 0) {
        bool on_v2 = v2.count("memory") > 0;
        std::string dir = on_v2 ? cg.unified : (cg.v1.count("memory") ? cg.v1.at("memory") : "");
        if (!dir.empty()) {
            auto usage = parse_int(trim(read_file(dir + (on_v2 ? "/memory.current" : "/memory.usage_in_bytes"))));
            if (usage && *usage > *m->limit)
                throw Error(EINVAL, "linux.resources.memory.limit: " + std::to_string(*m->limit) +
                                        " is below the current usage " + std::to_string(*usage) +
                                        " (checkBeforeUpdate)");
        }
    }
    if (by_systemd && !by_systemd->properties.empty())
        set_unit_properties(st.systemd_unit, st.systemd_user, by_systemd->properties);
    cgroup::apply(cg, writes);
}

std::string stats_json(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    if (store.status(st) == state::Status::Stopped) throw Error(EINVAL, "container with id " + id + " is not running");
    // Without a cgroup (rootless, none delegated), runc's zeros: nothing is counted.
    return cgroup::stats_json(detail::cgroup_paths(st), id);
}

std::vector<int> container_pids(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    std::vector<int> out;
    cgroup::Paths cg = detail::cgroup_paths(st);
    bool stopped = store.status(st) == state::Status::Stopped;
    // Without a cgroup (rootless, none delegated), as signals find them: by its
    // pid namespace.  runc's ps has only the cgroup.
    if (cg.empty() && !stopped)
        for (pid_t p : processes_by_namespace(st)) out.push_back(p);
    if (cg.empty()) return out;
    try {
        // Stopped too, as runc's: what its cgroup still holds (an init that shared our pid namespace left them).
        for (pid_t p : cgroup::pids(cg)) out.push_back(p);
    } catch (const Error&) {
        if (!stopped) throw;
    }
    return out;
}

std::string state_json(const Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    return state::oci_state_json(st, live_status(store, st), true);
}

void list(const Context& ctx, const std::string& format, bool quiet, std::ostream& os) {
    bool json = format == "json";
    if (!json && format != "table" && !format.empty()) throw Error(EINVAL, "invalid format option " + quote(format));
    state::Store store(ctx.root);
    state::Listing listed = store.list(json);  // a table shows neither rootfs nor annotations
    std::string out;
    if (quiet) {
        for (const auto& l : listed.rows) out.append(l.id) += '\n';
        os << out;
        return;
    }
    // Of many containers most have often stopped: those whose exit the index
    // holds are not looked at, and of the others, one read of /proc tells
    // which pids are gone; only the rest are looked at.
    std::vector<pid_t> pids;
    auto unknown = std::count_if(listed.rows.begin(), listed.rows.end(), [](const state::Listed& l) { return !l.exited; });
    bool few = unknown <= 16;
    if (!few) pids = sys::proc_pids();
    std::vector<std::pair<const state::Listed*, state::Status>> rows;
    rows.reserve(listed.rows.size());
    for (auto& l : listed.rows) {
        state::Status status = state::Status::Stopped;
        if (!l.exited && (few || std::binary_search(pids.begin(), pids.end(), l.pid))) status = store.status(l);
        if (status == state::Status::Running) {
            try {
                // Paused is told by its cgroups, which state.json holds.
                const state::State& st = listed.keep(store.load(std::string(l.id)));
                l = state::listing(st);
                status = live_status(store, st);
            } catch (const Error&) {
                continue;  // being deleted right now: not listed
            }
        }
        rows.emplace_back(&l, status);
    }
    if (json) {
        out = "[";
        for (size_t i = 0; i < rows.size(); ++i) {
            if (i) out += ",";
            out += state::oci_state_json(*rows[i].first, rows[i].second, false);
        }
        os << out << "]\n";
        return;
    }
    // A table as runc's tabwriter (minimum width 12, padding 3) lays it out: each
    // column its widest cell and 3 spaces, at least 12.
    std::vector<char> pid_text(rows.size() * 12);
    auto cells = [&](size_t r) -> std::array<std::string_view, 6> {
        if (r == 0) return {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
        const auto& [l, status] = rows[r - 1];
        char* p = &pid_text[(r - 1) * 12];
        char* end = std::to_chars(p, p + 12, status == state::Status::Stopped ? 0 : l->pid).ptr;
        return {l->id, {p, static_cast<size_t>(end - p)}, state::status_name(status), l->bundle, l->created, l->owner};
    };
    std::array<size_t, 6> width{};
    for (size_t r = 0; r <= rows.size(); ++r) {
        auto row = cells(r);
        for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    size_t last_at = 0;
    for (size_t i = 0; i + 1 < width.size(); ++i) last_at += width[i] = std::max<size_t>(width[i] + 3, 12);
    // Written a block of lines at a time: the table of many containers is not
    // held whole.
    size_t line_max = last_at + width.back() + 1, block = std::max<size_t>(64 * 1024, line_max);
    out.reserve(block);
    for (size_t r = 0; r <= rows.size(); ++r) {
        if (out.size() + line_max > block) {
            os << out;
            out.clear();
        }
        auto row = cells(r);
        size_t at = out.size();
        out.resize(at + last_at + row.back().size() + 1, ' ');
        char* p = out.data() + at;
        for (size_t i = 0; i < row.size(); ++i) {
            std::memcpy(p, row[i].data(), row[i].size());
            p += i + 1 < row.size() ? width[i] : row[i].size();
        }
        *p = '\n';
    }
    os << out;
}

}  // namespace crunlite::runtime
