#include "crunlite/spec/parse.hpp"

#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::spec {
namespace {

using json::Value;

template <typename T, typename F>
std::vector<T> parse_list(const Value& obj, const char* key, F&& parse_one) {
    std::vector<T> out;
    if (auto v = obj.find(key))
        for (const auto& e : v->elements()) out.push_back(parse_one(e));
    return out;
}

std::optional<uint32_t> opt_uint32(const Value& obj, const char* key) {
    if (auto v = obj.find(key)) return v->as_uint32();
    return std::nullopt;
}

std::optional<int64_t> opt_int64(const Value& obj, const char* key) {
    if (auto v = obj.find(key)) return v->as_int64();
    return std::nullopt;
}

std::optional<uint64_t> opt_uint64(const Value& obj, const char* key) {
    if (auto v = obj.find(key)) return v->as_uint64();
    return std::nullopt;
}

std::optional<uint16_t> opt_uint16(const Value& obj, const char* key) {
    if (auto v = obj.find(key)) return v->as_uint16();
    return std::nullopt;
}

std::optional<bool> opt_bool(const Value& obj, const char* key) {
    if (auto v = obj.find(key)) return v->as_bool();
    return std::nullopt;
}

IdMapping parse_idmapping(const Value& v) {
    IdMapping m;
    m.container_id = v.at("containerID").as_uint32();
    m.host_id = v.at("hostID").as_uint32();
    m.size = v.at("size").as_uint32();
    return m;
}

Capabilities parse_capabilities(const Value& v) {
    Capabilities c;
    c.bounding = v.get_string_array_or("bounding");
    c.effective = v.get_string_array_or("effective");
    c.inheritable = v.get_string_array_or("inheritable");
    c.permitted = v.get_string_array_or("permitted");
    c.ambient = v.get_string_array_or("ambient");
    return c;
}

// A uid or gid a process takes: runc's range, else (uint32_t)-1 would leave root's in place.
uint32_t process_id(const Value& v) {
    uint32_t id = v.as_uint32();
    if (id > kMaxProcessId) v.fail(kProcessIdRange);
    return id;
}

Process parse_process_value(const Value& v) {
    Process p;
    p.terminal = v.get_bool_or("terminal", false);
    if (auto cs = v.find("consoleSize")) p.console_size = ConsoleSize{cs->at("height").as_uint32(), cs->at("width").as_uint32()};
    if (auto u = v.find("user")) {
        p.user.uid = process_id(u->at("uid"));
        p.user.gid = process_id(u->at("gid"));
        p.user.umask = opt_uint32(*u, "umask");
        p.user.additional_gids = parse_list<uint32_t>(*u, "additionalGids", process_id);
    }
    p.args = v.get_string_array_or("args");
    p.env = v.get_string_array_or("env");
    p.cwd = v.get_string_or("cwd", "");
    if (auto c = v.find("capabilities")) p.capabilities = parse_capabilities(*c);
    p.rlimits = parse_list<Rlimit>(v, "rlimits", [](const Value& e) {
        return Rlimit{e.get_string("type"), e.at("soft").as_uint64(), e.at("hard").as_uint64()};
    });
    p.no_new_privileges = v.get_bool_or("noNewPrivileges", false);
    p.apparmor_profile = v.get_string_or("apparmorProfile", "");
    if (auto o = v.find("oomScoreAdj")) p.oom_score_adj = o->as_int32();
    p.selinux_label = v.get_string_or("selinuxLabel", "");
    // Windows-only fields: refused by name, never dropped.
    if (auto c = v.find("commandLine")) c->fail("not supported: a Windows field (use process.args)");
    if (auto u = v.find("user"); u && u->has("username") && !u->get_string("username").empty())
        u->at("username").fail("not supported: a Windows field (use uid/gid)");
    if (auto s = v.find("scheduler")) {
        Scheduler sc;
        sc.policy = s->get_string("policy");
        if (auto n = s->find("nice")) sc.nice = n->as_int32();
        if (auto n = s->find("priority")) sc.priority = n->as_int32();
        sc.flags = s->get_string_array_or("flags");
        if (auto n = s->find("runtime")) sc.runtime = n->as_uint64();
        if (auto n = s->find("deadline")) sc.deadline = n->as_uint64();
        if (auto n = s->find("period")) sc.period = n->as_uint64();
        p.scheduler = sc;
    }
    if (auto io = v.find("ioPriority")) p.io_priority = IoPriority{io->get_string("class"), io->get_int32("priority")};
    if (auto a = v.find("execCPUAffinity"))
        p.exec_cpu_affinity = ExecCpuAffinity{a->get_string_or("initial", ""), a->get_string_or("final", "")};
    return p;
}

Hook parse_hook(const Value& v) {
    Hook h;
    h.path = v.get_string("path");
    // runtime-spec: "path MUST be absolute" (runc would run a relative one from the bundle).
    if (h.path.empty() || h.path[0] != '/') v.at("path").fail("must be an absolute path, got " + quote(h.path));
    h.args = v.get_string_array_or("args");
    if (auto env = v.find("env"); env && !env->is_null()) h.env = v.get_string_array_or("env");
    if (auto t = v.find("timeout")) {
        int64_t secs = t->as_int64();
        if (secs <= 0) t->fail("must be > 0");
        h.timeout = static_cast<int>(secs);
    }
    return h;
}

Hooks parse_hooks_value(const Value& h) {
    Hooks out;
    out.prestart = parse_list<Hook>(h, "prestart", parse_hook);
    out.create_runtime = parse_list<Hook>(h, "createRuntime", parse_hook);
    out.create_container = parse_list<Hook>(h, "createContainer", parse_hook);
    out.start_container = parse_list<Hook>(h, "startContainer", parse_hook);
    out.poststart = parse_list<Hook>(h, "poststart", parse_hook);
    out.poststop = parse_list<Hook>(h, "poststop", parse_hook);
    return out;
}

Mount parse_mount(const Value& v) {
    Mount m;
    m.destination = v.get_string("destination");
    m.type = v.get_string_or("type", "");
    m.source = v.get_string_or("source", "");
    m.options = v.get_string_array_or("options");
    m.uid_mappings = parse_list<IdMapping>(v, "uidMappings", parse_idmapping);
    m.gid_mappings = parse_list<IdMapping>(v, "gidMappings", parse_idmapping);
    return m;
}

ThrottleDevice parse_throttle(const Value& v) {
    return ThrottleDevice{v.at("major").as_int64(), v.at("minor").as_int64(), v.at("rate").as_uint64()};
}

Resources parse_resources_value(const Value& v) {
    Resources r;
    r.devices = parse_list<DeviceCgroup>(v, "devices", [](const Value& e) {
        DeviceCgroup d;
        d.allow = e.at("allow").as_bool();
        d.type = e.get_string_or("type", "a");
        d.major = opt_int64(e, "major");
        d.minor = opt_int64(e, "minor");
        d.access = e.get_string_or("access", "");
        return d;
    });
    if (auto m = v.find("memory")) {
        Resources::Memory mem;
        mem.limit = opt_int64(*m, "limit");
        mem.reservation = opt_int64(*m, "reservation");
        mem.swap = opt_int64(*m, "swap");
        mem.kernel = opt_int64(*m, "kernel");
        mem.kernel_tcp = opt_int64(*m, "kernelTCP");
        mem.swappiness = opt_uint64(*m, "swappiness");
        mem.disable_oom_killer = opt_bool(*m, "disableOOMKiller");
        mem.use_hierarchy = opt_bool(*m, "useHierarchy");
        mem.check_before_update = opt_bool(*m, "checkBeforeUpdate");
        r.memory = mem;
    }
    if (auto c = v.find("cpu")) {
        Resources::Cpu cpu;
        cpu.shares = opt_uint64(*c, "shares");
        cpu.quota = opt_int64(*c, "quota");
        cpu.burst = opt_uint64(*c, "burst");
        cpu.period = opt_uint64(*c, "period");
        cpu.realtime_runtime = opt_int64(*c, "realtimeRuntime");
        cpu.realtime_period = opt_uint64(*c, "realtimePeriod");
        cpu.cpus = c->get_string_or("cpus", "");
        cpu.mems = c->get_string_or("mems", "");
        cpu.idle = opt_int64(*c, "idle");
        r.cpu = cpu;
    }
    // runtime-spec requires pids.limit; runc reads an absent one as 0 (unchanged, for update).
    if (auto p = v.find("pids")) r.pids_limit = opt_int64(*p, "limit");
    if (auto b = v.find("blockIO")) {
        Resources::BlockIO io;
        io.weight = opt_uint16(*b, "weight");
        io.leaf_weight = opt_uint16(*b, "leafWeight");
        io.weight_device = parse_list<WeightDevice>(*b, "weightDevice", [](const Value& e) {
            return WeightDevice{e.at("major").as_int64(), e.at("minor").as_int64(), opt_uint16(e, "weight"),
                                opt_uint16(e, "leafWeight")};
        });
        io.throttle_read_bps = parse_list<ThrottleDevice>(*b, "throttleReadBpsDevice", parse_throttle);
        io.throttle_write_bps = parse_list<ThrottleDevice>(*b, "throttleWriteBpsDevice", parse_throttle);
        io.throttle_read_iops = parse_list<ThrottleDevice>(*b, "throttleReadIOPSDevice", parse_throttle);
        io.throttle_write_iops = parse_list<ThrottleDevice>(*b, "throttleWriteIOPSDevice", parse_throttle);
        r.block_io = io;
    }
    r.hugepage_limits = parse_list<HugepageLimit>(v, "hugepageLimits", [](const Value& e) {
        return HugepageLimit{e.get_string("pageSize"), e.at("limit").as_uint64()};
    });
    if (auto n = v.find("network")) {
        Resources::Network net;
        net.class_id = opt_uint32(*n, "classID");
        net.priorities = parse_list<std::pair<std::string, uint32_t>>(*n, "priorities", [](const Value& e) {
            return std::make_pair(e.get_string("name"), e.at("priority").as_uint32());
        });
        r.network = net;
    }
    if (auto rd = v.find("rdma"))
        for (const auto& [device, limit] : rd->members())
            r.rdma[device] = Resources::RdmaLimit{opt_uint32(limit, "hcaHandles"), opt_uint32(limit, "hcaObjects")};
    r.unified = v.get_string_map_or("unified");
    return r;
}

Seccomp parse_seccomp(const Value& v) {
    Seccomp s;
    s.default_action = v.get_string("defaultAction");
    s.default_errno_ret = opt_uint32(v, "defaultErrnoRet");
    s.architectures = v.get_string_array_or("architectures");
    s.flags = v.get_string_array_or("flags");
    s.listener_path = v.get_string_or("listenerPath", "");
    s.listener_metadata = v.get_string_or("listenerMetadata", "");
    s.syscalls = parse_list<SeccompSyscall>(v, "syscalls", [](const Value& e) {
        SeccompSyscall sc;
        sc.names = e.at("names").as_string_array();
        sc.action = e.get_string("action");
        sc.errno_ret = opt_uint32(e, "errnoRet");
        sc.args = parse_list<SeccompArg>(e, "args", [](const Value& a) {
            SeccompArg arg;
            arg.index = a.at("index").as_uint32();
            arg.value = a.at("value").as_uint64();
            if (auto two = a.find("valueTwo")) arg.value_two = two->as_uint64();
            arg.op = a.get_string("op");
            return arg;
        });
        return sc;
    });
    return s;
}

Linux parse_linux(const Value& v) {
    Linux l;
    if (auto r = v.find("intelRdt"))
        r->fail("not supported: crun-lite does not implement Intel RDT (resctrl); remove the field");
    l.namespaces = parse_list<Namespace>(v, "namespaces", [](const Value& e) {
        return Namespace{e.get_string("type"), e.get_string_or("path", "")};
    });
    l.uid_mappings = parse_list<IdMapping>(v, "uidMappings", parse_idmapping);
    l.gid_mappings = parse_list<IdMapping>(v, "gidMappings", parse_idmapping);
    l.sysctl = v.get_string_map_or("sysctl");
    if (auto r = v.find("resources")) l.resources = parse_resources_value(*r);
    l.cgroups_path = v.get_string_or("cgroupsPath", "");
    l.rootfs_propagation = v.get_string_or("rootfsPropagation", "");
    l.masked_paths = v.get_string_array_or("maskedPaths");
    l.readonly_paths = v.get_string_array_or("readonlyPaths");
    l.devices = parse_list<Device>(v, "devices", [](const Value& e) {
        Device d;
        d.type = e.get_string("type");
        d.path = e.get_string("path");
        d.major = e.get_int64_or("major", 0);
        d.minor = e.get_int64_or("minor", 0);
        d.file_mode = opt_uint32(e, "fileMode");
        d.uid = opt_uint32(e, "uid");
        d.gid = opt_uint32(e, "gid");
        return d;
    });
    if (auto s = v.find("seccomp")) l.seccomp = parse_seccomp(*s);
    if (auto p = v.find("personality")) l.personality = Personality{p->get_string("domain"), p->get_string_array_or("flags")};
    if (auto t = v.find("timeOffsets")) {
        for (const auto& [clock, off] : t->members())
            l.time_offsets[clock] = TimeOffset{off.get_int64_or("secs", 0),
                                               off.find("nanosecs") ? off.at("nanosecs").as_uint32() : 0};
    }
    l.mount_label = v.get_string_or("mountLabel", "");
    if (auto m = v.find("memoryPolicy"))
        l.memory_policy = MemoryPolicy{m->get_string("mode"), m->get_string_or("nodes", ""), m->get_string_array_or("flags")};
    if (auto n = v.find("netDevices")) {
        for (const auto& [host_name, dev] : n->members()) {
            dev.require_object();  // {} and {"name": ...} only
            l.net_devices[host_name] = NetDevice{dev.get_string_or("name", "")};
        }
    }
    return l;
}

}  // namespace

