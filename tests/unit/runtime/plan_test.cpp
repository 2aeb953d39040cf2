// plan_container with hosts the tests describe: config errors come from the
// plan (before create makes or forks anything), and what it decides follows
// the caller's ids, ranges and environment, never the test machine's.
#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/cgroup/plan.hpp"
#include "crunlite/runtime/plan.hpp"
#include "crunlite/spec/parse.hpp"

using namespace crunlite;
using Catch::Contains;

namespace {

const char* kConfig = R"({
  "ociVersion": "1.2.0",
  "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
  "root": {"path": "rootfs"},
  "hostname": "h",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}],
            "maskedPaths": ["/proc/kcore"], "sysctl": {"kernel.hostname": "h2"}}
})";

spec::Config config(const char* text = kConfig) { return spec::parse_config(text, "/b/config.json"); }

runtime::ContainerPlan plan(const spec::Config& c, const runtime::HostFacts& host, bool rootless = false,
                            runtime::CreateOptions opts = {}) {
    opts.id = "c1";
    runtime::Context ctx{"/run/crun-lite", rootless, "disabled"};
    return runtime::plan_container(c, "/b", "/b/config.json", opts, ctx, host, false);
}

runtime::HostFacts user(bool ranges) {
    runtime::HostFacts h;
    h.euid = 1000;
    h.egid = 1000;
    h.user_name = "alice";
    if (ranges) {
        h.subid_ranges = runtime::SubIdRanges{{{100000, 65536}}, {{100000, 65536}}};
    }
    return h;
}

}  // namespace

TEST_CASE("plan: root on the host keeps the config's namespaces; the plan holds what stage-2 applies",
          "[plan]") {
    auto p = plan(config(), runtime::HostFacts{});
    CHECK_FALSE(p.userns.new_userns);
    CHECK(p.config.linux->find_namespace("user") == nullptr);
    CHECK(p.userns.setgroups_allowed == true);  // the initial user namespace's
    CHECK(p.mounts.rootfs == "/b/rootfs");
    CHECK(p.mounts.mknod);
    CHECK(p.mounts.hostname == "h");
    CHECK(p.mounts.masked_paths == std::vector<std::string>{"/proc/kcore"});
    REQUIRE(p.mounts.sysctl.size() == 1);
    CHECK(p.mounts.sysctl[0].path == "/proc/sys/kernel/hostname");
    CHECK(p.cgroups.paths.empty());  // --cgroup-manager disabled: no layout read
    CHECK(p.st.id == "c1");
    CHECK(p.st.owner == "root");
    CHECK(p.st.rootfs == "/b/rootfs");
    CHECK(p.st.pid_namespace);
    CHECK(p.preserve_fds == 0);
    CHECK(p.process.env == p.config.process->env);
}

TEST_CASE("plan: the cgroups go where the host's facts allow, whatever the test machine's are", "[plan]") {
    spec::Config c = config();
    c.linux->resources = spec::Resources{};
    c.linux->resources->memory = spec::Resources::Memory{};
    c.linux->resources->memory->limit = 64 << 20;
    std::vector<std::string> asked;
    bool writable = true;
    runtime::HostFacts host;
    host.cgroups = cgroup::HostCgroups{
        cgroup::parse_layout("31 25 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/user.slice\n"), {"memory"},
        [&](const std::string& dir) {
            asked.push_back(dir);
            return writable;
        },
        {}};
    auto p = plan(c, host);
    CHECK(asked == std::vector<std::string>{"/sys/fs/cgroup/user.slice/c1"});
    CHECK(p.cgroups.paths.unified == "/sys/fs/cgroup/user.slice/c1");
    CHECK(p.cgroups.writes == std::vector<cgroup::Write>{{"memory", true, "memory.max", "67108864"}});
    writable = false;  // no cgroup: root's limit is an error, nothing else is
    CHECK_THROWS_WITH(plan(c, host), Contains("memory.max: no memory cgroup here"));
    c.linux->resources.reset();
    CHECK(plan(c, host).cgroups.paths.empty());
}

