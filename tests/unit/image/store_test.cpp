// The image store's name index, without privilege: images without layers
// (a config alone) imported into a temp store, found by name through
// names/, a name moving between images, rm dropping its links, and a stale,
// corrupt or missing index read around (a full scan) and rebuilt by the next
// locked operation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "crunlite/base/error.hpp"
#include "crunlite/base/sha256.hpp"
#include "crunlite/image/store.hpp"
#include "../temp_dir.hpp"

using namespace crunlite;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

struct TempStore {
    testing::TempDir dir{"crl-image-store"};
    std::string root = dir.path + "/store";
    image::Store store{root, image::UnpackOptions::unprivileged()};
    // An image of no layers whose config differs by `label`, named `names`.
    std::string add(const std::string& label, std::vector<std::string> names) {
        image::Store::Parts parts;
        parts.config_json = R"({"architecture": "amd64", "os": "linux", "config": {"Labels": {"n": ")" + label +
                            R"("}}, "rootfs": {"type": "layers", "diff_ids": []}})";
        parts.names = std::move(names);
        parts.label = "test image " + label;
        return store.import(parts).id;
    }
    std::string link(const std::string& name) const {
        return root + "/names/" + sha256_digest(name).substr(7);
    }
    // The files of names/ besides the marker.
    size_t links() const {
        size_t n = 0;
        for (const auto& e : fs::directory_iterator(root + "/names")) n += e.path().filename() != "complete";
        return n;
    }
};

}  // namespace

TEST_CASE("image store index: each name is a link to its image, and moves with the name") {
    TempStore t;
    std::string a = t.add("a", {"app:1", "localhost/tool"});
    CHECK(fs::exists(t.root + "/names/complete"));
    CHECK(t.links() == 2);
    CHECK(fs::read_symlink(t.link("app:1")) == "../images/" + a.substr(7));
    CHECK(t.store.inspect("app:1").id == a);
    CHECK(t.store.inspect("tool").id == a);  // localhost/tool:latest
    CHECK(t.store.inspect(a.substr(7, 8)).id == a);

    std::string b = t.add("b", {"app:1"});
    CHECK(fs::read_symlink(t.link("app:1")) == "../images/" + b.substr(7));
    CHECK(t.store.inspect("app:1").id == b);
    CHECK(t.store.inspect(a).names == std::vector<std::string>{"localhost/tool:latest"});
    CHECK(t.links() == 2);

    // A second load of the same image with another name keeps the first.
    t.add("b", {"app:2"});
    CHECK(t.store.inspect("app:2").id == b);
    CHECK(t.store.inspect("app:1").id == b);
    CHECK(t.links() == 3);

    // ls lists no config; inspect gives it.
    for (const auto& img : t.store.list()) CHECK(img.config_json.empty());
    CHECK_THAT(t.store.inspect("app:2").config_json, Contains(R"("n": "b")"));
}

TEST_CASE("image store index: rm drops the image's links, and its names resolve no more") {
    TempStore t;
    std::string a = t.add("a", {"app:1", "app:2"});
    std::string b = t.add("b", {"other"});
    t.store.remove("app:2");
    CHECK(t.links() == 1);
    CHECK_THROWS_WITH(t.store.inspect("app:1"), Contains("`app:1` is not in the store"));
    CHECK_THROWS_WITH(t.store.inspect(a), Contains("is not in the store"));
    CHECK(t.store.inspect("other").id == b);
    CHECK(fs::is_empty(t.root + "/tmp"));
}

TEST_CASE("image store index: a short name is localhost's, else docker.io's (podman's order)") {
    TempStore t;
    std::string b = t.add("b", {"docker.io/library/app:1"});
    CHECK(t.store.inspect("app:1").id == b);
    std::string a = t.add("a", {"localhost/app:1"});
    CHECK(t.store.inspect("app:1").id == a);  // a local build first
    CHECK(t.store.inspect("library/app:1").id == b);
    std::string c = t.add("c", {"app:1"});
    CHECK(t.store.inspect("app:1").id == c);  // the exact name first
}

TEST_CASE("image store: an id is looked up as an id, and a name that starts another image's id is ambiguous") {
    TempStore t;
    std::string a = t.add("a", {"app:1"});
    // Names a store of an older crun-lite may hold (loads check names now).
    std::string b = t.add("b", {a, a.substr(7)});
    for (bool indexed : {true, false}) {
        if (!indexed) fs::remove(t.root + "/names/complete");
        CHECK(t.store.inspect(a).id == a);
        CHECK(t.store.inspect(a.substr(7)).id == a);
        CHECK(t.store.pin(a, "h").id == a);
    }
    std::string c = t.add("c", {a.substr(7, 12)});
    CHECK_THROWS_WITH(t.store.inspect(a.substr(7, 12)),
                      Contains(a.substr(7, 12) + ":latest (" + c.substr(0, 19) + ") and app:1 (" + a.substr(0, 19) + ")"));
    CHECK(t.store.inspect(c.substr(7, 12)).id == c);
    (void)b;
}

