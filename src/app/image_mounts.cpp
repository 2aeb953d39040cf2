// run --image's mounts: the /etc files, tmpfs, -v/--mount volumes and binds,
// the image's Volumes, and --device (image_mounts.hpp).
#include "image_mounts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "crunlite/app/run_flags.hpp"
#include "crunlite/app/slirp.hpp"
#include "crunlite/app/volumes.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/helpers.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/linux/mount_plan.hpp"
#include "crunlite/linux/process_plan.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::app::detail {
namespace {

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Writes the /etc files into the overlay's empty upper directory, where the
// container sees them as the image's own: when the image's /etc is a directory
// (not a symlink) owned as upper/ is, or missing.  Returns false, having written
// nothing, otherwise.  An /etc and three files in upper/, where bind mounts
// need three more files and six mounts, and overlayfs copies /etc up to make
// their mount points (0.6 ms of a 16 ms image run's CPU here).
bool write_etc_into_upper(const ImageLayers& layers, const std::string& upper,
                          const std::vector<std::pair<const char*, std::string>>& files) {
    sys::UniqueFd up(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat us, es;
    if (!up || ::fstat(up.get(), &us) < 0) throw_errno("open " + quote(upper));
    mode_t mode = 0755;
    if (std::optional<image::MergedEntry> e = layers.resolve("/etc")) {
        bool dir = e->entry.kind == image::LayerEntry::Directory || e->entry.kind == image::LayerEntry::OpaqueDirectory;
        if (!dir || e->path != "/etc") return false;
        if (::fstatat(layers.root(e->layer), "etc", &es, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("stat " + layers.what("/etc"));
        if (es.st_uid != us.st_uid || es.st_gid != us.st_gid) return false;
        mode = es.st_mode & 07777;
    }
    std::string etc = upper + "/etc";
    if (::mkdirat(up.get(), "etc", 0700) < 0) throw_errno("create " + quote(etc));
    sys::UniqueFd ed(::openat(up.get(), "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!ed) throw_errno("open " + quote(etc));
    for (const auto& [name, text] : files) {
        std::string path = etc + "/" + name;
        sys::UniqueFd fd(::openat(ed.get(), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!fd || ::fchmod(fd.get(), 0644) < 0) throw_errno("create " + quote(path));
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) throw_errno("write " + quote(path));
    }
    // The image's mode last: one without write permission (0555) would have refused the files.
    if (::fchmod(ed.get(), mode) < 0) throw_errno("chmod " + quote(etc));
    return true;
}

}  // namespace

UserMounts user_mounts(const ImageRunOptions& o) {
    UserMounts u;
    std::string cwd = absolute_path(".");
    for (const auto& text : o.volumes) u.volumes.emplace_back(parse_volume(text, cwd), "volume " + quote(text));
    for (const auto& text : o.tmpfs) u.tmpfs.emplace_back(parse_tmpfs(text), "--tmpfs " + quote(text));
    for (const auto& text : o.mounts) {
        MountFlag m = parse_mount(text, cwd);
        if (m.tmpfs) u.tmpfs.emplace_back(*m.tmpfs, "--mount " + quote(text));
        else u.volumes.emplace_back(*m.volume, "--mount " + quote(text));
    }
    return u;
}

std::optional<std::string> read_user_file(const UserMounts& mounts, const ImageLayers& layers, const std::string& path) {
    // The bind the container sees there: of the file itself, else of /etc
    // (parents are mounted first); the last of one place, as the last mount.
    const VolumeSpec* bind = nullptr;
    const std::string* what = nullptr;
    for (const auto& [v, text] : mounts.volumes) {
        if (v.kind != VolumeSpec::Kind::Bind || (v.destination != path && v.destination != "/etc")) continue;
        if (bind && bind->destination == path && v.destination == "/etc") continue;
        bind = &v;
        what = &text;
    }
    if (!bind) return read_image_file(layers, path);
    std::string file = bind->destination == path ? bind->source : bind->source + path.substr(4);
    sys::UniqueFd f;
    if (bind->destination == path) {
        // A bound file as mount(2) took it: symlinks followed, as the caller named it.
        f.reset(::open(file.c_str(), O_PATH | O_CLOEXEC));
    } else {
        // In a bound /etc the container resolves a symlink against its own root,
        // which we cannot: none is followed (a link that leads out of the bind
        // would read a host file the container does not see).
        sys::UniqueFd dir(::open(bind->source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (dir) f.reset(sys::open_beneath(dir.get(), path.substr(5), O_PATH));
        if (!f && errno == ENOENT) return std::nullopt;
        if (!f && errno == ELOOP)
            throw Error(ELOOP, *what + ": " + file + " is a symbolic link: bind the file it names, or copy it in");
    }
    if (!f) throw_errno("open " + *what + ": " + file);
    // What is not a regular file (-v /dev/null:/etc/group) holds no entries.
    struct stat st;
    if (::fstat(f.get(), &st) < 0) throw_errno("stat " + *what + ": " + file);
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    return read_host_file(sys::fd_path(f.get()), *what + ": " + file);
}

// 4. The /etc files (hosts, hostname, resolv.conf) and tmpfs mounts, as mounts.
void plan_etc_and_mounts(const ImageRunOptions& o, const UserMounts& mounts, const ImageLayers& layers,
                         const std::string& dir, const std::string& network, spec::SpecOptions& s) {
    std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    NetworkEtc net = network_etc(network);
    // The container's name too, where the host name is only its first 12 characters (podman's).
    hosts += net.host_addr + "\t" + s.hostname + (o.id != s.hostname ? " " + o.id : "") + "\n";
    // The host's network: its names too (Docker's and podman's).  Else the host's address
    // the container reaches it at, where there is one: podman's name for it and Docker's.
    if (network == "host" && exists("/etc/hosts")) hosts = read_file("/etc/hosts");
    else if (!net.host_gateway.empty()) hosts += net.host_gateway + "\thost.containers.internal host.docker.internal\n";
    std::string resolv = exists("/etc/resolv.conf") ? read_file("/etc/resolv.conf") : "";
    // (slirp4netns runs without IPv6.)
    if (!net.nameserver.empty()) resolv = network_resolv_conf(resolv, net.nameserver, network != "slirp4netns");
    for (const auto& text : o.add_hosts) hosts += hosts_entry(text, net.host_gateway);
    std::vector<std::pair<const char*, std::string>> files = {{"hosts", hosts}, {"hostname", s.hostname + "\n"}};
    if (!keeps_image_resolv_conf(o.dns)) files.emplace_back("resolv.conf", resolv_conf(resolv, o.dns));
    // With --read-only they stay writable (as Docker's): bind mounts then.
    if (o.read_only || !write_etc_into_upper(layers, dir + "/ovl/upper", files)) {
        for (const auto& [name, text] : files) {
            write_file_atomic(dir + "/" + name, text, 0644);
            s.extra_mounts.push_back({std::string("/etc/") + name, "bind", dir + "/" + name, {"bind", "nosuid", "nodev", "noexec"}, {}, {}});
        }
    }
    // Writable places in a read-only root, as podman's --read-only-tmpfs (volumes may cover them).
    if (o.read_only && o.read_only_tmpfs)
        for (const char* d : {"/tmp", "/var/tmp", "/run"})
            s.extra_mounts.push_back({d, "tmpfs", "tmpfs", {"nosuid", "nodev", std::string(d) == "/run" ? "mode=755" : "mode=1777"}, {}, {}});
    // --tmpfs and --mount type=tmpfs, replacing those at their place.
    std::set<std::string> tmpfs;
    for (const auto& [m, what] : mounts.tmpfs) {
        const std::string& place = m.destination;  // (a lambda may not capture a structured binding)
        if (!tmpfs.insert(place).second)
            throw Error(EINVAL, what + ": duplicate mount point " + m.destination);
        std::erase_if(s.extra_mounts, [&place](const spec::Mount& e) { return e.type == "tmpfs" && e.destination == place; });
        s.extra_mounts.push_back(m);
    }
}

// 5. -v and the image's Volumes, as Docker mounts them: binds of host paths;
// named volumes (made on first use); anonymous ones (-v DST, and each image
// Volume no -v covers) in the container's volumes/, going with it.  A volume
// mounted empty gets the image's files there (the runtime's copyup); parents
// are mounted before what they hold.
void plan_volumes(const UserMounts& mounts, const image::ImageConfig& ic, const std::string& store_root,
                  const std::string& dir, PlannedVolumes& out, spec::SpecOptions& s) {
    std::vector<std::pair<VolumeSpec, std::string>> given = mounts.volumes;
    auto clean = [](const std::string& path) { return absolute_path(path); };  // "/data/" and "/data" are one place
    std::set<std::string> tmpfs;  // tmpfs places: an image Volume there is not made, a -v is an error
    for (const auto& [m, what] : mounts.tmpfs) tmpfs.insert(m.destination);
    // Every -v and --mount checked before any named volume is made.
    std::set<std::string> places;
    for (const auto& [v, what] : given) {
        if (tmpfs.count(clean(v.destination)))
            throw Error(EINVAL, what + ": duplicate mount point " + clean(v.destination) + " (also a tmpfs)");
        if (!places.insert(clean(v.destination)).second)
            throw Error(EINVAL, what + ": duplicate mount point " + clean(v.destination));
        struct stat st;
        if (v.kind == VolumeSpec::Kind::Bind && ::stat(v.source.c_str(), &st) < 0) throw_errno(what + ": " + v.source);
    }
    for (const auto& v : ic.volumes) {
        // An empty volume over what the runtime mounts or writes there would hide it: said, naming the Volume.
        std::string place = clean(v), what = "the image's Volume " + quote(v);
        if (runtime_mount_point(place) || place.starts_with("/proc/") || place.starts_with("/sys/"))
            throw Error(EINVAL, what + ": " + place + " is the runtime's own mount");
        if (place == "/etc/hosts" || place == "/etc/hostname" || place == "/etc/resolv.conf")
            throw Error(EINVAL, what + ": " + place + " is a file crun-lite writes for the container");
    }
    for (const auto& v : ic.volumes)
        if (!tmpfs.count(clean(v)) &&
            std::none_of(given.begin(), given.end(), [&](auto& g) { return clean(g.first.destination) == clean(v); })) {
            VolumeSpec anon;
            anon.kind = VolumeSpec::Kind::Anonymous;
            anon.destination = v;
            given.emplace_back(anon, "the image's Volume " + quote(v));
        }
    // A volume replaces --read-only's tmpfs at the same place (podman's).
    std::erase_if(s.extra_mounts, [&](const spec::Mount& m) {
        return m.type == "tmpfs" &&
               std::any_of(given.begin(), given.end(), [&](auto& g) { return clean(g.first.destination) == m.destination; });
    });
    Volumes named(store_root);
    size_t anonymous = 0;
    for (const auto& [v, what] : given) {
        MountRecord record{"volume", "", v.source, v.destination, !v.readonly};
        switch (v.kind) {
            case VolumeSpec::Kind::Bind:
                record.type = "bind";
                break;
            case VolumeSpec::Kind::Named:
                if (named.create(v.source)) out.new_volumes.push_back(v.source);
                out.holds.push_back(named.hold(v.source));
                record.name = v.source;
                record.source = named.data(v.source);
                break;
            case VolumeSpec::Kind::Anonymous:
                record.source = dir + "/volumes/" + std::to_string(anonymous++);
                ::mkdir((dir + "/volumes").c_str(), 0700);
                if (::mkdir(record.source.c_str(), 0755) < 0) throw_errno("create " + quote(record.source));
                break;
        }
        // As podman where SELinux is off: nothing to relabel.  Where it is on, a
        // label crun-lite cannot give would leave the container denied.
        if (v.relabel && exists("/sys/fs/selinux/enforce"))
            throw Error(ENOTSUP, what + ": z and Z (SELinux relabeling) are not supported on this SELinux host");
        std::vector<std::string> opts = {v.recursive ? "rbind" : "bind"};
        opts.insert(opts.end(), v.options.begin(), v.options.end());
        if (v.readonly) opts.push_back("ro");
        if (v.kind != VolumeSpec::Kind::Bind && v.copy) opts.push_back("copyup");
        s.extra_mounts.push_back({v.destination, "bind", record.source, opts, {}, {}});
        out.records.push_back(record);
    }
    // Parents before what they hold, volumes and the /etc files and tmpfs of step 4 alike.
    auto depth = [&](const spec::Mount& m) {
        std::string d = clean(m.destination);
        return std::count(d.begin(), d.end(), '/');
    };
    std::stable_sort(s.extra_mounts.begin(), s.extra_mounts.end(),
                     [&](const spec::Mount& a, const spec::Mount& b) { return depth(a) < depth(b); });
}

void plan_init(const ImageRunOptions& o, const UserMounts& mounts, const image::ImageConfig& ic, spec::SpecOptions& s) {
    if (!o.init) return;
    std::string init = o.init_path.empty() ? find_init() : o.init_path;
    if (!exists(init)) throw Error(ENOENT, "--init: " + init + ": no such file or directory");
    std::vector<std::string> covered = ic.volumes;
    for (const auto& [v, what] : mounts.volumes) covered.push_back(v.destination);
    for (const auto& [m, what] : mounts.tmpfs) covered.push_back(m.destination);
    auto uncovered = [&](const std::string& place) {
        return std::none_of(covered.begin(), covered.end(), [&](const std::string& d) {
            std::string dir = absolute_path(d);
            return place == dir || place.rfind(dir + "/", 0) == 0;
        });
    };
    std::string place = "/.crun-lite-init";
    for (const char* p : {"/run/crun-lite-init", "/dev/crun-lite-init"})
        if (uncovered(p)) {
            place = p;
            break;
        }
    s.extra_mounts.push_back({place, "bind", init, {"bind", "ro", "nosuid", "nodev"}, {}, {}});
    s.args.insert(s.args.begin(), {place, "--"});
    s.annotations[linux::kInitCommandAnnotation] = "2";
}

// --device: a node of the host's device at the container's path and, as root,
// the access allowed in its device cgroup.  Rootless there is neither mknod
// nor a device cgroup: the host's node is bind-mounted (podman's way).
void plan_devices(const runtime::Context& ctx, const ImageRunOptions& o, spec::SpecOptions& s) {
    for (const auto& text : o.devices) {
        DeviceFlag d = parse_device(text);
        std::string what = "--device " + quote(text);
        auto add = [&](const std::string& host, const std::string& container, const struct stat& st) {
            if (ctx.rootless) {  // read-only without w, as podman's
                std::vector<std::string> opts = {"bind", "nosuid"};
                if (d.access.find('w') == std::string::npos) opts.push_back("ro");
                s.extra_mounts.push_back({container, "bind", host, opts, {}, {}});
                return;
            }
            std::string type = S_ISCHR(st.st_mode) ? "c" : "b";
            int64_t major = ::major(st.st_rdev), minor = ::minor(st.st_rdev);
            s.devices.push_back({type, container, major, minor, st.st_mode & 07777, 0u, 0u});
            s.device_rules.push_back({true, type, major, minor, d.access});
        };
        struct stat st;
        if (::stat(d.host.c_str(), &st) < 0) throw_errno(what + ": " + d.host);
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            add(d.host, d.container, st);
            continue;
        }
        if (!S_ISDIR(st.st_mode)) throw Error(EINVAL, what + ": " + d.host + " is not a device (character or block)");
        // A directory (/dev/snd, /dev/dri): the devices below it, as podman's.
        size_t found = 0;
        std::error_code ec;
        for (std::filesystem::recursive_directory_iterator it(d.host, ec), end; !ec && it != end; it.increment(ec)) {
            struct stat e;
            if (it->is_symlink() || ::lstat(it->path().c_str(), &e) < 0 || (!S_ISCHR(e.st_mode) && !S_ISBLK(e.st_mode)))
                continue;
            add(it->path().string(), d.container + it->path().string().substr(d.host.size()), e);
            ++found;
        }
        if (ec) throw Error(ec.value(), what + ": read " + d.host + ": " + ec.message());
        if (!found) throw Error(EINVAL, what + ": " + d.host + " holds no device (character or block)");
    }
}

}  // namespace crunlite::app::detail
