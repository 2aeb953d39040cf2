// The app's container directories in a temp image store, without privilege: made
// under the store lock, live while their creator holds the lock or their state
// exists, pinning images that rm refuses and prune keeps, and dead ones removed.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "crunlite/app/container_dirs.hpp"
#include "crunlite/base/error.hpp"

using namespace crunlite;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

struct TempStore {
    std::string root;
    std::string state_root;
    TempStore() {
        char tmpl[] = "/tmp/crl-container-dirs-XXXXXX";
        std::string base = ::mkdtemp(tmpl);
        root = base + "/store";
        state_root = base + "/state";
        fs::create_directories(state_root);
    }
    ~TempStore() { fs::remove_all(fs::path(root).parent_path()); }
    // The runtime's state of container `id` appears (its state.json).
    void make_state(const std::string& id) const {
        fs::create_directories(state_root + "/" + id);
        std::ofstream(state_root + "/" + id + "/state.json") << "{}";
    }
};

}  // namespace

TEST_CASE("container dirs: live while locked or while their state exists, then pruned") {
    TempStore t;
    app::ContainerDirs dirs(t.root);
    image::Store store(t.root, image::UnpackOptions{}, &dirs);
    {
        sys::UniqueFd lock = dirs.create(store, "web", t.state_root + "/web");
        CHECK(app::container_dir_live(dirs.dir("web")));
        CHECK_THROWS_WITH(dirs.create(store, "web", t.state_root + "/web"),
                          Contains("container with given ID already exists"));
        dirs.pin(dirs.dir("web"), "sha256:aaaa");
        CHECK(dirs.images_in_use() == std::map<std::string, std::string>{{"sha256:aaaa", "web"}});
        t.make_state("web");
    }
    // The creator is gone; the state keeps it live.
    CHECK(app::container_dir_live(dirs.dir("web")));
    CHECK_THROWS_WITH(dirs.remove_dead(store, "web"), Contains("is in use"));
    store.prune();
    CHECK(fs::exists(dirs.dir("web")));

    fs::remove_all(t.state_root + "/web");  // a reboot empties the state root
    CHECK_FALSE(app::container_dir_live(dirs.dir("web")));
    CHECK(dirs.images_in_use().empty());
    store.prune();
    CHECK_FALSE(fs::exists(dirs.dir("web")));
    CHECK_FALSE(dirs.remove_dead(store, "web"));
}

TEST_CASE("container dirs: a dead one of a reused id is removed and stays dead") {
    TempStore t;
    app::ContainerDirs dirs(t.root);
    image::Store store(t.root, image::UnpackOptions{}, &dirs);
    { sys::UniqueFd lock = dirs.create(store, "db", t.state_root + "/db"); }
    dirs.pin(dirs.dir("db"), "sha256:old");
    {
        sys::UniqueFd lock = dirs.create(store, "db", t.state_root + "/db");
        t.make_state("db");  // the new container's state, at the same path
        dirs.pin(dirs.dir("db"), "sha256:new");
    }
    CHECK(dirs.images_in_use() == std::map<std::string, std::string>{{"sha256:new", "db"}});
    // Nothing moved aside (only files of subordinate ids that the caller cannot
    // remove would be); prune keeps the live one.
    auto entries = [&] {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(t.root + "/containers")) out.push_back(e.path().filename());
        return out;
    };
    CHECK(entries() == std::vector<std::string>{"db"});
    store.prune();
    CHECK(entries() == std::vector<std::string>{"db"});
}

TEST_CASE("container dirs: a pin of a missing image writes nothing; bad ids are refused") {
    TempStore t;
    app::ContainerDirs dirs(t.root);
    image::Store store(t.root, image::UnpackOptions{}, &dirs);
    sys::UniqueFd lock = dirs.create(store, "c1", t.state_root + "/c1");
    CHECK_THROWS_WITH(store.pin("app:1", dirs.dir("c1")), Contains("is not in the store"));
    std::ifstream state(dirs.dir("c1") + "/state");
    std::string text((std::istreambuf_iterator<char>(state)), std::istreambuf_iterator<char>());
    CHECK(text == t.state_root + "/c1\n");  // the state path, and no image
    CHECK_THROWS_WITH(dirs.create(store, "../x", t.state_root + "/x"), Contains("invalid container ID format: `../x`"));
    CHECK_THROWS_WITH(dirs.remove_dead(store, ".."), Contains("invalid container ID format"));
    CHECK_FALSE(fs::exists(t.root + "/x"));
}

TEST_CASE("container dirs: the directory is the lock; a directory from before the pin moved into state still pins") {
    TempStore t;
    app::ContainerDirs dirs(t.root);
    image::Store store(t.root, image::UnpackOptions{}, &dirs);
    {
        sys::UniqueFd lock = dirs.create(store, "web", t.state_root + "/web");
        CHECK_FALSE(fs::exists(dirs.dir("web") + "/lock"));
        dirs.pin(dirs.dir("web"), "sha256:aaaa");
        CHECK(dirs.images_in_use() == std::map<std::string, std::string>{{"sha256:aaaa", "web"}});
    }
    // Unlocked and without state: dead.
    CHECK(dirs.images_in_use().empty());

    // The layout before: the image id in a file of its own.
    fs::create_directories(dirs.dir("old"));
    std::ofstream(dirs.dir("old") + "/state") << t.state_root + "/old\n";
    std::ofstream(dirs.dir("old") + "/image") << "sha256:bbbb\n";
    t.make_state("old");
    CHECK(dirs.images_in_use() == std::map<std::string, std::string>{{"sha256:bbbb", "old"}});
}
