// update and events: live resources of a running container.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "../command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/spec/parse.hpp"

namespace crunlite::cli {

int cmd_update(const Global& g, const std::vector<std::string>& args) {
    std::string resources_file, memory, reservation, swap, cpus, mems;
    int64_t pids = 0, quota = 0, rt_runtime = 0;
    uint64_t period = 0, shares = 0, rt_period = 0;
    uint16_t blkio_weight = 0;
    po::options_description opts("Options");
    opts.add_options()
        ("resources,r", po::value(&resources_file), "a JSON LinuxResources file, or - for stdin")
        ("memory", po::value(&memory), "memory limit (bytes, or with k/m/g)")
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
        ("blkio-weight", po::value(&blkio_weight), "block IO weight (10-1000)");
    std::string id;
    auto vm = parse_id_args("update", opts, args, id);

    spec::Resources r;
    if (!resources_file.empty()) {
        std::string text;
        if (resources_file == "-") {
            text.assign(std::istreambuf_iterator<char>(std::cin), {});
        } else {
            text = with_context("read --resources", [&] { return read_file(resources_file); });
        }
        r = spec::parse_resources(text, resources_file == "-" ? "stdin" : resources_file);
    }
    auto memory_part = [&]() -> spec::Resources::Memory& {
        if (!r.memory) r.memory.emplace();
        return *r.memory;
    };
    auto cpu_part = [&]() -> spec::Resources::Cpu& {
        if (!r.cpu) r.cpu.emplace();
        return *r.cpu;
    };
    if (vm.count("memory")) memory_part().limit = parse_size("update: --memory", memory);
    if (vm.count("memory-reservation")) memory_part().reservation = parse_size("update: --memory-reservation", reservation);
    if (vm.count("memory-swap")) memory_part().swap = parse_size("update: --memory-swap", swap);
    if (vm.count("pids-limit")) r.pids_limit = pids;
    if (vm.count("cpu-period")) cpu_part().period = period;
    if (vm.count("cpu-quota")) cpu_part().quota = quota;
    if (vm.count("cpu-share")) cpu_part().shares = shares;
    if (vm.count("cpu-rt-period")) cpu_part().realtime_period = rt_period;
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

int cmd_events(const Global& g, const std::vector<std::string>& args) {
    bool stats = false;
    std::string interval = "5s";
    po::options_description opts("Options");
    opts.add_options()
        ("stats", po::bool_switch(&stats), "print one stats object and exit")
        ("interval", po::value(&interval), "time between stats objects (default 5s)");
    std::string id;
    parse_id_args("events", opts, args, id);
    std::chrono::nanoseconds every(app::parse_duration(interval, "events: --interval"));
    if (every.count() <= 0) throw Error(EINVAL, "events: --interval must be positive");
    runtime::Context ctx = g.context();
    for (;;) {
        std::cout << runtime::stats_json(ctx, id) << std::endl;
        if (stats) return 0;
        std::this_thread::sleep_for(every);
        // Ends, like runc, when the container is gone or stopped.
        try {
            runtime::stats_json(ctx, id);
        } catch (const Error&) {
            return 0;
        }
    }
}

}  // namespace crunlite::cli
