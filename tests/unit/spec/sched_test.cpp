#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/spec/sched.hpp"

using namespace crunlite;

namespace {

spec::Scheduler sched(const std::string& policy) {
    spec::Scheduler s;
    s.policy = policy;
    return s;
}

}  // namespace

TEST_CASE("id lists: ranges, blanks, duplicates, canonical form", "[sched]") {
    using V = std::vector<unsigned>;
    CHECK(spec::parse_id_list("", 64).empty());
    CHECK(spec::parse_id_list("0-3,7", 64) == V{0, 1, 2, 3, 7});
    CHECK(spec::parse_id_list("7,0-3", 64) == V{0, 1, 2, 3, 7});
    CHECK(spec::parse_id_list(" 1 , 1,,2-2 ,", 64) == V{1, 2});  // as runc: blanks and empty elements
    CHECK(spec::parse_id_list("63", 64) == V{63});
    CHECK(spec::format_id_list({0, 1, 2, 3, 7}) == "0-3,7");
    CHECK(spec::format_id_list({0, 1}) == "0-1");  // as /proc/PID/status prints it
    CHECK(spec::format_id_list({5}) == "5");
    CHECK(spec::format_id_list({}) == "");
    CHECK_THROWS_WITH(spec::parse_id_list("64", 64), "`64`: 64 is above 63, the highest Linux supports");
    CHECK_THROWS_WITH(spec::parse_id_list("3-1", 64), "`3-1`: range `3-1` is reversed");
    CHECK_THROWS_WITH(spec::parse_id_list("0-x", 64), "`0-x`: `0-x` is not a number or a range");
    CHECK_THROWS_WITH(spec::parse_id_list("-1", 64), "`-1`: `-1` is not a number or a range");
    CHECK_THROWS_WITH(spec::parse_id_list("1-2-3", 64), "`1-2-3`: `1-2-3` is not a number or a range");
    CHECK_THROWS_WITH(spec::parse_id_list(" , ", 64), "` , `: the list names nothing");
    CHECK_THROWS_AS(spec::parse_id_list("99999999999999999999", 64), Error);
}

TEST_CASE("id masks are the kernel's bitmap layout", "[sched]") {
    using M = std::vector<unsigned long>;
    CHECK(spec::id_mask({}) == M{0});
    CHECK(spec::id_mask({0, 1, 2, 3, 7}) == M{0x8f});
    CHECK(spec::id_mask({0, 64, 65}) == M{1, 3});
    CHECK(spec::id_mask({130}).size() == 3);
    CHECK(spec::unknown_ids({0, 2, 5}, {0, 1, 2}) == std::vector<unsigned>{5});
    CHECK(spec::unknown_ids({0, 1}, {0, 1, 2}).empty());
}

