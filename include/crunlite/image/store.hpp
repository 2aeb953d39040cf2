// The image store: images are configs + manifests that reference layers, each
// layer unpacked once into its own directory keyed by its chain id
// (image-spec config.md), shared by every image that has it.
//
//   <root>/lock                       flock: imports, removals and prunes take turns
//   <root>/layers/<chain>/diff/       the unpacked layer (an overlay lower dir)
//   <root>/layers/<chain>/layer.json  {"diff_id", "parent", "size"}
//   <root>/images/<id>/config.json    the image config blob (id = its sha256)
//   <root>/images/<id>/image.json     {"names", "layers": [chain ids], "source", "owners"}
//                                     owners: "image" (files owned as in the layers) or
//                                     "caller" (an unprivileged import without subordinate ids)
//   <root>/names/<sha256 of name>     the name index: a symlink to ../images/<id> per name of
//                                     every image, so that finding an image by name (run --image,
//                                     image inspect, rm) reads that image alone
//   <root>/names/complete             every name has its link (a store of an older crun-lite has
//                                     none: the first import, rm, prune or run --image indexes it)
//   <root>/images.tsv                 what `image ls` shows of every image (a line each: id, names,
//                                     layers, size, owners), so that it reads one file, not every
//                                     image.json and layer.json
//   <root>/tmp/                       work in progress; never read as a layer
//   <root>/containers/                the app's (app/container_dirs.hpp), which holds images
//                                     through the Holders interface below
//
// A layer directory appears (rename) only once it is complete and verified, so
// a crash mid-unpack leaves at most something in tmp/, which prune removes.
//
// The name index is written under the lock, each link before the image.json
// that gives the image the name and removed after the image left images/; a
// reader (without the lock) trusts a link only when the image it names has the
// name, and else reads every image, as it does to confirm a miss.  So a link is
// at worst stale or missing, never wrong: a locked operation that meets such a
// link rebuilds the index, as prune does.
//
// images.tsv is removed by each locked operation before it changes an image,
// and written anew from all the images when it is done (failed or not): a
// reader finds it current or finds none and reads every image.  Its stamp is
// the mtime of images/ when it was written; a store changed by a crun-lite that
// knows no images.tsv (an older one) has another, and is read image by image.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/image/layer.hpp"
#include "crunlite/image/manifest.hpp"
#include "crunlite/image/stream.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::image {

// The most layers an image may have: overlayfs stacks at most 500 lower dirs.
inline constexpr size_t kMaxLayers = 500;

// The image architecture of this build ("amd64", "arm64").
std::string host_arch();

// /var/lib/crun-lite as root; $XDG_DATA_HOME/crun-lite (default ~/.local/share) rootless.
std::string default_store_root(bool rootless);
// The store a command uses: `flag` (--store) made absolute (an image container's
// overlay names its layers by it), or the default.
std::string store_root(const std::string& flag, bool rootless);

struct StoredImage {
    std::string id;                  // "sha256:<hex>" of the config
    std::vector<std::string> names;  // "app:latest"
    std::vector<std::string> layers;  // chain ids, bottom first
    uint64_t size = 0;               // unpacked bytes of all layers
    std::string owners = "image";    // "image" or "caller" (see image.json above)
    std::string config_json;         // the config blob
};

// What holds images besides their names: the containers made of them
// (app/container_dirs.hpp).  The store calls it under its lock, so an image a holder
// pinned is seen in use by every later rm and prune.
class Holders {
public:
    virtual ~Holders() = default;
    // Image id -> one live holder of it: rm refuses those images, prune keeps them.
    virtual std::map<std::string, std::string> images_in_use() const = 0;
    // Records that `holder` uses the image `id`.
    virtual void pin(const std::string& holder, const std::string& id) const = 0;
    // Part of prune: removes what dead holders left.
    virtual void prune() const = 0;
};

class Store {
public:
    // `unpack`: how layers are written (owners, devices, xattr namespace); see
    // app/image_store.hpp (with_image_store) for how an unprivileged user gets real owners.
    // `holders` (may be null: nothing holds images) must outlive the store.
    Store(std::string root, const UnpackOptions& unpack, const Holders* holders = nullptr);

    // Imports from "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]", "docker-archive:FILE[:TAG]" or a
    // bare path whose format is sniffed.  `name` ("app:1.0") overrides the archive's own.
    // Returns the image; a second load of the same image unpacks nothing.
    // `progress`, if set, hears about each layer as it is read: bytes of the blob
    // read so far and its size (0 when unknown); `done` once it is stored (or was
    // already there, with `skipped`).
    struct Progress {
        std::function<void(const std::string& layer, uint64_t read, uint64_t size)> reading;
        std::function<void(const std::string& layer, uint64_t size, bool skipped)> done;
    };
    StoredImage load(const std::string& source, const std::string& name, const Progress& progress = {});

