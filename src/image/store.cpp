// The image store proper: layers unpacked and verified into place, images
// committed, listed, inspected, pinned, removed and pruned.  Loading layouts and
// archives is archive.cpp's.
#include "crunlite/image/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/sha256.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/image/layer.hpp"
#include "crunlite/image/read_ahead.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite/sys/syscalls.hpp"
#include "store_internal.hpp"

namespace crunlite::image {
namespace detail {

std::string hex_of(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

void make_dir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) throw_errno("create " + quote(path));
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

TempDir::TempDir(const std::string& tmp_root) {
    std::string t = tmp_root + "/work-XXXXXX";
    if (!::mkdtemp(t.data())) throw_errno("create a work directory in " + quote(tmp_root));
    path_ = t;
}

TempDir::~TempDir() {
    if (!path_.empty()) sys::remove_tree(path_);  // best effort: the next load or prune empties tmp/
}

sys::UniqueFd open_dir(const std::string& path) {
    sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open " + quote(path));
    return fd;
}

void limit_stream(LayerStream& s, const LayerLimits& l) {
    s.limit(l.max_bytes + l.max_entries * 1024 + (uint64_t{1} << 20), l.max_ratio);
}


}  // namespace detail

using detail::exists;
using detail::hex_of;
using detail::limit_stream;
using detail::make_dir;
using detail::open_dir;
using detail::TempDir;
// Removals here are best effort, as nothing reads what they leave again: a leftover is prune's to take.
using sys::remove_tree;

namespace {

std::string write_json_image(const std::vector<std::string>& names, const std::vector<std::string>& layers,
                             const std::string& source, const std::string& owners) {
    json::Writer w(true);
    w.begin_object();
    w.key("names").string_array(names);
    w.key("layers").string_array(layers);
    w.key("source").string(source);
    w.key("owners").string(owners);
    w.end_object();
    return w.result() + "\n";
}

// The name index (see store.hpp): names/<sha256 hex of the name> is a symlink
// to ../images/<id hex>; names/complete says every name of every image has one.
constexpr const char* kIndexComplete = "complete";
constexpr const char* kImagesLink = "../images/";

// The link of `name` in the index below `root`.
std::string name_link(const std::string& root, const std::string& name) {
    return root + "/names/" + hex_of(sha256_digest(name));
}

// A link's target: nullopt when there is no link, "" when it cannot be read
// (or is longer than any link of ours).
std::optional<std::string> link_target(const std::string& link) {
    char buf[128];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n < 0 && errno == ENOENT) return std::nullopt;
    return n > 0 && static_cast<size_t>(n) < sizeof buf ? std::string(buf, static_cast<size_t>(n)) : "";
}

bool is_id_hex(const std::string& s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Thrown by an index lookup that cannot tell: the link is not one of ours, or
// names an image that is gone or no longer has the name.  The caller scans.
struct StaleIndex {};

bool has_name(const StoredImage& img, const std::string& name) {
    return std::find(img.names.begin(), img.names.end(), name) != img.names.end();
}

// 1. The exact name.  2. A short name under the registries buildah, podman
// and docker write into archives ("app:1" is "localhost/app:1" or
// "docker.io/library/app:1"); two different images that way are ambiguous.
// 3. An id or a unique id prefix.  An id ("sha256:<hex>", or 64 hex digits) is
// never looked up as a name; a name that is also an id prefix ("cafe") must
// not stand for another image than that id's.  `by_name`: the image that has a
// name; `by_id_prefix`: the images whose id hex starts so.
StoredImage resolve(const std::string& ref, const std::function<std::optional<StoredImage>(const std::string&)>& by_name,
                    const std::function<std::vector<StoredImage>(const std::string&)>& by_id_prefix) {
    bool id_form = ref.rfind("sha256:", 0) == 0;
    std::string hex = id_form ? ref.substr(7) : ref;
    std::vector<StoredImage> matches;
    auto add = [&](StoredImage img) {
        if (std::none_of(matches.begin(), matches.end(), [&](const StoredImage& m) { return m.id == img.id; }))
            matches.push_back(std::move(img));
    };
    if (!id_form && !is_id_hex(hex)) {
        std::string want = normalize_name(ref);
        if (auto img = by_name(want)) add(std::move(*img));
        else
            for (const char* prefix : {"localhost/", "docker.io/", "docker.io/library/"})
                if (auto img = by_name(prefix + want)) add(std::move(*img));
    }
    if (hex.size() >= 4 && hex.find_first_not_of("0123456789abcdef") == std::string::npos)
        for (auto& img : by_id_prefix(hex)) add(std::move(img));
    if (matches.size() == 1) return matches[0];
    if (matches.size() > 1) throw Error(EINVAL, "image " + quote(ref) + " is ambiguous");
    throw Error(ENOENT, "image " + quote(ref) + " is not in the store");
}

}  // namespace

std::string host_arch() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#else
    return "unknown";
#endif
}

