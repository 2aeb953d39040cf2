#include "crunlite/image/layer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::image {
namespace {

// The components of an entry name, cleaned as Go's filepath.Clean (Docker's and
// podman's): "./a//b/" -> {a, b}, "a/b/../c" -> {a, c}; refuses absolute names,
// a ".." above the root of the tar (`unit`: "layer") and overlong paths.
std::vector<std::string> components(const std::string& name, size_t max_path, const char* unit) {
    if (name.size() > max_path) throw Error(ENAMETOOLONG, "path longer than " + std::to_string(max_path));
    if (!name.empty() && name[0] == '/') throw Error(EINVAL, "absolute path");
    std::vector<std::string> out;
    for (auto& part : split(name, '/')) {
        if (part.empty() || part == ".") continue;
        if (part != "..") out.push_back(part);
        else if (out.empty()) throw Error(EINVAL, std::string("path leaves the ") + unit);
        else out.pop_back();
    }
    return out;
}

// A failure of the layer's reader (decompression, I/O): its message names the
// stream already, so it passes the entry's and the layer's context unchanged.
struct ReadFailure {
    Error error;
};

// The directory holding the entry: every parent component is a real directory
// of the layer (created if missing), never a symlink.
// Starts at `start` (the directory of parts[0..first)), so a caller that holds
// a parent's fd does not walk from the root again.
sys::UniqueFd parent_dir(int start, const std::vector<std::string>& parts, size_t first = 0) {
    sys::UniqueFd dir(::fcntl(start, F_DUPFD_CLOEXEC, 0));
    for (size_t i = first; i + 1 < parts.size(); ++i) {
        if (::mkdirat(dir.get(), parts[i].c_str(), 0755) < 0 && errno != EEXIST)
            throw_errno("create parent " + quote(parts[i]));
        sys::UniqueFd next(sys::open_beneath(dir.get(), parts[i], O_RDONLY | O_DIRECTORY));
        if (!next) {
            if (errno == ELOOP) throw Error(ELOOP, "a parent (" + quote(parts[i]) + ") is a symbolic link");
            if (errno == ENOTDIR) throw Error(ENOTDIR, "a parent (" + quote(parts[i]) + ") is not a directory");
            throw_errno("open parent " + quote(parts[i]));
        }
        dir = std::move(next);
    }
    return dir;
}

// Removes whatever `name` is in `dir` (a directory with its contents).
void remove_entry(int dir, const std::string& name) {
    if (sys::remove_tree_at(dir, name) < 0) throw_errno("replace " + quote(name));
}

// Image xattrs in overlayfs's namespaces are escaped so they stay plain data.
std::string escaped_xattr(const std::string& name) {
    for (const char* prefix : {"trusted.overlay.", "user.overlay."})
        if (name.rfind(prefix, 0) == 0) return prefix + std::string("overlay.") + name.substr(std::strlen(prefix));
    return name;
}

struct DirTimes {
    std::vector<std::string> parts;
    timespec times[2];
    std::optional<mode_t> mode;  // set last too: one that locks its owner out (0550) would refuse the children
};

class Unpacker {
public:
    // `read_error`: what the read callback caught, which libarchive cannot carry.
    Unpacker(int root, const UnpackOptions& o, const std::optional<Error>& read_error)
        : root_(root), o_(o), read_error_(read_error) {}

    void entry(archive* a, archive_entry* e, UnpackStats& stats) {
        std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
        // A name past any path limit is shown by its start.
        std::string shown = name.size() > 256 ? name.substr(0, 200) + "..." : name;
        with_context("entry " + quote(shown), [&] {
            // (uid_t)-1 would leave the owner as it is: root's, or the importer's.
            la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
            if (uid < 0 || gid < 0 || uid > 0xFFFFFFFE || gid > 0xFFFFFFFE)
                throw Error(EINVAL, "invalid owner " + std::to_string(uid) + ":" + std::to_string(gid) +
                                        " (ids are 0 to 4294967294)");
            unpack(a, e, name, stats);
        });
    }

    // Directory times last: creating children changed them.  A directory a later
    // entry replaced or whited out (dir "a/b", then file "a") is simply gone:
    // looked up without creating anything, and skipped.  The deepest first, so
    // a mode set here never locks out a directory still to do.
    void finish() {
        for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
            sys::UniqueFd d(it->parts.empty() ? ::fcntl(root_, F_DUPFD_CLOEXEC, 0)
                                              : sys::open_beneath(root_, join(it->parts, "/"), O_RDONLY | O_DIRECTORY));
            if (!d) continue;
            if (it->mode && ::fchmod(d.get(), *it->mode) < 0) throw_errno("chmod " + quote(join(it->parts, "/")));
            ::futimens(d.get(), it->times);
        }
    }

private:
    sys::UniqueFd open_existing(const std::vector<std::string>& parts, int flags) {
        sys::UniqueFd parent = parent_dir(root_, parts);
        return sys::UniqueFd(sys::open_beneath(parent.get(), parts.back(), flags));
    }

