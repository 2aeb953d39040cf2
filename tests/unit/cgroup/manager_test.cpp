// The cgroup manager on fake roots: temp directories of plain files laid out as
// a cgroup2 mount or a hybrid host (v1 hierarchies plus cgroup2 at "unified"),
// described to parse_layout() as mountinfo text, as the real code sees them.
// The kernel's part (filling a new cgroup directory with control files) is
// played by CgroupFs, on top of the host's syscalls (FakeKernel) or of the
// recording kernel (the orderings test at the end).
#include <catch2/catch.hpp>

#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/cgroup/layout.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/cgroup/plan.hpp"
#include "crunlite/cgroup/resources.hpp"
#include "linux/recording_kernel.hpp"
#include "temp_dir.hpp"

using namespace crunlite;
using namespace crunlite::cgroup;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

// Above any pid_max (PID_MAX_LIMIT is 2^22): no process has it, so nothing is
// signalled by mistake when a test lists it in a cgroup.procs.
constexpr pid_t kNoPid = 1999999900;

void put(const std::string& path, const std::string& text = "") {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
}

std::string get(const std::string& path) { return read_file(path); }

// A temp directory, removed with everything in it at the end.
struct TempDir : testing::TempDir {
    TempDir() : testing::TempDir("crl-cgroup") {}
};

// What the kernel does on mkdir in a cgroup hierarchy, on top of Base's mkdir:
// the new directory gets its control files (here: the parent's file names,
// empty, as a new v1 cpuset's cpuset.cpus is).
template <class Base>
struct CgroupFs : Base {
    using Base::Base;
    int mkdir(const char* dir, mode_t mode) override {
        int rc = Base::mkdir(dir, mode);
        if (rc < 0) return rc;
        for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path()))
            if (std::string file = std::string(dir) + "/" + e.path().filename().string();
                e.is_regular_file() && !fs::exists(file))
                put(file);
        return 0;
    }
};

// The syscalls, on a fake root.
using FakeKernel = CgroupFs<sys::HostKernel>;

std::string mount_line(int id, const std::string& point, const std::string& type, const std::string& opts) {
    return std::to_string(id) + " 30 0:" + std::to_string(id) + " / " + point + " rw,nosuid - " + type + " " + type +
           " rw," + opts + "\n";
}

// A pure cgroup2 host: the mount at ROOT/cgroup2, we live in /user.slice.
struct FakeV2 : TempDir {
    std::string root = path + "/cgroup2";
    Layout layout;
    FakeV2() {
        for (const std::string& d : {root, root + "/user.slice"})
            for (const char* f : {"cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "cgroup.events",
                                  "cgroup.freeze", "cgroup.kill", "memory.max", "pids.max"})
                put(d + "/" + f);
        put(root + "/cgroup.controllers", "cpu memory pids\n");
        layout = parse_layout(mount_line(40, root, "cgroup2", "nsdelegate"), "0::/user.slice\n");
    }
};

// A hybrid host: v1 hierarchies (cpu,cpuacct co-mounted) and cgroup2 with no
// controllers at ROOT/unified; our memory cgroup is /user/abc, the others "/".
struct FakeHybrid : TempDir {
    Layout layout;
    std::string dir(const std::string& rel) const { return path + "/" + rel; }
    FakeHybrid() {
        std::map<std::string, std::vector<std::string>> files = {
            {"unified", {"cgroup.controllers", "cgroup.subtree_control"}},
            {"memory", {"memory.limit_in_bytes"}},
            {"memory/user/abc", {"memory.limit_in_bytes"}},
            {"cpu,cpuacct", {"cpu.shares", "cpu.cfs_quota_us"}},
            {"cpuset", {"cpuset.cpus", "cpuset.mems"}},
            {"pids", {"pids.max"}},
            {"freezer", {"freezer.state"}},
        };
        for (const auto& [d, names] : files) {
            put(dir(d) + "/cgroup.procs");
            for (const auto& n : names) put(dir(d) + "/" + n);
        }
        put(dir("cpuset/cpuset.cpus"), "0-3\n");
        put(dir("cpuset/cpuset.mems"), "0\n");
        put(dir("freezer/freezer.state"), "THAWED\n");
        std::string mi = mount_line(31, dir("unified"), "cgroup2", "nsdelegate");
        int id = 32;
        for (const char* h : {"memory", "cpu,cpuacct", "cpuset", "pids", "freezer"})
            mi += mount_line(id++, dir(h), "cgroup", h);
        layout = parse_layout(mi, "6:freezer:/\n5:pids:/\n4:cpuset:/\n3:cpu,cpuacct:/\n2:memory:/user/abc\n0::/\n");
    }
};

