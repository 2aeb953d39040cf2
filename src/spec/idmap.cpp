#include "crunlite/spec/idmap.hpp"

#include <optional>

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
        // A line cut short has no home: "/" (as runc reads it).
        if (fields.size() >= 3 && fields[2] == uid_text)
            return fields.size() < 6 || fields[5].empty() ? "/" : std::string(fields[5]);
    }
    return "/";
}

bool maps_only_id(const std::vector<IdMapping>& requested, uint32_t host_id) {
    return requested.size() == 1 && requested[0].size == 1 && requested[0].host_id == host_id;
}

namespace {

// The first of `requested` whose host ids are not all `own_id` or inside `ranges`.
std::optional<size_t> first_uncovered(const std::vector<IdMapping>& requested, std::optional<uint32_t> own_id,
                                      const std::vector<SubIdRange>& ranges) {
    for (size_t i = 0; i < requested.size(); ++i) {
        const IdMapping& m = requested[i];
        uint64_t last = uint64_t(m.host_id) + m.size - 1;
        // Walk the interval, jumping over whichever allowed piece covers `cur`.
        uint64_t cur = m.host_id;
        while (cur <= last) {
            bool advanced = false;
            if (own_id && cur == *own_id) {
                ++cur;
                advanced = true;
            }
            for (const auto& r : ranges) {
                if (cur >= r.start && cur < uint64_t(r.start) + r.count) {
                    cur = uint64_t(r.start) + r.count;
                    advanced = true;
                }
            }
            if (!advanced) return i;
        }
    }
    return std::nullopt;
}

std::string host_ids(const std::vector<IdMapping>& requested, size_t i) {
    const IdMapping& m = requested[i];
    return "[" + std::to_string(i) + "]: host IDs " + std::to_string(m.host_id) + "-" +
           std::to_string(uint64_t(m.host_id) + m.size - 1);
}

}  // namespace

IdMapPlan plan_id_mappings(const std::vector<IdMapping>& requested, uint32_t host_id,
                           const std::vector<SubIdRange>& ranges, bool privileged, const std::string& user_name,
                           const std::string& file) {
    IdMapPlan plan;
    if (privileged) return plan;
    if (maps_only_id(requested, host_id)) {
        plan.deny_setgroups = true;
        return plan;
    }
    // Each id must be host_id or inside one subordinate range.
    if (auto i = first_uncovered(requested, host_id, ranges))
        throw Error(EPERM, host_ids(requested, *i) + " are not in " + file + " ranges of user " +
                               (user_name.empty() ? std::to_string(host_id) : user_name));
    plan.use_helper = true;
    return plan;
}

void check_ids_mapped(const std::vector<IdMapping>& requested, const std::vector<SubIdRange>& own,
                      const std::string& file) {
    if (auto i = first_uncovered(requested, std::nullopt, own))
        throw Error(EPERM, host_ids(requested, *i) + " are not mapped in our user namespace (" + file + ")");
}

std::vector<SubIdRange> parse_id_map_inside(std::string_view content) {
    std::vector<SubIdRange> out;
    for (std::string_view line : split_view(content, '\n')) {
        std::vector<std::string_view> f;
        for (std::string_view x : split_view(line, ' '))
            if (!x.empty()) f.push_back(x);
        if (f.size() != 3) continue;
        auto inside = parse_uint(f[0]);
        auto count = parse_uint(f[2]);
        if (!inside || !parse_uint(f[1]) || !count || *count == 0 || *inside > UINT32_MAX ||
            *inside + *count > (1ULL << 32))
            continue;
        out.push_back({static_cast<uint32_t>(*inside), static_cast<uint32_t>(*count)});
    }
    return out;
}

std::vector<IdMapping> default_rootless_mappings(uint32_t host_id, const std::vector<SubIdRange>& ranges) {
    std::vector<IdMapping> out = {{0, host_id, 1}};
    if (!ranges.empty()) out.push_back({1, ranges[0].start, ranges[0].count});
    return out;
}

}  // namespace crunlite::spec
