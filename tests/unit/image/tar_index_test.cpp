// TarIndex on archives written by libarchive's writer here: each file's range
// holds its bytes (through PAX headers, long names, "./" prefixes, hard links),
// compressed archives are left to the caller, and hostile ones are refused by
// name: "..", data past the end, a hard link to nothing, garbage, too many entries;
// symlinks followed only to the archive's own entries.
#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/image/tar_index.hpp"
#include "../temp_dir.hpp"

using namespace crunlite;
using Catch::Contains;
using image::TarIndex;

namespace {

struct Item {
    std::string name;
    mode_t type = S_IFREG;
    std::string data;  // a file's bytes, a link's target
};

// Writes `items` as a PAX tar at `path`.
void write_tar(const std::string& path, const std::vector<Item>& items) {
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
    for (const Item& i : items) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, i.name.c_str());
        if (i.type == 0) {  // a hard link
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, i.data.c_str());
        } else {
            archive_entry_set_filetype(e, i.type);
            archive_entry_set_perm(e, 0644);
            if (i.type == S_IFLNK) archive_entry_set_symlink(e, i.data.c_str());
            if (i.type == S_IFREG) archive_entry_set_size(e, static_cast<la_int64_t>(i.data.size()));
        }
        REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
        if (i.type == S_IFREG) REQUIRE(archive_write_data(a, i.data.data(), i.data.size()) == ssize_t(i.data.size()));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

void write_all(const std::string& path, const std::string& data) { std::ofstream(path, std::ios::binary) << data; }

std::optional<TarIndex> index_of(const std::string& path, uint64_t max_entries = 1000) {
    sys::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    return TarIndex::open(fd.get(), "'" + path + "'", max_entries);
}

// The bytes of the regular file `name` in the index, through its BlobInput.
std::string contents(const TarIndex& index, const std::string& name) {
    const TarIndex::Entry* e = index.find(name);
    REQUIRE(e);
    REQUIRE(e->type == S_IFREG);
    image::BlobInput in = index.input(*e);
    std::string out(in.length, '\0');
    REQUIRE(::pread(in.fd.get(), out.data(), out.size(), in.offset) == ssize_t(out.size()));
    return out;
}

}  // namespace

TEST_CASE("tar index: names are normalised, '..' is refused") {
    CHECK(TarIndex::normal("./a//b/") == "a/b");
    CHECK(TarIndex::normal("a/./b") == "a/b");
    CHECK(TarIndex::normal(".") == "");
    CHECK(TarIndex::normal("/blobs/sha256/x") == "blobs/sha256/x");
    CHECK_FALSE(TarIndex::normal("a/../b"));
    CHECK_FALSE(TarIndex::normal(".."));
}

