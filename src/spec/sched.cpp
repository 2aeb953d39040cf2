#include "crunlite/spec/sched.hpp"

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::spec {

namespace {


template <typename T>
struct Named {
    const char* name;
    T value;
};

// include/uapi/linux/sched.h
constexpr uint32_t kSchedIso = 4;
constexpr Named<uint32_t> kPolicies[] = {
    {"SCHED_OTHER", 0}, {"SCHED_FIFO", kSchedFifo}, {"SCHED_RR", kSchedRr},           {"SCHED_BATCH", 3},
    {"SCHED_ISO", kSchedIso}, {"SCHED_IDLE", 5},     {"SCHED_DEADLINE", kSchedDeadline},
};
constexpr uint64_t kSchedFlagUtilClampMin = 0x20, kSchedFlagUtilClampMax = 0x40;
constexpr Named<uint64_t> kSchedFlags[] = {
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},
    {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},
    {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},
    {"SCHED_FLAG_UTIL_CLAMP_MIN", kSchedFlagUtilClampMin},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", kSchedFlagUtilClampMax},
};
// kernel/sched: a deadline task's runtime is kept in units of 2^DL_SCALE ns.
constexpr uint64_t kMinDeadlineRuntime = 1u << 10;

// include/uapi/linux/ioprio.h
constexpr Named<uint32_t> kIoprioClasses[] = {
    {"IOPRIO_CLASS_RT", 1}, {"IOPRIO_CLASS_BE", 2}, {"IOPRIO_CLASS_IDLE", 3}};
constexpr uint32_t kIoprioClassShift = 13;

// include/uapi/linux/mempolicy.h (newer than Debian 12's headers: WEIGHTED_INTERLEAVE is 6.9)
constexpr int kMpolDefault = 0, kMpolPreferred = 1, kMpolBind = 2, kMpolInterleave = 3, kMpolLocal = 4,
              kMpolPreferredMany = 5, kMpolWeightedInterleave = 6;
constexpr Named<int> kMpolModes[] = {
    {"MPOL_DEFAULT", kMpolDefault},
    {"MPOL_BIND", kMpolBind},
    {"MPOL_INTERLEAVE", kMpolInterleave},
    {"MPOL_WEIGHTED_INTERLEAVE", kMpolWeightedInterleave},
    {"MPOL_PREFERRED", kMpolPreferred},
    {"MPOL_PREFERRED_MANY", kMpolPreferredMany},
    {"MPOL_LOCAL", kMpolLocal},
};
constexpr int kMpolFStaticNodes = 1 << 15, kMpolFRelativeNodes = 1 << 14, kMpolFNumaBalancing = 1 << 13;
constexpr Named<int> kMpolFlags[] = {
    {"MPOL_F_NUMA_BALANCING", kMpolFNumaBalancing},
    {"MPOL_F_RELATIVE_NODES", kMpolFRelativeNodes},
    {"MPOL_F_STATIC_NODES", kMpolFStaticNodes},
};

template <typename T, size_t N>
std::optional<T> lookup(const Named<T> (&table)[N], std::string_view name) {
    for (const auto& e : table)
        if (name == e.name) return e.value;
    return std::nullopt;
}

template <typename T, size_t N>
std::string name_of(const Named<T> (&table)[N], T value) {
    for (const auto& e : table)
        if (e.value == value) return e.name;
    return std::to_string(value);
}

[[noreturn]] void fail(const std::string& path, const std::string& msg) { throw Error(EINVAL, path + ": " + msg); }

constexpr size_t kBitsPerWord = 8 * sizeof(unsigned long);

}  // namespace