// may_create for tests that do not ask it: every directory may be made.
bool anywhere(const std::string&) { return true; }

// The host facts cgroup::plan is given: the fake root's, every directory allowed.
HostCgroups host(const Layout& l) { return {l, v2_controllers(l), anywhere, {}}; }

std::function<bool(const std::string&)> on_v2(const Layout& l) {
    auto v2 = v2_controllers(l);
    return [v2](const std::string& c) { return v2.count(c) > 0; };
}

spec::Resources limits() {
    spec::Resources r;
    r.memory = spec::Resources::Memory{};
    r.memory->limit = 64 << 20;
    r.pids_limit = 100;
    return r;
}

// Runs f in a child process as an unprivileged user (nobody when we are root:
// root passes every access(W_OK) check) and returns what f returned.
std::string unprivileged(const std::function<std::string()>& f) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        std::string out;
        try {
            if (::geteuid() == 0 && (::setgroups(0, nullptr) < 0 || ::setgid(65534) < 0 || ::setuid(65534) < 0))
                out = "cannot drop privileges";
            else
                out = f();
        } catch (const std::exception& e) {
            out = e.what();
        }
        ssize_t n = ::write(fds[1], out.data(), out.size());
        ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
    }
    ::close(fds[1]);
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(status == 0);
    return out;
}

}  // namespace

TEST_CASE("cgroup2: the common ancestor whose cgroup.procs a move into the container's cgroup needs", "[manager]") {
    Hierarchy root{"/sys/fs/cgroup/unified", "/"};
    CHECK(common_ancestor(root, "/sys/fs/cgroup/unified/a/b/c") == "/sys/fs/cgroup/unified");
    Hierarchy nested{"/sys/fs/cgroup", "/user.slice/user-1001.slice/app.scope"};
    CHECK(common_ancestor(nested, "/sys/fs/cgroup/user.slice/user-1001.slice/app.scope/c1") ==
          "/sys/fs/cgroup/user.slice/user-1001.slice/app.scope");
    CHECK(common_ancestor(nested, "/sys/fs/cgroup/user.slice/user-1001.slice/other/c1") ==
          "/sys/fs/cgroup/user.slice/user-1001.slice");
    CHECK(common_ancestor(nested, "/sys/fs/cgroup/user.slices/c1") == "/sys/fs/cgroup");  // whole components only
}

TEST_CASE("v2 root: the container's cgroup, its parents' subtree_control, v2 files", "[manager]") {
    FakeV2 f;
    FakeKernel k;
    CHECK(v2_controllers(f.layout) == std::set<std::string>{"cpu", "memory", "pids"});
    Paths p = plan_paths(f.layout, anywhere, "pod/c1", "c1");
    CHECK(p.unified == f.root + "/user.slice/pod/c1");
    CHECK(p.v1.empty());
    create(p, plan_resources(limits(), on_v2(f.layout)), k);
    CHECK(get(f.root + "/user.slice/cgroup.subtree_control") == "+memory +pids");
    CHECK(get(f.root + "/user.slice/pod/cgroup.subtree_control") == "+memory +pids");
    CHECK(get(f.root + "/cgroup.subtree_control").empty());  // above our own cgroup: untouched
    CHECK(get(p.unified + "/cgroup.subtree_control").empty());
    CHECK(get(p.unified + "/memory.max") == "67108864");
    CHECK(get(p.unified + "/pids.max") == "100");
    apply(p, {{"pids", true, "pids.max", "max"}});
    CHECK(get(p.unified + "/pids.max") == "max");
}

