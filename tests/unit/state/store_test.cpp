// The state store on a temp root, without privilege: mkdir-atomic create (also
// raced between threads and processes), state.json round trip and atomic
// replacement, the flock on mutating verbs, list, remove, and errors.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <latch>
#include <thread>
#include <tuple>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/state/index.hpp"
#include "crunlite/state/store.hpp"
#include "temp_dir.hpp"
#include "crunlite/sys/syscalls.hpp"

using namespace crunlite;
using namespace crunlite::state;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Catch::Contains;

namespace {

// A store whose root is a temp directory, removed with everything in it at the end.
struct TempStore {
    testing::TempDir tmp{"crl-state"};
    const std::string& path = tmp.path;
    Store store{path + "/root"};
};

State sample(const std::string& id) {
    State st;
    st.id = id;
    st.pid = 4242;
    st.start_time = 123456789;
    st.bundle = "/bundles/" + id;
    st.rootfs = "/bundles/" + id + "/rootfs";
    st.created = "2026-01-02T03:04:05.123456789Z";
    st.owner = "user";
    st.annotations = {{"a", "1"}, {"org.example/key", "with \"quotes\" and spaces"}};
    st.config_path = "/bundles/" + id + "/config.json";
    st.pid_namespace = false;
    st.rootless = true;
    st.setgroups = false;
    st.cgroup_unified = "/sys/fs/cgroup/unified/" + id;
    st.cgroup_v1 = {{"memory", "/sys/fs/cgroup/memory/" + id}};
    return st;
}

auto fields(const State& s) {
    return std::tie(s.id, s.pid, s.start_time, s.bundle, s.rootfs, s.created, s.owner, s.annotations,
                    s.config_path, s.pid_namespace, s.rootless, s.setgroups, s.cgroup_unified, s.cgroup_v1);
}

// The errno of the Error f throws (-1: none thrown).
int code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return -1;
}

void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// flock(LOCK_EX | LOCK_NB) on a fresh open of `dir`: 0 when it was free, else errno.
int try_lock(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = ::flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
    ::close(fd);
    return rc;
}

}  // namespace

TEST_CASE("save_ahead: the state counts from commit() or adopt(); dropped before, nothing is left", "[state]") {
    TempStore t;
    t.store.create_dir("c1");
    State st = sample("c1");
    std::string tmp = t.path + "/root/c1/state.json.tmp";
    {
        PendingSave pending = t.store.save_ahead(st);
        CHECK(fs::exists(tmp));
        CHECK(code_of([&] { t.store.load("c1"); }) == ENOENT);
        CHECK(t.store.list().rows.empty());
        pending.commit();
    }
    CHECK(fields(t.store.load("c1")) == fields(st));
    CHECK(t.store.list().rows.size() == 1);
    CHECK_FALSE(fs::exists(tmp));

    st.pid = 99;
    { PendingSave dropped = t.store.save_ahead(st); }
    CHECK_FALSE(fs::exists(tmp));
    CHECK(t.store.load("c1").pid == 4242);

    // adopt(): another process (the init: process::LaunchRequest::state_handoff) put it in place.
    st.pid = 77;
    {
        PendingSave pending = t.store.save_ahead(st);
        fs::rename(tmp, t.path + "/root/c1/" + crunlite::state::kStateFile);
        pending.adopt();
    }
    CHECK_FALSE(fs::exists(tmp));
    CHECK(t.store.load("c1").pid == 77);
    REQUIRE(t.store.list().rows.size() == 1);
    CHECK(t.store.list().rows[0].pid == 77);
}

TEST_CASE("remove: a directory with state.json alone, or with more in it", "[state]") {
    TempStore t;
    t.store.create_dir("ran");
    t.store.save(sample("ran"));
    t.store.remove("ran");
    CHECK_FALSE(fs::exists(t.store.dir("ran")));
    t.store.create_dir("more");
    t.store.save(sample("more"));
    put(t.store.dir("more") + "/exit", "0");
    t.store.remove("more");
    CHECK_FALSE(fs::exists(t.store.dir("more")));
    CHECK(t.store.list().rows.empty());
}

TEST_CASE("create_dir: the root is made 0700 with its parents; an ID only once", "[state]") {
    TempStore t;
    Store s(t.path + "/a/b/root");
    s.create_dir("c1");
    CHECK(fs::is_directory(s.dir("c1")));
    CHECK((fs::status(s.root()).permissions() & fs::perms::all) == fs::perms::owner_all);
    CHECK_FALSE(s.exists("c1"));  // no state.json yet
    CHECK_THROWS_WITH(s.create_dir("c1"), "container with given ID already exists");
    CHECK(code_of([&] { s.create_dir("c1"); }) == EEXIST);
}