    // The entry's parent directory.  The last one is kept open: tar entries come
    // grouped by directory and deepen one level at a time, so walking from the
    // root for each (quadratic in depth: 2,000 levels took 27 s) is avoided by
    // starting from it when it is the parent or an ancestor of the parent.  It
    // cannot go stale: an entry only ever creates, removes or replaces a child of
    // its own parent (the kept directory from then on), never the parent itself.
    sys::UniqueFd entry_parent(const std::vector<std::string>& parts) {
        size_t n = parts.size() - 1;  // components of the parent
        size_t have = cached_.size();
        bool usable = cached_fd_ && have <= n && std::equal(cached_.begin(), cached_.end(), parts.begin());
        sys::UniqueFd dir = usable ? parent_dir(cached_fd_.get(), parts, have) : parent_dir(root_, parts);
        cached_.assign(parts.begin(), parts.begin() + static_cast<long>(n));
        cached_fd_ = sys::UniqueFd(::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0));
        return dir;
    }


    void unpack(archive* a, archive_entry* e, const std::string& name, UnpackStats& stats) {
        if (++stats.entries > o_.limits.max_entries)
            throw Error(EFBIG, "more than " + std::to_string(o_.limits.max_entries) + " entries");
        std::vector<std::string> parts = components(name, o_.limits.max_path, o_.unit);
        mode_t type = archive_entry_filetype(e);
        const char* hardlink = archive_entry_hardlink(e);
        if (parts.empty()) {
            // The layer root itself: only a directory may describe it.
            if (hardlink || type != AE_IFDIR) throw Error(EINVAL, "the layer root cannot be replaced");
            set_dir_times(parts, e);
            return;
        }
        sys::UniqueFd dir = entry_parent(parts);
        const std::string& base = parts.back();

        if (base.rfind(".wh.", 0) == 0) {
            whiteout(dir.get(), base);
            return;
        }
        if (hardlink) {
            link(dir.get(), base, hardlink);
            return;
        }
        if (type == AE_IFDIR) {
            struct stat st;
            bool whited_out = false;  // by this layer: the directory replaces the lower ones' (opaque)
            if (::fstatat(dir.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
                whited_out = S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
                remove_entry(dir.get(), base);
            }
            if (::mkdirat(dir.get(), base.c_str(), 0700) < 0 && errno != EEXIST) throw_errno("mkdir");
            sys::UniqueFd d(sys::open_beneath(dir.get(), base, O_RDONLY | O_DIRECTORY));
            if (!d) throw_errno("open directory");
            metadata(d.get(), e);
            if (whited_out) make_opaque(d.get());
            // Without privilege (an import with no subordinate ids) a directory
            // its owner may not write or search (0550: Fedora's /root) would
            // refuse the entries in it: it gets its mode last (finish).
            std::optional<mode_t> mode;
            if (!o_.set_owners && (archive_entry_perm(e) & 0700) != 0700) {
                mode = archive_entry_perm(e);
                if (::fchmod(d.get(), *mode | 0700) < 0) throw_errno("chmod");
            }
            set_dir_times(parts, e, mode);
            return;
        }
        remove_entry(dir.get(), base);
        switch (type) {
            case AE_IFREG: regular(a, e, dir.get(), base, stats); break;
            case AE_IFLNK: {
                const char* target = archive_entry_symlink(e);
                if (!target || !*target) throw Error(EINVAL, "a symbolic link without a target");
                if (::symlinkat(target, dir.get(), base.c_str()) < 0) throw_errno("symlink");
                if (o_.set_owners &&
                    ::fchownat(dir.get(), base.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                               static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) < 0)
                    throw_errno("chown symlink");
                // Through the directory's fd: the last component is not followed.
                std::string path = sys::fd_path(dir.get()) + "/" + base;
                xattrs(e, [&](const char* n, const void* v, size_t len) {
                    return ::lsetxattr(path.c_str(), n, v, len, 0);
                });
                if (::utimensat(dir.get(), base.c_str(), entry_times(e).data(), AT_SYMLINK_NOFOLLOW) < 0)
                    throw_errno("set times");
                break;
            }
            case AE_IFIFO:
            case AE_IFCHR:
            case AE_IFBLK: special(e, dir.get(), base, type); break;
            default: throw Error(EINVAL, "unsupported entry type " + std::to_string(type));
        }
    }

    void regular(archive* a, archive_entry* e, int dir, const std::string& base, UnpackStats& stats) {
        uint64_t size = static_cast<uint64_t>(archive_entry_size(e));
        if (stats.bytes + size > o_.limits.max_bytes)
            throw Error(EFBIG, "the layer is larger than " + std::to_string(o_.limits.max_bytes) + " bytes");
        stats.bytes += size;
        sys::UniqueFd f(::openat(dir, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!f) throw_errno("create");
        const void* buf;
        size_t len;
        la_int64_t offset;
        int r;
        while ((r = archive_read_data_block(a, &buf, &len, &offset)) == ARCHIVE_OK) {
            for (size_t done = 0; done < len;) {
                ssize_t n = ::pwrite(f.get(), static_cast<const char*>(buf) + done, len - done, offset + static_cast<off_t>(done));
                if (n < 0) throw_errno("write");
                done += static_cast<size_t>(n);
            }
        }
        if (r != ARCHIVE_EOF) {
            if (read_error_) throw ReadFailure{*read_error_};
            throw Error(EIO, "read data: " + archive_error(a));
        }
        if (::ftruncate(f.get(), static_cast<off_t>(size)) < 0) throw_errno("truncate");  // sparse tails
        metadata(f.get(), e);
        ::futimens(f.get(), entry_times(e).data());
    }

    void special(archive_entry* e, int dir, const std::string& base, mode_t type) {
        if (!o_.device_nodes && type != AE_IFIFO) {
            log::debug(o_.name + ": device node " + quote(base) + " skipped (no devices in a user namespace)");
            return;
        }
        mode_t kind = type == AE_IFIFO ? S_IFIFO : type == AE_IFCHR ? S_IFCHR : S_IFBLK;
        dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        if (::mknodat(dir, base.c_str(), kind | 0600, dev) < 0) throw_errno("mknod");
        sys::UniqueFd f(sys::open_beneath(dir, base, O_PATH));
        if (!f) throw_errno("open node");
        std::string path = sys::fd_path(f.get());
        if (o_.set_owners &&
            ::chown(path.c_str(), static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))) < 0)
            throw_errno("chown node");
        if (::chmod(path.c_str(), archive_entry_perm(e)) < 0) throw_errno("chmod node");
        xattrs(e, [&](const char* n, const void* v, size_t len) { return ::setxattr(path.c_str(), n, v, len, 0); });
        if (::utimensat(AT_FDCWD, path.c_str(), entry_times(e).data(), 0) < 0) throw_errno("set times");
    }

    void make_opaque(int dir) {
        const char* key = o_.user_xattrs ? "user.overlay.opaque" : "trusted.overlay.opaque";
        if (::fsetxattr(dir, key, "y", 1, 0) < 0) throw_errno(std::string("set ") + key);
    }

    // A whiteout hides what the layers below hold, never this layer's own entries
    // (OCI image-spec): an entry of this layer stays, a directory made opaque; a
    // directory this layer makes after its whiteout is opaque too (see unpack).
    void whiteout(int dir, const std::string& base) {
        if (base == ".wh..wh..opq") {
            make_opaque(dir);
            return;
        }
        std::string target = base.substr(4);
        if (target.empty() || target == "." || target == "..") throw Error(EINVAL, "invalid whiteout");
        struct stat st;
        if (::fstatat(dir, target.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(st.st_mode)) {
                sys::UniqueFd d(sys::open_beneath(dir, target, O_RDONLY | O_DIRECTORY));
                if (!d) throw_errno("open directory");
                make_opaque(d.get());
            }
            return;
        }
        if (::mknodat(dir, target.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0) throw_errno("create whiteout");
    }

    void link(int dir, const std::string& base, const char* target_name) {
        std::vector<std::string> target = with_context("hard link target " + quote(target_name), [&] {
            return components(target_name, o_.limits.max_path, o_.unit);
        });
        if (target.empty()) throw Error(EINVAL, "hard link to the layer root");
        sys::UniqueFd t = with_context("hard link target " + quote(target_name),
                                       [&] { return open_existing(target, O_PATH | O_NOFOLLOW); });
        if (!t) throw Error(ENOENT, "hard link target " + quote(target_name) + " is not in the layer");
        struct stat st;
        if (::fstat(t.get(), &st) < 0) throw_errno("stat hard link target");
        if (S_ISDIR(st.st_mode)) throw Error(EPERM, "hard link to a directory");
        remove_entry(dir, base);
        std::string path = sys::fd_path(t.get());
        if (::linkat(AT_FDCWD, path.c_str(), dir, base.c_str(), AT_SYMLINK_FOLLOW) < 0) throw_errno("link");
    }

    // Owner, then mode (chown clears setuid bits), xattrs.
    void metadata(int fd, archive_entry* e) {
        if (o_.set_owners &&
            ::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))) < 0) {
            if (errno == EINVAL)  // not mapped in our user namespace
                throw Error(EINVAL, "owner " + std::to_string(archive_entry_uid(e)) + ":" +
                                        std::to_string(archive_entry_gid(e)) + " is not mapped (needs a larger subordinate id range)");
            throw_errno("chown");
        }
        if (::fchmod(fd, archive_entry_perm(e)) < 0) throw_errno("chmod");
        xattrs(e, [&](const char* n, const void* v, size_t len) { return ::fsetxattr(fd, n, v, len, 0); });
    }

    // The entry's xattrs, each given to `set` (name, value, size; -1 and errno on failure).
    template <typename Set>
    void xattrs(archive_entry* e, Set&& set) {
        const char* xname;
        const void* value;
        size_t size;
        for (archive_entry_xattr_reset(e); archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK;) {
            if (size > o_.limits.max_xattr) throw Error(EFBIG, "xattr " + quote(xname) + " too large");
            std::string n = escaped_xattr(xname);
            if (set(n.c_str(), value, size) < 0) {
                // trusted.* needs real root, security.* may be refused: not fatal then.  The
                // kernel takes no user.* on a symbolic link or a device node, and file systems
                // may take nothing there: skipped, as podman skips them.
                mode_t type = archive_entry_filetype(e);
                bool special = type != AE_IFREG && type != AE_IFDIR;
                if ((special || !o_.device_nodes || o_.user_xattrs) && (errno == EPERM || errno == ENOTSUP)) continue;
                throw_errno("set xattr " + quote(n));
            }
        }
    }

    static std::array<timespec, 2> entry_times(archive_entry* e) {
        return {{{archive_entry_atime(e), archive_entry_atime_nsec(e)},
                 {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}}};
    }

    void set_dir_times(const std::vector<std::string>& parts, archive_entry* e, std::optional<mode_t> mode = {}) {
        auto t = entry_times(e);
        dirs_.push_back(DirTimes{parts, {t[0], t[1]}, mode});
    }

    static std::string archive_error(archive* a) {
        const char* e = archive_error_string(a);
        return e ? e : "unknown error";
    }

    int root_;
    const UnpackOptions& o_;
    const std::optional<Error>& read_error_;
    std::vector<DirTimes> dirs_;
    std::vector<std::string> cached_;  // the directory entry_parent() keeps open
    sys::UniqueFd cached_fd_;
};

