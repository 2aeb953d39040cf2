// @containers.tsv's lines and reader (state/index.hpp): pure, no files.
#include <catch2/catch.hpp>

#include <tuple>

#include "crunlite/state/index.hpp"

using namespace crunlite::state;
using namespace crunlite::state::index;

namespace {

Listed listed(const std::string& id, pid_t pid) {
    Listed st;
    st.id = id;
    st.pid = pid;
    st.start_time = 98765;
    st.bundle = "/b/" + id;
    st.rootfs = "/b/" + id + "/rootfs";
    st.created = "2026-12-04T19:07:01.260521065Z";
    st.owner = "root";
    st.annotations = {{"org.crun-lite.image", "sha256:ab"}, {"empty", ""}};
    return st;
}

}  // namespace

TEST_CASE("index: the last line of an ID wins; removed IDs are left out; sorted", "[state][index]") {
    std::string text = header(2) + saved_line(listed("b", 10)) + saved_line(listed("a", 11)) + look_line("c") +
                       removed_line("b") + saved_line(listed("d", 12)) + saved_line(listed("a", 13)) +
                       removed_line("never-saved");
    auto p = parse(text);
    REQUIRE(p);
    CHECK(p->aux_dirs == 2);
    CHECK(p->lines == 7);
    REQUIRE(p->live.size() == 3);
    CHECK(p->live[0].id == "a");
    CHECK(p->live[0].pid == 13);
    CHECK(p->live[1].id == "c");
    CHECK(p->looks == std::vector<size_t>{1});
    CHECK(p->live[2].id == "d");

    const Listed& got = p->live[2];
    Listed want = listed("d", 12);
    CHECK(got.start_time == want.start_time);
    CHECK(got.bundle == want.bundle);
    CHECK(got.rootfs == want.rootfs);
    CHECK(got.created == want.created);
    CHECK(got.owner == want.owner);
    CHECK(got.annotations == want.annotations);
    // Without all fields: those up to the owner, but the rootfs.
    auto without = parse(text, false);
    REQUIRE(without);
    const Listed& bare = without->live[2];
    CHECK(bare.annotations.empty());
    CHECK(bare.rootfs.empty());
    CHECK(std::tie(bare.pid, bare.bundle, bare.created, bare.owner) ==
          std::tie(want.pid, want.bundle, want.created, want.owner));

    auto empty = parse(header(0));
    REQUIRE(empty);
    CHECK(empty->live.empty());
}

TEST_CASE("index: a field with a tab or a newline is not written; its container is looked up", "[state][index]") {
    Listed st = listed("x", 1);
    st.bundle = "/with\ttab";
    CHECK(saved_line(st) == "?\tx\n");
    st = listed("x", 1);
    st.annotations["k"] = "line\nbreak";
    CHECK(saved_line(st) == "?\tx\n");
    st = listed("x", 1);
    st.owner.clear();
    st.rootfs.clear();
    auto p = parse(header(0) + saved_line(st));
    REQUIRE(p);
    REQUIRE(p->live.size() == 1);
    CHECK(p->live[0].owner.empty());
    CHECK(p->live[0].rootfs.empty());
}

TEST_CASE("index: text that is not a whole index is refused", "[state][index]") {
    std::string good = header(0) + saved_line(listed("a", 1));
    REQUIRE(parse(good));
    CHECK_FALSE(parse(""));
    CHECK_FALSE(parse("crun-lite containers 2 0\n"));           // another format
    CHECK_FALSE(parse("crun-lite containers 1 x\n"));           // not a count
    CHECK_FALSE(parse(good.substr(0, good.size() - 1)));        // its last line cut short
    CHECK_FALSE(parse(good + "+\ta\t1\n"));                     // too few fields
    std::string odd = saved_line(listed("b", 1));
    odd.insert(odd.size() - 1, "\tk");
    CHECK_FALSE(parse(good + odd));  // a key without a value
    CHECK(parse(good + odd, false));  // not read without all fields
    CHECK_FALSE(parse(good + "+\tb\tpid\t1\t/b\t/r\tc\to\n"));  // a pid that is not a number
    CHECK_FALSE(parse(good + "-\t../escape\n"));               // not an ID
    CHECK_FALSE(parse(good + "-\t\n"));
    CHECK_FALSE(parse(good + "*\ta\n"));                       // not a change
    CHECK_FALSE(parse(good + "?\ta\textra\n"));
    CHECK_FALSE(parse(good + "\n"));
    // A line that no longer counts is only a change of an ID.
    CHECK(parse(good + "+\tb\tpid\n" + removed_line("b")));
    CHECK_FALSE(parse(good + "+\t../b\t1\n" + removed_line("b")));
}