TEST_CASE("create_dir raced from threads: exactly one wins", "[state]") {
    TempStore t;
    for (int round = 0; round < 20; ++round) {
        std::string id = "race" + std::to_string(round);
        std::atomic<int> won{0}, refused{0};
        std::latch go(8);
        std::vector<std::thread> threads;
        for (int i = 0; i < 8; ++i)
            threads.emplace_back([&] {
                go.arrive_and_wait();
                int code = code_of([&] { t.store.create_dir(id); });
                if (code == -1) ++won;
                else if (code == EEXIST) ++refused;
            });
        for (auto& th : threads) th.join();
        CHECK(won == 1);
        CHECK(refused == 7);
    }
}

TEST_CASE("create_dir raced from processes: exactly one wins", "[state]") {
    TempStore t;
    int go[2];
    REQUIRE(::pipe(go) == 0);
    std::vector<pid_t> children;
    for (int i = 0; i < 6; ++i) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(go[1]);
            char c;
            while (::read(go[0], &c, 1) < 0 && errno == EINTR) {
            }  // EOF: all start together
            int code = code_of([&] { t.store.create_dir("c1"); });
            ::_exit(code == -1 ? 0 : code == EEXIST ? 1 : 2);
        }
        children.push_back(pid);
    }
    ::close(go[0]);
    ::close(go[1]);
    int won = 0, refused = 0;
    for (pid_t pid : children) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        REQUIRE(WIFEXITED(status));
        won += WEXITSTATUS(status) == 0;
        refused += WEXITSTATUS(status) == 1;
    }
    CHECK(won == 1);
    CHECK(refused == 5);
}