TEST_CASE("hybrid root: one directory per hierarchy, cpuset inherited, v1 files", "[manager]") {
    FakeHybrid f;
    FakeKernel k;
    CHECK(v2_controllers(f.layout).empty());
    Paths p = plan_paths(f.layout, anywhere, "pod/c1", "c1");
    CHECK(p.unified == f.dir("unified/pod/c1"));
    CHECK(p.v1.at("memory") == f.dir("memory/user/abc/pod/c1"));
    CHECK(p.v1.at("cpu") == f.dir("cpu,cpuacct/pod/c1"));
    CHECK(p.v1.at("cpuacct") == p.v1.at("cpu"));
    CHECK(p.v1.size() == 6);
    spec::Resources r = limits();
    r.cpu = spec::Resources::Cpu{};
    r.cpu->shares = 512;
    create(p, plan_resources(r, on_v2(f.layout)), k);
    CHECK(get(p.v1.at("memory") + "/memory.limit_in_bytes") == "67108864");
    CHECK(get(p.v1.at("pids") + "/pids.max") == "100");
    CHECK(get(p.v1.at("cpu") + "/cpu.shares") == "512");
    CHECK_FALSE(fs::exists(p.unified + "/memory.max"));
    CHECK(get(f.dir("unified/cgroup.subtree_control")).empty());  // no controller is on v2 here
    for (const char* d : {"cpuset/pod", "cpuset/pod/c1"}) {  // each new level gets its parent's
        CHECK(get(f.dir(d) + "/cpuset.cpus") == "0-3");
        CHECK(get(f.dir(d) + "/cpuset.mems") == "0");
    }
    auto dirs = v1_hierarchy_dirs(f.layout, p);
    REQUIRE(dirs.size() == 5);  // cpu,cpuacct cpuset freezer memory pids
    CHECK(dirs[0] == HierarchyDir{"cpu,cpuacct", p.v1.at("cpu"), {"cpu", "cpuacct"}});
    for (const auto& d : dirs) CHECK(fs::is_directory(d.dir));
}

TEST_CASE("dirs and pids go through exec --cgroup sub-cgroups", "[manager]") {
    FakeHybrid f;
    FakeKernel k;
    Paths p = plan_paths(f.layout, anywhere, "", "c1");
    create(p, {}, k);
    Paths sub = sub_cgroups(p, {"memory:lim", "pids,:sub"});  // "": cgroup2, as runc names it
    create(sub, {}, k);
    std::vector<std::string> joined = dirs(sub);
    REQUIRE(!joined.empty());
    CHECK(joined.front() == sub.unified);
    CHECK(std::set<std::string>(joined.begin(), joined.end()).size() == joined.size());
    std::string pid = std::to_string(kNoPid);
    for (const auto& d : joined) put(d + "/cgroup.procs", pid);
    CHECK(get(p.v1.at("memory") + "/lim/cgroup.procs") == pid);
    CHECK(get(p.v1.at("pids") + "/sub/cgroup.procs") == pid);
    CHECK(get(p.unified + "/sub/cgroup.procs") == pid);
    CHECK(get(p.v1.at("memory") + "/cgroup.procs").empty());
    put(p.unified + "/cgroup.procs", std::to_string(kNoPid + 1) + "\n" + std::to_string(kNoPid + 2) + "\n");
    auto all = pids(p);  // from the v2 tree, sub-cgroups included
    std::sort(all.begin(), all.end());
    CHECK(all == std::vector<pid_t>{kNoPid, kNoPid + 1, kNoPid + 2});
    Paths v1_only = p;
    v1_only.unified.clear();
    CHECK(pids(v1_only) == std::vector<pid_t>{kNoPid});  // from the pids hierarchy
}