Config parse_config(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    Value v = doc.root();
    if (!v.is_object()) v.fail("expected an object");
    Config c;
    c.oci_version = v.get_string("ociVersion");
    for (const char* platform : {"windows", "solaris", "vm", "zos"})
        if (auto p = v.find(platform)) p->fail("not supported: crun-lite runs Linux containers");
    if (auto p = v.find("process")) c.process = parse_process_value(*p);
    if (auto r = v.find("root")) {
        c.root.path = r->get_string("path");
        c.root.readonly = r->get_bool_or("readonly", false);
    }
    c.hostname = v.get_string_or("hostname", "");
    c.domainname = v.get_string_or("domainname", "");
    c.mounts = parse_list<Mount>(v, "mounts", parse_mount);
    if (auto h = v.find("hooks")) c.hooks = parse_hooks_value(*h);
    c.annotations = v.get_string_map_or("annotations");
    if (auto l = v.find("linux")) c.linux = parse_linux(*l);
    return c;
}

Process parse_process(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    return parse_process_value(doc.root());
}

Hooks parse_hooks(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    return parse_hooks_value(doc.root());
}

std::string hooks_json(const Hooks& hooks) {
    json::Writer w(false);
    w.begin_object();
    for (auto [name, list] : {std::pair{"prestart", &hooks.prestart}, {"createRuntime", &hooks.create_runtime},
                              {"createContainer", &hooks.create_container}, {"startContainer", &hooks.start_container},
                              {"poststart", &hooks.poststart}, {"poststop", &hooks.poststop}}) {
        if (list->empty()) continue;
        w.key(name).begin_array();
        for (const auto& h : *list) {
            w.begin_object().key("path").string(h.path).key("args").string_array(h.args);
            if (h.env) w.key("env").string_array(*h.env);
            if (h.timeout) w.key("timeout").integer(*h.timeout);
            w.end_object();
        }
        w.end_array();
    }
    return w.end_object().result();
}

Resources parse_resources(std::string_view text, const std::string& source) {
    json::Document doc = json::parse(text, source);
    return parse_resources_value(doc.root());
}

}  // namespace crunlite::spec