TEST_CASE("save and load round-trip every field", "[state]") {
    TempStore t;
    Store& s = t.store;
    s.create_dir("c1");
    s.save(sample("c1"));
    CHECK(s.exists("c1"));
    CHECK(fields(s.load("c1")) == fields(sample("c1")));
    // setgroups is recorded only when create knew it.
    State unknown = sample("c1");
    unknown.setgroups.reset();
    s.save(unknown);
    CHECK_FALSE(s.load("c1").setgroups);
    s.save(sample("c1"));
    CHECK((fs::status(s.dir("c1") + "/state.json").permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    CHECK_THROWS_WITH(s.load("nope"), "container does not exist");
    CHECK(code_of([&] { s.load("nope"); }) == ENOENT);
    CHECK(code_of([&] { s.load("../root"); }) == EINVAL);
}

TEST_CASE("state.json is replaced atomically: a reader never sees part of it", "[state]") {
    TempStore t;
    Store& s = t.store;
    s.create_dir("c1");
    State small = sample("c1"), big = sample("c1");
    big.annotations["big"] = std::string(512 * 1024, 'x');
    s.save(small);
    std::atomic<bool> stop{false};
    auto reader = std::async(std::launch::async, [&] {
        int loads = 0;
        try {
            for (; !stop; ++loads) {
                State st = s.load("c1");
                if (st.annotations.size() == 3 && st.annotations.at("big").size() != 512 * 1024)
                    return std::to_string(loads) + ": short annotation";
            }
        } catch (const Error& e) {
            return std::to_string(loads) + ": " + e.message();
        }
        return loads > 20 ? std::string() : "too few loads: " + std::to_string(loads);
    });
    auto until = std::chrono::steady_clock::now() + 500ms;
    for (int i = 0; std::chrono::steady_clock::now() < until; ++i) s.save(i % 2 ? big : small);
    stop = true;
    CHECK(reader.get() == "");
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(s.dir("c1"))) left.push_back(e.path().filename().string());
    CHECK(left == std::vector<std::string>{"state.json"});  // no temp file stays behind
}

TEST_CASE("lock: a second lock on the ID waits until the first is released", "[state]") {
    TempStore t;
    Store& s = t.store;
    s.create_dir("c1");
    sys::UniqueFd held = s.lock("c1");
    auto second = std::async(std::launch::async, [&] { return s.lock("c1").valid(); });
    CHECK(second.wait_for(300ms) == std::future_status::timeout);
    held.reset();
    REQUIRE(second.wait_for(10s) == std::future_status::ready);
    CHECK(second.get());
    CHECK(try_lock(s.dir("c1")) == 0);  // released with its fd
    CHECK_THROWS_WITH(s.lock("nope"), "container does not exist");
}

TEST_CASE("lock: an flock on the directory, held across processes until exit", "[state]") {
    TempStore t;
    Store& s = t.store;
    s.create_dir("c1");
    int ready[2], done[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(done) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(ready[0]);
        ::close(done[1]);
        try {
            sys::UniqueFd fd = s.lock("c1");
            char c = 'x';
            if (::write(ready[1], &c, 1) == 1 && ::read(done[0], &c, 1) >= 0) ::_exit(0);
        } catch (const Error&) {
        }
        ::_exit(1);
    }
    ::close(ready[1]);
    ::close(done[0]);
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    CHECK(try_lock(s.dir("c1")) == EWOULDBLOCK);
    ::close(done[1]);  // the child exits
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(status == 0);
    ::close(ready[0]);
    CHECK(try_lock(s.dir("c1")) == 0);
}

namespace {
std::vector<std::string> ids(const Listing& listed) {
    std::vector<std::string> out;
    for (const auto& l : listed.rows) out.emplace_back(l.id);
    return out;
}

// A container `id` with sample(id) as its state.
void add(const Store& s, const std::string& id) {
    s.create_dir(id);
    s.save(sample(id));
}

auto listed_fields(const Listed& l) {
    return std::tie(l.id, l.pid, l.start_time, l.bundle, l.rootfs, l.created, l.owner, l.annotations);
}

// The index's inode (0: none): a list that writes it anew replaces it (rename).
ino_t index_ino(const Store& s) {
    struct stat st;
    return ::stat((s.root() + "/@containers.tsv").c_str(), &st) == 0 ? st.st_ino : 0;
}

// A store holding one container, "keep", and the index a list wrote; returns its path.
std::string one_listed(const Store& s) {
    add(s, "keep");
    CHECK(s.list().rows.size() == 1);
    return s.root() + "/@containers.tsv";
}

// Whether s.list() (returned in `out`) wrote the index anew: it did not match.
bool rebuilt(const Store& s, Listing* out = nullptr) {
    ino_t before = index_ino(s);
    auto listed = s.list();
    if (out) *out = std::move(listed);
    return index_ino(s) != before;
}
}  // namespace

TEST_CASE("list: the containers with a state.json, sorted; remove takes the directory", "[state]") {
    TempStore t;
    Store& s = t.store;
    CHECK(s.list().rows.empty());  // no root yet
    for (const char* id : {"b", "c", "a"}) {
        add(s, id);
    }
    s.create_dir("creating");  // not listed until its state.json exists
    put(s.root() + "/stray", "");
    put(s.root() + "/@events.jsonl", "");
    CHECK(ids(s.list()) == std::vector<std::string>{"a", "b", "c"});
    REQUIRE(::mkfifo(s.fifo_path("b").c_str(), 0600) == 0);
    fs::create_directories(s.dir("b") + "/sub/dir");
    s.remove("b");
    CHECK_FALSE(fs::exists(s.dir("b")));
    CHECK_FALSE(s.exists("b"));
    CHECK(ids(s.list()) == std::vector<std::string>{"a", "c"});
    CHECK_NOTHROW(s.remove("b"));
    s.save(sample("creating"));
    CHECK(ids(s.list()) == std::vector<std::string>{"a", "c", "creating"});
}

TEST_CASE("list: read from the index, which saves and removes keep; rebuilt when it does not match the directories",
          "[state]") {
    TempStore t;
    Store& s = t.store;
    for (const char* id : {"b", "a"}) add(s, id);
    fs::create_directory(s.root() + "/@seccomp-cache");  // not a container's
    std::string index = s.root() + "/@containers.tsv";
    CHECK_FALSE(fs::exists(index));
    Listing listed;
    CHECK(rebuilt(s, &listed));  // from the directories
    CHECK(ids(listed) == std::vector<std::string>{"a", "b"});
    REQUIRE(fs::exists(index));

    // Now from the index: the fields of state.json that `list` shows.
    s.create_dir("c");
    State c = sample("c");
    c.annotations["tab"] = "a\tb";  // not in the index: its state.json is read
    s.save(c);
    CHECK_FALSE(rebuilt(s, &listed));
    REQUIRE(ids(listed) == std::vector<std::string>{"a", "b", "c"});
    for (const auto& l : listed.rows) {
        State want = s.load(std::string(l.id));
        CHECK(listed_fields(l) == listed_fields(listing(want)));
    }
    CHECK(read_file(index).find("?\tc\n") != std::string::npos);
    // A table needs neither rootfs nor annotations.
    for (const auto& l : s.list(false).rows) {
        CHECK(l.bundle == s.load(std::string(l.id)).bundle);
        CHECK((l.id == "c" || (l.rootfs.empty() && l.annotations.empty())));
    }

    // Saved again (a restart): the last line wins.
    State a = sample("a");
    a.pid = 777;
    s.save(a);
    s.remove("b");
    CHECK_FALSE(rebuilt(s, &listed));
    REQUIRE(ids(listed) == std::vector<std::string>{"a", "c"});
    CHECK(listed.rows[0].pid == 777);

    // A container made behind the index's back (another count of directories): listed.
    Store other(t.path + "/other");
    other.create_dir("d");
    other.save(sample("d"));
    fs::rename(other.dir("d"), s.dir("d"));
    CHECK(rebuilt(s, &listed));
    CHECK(ids(listed) == std::vector<std::string>{"a", "c", "d"});
    CHECK_FALSE(rebuilt(s));

    // A directory without a state (being created) is counted, not listed.
    s.create_dir("e");
    CHECK(rebuilt(s, &listed));
    CHECK(ids(listed) == std::vector<std::string>{"a", "c", "d"});
    CHECK_FALSE(rebuilt(s, &listed));
    CHECK(ids(listed) == std::vector<std::string>{"a", "c", "d"});
    s.save(sample("e"));
    CHECK_FALSE(rebuilt(s, &listed));
    CHECK(ids(listed) == std::vector<std::string>{"a", "c", "d", "e"});

    // An index cut short or not one: from the directories.
    std::string text = read_file(index);
    put(index, text.substr(0, text.size() - 3));
    CHECK(rebuilt(s, &listed));
    CHECK(ids(listed) == std::vector<std::string>{"a", "c", "d", "e"});
    put(index, "not an index\n");
    CHECK(rebuilt(s));
    CHECK_FALSE(rebuilt(s));

    // Without an index a change is not recorded; the next list writes one.
    fs::remove(index);
    s.remove("d");
    CHECK_FALSE(fs::exists(index));
    CHECK(ids(s.list()) == std::vector<std::string>{"a", "c", "e"});
    CHECK(fs::exists(index));
}

TEST_CASE("list: the index is written again once removed containers' lines outnumber the others", "[state]") {
    TempStore t;
    Store& s = t.store;
    std::string index = one_listed(s);
    for (int i = 0; i < 200; ++i) {
        std::string id = "gone" + std::to_string(i);
        add(s, id);
        s.remove(id);
    }
    auto size_before = fs::file_size(index);
    CHECK(rebuilt(s));  // 401 lines for one container
    CHECK(fs::file_size(index) < size_before / 50);
    CHECK_FALSE(rebuilt(s));
}

TEST_CASE("save and remove write the index again once it outgrows kRewriteBytes, listed or not", "[state]") {
    TempStore t;
    Store& s = t.store;
    std::string index = one_listed(s);
    // The lines of many containers created and deleted without a `list`.
    auto grow = [&] {
        std::ofstream f(index, std::ios::app);
        std::string line = crunlite::state::index::removed_line("gone-with-a-long-enough-id-to-fill-the-file-fast");
        for (off_t n = 0; n <= crunlite::state::index::kRewriteBytes; n += static_cast<off_t>(line.size())) f << line;
    };
    grow();
    add(s, "new");  // its save finds the index too large
    CHECK(fs::file_size(index) < 1024);
    CHECK_FALSE(rebuilt(s));  // and it is whole: list trusts it
    CHECK(ids(s.list()) == std::vector<std::string>{"keep", "new"});
    grow();
    s.remove("new");  // and so does a remove
    CHECK(fs::file_size(index) < 1024);
    CHECK_FALSE(rebuilt(s));
    CHECK(ids(s.list()) == std::vector<std::string>{"keep"});
}

TEST_CASE("list: the index holds every change made while processes save, remove and list at once", "[state]") {
    TempStore t;
    Store& s = t.store;
    add(s, "seed");
    CHECK(s.list().rows.size() == 1);
    std::vector<pid_t> kids;
    for (int w = 0; w < 4; ++w) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int rc = 0;
            try {
                for (int i = 0; i < 150; ++i) {
                    std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
                    if (w == 3) {
                        (void)s.list();  // rebuilds when it sees a change in flight
                        continue;
                    }
                    add(s, id);
                    if (i % 3) s.remove(id);
                }
            } catch (...) {
                rc = 1;
            }
            ::_exit(rc);
        }
        kids.push_back(pid);
    }
    for (pid_t pid : kids) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    std::vector<std::string> want = {"seed"};
    for (int w = 0; w < 3; ++w)
        for (int i = 0; i < 150; i += 3) want.push_back("w" + std::to_string(w) + "-" + std::to_string(i));
    std::sort(want.begin(), want.end());
    Listing listed;
    (void)rebuilt(s, &listed);  // when removed containers' lines outnumber the others
    CHECK(ids(listed) == want);
    // The index agrees with the directories: read, not written again.
    CHECK_FALSE(rebuilt(s, &listed));
    CHECK(ids(listed) == want);
}