struct ReadContext {
    const ReadFn* read = nullptr;
    std::vector<char> buf = std::vector<char>(128 * 1024);
    std::optional<Error> error;
};

la_ssize_t read_callback(archive*, void* data, const void** out) {
    auto* ctx = static_cast<ReadContext*>(data);
    try {
        *out = ctx->buf.data();
        return static_cast<la_ssize_t>((*ctx->read)(ctx->buf.data(), ctx->buf.size()));
    } catch (const Error& e) {
        ctx->error = e;
        return -1;
    }
}

// The layer's entries, with its name (o.name, when given) before every error but the reader's.
UnpackStats unpack_named(int root_fd, const ReadFn& read, const UnpackOptions& o) {
    std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
    if (!a) throw Error(ENOMEM, "archive_read_new");
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    ReadContext ctx;
    ctx.read = &read;
    auto check = [&](int r) {
        if (r == ARCHIVE_OK || r == ARCHIVE_WARN || r == ARCHIVE_EOF) return r;
        if (ctx.error) throw ReadFailure{*ctx.error};  // a read error (corrupt compression, I/O) as itself
        const char* e = archive_error_string(a.get());
        throw Error(EIO, std::string("not a valid tar stream: ") + (e ? e : "unknown error"));
    };
    auto entries = [&] {
        check(archive_read_open(a.get(), &ctx, nullptr, read_callback, nullptr));
        UnpackStats stats;
        Unpacker u(root_fd, o, ctx.error);
        archive_entry* e;
        while (check(archive_read_next_header(a.get(), &e)) != ARCHIVE_EOF) u.entry(a.get(), e, stats);
        u.finish();
        return stats;
    };
    return o.name.empty() ? entries() : with_context(o.name, entries);
}

}  // namespace

UnpackStats unpack_layer(int root_fd, const ReadFn& read, const UnpackOptions& o) {
    try {
        return unpack_named(root_fd, read, o);
    } catch (const ReadFailure& f) {
        throw f.error;
    }
}

}  // namespace crunlite::image
