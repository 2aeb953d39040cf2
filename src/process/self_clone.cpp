#include "crunlite/process/self_clone.hpp"

#include <elf.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: needed where vm.memfd_noexec forbids exec by default
#endif


namespace crunlite::process {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
// Set for the sealed copy: the path of the binary it was copied from.
constexpr const char* kOriginVar = "CRUNLITE_SELF";

std::string own_path() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) throw_errno("readlink /proc/self/exe");
    return std::string(buf, static_cast<size_t>(n));
}

// Our sealed memfd copy, or (after the re-exec that sets kOriginVar) the
// binary seen through one of our read-only views: an overlay without an upper
// layer, or a bind mount of a user namespace of our own.
bool running_sealed(int self_fd) {
    int seals = ::fcntl(self_fd, F_GET_SEALS);
    if (seals >= 0 && (seals & kSeals) == kSeals) return true;
    struct statvfs vfs;
    return std::getenv(kOriginVar) && ::fstatvfs(self_fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
}

std::string escape_lowerdir(const std::string& path) {
    std::string out;
    for (char c : path) {
        if (c == '\\' || c == ':' || c == ',') out += '\\';
        out += c;
    }
    return out;
}

// The binary `path` through a detached overlay mount whose only layers are
// its directory and /dev (overlayfs needs two lower layers to run without an
// upper one; /dev is there on every host, and ours is the top layer), mounted
// read-only: a mount no one can make writable, as it has nowhere to write
// (unlike a read-only bind, which CAP_SYS_ADMIN can remount).  Zero copy; needs
// CAP_SYS_ADMIN over our mount namespace.  An invalid fd when the kernel
// refuses (the caller copies instead).
sys::UniqueFd overlay_view(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos || path.compare(0, 5, "/dev/") == 0) return {};
    std::string dir = slash == 0 ? "/" : path.substr(0, slash), name = path.substr(slash + 1);
    sys::UniqueFd fs(sys::fsopen_cloexec("overlay"));
    if (!fs) return {};
    if (sys::fsconfig_string(fs.get(), "lowerdir", (escape_lowerdir(dir) + ":/dev").c_str()) < 0) return {};
    sys::fsconfig_string(fs.get(), "xino", "off");  // no dmesg notes when the layers are on two filesystems
    if (sys::fsconfig_create(fs.get()) < 0) return {};
    constexpr unsigned kAttrs = 0x1 | 0x2 | 0x4;  // MOUNT_ATTR_RDONLY | NOSUID | NODEV
    sys::UniqueFd mnt(sys::fsmount_cloexec(fs.get(), kAttrs));
    if (!mnt) return {};
    return sys::UniqueFd(::openat(mnt.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
}

// The binary `path` through a read-only bind mount of its directory, made in a
// user and mount namespace of our own, which any user may create: for a user
// running a binary it owns, which its containers' root (that same user on the
// host) could otherwise write.  No container can make that mount writable: it
// belongs to a user namespace that is a sibling of every container's, and only
// processes of the user in the host's user namespace hold CAP_SYS_ADMIN over it
// (they may write the binary anyway).  A child sharing our memory and file
// table makes it (CLONE_VFORK: we wait) and leaves the O_PATH fd in our table;
// its namespaces end with it.  An invalid fd where the kernel refuses (user
// namespaces disabled, a mount beneath the directory, which a new user
// namespace locks); with AddressSanitizer, which cannot follow a second stack
// in one address space (sys::Child::vfork_shares_memory), a sealed copy then.
sys::UniqueFd user_bind_view(const std::string& path) {
    size_t slash = path.rfind('/');
    if (!sys::Child::vfork_shares_memory || slash == std::string::npos) return {};
    std::string dir = slash == 0 ? "/" : path.substr(0, slash), name = path.substr(slash + 1);
    int fd = -1;
    try {
        sys::Child::vfork("make the binary's view", [&]() -> int {
            sys::UniqueFd tree(sys::open_tree(AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
            constexpr uint64_t kAttrs = 0x1 | 0x2 | 0x4;  // MOUNT_ATTR_RDONLY | NOSUID | NODEV
            if (tree && sys::mount_setattr(tree.get(), "", AT_EMPTY_PATH, kAttrs, 0, 0) == 0)
                fd = ::openat(tree.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
            return 0;
        }, sys::Child::Kill::Process, CLONE_FILES | CLONE_NEWUSER | CLONE_NEWNS).wait();
    } catch (const Error&) {
        return {};  // no user namespace for us: a sealed copy
    }
    return sys::UniqueFd(fd);
}

// Bytes of the ELF file the loaders need: up to the end of the furthest
// segment described by a program header (PT_LOAD covers code and data; the
// others lie inside it).  Section headers and debug info come after and are
// left out.  Falls back to the whole file for anything unexpected.
off_t loadable_size(int fd, off_t file_size) {
    Elf64_Ehdr eh;
    if (::pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
        return file_size;
    off_t end = static_cast<off_t>(eh.e_phoff + uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr));
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph;
        off_t at = static_cast<off_t>(eh.e_phoff + i * sizeof ph);
        if (::pread(fd, &ph, sizeof ph, at) != static_cast<ssize_t>(sizeof ph)) return file_size;
        end = std::max(end, static_cast<off_t>(ph.p_offset + ph.p_filesz));
    }
    return std::min(end, file_size);
}

}  // namespace

void ensure_sealed_self(char** argv) {
    sys::UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!self) throw_errno("open /proc/self/exe");
    if (running_sealed(self.get())) return;  // already running from our copy

    struct stat st;
    if (::fstat(self.get(), &st) < 0) throw_errno("stat /proc/self/exe");
    // An unprivileged caller running root's binary (the installed case) needs no
    // copy: it and its containers only ever hold its own uid, its subordinate
    // ids (never 0) and capabilities in user namespaces that do not map root, so
    // nothing they run as can write a root-owned file without group/other write.
    if (::geteuid() != 0 && st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH))) return;
    // Installed on a read-only mount (a read-only /usr, or the binary bound
    // read-only onto itself once): opening it for writing fails with EROFS,
    // and only CAP_SYS_ADMIN over the mount namespace holding that mount could
    // change it, which no container has (its own is another).  No view, no re-exec.
    struct statvfs vfs;
    if (::fstatvfs(self.get(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return;
    std::string origin = own_path();
    if (sys::UniqueFd view = ::geteuid() == 0 ? overlay_view(origin) : user_bind_view(origin)) {
        ::setenv(kOriginVar, origin.c_str(), 1);
        sys::execveat_empty_path(view.get(), argv);
        ::unsetenv(kOriginVar);  // not run from the view after all: copy below
    }
    off_t size = loadable_size(self.get(), st.st_size);

    int mfd = static_cast<int>(::syscall(SYS_memfd_create, "crun-lite", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC));
    if (mfd < 0 && errno == EINVAL)  // kernels before 6.3 do not know MFD_EXEC
        mfd = static_cast<int>(::syscall(SYS_memfd_create, "crun-lite", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    sys::UniqueFd copy(mfd);
    if (!copy) throw_errno("memfd_create for the sealed runtime copy");
    for (off_t done = 0; done < size;) {
        ssize_t n = ::sendfile(copy.get(), self.get(), &done, static_cast<size_t>(size - done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("copy /proc/self/exe into a memfd");
    }
    // EBUSY: the kernel still saw extra references on pages just written when
    // it gave up waiting for them.  Seen once in this project's test runs (one
    // `create` of the 200-cycle test); the references are transient, so it is
    // tried again a few times before `create` fails.
    int rc = ::fcntl(copy.get(), F_ADD_SEALS, kSeals);
    for (int tries = 1; rc < 0 && errno == EBUSY && tries < 5; ++tries) rc = ::fcntl(copy.get(), F_ADD_SEALS, kSeals);
    if (rc < 0) throw_errno("seal the runtime copy");
    ::setenv(kOriginVar, origin.c_str(), 1);
    sys::execveat_empty_path(copy.get(), argv);
    throw_errno("exec the sealed runtime copy");
}

std::string runtime_path() {
    sys::UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (self && running_sealed(self.get()))
        if (const char* origin = std::getenv(kOriginVar); origin && *origin) return origin;
    return own_path();
}

}  // namespace crunlite::process
