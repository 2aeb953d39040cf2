// The apply side of the mount plan (linux/rootfs.hpp) and of namespaces,
// through a recording kernel on a temporary bundle: orderings that matter and
// golden records for the configs in tests/fuzz/corpus/config.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/linux/namespaces.hpp"
#include "crunlite/linux/rootfs.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "linux/recording_kernel.hpp"

using namespace crunlite;
using testing::RecordingKernel;

namespace {

constexpr size_t npos = std::string::npos;

struct Bundle {
    std::string dir;
    Bundle() {
        char t[] = "/tmp/crunlite-rootfs-test-XXXXXX";
        if (!::mkdtemp(t)) throw_errno("mkdtemp");
        dir = t;
        if (::mkdir((dir + "/rootfs").c_str(), 0755) < 0) throw_errno("mkdir rootfs");
    }
    ~Bundle() {
        sys::UniqueFd parent(::open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC));
        sys::remove_tree_at(parent.get(), dir.substr(5));
    }
    Bundle(const Bundle&) = delete;
    Bundle& operator=(const Bundle&) = delete;

    // Makes `path` in the rootfs as a directory, or as a file when it is one of
    // procfs's files, as maskedPaths and readonlyPaths would find them.
    void populate(const std::string& path) const {
        static const char* const kFiles[] = {"/proc/kcore",      "/proc/keys",        "/proc/latency_stats",
                                             "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                                             "/proc/sysrq-trigger"};
        sys::UniqueFd root(::open((dir + "/rootfs").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        bool file = std::find(std::begin(kFiles), std::end(kFiles), path) != std::end(kFiles);
        if (file) sys::touch_in_root(root.get(), path, 0644);
        else sys::mkdir_all_in_root(root.get(), path, 0755);
    }
};

spec::Config config_of(const std::string& json) { return spec::parse_config(json, "config.json"); }

// Applies `config` as stage-2 does (prepare, uts/sysctl, finish) and returns
// the record.  `proc`: the container has a /proc (/proc/self/fd) after the pivot.
RecordingKernel apply(const Bundle& b, const spec::Config& config, linux::MountPlanInput input = {},
                      bool no_pivot = false, const std::function<int(const std::string&)>& fail = {},
                      bool proc = true) {
    input.bundle = b.dir;
    if (config.linux) {
        for (const auto& p : config.linux->masked_paths)
            if (p.find("missing") == std::string::npos) b.populate(p);
        for (const auto& p : config.linux->readonly_paths) b.populate(p);
    }
    RecordingKernel k(b.dir);
    k.fail = fail;
    if (!proc) std::erase(k.present_files, "/proc/self/fd");
    linux::MountPlan plan = linux::plan_mounts(config, input);
    linux::prepare_rootfs(plan, no_pivot, {}, k);
    linux::apply_uts_and_sysctl(plan, k);
    linux::finish_rootfs(plan, k, plan.rootfs);
    return k;
}

const char* kConfig = R"({
  "ociVersion": "1.2.0",
  "process": {"args": ["sh"], "cwd": "/work"},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
    {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "ro", "rprivate"]}
  ],
  "linux": {
    "namespaces": [{"type": "mount"}, {"type": "uts"}, {"type": "pid"}],
    "rootfsPropagation": "rslave",
    "sysctl": {"kernel.shm_rmid_forced": "1"},
    "maskedPaths": ["/proc/kcore", "/proc/acpi", "/proc/missing"],
    "readonlyPaths": ["/proc/sys"]
  }
})";

}  // namespace