TEST_CASE("a sub-cgroup made without parents never brings back a container's removed cgroup", "[manager]") {
    FakeHybrid f;
    FakeKernel k;
    Paths p = plan_paths(f.layout, anywhere, "", "c1");
    create(p, {}, k);
    Paths exec = sub_cgroups(p, {"crun-lite-exec-1"});
    create(exec, {}, k, false);
    for (const auto& d : dirs(exec)) CHECK(fs::is_directory(d));
    for (const auto& d : dirs(p)) fs::remove_all(d);  // the container's delete, before the exec made its own
    CHECK_THROWS_WITH(create(exec, {}, k, false), Contains("create cgroup") && Contains("no such file or directory"));
    for (const auto& d : dirs(p)) CHECK_FALSE(fs::exists(d));
}

TEST_CASE("freeze through the v1 freezer (runc's on hybrid hosts), else cgroup.freeze", "[manager]") {
    FakeHybrid f;
    FakeKernel k;
    Paths p = plan_paths(f.layout, anywhere, "", "c1");
    create(p, {}, k);
    Paths v1_only = p;
    v1_only.unified.clear();
    freeze(v1_only, true);
    CHECK(get(p.v1.at("freezer") + "/freezer.state") == "FROZEN");
    CHECK(frozen(v1_only));
    freeze(v1_only, false);
    CHECK(get(p.v1.at("freezer") + "/freezer.state") == "THAWED");
    CHECK_FALSE(frozen(v1_only));
    // Both: the v1 freezer freezes; thawing thaws cgroup2's too (whichever froze it).
    put(p.unified + "/cgroup.freeze");
    freeze(p, true);
    CHECK(get(p.v1.at("freezer") + "/freezer.state") == "FROZEN");
    CHECK(get(p.unified + "/cgroup.freeze").empty());
    put(p.v1.at("freezer") + "/freezer.state", "THAWED");
    // v2 alone: the kernel reports the state in cgroup.events; here the test does.
    put(p.unified + "/cgroup.events", "populated 1\nfrozen 1\n");
    Paths v2_only = p;
    v2_only.v1.erase("freezer");
    freeze(v2_only, true);
    CHECK(get(p.unified + "/cgroup.freeze") == "1");
    CHECK(frozen(p));  // frozen by cgroup2's: frozen, whichever freezer is asked
    put(p.unified + "/cgroup.events", "populated 1\nfrozen 0\n");
    freeze(p, false);
    CHECK(get(p.unified + "/cgroup.freeze") == "0");
    CHECK(get(p.v1.at("freezer") + "/freezer.state") == "THAWED");
    Paths no_freezer;
    no_freezer.v1["memory"] = p.v1.at("memory");
    CHECK_THROWS_WITH(freeze(no_freezer, true), Contains("no freezer"));
}

TEST_CASE("kill_all: SIGKILL through cgroup.kill, other signals to each listed pid", "[manager]") {
    FakeV2 f;
    FakeKernel k;
    Paths p = plan_paths(f.layout, anywhere, "", "c1");
    create(p, {}, k);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::signal(SIGTERM, SIG_DFL);  // not Catch's handler
        ::alarm(10);                 // dies of SIGALRM instead if kill_all misses it
        ::close(ready[0]);
        ::close(ready[1]);
        for (;;) ::pause();
    }
    ::close(ready[1]);
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 0);  // EOF: the child's handler is reset
    ::close(ready[0]);
    put(p.unified + "/cgroup.procs", std::to_string(child) + "\n");
    kill_all(p, SIGTERM);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
    CHECK(get(p.unified + "/cgroup.kill").empty());
    put(p.unified + "/cgroup.procs", std::to_string(kNoPid) + "\n");
    kill_all(p, SIGKILL);
    CHECK(get(p.unified + "/cgroup.kill") == "1");
}

