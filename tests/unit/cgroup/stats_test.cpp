// `events --stats` on fake cgroup directories: runc's fields from v1 (hybrid)
// and v2 files, its zero-value omissions, and files that are missing or odd.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "crunlite/cgroup/manager.hpp"
#include "crunlite/json/json.hpp"

#include <sys/stat.h>
#include "temp_dir.hpp"

using namespace crunlite;

namespace {

void put(const std::string& dir, const std::string& file, const std::string& text) {
    std::ofstream(dir + "/" + file) << text;
}

// The stats event's "data", parsed (which checks it is JSON) and as written.
struct Stats {
    std::string text;
    json::Document doc;
    explicit Stats(const cgroup::Paths& p)
        : text(cgroup::stats_json(p, "c1")), doc(json::parse(text, "stats")) {}
    json::Value data() const { return doc.root().at("data"); }
    // The text of data's member `key` (the objects here hold no string with a brace).
    std::string section(const std::string& key) const {
        size_t start = text.find("\"" + key + "\":");
        REQUIRE(start != std::string::npos);
        start += key.size() + 3;
        size_t end = start;
        int depth = 0;
        do {
            if (text[end] == '{' || text[end] == '[') ++depth;
            if (text[end] == '}' || text[end] == ']') --depth;
            ++end;
        } while (depth > 0 && end < text.size());
        return text.substr(start, end - start);
    }
};

}  // namespace

TEST_CASE("stats: v1 hierarchies give runc's fields", "[stats]") {
    testing::TempDir t("crl-stats");
    cgroup::Paths p;
    for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "hugetlb"}) {
        std::string d = t.path + "/" + c;
        REQUIRE(::mkdir(d.c_str(), 0755) == 0);
        p.v1[c] = d;
    }
    put(p.v1["cpuacct"], "cpuacct.usage", "3000\n");
    put(p.v1["cpuacct"], "cpuacct.usage_percpu", "1000 2000 \n");
    put(p.v1["cpuacct"], "cpuacct.usage_percpu_sys", "400 0 \n");
    put(p.v1["cpuacct"], "cpuacct.usage_percpu_user", "600 2000 \n");
    put(p.v1["cpuacct"], "cpuacct.usage_sys", "400\n");
    put(p.v1["cpuacct"], "cpuacct.usage_user", "2600\n");
    put(p.v1["cpu"], "cpu.stat", "nr_periods 10\nnr_throttled 0\nthrottled_time 5000\n");
    put(p.v1["cpuset"], "cpuset.cpus", "0-2,5\n");
    put(p.v1["cpuset"], "cpuset.mems", "0\n");
    put(p.v1["cpuset"], "cpuset.sched_load_balance", "1\n");
    put(p.v1["cpuset"], "cpuset.sched_relax_domain_level", "-1\n");
    put(p.v1["memory"], "memory.usage_in_bytes", "8192\n");
    put(p.v1["memory"], "memory.max_usage_in_bytes", "16384\n");
    put(p.v1["memory"], "memory.limit_in_bytes", "9223372036854771712\n");
    put(p.v1["memory"], "memory.failcnt", "0\n");
    put(p.v1["memory"], "memory.memsw.usage_in_bytes", "8192\n");
    put(p.v1["memory"], "memory.stat", "cache 4096\nrss 4096\n");
    put(p.v1["pids"], "pids.current", "2\n");
    put(p.v1["pids"], "pids.max", "max\n");
    put(p.v1["blkio"], "blkio.throttle.io_service_bytes_recursive", "8:0 Read 512\n8:0 Write 0\nTotal 512\n");
    put(p.v1["blkio"], "blkio.throttle.io_serviced", "8:0 Read 1\nTotal 1\n");  // no _recursive: the plain file
    put(p.v1["hugetlb"], "hugetlb.2MB.usage_in_bytes", "0\n");
    put(p.v1["hugetlb"], "hugetlb.2MB.failcnt", "3\n");
    put(p.v1["hugetlb"], "hugetlb.2MB.rsvd.usage_in_bytes", "0\n");

    Stats st(p);
    CHECK(st.section("cpu") == R"({"usage":{"total":3000,"percpu":[1000,2000],"percpu_kernel":[400,0],)"
                               R"("percpu_user":[600,2000],"kernel":400,"user":2600},)"
                               R"("throttling":{"periods":10,"throttledTime":5000}})");
    CHECK(st.section("cpuset") == R"({"cpus":[0,1,2,5],"cpu_exclusive":0,"mems":[0],"mem_hardwall":0,)"
                                  R"("mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,)"
                                  R"("memory_pressure":0,"sched_load_balance":1,"sched_relax_domain_level":-1})");
    CHECK(st.section("memory") == R"({"cache":4096,"usage":{"limit":9223372036854771712,"usage":8192,"max":16384,"failcnt":0},)"
                                  R"("swap":{"limit":0,"usage":8192,"failcnt":0},"kernel":{"limit":0,"failcnt":0},)"
                                  R"("kernelTCP":{"limit":0,"failcnt":0},"raw":{"cache":4096,"rss":4096}})");
    CHECK(st.section("pids") == R"({"current":2})");  // "max": no limit
    CHECK(st.section("blkio") == R"({"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":512},{"major":8,"op":"Write"}],)"
                                 R"("ioServicedRecursive":[{"major":8,"op":"Read","value":1}]})");
    CHECK(st.section("hugetlb") == R"({"2MB":{"failcnt":3}})");
    CHECK(st.section("intel_rdt") == "{}");
    CHECK(st.text.find(R"("network_interfaces":null)") != std::string::npos);
}

