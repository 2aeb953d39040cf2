#include <sys/mount.h>

#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/linux/mount_plan.hpp"

using namespace crunlite;

namespace {

spec::Config base_config() {
    spec::Config c;
    c.oci_version = "1.2.0";
    c.root.path = "rootfs";
    c.linux.emplace();
    c.linux->namespaces = {{"mount", ""}};
    return c;
}

linux::MountPlanInput input(bool mknod = true) {
    linux::MountPlanInput in;
    in.bundle = "/b";
    in.can_mknod = mknod;
    return in;
}

}  // namespace

TEST_CASE("rootfs path resolves against the bundle; / becomes a slave by default", "[mount_plan]") {
    auto plan = linux::plan_mounts(base_config(), input());
    CHECK(plan.rootfs == "/b/rootfs");
    CHECK(plan.root_propagation == (MS_SLAVE | MS_REC));
    CHECK(plan.final_root_propagation == 0);
    auto c = base_config();
    c.root.path = "/abs/root";
    c.linux->rootfs_propagation = "rprivate";
    plan = linux::plan_mounts(c, input());
    CHECK(plan.rootfs == "/abs/root");
    CHECK(plan.root_propagation == (MS_PRIVATE | MS_REC));
    CHECK(plan.final_root_propagation == MS_PRIVATE);  // "/" alone: each mount keeps its own
    CHECK_FALSE(plan.host_peers);
    // Shared: the host's peer groups are kept (runc's), the rootfs gets a private parent.
    c.linux->rootfs_propagation = "rshared";
    plan = linux::plan_mounts(c, input());
    CHECK(plan.root_propagation == (MS_SHARED | MS_REC));
    CHECK(plan.host_peers);
    CHECK(plan.final_root_propagation == MS_SHARED);
    // A flag for "/" alone (runc's): the mounts below keep the host's peer groups too.
    using Flag = std::pair<const char*, unsigned long>;
    for (auto [name, flag] :
         {Flag{"slave", MS_SLAVE}, Flag{"private", MS_PRIVATE}, Flag{"unbindable", MS_UNBINDABLE}}) {
        c.linux->rootfs_propagation = name;
        plan = linux::plan_mounts(c, input());
        CHECK(plan.root_propagation == flag);
        CHECK(plan.host_peers);
        CHECK(plan.final_root_propagation == flag);
    }
    c.linux->rootfs_propagation = "rslave";
    plan = linux::plan_mounts(c, input());
    CHECK(plan.root_propagation == (MS_SLAVE | MS_REC));
    CHECK_FALSE(plan.host_peers);
    c.linux->rootfs_propagation = "runbindable";
    plan = linux::plan_mounts(c, input());
    CHECK(plan.root_propagation == (MS_SLAVE | MS_REC));
    CHECK(plan.final_root_propagation == MS_UNBINDABLE);
    CHECK_FALSE(plan.host_peers);
}

TEST_CASE("bind mounts: recursion, remount flags, relative sources", "[mount_plan]") {
    auto c = base_config();
    c.mounts.push_back({"/data", "bind", "hostdir", {"rbind", "ro", "nosuid"}, {}, {}});
    c.mounts.push_back({"/etc/x", "none", "/etc/hosts", {"bind"}, {}, {}});
    auto plan = linux::plan_mounts(c, input());
    REQUIRE(plan.mounts.size() == 2);
    const auto& a = plan.mounts[0];
    CHECK(a.kind == linux::MountKind::Bind);
    CHECK(a.source == "/b/hostdir");
    CHECK(a.flags == (MS_BIND | MS_REC));
    CHECK(a.remount_flags == (MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID));
    const auto& b = plan.mounts[1];
    CHECK(b.kind == linux::MountKind::Bind);
    CHECK(b.flags == MS_BIND);
    CHECK(b.remount_flags == 0);
}

