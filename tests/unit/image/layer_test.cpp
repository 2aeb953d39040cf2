// unpack_layer on tar streams written by a tiny ustar writer below.  Runs as root
// (ownership, whiteout nodes, trusted.* xattrs) or, unprivileged, in rootless mode.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/image/layer.hpp"
#include "crunlite/sys/fd.hpp"

using namespace crunlite;

namespace {

struct Entry {
    Entry(std::string n, char t = '0', std::string d = "", std::string l = "", unsigned m = 0644, unsigned u = 0,
          unsigned g = 0)
        : name(std::move(n)), type(t), data(std::move(d)), link(std::move(l)), mode(m), uid(u), gid(g) {}
    std::string name;
    char type;  // 0 file, 1 hardlink, 2 symlink, 3 char, 5 dir, 6 fifo
    std::string data;
    std::string link;
    unsigned mode;
    unsigned uid, gid;
    std::vector<std::pair<std::string, std::string>> xattrs;  // as PAX SCHILY.xattr records
};

// A zero-padded octal field of `width` bytes (the last one NUL), as ustar wants;
// a value too large for it in GNU tar's base-256 (0x80, then big-endian bytes).
void octal(char* at, size_t width, unsigned long long v) {
    if (v >> (3 * (width - 1))) {
        for (size_t i = width; i-- > 1; v >>= 8) at[i] = static_cast<char>(v & 0xff);
        at[0] = static_cast<char>(0x80);
        return;
    }
    for (size_t i = width - 1; i-- > 0; v >>= 3) at[i] = static_cast<char>('0' + (v & 7));
    at[width - 1] = '\0';
}

std::string header(const std::string& name, char type, size_t size, const Entry& e) {
    std::string h(512, '\0');
    std::memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
    octal(&h[100], 8, e.mode);
    octal(&h[108], 8, e.uid);
    octal(&h[116], 8, e.gid);
    octal(&h[124], 12, size);
    octal(&h[136], 12, 1700000000);
    h[156] = type;
    std::memcpy(&h[157], e.link.data(), std::min<size_t>(e.link.size(), 100));
    std::memcpy(&h[257], "ustar\0" "00", 8);
    std::memset(&h[148], ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    octal(&h[148], 7, sum);
    return h;
}

std::string padded(const std::string& data) { return data + std::string((512 - data.size() % 512) % 512, '\0'); }

std::string tar(const std::vector<Entry>& entries) {
    std::string out;
    for (const auto& e : entries) {
        std::string records;
        auto record = [&](const std::string& key, const std::string& value) {
            std::string body = " " + key + "=" + value + "\n";
            size_t len = body.size() + 2;
            while (std::to_string(len).size() + body.size() != len) len = std::to_string(len).size() + body.size();
            records += std::to_string(len) + body;
        };
        for (const auto& [k, v] : e.xattrs) record("SCHILY.xattr." + k, v);
        if (e.name.size() > 100) record("path", e.name);  // ustar holds 100 bytes of name
        if (!records.empty()) out += header("PaxHeaders/x", 'x', records.size(), e) + padded(records);
        out += header(e.name, e.type, e.type == '0' ? e.data.size() : 0, e) + (e.type == '0' ? padded(e.data) : "");
    }
    return out + std::string(1024, '\0');
}

struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/crl-layer-XXXXXX";
        path = ::mkdtemp(t);
        ::mkdir((path + "/layer").c_str(), 0755);
    }
    ~TempDir() { std::system(("rm -rf " + path).c_str()); }
    std::string at(const std::string& p) const { return path + "/layer/" + p; }
};