TEST_CASE("destroy removes the container's directories, sub-cgroups first; missing is fine", "[manager]") {
    FakeHybrid f;
    Paths p = plan_paths(f.layout, anywhere, "pod/c1", "c1");
    // Empty directories: cgroupfs lets rmdir remove a cgroup with its control
    // files, a plain file system does not.
    fs::create_directories(p.unified + "/sub/deeper");
    for (const auto& [c, d] : p.v1) fs::create_directories(d);
    fs::create_directories(p.v1.at("memory") + "/lim");
    destroy(p, true);
    CHECK_FALSE(fs::exists(p.unified));
    for (const auto& [c, d] : p.v1) CHECK_FALSE(fs::exists(d));
    CHECK(fs::is_directory(f.dir("memory/user/abc")));
    CHECK_NOTHROW(destroy(p, true));
}

TEST_CASE("a write refused for its order is retried before the next controller's: a failure stops there",
          "[manager]") {
    FakeHybrid f;
    struct Refusing : FakeKernel {  // a memory limit above the memsw limit, as v1 refuses it
        void write_file(const std::string& path, std::string_view data) override {
            if (path.size() > 22 && path.compare(path.size() - 22, 22, "/memory.limit_in_bytes") == 0)
                throw sys_error(EINVAL, "write " + quote(path));
            FakeKernel::write_file(path, data);
        }
    } k;
    Paths p = plan_paths(f.layout, anywhere, "pod/c1", "c1");
    create(p, {}, k);
    spec::Resources r = limits();  // memory.limit 64 MiB, pids.limit 100
    CHECK_THROWS_WITH(apply(p, plan_resources(r, on_v2(f.layout)), k),
                      Catch::StartsWith("linux.resources.memory.limit `67108864`: write `") &&
                          Contains("invalid argument"));
    CHECK(get(p.v1.at("pids") + "/pids.max").empty());  // runc's order: nothing after the failure
}

TEST_CASE("v1: a cfs period the old quota does not fit is written again after the new quota", "[manager]") {
    FakeHybrid f;
    struct Cfs : FakeKernel {  // the parent's 50000/100000: a child's quota/period may not exceed 0.5
        std::string quota = "40000", period = "100000";
        void write_file(const std::string& path, std::string_view data) override {
            auto ends = [&](const char* name) { return path.size() > std::strlen(name) && path.ends_with(name); };
            std::string q = ends("/cpu.cfs_quota_us") ? std::string(data) : quota;
            std::string per = ends("/cpu.cfs_period_us") ? std::string(data) : period;
            if ((ends("/cpu.cfs_quota_us") || ends("/cpu.cfs_period_us")) && std::stol(q) * 2 > std::stol(per))
                throw sys_error(EINVAL, "write " + quote(path));
            quota = q;
            period = per;
            FakeKernel::write_file(path, data);
        }
    } k;
    Paths p = plan_paths(f.layout, anywhere, "pod/c1", "c1");
    create(p, {}, k);
    for (const char* file : {"/cpu.cfs_quota_us", "/cpu.cfs_period_us"}) put(p.v1.at("cpu") + file);
    spec::Resources r;
    r.cpu.emplace();
    r.cpu->period = 50000;  // 40000/50000 would exceed the parent's: refused first
    r.cpu->quota = 20000;
    CHECK_NOTHROW(apply(p, plan_resources(r, on_v2(f.layout)), k));
    CHECK((k.quota == "20000" && k.period == "50000"));
    r.cpu->quota.reset();
    r.cpu->period = 10000;  // 20000/10000 with no new quota: refused, and said so
    CHECK_THROWS_WITH(apply(p, plan_resources(r, on_v2(f.layout)), k),
                      Catch::StartsWith("linux.resources.cpu.period `10000`: write `") && Contains("invalid argument"));
}