TEST_CASE("apply: / becomes a slave first, every mount and node before the pivot, masks after it, "
          "read-only last", "[rootfs]") {
    Bundle b;
    RecordingKernel k = apply(b, config_of(kConfig));
    INFO(k.text());
    REQUIRE(!k.calls.empty());
    CHECK(k.calls[0] == "mount - / - REC|SLAVE");
    CHECK(k.calls[1] == "mount $BUNDLE/rootfs $BUNDLE/rootfs - BIND|REC");
    size_t pivot = k.find("pivot_root");
    REQUIRE(pivot != npos);
    CHECK(k.calls[pivot - 1] == "chdir $BUNDLE/rootfs");
    CHECK(k.calls[pivot] == "pivot_root . .");
    CHECK(k.calls[pivot + 1] == "umount2 . MNT_DETACH");
    CHECK(k.calls[pivot + 2] == "chdir /");
    // Config mounts, devices and /dev symlinks all come before the pivot.
    for (const char* before : {"mount proc $BUNDLE/rootfs/proc proc", "mount tmpfs $BUNDLE/rootfs/dev tmpfs",
                               "mount /tmp $BUNDLE/rootfs/data - BIND|REC", "mknod $BUNDLE/rootfs/dev/null c 1:3",
                               "symlink $BUNDLE/rootfs/dev/fd -> /proc/self/fd"}) {
        INFO(before);
        CHECK(k.find(before) < pivot);
    }
    // The bind's read-only remount and propagation act on the new mount, in that order.
    size_t ro = k.find("mount - $BUNDLE/rootfs/data - RDONLY|REMOUNT|BIND");
    size_t prop = k.find("mount - $BUNDLE/rootfs/data - REC|PRIVATE");
    CHECK(k.find("mount /tmp $BUNDLE/rootfs/data") < ro);
    CHECK(ro < prop);
    CHECK(prop < pivot);
    // A tmpfs keeps the mode its options give.
    CHECK(k.find("mount tmpfs $BUNDLE/rootfs/dev tmpfs NOSUID mode=755") != npos);
    // After the pivot: hostname, sysctl, rootfsPropagation, masks, read-only paths, root read-only.
    size_t root_prop = k.find("mount - / - SLAVE", pivot);
    size_t host = k.find("sethostname box");
    size_t sysctl = k.find("write /proc/sys/kernel/shm_rmid_forced 1");
    size_t mask_file = k.find("mount /dev/null $BUNDLE/rootfs/proc/kcore - BIND");
    size_t mask_dir = k.find("mount tmpfs $BUNDLE/rootfs/proc/acpi tmpfs RDONLY");
    size_t ro_bind = k.find("mount $BUNDLE/rootfs/proc/sys $BUNDLE/rootfs/proc/sys - BIND|REC");
    size_t ro_remount = k.find("mount - $BUNDLE/rootfs/proc/sys - RDONLY|REMOUNT|BIND");
    for (size_t i : {root_prop, host, sysctl, mask_file, mask_dir, ro_bind, ro_remount}) CHECK(i != npos);
    CHECK(pivot < host);
    CHECK(host < sysctl);
    CHECK(sysctl < root_prop);  // /proc/sys is still writable
    CHECK(root_prop < mask_file);
    CHECK(mask_file < mask_dir);
    CHECK(mask_dir < ro_bind);
    CHECK(ro_bind < ro_remount);
    CHECK(k.find("mount tmpfs $BUNDLE/rootfs/proc/missing") == npos);  // a missing masked path is skipped
    CHECK(k.calls.back() == "mount - $BUNDLE/rootfs - RDONLY|REMOUNT|BIND");
}

TEST_CASE("apply: a shared rootfsPropagation keeps the host's peers, with a private parent for the rootfs "
          "and the old root rslave before its detach", "[rootfs]") {
    Bundle b;
    auto c = config_of(kConfig);
    c.linux->rootfs_propagation = "rshared";
    RecordingKernel k = apply(b, c);
    INFO(k.text());
    REQUIRE(k.calls.size() > 2);
    CHECK(k.calls[0] == "mount - / - REC|SHARED");
    // The mount point holding the bundle (here "/", or the tmpfs of /tmp).
    CHECK((k.calls[1].rfind("mount - /", 0) == 0 && k.calls[1].ends_with(" - PRIVATE")));
    CHECK(k.calls[2] == "mount $BUNDLE/rootfs $BUNDLE/rootfs - BIND|REC");
    size_t pivot = k.find("pivot_root . .");
    REQUIRE(pivot != npos);
    CHECK(k.calls[pivot + 1].rfind("mount_setattr ", 0) == 0);
    CHECK(k.calls[pivot + 1].ends_with("prop=0x80000 AT_RECURSIVE"));  // MS_SLAVE
    CHECK(k.calls[pivot + 2] == "umount2 . MNT_DETACH");
    CHECK(k.find("mount - / - SHARED", pivot) != npos);  // then "/" alone shared
}