TEST_CASE("tar index: each file's range holds its bytes") {
    testing::TempDir dir("crl-tar-index");
    std::string tar = dir.path + "/a.tar";
    std::string long_name = "./blobs/sha256/" + std::string(150, 'f');  // past ustar's 100: a PAX header
    std::string big(3 * 65536 + 7, 'x');  // spans libarchive's reads
    for (size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
    write_tar(tar, {{"./", S_IFDIR, ""},
                    {"./index.json", S_IFREG, "{\"schemaVersion\": 2}"},
                    {long_name, S_IFREG, big},
                    {"empty", S_IFREG, ""},
                    {"blobs/same", 0, long_name},
                    {"link", S_IFLNK, "/etc/shadow"},
                    {"dup", S_IFREG, "first"},
                    {"dup", S_IFREG, "second"}});
    auto index = index_of(tar);
    REQUIRE(index);
    CHECK(contents(*index, "index.json") == "{\"schemaVersion\": 2}");
    CHECK(contents(*index, long_name.substr(2)) == big);
    CHECK(contents(*index, "blobs/same") == big);  // a hard link: the same range
    CHECK(contents(*index, "empty").empty());
    CHECK(contents(*index, "dup") == "second");  // the later entry, as tar -x leaves it
    REQUIRE(index->find("link"));
    CHECK(index->find("link")->type == S_IFLNK);
    REQUIRE(index->find("."));
    CHECK(index->find(".")->type == S_IFDIR);
    CHECK_FALSE(index->find("blobs"));  // a directory only its files imply
    CHECK_FALSE(index->find("nope"));
    CHECK_FALSE(index->find("../index.json"));
}

TEST_CASE("tar index: a compressed archive is the caller's to unpack") {
    testing::TempDir dir("crl-tar-index");
    for (std::string magic : {std::string("\x1f\x8b\x08\x00", 4), std::string("\x28\xb5\x2f\xfd", 4)}) {
        write_all(dir.path + "/c", magic + std::string(1020, '\0'));
        CHECK_FALSE(index_of(dir.path + "/c"));
    }
}

TEST_CASE("tar index: hostile archives are refused by name") {
    testing::TempDir dir("crl-tar-index");
    std::string tar = dir.path + "/bad.tar";

    write_tar(tar, {{"ok", S_IFREG, "x"}, {"a/../../etc/passwd", S_IFREG, "x"}});
    CHECK_THROWS_WITH(index_of(tar), Contains("entry `a/../../etc/passwd`: path leaves the archive"));

    write_tar(tar, {{"x", 0, "nothing"}});
    CHECK_THROWS_WITH(index_of(tar), Contains("entry `x`: hard link target `nothing` is not a file before it"));
    write_tar(tar, {{"d", S_IFDIR, ""}, {"x", 0, "d"}});
    CHECK_THROWS_WITH(index_of(tar), Contains("hard link target `d` is not a file before it"));

    // The last file cut short: its header promises more than the archive holds.
    write_tar(tar, {{"small", S_IFREG, "x"}, {"layer", S_IFREG, std::string(10000, 'y')}});
    std::string bytes = read_all(tar);
    write_all(tar, bytes.substr(0, 512 * 4 + 3000));
    CHECK_THROWS_WITH(index_of(tar), Contains("entry `layer`: its data runs past the end of the archive"));

    write_all(tar, std::string(2048, 'z'));
    CHECK_THROWS_WITH(index_of(tar), Contains("'" + tar + "': not a valid tar archive"));

    std::vector<Item> many;
    for (int i = 0; i < 30; ++i) many.push_back({"f" + std::to_string(i), S_IFREG, "x"});
    write_tar(tar, many);
    CHECK_THROWS_WITH(index_of(tar, 20), Contains("more than 20 entries"));
    CHECK(index_of(tar, 30));

    CHECK_THROWS_WITH(TarIndex::open(sys::UniqueFd(::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY)).get(), "'d'", 10),
                      Contains("'d': not a regular file"));
}

TEST_CASE("tar index: symlinks are followed inside the archive only") {
    testing::TempDir t("crl-tar-index");
    std::string path = t.path + "/a.tar";
    write_tar(path, {{"a/layer.tar", S_IFREG, "A"},
                     {"b/layer.tar", S_IFLNK, "../a/layer.tar"},  // Docker's older save, a repeated layer
                     {"c", S_IFLNK, "b"},
                     {"d", S_IFLNK, "a/../b/./layer.tar"},
                     {"up", S_IFLNK, "../x"},
                     {"abs", S_IFLNK, "/etc/passwd"},
                     {"loop", S_IFLNK, "loop"},
                     {"dangling", S_IFLNK, "nothing"}});
    auto index = index_of(path);
    REQUIRE(index);
    for (const char* p : {"b/layer.tar", "c/layer.tar", "d", "./b//layer.tar"}) {
        const TarIndex::Entry* e = index->follow(p);
        REQUIRE(e);
        CHECK(e->type == S_IFREG);
        CHECK(e == index->find("a/layer.tar"));
    }
    CHECK(index->find("b/layer.tar")->type == S_IFLNK);  // find() follows nothing
    CHECK(index->follow("dangling") == nullptr);
    CHECK(index->follow("missing") == nullptr);
    CHECK_THROWS_WITH(index->follow("up"), "`up` leads out of the archive");
    CHECK_THROWS_WITH(index->follow("abs"), "`abs` leads out of the archive");
    CHECK_THROWS_WITH(index->follow("../a/layer.tar"), "`../a/layer.tar` leads out of the archive");
    CHECK_THROWS_WITH(index->follow("loop"), "`loop`: too many symlinks");

    // A link of 200,000 components: refused after a bounded walk, not walked for minutes.
    std::string deep;
    for (int i = 0; i < 200000; ++i) deep += "a/";
    write_tar(path, {{"x", S_IFLNK, deep + "f"}});
    index = index_of(path);
    REQUIRE(index);
    CHECK_THROWS_WITH(index->follow("x"), "`x`: too many path components");
}