TEST_CASE("cgroup errors name the file", "[manager]") {
    FakeV2 f;
    FakeKernel k;
    Paths p = plan_paths(f.layout, anywhere, "", "c1");
    create(p, {}, k);
    Write throttle{"io", true, "io.max", "8:0 rbps=1"};
    throttle.field = "linux.resources.blockIO.throttleReadBpsDevice[0]";
    CHECK_THROWS_WITH(apply(p, {throttle}),
                      Catch::StartsWith("linux.resources.blockIO.throttleReadBpsDevice[0] `8:0 rbps=1`: ") &&
                          Contains("`" + p.unified + "/io.max`") && Contains("no such file"));
    fs::remove(p.unified + "/pids.max");
    fs::create_directory(p.unified + "/pids.max");  // cannot be written, even by root
    CHECK_THROWS_WITH(apply(p, {{"pids", true, "pids.max", "10"}}),
                      Contains("`" + p.unified + "/pids.max`") && Contains("is a directory"));
    CHECK_THROWS_WITH(apply(p, {{"blkio", false, "blkio.weight", "10"}}), Contains("blkio is not available"));
    fs::remove(f.root + "/user.slice/cgroup.subtree_control");
    CHECK_THROWS_WITH(create(plan_paths(f.layout, anywhere, "", "c2"), {{"memory", true, "memory.max", "1"}}, k),
                      Contains("`" + f.root + "/user.slice/cgroup.subtree_control`"));
    put(f.root + "/user.slice/blocker");
    Paths bad;
    bad.unified = f.root + "/user.slice/blocker/c3";
    CHECK_THROWS_WITH(create(bad, {}, k), Contains("create cgroup `" + bad.unified + "`"));
}

