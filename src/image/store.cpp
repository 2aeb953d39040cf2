// The image store proper: layers unpacked and verified into place, images
// committed, listed, pinned, removed and pruned.  Names and lookup are
// names.cpp's; loading layouts and archives is archive.cpp's.
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
    for (;;) {
        std::string t = tmp_root + "/work-XXXXXX";
        if (!::mkdtemp(t.data())) throw_errno("create a work directory in " + quote(tmp_root));
        // Another import's clear_tmp may take it between mkdtemp and our lock:
        // then it is gone (or being removed: flock waits) and we make another.
        sys::UniqueFd fd(::open(t.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd && errno == ENOENT) continue;
        if (!fd) throw_errno("open " + quote(t));
        if (::flock(fd.get(), LOCK_EX) < 0) throw_errno("lock " + quote(t));
        struct stat held, now;
        if (::fstat(fd.get(), &held) < 0) throw_errno("stat " + quote(t));
        if (::lstat(t.c_str(), &now) < 0 || now.st_ino != held.st_ino || now.st_dev != held.st_dev) continue;
        path_ = t;
        lock_ = std::move(fd);
        return;
    }
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

// Work left in tmp/ by an import or removal that was killed: what no process
// holds (TempDir's flock).  Imports run side by side, each in its own.
void Store::clear_tmp() const {
    for (const auto& t : list_dir(root_ + "/tmp")) {
        std::string path = root_ + "/tmp/" + t;
        sys::UniqueFd held(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!held && errno != ENOENT && errno != ENOTDIR && errno != ELOOP) continue;  // unknown: left alone
        if (held && ::flock(held.get(), LOCK_EX | LOCK_NB) < 0) continue;               // at work
        remove_tree(path);  // still locked by us while it goes
    }
}

// The store's lock is held to find what is missing and to store the result,
// not while layers are read and unpacked (a pull's transfers): other imports,
// removals and runs go on meanwhile.
StoredImage Store::import(const Parts& parts, const Progress& progress) {
    ImageConfig config = parse_image_config(parts.config_json, parts.label + ": image config " + sha256_digest(parts.config_json));
    if (config.diff_ids.size() != parts.layers.size())
        throw Error(EINVAL, parts.label + ": the config lists " + std::to_string(config.diff_ids.size()) +
                                " layers, the manifest " + std::to_string(parts.layers.size()));
    if (parts.layers.size() > kMaxLayers)
        throw Error(EINVAL, parts.label + ": " + std::to_string(parts.layers.size()) + " layers, more than " +
                                std::to_string(kMaxLayers) + " (the most overlayfs stacks)");
    std::vector<std::string> chains = chain_ids(config.diff_ids);
    std::vector<size_t> missing;
    std::optional<TempDir> stage;  // the missing layers wait here until all are done
    {
        sys::UniqueFd lock = this->lock();
        clear_tmp();
        for (size_t i = 0; i < chains.size(); ++i)
            if (!exists(root_ + "/layers/" + hex_of(chains[i]))) missing.push_back(i);
        stage.emplace(root_ + "/tmp");
    }
    if (progress.done)  // the layers shared with an image we have
        for (size_t i = 0, k = 0; i < chains.size(); ++i) {
            if (k < missing.size() && missing[k] == i) ++k;
            else progress.done(config.diff_ids[i], parts.layers[i] ? static_cast<uint64_t>(parts.layers[i]->size) : 0,
                               true);
        }
    stage_layers(parts, progress, config, chains, missing, stage->path());

    sys::UniqueFd lock = this->lock();
    // A layer it found stored may be gone by now (an image rm or prune between
    // the two holds of the lock): staged now, under the lock, so that none can
    // go again.  None of these was read in the first pass.
    std::vector<size_t> gone;
    for (size_t i = 0, k = 0; i < chains.size(); ++i) {
        if (k < missing.size() && missing[k] == i) ++k;
        else if (!exists(root_ + "/layers/" + hex_of(chains[i]))) gone.push_back(i);
    }
    if (!gone.empty()) {
        log::debug(parts.label + ": " + std::to_string(gone.size()) + " layer(s) removed meanwhile: read again");
        stage_layers(parts, progress, config, chains, gone, stage->path());
        missing.insert(missing.end(), gone.begin(), gone.end());
        std::sort(missing.begin(), missing.end());
    }
    std::vector<std::string> added;  // layers this import stored: a failed one removes them
    StoredImage img;
    SummaryRefresh refresh(*this);  // written again once a failure's layers are gone too
    try {
        img = store_image(parts, config, chains, missing, stage->path(), added);
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

// Stages layer i (missing from the store) as <stage>/<hex>: read and unpacked
// into tmp/ in one pass, its digest, size and diff_id verified, then renamed
// there.  `cancelled` ends the read early (another layer failed).
void Store::store_layer(const Parts& parts, size_t i, const ImageConfig& config, const std::vector<std::string>& chains,
                        const std::string& stage, const Progress& progress, const std::atomic<bool>& cancelled) {
    std::string dest = stage + "/" + hex_of(chains[i]);
    const std::optional<Descriptor>& desc = parts.layers[i];
    std::string what = parts.label + ": layer " + (desc ? desc->digest : parts.layer_paths.at(i));
    uint64_t size = desc ? static_cast<uint64_t>(desc->size) : 0;
    TempDir tmp(stage);
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
}

// Unpacks the `missing` layers into `stage`: up to parts.jobs at once, each by
// its own worker; the first failure cancels the others (parts.cancel ends their
// reads) and is thrown.
void Store::stage_layers(const Parts& parts, const Progress& unlocked, const ImageConfig& config,
                         const std::vector<std::string>& chains, const std::vector<size_t>& missing,
                         const std::string& stage) {
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
    std::atomic<size_t> next{0};
    std::atomic<bool> cancelled{false};
    std::exception_ptr failure;
    auto worker = [&] {
        for (size_t k; !cancelled && (k = next++) < missing.size();) {
            try {
                store_layer(parts, missing[k], config, chains, stage, progress, cancelled);
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
}

// Under the lock: the staged layers into layers/ (one another import stored
// meanwhile is kept, ours dropped), then the image.
StoredImage Store::store_image(const Parts& parts, const ImageConfig& config, const std::vector<std::string>& chains,
                               const std::vector<size_t>& missing, const std::string& stage,
                               std::vector<std::string>& added) {
    for (size_t i = 0, k = 0; i < chains.size(); ++i) {
        std::string hex = hex_of(chains[i]), dest = root_ + "/layers/" + hex;
        bool staged = k < missing.size() && missing[k] == i;
        k += staged;
        if (exists(dest)) continue;
        if (!staged)
            throw Error(EAGAIN, parts.label + ": layer " + config.diff_ids[i] +
                                    " was removed (image rm or prune) while the import ran: import it again");
        if (::rename((stage + "/" + hex).c_str(), dest.c_str()) < 0) throw_errno("store layer " + config.diff_ids[i]);
        added.push_back(dest);
    }

    std::string id = sha256_digest(parts.config_json);
    std::string dir = root_ + "/images/" + hex_of(id);
    std::vector<std::string> names;  // normalized, each once (an archive may repeat one)
    for (const auto& n : parts.names)
        if (std::string norm = normalize_name(n); std::find(names.begin(), names.end(), norm) == names.end())
            names.push_back(std::move(norm));
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