TEST_CASE("image store index: a stale, missing or corrupt link is read around, and a locked operation rebuilds it") {
    TempStore t;
    std::string a = t.add("a", {"app:1"});
    std::string b = t.add("b", {"db:1"});
    std::string link = t.link("app:1");
    SECTION("a link to an image without the name") {
        fs::remove(link);
        fs::create_symlink("../images/" + b.substr(7), link);
    }
    SECTION("a link to an image that is gone") {
        fs::remove(link);
        fs::create_symlink("../images/" + std::string(64, 'f'), link);
    }
    SECTION("a link out of the store") {
        fs::remove(link);
        fs::create_symlink("../images/../../../etc", link);
    }
    SECTION("no link (a name an older crun-lite gave)") {
        fs::remove(link);
    }
    SECTION("a file instead of a link") {
        fs::remove(link);
        std::ofstream(link) << "garbage";
    }
    CHECK(t.store.inspect("app:1").id == a);  // by a scan
    CHECK(t.store.pin("app:1", "unused").id == a);  // under the lock: rebuilt
    CHECK(fs::read_symlink(link) == "../images/" + a.substr(7));
    CHECK(t.store.inspect("db:1").id == b);
}

TEST_CASE("image store index: a store without one (an older crun-lite's) is scanned, then indexed") {
    TempStore t;
    std::string a = t.add("a", {"app:1"});
    std::string b = t.add("b", {"db:1"});
    fs::remove_all(t.root + "/names");
    image::Store old(t.root, image::UnpackOptions::unprivileged());  // makes names/, empty
    CHECK_FALSE(fs::exists(t.root + "/names/complete"));
    CHECK(old.inspect("app:1").id == a);
    CHECK_THAT(old.inspect("db:1").config_json, Contains(R"("n": "b")"));  // found by a scan, with its config
    CHECK_THROWS_WITH(old.inspect("web"), Contains("`web` is not in the store"));
    CHECK(t.links() == 0);
    CHECK(old.pin("db:1", "unused").id == b);
    CHECK(fs::exists(t.root + "/names/complete"));
    CHECK(t.links() == 2);
    CHECK(fs::read_symlink(t.link("app:1")) == "../images/" + a.substr(7));
}

TEST_CASE("image store index: prune rebuilds it, without the links of removed images") {
    TempStore t;
    std::string a = t.add("a", {"app:1"});
    std::ofstream(t.root + "/names/" + std::string(64, '0')) << "junk";
    fs::create_symlink("../images/" + a.substr(7), t.root + "/names/" + std::string(64, '1'));
    t.store.prune();
    CHECK(t.links() == 1);
    CHECK(fs::exists(t.root + "/names/complete"));
    CHECK(t.store.inspect("app:1").id == a);
}

namespace {

// id -> names, as list() gives them.
std::map<std::string, std::vector<std::string>> listed(const image::Store& store) {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& img : store.list()) out[img.id] = img.names;
    return out;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace

TEST_CASE("image store summary: images.tsv follows imports, name moves, rm and prune") {
    TempStore t;
    std::string summary = t.root + "/images.tsv";
    std::string a = t.add("a", {"app:1", "app:2"});
    REQUIRE(fs::exists(summary));
    std::string b = t.add("b", {"app:2"});  // takes app:2 from a
    using Names = std::vector<std::string>;
    std::map<std::string, Names> want{{a, Names{"app:1"}}, {b, Names{"app:2"}}};
    CHECK(listed(t.store) == want);
    CHECK_THAT(read_text(summary), Contains(b) && Contains("app:2"));
    t.store.remove("app:1");
    CHECK(listed(t.store) == std::map<std::string, Names>{{b, Names{"app:2"}}});
    CHECK_THAT(read_text(summary), !Contains(a));
    t.add("c", {});  // no name: prune takes it
    CHECK(t.store.list().size() == 2);
    t.store.prune();
    CHECK(listed(t.store) == std::map<std::string, Names>{{b, Names{"app:2"}}});
    std::string left = read_text(summary);
    CHECK(std::count(left.begin(), left.end(), '\n') == 2);  // the header, b
}

TEST_CASE("image store summary: ls reads it alone while current, and every image when it is not") {
    TempStore t;
    std::string summary = t.root + "/images.tsv";
    std::string a = t.add("a", {"app:1"});
    // Proof that ls reads the summary: a name changed in it (stamp kept) is what ls shows.
    std::string text = read_text(summary);
    REQUIRE(text.find("app:1") != std::string::npos);
    text.replace(text.find("app:1"), 5, "app:9");
    std::ofstream(summary, std::ios::trunc) << text;
    CHECK(t.store.list().at(0).names == std::vector<std::string>{"app:9"});

    SECTION("images/ changed since (a crun-lite that knows no summary added an image)") {
        fs::create_directory(t.root + "/images/x");
        fs::remove(t.root + "/images/x");
    }
    SECTION("missing (a locked operation was interrupted)") {
        fs::remove(summary);
    }
    SECTION("cut short") {
        std::ofstream(summary, std::ios::trunc) << text.substr(0, text.size() - 20);
    }
    SECTION("a line that is not an image's") {
        std::ofstream(summary, std::ios::app) << "sha256:x\tname\n";
    }
    CHECK(t.store.list().at(0).names == std::vector<std::string>{"app:1"});  // every image read
    CHECK(t.store.list().at(0).id == a);
    t.store.prune();  // a locked operation writes it anew
    CHECK_THAT(read_text(summary), Contains("app:1"));
    CHECK(t.store.list().at(0).names == std::vector<std::string>{"app:1"});
}
