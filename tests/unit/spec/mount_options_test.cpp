#include <linux/mount.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>

#include "crunlite/spec/mount_options.hpp"

using crunlite::spec::parse_mount_options;

TEST_CASE("flags set and cleared; later options win", "[mount_options]") {
    auto o = parse_mount_options({"nosuid", "nodev", "noexec", "ro", "relatime"});
    CHECK(o.flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_RELATIME));
    CHECK(o.data.empty());
    o = parse_mount_options({"ro", "rw", "suid"});
    CHECK(o.flags == 0);
    CHECK(o.clear_flags == (MS_RDONLY | MS_NOSUID));
    o = parse_mount_options({"defaults", "sync", "dirsync", "mand", "noatime", "nodiratime", "strictatime", "lazytime", "silent", "remount"});
    CHECK(o.flags == (MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK | MS_NOATIME | MS_NODIRATIME | MS_STRICTATIME | MS_LAZYTIME |
                      MS_SILENT | MS_REMOUNT));
}

TEST_CASE("unknown options are filesystem data, in order", "[mount_options]") {
    auto o = parse_mount_options({"nosuid", "mode=755", "size=65536k", "newinstance", "gid=5"});
    CHECK(o.flags == MS_NOSUID);
    CHECK(o.data == "mode=755,size=65536k,newinstance,gid=5");
}

TEST_CASE("bind, rbind, idmap, tmpcopyup, copyup", "[mount_options]") {
    auto o = parse_mount_options({"bind"});
    CHECK(o.bind);
    CHECK_FALSE(o.recursive);
    CHECK_FALSE(o.copyup);
    o = parse_mount_options({"rbind", "ridmap", "tmpcopyup"});
    CHECK(o.bind);
    CHECK(o.recursive);
    CHECK(o.idmap);
    CHECK(o.tmpcopyup);
    o = parse_mount_options({"rbind", "copyup"});
    CHECK(o.copyup);
    CHECK(o.data.empty());
}

TEST_CASE("propagation options are kept in order", "[mount_options]") {
    auto o = parse_mount_options({"rprivate", "shared", "runbindable", "slave", "rslave", "private", "unbindable", "rshared"});
    REQUIRE(o.propagation.size() == 8);
    CHECK(o.propagation[0] == (MS_PRIVATE | MS_REC));
    CHECK(o.propagation[1] == MS_SHARED);
    CHECK(o.propagation[2] == (MS_UNBINDABLE | MS_REC));
    CHECK(o.propagation[7] == (MS_SHARED | MS_REC));
}

TEST_CASE("recursive attributes; atime modes replace each other", "[mount_options]") {
    auto o = parse_mount_options({"rro", "rnosuid", "rnodev", "rnoexec"});
    CHECK(o.attr_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
    CHECK(o.attr_clr == 0);
    o = parse_mount_options({"rrw"});
    CHECK(o.attr_clr == MOUNT_ATTR_RDONLY);
    o = parse_mount_options({"rnoatime", "rrelatime"});
    CHECK((o.attr_set & MOUNT_ATTR__ATIME) == MOUNT_ATTR_RELATIME);
    CHECK(o.attr_clr == MOUNT_ATTR__ATIME);
    CHECK(o.flags == 0);
}

TEST_CASE("nosymfollow, acl and iversion, as runc knows them", "[mount_options]") {
    auto o = parse_mount_options({"nosymfollow", "acl", "iversion"});
    CHECK(o.flags == (MS_NOSYMFOLLOW | MS_POSIXACL | MS_I_VERSION));
    CHECK(o.data.empty());
    o = parse_mount_options({"symfollow", "noacl", "noiversion"});
    CHECK(o.clear_flags == (MS_NOSYMFOLLOW | MS_POSIXACL | MS_I_VERSION));
    o = parse_mount_options({"rnosymfollow"});
    CHECK(o.attr_set == MOUNT_ATTR_NOSYMFOLLOW);
    o = parse_mount_options({"rsymfollow"});
    CHECK(o.attr_clr == MOUNT_ATTR_NOSYMFOLLOW);
}

TEST_CASE("the table lists every known option once", "[mount_options]") {
    const auto& names = crunlite::spec::known_mount_options();
    CHECK(std::find(names.begin(), names.end(), "rro") != names.end());
    CHECK(std::find(names.begin(), names.end(), "rbind") != names.end());
    for (const auto& n : names) CHECK(parse_mount_options({n}).data.empty());
}
