// images.tsv, what `image ls` reads (store.hpp): its format, reader and writer.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "store_internal.hpp"

namespace crunlite::image::detail {
namespace {

// images.tsv: a first line "crun-lite images 1 STAMP", then a line per image:
// id, names, layers (both comma-separated), size and owners, tab-separated.
// Plain text, as `image ls` is on the hot path and a JSON tree of every image
// cost more than the reads it saves; the writer leaves out a store whose names
// hold a tab, comma or newline (none does: names are references).
constexpr const char* kSummary = "/images.tsv";
constexpr const char* kSummaryHeader = "crun-lite images 1 ";

// images/'s mtime, "sec.nsec": what the summary is stamped with.
std::string images_stamp(const std::string& root) {
    struct stat st;
    if (::stat((root + "/images").c_str(), &st) < 0) return "";
    return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

bool plain(const std::string& s) { return s.find_first_of("\t\n,") == std::string::npos && !s.empty(); }

}  // namespace

void drop_summary(const std::string& root) {
    std::string path = root + kSummary;
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_errno("remove " + quote(path));
}

void write_summary(const std::string& root, const std::vector<StoredImage>& images) {
    std::string text = kSummaryHeader + images_stamp(root) + "\n";
    for (const auto& img : images) {
        if (!plain(img.id) || !plain(img.owners) || !std::all_of(img.names.begin(), img.names.end(), plain) ||
            !std::all_of(img.layers.begin(), img.layers.end(), plain))
            return;  // no summary: readers read every image
        text += img.id + "\t" + join(img.names, ",") + "\t" + join(img.layers, ",") + "\t" +
                std::to_string(img.size) + "\t" + img.owners + "\n";
    }
    write_file_atomic(root + kSummary, text, 0600);
}

std::optional<std::vector<StoredImage>> read_summary(const std::string& root) {
    std::string path = root + kSummary, text;
    try {
        text = read_file(path);
    } catch (const Error& e) {
        if (e.code() != ENOENT) log::debug(path + " not used: " + e.message());
        return std::nullopt;
    }
    // The header, then whole lines only (a file cut short is not used).
    size_t nl = text.find('\n');
    if (nl == std::string::npos || text.compare(0, nl, kSummaryHeader + images_stamp(root)) != 0 || text.back() != '\n')
        return std::nullopt;
    std::vector<StoredImage> out;
    for (size_t start = nl + 1, line = 2; start < text.size(); start = nl + 1, ++line) {
        nl = text.find('\n', start);
        std::vector<std::string> f = split(std::string_view(text).substr(start, nl - start), '\t');
        std::optional<uint64_t> size = f.size() == 5 ? parse_uint(f[3]) : std::nullopt;
        if (!size || f[0].rfind("sha256:", 0) != 0) {
            log::debug(path + ": line " + std::to_string(line) + " is not an image's; not used");
            return std::nullopt;
        }
        StoredImage& img = out.emplace_back();
        img.id = std::move(f[0]);
        if (!f[1].empty()) img.names = split(f[1], ',');
        if (!f[2].empty()) img.layers = split(f[2], ',');
        img.size = *size;
        img.owners = std::move(f[4]);
    }
    return out;
}

}  // namespace crunlite::image::detail
