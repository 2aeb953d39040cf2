// @containers.tsv (index.hpp): its lines, reader and appends.
#include "crunlite/state/index.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "crunlite/base/strings.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::state::index {
namespace {

constexpr std::string_view kHeader = "crun-lite containers 1 ";

bool plain(std::string_view s) { return s.find_first_of("\t\n") == std::string_view::npos; }

// The first `max` tab-separated fields of one line into `out` (reused from
// line to line), the rest of the line, if any, as the last.
void fields_of(std::string_view line, std::vector<std::string_view>& out, size_t max) {
    out.clear();
    for (size_t start = 0;;) {
        size_t tab = out.size() + 1 < max ? line.find('\t', start) : std::string_view::npos;
        out.push_back(line.substr(start, tab - start));
        if (tab == std::string_view::npos) return;
        start = tab + 1;
    }
}

}  // namespace

std::string header(size_t aux_dirs) { return std::string(kHeader) + std::to_string(aux_dirs) + "\n"; }

std::string look_line(const std::string& id) { return "?\t" + id + "\n"; }

std::string removed_line(const std::string& id) { return "-\t" + id + "\n"; }

std::string saved_line(const Listed& l) {
    bool ok = plain(l.bundle) && plain(l.rootfs) && plain(l.created) && plain(l.owner);
    for (const auto& [k, v] : l.annotations) ok = ok && plain(k) && plain(v);
    if (!ok) return look_line(std::string(l.id));
    std::string pid = std::to_string(l.pid), start_time = std::to_string(l.start_time), line = l.exited ? "x" : "+";
    for (std::string_view field : {l.id, std::string_view(pid), std::string_view(start_time), l.bundle, l.rootfs,
                                   l.created, l.owner})
        line.append("\t").append(field);
    for (const auto& [k, v] : l.annotations) line.append("\t").append(k).append("\t").append(v);
    return line + "\n";
}

std::optional<Parsed> parse(std::string_view text, bool all_fields) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos || text.substr(0, kHeader.size()) != kHeader || text.back() != '\n')
        return std::nullopt;
    Parsed out;
    std::optional<uint64_t> aux = parse_uint(text.substr(kHeader.size(), nl - kHeader.size()));
    if (!aux) return std::nullopt;
    out.aux_dirs = *aux;
    // Each change line with its ID, in file order; the last of an ID wins.
    struct Change {
        std::string_view id, line;
    };
    std::vector<Change> changes;
    for (size_t start = nl + 1; start < text.size(); start = nl + 1) {
        nl = text.find('\n', start);
        std::string_view line = text.substr(start, nl - start);
        if (line.size() < 3 || std::string_view("+x-?").find(line[0]) == std::string_view::npos || line[1] != '\t')
            return std::nullopt;
        std::string_view id = line.substr(2, line.find('\t', 2) - 2);
        if (!valid_id(id)) return std::nullopt;
        changes.push_back({id, line});
    }
    out.lines = changes.size();
    // A list writes the index sorted, one line an ID: then there is nothing to sort.
    auto by_id = [](const Change& a, const Change& b) { return a.id < b.id; };
    if (std::adjacent_find(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
            return a.id >= b.id;
        }) != changes.end())
        std::stable_sort(changes.begin(), changes.end(), by_id);
    size_t last = 0;
    for (size_t i = 0; i < changes.size(); ++i)
        if ((i + 1 == changes.size() || changes[i + 1].id != changes[i].id) && changes[i].line[0] != '-')
            changes[last++] = changes[i];
    changes.resize(last);
    // The lines that count, whole: the fields of a "+" or "x" line up to the owner,
    // then its annotations (KEY VALUE...), read only when asked for.
    out.live.reserve(changes.size());
    sys::populate(out.live.data(), changes.size() * sizeof(Listed));
    out.live.resize(changes.size());
    std::vector<std::string_view> f;
    for (size_t i = 0; i < changes.size(); ++i) {
        fields_of(changes[i].line, f, all_fields ? SIZE_MAX : 9);
        Listed& st = out.live[i];
        st.id = changes[i].id;  // views into `text`
        if (changes[i].line[0] == '?') {
            if (f.size() != 2) return std::nullopt;
            out.looks.push_back(i);
            continue;
        }
        std::optional<int64_t> pid = f.size() >= 8 ? parse_int(f[2]) : std::nullopt;
        std::optional<uint64_t> start_time = pid ? parse_uint(f[3]) : std::nullopt;
        if (!start_time || (all_fields && f.size() % 2)) return std::nullopt;
        st.pid = static_cast<pid_t>(*pid);
        st.start_time = *start_time;
        st.exited = changes[i].line[0] == 'x';
        st.bundle = f[4];
        st.created = f[6];
        st.owner = f[7];
        if (!all_fields) continue;
        st.rootfs = f[5];
        for (size_t k = 8; k < f.size(); k += 2) st.annotations.emplace(f[k], f[k + 1]);
    }
    return out;
}

sys::UniqueFd open_locked(const std::string& root, int flags, int lock) {
    std::string path = root + "/" + kFile;
    for (int attempt = 0; attempt < 100; ++attempt) {
        sys::UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0600));
        if (!fd) return fd;
        int rc;
        while ((rc = ::flock(fd.get(), lock)) < 0 && errno == EINTR) {
        }
        struct stat st;
        if (rc < 0 || ::fstat(fd.get(), &st) < 0) return {};
        if (st.st_nlink > 0) return fd;  // else replaced by a rebuild while we waited: open the new one
    }
    errno = EAGAIN;
    return {};
}

bool append(const std::string& root, const std::string& line) {
    sys::UniqueFd fd = open_locked(root, O_WRONLY | O_APPEND, LOCK_SH);
    if (!fd && errno == ENOENT) return false;  // the next list writes it from the directories
    if (fd && ::write(fd.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
        struct stat st;
        return ::fstat(fd.get(), &st) == 0 && st.st_size > kRewriteBytes;
    }
    ::unlink((root + "/" + kFile).c_str());
    return false;
}

}  // namespace crunlite::state::index