TEST_CASE("filesystem mounts keep flags and data, with fallbacks where the kernel may refuse", "[mount_plan]") {
    auto c = base_config();
    c.mounts.push_back({"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}, {}, {}});
    c.mounts.push_back({"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}, {}, {}});
    c.mounts.push_back({"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}, {}, {}});
    c.mounts.push_back({"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}, {}, {}});
    c.mounts.push_back({"/sys/fs/cgroup", "cgroup", "cgroup", {"ro"}, {}, {}});
    auto plan = linux::plan_mounts(c, input());
    REQUIRE(plan.mounts.size() == 5);
    CHECK(plan.mounts[0].kind == linux::MountKind::Filesystem);
    CHECK(plan.mounts[0].flags == (MS_NOSUID | MS_STRICTATIME));
    CHECK(plan.mounts[0].data == "mode=755,size=65536k");
    CHECK(plan.mounts[0].fallback == linux::MountFallback::None);
    CHECK(plan.mounts[1].flags == (MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
    CHECK(plan.mounts[1].fallback == linux::MountFallback::BindHost);
    CHECK(plan.mounts[2].fallback == linux::MountFallback::DropGid);
    CHECK(plan.mounts[2].data == "newinstance,ptmxmode=0666,mode=0620,gid=5");
    CHECK(plan.mounts[3].fallback == linux::MountFallback::BindHost);
    CHECK(plan.mounts[4].kind == linux::MountKind::Cgroup);
    CHECK(plan.mounts[4].fstype == "cgroup2");
    CHECK(plan.mounts[4].flags == MS_RDONLY);
}

TEST_CASE("propagation and recursive attributes are separate steps", "[mount_plan]") {
    auto c = base_config();
    c.mounts.push_back({"/m", "bind", "/src", {"rbind", "rshared", "rro"}, {}, {}});
    auto plan = linux::plan_mounts(c, input());
    REQUIRE(plan.mounts.size() == 1);
    REQUIRE(plan.mounts[0].propagation.size() == 1);
    CHECK(plan.mounts[0].propagation[0] == (MS_SHARED | MS_REC));
    CHECK(plan.mounts[0].attr_set != 0);
    CHECK(plan.mounts[0].remount_flags == 0);
}

TEST_CASE("devices: defaults, config additions and replacements; host /dev disables setup", "[mount_plan]") {
    auto c = base_config();
    c.linux->devices.push_back({"c", "/dev/fuse", 10, 229, 0600, 0, 0});
    c.linux->devices.push_back({"c", "/dev/null", 1, 3, 0600, 0, 0});
    auto plan = linux::plan_mounts(c, input(false));
    CHECK(plan.setup_dev);
    CHECK_FALSE(plan.mknod);
    REQUIRE(plan.devices.size() == linux::default_devices().size() + 1);
    CHECK(plan.devices[0].path == "/dev/null");
    CHECK(plan.devices[0].mode == 0600);
    CHECK(plan.devices.back().path == "/dev/fuse");
    CHECK(plan.devices.back().major == 10);

    // Of two config entries with one path, the first is made (as runc's mknod).
    c.linux->devices.push_back({"c", "/dev/fuse", 1, 5, 0600, 0, 0});
    c.linux->devices.push_back({"c", "/dev/null", 1, 7, 0600, 0, 0});
    plan = linux::plan_mounts(c, input(false));
    REQUIRE(plan.devices.size() == linux::default_devices().size() + 1);
    CHECK(plan.devices[0].minor == 3);
    CHECK(plan.devices.back().major == 10);
    c.linux->devices.resize(2);

    c.mounts.push_back({"/dev", "bind", "/dev", {"rbind"}, {}, {}});
    plan = linux::plan_mounts(c, input());
    CHECK_FALSE(plan.setup_dev);
    CHECK(plan.devices.empty());
}

TEST_CASE("bad mounts name the entry", "[mount_plan]") {
    auto c = base_config();
    c.mounts.push_back({"/ok", "tmpfs", "tmpfs", {}, {}, {}});
    c.mounts.push_back({"", "tmpfs", "tmpfs", {}, {}, {}});
    REQUIRE_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains("mounts[1].destination"));
    c.mounts[1] = {"/x", "bind", "", {"bind"}, {}, {}};
    REQUIRE_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains("mounts[1].source"));
    c.mounts[1] = {"/x", "", "", {}, {}, {}};
    REQUIRE_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains("mounts[1].type"));
    c.linux->devices.push_back({"c", "dev/rel", 1, 1, {}, {}, {}});
    c.mounts.pop_back();
    REQUIRE_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains("linux.devices[0].path"));
}

TEST_CASE("the rootfs overlay annotation is copied to the plan; without it the root is bound", "[mount_plan]") {
    auto plain = linux::plan_mounts(base_config(), input());
    CHECK(plain.rootfs_overlay.empty());

    auto c = base_config();
    c.process.emplace();
    c.process->user.uid = 1000;
    c.process->user.gid = 1001;
    const std::string opts = "lowerdir=/img/l2:/img/l1,upperdir=/run/c/upper,workdir=/run/c/work";
    c.annotations[linux::kRootfsOverlayAnnotation] = opts;
    auto plan = linux::plan_mounts(c, input());
    CHECK(plan.rootfs_overlay == opts);
    CHECK(plan.rootfs == "/b/rootfs");
    // An image's cwd, made, is the process user's (podman's WORKDIR); a bundle's stays root's (runc's).
    CHECK_FALSE(plain.cwd_owner);
    REQUIRE(plan.cwd_owner);
    CHECK(*plan.cwd_owner == std::pair<uint32_t, uint32_t>(1000, 1001));

    c.annotations[linux::kRootfsOverlayAnnotation] = opts + ",userxattr";
    CHECK(linux::plan_mounts(c, input()).rootfs_overlay == opts + ",userxattr");
    // Order does not matter; a single lower layer is fine.
    c.annotations[linux::kRootfsOverlayAnnotation] = "workdir=/w,lowerdir=/a,upperdir=/u";
    CHECK(linux::plan_mounts(c, input()).rootfs_overlay == "workdir=/w,lowerdir=/a,upperdir=/u");
    // driver= is ours: it picks the driver and never reaches mount(2).
    CHECK(plan.overlay_driver == linux::OverlayDriver::Auto);
    c.annotations[linux::kRootfsOverlayAnnotation] = opts + ",driver=fuse,userxattr";
    plan = linux::plan_mounts(c, input());
    CHECK(plan.rootfs_overlay == opts + ",userxattr");
    CHECK(plan.overlay_driver == linux::OverlayDriver::Fuse);
    c.annotations[linux::kRootfsOverlayAnnotation] = "driver=native," + opts;
    CHECK(linux::plan_mounts(c, input()).overlay_driver == linux::OverlayDriver::Native);
    // Other annotations are left alone.
    auto other = base_config();
    other.annotations["org.example.overlay"] = "xino=on";
    CHECK(linux::plan_mounts(other, input()).rootfs_overlay.empty());
}

TEST_CASE("a rootfs overlay annotation with missing, relative or extra options is refused", "[mount_plan]") {
    const std::string name = linux::kRootfsOverlayAnnotation;
    for (const char* bad : {
             "",                                                 // nothing
             "lowerdir=/a,upperdir=/u",                          // no workdir
             "upperdir=/u,workdir=/w",                           // no lowerdir
             "lowerdir=/a,workdir=/w",                           // no upperdir
             "lowerdir=a,upperdir=/u,workdir=/w",                // relative lower
             "lowerdir=/a:b,upperdir=/u,workdir=/w",             // one relative lower of two
             "lowerdir=/a::/b,upperdir=/u,workdir=/w",           // an empty lower
             "lowerdir=/a,upperdir=u,workdir=/w",                // relative upper
             "lowerdir=/a,upperdir=/u,workdir=",                 // empty work
             "lowerdir=/a,upperdir=/u,workdir=/w,xino=on",       // an unknown option
             "lowerdir=/a,upperdir=/u,workdir=/w,,metacopy=on",  // smuggled after an empty one
             "lowerdir=/a,upperdir=/u,workdir=/w,metacopy=on",   // smuggled
             "lowerdir=/a,upperdir=/u,upperdir=/v,workdir=/w",   // given twice
             "lowerdir=/a,upperdir=/u,workdir=/w,lowerdir=/b",   // given twice
             "lowerdir,upperdir=/u,workdir=/w",                  // no value
             "lowerdir=/a,upperdir=/u,workdir=/w,driver=zfs",    // an unknown driver
             "lowerdir=/a,upperdir=/u,workdir=/w,driver=fuse,driver=native",  // two drivers
         }) {
        INFO("annotation value \"" << bad << '"');
        auto c = base_config();
        c.annotations[name] = bad;
        CHECK_THROWS_AS(linux::plan_mounts(c, input()), Error);
        CHECK_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains(name));
    }
}

TEST_CASE("without a mount namespace: chroot in the caller's, nothing that changes its mounts", "[mount_plan]") {
    auto c = base_config();
    CHECK(linux::plan_mounts(c, input()).own_mount_namespace);
    c.linux->namespaces.clear();
    CHECK_FALSE(linux::plan_mounts(c, input()).own_mount_namespace);
    c.root.readonly = true;
    CHECK_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains("root.readonly"));
    c.root.readonly = false;
    c.linux->rootfs_propagation = "rshared";
    CHECK_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains("linux.rootfsPropagation"));
    c.linux->rootfs_propagation.clear();
    c.annotations[linux::kRootfsOverlayAnnotation] = "lowerdir=/a,upperdir=/u,workdir=/w";
    CHECK_THROWS_WITH(linux::plan_mounts(c, input()),
                      Catch::Contains(linux::kRootfsOverlayAnnotation) && Catch::Contains("mount namespace"));
}

TEST_CASE("tmpcopyup is planned for tmpfs and refused elsewhere; device paths may end in /", "[mount_plan]") {
    auto c = base_config();
    c.mounts.push_back({"/etc", "tmpfs", "tmpfs", {"tmpcopyup", "size=1m"}, {}, {}});
    auto plan = linux::plan_mounts(c, input());
    REQUIRE(plan.mounts.size() == 1);
    CHECK(plan.mounts[0].tmpcopyup);
    CHECK(plan.mounts[0].data == "size=1m");
    CHECK(plan.mounts[0].remount_flags == 0);
    // Read-only: mounted writable, filled, then remounted read-only (with its other flags).
    c.mounts[0].options = {"tmpcopyup", "ro", "nosuid"};
    plan = linux::plan_mounts(c, input());
    CHECK(plan.mounts[0].flags == MS_NOSUID);
    CHECK(plan.mounts[0].remount_flags == (MS_RDONLY | MS_NOSUID | MS_BIND | MS_REMOUNT));
    c.mounts[0].options = {"ro"};
    CHECK(linux::plan_mounts(c, input()).mounts[0].flags == MS_RDONLY);
    c.mounts[0] = {"/etc", "bind", "/x", {"rbind", "tmpcopyup"}, {}, {}};
    CHECK_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains("mounts[0].options: tmpcopyup is for tmpfs"));
    // copyup (ours) is the bind's counterpart.
    c.mounts[0] = {"/etc", "", "/x", {"rbind", "copyup"}, {}, {}};
    c.process.emplace();
    c.process->user.uid = 1000;
    c.process->user.gid = 100;
    plan = linux::plan_mounts(c, input());
    CHECK(plan.mounts[0].copyup);
    CHECK((plan.mounts[0].copyup_uid == 1000 && plan.mounts[0].copyup_gid == 100));
    c.mounts[0] = {"/etc", "tmpfs", "tmpfs", {"copyup"}, {}, {}};
    CHECK_THROWS_WITH(linux::plan_mounts(c, input()), Catch::Contains("mounts[0].options: copyup is for bind mounts"));
    c.mounts.clear();
    c.linux->devices.push_back({"c", "/dev/foo//", 1, 3, {}, {}, {}});
    plan = linux::plan_mounts(c, input());
    CHECK(plan.devices.back().path == "/dev/foo");
}

TEST_CASE("cgroup mounts: a v1 view where the host has one, else cgroup2; cgroup2 always cgroup2", "[mount_plan]") {
    auto c = base_config();
    c.mounts.push_back({"/sys/fs/cgroup", "cgroup", "cgroup", {"ro"}, {}, {}});
    CHECK(linux::plan_mounts(c, input()).mounts[0].kind == linux::MountKind::Cgroup);
    auto in = input();
    in.cgroup_v1 = {{"memory", "/sys/fs/cgroup/memory/c1", {}}};
    auto plan = linux::plan_mounts(c, in);
    CHECK(plan.mounts[0].kind == linux::MountKind::CgroupV1);
    CHECK(plan.mounts[0].cgroup_v1 == in.cgroup_v1);
    CHECK((plan.mounts[0].flags & MS_RDONLY) != 0);
    // "cgroup2" is cgroup2 even where the host has v1 hierarchies, as runc mounts it.
    c.mounts[0].type = "cgroup2";
    plan = linux::plan_mounts(c, in);
    CHECK(plan.mounts[0].kind == linux::MountKind::Cgroup);
    CHECK(plan.mounts[0].cgroup_v1.empty());
    c.mounts[0].type = "cgroup";
    // A cgroup namespace without a cgroup of its own: nothing of the caller's tree.
    in.no_cgroup = true;
    plan = linux::plan_mounts(c, in);
    CHECK(plan.mounts[0].kind == linux::MountKind::Filesystem);
    CHECK(plan.mounts[0].fstype == "tmpfs");
    CHECK((plan.mounts[0].flags & MS_RDONLY) != 0);
}

TEST_CASE("the plan carries what stage-2 sets after the mounts: masks, read-only paths, names, sysctls", "[mount_plan]") {
    auto c = base_config();
    c.root.readonly = true;
    c.hostname = "h";
    c.domainname = "d";
    c.linux->masked_paths = {"/proc/kcore", "/sys/firmware"};
    c.linux->readonly_paths = {"/proc/sys"};
    c.linux->sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shm_rmid_forced", "0"}};
    auto plan = linux::plan_mounts(c, input());
    CHECK(plan.root_readonly);
    CHECK(plan.hostname == "h");
    CHECK(plan.domainname == "d");
    CHECK(plan.masked_paths == c.linux->masked_paths);
    CHECK(plan.readonly_paths == c.linux->readonly_paths);
    REQUIRE(plan.sysctl.size() == 2);
    for (const auto& s : plan.sysctl) {
        INFO(s.key);
        CHECK(s.value == c.linux->sysctl.at(s.key));
        CHECK(s.path == (s.key == "net.ipv4.ip_forward" ? "/proc/sys/net/ipv4/ip_forward"
                                                         : "/proc/sys/kernel/shm_rmid_forced"));
    }
    auto plain = linux::plan_mounts(base_config(), input());
    CHECK_FALSE(plain.root_readonly);
    CHECK(plain.masked_paths.empty());
    CHECK(plain.sysctl.empty());
}

TEST_CASE("mounts on /proc and beneath it, as runc guards them", "[mount_plan]") {
    CHECK(linux::proc_mount_problem("/proc", true).empty());
    CHECK(linux::proc_mount_problem("/proc", false) == "`/proc` cannot be mounted because it is not of type proc");
    CHECK(linux::proc_mount_problem("/proc/sys", false) == "`/proc/sys` cannot be mounted because it is inside /proc");
    CHECK_FALSE(linux::proc_mount_problem("/proc/self/attr/exec", true).empty());
    for (const char* lxcfs : {"/proc/cpuinfo", "/proc/meminfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"})
        CHECK(linux::proc_mount_problem(lxcfs, false).empty());
    CHECK(linux::proc_mount_problem("/procx", false).empty());
    CHECK(linux::proc_mount_problem("/srv/proc/sys", false).empty());
}