TEST_CASE("apply: a masked path that is a symlink is masked where it leads inside the root", "[rootfs]") {
    Bundle b;
    b.populate("/inside");
    REQUIRE(::symlink("/inside", (b.dir + "/rootfs/escape").c_str()) == 0);
    auto c = config_of(kConfig);
    c.linux->masked_paths = {"/escape"};
    RecordingKernel k = apply(b, c);
    INFO(k.text());
    CHECK(k.find("mount tmpfs $BUNDLE/rootfs/inside tmpfs RDONLY") != npos);
    // A container without /proc: the path beneath the root, which mount(2) resolves (runc's way).
    c.linux->readonly_paths = {"/inside"};
    RecordingKernel no_proc = apply(b, c, {}, false, {}, false);
    INFO(no_proc.text());
    CHECK(no_proc.find("mount tmpfs $BUNDLE/rootfs/escape tmpfs RDONLY") != npos);
    CHECK(no_proc.find("mount $BUNDLE/rootfs/inside $BUNDLE/rootfs/inside - BIND|REC") != npos);
    // A missing path is skipped either way.
    c.linux->masked_paths = {"/missing"};
    CHECK(apply(b, c, {}, false, {}, false).find("/missing") == npos);
}

TEST_CASE("apply: no_pivot moves the rootfs and chroots; without a mount namespace only chroot", "[rootfs]") {
    Bundle b;
    auto c = config_of(kConfig);
    RecordingKernel k = apply(b, c, {}, true);
    INFO(k.text());
    CHECK(k.find("pivot_root") == npos);
    size_t move = k.find("mount $BUNDLE/rootfs / - MOVE");
    CHECK(move != npos);
    CHECK(k.find("chroot .") == move + 1);

    Bundle b2;
    c.root.readonly = false;
    c.linux->rootfs_propagation.clear();
    c.linux->namespaces = {{"pid", ""}};
    c.mounts.clear();
    RecordingKernel k2 = apply(b2, c);
    INFO(k2.text());
    CHECK(k2.find("mount - /") == npos);           // the caller's "/" is left alone
    CHECK(k2.find("mount $BUNDLE/rootfs $BUNDLE/rootfs") == npos);  // no bind of the rootfs
    CHECK(k2.find("chroot .") != npos);
    CHECK(k2.find("pivot_root") == npos);
}

TEST_CASE("apply: refused filesystems fall back as planned", "[rootfs]") {
    Bundle b;
    auto c = config_of(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
      "mounts": [
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "gid=5", "mode=0620"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}],
      "linux": {"namespaces": [{"type": "mount"}, {"type": "user"}],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}})");
    linux::MountPlanInput in;
    in.can_mknod = false;
    RecordingKernel k = apply(b, c, in, false, [](const std::string& call) {
        if (call.rfind("mount sysfs ", 0) == 0 || call.rfind("mount cgroup ", 0) == 0) return EPERM;
        if (call.rfind("mount devpts ", 0) == 0 && call.find("gid=5") != npos) return EINVAL;
        return 0;
    });
    INFO(k.text());
    // sysfs refused: the host's /sys bound read-only.
    size_t sys_bind = k.find("mount /sys $BUNDLE/rootfs/sys - BIND|REC");
    CHECK(sys_bind != npos);
    CHECK(k.find("mount - $BUNDLE/rootfs/sys - RDONLY|NOSUID|NODEV|NOEXEC|REMOUNT|BIND", sys_bind) == sys_bind + 1);
    // devpts without gid=5 (unmapped rootless).
    CHECK(k.find("mount devpts $BUNDLE/rootfs/dev/pts devpts 0 newinstance,mode=0620") != npos);
    // cgroup2 refused: the host's hierarchy, read-only.
    size_t cg = k.find("mount /sys/fs/cgroup $BUNDLE/rootfs/sys/fs/cgroup - BIND|REC");
    CHECK(cg != npos);
    CHECK(k.calls.at(cg + 1) == "mount - $BUNDLE/rootfs/sys/fs/cgroup - RDONLY|NOSUID|NODEV|NOEXEC|REMOUNT|BIND");
    // No mknod in a user namespace: the host's nodes are bound.
    CHECK(k.find("mknod") == npos);
    CHECK(k.find("mount /dev/null $BUNDLE/rootfs/dev/null - BIND") != npos);
    // An error the plan has no fallback for names the mount.
    Bundle b2;
    CHECK_THROWS_WITH(apply(b2, c, in, false, [](const std::string& call) { return call.rfind("mount devpts ", 0) == 0 ? EACCES : 0; }),
                      Catch::Contains("mount devpts on `/dev/pts` with `newinstance,gid=5,mode=0620`: permission denied"));
}