    // An image's parts, wherever they come from (load's layouts and archives,
    // image/pull.hpp's registry), committed with the same checks: each layer the
    // store lacks is opened, unpacked, its digest, size (when described) and
    // diff_id verified, then renamed into place; the image is recorded last.
    struct Parts {
        std::string config_json;                        // the config blob (the caller checked its digest)
        std::vector<std::optional<Descriptor>> layers;  // digest and size to check; none: diff_id only
        std::vector<std::string> layer_paths;           // names a layer without a descriptor in errors
        // The blob's bytes (a file or pipe to its end, or a range of a file); called
        // only for layers the store lacks.
        std::function<BlobInput(size_t index)> open_layer;
        // Optional: after a blob was read to its end (failed = false), before its
        // digests are checked, or after its reading failed (failed = true).  Throws
        // to refuse the layer, or to replace the failure with the source's own
        // error (a transfer's is the better one).
        std::function<void(size_t index, bool failed)> layer_end;
        // How many layers are read and unpacked at once (each on its own thread:
        // open_layer and layer_end must be safe to call so).  When one fails, the
        // others stop at their next read; `cancel`, if set, is called once then,
        // so that reads blocked in open_layer's descriptors end too.
        size_t jobs = 1;
        std::function<void()> cancel;
        std::vector<std::string> names;  // "app:1.0"
        std::string source;              // recorded in image.json
        std::string label;               // names the image in errors ("'app.tar'")
    };
    StoredImage import(const Parts& parts, const Progress& progress = {});

    // Every image, without its config_json (empty: inspect() gives it).
    std::vector<StoredImage> list() const;
    // By name ("app", "app:1.0"), id, or unique id prefix (at least 4 hex digits).
    StoredImage inspect(const std::string& ref) const;
    // Drops the image (all its names) and the layers no other image uses.
    void remove(const std::string& ref);
    // Removes images without names, layers no image uses, and leftovers in tmp/.
    void prune();

    std::string layer_dir(const std::string& chain_id) const;
    // The image `ref`, pinned to `holder` (Holders::pin) under the store lock, so
    // no rm or prune can take it between the lookup and the container's start.
    StoredImage pin(const std::string& ref, const std::string& holder);
    // From now on, each image this object loads or imports is pinned to `holder`
    // as pin() does, under the lock of the import itself.
    void pin_imports_to(std::string holder) { pin_holder_ = std::move(holder); }
    // The store's lock (<root>/lock, flocked exclusively), held until the fd closes:
    // for a holder's own changes that rm and prune must not see half done.
    sys::UniqueFd lock() const;
    const std::string& root() const { return root_; }

private:
    // import's steps: the layers the store lacks, unpacked into a directory of
    // tmp/ without the lock (stage_layers, store_layer), then under it moved into
    // layers/ with the image written (store_image, which collects the layer
    // directories it stores in `added`); a failure removes them.  A layer that was
    // stored at first and removed meanwhile is staged under the lock first.
    void stage_layers(const Parts& parts, const Progress& progress, const ImageConfig& config,
                      const std::vector<std::string>& chains, const std::vector<size_t>& missing,
                      const std::string& stage);
    void store_layer(const Parts& parts, size_t i, const ImageConfig& config, const std::vector<std::string>& chains,
                     const std::string& stage, const Progress& progress, const std::atomic<bool>& cancelled);
    StoredImage store_image(const Parts& parts, const ImageConfig& config, const std::vector<std::string>& chains,
                            const std::vector<size_t>& missing, const std::string& stage,
                            std::vector<std::string>& added);
    void clear_tmp() const;
    // The image <root>/images/<hex>, or nullopt when it is gone; `layer_sizes`
    // caches the sizes of layers read (chain id -> bytes); config_json is read
    // `with_config` only.
    std::optional<StoredImage> read_image(const std::string& hex, std::map<std::string, uint64_t>* layer_sizes = nullptr,
                                          bool with_config = true) const;
    // The name index (see above).  indexed: the image that has `name`, or
    // nullopt; throws (a private type) when the index cannot tell.
    bool index_complete() const;
    std::optional<StoredImage> indexed(const std::string& name) const;
    StoredImage resolve_indexed(const std::string& ref) const;
    // Under the lock: links `name` to image `id`; removes its link if it names `id`;
    // makes the index anew from the images; makes it when it is incomplete.
    void link_name(const std::string& name, const std::string& id) const;
    void unlink_name(const std::string& name, const std::string& id) const;
    void rebuild_index() const;
    void ensure_index() const;
    // inspect(ref) by reading every image.
    StoredImage scan(const std::string& ref) const;
    // Every image (without configs), read one by one.
    std::vector<StoredImage> scan_all() const;
    // Under the lock, around a change of images: removes images.tsv, then
    // writes it anew when the change ends.
    class SummaryRefresh;
    // Under the lock: inspect(ref), rebuilding an index that is incomplete, or
    // stale or lacking for `ref`.
    StoredImage find_locked(const std::string& ref) const;

    std::string root_;
    UnpackOptions unpack_;
    const Holders* holders_;
    std::string pin_holder_;
};

// "app" -> "app:latest"; keeps a given tag or digest.
std::string normalize_name(const std::string& name);

// The chain id of layers with these diff_ids (image-spec): chain(1) = diff(1),
// chain(n) = sha256(chain(n-1) + " " + diff(n)).
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

}  // namespace crunlite::image