TEST_CASE("plan_paths leaves out hierarchies whose parent we cannot write", "[manager]") {
    FakeHybrid f;
    auto planned = [&](const MayCreate& may_create) {
        Paths p = plan_paths(f.layout, may_create, "pod/c1", "c1");
        std::string out = p.unified.empty() ? "" : "unified";
        for (const auto& [c, d] : p.v1) out += " " + c;
        return out;
    };
    SECTION("the host's facts say which: plan_paths asks about each container directory") {
        std::set<std::string> asked;
        CHECK(planned([&](const std::string& dir) {
                  asked.insert(dir);
                  return dir != f.dir("pids/pod/c1");
              }) == "unified cpu cpuacct cpuset freezer memory");
        CHECK(asked == std::set<std::string>{f.dir("unified/pod/c1"), f.dir("memory/user/abc/pod/c1"),
                                             f.dir("cpu,cpuacct/pod/c1"), f.dir("cpuset/pod/c1"),
                                             f.dir("pids/pod/c1"), f.dir("freezer/pod/c1")});
    }
    SECTION("host_may_create: whether we may write the first existing ancestor of the parent") {
        fs::permissions(f.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
        for (const char* d : {"unified", "memory/user/abc", "cpu,cpuacct", "cpuset", "freezer"})
            fs::permissions(f.dir(d), fs::perms::all);
        fs::permissions(f.dir("pids"), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                                           fs::perms::others_exec);
        CHECK(unprivileged([&] { return planned(host_may_create); }) == "unified cpu cpuacct cpuset freezer memory");
    }
}

TEST_CASE("plan: the container's cgroups from a host's layout, before anything is made", "[manager][plan]") {
    spec::Linux l;
    l.cgroups_path = "pod/c1";
    l.resources = limits();
    SECTION("v2: writes in the unified cgroup, no v1 view; make() creates it") {
        FakeV2 f;
        FakeKernel k;
        cgroup::Plan p = cgroup::plan(host(f.layout), l, "c1", false, "config.json");
        CHECK(p.paths.unified == f.root + "/user.slice/pod/c1");
        CHECK(p.view.empty());
        CHECK(p.writes == plan_resources(limits(), on_v2(f.layout)));
        CHECK(p.warnings.empty());
        CHECK_FALSE(fs::exists(p.paths.unified));  // planned, not made
        cgroup::make(p, k);
        CHECK(get(p.paths.unified + "/memory.max") == "67108864");
        // Device rules without a v1 devices controller: a BPF program, root only.
        l.resources->devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
        CHECK_FALSE(cgroup::plan(host(f.layout), l, "c2", false, "config.json").device_program.empty());
        CHECK(cgroup::plan(host(f.layout), l, "c2", true, "config.json").device_program.empty());
    }
    SECTION("hybrid: the v1 view names co-mounted controllers; device rules as v1 writes") {
        FakeHybrid f;
        put(f.dir("devices/devices.allow"));
        put(f.dir("devices/cgroup.procs"));
        f.layout = parse_layout(mount_line(31, f.dir("unified"), "cgroup2", "nsdelegate") +
                                    mount_line(32, f.dir("memory"), "cgroup", "memory") +
                                    mount_line(33, f.dir("devices"), "cgroup", "devices"),
                                "3:devices:/\n2:memory:/user/abc\n0::/\n");
        l.resources->devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
        // pids has no hierarchy here: rootless, a warning naming the file and no device rules;
        // root, an error naming the file.
        cgroup::Plan p = cgroup::plan(host(f.layout), l, "c1", true, "config.json");
        REQUIRE(p.warnings.size() == 1);
        CHECK_THAT(p.warnings[0], Contains("config.json: linux.resources: pids.max not applied"));
        CHECK(std::none_of(p.writes.begin(), p.writes.end(), [](const Write& w) { return w.controller == "devices"; }));
        CHECK_THROWS_WITH(cgroup::plan(host(f.layout), l, "c1", false, "config.json"), Contains("pids.max"));
        l.resources->pids_limit.reset();
        p = cgroup::plan(host(f.layout), l, "c1", false, "config.json");
        CHECK(p.paths.v1.at("memory") == f.dir("memory/user/abc/pod/c1"));
        REQUIRE(p.view.size() == 2);  // devices, memory
        for (const auto& h : p.view) CHECK(h.controllers.empty());  // each named after its only controller
        CHECK(std::any_of(p.writes.begin(), p.writes.end(), [](const Write& w) { return w.file == "devices.deny"; }));
        CHECK(p.device_program.empty());
        CHECK(p.warnings.empty());
        // Rootless without a delegated cgroup: none of its own, and its `cgroup`
        // mount shows ours (the caller's), as runc's.
        HostCgroups nowhere = host(f.layout);
        nowhere.may_create = [](const std::string&) { return false; };
        l.resources.reset();
        p = cgroup::plan(nowhere, l, "c1", true, "config.json");
        CHECK(p.paths.empty());
        CHECK(p.view == std::vector<HierarchyDir>{{"devices", f.dir("devices"), {}},
                                                   {"memory", f.dir("memory/user/abc"), {}}});
    }
}

namespace {

// Where `line` is in the record, at or after `from`; npos when absent.
size_t index_of(const crunlite::testing::RecordingKernel& k, const std::string& line, size_t from = 0) {
    for (size_t i = from; i < k.calls.size(); ++i)
        if (k.calls[i] == line) return i;
    return std::string::npos;
}

}  // namespace

// The orderings make and destroy must keep, from the calls recorded on a hybrid
// root where io is on the v2 side (a controller no v1 hierarchy holds) and the
// rest on v1.  Writes are recorded, not made.
TEST_CASE("make and destroy through the kernel: each write in its hierarchy, in order", "[manager][record]") {
    FakeHybrid f;
    put(f.dir("unified/cgroup.controllers"), "io\n");
    put(f.dir("cpuset/pod/cpuset.cpus"), "0-1\n");  // an existing parent with cpus of its own
    put(f.dir("cpuset/pod/cpuset.mems"), "0\n");
    put(f.dir("cpuset/pod/cgroup.procs"));
    spec::Linux l;
    l.cgroups_path = "pod/c1";
    l.resources = limits();
    l.resources->cpu = spec::Resources::Cpu{};
    l.resources->cpu->shares = 512;
    l.resources->cpu->cpus = "1";
    l.resources->block_io = spec::Resources::BlockIO{};
    l.resources->block_io->weight = 500;
    cgroup::Plan p = cgroup::plan(host(f.layout), l, "c1", false, "config.json");
    CgroupFs<crunlite::testing::RecordingKernel> k(f.path);
    cgroup::make(p, k);
    INFO(k.text());
    constexpr size_t npos = std::string::npos;

    // Each write in the directory of the hierarchy its file belongs to.
    const std::map<std::string, std::string> home = {
        {"memory", "$BUNDLE/memory/user/abc/pod/c1"}, {"pids", "$BUNDLE/pids/pod/c1"},
        {"cpu", "$BUNDLE/cpu,cpuacct/pod/c1"},       {"cpuset", "$BUNDLE/cpuset/pod/c1"},
        {"io", "$BUNDLE/unified/pod/c1"}};
    REQUIRE(std::any_of(p.writes.begin(), p.writes.end(), [](const Write& w) { return w.v2; }));
    for (const auto& w : p.writes)
        CHECK(index_of(k, "write " + home.at(w.controller) + "/" + w.file + " " + w.value) != npos);
    size_t limits_and_cpuset = 0;
    for (const auto& call : k.calls) {
        if (call.rfind("write ", 0) != 0 || call.find("/cgroup.subtree_control ") != npos) continue;
        std::string path = split(call, ' ')[1], file = path.substr(path.rfind('/') + 1);
        CHECK(path.substr(0, path.rfind('/')) == home.at(file.substr(0, file.find('.'))));
        ++limits_and_cpuset;
    }
    CHECK(limits_and_cpuset == p.writes.size() + 2);  // the writes, cpuset's inherited cpus and mems

    // The v2 parents enable io before any v2 controller file is written.
    size_t first_v2 = k.find("write $BUNDLE/unified/pod/c1/");
    REQUIRE(first_v2 != npos);
    CHECK(index_of(k, "write $BUNDLE/unified/cgroup.subtree_control +io") < first_v2);
    CHECK(index_of(k, "write $BUNDLE/unified/pod/cgroup.subtree_control +io") < first_v2);
    CHECK(k.find("write $BUNDLE/unified/pod/c1/cgroup.subtree_control") == npos);

    // The new cpuset gets its parent's cpus and mems right after mkdir, before
    // the configured cpus; nothing joins it here (the launcher does, after make).
    size_t made = index_of(k, "mkdir $BUNDLE/cpuset/pod/c1 0755");
    size_t cpus = index_of(k, "write $BUNDLE/cpuset/pod/c1/cpuset.cpus 0-1");
    size_t mems = index_of(k, "write $BUNDLE/cpuset/pod/c1/cpuset.mems 0");
    CHECK(made + 1 == cpus);
    CHECK(made + 2 == mems);
    CHECK(mems < index_of(k, "write $BUNDLE/cpuset/pod/c1/cpuset.cpus 1"));
    CHECK(index_of(k, "mkdir $BUNDLE/cpuset/pod 0755") == npos);  // it existed
    for (const auto& call : k.calls) CHECK(call.find("cgroup.procs") == npos);

    // destroy: a task left is killed (through the kernel: recorded, not sent),
    // then each sub-cgroup is removed before its parent; the parents stay.
    // Without kill_tasks (a container with a pid namespace of its own), it is
    // not the container's: left alone.
    for (const auto& d : dirs(p.paths)) put(d + "/sub/cgroup.procs");
    put(p.paths.unified + "/cgroup.procs", std::to_string(kNoPid) + "\n");
    size_t before = k.calls.size();
    destroy(p.paths, false, k);
    CHECK(k.find("kill ", before) == npos);
    CHECK(k.find("rmdir ", before) != npos);
    before = k.calls.size();
    destroy(p.paths, true, k);
    INFO(k.text());
    size_t killed = index_of(k, "kill " + std::to_string(kNoPid) + " 9", before);
    CHECK(killed < k.find("rmdir ", before));
    for (const auto& d : dirs(p.paths)) {
        std::string dir = "$BUNDLE" + d.substr(f.path.size());
        size_t sub = index_of(k, "rmdir " + dir + "/sub", before), top = index_of(k, "rmdir " + dir, before);
        CHECK(sub != npos);
        CHECK(sub < top);
        CHECK(top != npos);
    }
    CHECK(index_of(k, "rmdir $BUNDLE/unified/pod", before) == npos);
}