TEST_CASE("apply: a cgroup mount on a v1 host shows the container's hierarchies", "[rootfs]") {
    Bundle b;
    auto c = config_of(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
      "mounts": [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}],
      "linux": {"namespaces": [{"type": "mount"}]}})");
    linux::MountPlanInput in;
    in.cgroup_v1 = {{"cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1", {"cpu", "cpuacct"}},
                    {"memory", "/sys/fs/cgroup/memory/c1", {}}};
    RecordingKernel k = apply(b, c, in);
    INFO(k.text());
    size_t tmpfs = k.find("mount tmpfs $BUNDLE/rootfs/sys/fs/cgroup tmpfs NOSUID|NODEV|NOEXEC mode=755");
    size_t cpu = k.find("mount /sys/fs/cgroup/cpu,cpuacct/c1 $BUNDLE/rootfs/sys/fs/cgroup/cpu,cpuacct - BIND");
    size_t mem = k.find("mount /sys/fs/cgroup/memory/c1 $BUNDLE/rootfs/sys/fs/cgroup/memory - BIND");
    size_t link = k.find("symlink $BUNDLE/rootfs/sys/fs/cgroup/cpu -> cpu,cpuacct");
    size_t ro = k.find("mount - $BUNDLE/rootfs/sys/fs/cgroup - RDONLY|NOSUID|NODEV|NOEXEC|REMOUNT|BIND");
    CHECK(tmpfs < cpu);
    CHECK(cpu < link);
    CHECK(link < mem);
    CHECK(mem < ro);
    CHECK(ro != npos);
}

TEST_CASE("apply: the image overlay is mounted on the rootfs instead of a bind", "[rootfs]") {
    Bundle b;
    auto c = config_of(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
      "annotations": {"org.crun-lite.rootfs.overlay": "lowerdir=/l1:/l2,upperdir=/u/upper,workdir=/u/work,driver=native"},
      "linux": {"namespaces": [{"type": "mount"}]}})");
    RecordingKernel k = apply(b, c);
    INFO(k.text());
    CHECK(k.calls.at(1) == "mount overlay $BUNDLE/rootfs overlay 0 lowerdir=/l1:/l2,upperdir=/u/upper,workdir=/u/work");
    CHECK(k.find("mount $BUNDLE/rootfs $BUNDLE/rootfs") == npos);
    Bundle b2;
    CHECK_THROWS_WITH(apply(b2, c, {}, false, [](const std::string& call) { return call.rfind("mount overlay", 0) == 0 ? EPERM : 0; }),
                      Catch::Contains("mount overlay on"));
}

TEST_CASE("apply: idmapped mounts are cloned with the mapping and attached in the rootfs", "[rootfs]") {
    Bundle b;
    auto c = config_of(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
      "mounts": [{"destination": "/d", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"],
                  "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                  "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}],
      "linux": {"namespaces": [{"type": "mount"}]}})");
    RecordingKernel k(b.dir);
    sys::UniqueFd userns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto trees = linux::clone_idmapped_sources(c, b.dir, {userns.get()}, k);
    REQUIRE(trees.size() == 1);
    CHECK(k.calls.at(0) == "open_tree /tmp AT_RECURSIVE");
    CHECK(k.calls.at(1).rfind("mount_setattr /dev/null set=0x100000 clr=0 prop=0 AT_RECURSIVE userns", 0) == 0);
    linux::MountPlanInput in;
    in.bundle = b.dir;
    auto plan = linux::plan_mounts(c, in);
    linux::attach_sources(plan, {-1}, {trees[0].get()});
    linux::prepare_rootfs(plan, false, {}, k);
    INFO(k.text());
    CHECK(k.find("move_mount /dev/null $BUNDLE/rootfs/d") != npos);
    CHECK(k.find("mount /tmp $BUNDLE/rootfs/d") == npos);
}

TEST_CASE("join_namespaces joins the user namespace first", "[rootfs]") {
    RecordingKernel k("/nonexistent");
    linux::join_namespaces({{"network", "/dev/null"}, {"user", "/dev/zero"}, {"uts", ""}}, k);
    REQUIRE(k.calls.size() == 2);
    CHECK(k.calls[0] == "setns /dev/zero NEWUSER");
    CHECK(k.calls[1] == "setns /dev/null NEWNET");
}

