#include "crunlite/spec/default_spec.hpp"

#include <vector>

#include "crunlite/json/json.hpp"
#include "crunlite/spec/seccomp_profile.hpp"

namespace crunlite::spec {
namespace {

void mount(json::Writer& w, const char* dest, const char* type, const char* source, const std::vector<std::string>& opts) {
    w.begin_object();
    w.key("destination").string(dest);
    w.key("type").string(type);
    w.key("source").string(source);
    w.key("options").string_array(opts);
    w.end_object();
}

void mapping(json::Writer& w, uint32_t host) {
    w.begin_array().begin_object();
    w.key("containerID").integer(0);
    w.key("hostID").integer(host);
    w.key("size").integer(1);
    w.end_object().end_array();
}

}  // namespace

void write_seccomp(json::Writer& w, const Seccomp& sc) {
    w.begin_object();
    w.key("defaultAction").string(sc.default_action);
    if (sc.default_errno_ret) w.key("defaultErrnoRet").integer(*sc.default_errno_ret);
    if (!sc.architectures.empty()) w.key("architectures").string_array(sc.architectures);
    if (!sc.flags.empty()) w.key("flags").string_array(sc.flags);
    if (!sc.listener_path.empty()) w.key("listenerPath").string(sc.listener_path);
    if (!sc.listener_metadata.empty()) w.key("listenerMetadata").string(sc.listener_metadata);
    w.key("syscalls").begin_array();
    for (const auto& s : sc.syscalls) {
        w.begin_object();
        w.key("names").string_array(s.names);
        w.key("action").string(s.action);
        if (s.errno_ret) w.key("errnoRet").integer(*s.errno_ret);
        if (!s.args.empty()) {
            w.key("args").begin_array();
            for (const auto& a : s.args) {
                w.begin_object().key("index").integer(a.index).key("value").integer(a.value);
                if (a.value_two) w.key("valueTwo").integer(a.value_two);
                w.key("op").string(a.op).end_object();
            }
            w.end_array();
        }
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

std::string default_spec_json(bool rootless, uint32_t uid, uint32_t gid, const Seccomp* seccomp) {
    const std::vector<std::string> caps = default_capabilities();
    json::Writer w(true);
    w.begin_object();
    w.key("ociVersion").string("1.2.0");

    w.key("process").begin_object();
    w.key("terminal").boolean(true);
    w.key("user").begin_object().key("uid").integer(0).key("gid").integer(0).end_object();
    w.key("args").string_array({"sh"});
    w.key("env").string_array({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"});
    w.key("cwd").string("/");
    w.key("capabilities").begin_object();
    for (const char* set : {"bounding", "effective", "permitted"}) {
        w.key(set).string_array(caps);
    }
    w.end_object();
    w.key("rlimits").begin_array().begin_object();
    w.key("type").string("RLIMIT_NOFILE").key("hard").integer(1024).key("soft").integer(1024);
    w.end_object().end_array();
    w.key("noNewPrivileges").boolean(true);
    w.end_object();

    w.key("root").begin_object().key("path").string("rootfs").key("readonly").boolean(true).end_object();
    w.key("hostname").string("crun-lite");

    w.key("mounts").begin_array();
    mount(w, "/proc", "proc", "proc", {});
    mount(w, "/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"});
    if (rootless)  // gid 5 (tty) is not mapped in a single-id user namespace
        mount(w, "/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"});
    else
        mount(w, "/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
    mount(w, "/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"});
    mount(w, "/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"});
    if (rootless)  // sysfs needs a network namespace we own; bind the host's read-only
        mount(w, "/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"});
    else
        mount(w, "/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"});
    mount(w, "/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"});
    w.end_array();

    w.key("linux").begin_object();
    if (rootless) {
        w.key("uidMappings");
        mapping(w, uid);
        w.key("gidMappings");
        mapping(w, gid);
    } else {
        w.key("resources").begin_object().key("devices").begin_array();
        w.begin_object().key("allow").boolean(false).key("access").string("rwm").end_object();
        w.end_array().end_object();
    }
    w.key("namespaces").begin_array();
    std::vector<std::string> ns = {"pid", "ipc", "uts", "mount", "cgroup"};
    if (rootless) ns.push_back("user");
    else ns.insert(ns.begin() + 1, "network");
    for (const auto& t : ns) w.begin_object().key("type").string(t).end_object();
    w.end_array();
    w.key("maskedPaths").string_array({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                       "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                                       "/proc/scsi"});
    w.key("readonlyPaths").string_array({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"});
    if (seccomp) {
        w.key("seccomp");
        write_seccomp(w, *seccomp);
    }
    w.end_object();

    w.end_object();
    return w.result() + "\n";
}

}  // namespace crunlite::spec