std::string default_store_root(bool rootless) {
    if (!rootless) return "/var/lib/crun-lite";
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/crun-lite";
    const char* home = std::getenv("HOME");
    if (!home || !*home) throw Error(EINVAL, "neither XDG_DATA_HOME nor HOME is set: no place for the image store");
    return std::string(home) + "/.local/share/crun-lite";
}

std::string store_root(const std::string& flag, bool rootless) {
    return flag.empty() ? default_store_root(rootless) : absolute_path(flag);
}

std::string normalize_name(const std::string& name) {
    size_t slash = name.rfind('/');
    size_t colon = name.rfind(':');
    bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
    return has_tag || name.find('@') != std::string::npos ? name : name + ":latest";
}

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
    std::vector<std::string> out;
    for (const auto& d : diff_ids) out.push_back(out.empty() ? d : sha256_digest(out.back() + " " + d));
    return out;
}

Store::Store(std::string root, const UnpackOptions& unpack, const Holders* holders)
    : root_(std::move(root)), unpack_(unpack), holders_(holders) {
    std::string parent = root_.substr(0, root_.rfind('/'));
    if (!parent.empty() && !exists(parent)) {
        // Create missing parents (~/.local/share) as mkdir -p would.
        std::string acc;
        for (const auto& part : split(parent, '/'))
            if (!part.empty()) make_dir(acc += "/" + part, 0755);
    }
    make_dir(root_, 0700);
    for (const char* d : {"/layers", "/images", "/tmp", "/names"}) make_dir(root_ + d, 0700);
}

