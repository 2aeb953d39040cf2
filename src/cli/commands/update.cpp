// update and events: live resources of a running container.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "../command.hpp"
#include "crunlite/base/clock.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/cgroup/manager.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/state/events.hpp"
#include "crunlite/state/store.hpp"

namespace crunlite::cli {

namespace {

// What runc's update takes of a LinuxResources (update.go copies these into
// the container's cgroup config and nothing else): memory limit, reservation
// and swap; the CPU's shares, quota, period, realtime runtime and period, cpus
// and mems; blockIO.weight; pids.limit; unified.  The rest is ignored without
// a word (devices, hugepageLimits, network, rdma, memory.swappiness,
// disableOOMKiller, useHierarchy, checkBeforeUpdate, cpu.burst and idle,
// blockIO's leafWeight and per-device fields), but for kernel memory, of which
// runc warns.
spec::Resources runc_update_fields(const spec::Resources& given) {
    spec::Resources r;
    if (const auto& m = given.memory) {
        r.memory.emplace();
        r.memory->limit = m->limit;
        r.memory->reservation = m->reservation;
        r.memory->swap = m->swap;
        if (m->kernel.value_or(0) != 0 || m->kernel_tcp.value_or(0) != 0)
            log::warn("Kernel memory settings are ignored and will be removed");
    }
    if (const auto& c = given.cpu) {
        r.cpu.emplace();
        r.cpu->shares = c->shares;
        r.cpu->quota = c->quota;
        r.cpu->period = c->period;
        r.cpu->realtime_runtime = c->realtime_runtime;
        r.cpu->realtime_period = c->realtime_period;
        r.cpu->cpus = c->cpus;
        r.cpu->mems = c->mems;
    }
    if (given.block_io && given.block_io->weight) {
        r.block_io.emplace();
        r.block_io->weight = given.block_io->weight;
    }
    r.pids_limit = given.pids_limit;
    r.unified = given.unified;
    return r;
}

}  // namespace

int cmd_update(const Global& g, const std::vector<std::string>& args) {
    std::string resources_file, memory, reservation, swap, cpus, mems, kernel, kernel_tcp, l3_schema, mem_bw_schema;
    int64_t pids = 0, quota = 0, rt_runtime = 0;
    int64_t period = 0, shares = 0, rt_period = 0;  // unsigned; read signed, so that -1 is refused, not 2^64-1
    uint16_t blkio_weight = 0;
    po::options_description opts("Options");
    opts.add_options()
        ("resources,r", po::value(&resources_file), "a JSON LinuxResources file, or - for stdin (the other options are then ignored)")
        ("memory", po::value(&memory), "memory limit (bytes, or 64m, 1.5GiB, \"512 KiB\"...; -1: unlimited)")
        ("memory-reservation", po::value(&reservation), "memory soft limit")
        ("memory-swap", po::value(&swap), "memory plus swap limit; -1: unlimited")
        ("pids-limit", po::value(&pids), "maximum number of processes")
        ("cpu-period", po::value(&period), "CFS period in microseconds")
        ("cpu-quota", po::value(&quota), "CFS quota in microseconds per period")
        ("cpu-share", po::value(&shares), "CPU shares (relative weight)")
        ("cpu-rt-period", po::value(&rt_period), "realtime period in microseconds")
        ("cpu-rt-runtime", po::value(&rt_runtime), "realtime runtime in microseconds")
        ("cpuset-cpus", po::value(&cpus), "CPUs allowed (0-3, 0,1)")
        ("cpuset-mems", po::value(&mems), "memory nodes allowed")
        ("blkio-weight", po::value(&blkio_weight), "block IO weight (10-1000)")
        ("kernel-memory", po::value(&kernel), "obsolete, ignored (runc's)")
        ("kernel-memory-tcp", po::value(&kernel_tcp), "obsolete, ignored (runc's)")
        ("l3-cache-schema", po::value(&l3_schema), "Intel RDT/CAT: not supported")
        ("mem-bw-schema", po::value(&mem_bw_schema), "Intel RDT/MBA: not supported");
    std::string id;
    auto vm = parse_id_args("update", opts, args, id);
    // runc's words: without RDT on the host its schemas are "not enabled"; with it, crun-lite has none.
    bool resctrl = ::access("/sys/fs/resctrl/schemata", F_OK) == 0;
    if (!l3_schema.empty())
        throw Error(ENOTSUP, resctrl ? "update: --l3-cache-schema: Intel RDT is not supported by crun-lite"
                                     : "Intel RDT/CAT: l3 cache schema is not enabled");
    if (!mem_bw_schema.empty())
        throw Error(ENOTSUP, resctrl ? "update: --mem-bw-schema: Intel RDT is not supported by crun-lite"
                                     : "Intel RDT/MBA: memory bandwidth schema is not enabled");
    if (!kernel.empty() || !kernel_tcp.empty()) log::warn("Kernel memory settings are ignored and will be removed");

    spec::Resources r;
    if (!resources_file.empty()) {
        std::string text;
        if (resources_file == "-") {
            text.assign(std::istreambuf_iterator<char>(std::cin), {});
        } else {
            text = with_context("read --resources", [&] { return read_file(resources_file); });
        }
        r = runc_update_fields(spec::parse_resources(text, resources_file == "-" ? "stdin" : resources_file));
        // As runc: with a resources file the other options are ignored (said).
        for (const auto& [name, value] : vm)
            if (name != "resources" && name != "id" && !value.defaulted())
                log::warn("update: --" + name + " ignored: --resources gives the limits");
        runtime::update(g.context(), id, r);
        return 0;
    }
    auto memory_part = [&]() -> spec::Resources::Memory& {
        if (!r.memory) r.memory.emplace();
        return *r.memory;
    };
    auto cpu_part = [&]() -> spec::Resources::Cpu& {
        if (!r.cpu) r.cpu.emplace();
        return *r.cpu;
    };
    // As runc: an empty size is no change.
    if (!memory.empty()) memory_part().limit = parse_size("update: --memory", memory);
    if (!reservation.empty()) memory_part().reservation = parse_size("update: --memory-reservation", reservation);
    if (!swap.empty()) memory_part().swap = parse_size("update: --memory-swap", swap);
    auto unsigned_flag = [&](const char* name, int64_t v) {
        if (v < 0) throw Error(EINVAL, std::string("update: --") + name + ": want 0 or more, got " + std::to_string(v));
        return static_cast<uint64_t>(v);
    };
    if (vm.count("pids-limit")) r.pids_limit = pids;
    if (vm.count("cpu-period")) cpu_part().period = unsigned_flag("cpu-period", period);
    if (vm.count("cpu-quota")) cpu_part().quota = quota;
    if (vm.count("cpu-share")) cpu_part().shares = unsigned_flag("cpu-share", shares);
    if (vm.count("cpu-rt-period")) cpu_part().realtime_period = unsigned_flag("cpu-rt-period", rt_period);
    if (vm.count("cpu-rt-runtime")) cpu_part().realtime_runtime = rt_runtime;
    if (vm.count("cpuset-cpus")) cpu_part().cpus = cpus;
    if (vm.count("cpuset-mems")) cpu_part().mems = mems;
    if (vm.count("blkio-weight") && (blkio_weight < 10 || blkio_weight > 1000))
        throw Error(EINVAL, "update: --blkio-weight must be 10..1000");
    if (vm.count("blkio-weight")) {
        r.block_io.emplace();
        r.block_io->weight = blkio_weight;
    }
    runtime::update(g.context(), id, r);
    return 0;
}

namespace {

// Docker's `events --format json`: the lifecycle and health events of `ids`
// (all when empty), one JSON object per line, from `since` (default: now) on,
// followed until `until` (default: never).
int stream_events(const runtime::Context& ctx, const std::vector<std::string>& ids, const std::string& since,
                  const std::string& until) {
    int64_t from = since.empty() ? realtime_ns() : parse_time_flag(since, "events: --since");
    int64_t to = until.empty() ? 0 : parse_time_flag(until, "events: --until");
    uint64_t offset = 0;
    for (bool first = true;; first = false) {
        for (const auto& e : state::read_events(ctx.root, from, to, ids, offset, first))
            std::cout << state::event_json(e) << "\n";
        std::cout.flush();
        if (to > 0 && realtime_ns() >= to) return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

// runc's `events ID`: a stats object each `every` (the first after one), and
// {"type":"oom","id":ID} as soon as the kernel's OOM killer ends a process of
// the container (runc watches memory.oom_control or memory.events; the
// counter polled here is those files'), one per kill; until, as runc's, the
// container's memory cgroup goes (v1: at delete, a stopped one's cgroup still
// counted) or empties (v2: when it stops).
int follow_events(const runtime::Context& ctx, const std::string& id, std::chrono::nanoseconds every) {
    using Clock = std::chrono::steady_clock;
    constexpr auto kPoll = std::chrono::milliseconds(100);
    runtime::stats_json(ctx, id);  // its errors now: no such container, stopped, no cgroup
    state::Store store(ctx.root);
    state::State st = store.load(id);
    cgroup::Paths cg{st.cgroup_unified, st.cgroup_v1};
    uint64_t kills = cgroup::oom_kills(cg);
    json::Writer w(false);
    std::string oom = w.begin_object().key("type").string("oom").key("id").string(id).end_object().result();
    for (auto next = Clock::now() + every;;) {
        std::this_thread::sleep_until(std::min(next, Clock::now() + kPoll));
        for (uint64_t now = cgroup::oom_kills(cg); kills < now; ++kills) std::cout << oom << "\n";
        std::cout.flush();
        if (!store.exists(id) || (!cg.v1.count("memory") && store.status(st) == state::Status::Stopped)) return 0;
        if (Clock::now() < next) continue;
        // As Go's ticker: ticks missed (a stopped process) are dropped, not caught up.
        next += every;
        if (next <= Clock::now()) next = Clock::now() + every;
        try {
            std::cout << cgroup::stats_json(cg, id) << std::endl;
        } catch (const Error&) {
            return 0;  // its cgroup removed: deleted
        }
    }
}

}  // namespace

int cmd_events(const Global& g, const std::vector<std::string>& args) {
    bool stats = false;
    std::string interval = "5s", format, since, until;
    po::options_description opts("Options");
    opts.add_options()
        ("stats", po::bool_switch(&stats), "print one stats object and exit")
        ("interval", po::value(&interval), "time between stats objects (default 5s)")
        ("format", po::value(&format), "json: lifecycle and health events of the IDs (all without IDs), as Docker's")
        ("since", po::value(&since),
         "with --format json: events from this time (a timestamp, RFC 3339, or a duration before now: 10m)")
        ("until", po::value(&until), "with --format json: stop at this time");
    po::options_description hidden;
    std::vector<std::string> ids;
    hidden.add_options()("id", po::value(&ids));
    po::positional_options_description pos;
    pos.add("id", -1);
    parse_args("events", "events [--stats] [--interval D] ID | events --format json [--since T] [--until T] [ID...]",
               opts, hidden, pos, args);
    if (!format.empty()) {
        if (format != "json") throw Error(EINVAL, "events: --format " + quote(format) + ": only json is supported");
        return stream_events(g.context(), ids, since, until);
    }
    if (!since.empty() || !until.empty()) throw Error(EINVAL, "events: --since and --until need --format json");
    if (ids.size() != 1) throw arguments_error("events", "exactly 1");
    const std::string& id = ids[0];
    // A Go duration, as runc's flag: a number alone is not one (but 0).
    if (interval != "0" && parse_uint(interval))
        throw Error(EINVAL, "events: --interval: invalid duration " + quote(interval) +
                                ": missing unit (as runc: 5s, 500ms, 1m)");
    std::chrono::nanoseconds every(app::parse_duration(interval, "events: --interval"));
    if (every.count() <= 0) throw Error(EINVAL, "events: --interval must be positive");
    runtime::Context ctx = g.context();
    if (stats) {
        std::cout << runtime::stats_json(ctx, id) << std::endl;
        return 0;
    }
    return follow_events(ctx, id, every);
}

}  // namespace crunlite::cli