TEST_CASE("stats: cgroup v2 gives the same fields, converted as runc converts them", "[stats]") {
    testing::TempDir t("crl-stats");
    cgroup::Paths p;
    p.unified = t.path;
    put(t.path, "cpu.stat", "usage_usec 30\nuser_usec 20\nsystem_usec 10\nnr_periods 4\nnr_throttled 2\nthrottled_usec 7\n");
    put(t.path, "cpuset.cpus.effective", "1\n");
    put(t.path, "memory.current", "100\n");
    put(t.path, "memory.max", "1000\n");
    put(t.path, "memory.peak", "150\n");
    put(t.path, "memory.events", "low 0\nhigh 0\nmax 6\noom 1\noom_kill 1\n");
    put(t.path, "memory.swap.current", "5\n");
    put(t.path, "memory.swap.max", "max\n");
    put(t.path, "memory.stat", "anon 60\nfile 40\n");
    put(t.path, "pids.current", "1\n");
    put(t.path, "pids.max", "40\n");
    put(t.path, "io.stat", "8:16 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
    put(t.path, "hugetlb.1GB.current", "0\n");
    put(t.path, "hugetlb.1GB.events", "max 0\n");

    Stats st(p);
    CHECK(st.section("cpu") == R"({"usage":{"total":30000,"kernel":10000,"user":20000},)"
                               R"("throttling":{"periods":4,"throttledPeriods":2,"throttledTime":7000}})");
    CHECK(st.section("cpus") == "[1]");
    CHECK(st.data().at("cpuset").at("sched_relax_domain_level").as_int64() == 0);
    // Swap as v1 has it: memory and swap together; its "max" is no limit.
    CHECK(st.section("memory") == R"({"cache":40,"usage":{"limit":1000,"usage":100,"max":150,"failcnt":6},)"
                                  R"("swap":{"limit":18446744073709551615,"usage":105,"failcnt":0},)"
                                  R"("kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0},)"
                                  R"("raw":{"anon":60,"file":40}})");
    CHECK(st.section("pids") == R"({"current":1,"limit":40})");
    CHECK(st.section("blkio") == R"({"ioServiceBytesRecursive":[{"major":8,"minor":16,"op":"Read","value":4096},)"
                                 R"({"major":8,"minor":16,"op":"Write"}],)"
                                 R"("ioServicedRecursive":[{"major":8,"minor":16,"op":"Read","value":1},)"
                                 R"({"major":8,"minor":16,"op":"Write"}]})");
    CHECK(st.section("hugetlb") == R"({"1GB":{"failcnt":0}})");
    // No memory limit: the swap limit (memory + swap) is none either, not a wrapped sum.
    put(t.path, "memory.max", "max\n");
    put(t.path, "memory.swap.max", "100\n");
    CHECK(Stats(p).section("swap") == R"({"limit":18446744073709551615,"usage":105,"failcnt":0})");
}

TEST_CASE("stats: no cgroup, missing and malformed files give runc's empty shape", "[stats]") {
    testing::TempDir t("crl-stats");
    cgroup::Paths none;
    Stats st(none);
    CHECK(st.section("cpu") == R"({"usage":{"kernel":0,"user":0},"throttling":{}})");
    CHECK(st.section("pids") == "{}");
    CHECK(st.section("blkio") == "{}");
    cgroup::Paths odd;
    odd.unified = t.path;
    put(t.path, "cpuset.cpus.effective", "3-1\n");
    put(t.path, "io.stat", "garbage\n8:0 rbytes=x wbytes=2\n:\n");
    put(t.path, "memory.stat", "anon\nfile -1\n");
    Stats ost(odd);
    CHECK_FALSE(ost.data().at("cpuset").find("cpus"));
    CHECK(ost.section("blkio") == R"({"ioServiceBytesRecursive":[{"major":8,"op":"Write","value":2}]})");
    CHECK(ost.section("memory").find("raw") == std::string::npos);
}