std::vector<unsigned> parse_id_list(std::string_view text, unsigned limit) {
    std::vector<unsigned> out;
    if (text.empty()) return out;
    auto number = [&](std::string_view s, std::string_view element) -> unsigned {
        auto v = parse_uint(s);
        if (!v) throw Error(EINVAL, quote(text) + ": " + quote(element) + " is not a number or a range");
        if (*v >= limit)
            throw Error(EINVAL, quote(text) + ": " + std::to_string(*v) + " is above " + std::to_string(limit - 1) +
                                    ", the highest Linux supports");
        return static_cast<unsigned>(*v);
    };
    for (const std::string& raw : split(text, ',')) {
        std::string element = trim(raw);
        if (element.empty()) continue;
        size_t dash = element.find('-');
        unsigned first = number(std::string_view(element).substr(0, dash), element);
        unsigned last = dash == std::string::npos ? first : number(std::string_view(element).substr(dash + 1), element);
        if (first > last) throw Error(EINVAL, quote(text) + ": range " + quote(element) + " is reversed");
        for (unsigned id = first; id <= last; ++id) out.push_back(id);
    }
    if (out.empty()) throw Error(EINVAL, quote(text) + ": the list names nothing");
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string format_id_list(const std::vector<unsigned>& ids) {
    std::string out;
    for (size_t i = 0; i < ids.size();) {
        size_t j = i;
        while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
        if (!out.empty()) out += ",";
        out += std::to_string(ids[i]);
        if (j > i) out += "-" + std::to_string(ids[j]);
        i = j + 1;
    }
    return out;
}

std::vector<unsigned long> id_mask(const std::vector<unsigned>& ids) {
    unsigned top = ids.empty() ? 0 : *std::max_element(ids.begin(), ids.end());
    std::vector<unsigned long> mask(top / kBitsPerWord + 1, 0);
    for (unsigned id : ids) mask[id / kBitsPerWord] |= 1UL << (id % kBitsPerWord);
    return mask;
}

std::vector<unsigned> unknown_ids(const std::vector<unsigned>& ids, const std::vector<unsigned>& known) {
    std::vector<unsigned> out;
    std::set_difference(ids.begin(), ids.end(), known.begin(), known.end(), std::back_inserter(out));
    return out;
}

std::optional<uint32_t> sched_policy_value(std::string_view name) { return lookup(kPolicies, name); }
std::optional<uint64_t> sched_flag_value(std::string_view name) { return lookup(kSchedFlags, name); }
std::optional<uint32_t> ioprio_class_value(std::string_view name) { return lookup(kIoprioClasses, name); }
std::optional<int> mempolicy_mode_value(std::string_view name) { return lookup(kMpolModes, name); }
std::optional<int> mempolicy_flag_value(std::string_view name) { return lookup(kMpolFlags, name); }

std::vector<std::string> memory_policy_modes() {
    std::vector<std::string> out;
    for (const auto& e : kMpolModes) out.push_back(e.name);
    return out;
}

std::vector<std::string> memory_policy_flags() {
    std::vector<std::string> out;
    for (const auto& e : kMpolFlags) out.push_back(e.name);
    return out;
}

SchedAttr sched_attr_for(const Scheduler& s, const std::string& at) {
    if (s.policy.empty()) fail(at + ".policy", "must be set");
    auto policy = sched_policy_value(s.policy);
    if (!policy) fail(at + ".policy", "unknown policy " + quote(s.policy));
    if (*policy == kSchedIso) fail(at + ".policy", "SCHED_ISO is not supported: mainline Linux does not implement it");
    if (s.nice < -20 || s.nice > 19) fail(at + ".nice", "must be within -20..19, got " + std::to_string(s.nice));
    bool realtime = *policy == kSchedFifo || *policy == kSchedRr;
    if (realtime && (s.priority < 1 || s.priority > 99))
        fail(at + ".priority", "must be within 1..99 with " + s.policy + ", got " + std::to_string(s.priority));
    if (!realtime && s.priority != 0)
        fail(at + ".priority", "only SCHED_FIFO and SCHED_RR take a priority, got " + std::to_string(s.priority) +
                                   " with " + s.policy);
    if (*policy != kSchedDeadline) {
        for (auto [name, value] : {std::pair{"runtime", s.runtime}, {"deadline", s.deadline}, {"period", s.period}})
            if (value != 0) fail(at + "." + name, "only SCHED_DEADLINE takes runtime, deadline and period");
    } else {
        constexpr uint64_t kTop = uint64_t(1) << 63;  // the kernel refuses deadline or period with bit 63
        if (s.deadline == 0) fail(at + ".deadline", "SCHED_DEADLINE needs a deadline > 0");
        if (s.deadline >= kTop) fail(at + ".deadline", "must be below 2^63");
        if (s.period >= kTop) fail(at + ".period", "must be below 2^63");
        if (s.runtime < kMinDeadlineRuntime)
            fail(at + ".runtime",
                 "SCHED_DEADLINE needs a runtime of at least 1024 (ns), got " + std::to_string(s.runtime));
        if (s.runtime > s.deadline)
            fail(at + ".runtime", "must not exceed the deadline (" + std::to_string(s.runtime) + " > " +
                                      std::to_string(s.deadline) + ")");
        if (s.period != 0 && s.deadline > s.period)
            fail(at + ".deadline", "must not exceed the period (" + std::to_string(s.deadline) + " > " +
                                       std::to_string(s.period) + ")");
    }
    SchedAttr attr;
    attr.size = kSchedAttrSizeVer0;
    attr.sched_policy = *policy;
    for (size_t i = 0; i < s.flags.size(); ++i) {
        auto flag = sched_flag_value(s.flags[i]);
        if (!flag) fail(at + ".flags[" + std::to_string(i) + "]", "unknown flag " + quote(s.flags[i]));
        attr.sched_flags |= *flag;
    }
    attr.sched_nice = s.nice;
    attr.sched_priority = static_cast<uint32_t>(s.priority);
    attr.sched_runtime = s.runtime;
    attr.sched_deadline = s.deadline;
    attr.sched_period = s.period;
    if (attr.sched_flags & (kSchedFlagUtilClampMin | kSchedFlagUtilClampMax)) {
        attr.size = kSchedAttrSizeVer1;
        attr.sched_util_min = UINT32_MAX;  // -1: reset to the default clamp
        attr.sched_util_max = UINT32_MAX;
    }
    return attr;
}

uint32_t ioprio_for(const IoPriority& io, const std::string& at) {
    auto cls = ioprio_class_value(io.io_class);
    if (!cls)
        fail(at + ".class", "unknown class " + quote(io.io_class) +
                                ": want IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE");
    if (io.priority < 0 || io.priority > 7)
        fail(at + ".priority", "must be within 0..7, got " + std::to_string(io.priority));
    return (*cls << kIoprioClassShift) | static_cast<uint32_t>(io.priority);
}

std::vector<unsigned> cpu_list_for(const std::string& list, const std::string& at) {
    try {
        return parse_id_list(list, kMaxCpus);
    } catch (const Error& e) {
        fail(at, "invalid CPU list " + e.message());
    }
}

void check_exec_cpu_affinity(const ExecCpuAffinity& a, const std::string& at) {
    cpu_list_for(a.initial, at + ".initial");
    cpu_list_for(a.final, at + ".final");
}

MempolicyArgs mempolicy_for(const MemoryPolicy& mp, const std::string& at) {
    if (mp.mode.empty()) fail(at + ".mode", "must be set");
    auto mode = mempolicy_mode_value(mp.mode);
    if (!mode) fail(at + ".mode", "unknown mode " + quote(mp.mode));
    int flags = 0;
    for (size_t i = 0; i < mp.flags.size(); ++i) {
        auto flag = mempolicy_flag_value(mp.flags[i]);
        if (!flag) fail(at + ".flags[" + std::to_string(i) + "]", "unknown flag " + quote(mp.flags[i]));
        flags |= *flag;
    }
    MempolicyArgs out;
    try {
        out.nodes = parse_id_list(mp.nodes, kMaxNodes);
    } catch (const Error& e) {
        fail(at + ".nodes", "invalid node list " + e.message());
    }
    switch (*mode) {
        case kMpolDefault:
        case kMpolLocal:
            if (!out.nodes.empty()) fail(at + ".nodes", mp.mode + " takes no nodes, got " + quote(mp.nodes));
            break;
        case kMpolBind:
        case kMpolInterleave:
        case kMpolWeightedInterleave:
        case kMpolPreferredMany:
            if (out.nodes.empty()) fail(at + ".nodes", mp.mode + " needs at least one node");
            break;
        default:  // MPOL_PREFERRED: no node means local allocation
            break;
    }
    if ((flags & kMpolFStaticNodes) && (flags & kMpolFRelativeNodes))
        fail(at + ".flags", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
    if ((flags & (kMpolFStaticNodes | kMpolFRelativeNodes)) && out.nodes.empty())
        fail(at + ".flags", name_of(kMpolFlags, flags & (kMpolFStaticNodes | kMpolFRelativeNodes)) + " needs nodes");
    if ((flags & kMpolFNumaBalancing) && *mode != kMpolBind && *mode != kMpolPreferredMany)
        fail(at + ".flags", "MPOL_F_NUMA_BALANCING needs MPOL_BIND or MPOL_PREFERRED_MANY");
    out.mode = *mode | flags;
    if (!out.nodes.empty()) {
        out.nodemask = id_mask(out.nodes);
        out.maxnode = out.nodemask.size() * kBitsPerWord + 1;
    }
    return out;
}

}  // namespace crunlite::spec