TEST_CASE("scheduler: policies and flags to struct sched_attr", "[sched]") {
    auto s = sched("SCHED_FIFO");
    s.priority = 10;
    s.flags = {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_KEEP_PARAMS"};
    spec::SchedAttr want;
    want.size = spec::kSchedAttrSizeVer0;
    want.sched_policy = 1;
    want.sched_flags = 0x11;
    want.sched_priority = 10;
    CHECK(spec::sched_attr_for(s) == want);

    s = sched("SCHED_BATCH");
    s.nice = 5;
    auto a = spec::sched_attr_for(s);
    CHECK(a.sched_policy == 3);
    CHECK(a.sched_nice == 5);
    CHECK(a.sched_priority == 0);
    CHECK(spec::sched_attr_for(sched("SCHED_OTHER")).sched_policy == 0);
    s = sched("SCHED_RR");
    s.priority = 99;
    a = spec::sched_attr_for(s);
    CHECK((a.sched_policy == 2 && a.sched_priority == 99));
    CHECK(spec::sched_attr_for(sched("SCHED_IDLE")).sched_policy == 5);

    s = sched("SCHED_DEADLINE");
    s.runtime = 10000;
    s.deadline = 20000;
    s.period = 30000;
    s.flags = {"SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN"};
    a = spec::sched_attr_for(s);
    CHECK(a.sched_policy == 6);
    CHECK(a.sched_flags == 0x06);
    CHECK((a.sched_runtime == 10000 && a.sched_deadline == 20000 && a.sched_period == 30000));
    CHECK(a.size == spec::kSchedAttrSizeVer0);

    // Utilization clamps need the larger struct; -1 is "reset to the default".
    s = sched("SCHED_OTHER");
    s.flags = {"SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX", "SCHED_FLAG_KEEP_POLICY"};
    a = spec::sched_attr_for(s);
    CHECK(a.size == spec::kSchedAttrSizeVer1);
    CHECK(a.sched_flags == 0x68);
    CHECK(a.sched_util_min == UINT32_MAX);
    CHECK(a.sched_util_max == UINT32_MAX);
    CHECK(sizeof(spec::SchedAttr) == spec::kSchedAttrSizeVer1);
}

TEST_CASE("scheduler: every refusal names the field", "[sched]") {
    auto s = sched("");
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.policy: must be set");
    s = sched("SCHED_FAST");
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.policy: unknown policy `SCHED_FAST`");
    s = sched("SCHED_ISO");
    CHECK_THROWS_WITH(spec::sched_attr_for(s, "x.scheduler"),
                      "x.scheduler.policy: SCHED_ISO is not supported: mainline Linux does not implement it");
    s = sched("SCHED_OTHER");
    s.nice = 20;
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.nice: must be within -20..19, got 20");
    s.nice = -21;
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.nice: must be within -20..19, got -21");
    s = sched("SCHED_FIFO");
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.priority: must be within 1..99 with SCHED_FIFO, got 0");
    s = sched("SCHED_RR");
    s.priority = 100;
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.priority: must be within 1..99 with SCHED_RR, got 100");
    s = sched("SCHED_BATCH");
    s.priority = 3;
    CHECK_THROWS_WITH(spec::sched_attr_for(s),
                      "process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority, got 3 with SCHED_BATCH");
    s = sched("SCHED_OTHER");
    s.period = 5;
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.period: only SCHED_DEADLINE takes runtime, deadline and period");
    s = sched("SCHED_OTHER");
    s.flags = {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_FAST"};
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.flags[1]: unknown flag `SCHED_FLAG_FAST`");

    s = sched("SCHED_DEADLINE");
    s.runtime = 2000;
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.deadline: SCHED_DEADLINE needs a deadline > 0");
    s.deadline = 1000;
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.runtime: must not exceed the deadline (2000 > 1000)");
    s.runtime = 100;
    CHECK_THROWS_WITH(spec::sched_attr_for(s),
                      "process.scheduler.runtime: SCHED_DEADLINE needs a runtime of at least 1024 (ns), got 100");
    s.runtime = 1024;
    s.deadline = 5000;
    s.period = 4000;
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.deadline: must not exceed the period (5000 > 4000)");
    s.period = 0;  // period 0: the deadline
    CHECK_NOTHROW(spec::sched_attr_for(s));
    s.period = uint64_t(1) << 63;
    CHECK_THROWS_WITH(spec::sched_attr_for(s), "process.scheduler.period: must be below 2^63");
}

TEST_CASE("io priority: IOPRIO_PRIO_VALUE(class, level)", "[sched]") {
    CHECK(spec::ioprio_for({"IOPRIO_CLASS_RT", 0}) == (1u << 13));
    CHECK(spec::ioprio_for({"IOPRIO_CLASS_BE", 3}) == ((2u << 13) | 3));
    CHECK(spec::ioprio_for({"IOPRIO_CLASS_IDLE", 7}) == ((3u << 13) | 7));
    CHECK_THROWS_WITH(spec::ioprio_for({"IOPRIO_CLASS_NONE", 0}),
                      "process.ioPriority.class: unknown class `IOPRIO_CLASS_NONE`: want IOPRIO_CLASS_RT, "
                      "IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE");
    CHECK_THROWS_WITH(spec::ioprio_for({"IOPRIO_CLASS_BE", 8}), "process.ioPriority.priority: must be within 0..7, got 8");
    CHECK_THROWS_WITH(spec::ioprio_for({"IOPRIO_CLASS_BE", -1}), "process.ioPriority.priority: must be within 0..7, got -1");
}

TEST_CASE("exec CPU affinity lists", "[sched]") {
    CHECK(spec::cpu_list_for("0-1,3", "a") == std::vector<unsigned>{0, 1, 3});
    CHECK(spec::cpu_list_for("", "a").empty());
    CHECK(spec::cpu_list_for("8191", "a") == std::vector<unsigned>{8191});
    CHECK_THROWS_WITH(spec::cpu_list_for("8192", "process.execCPUAffinity.final"),
                      "process.execCPUAffinity.final: invalid CPU list `8192`: 8192 is above 8191, the highest Linux supports");
    CHECK_NOTHROW(spec::check_exec_cpu_affinity({"0", "0-1"}));
    CHECK_THROWS_WITH(spec::check_exec_cpu_affinity({"0", "1-0"}),
                      "process.execCPUAffinity.final: invalid CPU list `1-0`: range `1-0` is reversed");
    CHECK_THROWS_WITH(spec::check_exec_cpu_affinity({"a", ""}),
                      "process.execCPUAffinity.initial: invalid CPU list `a`: `a` is not a number or a range");
}

TEST_CASE("memory policy: mode | flags, node mask and maxnode", "[sched]") {
    auto a = spec::mempolicy_for({"MPOL_BIND", "0-1,3", {"MPOL_F_STATIC_NODES"}});
    CHECK(a.mode == (2 | (1 << 15)));
    CHECK(a.nodemask == std::vector<unsigned long>{0xb});
    CHECK(a.maxnode == 65);  // the kernel reads maxnode - 1 bits
    CHECK(a.nodes == std::vector<unsigned>{0, 1, 3});
    a = spec::mempolicy_for({"MPOL_DEFAULT", "", {}});
    CHECK(a == spec::MempolicyArgs{});  // NULL mask, maxnode 0
    a = spec::mempolicy_for({"MPOL_LOCAL", "", {}});
    CHECK((a.mode == 4 && a.nodemask.empty() && a.maxnode == 0));
    a = spec::mempolicy_for({"MPOL_PREFERRED", "", {}});  // no node: local allocation
    CHECK((a.mode == 1 && a.nodemask.empty()));
    CHECK(spec::mempolicy_for({"MPOL_INTERLEAVE", "0", {"MPOL_F_RELATIVE_NODES"}}).mode == (3 | (1 << 14)));
    CHECK(spec::mempolicy_for({"MPOL_PREFERRED_MANY", "0", {"MPOL_F_NUMA_BALANCING"}}).mode == (5 | (1 << 13)));
    CHECK(spec::mempolicy_for({"MPOL_WEIGHTED_INTERLEAVE", "0,1", {}}).mode == 6);
    CHECK(spec::mempolicy_for({"MPOL_BIND", "64", {}}).nodemask == std::vector<unsigned long>{0, 1});
    CHECK(spec::mempolicy_for({"MPOL_BIND", "64", {}}).maxnode == 129);
    CHECK(spec::memory_policy_modes().size() == 7);
    CHECK(spec::memory_policy_flags() ==
          std::vector<std::string>{"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"});
}

TEST_CASE("memory policy: every refusal names the field", "[sched]") {
    using spec::mempolicy_for;
    CHECK_THROWS_WITH(mempolicy_for({"", "", {}}), "linux.memoryPolicy.mode: must be set");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_FAST", "", {}}), "linux.memoryPolicy.mode: unknown mode `MPOL_FAST`");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_BIND", "", {}}), "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_INTERLEAVE", "", {}}),
                      "linux.memoryPolicy.nodes: MPOL_INTERLEAVE needs at least one node");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_WEIGHTED_INTERLEAVE", "", {}}),
                      "linux.memoryPolicy.nodes: MPOL_WEIGHTED_INTERLEAVE needs at least one node");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_PREFERRED_MANY", "", {}}),
                      "linux.memoryPolicy.nodes: MPOL_PREFERRED_MANY needs at least one node");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_DEFAULT", "0", {}}), "linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes, got `0`");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_LOCAL", "1", {}}), "linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes, got `1`");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_BIND", "0-", {}}),
                      "linux.memoryPolicy.nodes: invalid node list `0-`: `0-` is not a number or a range");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_BIND", "1024", {}}),
                      "linux.memoryPolicy.nodes: invalid node list `1024`: 1024 is above 1023, the highest Linux supports");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_BIND", "0", {"MPOL_F_STATIC_NODES", "MPOL_F_X"}}),
                      "linux.memoryPolicy.flags[1]: unknown flag `MPOL_F_X`");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_BIND", "0", {"MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"}}),
                      "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_PREFERRED", "", {"MPOL_F_RELATIVE_NODES"}}),
                      "linux.memoryPolicy.flags: MPOL_F_RELATIVE_NODES needs nodes");
    CHECK_THROWS_WITH(mempolicy_for({"MPOL_INTERLEAVE", "0", {"MPOL_F_NUMA_BALANCING"}}),
                      "linux.memoryPolicy.flags: MPOL_F_NUMA_BALANCING needs MPOL_BIND or MPOL_PREFERRED_MANY");
}

TEST_CASE("name tables", "[sched]") {
    CHECK(spec::sched_policy_value("SCHED_DEADLINE") == 6u);
    CHECK(spec::sched_policy_value("SCHED_ISO") == 4u);  // known, refused by sched_attr_for
    CHECK_FALSE(spec::sched_policy_value("sched_other"));
    CHECK(spec::sched_flag_value("SCHED_FLAG_UTIL_CLAMP_MAX") == 0x40u);
    CHECK(spec::ioprio_class_value("IOPRIO_CLASS_IDLE") == 3u);
    CHECK(spec::mempolicy_mode_value("MPOL_PREFERRED") == 1);
    CHECK(spec::mempolicy_flag_value("MPOL_F_STATIC_NODES") == (1 << 15));
    CHECK_FALSE(spec::mempolicy_flag_value("MPOL_F_NODE"));
}
