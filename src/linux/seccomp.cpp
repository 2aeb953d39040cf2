#include "crunlite/linux/seccomp.hpp"

#include <linux/seccomp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <tuple>

#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::linux {
namespace {

// Linux 5.19; older kernel headers lack the name.
constexpr unsigned kFlagWaitKillableRecv = 1U << 5;

uint32_t action_value(const std::string& name, std::optional<uint32_t> errno_ret, const std::string& where) {
    // runc's default errno for SCMP_ACT_ERRNO / SCMP_ACT_TRACE without errnoRet is EPERM.
    uint32_t err = errno_ret.value_or(EPERM);
    if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
    if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
    if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
    if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(err);
    if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(err);
    if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
    if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
    if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
    throw Error(EINVAL, where + ": unknown action " + quote(name));
}

scmp_compare operator_value(const std::string& op, const std::string& where) {
    if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
    if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
    if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
    if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
    if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
    if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
    if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
    throw Error(EINVAL, where + ": unknown operator " + quote(op));
}

// "SCMP_ARCH_X86_64" -> the token libseccomp resolves ("x86_64").
uint32_t arch_value(const std::string& name, const std::string& where) {
    std::string token = ascii_lower(name.rfind("SCMP_ARCH_", 0) == 0 ? name.substr(10) : name);
    uint32_t arch = seccomp_arch_resolve_name(token.c_str());
    if (arch == 0) throw Error(EINVAL, where + ": unknown architecture " + quote(name));
    return arch;
}

void check_rc(int rc, const std::string& what) {
    if (rc < 0) throw sys_error(-rc, what);
}

unsigned flag_value(const std::string& flag, const std::string& where) {
    if (flag == "SECCOMP_FILTER_FLAG_TSYNC") return SECCOMP_FILTER_FLAG_TSYNC;
    if (flag == "SECCOMP_FILTER_FLAG_LOG") return SECCOMP_FILTER_FLAG_LOG;
    if (flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") return SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    if (flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") return kFlagWaitKillableRecv;
    throw Error(EINVAL, where + ": unsupported flag " + quote(flag));
}

// The BPF program libseccomp generated, read back through a memfd (libseccomp
// 2.5 exports only to an fd).
std::vector<sock_filter> export_bpf(scmp_filter_ctx ctx) {
    sys::UniqueFd mem(static_cast<int>(::syscall(SYS_memfd_create, "seccomp-bpf", MFD_CLOEXEC)));
    if (!mem) throw_errno("memfd_create for the seccomp program");
    check_rc(seccomp_export_bpf(ctx, mem.get()), "export seccomp program");
    off_t size = ::lseek(mem.get(), 0, SEEK_END);
    if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
        throw Error(EINVAL, "export seccomp program: unexpected size " + std::to_string(size));
    std::vector<sock_filter> bpf(static_cast<size_t>(size) / sizeof(sock_filter));
    if (::pread(mem.get(), bpf.data(), static_cast<size_t>(size), 0) != size) throw_errno("read seccomp program");
    return bpf;
}

void add_architectures(scmp_filter_ctx ctx, const spec::Seccomp& sc, const std::string& base) {
    for (size_t i = 0; i < sc.architectures.size(); ++i) {
        std::string where = base + ".architectures[" + std::to_string(i) + "]";
        int rc = seccomp_arch_add(ctx, arch_value(sc.architectures[i], where));
        if (rc < 0 && rc != -EEXIST) throw sys_error(-rc, where);
    }
}

// The kernel takes at most 4096 instructions, and each distinct rule costs
// at least one: a profile with more can never load, and libseccomp's time
// grows with the square of the rules (50,000: over a minute), so it is
// refused as soon as it passes the bound, before the work.  A repeated rule
// changes nothing (libseccomp merges it, slowly): it is not added again.
constexpr size_t kMaxInsns = 4096;  // BPF_MAXINSNS

class DistinctRules {
public:
    // False when the same rule was added before; throws E2BIG past kMaxInsns.
    bool add(int nr, uint32_t action, const scmp_arg_cmp* c, size_t n, const std::string& where) {
        std::vector<std::tuple<unsigned, int, uint64_t, uint64_t>> key;
        for (size_t k = 0; k < n; ++k) key.emplace_back(c[k].arg, c[k].op, c[k].datum_a, c[k].datum_b);
        if (!seen_.emplace(nr, action, std::move(key)).second) return false;
        if (seen_.size() > kMaxInsns)
            throw Error(E2BIG, where + ": more than " + std::to_string(kMaxInsns) +
                                   " distinct rules, which cannot fit the kernel's " + std::to_string(kMaxInsns) +
                                   " instructions (merge syscalls with the same action and arguments)");
        return true;
    }

private:
    std::set<std::tuple<int, uint32_t, std::vector<std::tuple<unsigned, int, uint64_t, uint64_t>>>> seen_;
};

void check_notify_rule(const spec::Seccomp& sc, const spec::SeccompSyscall& rule, const std::string& where) {
    if (sc.listener_path.empty())
        throw Error(EINVAL, where + ".action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
    // The init passes the listener fd to us with sendmsg right after
    // loading: a notified sendmsg would wait for a supervisor that has no fd yet.
    if (std::find(rule.names.begin(), rule.names.end(), "sendmsg") != rule.names.end())
        throw Error(EINVAL, where + ": SCMP_ACT_NOTIFY on sendmsg would block the runtime");
}

// The rule's argument conditions; `shared_index` is set when two test the same argument.
std::vector<scmp_arg_cmp> conditions(const spec::SeccompSyscall& rule, const std::string& where, bool& shared_index) {
    std::vector<scmp_arg_cmp> cmps;
    shared_index = false;
    for (size_t j = 0; j < rule.args.size(); ++j) {
        const spec::SeccompArg& a = rule.args[j];
        std::string awhere = where + ".args[" + std::to_string(j) + "]";
        if (a.index > 5) throw Error(EINVAL, awhere + ".index: must be 0..5");
        scmp_compare op = operator_value(a.op, awhere + ".op");
        for (const auto& prev : cmps)
            if (prev.arg == a.index) shared_index = true;
        cmps.push_back({a.index, op, a.value, a.value_two});
    }
    return cmps;
}

// One syscalls[] entry: a rule per syscall name this libseccomp knows.
void add_rule(scmp_filter_ctx ctx, const spec::SeccompSyscall& rule, uint32_t action, const std::string& where,
              DistinctRules& distinct) {
    bool shared_index = false;
    std::vector<scmp_arg_cmp> cmps = conditions(rule, where, shared_index);
    for (const auto& name : rule.names) {
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) {
            log::debug("seccomp: unknown syscall " + quote(name) + " skipped");
            continue;
        }
        std::string what = where + ": add rule for " + quote(name);
        // Several conditions on one argument cannot be AND-ed by the kernel
        // filter; like runc, each becomes its own rule (an OR).
        if (shared_index) {
            for (const auto& c : cmps)
                if (distinct.add(nr, action, &c, 1, where))
                    check_rc(seccomp_rule_add_array(ctx, action, nr, 1, &c), what);
        } else if (distinct.add(nr, action, cmps.data(), cmps.size(), where)) {
            check_rc(seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()), cmps.data()), what);
        }
    }
}

