// @containers.tsv's lines and reader (state/index.hpp): pure, no files.
#include <catch2/catch.hpp>

#include "crunlite/state/index.hpp"

using namespace crunlite::state;
using namespace crunlite::state::index;

namespace {

State sample(const std::string& id, pid_t pid) {
    State st;
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

std::string saved(const State& st) { return saved_line(listing(st)); }

}  // namespace

TEST_CASE("index: the last line of an ID wins; removed IDs are left out; sorted", "[state][index]") {
    std::string text = header(2) + saved(sample("b", 10)) + saved(sample("a", 11)) + look_line("c") +
                       removed_line("b") + saved(sample("d", 12)) + saved(sample("a", 13)) + removed_line("never-saved");
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
    State want = sample("d", 12);
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
    CHECK(bare.pid == want.pid);
    CHECK(bare.bundle == want.bundle);
    CHECK(bare.created == want.created);
    CHECK(bare.owner == want.owner);

    auto empty = parse(header(0));
    REQUIRE(empty);
    CHECK(empty->live.empty());
}

TEST_CASE("index: a field with a tab or a newline is not written; its container is looked up", "[state][index]") {
    State st = sample("x", 1);
    st.bundle = "/with\ttab";
    CHECK(saved(st) == "?\tx\n");
    st = sample("x", 1);
    st.annotations["k"] = "line\nbreak";
    CHECK(saved(st) == "?\tx\n");
    st = sample("x", 1);
    st.owner.clear();
    st.rootfs.clear();
    std::string text = header(0) + saved(st);  // viewed by the rows
    auto p = parse(text);
    REQUIRE(p);
    REQUIRE(p->live.size() == 1);
    CHECK(p->live[0].owner.empty());
    CHECK(p->live[0].rootfs.empty());
}

TEST_CASE("index: text that is not a whole index is refused", "[state][index]") {
    std::string good = header(0) + saved(sample("a", 1));
    REQUIRE(parse(good));
    CHECK_FALSE(parse(""));
    CHECK_FALSE(parse("crun-lite containers 2 0\n"));           // another format
    CHECK_FALSE(parse("crun-lite containers 1 x\n"));           // not a count
    CHECK_FALSE(parse(good.substr(0, good.size() - 1)));        // its last line cut short
    CHECK_FALSE(parse(good + "+\ta\t1\n"));                     // too few fields
    std::string odd = saved(sample("b", 1));
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

TEST_CASE("index: an \"x\" line is a record whose init has exited; the last line of an ID wins", "[state][index]") {
    auto exited = [](const State& st) {
        Listed l = listing(st);
        l.exited = true;
        return saved_line(l);
    };
    State a = sample("a", 11), b = sample("b", 12);
    CHECK(exited(a).substr(0, 2) == "x\t");
    CHECK(exited(a).substr(1) == saved(a).substr(1));
    // Appended: b's exit, then a's, then a restarted (a new record).
    // The rows view the text: it outlives them.
    std::string text = header(0) + saved(a) + saved(b) + exited(b) + exited(a) + saved(sample("a", 21));
    auto p = parse(text);
    REQUIRE(p);
    REQUIRE(p->live.size() == 2);
    CHECK(p->live[0].pid == 21);
    CHECK_FALSE(p->live[0].exited);
    CHECK(p->live[1].pid == 12);
    CHECK(p->live[1].exited);
    CHECK(p->live[1].bundle == b.bundle);
    text = header(0) + exited(a);
    auto bare = parse(text, false);
    REQUIRE(bare);
    CHECK(bare->live.at(0).exited);
    CHECK_FALSE(parse(header(0) + "x\ta\t11\n"));  // not a whole record
}
