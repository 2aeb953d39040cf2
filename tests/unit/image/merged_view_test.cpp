#include <catch2/catch.hpp>

#include <map>
#include <vector>

#include "crunlite/base/error.hpp"
#include "crunlite/image/merged_view.hpp"

using namespace crunlite::image;
using K = LayerEntry::Kind;

namespace {
// Layers as maps path -> entry, bottom first; a layer's directories are listed.
using Layer = std::map<std::string, LayerEntry>;

std::optional<MergedEntry> resolve(const std::vector<Layer>& layers, const std::string& path) {
    return resolve_merged(path, layers.size(), [&](size_t l, const std::string& p) {
        if (p == "/") return LayerEntry{K::Directory, {}};
        auto it = layers.at(l).find(p);
        return it == layers.at(l).end() ? LayerEntry{} : it->second;
    });
}

const LayerEntry kDir{K::Directory, {}};
const LayerEntry kFile{K::Regular, {}};
LayerEntry link(const std::string& target) { return {K::Symlink, target}; }

std::string where(const std::optional<MergedEntry>& e) {
    return e ? std::to_string(e->layer) + ":" + e->path : "none";
}
}  // namespace

TEST_CASE("the topmost layer's entry shows", "[merged_view]") {
    std::vector<Layer> layers = {{{"/etc", kDir}, {"/etc/passwd", kFile}, {"/etc/group", kFile}},
                                 {{"/etc", kDir}, {"/etc/passwd", kFile}}};
    CHECK(where(resolve(layers, "/etc/passwd")) == "1:/etc/passwd");
    CHECK(where(resolve(layers, "/etc/group")) == "0:/etc/group");
    CHECK(where(resolve(layers, "etc//./group")) == "0:/etc/group");
    CHECK(where(resolve(layers, "/etc/shadow")) == "none");
    CHECK(resolve(layers, "/etc")->entry.kind == K::Directory);
}

TEST_CASE("a symlink into a lower layer is followed there", "[merged_view]") {
    std::vector<Layer> layers = {
        {{"/usr", kDir}, {"/usr/share", kDir}, {"/usr/share/base", kDir}, {"/usr/share/base/passwd", kFile}},
        {{"/etc", kDir}, {"/etc/passwd", link("/usr/share/base/passwd")}, {"/etc/group", link("../usr/share/base/passwd")}},
    };
    CHECK(where(resolve(layers, "/etc/passwd")) == "0:/usr/share/base/passwd");
    CHECK(where(resolve(layers, "/etc/group")) == "0:/usr/share/base/passwd");
}

TEST_CASE("a directory symlink and .. stay inside the image", "[merged_view]") {
    std::vector<Layer> layers = {
        {{"/real", kDir}, {"/real/etc", kDir}, {"/real/etc/passwd", kFile}, {"/passwd", kFile}},
        {{"/etc", link("real/etc")}, {"/up", link("../../../../passwd")}},
    };
    CHECK(where(resolve(layers, "/etc/passwd")) == "0:/real/etc/passwd");
    CHECK(where(resolve(layers, "/up")) == "0:/passwd");
    CHECK(where(resolve(layers, "/../../etc/passwd")) == "0:/real/etc/passwd");
}

TEST_CASE("whiteouts, files and opaque directories hide the layers below", "[merged_view]") {
    std::vector<Layer> base = {{{"/etc", kDir}, {"/etc/passwd", kFile}, {"/etc/group", kFile}}};
    auto over = [&](Layer top) { auto l = base; l.push_back(std::move(top)); return l; };
    CHECK(where(resolve(over({{"/etc", kDir}, {"/etc/passwd", {K::Whiteout, {}}}}), "/etc/passwd")) == "none");
    CHECK(where(resolve(over({{"/etc", kDir}, {"/etc/passwd", {K::Whiteout, {}}}}), "/etc/group")) == "0:/etc/group");
    CHECK(where(resolve(over({{"/etc", {K::Whiteout, {}}}}), "/etc/passwd")) == "none");
    CHECK(where(resolve(over({{"/etc", {K::OpaqueDirectory, {}}}}), "/etc/passwd")) == "none");
    CHECK(where(resolve(over({{"/etc", {K::OpaqueDirectory, {}}}, {"/etc/passwd", kFile}}), "/etc/passwd")) ==
          "1:/etc/passwd");
    // A file where a lower layer had the directory: nothing below it shows.
    CHECK(where(resolve(over({{"/etc", kFile}}), "/etc/passwd")) == "none");
    // A middle layer without /etc at all hides nothing.
    auto three = over({});
    three.push_back({{"/etc", kDir}});
    CHECK(where(resolve(three, "/etc/group")) == "0:/etc/group");
}

TEST_CASE("dangling, empty and looping symlinks", "[merged_view]") {
    std::vector<Layer> layers = {{{"/etc", kDir}, {"/etc/passwd", link("/nowhere")}, {"/etc/group", link("")},
                                  {"/a", link("/b")}, {"/b", link("/a")}, {"/f", kFile}, {"/g", link("/f/x")}}};
    CHECK(where(resolve(layers, "/etc/passwd")) == "none");
    CHECK(where(resolve(layers, "/etc/group")) == "none");
    CHECK(where(resolve(layers, "/g")) == "none");  // below a file
    CHECK(where(resolve(layers, "/f/..")) == "none");
    CHECK_THROWS_WITH(resolve(layers, "/a"), Catch::Contains("too many levels of symbolic links"));
}