TEST_CASE("a bad state.json or cgroups.json is an error naming the file", "[state]") {
    TempStore t;
    Store& s = t.store;
    s.create_dir("c1");
    std::string file = s.dir("c1") + "/state.json";
    put(file, "{\"id\": \"c1\", ");
    CHECK_THROWS_WITH(s.load("c1"), Contains(file) && Contains("invalid JSON"));
    put(file, "{\"id\": \"c1\"}");
    CHECK_THROWS_WITH(s.load("c1"), Contains(file) && Contains("pid") && Contains("missing"));
    put(s.dir("c1") + "/cgroups.json", "[");
    CHECK_THROWS_WITH(s.load_cgroup_intent("c1"), Contains(s.dir("c1") + "/cgroups.json"));
}

TEST_CASE("the cgroup intent record and the exit status round-trip", "[state]") {
    TempStore t;
    Store& s = t.store;
    s.create_dir("c1");
    CHECK_FALSE(s.load_cgroup_intent("c1"));
    CHECK_FALSE(s.exit_status("c1"));
    s.save_cgroup_intent(sample("c1"));
    auto intent = s.load_cgroup_intent("c1");
    REQUIRE(intent);
    CHECK(intent->cgroup_unified == sample("c1").cgroup_unified);
    CHECK(intent->cgroup_v1 == sample("c1").cgroup_v1);
    CHECK_FALSE(s.exists("c1"));  // the record is not a state
    State st = sample("c1");
    s.record_exit_status(st, 137);
    CHECK(s.exit_status("c1") == 137);
}

