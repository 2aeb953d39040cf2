#include "crunlite/runtime/systemd_unit.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/helpers.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite_build_config.h"

namespace crunlite::runtime {

namespace {

struct HelperRun {
    sys::Child child;
    sys::UniqueFd out, err;  // our ends of its stdout and stderr
};

// Forks the helper with /dev/null on stdin and pipes on stdout and stderr.
HelperRun spawn(std::vector<std::string> args, bool user) {
    std::string helper = find_systemd_helper();
    args.insert(args.begin(), helper);
    if (user) args.insert(args.begin() + 1, "--user");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    sys::Pipe out = sys::Pipe::make(), err = sys::Pipe::make();
    HelperRun run;
    run.child = sys::Child::fork("fork " + helper, [&] {
        int null = ::open("/dev/null", O_RDONLY);
        if (null >= 0) ::dup2(null, 0);
        ::dup2(out.write.get(), 1);
        ::dup2(err.write.get(), 2);
        ::execv(argv[0], argv.data());
        ::dprintf(2, "exec %s: %s", argv[0], std::strerror(errno));
        return 127;
    });
    run.out = std::move(out.read);
    run.err = std::move(err.read);
    return run;
}

// Waits for the helper; throws its stderr when it failed.
std::string finish(HelperRun& run, const std::string& what) {
    std::string out = sys::read_to_end(run.out.get(), 64 * 1024);
    std::string err = trim(sys::read_to_end(run.err.get(), 64 * 1024));
    int status = run.child.wait();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw Error(EIO, what + ": " + (err.empty() ? "crun-lite-systemd failed" : err));
    return trim(out);
}

}  // namespace

std::string find_systemd_helper() {
    return find_helper("crun-lite-systemd", "CRUNLITE_SYSTEMD", CRUNLITE_BUILD_SYSTEMD);
}

std::string systemd_manager_cgroup(bool user) {
    if (!user) return "";
    HelperRun run = spawn({"manager-cgroup"}, user);
    return finish(run, "systemd cgroup manager");
}

void start_unit(const cgroup::SystemdUnit& unit, pid_t pid) {
    std::vector<std::string> args = {"start", unit.name, std::to_string(pid)};
    args.insert(args.end(), unit.properties.begin(), unit.properties.end());
    HelperRun run = spawn(args, unit.user);
    std::string cgroup = finish(run, "start systemd unit " + unit.name);
    if (cgroup != unit.cgroup)
        throw Error(EIO, "systemd put unit " + unit.name + " in cgroup " + quote(cgroup) + ", expected " +
                             quote(unit.cgroup));
}

void attach_to_unit(const std::string& unit, bool user, pid_t pid, const std::string& sub) {
    std::vector<std::string> args = {"attach", unit, std::to_string(pid)};
    if (!sub.empty()) args.push_back(sub);
    HelperRun run = spawn(args, user);
    finish(run, "join systemd unit " + unit);
}

void set_unit_properties(const std::string& unit, bool user, const std::vector<std::string>& properties) {
    std::vector<std::string> args = {"set", unit};
    args.insert(args.end(), properties.begin(), properties.end());
    HelperRun run = spawn(args, user);
    finish(run, "update systemd unit " + unit);
}

void stop_unit(const std::string& unit, bool user) noexcept {
    try {
        HelperRun run = spawn({"stop", unit}, user);
        finish(run, "stop systemd unit " + unit);
    } catch (const Error& e) {
        log::warn(e.message());
    }
}

}  // namespace crunlite::runtime