// What the compiling child of build_filter_bounded writes to its pipe: this
// header, then the program's instructions (ok) or the Error's message.
struct CompileReply {
    int32_t code;  // the Error's errno when !ok
    uint32_t flags;
    uint8_t ok;
    uint8_t notify;
};

std::string compile_reply(const spec::Seccomp& sc) {
    CompileReply r{};
    std::string body;
    try {
        SeccompProgram p = build_filter(sc);
        r = {0, p.flags, 1, static_cast<uint8_t>(p.notify)};
        body.assign(reinterpret_cast<const char*>(p.bpf.data()), p.bpf.size() * sizeof(sock_filter));
    } catch (const Error& e) {
        r.code = e.code();
        body = e.message();
    } catch (const std::bad_alloc&) {
        r.code = ENOMEM;
        body = "linux.seccomp: out of memory compiling the profile";
    } catch (const std::exception& e) {
        body = e.what();
    }
    return std::string(reinterpret_cast<const char*>(&r), sizeof r) + body;
}

bool write_all(int fd, const std::string& data) {
    for (size_t done = 0; done < data.size();) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

// Reads `fd` to EOF into `out`; false when `deadline` (monotonic_ms) comes first.
bool read_until(int fd, int64_t deadline, std::string& out) {
    char buf[16384];
    for (;;) {
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) return false;
        pollfd pfd = {fd, POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
        if (n < 0 && errno != EINTR) throw_errno("linux.seccomp: poll the compiling process");
        if (n <= 0) continue;
        ssize_t r = ::read(fd, buf, sizeof buf);
        if (r == 0) return true;
        if (r < 0 && errno != EINTR) throw_errno("linux.seccomp: read the compiled program");
        if (r > 0) out.append(buf, static_cast<size_t>(r));
    }
}

std::string seconds(int64_t ms) {
    if (ms % 1000 != 0) return std::to_string(ms) + " ms";
    return std::to_string(ms / 1000) + (ms == 1000 ? " second" : " seconds");
}

// The program, or the child's Error thrown again as it was.
SeccompProgram decode_reply(const std::string& data, int status) {
    CompileReply r;
    if (data.size() < sizeof r) {
        std::string how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                              : "exit status " + std::to_string(WEXITSTATUS(status));
        throw Error(EIO, "linux.seccomp: the process compiling the profile ended without a result (" + how + ")");
    }
    std::memcpy(&r, data.data(), sizeof r);
    std::string body = data.substr(sizeof r);
    if (!r.ok) throw Error(r.code, body);
    if (body.empty() || body.size() % sizeof(sock_filter) != 0)
        throw Error(EIO, "linux.seccomp: the compiled program has a bad size " + std::to_string(body.size()));
    SeccompProgram p;
    p.flags = r.flags;
    p.notify = r.notify != 0;
    p.bpf.resize(body.size() / sizeof(sock_filter));
    std::memcpy(p.bpf.data(), body.data(), body.size());
    return p;
}

}  // namespace

