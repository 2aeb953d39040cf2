#include "crunlite/spec/idmap.hpp"

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::spec {

std::vector<SubIdRange> parse_subid_file(std::string_view content, const std::string& user_name, uint32_t uid) {
    std::vector<SubIdRange> out;
    std::string uid_text = std::to_string(uid);
    for (std::string_view line : split_view(content, '\n')) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (line.empty() || line[0] == '#') continue;
        auto fields = split_view(line, ':');
        if (fields.size() != 3) continue;
        if (fields[0] != user_name && fields[0] != uid_text) continue;
        auto start = parse_uint(fields[1]);
        auto count = parse_uint(fields[2]);
        if (!start || !count || *count == 0 || *start > UINT32_MAX || *count > UINT32_MAX || *start + *count > (1ULL << 32))
            continue;
        out.push_back({static_cast<uint32_t>(*start), static_cast<uint32_t>(*count)});
    }
    return out;
}

std::string passwd_user_name(std::string_view content, uint32_t uid) {
    std::string uid_text = std::to_string(uid);
    for (std::string_view line : split_view(content, '\n')) {
        auto fields = split_view(line, ':');
        if (fields.size() >= 3 && fields[2] == uid_text && !fields[0].empty()) return std::string(fields[0]);
    }
    return uid_text;
}

std::string passwd_home(std::string_view content, uint32_t uid) {
    std::string uid_text = std::to_string(uid);
    for (std::string_view line : split_view(content, '\n')) {
        auto fields = split_view(line, ':');
        if (fields.size() >= 6 && fields[2] == uid_text) return fields[5].empty() ? "/" : std::string(fields[5]);
    }
    return "/";
}

bool maps_only_id(const std::vector<IdMapping>& requested, uint32_t host_id) {
    return requested.size() == 1 && requested[0].size == 1 && requested[0].host_id == host_id;
}

IdMapPlan plan_id_mappings(const std::vector<IdMapping>& requested, uint32_t host_id,
                           const std::vector<SubIdRange>& ranges, bool privileged, const std::string& user_name,
                           const std::string& file) {
    IdMapPlan plan;
    if (privileged) return plan;
    if (maps_only_id(requested, host_id)) {
        plan.deny_setgroups = true;
        return plan;
    }
    for (size_t i = 0; i < requested.size(); ++i) {
        const IdMapping& m = requested[i];
        uint64_t first = m.host_id, last = uint64_t(m.host_id) + m.size - 1;
        // Each id in [first, last] must be host_id or inside one subordinate range;
        // walk the interval, jumping over whichever allowed piece covers `cur`.
        uint64_t cur = first;
        while (cur <= last) {
            bool advanced = false;
            if (cur == host_id) {
                ++cur;
                advanced = true;
            }
            for (const auto& r : ranges) {
                if (cur >= r.start && cur < uint64_t(r.start) + r.count) {
                    cur = uint64_t(r.start) + r.count;
                    advanced = true;
                }
            }
            if (!advanced)
                throw Error(EPERM, "[" + std::to_string(i) + "]: host IDs " + std::to_string(first) + "-" +
                                       std::to_string(last) + " are not in " + file + " ranges of user " +
                                       (user_name.empty() ? std::to_string(host_id) : user_name));
        }
    }
    plan.use_helper = true;
    return plan;
}

std::vector<IdMapping> default_rootless_mappings(uint32_t host_id, const std::vector<SubIdRange>& ranges) {
    std::vector<IdMapping> out = {{0, host_id, 1}};
    if (!ranges.empty()) out.push_back({1, ranges[0].start, ranges[0].count});
    return out;
}

}  // namespace crunlite::spec