image::UnpackStats unpack(const TempDir& d, const std::string& stream, image::LayerLimits limits = {},
                          bool unprivileged = ::geteuid() != 0) {
    sys::UniqueFd root(::open((d.path + "/layer").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    size_t pos = 0;
    image::UnpackOptions o = unprivileged ? image::UnpackOptions::unprivileged() : image::UnpackOptions{};
    o.limits = limits;
    o.name = "layer test";
    return image::unpack_layer(root.get(), [&](void* buf, size_t len) {
        size_t n = std::min(len, stream.size() - pos);
        std::memcpy(buf, stream.data() + pos, n);
        pos += n;
        return n;
    }, o);
}

struct stat lstat_of(const std::string& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st;
}

std::string read_link(const std::string& p) {
    char buf[4096];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
    return n < 0 ? "" : std::string(buf, size_t(n));
}

}  // namespace

TEST_CASE("files, directories, symlinks, hard links and metadata", "[layer]") {
    TempDir d;
    Entry suid{"usr/bin/su", '0', "#!/bin/sh\n", "", 04755};
    Entry owned{"home/app/data", '0', "x", "", 0600, 1001, 1001};
    auto s = unpack(d, tar({{"./", '5', "", "", 0755},
                            {"usr/", '5', "", "", 0755},
                            {"usr/bin/", '5', "", "", 0755},
                            suid,
                            {"home/app/", '5', "", "", 0750, 1001, 1001},
                            owned,
                            {"etc/abs-link", '2', "", "/usr/bin/su", 0777},
                            {"usr/bin/su2", '1', "", "usr/bin/su", 0755}}));
    CHECK(s.entries == 8);
    CHECK(lstat_of(d.at("usr/bin/su")).st_size == 10);
    CHECK(read_link(d.at("etc/abs-link")) == "/usr/bin/su");  // verbatim, not resolved
    CHECK(lstat_of(d.at("usr/bin/su2")).st_ino == lstat_of(d.at("usr/bin/su")).st_ino);
    if (::geteuid() == 0) {
        CHECK((lstat_of(d.at("usr/bin/su")).st_mode & 07777) == 04755);  // setuid kept after chown
        CHECK(lstat_of(d.at("home/app/data")).st_uid == 1001);
        CHECK((lstat_of(d.at("home/app")).st_mode & 07777) == 0750);
    }
    CHECK(lstat_of(d.at("usr/bin/su")).st_mtime == 1700000000);
    CHECK(lstat_of(d.at("usr")).st_mtime == 1700000000);  // directory times set last
}

TEST_CASE("symbolic links and FIFOs keep the layer's times; a root unpack keeps their xattrs", "[layer]") {
    TempDir d;
    Entry link{"link", '2', "", "target", 0777};
    Entry fifo{"fifo", '6', "", "", 0640};
    if (::geteuid() == 0) link.xattrs = {{"trusted.t", "x"}};
    link.xattrs.emplace_back("user.u", "y");  // the kernel takes none on a symlink: skipped, as podman does
    unpack(d, tar({link, fifo}));
    CHECK(lstat_of(d.at("link")).st_mtime == 1700000000);
    CHECK(S_ISFIFO(lstat_of(d.at("fifo")).st_mode));
    CHECK(lstat_of(d.at("fifo")).st_mtime == 1700000000);
    CHECK((lstat_of(d.at("fifo")).st_mode & 07777) == 0640);
    if (::geteuid() == 0) {
        char value[8] = {};
        CHECK(::lgetxattr(d.at("link").c_str(), "trusted.t", value, sizeof value) == 1);
        CHECK(std::string(value) == "x");
    }
}

TEST_CASE("entry names are cleaned as Docker's: a .. inside the layer stays inside", "[layer]") {
    TempDir d;
    unpack(d, tar({{"a/b/../c", '0', "x"}, {"./d/./e//f", '0', "y"}}));
    CHECK(lstat_of(d.at("a/c")).st_size == 1);
    CHECK(::access(d.at("a/b").c_str(), F_OK) != 0);
    CHECK(lstat_of(d.at("d/e/f")).st_size == 1);
    CHECK_THROWS_WITH(unpack(d, tar({{"a/../../x", '0', "x"}})),
                      Catch::Contains("entry `a/../../x`: path leaves the layer"));
}

TEST_CASE("a reader's error is its own, not repeated by the layer's name", "[layer]") {
    TempDir d;
    sys::UniqueFd root(::open((d.path + "/layer").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    image::UnpackOptions o = image::UnpackOptions::unprivileged();
    o.name = "layer sha256:abc";
    std::string stream = tar({{"big", '0', std::string(4096, 'x')}});
    for (size_t fail_at : {size_t{0}, size_t{1024}}) {  // in the headers, in a file's data
        INFO(fail_at);
        size_t pos = 0;
        auto read = [&](void* buf, size_t len) -> size_t {
            if (pos >= fail_at + 512) throw Error(EIO, "layer sha256:abc: corrupt gzip stream");
            size_t n = std::min<size_t>(len, 512);
            std::memcpy(buf, stream.data() + pos, n);
            pos += n;
            return n;
        };
        try {
            image::unpack_layer(root.get(), read, o);
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.message() == "layer sha256:abc: corrupt gzip stream");
        }
    }
}

TEST_CASE("whiteouts and opaque directories become overlayfs's", "[layer]") {
    TempDir d;
    unpack(d, tar({{"dir/", '5', "", "", 0755}, {"dir/.wh..wh..opq", '0', ""}, {".wh.gone-file", '0', ""}}));
    struct stat st = lstat_of(d.at("gone-file"));
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(0, 0));
    char v[8] = {};
    const char* key = ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
    CHECK(::getxattr(d.at("dir").c_str(), key, v, sizeof v) == 1);
    CHECK(v[0] == 'y');
    CHECK(::access(d.at("dir/.wh..wh..opq").c_str(), F_OK) != 0);
}

TEST_CASE("without privilege a directory its owner may not write gets its mode last", "[layer]") {
    TempDir d;
    // Fedora's /root (0550), and a directory of mode 0 holding a directory.
    unpack(d, tar({{"root/", '5', "", "", 0550}, {"root/.bashrc", '0', "#"}, {"locked/", '5', "", "", 0},
                   {"locked/in/", '5', "", "", 0755}, {"locked/in/f", '0', "x"}}), {}, true);
    CHECK((lstat_of(d.at("root")).st_mode & 07777) == 0550);
    CHECK((lstat_of(d.at("locked")).st_mode & 07777) == 0);
    ::chmod(d.at("locked").c_str(), 0700);  // for the checks and TempDir's rm -rf
    ::chmod(d.at("root").c_str(), 0700);
    CHECK(lstat_of(d.at("locked/in/f")).st_size == 1);
    CHECK(lstat_of(d.at("root/.bashrc")).st_size == 1);
}

TEST_CASE("a later entry replaces a directory tree", "[layer]") {
    TempDir d;
    // Directory times are set last; the replaced "a/b" is gone by then and skipped,
    // and nothing resurrects it.
    unpack(d, tar({{"a/", '5', "", "", 0755}, {"a/b/", '5', "", "", 0755}, {"a", '0', "file now"}}));
    CHECK(S_ISREG(lstat_of(d.at("a")).st_mode));
}

TEST_CASE("a whiteout hides the layers below, never its own layer's entries (OCI)", "[layer]") {
    TempDir d;
    char v[8] = {};
    const char* key = ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
    // Entries before their whiteout stay; a directory becomes opaque (the lower one's files go).
    unpack(d, tar({{"w/", '5', "", "", 0755}, {"w/x", '0', "mine"}, {".wh.w", '0', ""}, {"f", '0', "mine"},
                   {".wh.f", '0', ""}}));
    CHECK(S_ISDIR(lstat_of(d.at("w")).st_mode));
    CHECK(S_ISREG(lstat_of(d.at("w/x")).st_mode));
    CHECK(::getxattr(d.at("w").c_str(), key, v, sizeof v) == 1);
    CHECK(S_ISREG(lstat_of(d.at("f")).st_mode));
    // A directory made after its whiteout replaces the lower one: opaque; a file simply replaces it.
    TempDir e;
    unpack(e, tar({{".wh.d", '0', ""}, {"d/", '5', "", "", 0755}, {"d/new", '0', "1"}, {".wh.g", '0', ""},
                   {"g", '0', "new"}}));
    CHECK(S_ISDIR(lstat_of(e.at("d")).st_mode));
    CHECK(::getxattr(e.at("d").c_str(), key, v, sizeof v) == 1);
    CHECK(S_ISREG(lstat_of(e.at("g")).st_mode));
}

TEST_CASE("image xattrs cannot forge overlay metadata", "[layer]") {
    if (::geteuid() != 0) return;  // trusted.* needs root
    TempDir d;
    Entry e{"f", '0', "x"};
    e.xattrs = {{"trusted.overlay.opaque", "y"}, {"user.note", "kept"}};
    unpack(d, tar({e}));
    char v[16] = {};
    CHECK(::getxattr(d.at("f").c_str(), "trusted.overlay.opaque", v, sizeof v) < 0);
    CHECK(::getxattr(d.at("f").c_str(), "trusted.overlay.overlay.opaque", v, sizeof v) == 1);
    CHECK(::getxattr(d.at("f").c_str(), "user.note", v, sizeof v) == 4);
}

TEST_CASE("hostile layers are refused and write nothing outside", "[layer]") {
    struct Case {
        const char* what;
        std::vector<Entry> entries;
        const char* message;
    };
    std::vector<Case> cases = {
        {"dot-dot", {{"../escaped", '0', "x"}}, "entry `../escaped`: path leaves the layer"},
        {"absolute", {{"/etc/escaped", '0', "x"}}, "entry `/etc/escaped`: absolute path"},
        {"write through a symlink", {{"link", '2', "", "/tmp"}, {"link/escaped", '0', "x"}},
         "entry `link/escaped`: a parent (`link`) is a symbolic link"},
        {"whiteout through a symlink", {{"link", '2', "", ".."}, {"link/.wh.escaped", '0', ""}},
         "a parent (`link`) is a symbolic link"},
        {"hard link outside", {{"shadow", '1', "", "/etc/shadow"}}, "hard link target `/etc/shadow`: absolute path"},
        {"hard link up", {{"shadow", '1', "", "../../etc/shadow"}}, "path leaves the layer"},
        {"hard link to a directory", {{"d/", '5', "", "", 0755}, {"h", '1', "", "d"}}, "hard link to a directory"},
        {"root replaced by a symlink", {{".", '2', "", "/"}}, "the layer root cannot be replaced"},
        {"symlink without a target", {{"link", '2', "", ""}}, "entry `link`: a symbolic link without a target"},
        // (uid_t)-1 to chown means "unchanged": the file would stay root's.
        {"owner -1", {{"f", '0', "x", "", 0644, 4294967295u, 0}}, "entry `f`: invalid owner 4294967295:0"},
        {"group -1", {{"f", '0', "x", "", 0644, 0, 4294967295u}}, "entry `f`: invalid owner 0:4294967295"},
        // The unpacker keeps the last parent open: replacing it (or an ancestor)
        // by a symlink must not leave a stale way in.
        {"kept parent replaced by a symlink",
         {{"a/", '5', "", "", 0755}, {"a/b/", '5', "", "", 0755}, {"a/b/f", '0', "x"}, {"a", '2', "", "/tmp"},
          {"a/b/escaped", '0', "x"}},
         "a parent (`a`) is a symbolic link"},
        {"kept parent whited out, then a symlink",
         {{"a/", '5', "", "", 0755}, {"a/f", '0', "x"}, {".wh.a", '0', ""}, {"a", '2', "", "/tmp"}, {"a/escaped", '0', "x"}},
         "a parent (`a`) is a symbolic link"},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        TempDir d;
        CHECK_THROWS_WITH(unpack(d, tar(c.entries)), Catch::Contains(c.message));
        CHECK(::access((d.path + "/escaped").c_str(), F_OK) != 0);
        CHECK(::access("/tmp/escaped", F_OK) != 0);
        CHECK(::access("/etc/escaped", F_OK) != 0);
    }
}

TEST_CASE("deep directory chains unpack, each entry from its parent's kept fd", "[layer]") {
    TempDir d;
    std::vector<Entry> chain;
    std::string path;
    for (int i = 0; i < 1000; ++i) {
        path += "d/";
        chain.push_back({path, '5', "", "", 0755});
    }
    chain.push_back({path + "leaf", '0', "deep"});
    auto s = unpack(d, tar(chain));
    CHECK(s.entries == 1001);
    CHECK(lstat_of(d.at(path + "leaf")).st_size == 4);
}

TEST_CASE("limits stop tar bombs; garbage is not a layer", "[layer]") {
    TempDir d;
    std::vector<Entry> many;
    for (int i = 0; i < 20; ++i) many.push_back({"f" + std::to_string(i), '0', "x"});
    image::LayerLimits few;
    few.max_entries = 10;
    CHECK_THROWS_WITH(unpack(d, tar(many), few), Catch::Contains("more than 10 entries"));
    image::LayerLimits small;
    small.max_bytes = 100;
    CHECK_THROWS_WITH(unpack(d, tar({{"big", '0', std::string(1000, 'x')}}), small),
                      Catch::Contains("larger than 100 bytes"));
    CHECK_THROWS_WITH(unpack(d, std::string(2048, 'z')), Catch::Contains("not a valid tar stream"));
}
