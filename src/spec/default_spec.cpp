#include "crunlite/spec/default_spec.hpp"

#include <vector>

#include "crunlite/json/json.hpp"
#include "crunlite/spec/seccomp_profile.hpp"
#include "crunlite_build_config.h"

namespace crunlite::spec {
namespace {

void write_mount(json::Writer& w, const char* dest, const char* type, const char* source, const std::vector<std::string>& opts) {
    w.begin_object();
    w.key("destination").string(dest);
    w.key("type").string(type);
    w.key("source").string(source);
    w.key("options").string_array(opts);
    w.end_object();
}

void mappings(json::Writer& w, const std::vector<IdMapping>& maps) {
    w.begin_array();
    for (const auto& m : maps) {
        w.begin_object();
        w.key("containerID").integer(m.container_id);
        w.key("hostID").integer(m.host_id);
        w.key("size").integer(m.size);
        w.end_object();
    }
    w.end_array();
}

void write_process(json::Writer& w, const SpecOptions& o) {
    const std::vector<std::string> caps = o.capabilities ? *o.capabilities : default_capabilities();
    w.key("process").begin_object();
    w.key("terminal").boolean(o.terminal);
    w.key("user").begin_object().key("uid").integer(o.uid).key("gid").integer(o.gid);
    if (!o.additional_gids.empty()) {
        w.key("additionalGids").begin_array();
        for (uint32_t g : o.additional_gids) w.integer(g);
        w.end_array();
    }
    w.end_object();
    w.key("args").string_array(o.args);
    w.key("env").string_array(o.env);
    w.key("cwd").string(o.cwd);
    w.key("capabilities").begin_object();
    for (const char* set : {"bounding", "effective", "permitted"}) {
        w.key(set).string_array(o.bounding_only && set[0] != 'b' ? std::vector<std::string>{} : caps);
    }
    w.end_object();
    w.key("rlimits").begin_array();
    for (const auto& r : o.rlimits)
        w.begin_object().key("type").string(r.type).key("hard").uinteger(r.hard).key("soft").uinteger(r.soft).end_object();
    w.end_array();
    w.key("noNewPrivileges").boolean(true);
    w.end_object();
}

void write_mounts(json::Writer& w, const SpecOptions& o, bool netns) {
    // gid 5 (tty) for devpts only where the user namespace maps it.
    bool tty_gid = !o.rootless;
    for (const auto& m : o.gid_mappings)
        if (m.container_id <= 5 && 5 - m.container_id < m.size) tty_gid = true;
    w.key("mounts").begin_array();
    // A default mount gives way to an extra one at the same place (--tmpfs /dev/shm).
    auto mount = [&](const char* dest, const char* type, const char* source, const std::vector<std::string>& opts) {
        for (const auto& m : o.extra_mounts)
            if (m.destination == dest) return;
        write_mount(w, dest, type, source, opts);
    };
    mount("/proc", "proc", "proc", o.proc_options);
    mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"});
    std::vector<std::string> pts = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
    if (tty_gid) pts.push_back("gid=5");
    mount("/dev/pts", "devpts", "devpts", pts);
    mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=" + o.shm_size});
    mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"});
    if (o.rootless && !netns)  // sysfs needs a network namespace we own; bind the host's read-only
        mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"});
    else
        mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"});
    mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"});
    for (const auto& m : o.extra_mounts) write_mount(w, m.destination.c_str(), m.type.c_str(), m.source.c_str(), m.options);
    w.end_array();
}

// linux.resources: the device rules (root only: rootless has no device cgroup
// of its own) and the limits asked for; nothing when neither applies.
void write_resources(json::Writer& w, const SpecOptions& o) {
    if (o.rootless && !o.memory_limit && !o.pids_limit && !o.cpu_quota) return;
    w.key("resources").begin_object();
    if (!o.rootless) {
        w.key("devices").begin_array();
        w.begin_object().key("allow").boolean(false).key("access").string("rwm").end_object();
        if (o.allow_fuse_device)
            w.begin_object().key("allow").boolean(true).key("type").string("c").key("major").integer(10)
                .key("minor").integer(229).key("access").string("rwm").end_object();
        for (const auto& r : o.device_rules) {
            w.begin_object().key("allow").boolean(r.allow).key("type").string(r.type);
            if (r.major) w.key("major").integer(*r.major);
            if (r.minor) w.key("minor").integer(*r.minor);
            w.key("access").string(r.access).end_object();
        }
        w.end_array();
    }
    if (o.memory_limit) w.key("memory").begin_object().key("limit").integer(o.memory_limit).end_object();
    if (o.pids_limit) w.key("pids").begin_object().key("limit").integer(o.pids_limit).end_object();
    if (o.cpu_quota)
        w.key("cpu").begin_object().key("quota").integer(o.cpu_quota).key("period").integer(100000).end_object();
    w.end_object();
}

void write_linux(json::Writer& w, const SpecOptions& o, bool netns) {
    w.key("linux").begin_object();
    if (o.rootless) {
        w.key("uidMappings");
        mappings(w, o.uid_mappings.empty() ? std::vector<IdMapping>{{0, o.caller_uid, 1}} : o.uid_mappings);
        w.key("gidMappings");
        mappings(w, o.gid_mappings.empty() ? std::vector<IdMapping>{{0, o.caller_gid, 1}} : o.gid_mappings);
    }
    if (!o.cgroups_path.empty()) w.key("cgroupsPath").string(o.cgroups_path);
    write_resources(w, o);
    if (!o.devices.empty()) {
        w.key("devices").begin_array();
        for (const auto& d : o.devices) {
            w.begin_object().key("path").string(d.path).key("type").string(d.type);
            w.key("major").integer(d.major).key("minor").integer(d.minor);
            if (d.file_mode) w.key("fileMode").integer(*d.file_mode);
            if (d.uid) w.key("uid").integer(*d.uid);
            if (d.gid) w.key("gid").integer(*d.gid);
            w.end_object();
        }
        w.end_array();
    }
    if (!o.sysctl.empty()) {
        w.key("sysctl").begin_object();
        for (const auto& [k, v] : o.sysctl) w.key(k).string(v);
        w.end_object();
    }
    w.key("namespaces").begin_array();
    std::vector<std::string> ns = {"pid", "ipc", "uts", "mount", "cgroup"};
    if (netns) ns.insert(ns.begin() + 1, "network");
    if (o.rootless) ns.push_back("user");
    for (const auto& t : ns) w.begin_object().key("type").string(t).end_object();
    w.end_array();
    w.key("maskedPaths").string_array({"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                       "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                                       "/proc/scsi"});
    w.key("readonlyPaths").string_array({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"});
    if (o.seccomp) {
        w.key("seccomp");
        write_seccomp(w, *o.seccomp);
    }
    w.end_object();
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

std::string default_spec_json(const SpecOptions& o) {
    bool netns = o.network_namespace.value_or(!o.rootless);
    json::Writer w(true);
    w.begin_object();
    w.key("ociVersion").string(CRUNLITE_SPEC_VERSION);
    write_process(w, o);
    w.key("root").begin_object().key("path").string(o.root_path).key("readonly").boolean(o.root_readonly).end_object();
    w.key("hostname").string(o.hostname);
    write_mounts(w, o, netns);
    if (!o.annotations.empty()) {
        w.key("annotations").begin_object();
        for (const auto& [k, v] : o.annotations) w.key(k).string(v);
        w.end_object();
    }
    write_linux(w, o, netns);
    w.end_object();
    return w.result() + "\n";
}

}  // namespace crunlite::spec