sys::UniqueFd Store::lock() const {
    sys::UniqueFd fd(::open((root_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) throw_errno("open " + quote(root_ + "/lock"));
    while (::flock(fd.get(), LOCK_EX) < 0) {
        if (errno != EINTR) throw_errno("lock the image store");
        sys::throw_if_interrupted();  // waiting for another import: Ctrl-C ends the wait
    }
    return fd;
}

std::string Store::layer_dir(const std::string& chain_id) const { return root_ + "/layers/" + hex_of(chain_id) + "/diff"; }

// Removes images.tsv now; writes it from every image when it goes.
class Store::SummaryRefresh {
public:
    explicit SummaryRefresh(const Store& store) : store_(store) { detail::drop_summary(store_.root_); }
    ~SummaryRefresh() {
        try {
            detail::write_summary(store_.root_, store_.scan_all());
        } catch (const std::exception& e) {  // a destructor: nothing may leave it
            log::debug(std::string("images.tsv not written (readers read every image): ") + e.what());
        }
    }
    SummaryRefresh(const SummaryRefresh&) = delete;
    SummaryRefresh& operator=(const SummaryRefresh&) = delete;

private:
    const Store& store_;
};

StoredImage Store::import(const Parts& parts, const Progress& progress) {
    sys::UniqueFd lock = this->lock();
    clear_tmp();
    return commit(parts, progress);
}

// Work left in tmp/ by an import or removal that was killed: under the lock
// nothing else is at work there.
void Store::clear_tmp() const {
    for (const auto& t : list_dir(root_ + "/tmp")) remove_tree(root_ + "/tmp/" + t);
}

StoredImage Store::commit(const Parts& parts, const Progress& progress) {
    ImageConfig config = parse_image_config(parts.config_json, parts.label + ": image config " + sha256_digest(parts.config_json));
    if (config.diff_ids.size() != parts.layers.size())
        throw Error(EINVAL, parts.label + ": the config lists " + std::to_string(config.diff_ids.size()) +
                                " layers, the manifest " + std::to_string(parts.layers.size()));
    std::vector<std::string> chains = chain_ids(config.diff_ids);
    std::vector<std::string> added;  // layers this import stored: a failed one removes them
    StoredImage img;
    SummaryRefresh refresh(*this);  // written again once a failure's layers are gone too
    try {
        img = store_image(parts, progress, config, chains, added);
    } catch (...) {
        for (const auto& dir : added) {
            try {
                remove_tree(dir);
            } catch (const Error& e) {
                log::debug("leaving " + dir + ": " + e.message());
            }
        }
        throw;
    }
    if (!pin_holder_.empty() && holders_) holders_->pin(pin_holder_, img.id);
    return img;
}

// Stores layer i (missing from the store) and returns its directory: read and
// unpacked into tmp/ in one pass, its digest, size and diff_id verified, then
// renamed into place.  `cancelled` ends the read early (another layer failed).
std::string Store::store_layer(const Parts& parts, size_t i, const ImageConfig& config,
                               const std::vector<std::string>& chains, const Progress& progress,
                               const std::atomic<bool>& cancelled) {
    std::string dest = root_ + "/layers/" + hex_of(chains[i]);
    const std::optional<Descriptor>& desc = parts.layers[i];
    std::string what = "layer " + (desc ? desc->digest : parts.layer_paths.at(i));
    uint64_t size = desc ? static_cast<uint64_t>(desc->size) : 0;
    TempDir tmp(root_ + "/tmp");
    make_dir(tmp.path() + "/diff", 0755);
    BlobInput blob = parts.open_layer(i);
    LayerStream stream(blob.fd.get(), what, blob.offset, blob.length);
    limit_stream(stream, unpack_.limits);
    sys::UniqueFd diff = open_dir(tmp.path() + "/diff");
    UnpackOptions o = unpack_;
    o.name = what;
    UnpackStats stats;
    try {
        // Decompressing and hashing run on a thread of their own, ahead of the
        // unpacking (as gzip beside tar).  A failure here stops the transfers
        // (parts.cancel) so that a read blocked on one returns.
        ReadAhead ahead([&](void* b, size_t n) {
            size_t got = stream.read(b, n);
            if (progress.reading) progress.reading(config.diff_ids[i], stream.compressed_size(), size);
            return got;
        }, parts.cancel);
        stats = unpack_layer(diff.get(), [&](void* b, size_t n) {
            if (cancelled) throw Error(ECANCELED, what + ": cancelled");
            sys::throw_if_interrupted();
            return ahead.read(b, n);
        }, o);
        stream.drain(kMaxTrailing, ahead.finish());
    } catch (const Error&) {
        if (parts.layer_end) parts.layer_end(i, true);
        throw;
    }
    if (parts.layer_end) parts.layer_end(i, false);
    if (const auto& d = desc) {
        check_digest(what, "digest", stream.compressed_digest(), d->digest);
        if (stream.compressed_size() != static_cast<uint64_t>(d->size))
            throw Error(EINVAL, what + ": size " + std::to_string(stream.compressed_size()) + ", want " +
                                    std::to_string(d->size));
    }
    check_digest(what, "diff_id", stream.diff_id(), config.diff_ids[i]);
    json::Writer w(true);
    w.begin_object().key("diff_id").string(config.diff_ids[i]);
    w.key("parent").string(i ? chains[i - 1] : "").key("size").uinteger(stats.bytes).end_object();
    write_file_atomic(tmp.path() + "/layer.json", w.result() + "\n", 0600);
    if (::rename(tmp.path().c_str(), dest.c_str()) < 0) throw_errno("store " + what);
    tmp.release();
    if (progress.done) progress.done(config.diff_ids[i], stream.compressed_size(), false);
    return dest;
}

StoredImage Store::store_image(const Parts& parts, const Progress& unlocked, const ImageConfig& config,
                                 const std::vector<std::string>& chains, std::vector<std::string>& added) {
    // Progress is heard from every worker: one at a time.
    std::mutex mu;
    Progress progress;
    if (unlocked.reading)
        progress.reading = [&](const std::string& l, uint64_t r, uint64_t s) {
            std::lock_guard g(mu);
            unlocked.reading(l, r, s);
        };
    if (unlocked.done)
        progress.done = [&](const std::string& l, uint64_t s, bool skipped) {
            std::lock_guard g(mu);
            unlocked.done(l, s, skipped);
        };
    std::vector<size_t> missing;
    for (size_t i = 0; i < chains.size(); ++i) {
        if (!exists(root_ + "/layers/" + hex_of(chains[i]))) missing.push_back(i);
        else if (progress.done)  // shared with an image we have
            progress.done(config.diff_ids[i], parts.layers[i] ? static_cast<uint64_t>(parts.layers[i]->size) : 0, true);
    }
    // Up to parts.jobs layers at once, each by its own worker; the first
    // failure cancels the others (parts.cancel ends their reads) and is thrown.
    std::atomic<size_t> next{0};
    std::atomic<bool> cancelled{false};
    std::exception_ptr failure;
    auto worker = [&] {
        for (size_t k; !cancelled && (k = next++) < missing.size();) {
            try {
                std::string dir = store_layer(parts, missing[k], config, chains, progress, cancelled);
                std::lock_guard g(mu);
                added.push_back(dir);
            } catch (...) {
                std::lock_guard g(mu);
                if (!failure) {
                    failure = std::current_exception();
                    cancelled = true;
                    if (parts.cancel) parts.cancel();
                }
            }
        }
    };
    std::vector<std::thread> threads;
    for (size_t t = 1; t < std::min(std::max<size_t>(parts.jobs, 1), missing.size()); ++t) {
        try {
            threads.emplace_back(worker);
        } catch (const std::system_error& e) {  // fewer workers, then
            log::debug("layer worker: " + std::string(e.what()));
            break;
        }
    }
    worker();
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);

    std::string id = sha256_digest(parts.config_json);
    std::string dir = root_ + "/images/" + hex_of(id);
    std::vector<std::string> names = parts.names;
    for (auto& n : names) n = normalize_name(n);
    ensure_index();
    // A name belongs to one image: take it from any other.  The new image and
    // its names' links come first, so that a reader (or a crash) between the
    // steps finds the name in the image its link names, or finds the link
    // stale and scans (see inspect).
    std::vector<std::pair<const StoredImage*, std::vector<std::string>>> losing;  // image, names it keeps
    std::vector<StoredImage> images = list();
    for (const auto& other : images) {
        if (other.id == id) {
            for (const auto& n : other.names)
                if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
            continue;
        }
        std::vector<std::string> kept;
        for (const auto& n : other.names)
            if (std::find(names.begin(), names.end(), n) == names.end()) kept.push_back(n);
        if (kept.size() != other.names.size()) losing.emplace_back(&other, std::move(kept));
    }
    make_dir(dir, 0700);
    write_file_atomic(dir + "/config.json", parts.config_json, 0600);
    for (const auto& n : names) link_name(n, id);
    write_file_atomic(dir + "/image.json",
                      write_json_image(names, chains, parts.source, unpack_.set_owners ? "image" : "caller"), 0600);
    for (const auto& [other, kept] : losing)
        write_file_atomic(root_ + "/images/" + hex_of(other->id) + "/image.json",
                          write_json_image(kept, other->layers, "", other->owners), 0600);
    return inspect(id);
}

std::optional<StoredImage> Store::read_image(const std::string& hex, std::map<std::string, uint64_t>* layer_sizes,
                                             bool with_config) const {
    std::string dir = root_ + "/images/" + hex;
    try {
        json::Document doc = json::parse(read_file(dir + "/image.json"), dir + "/image.json");
        StoredImage img;
        img.id = "sha256:" + hex;
        img.names = doc.root().get_string_array_or("names");
        img.layers = doc.root().get_string_array_or("layers");
        img.owners = doc.root().get_string_or("owners", "image");
        if (with_config) img.config_json = read_file(dir + "/config.json");
        for (const auto& c : img.layers) {
            if (layer_sizes)
                if (auto it = layer_sizes->find(c); it != layer_sizes->end()) {
                    img.size += it->second;
                    continue;
                }
            std::string info = root_ + "/layers/" + hex_of(c) + "/layer.json";
            uint64_t size = json::parse(read_file(info), info).root().get_uint64("size");
            if (layer_sizes) layer_sizes->emplace(c, size);
            img.size += size;
        }
        return img;
    } catch (const Error& e) {
        if (e.code() != ENOENT) throw;
        return std::nullopt;
    }
}

std::vector<StoredImage> Store::list() const {
    if (auto summary = detail::read_summary(root_)) return std::move(*summary);
    return scan_all();
}

std::vector<StoredImage> Store::scan_all() const {
    std::vector<StoredImage> out;
    // Without the lock (list, inspect and ls must not wait for an import):
    // files are replaced atomically, and an image or layer removed meanwhile
    // is left out (ENOENT) rather than failing the listing.  A layer shared by
    // many images is read once, and no config at all.
    std::map<std::string, uint64_t> layer_sizes;
    for (const auto& hex : list_dir(root_ + "/images"))
        if (auto img = read_image(hex, &layer_sizes, false)) out.push_back(std::move(*img));
    return out;
}

bool Store::index_complete() const { return exists(root_ + "/names/" + kIndexComplete); }

std::optional<StoredImage> Store::indexed(const std::string& name) const {
    std::optional<std::string> target = link_target(name_link(root_, name));
    if (!target) return std::nullopt;
    std::string hex = target->rfind(kImagesLink, 0) == 0 ? target->substr(std::strlen(kImagesLink)) : "";
    if (!is_id_hex(hex)) throw StaleIndex{};
    std::optional<StoredImage> img = read_image(hex);
    if (!img || !has_name(*img, name)) throw StaleIndex{};
    return img;
}

void Store::link_name(const std::string& name, const std::string& id) const {
    std::string link = name_link(root_, name);
    std::string tmp = link + ".new";
    ::unlink(tmp.c_str());
    if (::symlink((kImagesLink + hex_of(id)).c_str(), tmp.c_str()) < 0) throw_errno("create " + quote(tmp));
    if (::rename(tmp.c_str(), link.c_str()) < 0) throw_errno("index the name " + quote(name));
}

void Store::unlink_name(const std::string& name, const std::string& id) const {
    std::string link = name_link(root_, name);
    if (link_target(link) == kImagesLink + hex_of(id) && ::unlink(link.c_str()) < 0 && errno != ENOENT)
        throw_errno("remove " + quote(link));
}

void Store::rebuild_index() const {
    std::string dir = root_ + "/names/";
    // Incomplete first: a reader meanwhile scans.
    if (::unlink((dir + kIndexComplete).c_str()) < 0 && errno != ENOENT) throw_errno("remove " + quote(dir + kIndexComplete));
    for (const auto& f : list_dir(dir))
        if (::unlink((dir + f).c_str()) < 0 && errno != ENOENT) throw_errno("remove " + quote(dir + f));
    for (const auto& img : list())
        for (const auto& n : img.names) link_name(n, img.id);
    write_file_atomic(dir + kIndexComplete, "1\n", 0600);
}

void Store::ensure_index() const {
    if (!index_complete()) rebuild_index();
}

StoredImage Store::find_locked(const std::string& ref) const {
    ensure_index();
    try {
        return resolve_indexed(ref);
    } catch (const StaleIndex&) {
    } catch (const Error& e) {
        if (e.code() != ENOENT) throw;
    }
    // Stale, or a miss: a scan tells, and what it finds the index lacked.
    StoredImage img = scan(ref);
    log::debug("the name index of " + root_ + " lacked " + quote(ref) + ": rebuilt");
    rebuild_index();
    return img;
}

StoredImage Store::resolve_indexed(const std::string& ref) const {
    return resolve(ref, [&](const std::string& name) { return indexed(name); }, [&](const std::string& prefix) {
        std::vector<StoredImage> out;
        for (const auto& hex : list_dir(root_ + "/images"))
            if (hex.rfind(prefix, 0) == 0)
                if (auto img = read_image(hex)) out.push_back(std::move(*img));
        return out;
    });
}

StoredImage Store::inspect(const std::string& ref) const {
    // By the index, which reads only the images it finds.  Every image is read
    // instead without the index (a store of an older crun-lite, until its next
    // import, rm, prune or run indexes it), when it cannot tell, and to confirm
    // a miss (a name that an older crun-lite gave has no link).
    if (index_complete()) {
        try {
            return resolve_indexed(ref);
        } catch (const StaleIndex&) {
            log::debug("the name index of " + root_ + " is stale: scanning");
        } catch (const Error& e) {
            if (e.code() != ENOENT) throw;
        }
    }
    return scan(ref);
}

StoredImage Store::scan(const std::string& ref) const {
    std::vector<StoredImage> images = list();
    StoredImage img = resolve(ref, [&](const std::string& name) -> std::optional<StoredImage> {
        for (const auto& img : images)
            if (has_name(img, name)) return img;
        return std::nullopt;
    }, [&](const std::string& prefix) {
        std::vector<StoredImage> out;
        for (const auto& img : images)
            if (hex_of(img.id).rfind(prefix, 0) == 0) out.push_back(img);
        return out;
    });
    try {
        img.config_json = read_file(root_ + "/images/" + hex_of(img.id) + "/config.json");
    } catch (const Error& e) {
        if (e.code() == ENOENT) throw Error(ENOENT, "image " + quote(ref) + " is not in the store");  // removed meanwhile
        throw;
    }
    return img;
}

StoredImage Store::pin(const std::string& ref, const std::string& holder) {
    sys::UniqueFd lock = this->lock();
    StoredImage img = find_locked(ref);
    if (holders_) holders_->pin(holder, img.id);
    return img;
}

void Store::remove(const std::string& ref) {
    sys::UniqueFd lock = this->lock();
    StoredImage img = find_locked(ref);
    auto in_use = holders_ ? holders_->images_in_use() : std::map<std::string, std::string>{};
    if (auto it = in_use.find(img.id); it != in_use.end())
        throw Error(EBUSY, "image " + quote(ref) + " is in use by container " + it->second);
    // Out of images/ at once (a crash leaves it in tmp/, which the next
    // import or prune empties), then out of the index: a link left meanwhile
    // is stale, never wrong.
    SummaryRefresh refresh(*this);
    TempDir gone(root_ + "/tmp");
    if (::rename((root_ + "/images/" + hex_of(img.id)).c_str(), (gone.path() + "/image").c_str()) < 0)
        throw_errno("remove image " + quote(ref));
    for (const auto& n : img.names) unlink_name(n, img.id);
    std::set<std::string> used;
    for (const auto& other : list()) used.insert(other.layers.begin(), other.layers.end());
    for (const auto& c : img.layers)
        if (!used.count(c)) remove_tree(root_ + "/layers/" + hex_of(c));
}

void Store::prune() {
    sys::UniqueFd lock = this->lock();
    auto in_use = holders_ ? holders_->images_in_use() : std::map<std::string, std::string>{};
    SummaryRefresh refresh(*this);
    for (const auto& img : list())
        if (img.names.empty() && !in_use.count(img.id)) remove_tree(root_ + "/images/" + hex_of(img.id));
    std::set<std::string> used;
    for (const auto& img : list())
        for (const auto& c : img.layers) used.insert(hex_of(c));
    for (const auto& hex : list_dir(root_ + "/layers"))
        if (!used.count(hex)) remove_tree(root_ + "/layers/" + hex);
    clear_tmp();
    rebuild_index();  // whatever became of it
    if (holders_) holders_->prune();
}

}  // namespace crunlite::image
