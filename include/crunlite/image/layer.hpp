// Unpacking one image layer (an uncompressed tar stream) into its own directory,
// safely: a hostile layer must not write outside it.
//
// Every entry is created relative to the layer root, one path component at a
// time with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a parent that is a
// symlink, "..", or an absolute name is an error, never a way out.  Symlink
// targets are stored verbatim (they are resolved in the container's root later).
// Hard links must point at a non-directory of the same layer.  Metadata is set
// through fds (fchown, then fchmod so setuid bits survive, fsetxattr, futimens);
// directory times are set last.  Limits guard against tar bombs.
//
// Whiteouts become what overlayfs reads: ".wh.NAME" -> a 0/0 character device
// NAME; ".wh..wh..opq" -> the opaque xattr on its directory (trusted.overlay.*
// as root, user.overlay.* rootless, for `-o userxattr`).  As the OCI image-spec
// says, a whiteout hides only the layers below: an entry of its own layer stays
// (a directory then opaque), and a directory the layer makes after its whiteout
// is opaque.  A layer whose root is opaque hides every layer below it: the
// container's overlay leaves those out (app/image_run.cpp).  Xattrs of the image in
// those namespaces are escaped (trusted.overlay.X -> trusted.overlay.overlay.X)
// so a layer cannot forge overlay metadata.
//
// Reading uses libarchive's read API only (tar formats, no filters, never its
// disk writer); decompression and digests are the caller's (image/stream).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace crunlite::image {

struct LayerLimits {
    uint64_t max_entries = 1'000'000;
    uint64_t max_bytes = uint64_t{64} << 30;  // sum of file sizes
    size_t max_path = 4096;
    size_t max_xattr = 64 * 1024;             // one value
    // Decompressed size over compressed size, past the first 256 MiB (LayerStream::limit):
    // real layers stay far below (text ~5, sparse-free binaries ~3); a bomb of zeros is ~1000.
    uint64_t max_ratio = 200;
};

struct UnpackOptions {
    bool set_owners = true;    // chown entries: as root, or in a user namespace that maps the ids
    bool device_nodes = true;  // create char/block nodes (never in a user namespace: skipped, debug line)
    bool user_xattrs = false;  // overlay metadata as user.overlay.* (rootless overlay, -o userxattr)
    LayerLimits limits;
    std::string name;          // names the layer in errors ("layer sha256:ab12..."), if given
    const char* unit = "layer";  // what the tar is, in errors ("path leaves the layer")

    // The options for an unprivileged caller: no owners (they would all be the
    // caller's anyway), no devices, user xattrs.
    static UnpackOptions unprivileged() {
        UnpackOptions o;
        o.set_owners = o.device_nodes = false;
        o.user_xattrs = true;
        return o;
    }
};

struct UnpackStats {
    uint64_t entries = 0;
    uint64_t bytes = 0;
};

// Reads up to `len` bytes of the tar stream; returns 0 at its end.  Throws on errors.
using ReadFn = std::function<size_t(void* buf, size_t len)>;

// Unpacks the stream under the directory `root_fd`.  Throws Error naming the
// layer and the entry ("layer x: entry `../a`: path leaves the layer").  On
// error the caller removes the partial directory.
UnpackStats unpack_layer(int root_fd, const ReadFn& read, const UnpackOptions& options);

}  // namespace crunlite::image
