#include "crunlite/linux/process_setup.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cctype>
#include <memory>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/idmap.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::linux {

namespace {

struct CapDeleter {
    void operator()(cap_t c) const { cap_free(c); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapDeleter>;

std::string limit_text(rlim_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

bool contains(const std::vector<int>& v, int c) { return std::find(v.begin(), v.end(), c) != v.end(); }

}  // namespace

void set_rlimits(const std::vector<ResourceLimit>& rlimits) {
    for (const auto& rl : rlimits) {
        struct rlimit current;
        check(::getrlimit(rl.resource, &current), "getrlimit " + rl.name);
        struct rlimit wanted = {static_cast<rlim_t>(rl.soft), static_cast<rlim_t>(rl.hard)};
        if (::setrlimit(rl.resource, &wanted) < 0) {
            // runc's words first ("error setting rlimit type 7: operation not permitted"), then why.
            std::string what = "error setting rlimit type " + std::to_string(rl.resource) + " (" + rl.name + ")";
            if (errno == EPERM && wanted.rlim_max > current.rlim_max)
                throw Error(EPERM, what + ": operation not permitted: hard limit " + limit_text(wanted.rlim_max) +
                                       " is above the current hard limit " + limit_text(current.rlim_max) +
                                       " (raising it needs CAP_SYS_RESOURCE)");
            throw_errno(what);
        }
    }
}

void set_oom_score_adj(int value) {
    try {
        write_file("/proc/self/oom_score_adj", std::to_string(value));
    } catch (const Error& e) {
        if (e.code() == EACCES || e.code() == EPERM)
            throw Error(e.code(), "process.oomScoreAdj " + std::to_string(value) +
                                      ": below the lowest this caller may set (that needs CAP_SYS_RESOURCE)");
        throw e.with_context("set oom_score_adj to " + std::to_string(value));
    }
}

bool apparmor_enabled() {
    // Read on every create: no exception on the way (the first throw of a
    // process costs its unwinder ~0.7 MB of RSS), one byte.
    sys::UniqueFd fd(::open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC));
    char c = 0;
    return fd && ::read(fd.get(), &c, 1) == 1 && c == 'Y';
}

void apply_apparmor_profile(const std::string& profile) {
    std::string value = "exec " + profile;
    for (const char* path : {"/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec"}) {
        sys::UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
        if (!fd && errno == ENOENT) continue;
        if (!fd || ::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
            throw_errno("apparmor failed to apply profile " + quote(profile) + ": write " + path);
        return;
    }
    throw Error(ENOENT, "apparmor failed to apply profile " + quote(profile) + ": the kernel has no attr/apparmor/exec");
}

bool try_enter_cwd(const std::string& cwd) {
    if (::chdir(cwd.c_str()) < 0) {
        if (errno == EACCES) return false;
        throw_errno("chdir to cwd (\"" + cwd + "\") set in config.json failed");  // runc's words
    }
    check_cwd_inside(cwd);
    return true;
}

void enter_cwd(const std::string& cwd) {
    if (::chdir(cwd.c_str()) < 0) throw_errno("chdir to cwd (\"" + cwd + "\") set in config.json failed");
    check_cwd_inside(cwd);
}

void check_cwd_inside(const std::string& cwd) {
    // A cwd reached through a leaked host fd ("/proc/self/fd/7") lies outside
    // our root; the kernel then reports it as unreachable (CVE-2024-21626).
    char buf[PATH_MAX];
    if (::getcwd(buf, sizeof buf) == nullptr)
        throw Error(errno == ENOENT ? EPERM : errno, "cwd " + quote(cwd) + " is outside the container's root");
}

void give_stdio_to(uint32_t uid) {
    struct stat null_st;
    bool have_null = ::stat("/dev/null", &null_st) == 0;
    for (int fd = 0; fd <= 2; ++fd) {
        struct stat st;
        // Regular files are the caller's files on the host (a log the monitor
        // writes, a redirect): their owner must not change under them.
        if (::fstat(fd, &st) < 0 || st.st_uid == uid || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) continue;
        if (have_null && S_ISCHR(st.st_mode) && st.st_rdev == null_st.st_rdev) continue;
        if (::isatty(fd)) continue;
        if (::fchown(fd, uid, static_cast<gid_t>(-1)) < 0 && errno != EPERM && errno != EINVAL && errno != EROFS)
            throw_errno("chown stdio fd " + std::to_string(fd) + " to uid " + std::to_string(uid));
    }
}

std::string container_home(uint32_t uid) {
    constexpr off_t kMaxPasswd = 1 << 20;
    try {
        sys::UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) return "/";
        // O_NONBLOCK: a FIFO planted as /etc/passwd must not hang the start.
        sys::UniqueFd fd = sys::try_open_in_root(root.get(), "/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (!fd) return "/";  // no /etc/passwd
        struct stat st;
        if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxPasswd) return "/";
        std::string content(static_cast<size_t>(st.st_size), '\0');
        ssize_t n = ::pread(fd.get(), content.data(), content.size(), 0);
        if (n < 0) return "/";
        content.resize(static_cast<size_t>(n));
        return spec::passwd_home(content, uid);
    } catch (const Error&) {
        return "/";  // /etc/passwd unreadable
    }
}

std::string find_executable(const std::string& arg0, const std::vector<std::string>& env) {
    // `err`: stat's errno, or -EACCES for a file stat found that is a directory or has no x bit.
    auto is_executable = [](const std::string& path, int& err) {
        struct stat st;
        if (::stat(path.c_str(), &st) < 0) {
            err = errno;
            return false;
        }
        if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
            err = -EACCES;
            return false;
        }
        return true;
    };
    int err = 0;
    auto kind = [](int e) { return e == ENOENT || e == ENOTDIR || e == ELOOP ? Error::Kind::CommandNotFound
                                                                                : Error::Kind::CommandNotExecutable; };
    if (arg0.find('/') != std::string::npos) {
        if (!is_executable(arg0, err)) {
            // runc's (Go's exec.LookPath) words: "stat PATH" only when stat itself failed.
            Error e = sys_error(std::abs(err), "exec: \"" + arg0 + "\"" + (err < 0 ? "" : ": stat " + arg0));
            throw Error(e.code(), e.message(), kind(std::abs(err)));
        }
        return arg0;
    }
    std::string path_var = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const auto& e : env)
        if (e.rfind("PATH=", 0) == 0) path_var = e.substr(5);
    bool found = false;  // but not executable: 126, as podman's (the message stays runc's)
    for (const auto& dir : arg0.empty() ? std::vector<std::string>{} : split(path_var, ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + arg0;
        if (is_executable(candidate, err)) return candidate;
        found = found || std::abs(err) == EACCES;
    }
    throw Error(ENOENT, "exec: \"" + arg0 + "\": executable file not found in $PATH",
                found ? Error::Kind::CommandNotExecutable : Error::Kind::CommandNotFound);
}

namespace {

// Sets exactly `permitted`, `effective` and `inheritable` (capset).
void set_capability_sets(const std::vector<int>& permitted, const std::vector<int>& effective,
                         const std::vector<int>& inheritable) {
    CapPtr state(cap_init());
    if (!state) throw_errno("cap_init");
    auto set_flag = [&](const std::vector<int>& values, cap_flag_t flag) {
        if (!values.empty() && cap_set_flag(state.get(), flag, static_cast<int>(values.size()), values.data(), CAP_SET) < 0)
            throw_errno("cap_set_flag");
    };
    set_flag(permitted, CAP_PERMITTED);
    set_flag(effective, CAP_EFFECTIVE);
    set_flag(inheritable, CAP_INHERITABLE);
    if (cap_set_proc(state.get()) < 0) throw_errno("set process capabilities");
}

}  // namespace

CapsetCall set_user_and_capabilities(const spec::User& user, const CapabilitySets& caps, bool setgroups_allowed,
                                     bool keep_sys_admin) {
    // 1. The bounding set can only shrink, and only while we hold CAP_SETPCAP.
    //    (It limits what exec grants, not what we hold now.)
    for (cap_value_t c = 0; c <= cap_max_bits() - 1; ++c)
        if (!contains(caps.bounding, c) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            throw_errno("drop capability " + std::string(cap_to_name(c)) + " from the bounding set");
    // 2. Keep the permitted set across the uid change below.
    check(::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl PR_SET_KEEPCAPS");
    // 3. Groups before gid before uid: after setresuid we may no longer change them.
    if (setgroups_allowed) {
        std::vector<gid_t> groups(user.additional_gids.begin(), user.additional_gids.end());
        check(::setgroups(groups.size(), groups.data()), "setgroups");
    } else if (!user.additional_gids.empty()) {
        throw Error(EPERM, "process.user.additionalGids: setgroups is denied in this user namespace "
                           "(a single-id mapping, or a joined namespace that denies it); "
                           "configure a gid mapping with newgidmap");
    }
    // EINVAL: an id the user namespace does not map (runc's words).
    auto id_error = [](const char* which, unsigned id) {
        int e = errno;
        std::string what = std::string("set") + which + " " + std::to_string(id);
        if (e != EINVAL) return sys_error(e, what);
        return Error(EINVAL, what + ": cannot set " + which + " to unmapped user in user namespace");
    };
    if (::setresgid(user.gid, user.gid, user.gid) < 0) throw id_error("gid", user.gid);
    if (::setresuid(user.uid, user.uid, user.uid) < 0) throw id_error("uid", user.uid);
    CapsetCall drop;
    check(::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl PR_SET_KEEPCAPS");
    // 4. The configured permitted/effective/inheritable sets, plus CAP_SYS_ADMIN
    //    while a seccomp filter without no_new_privs is still to be loaded.
    const std::vector<int>& permitted = caps.permitted;
    const std::vector<int>& effective = caps.effective;
    const std::vector<int>& inheritable = caps.inheritable;
    if (keep_sys_admin && !(contains(permitted, CAP_SYS_ADMIN) && contains(effective, CAP_SYS_ADMIN))) {
        auto with_admin = [](std::vector<int> v) {
            if (!contains(v, CAP_SYS_ADMIN)) v.push_back(CAP_SYS_ADMIN);
            return v;
        };
        set_capability_sets(with_admin(permitted), with_admin(effective), inheritable);
        // The configured sets, as capset(2) takes them, for after the filter:
        // computed now, so that call is the only one.
        drop.pending = true;
        auto fill = [&](const std::vector<int>& values, uint32_t CapsetCall::Data::*member) {
            for (int c : values) (drop.data[c / 32].*member) |= 1U << (c % 32);
        };
        fill(permitted, &CapsetCall::Data::permitted);
        fill(effective, &CapsetCall::Data::effective);
        fill(inheritable, &CapsetCall::Data::inheritable);
    } else {
        set_capability_sets(permitted, effective, inheritable);
    }
    // 5. Ambient capabilities.  The kernel raises only those that are also
    // permitted and inheritable; buildah and others list ambient caps without
    // inheritable ones, so the rest is only said at debug level: runc says
    // nothing, and a warning would land in the process's own stderr.
    check(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities");
    for (int c : caps.ambient)
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) {
            if (errno != EPERM) throw_errno("raise ambient capability " + std::string(cap_to_name(c)));
            log::debug("process.capabilities.ambient: " + std::string(cap_to_name(c)) +
                       " not raised: it is not both permitted and inheritable");
        }
    return drop;
}

void CapsetCall::run() const {
    if (!pending) return;
    // Ambient capabilities stay: CAP_SYS_ADMIN is not among them (not configured
    // as permitted, it could not have been raised).
    struct {
        uint32_t version = 0x20080522;  // _LINUX_CAPABILITY_VERSION_3: two Data words
        int pid = 0;
    } header;
    if (::syscall(SYS_capset, &header, data) < 0) throw_errno("drop CAP_SYS_ADMIN kept for the seccomp filter");
}

void set_personality(unsigned long domain) {
    if (::personality(domain) < 0) throw_errno(domain == PER_LINUX32 ? "set personality LINUX32" : "set personality LINUX");
}

void join_session_keyring(const std::string& name) {
    constexpr long kJoinSessionKeyring = 1, kSetPerm = 5, kDescribe = 6;  // KEYCTL_*
    long key = ::syscall(SYS_keyctl, kJoinSessionKeyring, name.c_str(), 0, 0, 0);
    if (key < 0) {
        if (errno == ENOSYS) {
            log::debug("no kernel keyring support: session keyring not created");
            return;
        }
        throw_errno("join session keyring " + quote(name));
    }
    // Searchable by its user too, as runc makes it: "type;uid;gid;perm;description".
    char text[256];
    long n = ::syscall(SYS_keyctl, kDescribe, key, text, sizeof text - 1, 0);
    if (n < 0) throw_errno("describe session keyring " + quote(name));
    text[std::min<size_t>(static_cast<size_t>(n), sizeof text - 1)] = '\0';
    auto fields = split_view(text, ';');
    uint32_t perm = 0;
    if (fields.size() < 4 ||
        std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), perm, 16).ec != std::errc{})
        throw Error(EINVAL, "session keyring " + quote(name) + ": no permissions in " + quote(text));
    constexpr uint32_t kUserSearch = 0x080000;  // KEY_USR_SEARCH
    if (::syscall(SYS_keyctl, kSetPerm, key, static_cast<unsigned long>(perm | kUserSearch), 0, 0) < 0)
        throw_errno("make session keyring " + quote(name) + " searchable");
}

void exec_process(const std::string& path, const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<char*> argv, envp;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ::execve(path.c_str(), argv.data(), envp.data());
    int err = errno;
    throw Error(err, sys_error(err, "exec " + quote(path)).message(), Error::Kind::ExecFailed);
}

}  // namespace crunlite::linux
