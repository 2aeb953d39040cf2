#include "crunlite/spec/mount_options.hpp"

#include <linux/mount.h>
#include <sys/mount.h>

#include <string_view>

namespace crunlite::spec {
namespace {

struct FlagOption {
    const char* name;
    bool clear;           // true: the option turns `flag` off
    unsigned long flag;
};

// Options that map to mount(2) flags.
constexpr FlagOption kFlags[] = {
    {"defaults", false, 0},        {"ro", false, MS_RDONLY},           {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},     {"nosuid", false, MS_NOSUID},       {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},    {"exec", true, MS_NOEXEC},          {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS},  {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT}, {"mand", false, MS_MANDLOCK},      {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},   {"noatime", false, MS_NOATIME},     {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME}, {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME}, {"nolazytime", true, MS_LAZYTIME}, {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},     {"nosymfollow", false, MS_NOSYMFOLLOW}, {"symfollow", true, MS_NOSYMFOLLOW},
    {"acl", false, MS_POSIXACL},   {"noacl", true, MS_POSIXACL},       {"iversion", false, MS_I_VERSION},
    {"noiversion", true, MS_I_VERSION},
};

struct PropagationOption {
    const char* name;
    unsigned long flag;
};

constexpr PropagationOption kPropagation[] = {
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},         {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC}, {"private", MS_PRIVATE},                 {"rprivate", MS_PRIVATE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct AttrOption {
    const char* name;
    bool clear;
    uint64_t attr;
};

// Recursive variants, applied with mount_setattr(AT_RECURSIVE).  The atime
// modes are one field: setting one clears MOUNT_ATTR__ATIME first.
constexpr AttrOption kAttrs[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},         {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},     {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},       {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},     {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME}, {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},   {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME}, {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW}, {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

}  // namespace

MountOptions parse_mount_options(const std::vector<std::string>& options) {
    MountOptions out;
    std::string data;
    for (const auto& opt : options) {
        bool known = false;
        for (const auto& f : kFlags) {
            if (opt != f.name) continue;
            known = true;
            if (f.clear) {
                out.flags &= ~f.flag;
                out.clear_flags |= f.flag;
            } else {
                out.flags |= f.flag;
                out.clear_flags &= ~f.flag;
            }
        }
        for (const auto& p : kPropagation) {
            if (opt != p.name) continue;
            known = true;
            out.propagation.push_back(p.flag);
        }
        for (const auto& a : kAttrs) {
            if (opt != a.name) continue;
            known = true;
            bool atime = a.attr == MOUNT_ATTR_RELATIME || a.attr == MOUNT_ATTR_NOATIME || a.attr == MOUNT_ATTR_STRICTATIME;
            if (a.clear) {
                out.attr_set &= ~a.attr;
                out.attr_clr |= atime ? MOUNT_ATTR__ATIME : a.attr;
            } else {
                if (atime) {
                    out.attr_set &= ~MOUNT_ATTR__ATIME;
                    out.attr_clr |= MOUNT_ATTR__ATIME;
                }
                out.attr_set |= a.attr;
                if (!atime) out.attr_clr &= ~a.attr;
            }
        }
        if (opt == "bind" || opt == "rbind") {
            known = true;
            out.bind = true;
            out.recursive = out.recursive || opt == "rbind";
        } else if (opt == "idmap" || opt == "ridmap") {
            known = true;
            out.idmap = true;
            out.recursive = out.recursive || opt == "ridmap";
        } else if (opt == "tmpcopyup") {
            known = true;
            out.tmpcopyup = true;
        } else if (opt == "copyup") {
            known = true;
            out.copyup = true;
        }
        if (!known && !opt.empty()) {
            if (!data.empty()) data += ",";
            data += opt;
        }
    }
    out.data = data;
    return out;
}

const std::vector<std::string>& known_mount_options() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& f : kFlags) v.push_back(f.name);
        for (const auto& p : kPropagation) v.push_back(p.name);
        for (const auto& a : kAttrs) v.push_back(a.name);
        for (const char* n : {"bind", "rbind", "idmap", "ridmap", "tmpcopyup", "copyup"}) v.push_back(n);
        return v;
    }();
    return names;
}

}  // namespace crunlite::spec