TEST_CASE("enter_namespaces: stage-1's order, from the cgroups to the time offsets", "[rootfs][namespaces]") {
    spec::Config c = config_of(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "linux": {"namespaces": [{"type": "ipc", "path": "/dev/null"}, {"type": "user"}, {"type": "mount"},
                                 {"type": "pid"}, {"type": "network"}, {"type": "cgroup"}, {"type": "time"}],
                  "timeOffsets": {"monotonic": {"secs": 7, "nanosecs": 0}}}})");
    RecordingKernel k("/nonexistent");
    linux::NamespaceEntry e;
    e.lnx = &*c.linux;
    e.oom_score_adj = 500;
    e.cgroup_unified = "/sys/fs/cgroup/unified/c1";  // v2: the process; v1: the calling thread
    e.cgroup_v1_dirs = {"/sys/fs/cgroup/memory/c1", "/sys/fs/cgroup/pids/c1"};
    e.joined = [&] { k.calls.push_back("<joined>"); };
    e.map_ids = [&] { k.calls.push_back("<map ids>"); };
    e.in_mount_ns = [&] { k.calls.push_back("<open bind sources>"); };
    e.network_up = [&] { k.calls.push_back("<lo up>"); };
    linux::enter_namespaces(e, k);
    CHECK(k.calls == std::vector<std::string>{
                         "write /proc/self/oom_score_adj 500",
                         "write /sys/fs/cgroup/unified/c1/cgroup.procs 0",
                         "write /sys/fs/cgroup/memory/c1/tasks 0",
                         "write /sys/fs/cgroup/pids/c1/tasks 0",
                         "setns /dev/null NEWIPC",
                         "<joined>",
                         "unshare NEWUSER",
                         "<map ids>",
                         "unshare NEWNS",
                         "<open bind sources>",
                         "setresgid 0 0 0",
                         "setresuid 0 0 0",
                         "unshare NEWPID|NEWNET|NEWTIME",  // cgroup: stage-2's, once inside its cgroup
                         "<lo up>",
                         "write /proc/self/timens_offsets monotonic 7 0\n",
                     });

    // Without a new user namespace: no id change; a failed step names itself.
    c = config_of(R"({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
                     "linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}]}})");
    RecordingKernel k2("/nonexistent");
    k2.fail = [](const std::string& call) { return call == "unshare NEWUTS" ? EPERM : 0; };
    e = {};
    e.lnx = &*c.linux;
    CHECK_THROWS_WITH(linux::enter_namespaces(e, k2), Catch::Contains("unshare namespaces"));
    CHECK(k2.calls == std::vector<std::string>{"unshare NEWNS", "unshare NEWUTS"});
}

// Golden records: what stage-2 does for each config in tests/fuzz/corpus/config.
// After an intended change, regenerate with CRUNLITE_UPDATE_GOLDEN=1 and review the diff.
TEST_CASE("apply: golden records of the corpus configs", "[rootfs][golden]") {
    const std::string dir = CRUNLITE_TEST_SOURCE_DIR;
    for (const char* name : {"spec-root", "spec-rootless", "kitchen-sink"}) {
        INFO(name);
        spec::Config c = config_of(read_file(dir + "/../fuzz/corpus/config/" + name + ".json"));
        Bundle b;
        linux::MountPlanInput in;
        in.bundle = b.dir;
        in.can_mknod = !c.linux->find_namespace("user");
        RecordingKernel k(b.dir);
        for (const auto& p : c.linux->masked_paths) b.populate(p);
        for (const auto& p : c.linux->readonly_paths) b.populate(p);
        sys::UniqueFd userns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        std::vector<int> userns_fds;
        for (const auto& m : c.mounts) userns_fds.push_back(m.uid_mappings.empty() ? -1 : userns.get());
        auto trees = linux::clone_idmapped_sources(c, b.dir, userns_fds, k);
        std::vector<int> tree_fds;
        for (const auto& t : trees) tree_fds.push_back(t.get());
        linux::MountPlan plan = linux::plan_mounts(c, in);
        linux::attach_sources(plan, {}, tree_fds);
        linux::prepare_rootfs(plan, false, {}, k);
        linux::apply_uts_and_sysctl(plan, k);
        linux::finish_rootfs(plan, k, plan.rootfs);
        std::string golden_path = dir + "/linux/golden/" + name + ".txt";
        if (std::getenv("CRUNLITE_UPDATE_GOLDEN")) write_file_atomic(golden_path, k.text(), 0644, ".new");
        CHECK(k.text() == read_file(golden_path));
    }
}