TEST_CASE("plan: a rootless caller gets a user namespace from its own ids and ranges", "[plan]") {
    // uid 0 only: one mapping of the caller, written directly.
    auto p = plan(config(), user(false), true);
    CHECK(p.userns.new_userns);
    REQUIRE(p.config.linux->find_namespace("user"));
    CHECK(p.config.linux->uid_mappings == std::vector<spec::IdMapping>{{0, 1000, 1}});
    CHECK_FALSE(p.userns.uid_map.use_helper);
    CHECK(p.userns.setgroups_allowed == false);  // denied, to write the gid map ourselves
    CHECK(p.st.setgroups == false);               // and recorded for `exec`
    CHECK_FALSE(p.mounts.mknod);  // device nodes are bound, not made
    CHECK(p.st.owner == "alice");
    CHECK(p.st.rootless);

    // Another uid inside: the caller's /etc/subuid ranges, through newuidmap.
    auto c = config();
    c.process->user.uid = 1001;
    p = plan(c, user(true), true);
    CHECK(p.config.linux->uid_mappings.size() == 2);
    CHECK(p.userns.uid_map.use_helper);
    CHECK_FALSE(p.userns.setgroups_allowed);  // newgidmap's choice: the init asks
    // Root in someone else's user namespace: the init asks too.
    runtime::HostFacts nested;
    nested.initial_userns = false;
    CHECK_FALSE(plan(config(), nested).userns.setgroups_allowed);
    // ...which maps for its containers any ids it has itself, written directly
    // (podman --userns=keep-id), and names its own map for those it has not.
    nested.subid_ranges = runtime::SubIdRanges{{{0, 1}, {1, 65536}}, {{0, 1}, {1, 65536}}};
    auto keep_id = config(R"({"ociVersion": "1.2.0", "process": {"args": ["sh"], "cwd": "/"}, "root": {"path": "rootfs"},
                  "linux": {"namespaces": [{"type": "user"}, {"type": "mount"}],
                            "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1001}, {"containerID": 1001, "hostID": 0, "size": 1}],
                            "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1001}, {"containerID": 1001, "hostID": 0, "size": 1}]}})");
    p = plan(keep_id, nested, true);
    CHECK(p.userns.new_userns);
    CHECK_FALSE(p.userns.uid_map.use_helper);
    CHECK_FALSE(p.userns.gid_map.use_helper);
    CHECK_FALSE(p.userns.gid_map.deny_setgroups);
    keep_id.linux->gid_mappings[0].host_id = 70000;
    CHECK_THROWS_WITH(plan(keep_id, nested, true),
                      Contains("linux.gidMappings") && Contains("not mapped in our user namespace (/proc/self/gid_map)"));
    // Without ranges: refused, naming the user and the files.
    CHECK_THROWS_WITH(plan(c, user(false), true), Contains("alice") && Contains("/etc/subuid"));
}

TEST_CASE("plan: /etc/subuid and /etc/subgid are read only for mappings that need them", "[plan]") {
    int reads = 0;
    runtime::HostFacts host = user(false);
    host.read_subids = [&] {
        ++reads;
        return runtime::SubIdRanges{{{100000, 65536}}, {{100000, 65536}}};
    };
    // The caller's own ids alone, given or added: nothing to read.
    plan(config(), host, true);
    auto own = config(R"({"ociVersion": "1.2.0", "process": {"args": ["sh"], "cwd": "/"}, "root": {"path": "rootfs"},
                  "linux": {"namespaces": [{"type": "user"}, {"type": "mount"}],
                            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}})");
    plan(own, host, true);
    CHECK(reads == 0);
    // Another uid inside: read once, for both maps.
    auto c = config();
    c.process->user.uid = 1001;
    CHECK(plan(c, host, true).userns.uid_map.use_helper);
    CHECK(reads == 1);
}