TEST_CASE("a recorded exit marks the container's row exited until it is saved again", "[state]") {
    TempStore t;
    Store& s = t.store;
    s.create_dir("c1");
    State st = sample("c1");
    s.save(st);
    s.list();  // writes the index
    auto exited = [&] {
        auto listed = s.list();
        REQUIRE(listed.rows.size() == 1);
        return listed.rows[0].exited;
    };
    CHECK_FALSE(exited());
    s.record_exit_status(st, 0);
    CHECK(exited());
    // Listed from the directories (no index), and in the index written then, by the exit file.
    REQUIRE(::unlink((t.path + "/root/" + index::kFile).c_str()) == 0);
    CHECK(exited());
    CHECK(exited());
    s.clear_exit_status("c1");  // restarted: another init
    st.pid += 1;
    s.save(st);
    CHECK_FALSE(exited());
    REQUIRE(::unlink((t.path + "/root/" + index::kFile).c_str()) == 0);
    CHECK_FALSE(exited());
}

TEST_CASE("status: running, created while exec.fifo exists, stopped when the pid is not ours", "[state]") {
    TempStore t;
    Store& s = t.store;
    s.create_dir("c1");
    State st = sample("c1");
    st.pid = ::getpid();
    sys::ProcStat ps;
    REQUIRE(sys::read_proc_stat(st.pid, ps));
    st.start_time = ps.start_time;
    CHECK(s.status(st) == Status::Running);
    REQUIRE(::mkfifo(s.fifo_path("c1").c_str(), 0600) == 0);
    CHECK(s.status(st) == Status::Created);
    st.start_time += 1;  // the pid was reused by another process
    CHECK(s.status(st) == Status::Stopped);
    st.pid = 0;
    CHECK(s.status(st) == Status::Stopped);
    CHECK_THAT(oci_state_json(st, Status::Stopped, false), Contains("\"pid\":0") && Contains("\"status\":\"stopped\""));
}
