#include "crunlite/image/tar_index.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"

namespace crunlite::image {

std::optional<std::string> TarIndex::normal(const std::string& path) {
    std::string out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        std::string_view part(path.data() + start, end - start);
        if (part == "..") return std::nullopt;
        if (!part.empty() && part != ".") {
            if (!out.empty()) out += '/';
            out += part;
        }
        start = end + 1;
    }
    return out;
}

std::optional<TarIndex> TarIndex::open(int fd, const std::string& name, uint64_t max_entries) {
    struct stat st;
    if (::fstat(fd, &st) < 0) throw_errno(name);
    if (!S_ISREG(st.st_mode)) throw Error(EINVAL, name + ": not a regular file");
    unsigned char magic[4] = {};
    ssize_t got = ::pread(fd, magic, sizeof magic, 0);
    if (got < 0) throw_errno("read " + name);
    if (compression_of(magic, static_cast<size_t>(got)) != Compression::None) return std::nullopt;

    TarIndex index;
    index.fd_ = sys::UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!index.fd_) throw_errno("dup " + name);
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    if (!a) throw Error(ENOMEM, "archive_read_new");
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    auto invalid = [&] {
        const char* e = archive_error_string(a.get());
        return Error(EINVAL, name + ": not a valid tar archive: " + (e ? e : "unknown error"));
    };
    // Reads from the start through its own descriptor's offset; skips data with lseek.
    if (::lseek(index.fd_.get(), 0, SEEK_SET) < 0) throw_errno("seek " + name);
    if (archive_read_open_fd(a.get(), index.fd_.get(), 64 * 1024) != ARCHIVE_OK) throw invalid();
    archive_entry* e;
    int r;
    uint64_t count = 0;
    while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char* raw = archive_entry_pathname(e);
        std::string what = name + ": entry " + quote(raw ? raw : "");
        if (++count > max_entries)
            throw Error(EFBIG, name + ": more than " + std::to_string(max_entries) + " entries");
        std::optional<std::string> path = normal(raw ? raw : "");
        if (!path) throw Error(EINVAL, what + ": path leaves the archive");
        Entry entry;
        if (const char* target = archive_entry_hardlink(e)) {
            std::optional<std::string> t = normal(target);
            const Entry* to = t ? index.find(*t) : nullptr;
            if (!to || to->type != S_IFREG)
                throw Error(EINVAL, what + ": hard link target " + quote(target) + " is not a file before it");
            entry = *to;
        } else {
            entry.type = archive_entry_filetype(e);
            if (entry.type == S_IFLNK) {
                const char* target = archive_entry_symlink(e);
                entry.link = target ? target : "";
            }
            if (entry.type == S_IFREG) {
                if (archive_entry_sparse_count(e) > 0) throw Error(EINVAL, what + ": a sparse file");
                // What libarchive consumed so far: the headers, up to this entry's data.
                int64_t at = archive_filter_bytes(a.get(), 0);
                int64_t size = archive_entry_size(e);
                if (at < 0 || size < 0 || size > st.st_size - at)
                    throw Error(EINVAL, what + ": its data runs past the end of the archive");
                entry.offset = static_cast<off_t>(at);
                entry.size = static_cast<uint64_t>(size);
            }
        }
        index.entries_[*path] = entry;  // a later entry replaces an earlier one, as tar -x does
    }
    if (r != ARCHIVE_EOF) throw invalid();
    return index;
}

const TarIndex::Entry* TarIndex::find(const std::string& path) const {
    std::optional<std::string> p = normal(path);
    if (!p) return nullptr;
    auto it = entries_.find(*p);
    return it == entries_.end() ? nullptr : &it->second;
}

const TarIndex::Entry* TarIndex::follow(const std::string& path) const {
    constexpr int kMaxLinks = 40;            // as the kernel's MAXSYMLINKS
    constexpr size_t kMaxComponents = 4096;  // walked in all, links' targets included
    std::string cur;                         // the components resolved, joined by '/'
    std::vector<size_t> starts;              // where each of them starts in `cur`
    std::vector<std::string> todo = split(path, '/');  // still to walk, in reverse
    std::reverse(todo.begin(), todo.end());
    int links = 0;
    size_t walked = 0;
    auto out = [&] { return Error(EXDEV, quote(path) + " leads out of the archive"); };
    while (!todo.empty()) {
        if (++walked > kMaxComponents) throw Error(ELOOP, quote(path) + ": too many path components");
        std::string part = std::move(todo.back());
        todo.pop_back();
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (starts.empty()) throw out();
            cur.resize(starts.back() ? starts.back() - 1 : 0);
            starts.pop_back();
            continue;
        }
        starts.push_back(cur.empty() ? 0 : cur.size() + 1);
        (cur.empty() ? cur : cur += '/') += part;
        auto it = entries_.find(cur);
        if (it == entries_.end() || it->second.type != S_IFLNK) continue;
        if (++links > kMaxLinks) throw Error(ELOOP, quote(path) + ": too many symlinks");
        const std::string& target = it->second.link;
        if (target.empty() || target[0] == '/') throw out();
        cur.resize(starts.back() ? starts.back() - 1 : 0);  // the link's directory, then its target
        starts.pop_back();
        std::vector<std::string> parts = split(target, '/');
        todo.insert(todo.end(), parts.rbegin(), parts.rend());
    }
    auto it = entries_.find(cur);
    return it == entries_.end() ? nullptr : &it->second;
}

BlobInput TarIndex::input(const Entry& entry) const {
    BlobInput in{sys::UniqueFd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0)), entry.offset, entry.size};
    if (!in.fd) throw_errno("dup");
    return in;
}

}  // namespace crunlite::image