TEST_CASE("plan: config errors surface from the plan, naming the entry", "[plan]") {
    auto c = config();
    c.mounts[0].destination.clear();
    CHECK_THROWS_WITH(plan(c, runtime::HostFacts{}),
                      Contains("/b/config.json: mounts[0].destination: must not be empty"));

    c = config();
    c.process.reset();
    CHECK_THROWS_WITH(plan(c, runtime::HostFacts{}), Contains("process: required"));

    c = config();
    c.process->terminal = true;  // detached, no console socket
    CHECK_THROWS_WITH(plan(c, runtime::HostFacts{}), Contains("cannot allocate tty"));

    c = config(R"({"ociVersion": "1.2.0", "process": {"args": ["sh"], "cwd": "/"}, "root": {"path": "rootfs"},
                  "linux": {"namespaces": [{"type": "user"}], "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}})");
    CHECK_THROWS_WITH(plan(c, user(false), true), Contains("needs a mount namespace"));

    c = config();
    c.linux->namespaces.push_back({"network", ""});
    c.linux->net_devices["eth9"] = {};
    CHECK_THROWS_WITH(plan(c, user(true), true), Contains("linux.netDevices: not supported rootless"));

    // Process setup is planned too: names the kernel takes as numbers are resolved here.
    c = config();
    c.process->capabilities.emplace();
    c.process->capabilities->effective = {"CAP_KILL", "CAP_FLY"};
    CHECK_THROWS_WITH(plan(c, runtime::HostFacts{}),
                      Contains("/b/config.json: process.capabilities.effective: unknown capability `CAP_FLY`"));

    c = config();
    c.linux->personality = spec::Personality{"LINUX64", {}};
    CHECK_THROWS_WITH(plan(c, runtime::HostFacts{}), Contains("/b/config.json: linux.personality.domain"));

    // A net.* sysctl in the caller's own network namespace joined by path: runc's refusal.
    c = config();
    c.linux->namespaces.push_back({"network", "/proc/42/ns/net"});
    c.linux->sysctl["net.ipv4.ping_group_range"] = "0 5";
    runtime::HostFacts host;
    host.is_own_netns = [](const std::string& path) { return path == "/proc/42/ns/net"; };
    CHECK_THROWS_WITH(plan(c, host), Contains("/b/config.json: linux.sysctl.net.ipv4.ping_group_range: sysctl "
                                              "\"net.ipv4.ping_group_range\" not allowed in host network namespace"));
    host.is_own_netns = [](const std::string&) { return false; };  // another container's
    CHECK_NOTHROW(plan(c, host));
}

TEST_CASE("plan: the init's process setup, with the kernel's capabilities and the session keyring", "[plan]") {
    auto c = config();
    c.process->capabilities.emplace();
    c.process->capabilities->bounding = {"CAP_CHOWN", "CAP_BPF"};  // 0 and 39
    c.linux->personality = spec::Personality{"LINUX32", {}};
    runtime::HostFacts old_kernel;
    old_kernel.cap_last_cap = 38;  // knows no CAP_BPF: left out, as runc does
    auto p = plan(c, old_kernel);
    CHECK(p.process.caps.bounding == std::vector<int>{0});
    CHECK(p.process.personality == 0x0008UL);  // PER_LINUX32
    CHECK(p.process.session_keyring == "_ses.c1");
    CHECK(p.process.args == std::vector<std::string>{"sh"});

    runtime::CreateOptions opts;
    opts.no_new_keyring = true;
    CHECK(plan(c, runtime::HostFacts{}, false, opts).process.session_keyring.empty());
    CHECK(plan(c, runtime::HostFacts{}).process.caps.bounding == std::vector<int>{0, 39});
}

TEST_CASE("plan: process.apparmorProfile is applied only where AppArmor is enabled", "[plan]") {
    auto c = config();
    c.process->apparmor_profile = "containers-default-0.50.1";
    runtime::HostFacts apparmor, none;
    apparmor.apparmor = true;
    none.apparmor = false;
    CHECK(plan(c, apparmor).process.apparmor_profile == "containers-default-0.50.1");
    CHECK(plan(c, none).process.apparmor_profile.empty());  // warned, as before
    CHECK(plan(config(), apparmor).process.apparmor_profile.empty());
    // Read from the host only when a profile asks.
    runtime::HostFacts lazy;
    int reads = 0;
    lazy.read_apparmor = [&] { return ++reads, true; };
    plan(config(), lazy);
    CHECK(reads == 0);
    CHECK(plan(c, lazy).process.apparmor_profile == "containers-default-0.50.1");
    CHECK(reads == 1);
}

TEST_CASE("plan: socket activation adds LISTEN_FDS after --preserve-fds", "[plan]") {
    runtime::HostFacts host;
    host.listen_fds = 2;
    runtime::CreateOptions opts;
    opts.preserve_fds = 1;
    auto p = plan(config(), host, false, opts);
    CHECK(p.preserve_fds == 3);
    std::vector<std::string> tail(p.process.env.end() - 2, p.process.env.end());
    CHECK(tail == std::vector<std::string>{"LISTEN_FDS=2", "LISTEN_PID=1"});
}

TEST_CASE("plan: an init's command index (image runs) is checked and kept", "[plan]") {
    auto c = config();
    c.process->args = {"/run/crun-lite-init", "--", "node", "index.js"};
    c.annotations["org.crun-lite.init.command"] = "2";
    CHECK(plan(c, runtime::HostFacts{}).process.init_command == 2);
    for (const char* bad : {"0", "4", "two", ""}) {
        c.annotations["org.crun-lite.init.command"] = bad;
        CHECK_THROWS_WITH(plan(c, runtime::HostFacts{}),
                          Contains("annotations.org.crun-lite.init.command: `" + std::string(bad) + "` is no index"));
    }
    c.annotations.clear();
    CHECK(plan(c, runtime::HostFacts{}).process.init_command == 0);
}
