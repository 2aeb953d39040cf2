// `exec`: a new process inside a running container (runc's `exec`).
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "crunlite/base/error.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/linux/process_setup.hpp"
#include "crunlite/linux/seccomp.hpp"
#include "crunlite/linux/terminal.hpp"
#include "crunlite/process/launcher.hpp"
#include "crunlite/runtime/container.hpp"
#include "crunlite/runtime/systemd_unit.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/spec/validate.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "internal.hpp"

namespace crunlite::runtime {
namespace {

// A uid or gid of -u or -g: runc's (Go's) number, a leading "+" allowed, in runc's range.
uint32_t parse_id(const std::string& text, const std::string& what) {
    auto v = parse_uint(!text.empty() && text[0] == '+' ? text.substr(1) : text);
    if (!v) throw Error(EINVAL, what + ": " + quote(text) + " is not a numeric id");
    if (*v > spec::kMaxProcessId) throw Error(EINVAL, "unable to setup user: " + std::string(spec::kProcessIdRange));
    return static_cast<uint32_t>(*v);
}

// Replaces or adds KEY=VALUE entries, keeping the first position of each key
// (runc: a later value for a key wins).
void merge_env(std::vector<std::string>& env, const std::vector<std::string>& extra) {
    for (const auto& kv : extra) {
        std::string key = kv.substr(0, kv.find('='));
        auto same = std::find_if(env.begin(), env.end(), [&](const std::string& e) {
            return e.compare(0, key.size(), key) == 0 && (e.size() == key.size() || e[key.size()] == '=');
        });
        if (same != env.end()) *same = kv;
        else env.push_back(kv);
    }
}

}  // namespace

spec::Process exec_process_spec(const spec::Process& base, const ExecOptions& o) {
    if (!o.process_file.empty()) {
        std::string text = with_context("read --process", [&] { return read_file(o.process_file); });
        spec::Process p = spec::parse_process(text, o.process_file);
        spec::validate_process(p, o.process_file);
        if (o.tty) p.terminal = true;
        // As runc: a file without capabilities or rlimits gets the container's
        // (not ours: as root, nearly every capability), and the container's
        // oomScoreAdj is every exec's.
        if (!p.capabilities) p.capabilities = base.capabilities;
        if (p.rlimits.empty()) p.rlimits = base.rlimits;
        p.oom_score_adj = base.oom_score_adj;
        return p;
    }
    if (o.args.empty()) throw Error(EINVAL, "exec: a command is required unless --process is given");
    spec::Process p = base;
    p.args = o.args;
    p.terminal = o.tty;
    for (const auto& e : o.env) {  // runc's checks and words
        if (e.find('=') == std::string::npos) throw Error(EINVAL, "invalid environment variable: \"" + e + "\"");
        if (e[0] == '=') throw Error(EINVAL, "environment variable name can't be empty: \"" + e + "\"");
    }
    merge_env(p.env, o.env);
    if (!o.cwd.empty()) {
        if (o.cwd[0] != '/') throw Error(EINVAL, "--cwd " + quote(o.cwd) + ": must be an absolute path");
        p.cwd = o.cwd;
    }
    if (!o.user.empty()) {
        size_t colon = o.user.find(':');
        p.user.uid = parse_id(o.user.substr(0, colon), "--user");
        if (colon != std::string::npos) p.user.gid = parse_id(o.user.substr(colon + 1), "--user");
    }
    // Added to the container's, as runc's; or a user's own (podman's exec -u).
    if (o.own_groups) p.user.additional_gids.clear();
    for (const auto& g : o.additional_gids) p.user.additional_gids.push_back(parse_id(g, "--additional-gids"));
    if (!o.caps.empty()) {
        if (!p.capabilities) p.capabilities.emplace();
        auto& c = *p.capabilities;
        for (const auto& cap : o.caps) {
            c.bounding.push_back(cap);
            c.effective.push_back(cap);
            c.permitted.push_back(cap);
            // Ambient needs the cap inheritable; as runc, only when the spec uses inheritable.
            if (!c.inheritable.empty()) c.ambient.push_back(cap);
        }
    }
    if (o.no_new_privs) p.no_new_privileges = true;
    if (!o.apparmor.empty()) p.apparmor_profile = o.apparmor;
    return p;
}

namespace {

// exec's own sub-cgroup (ExecOptions::own_cgroup): made in every hierarchy the
// container has, and destroyed (everything in it killed) by the destructor.
class ScratchCgroup {
public:
    // Made below `container`; paths() is empty when it could not be.
    explicit ScratchCgroup(const cgroup::Paths& container)
        : paths_(cgroup::sub_cgroups(container, {"crun-lite-exec-" + std::to_string(::getpid())})) {
        try {
            // A v1 cpuset gets its parent's cpus and mems.  The container's own
            // cgroups are never made again: a `delete` may be removing them.
            cgroup::create(paths_, {}, sys::host_kernel(), false);
        } catch (const Error& e) {
            log::debug("exec: no cgroup of its own: " + e.message());
            cgroup::destroy(paths_, true);
            paths_ = {};
        }
    }
    ScratchCgroup(const ScratchCgroup&) = delete;
    ScratchCgroup& operator=(const ScratchCgroup&) = delete;
    ~ScratchCgroup() { cgroup::destroy(paths_, true); }
    const cgroup::Paths& paths() const { return paths_; }

private:
    cgroup::Paths paths_;
};

}  // namespace

int exec(const Context& ctx, const ExecOptions& o) {
    detail::require_preserved_fds_open(o.preserve_fds);
    state::Store store(ctx.root);
    state::State st = store.load(o.id);
    // The pidfd pins the init; its status read after opening it rules out pid reuse.
    sys::UniqueFd init_pidfd(sys::pidfd_open(st.pid, 0));
    switch (init_pidfd ? live_status(store, st) : state::Status::Stopped) {
        case state::Status::Stopped: throw Error(EINVAL, "cannot exec in a stopped container");
        case state::Status::Paused:
            if (!o.ignore_paused)
                throw Error(EINVAL, "cannot exec in a paused container (use --ignore-paused to override)");
            break;
        default: break;
    }
    std::string text = with_context("read config", [&] { return read_file(st.config_path); });
    spec::Config config = spec::parse_config(text, st.config_path);
    if (!config.process || !config.linux) throw Error(EINVAL, st.config_path + ": process and linux are required");
    spec::Process process = exec_process_spec(*config.process, o);
    // The terminal is --tty's, or with --process the file's (containerd's shim
    // sends `--process F --console-socket S` with "terminal": true in F).
    if (process.terminal && o.detach && o.console_socket.empty())
        throw Error(EINVAL, "cannot allocate tty if crun-lite will detach without setting console socket");
    if (!o.console_socket.empty() && (!process.terminal || !o.detach))
        throw Error(EINVAL, "cannot use console socket if crun-lite will not detach or allocate tty");
    if (o.preserve_fds < 0) throw Error(EINVAL, "--preserve-fds must not be negative");
    bool apparmor = !process.apparmor_profile.empty() && linux::apparmor_enabled();
    if (!process.apparmor_profile.empty() && !apparmor)
        log::warn("exec: apparmor profile " + quote(process.apparmor_profile) +
                  " not applied: AppArmor is not enabled on this host");

    linux::ProcessPlan plan = linux::plan_process(process, {}, linux::host_cap_last_cap());
    if (apparmor) plan.apparmor_profile = process.apparmor_profile;
    linux::SeccompProgram seccomp;
    process::ExecRequest req;
    req.kill_with_parent = o.kill_with_parent;
    req.setgroups_allowed = st.setgroups;
    if (config.linux->seccomp) {
        seccomp = detail::seccomp_program(ctx.root, *config.linux->seccomp, st.config_path);
        req.seccomp = &seccomp;
    }
    req.config = &config;
    req.process = &plan;
    req.container_id = o.id;
    req.bundle = st.bundle;
    req.init_pid = st.pid;
    req.init_pidfd = init_pidfd.get();
    req.preserve_fds = o.preserve_fds;
    cgroup::Paths cg = detail::cgroup_paths(st);
    std::optional<ScratchCgroup> scratch;  // destroyed after the process ended (declared before it)
    if (!o.cgroups.empty()) {
        if (cg.empty()) throw Error(EINVAL, "exec --cgroup: the container has no cgroup");
        cg = cgroup::sub_cgroups(cg, o.cgroups);
        for (const auto& dir : cgroup::dirs(cg))
            if (::access(dir.c_str(), F_OK) < 0) throw_errno("exec --cgroup: sub-cgroup " + quote(dir));
    } else if (o.own_cgroup && !o.detach && !cg.empty()) {
        scratch.emplace(cg);
        if (!scratch->paths().empty()) cg = scratch->paths();
    }
    if (!st.systemd_unit.empty() && st.systemd_user) {
        // Rootless under a user's systemd: our cgroup and the unit's may only meet in a
        // cgroup we cannot write, so systemd moves stage-1 in (runc does the same).
        std::string sub = cg.unified.substr(std::min(cg.unified.size(), st.cgroup_unified.size()));
        while (!sub.empty() && sub.front() == '/') sub.erase(0, 1);
        req.place_stage1 = [&st, sub](pid_t pid) { attach_to_unit(st.systemd_unit, true, pid, sub); };
    } else {
        req.cgroup_unified = cg.unified;
        req.cgroup_v1_dirs = cgroup::v1_dirs(cg);
    }

    // Orphans of the exec'd process (without a pid namespace) come to us to be reaped.
    if (!o.detach) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    // The pty master is handed on before the process goes on, so that it starts
    // with its size set: conmon sizes the master as it reads it (we wait for
    // that, briefly: containerd's shim reads it only once we have exited), as we
    // do from our terminal (runc hands it on before its process execs too).
    std::optional<linux::TerminalProxy> tty;
    req.pty_ready = [&](sys::UniqueFd& master) {
        if (o.console_socket.empty()) {
            tty.emplace(std::move(master));
            return;
        }
        linux::send_to_console_socket(o.console_socket, master.get(), 20);
        master.reset();
    };
    process::Launched launched = with_context("exec failed: unable to start container process", [&] { return process::launch_exec(req); });
    if (!o.pid_file.empty()) detail::write_pid_file(o.pid_file, launched.process.pid());
    if (!launched.exec_failure.empty()) log::error(launched.exec_failure);  // its exit status follows
    // Detached: when we exit, the process goes to our caller's subreaper (conmon,
    // the containerd shim), which waits for it, as with runc.
    if (o.detach) {
        launched.process.release();
        return 0;
    }
    return detail::wait_forwarding_signals(launched, tty ? &*tty : nullptr,
                                           o.timeout_ns > 0 ? o.timeout_ns / 1'000'000 : -1);
}

}  // namespace crunlite::runtime