SeccompProgram build_filter(const spec::Seccomp& sc) {
    const std::string base = "linux.seccomp";
    uint32_t default_action = action_value(sc.default_action, sc.default_errno_ret, base + ".defaultAction");
    if (default_action == SCMP_ACT_NOTIFY)
        throw Error(EINVAL, base + ".defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    std::unique_ptr<void, void (*)(scmp_filter_ctx)> filter(seccomp_init(default_action), seccomp_release);
    if (!filter) throw Error(EINVAL, base + ": seccomp_init failed");
    scmp_filter_ctx ctx = filter.get();
    SeccompProgram program;

    add_architectures(ctx, sc, base);
    for (size_t i = 0; i < sc.flags.size(); ++i)
        program.flags |= flag_value(sc.flags[i], base + ".flags[" + std::to_string(i) + "]");
    DistinctRules distinct;
    for (size_t i = 0; i < sc.syscalls.size(); ++i) {
        const spec::SeccompSyscall& rule = sc.syscalls[i];
        std::string where = base + ".syscalls[" + std::to_string(i) + "]";
        uint32_t action = action_value(rule.action, rule.errno_ret, where + ".action");
        // A rule whose action is the default changes nothing (libseccomp refuses it).
        if (action == default_action) continue;
        if (action == SCMP_ACT_NOTIFY) {
            check_notify_rule(sc, rule, where);
            program.notify = true;
        }
        add_rule(ctx, rule, action, where, distinct);
    }
    // runtime-spec: listenerPath without a SCMP_ACT_NOTIFY rule is ignored.
    if (!sc.listener_path.empty() && !program.notify)
        log::debug(base + ".listenerPath: ignored, no rule uses SCMP_ACT_NOTIFY");
    program.bpf = export_bpf(ctx);
    // The kernel refuses a longer program with a bare EINVAL at load time.
    if (program.bpf.size() > kMaxInsns)
        throw Error(E2BIG, base + ": the compiled filter has " + std::to_string(program.bpf.size()) +
                               " instructions, more than the kernel's " + std::to_string(kMaxInsns) +
                               ": too many rules (merge syscalls with the same action and arguments)");
    return program;
}

SeccompProgram build_filter_bounded(const spec::Seccomp& sc, int64_t timeout_ms) {
    int64_t deadline = monotonic_ms() + timeout_ms;
    sys::Pipe pipe = sys::Pipe::make("linux.seccomp: pipe");
    // The child only computes and writes; Child::fork _exits it.
    sys::Child child = sys::Child::fork("linux.seccomp: fork the compiling process", [&] {
        pipe.read.reset();
        return write_all(pipe.write.get(), compile_reply(sc)) ? 0 : 1;
    });
    pipe.write.reset();
    std::string data;
    std::optional<int> status;
    if (read_until(pipe.read.get(), deadline, data))
        status = child.wait_for(std::max<int64_t>(0, deadline - monotonic_ms()));
    // A libseccomp that loops never comes back: dropping `child` kills and reaps it.
    if (!status)
        throw Error(ETIMEDOUT, "linux.seccomp: libseccomp did not finish compiling the profile within " +
                                   seconds(timeout_ms) + " (a libseccomp bug some argument rules trigger)");
    return decode_reply(data, *status);
}

sys::UniqueFd load_filter(const SeccompProgram& program) {
    sock_fprog prog{static_cast<unsigned short>(program.bpf.size()), const_cast<sock_filter*>(program.bpf.data())};
    unsigned flags = program.flags | (program.notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
    long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (rc < 0 && errno == EINVAL && (flags & kFlagWaitKillableRecv))  // kernel before 5.19
        rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags & ~kFlagWaitKillableRecv, &prog);
    if (rc < 0) throw_errno("load seccomp filter");
    return sys::UniqueFd(program.notify ? static_cast<int>(rc) : -1);
}

const std::vector<std::string>& seccomp_actions() {
    static const std::vector<std::string> v = {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                               "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRAP",
                                               "SCMP_ACT_TRACE"};
    return v;
}

const std::vector<std::string>& seccomp_operators() {
    static const std::vector<std::string> v = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                                               "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"};
    return v;
}

const std::vector<std::string>& seccomp_flags() {
    static const std::vector<std::string> v = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                               "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    return v;
}

std::vector<std::string> seccomp_architectures() {
    std::vector<std::string> out;
    for (const char* a : {"X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL", "MIPSEL64",
                          "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "S390", "S390X", "RISCV64"}) {
        std::string token = ascii_lower(a);
        if (seccomp_arch_resolve_name(token.c_str()) != 0) out.push_back(std::string("SCMP_ARCH_") + a);
    }
    return out;
}

}  // namespace crunlite::linux
