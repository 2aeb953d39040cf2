#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/image/manifest.hpp"

using namespace crunlite::image;

namespace {
const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string entry(const std::string& digest, const std::string& platform, const std::string& annotations = "") {
    return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + digest +
           R"(","size":10)" + (platform.empty() ? "" : R"(,"platform":)" + platform) +
           (annotations.empty() ? "" : R"(,"annotations":)" + annotations) + "}";
}
}  // namespace

TEST_CASE("an index picks the host platform and skips attestations", "[manifest]") {
    std::string index = R"({"schemaVersion":2,"manifests":[)" +
                        entry(kA, R"({"os":"linux","architecture":"arm64","variant":"v8"})") + "," +
                        entry(kB, R"({"os":"linux","architecture":"amd64"})") + "," +
                        entry(kC, R"({"os":"unknown","architecture":"unknown"})",
                              R"({"vnd.docker.reference.type":"attestation-manifest"})") +
                        "]}";
    auto entries = parse_index(index, "index.json");
    REQUIRE(entries.size() == 3);
    CHECK(select_manifest(entries, {"linux", "amd64", ""}, "index.json").digest == kB);
    CHECK(select_manifest(entries, {"linux", "arm64", "v8"}, "index.json").digest == kA);
    CHECK_THROWS_WITH(select_manifest(entries, {"linux", "s390x", ""}, "index.json"),
                      "index.json: no image for linux/s390x (it has: linux/arm64/v8, linux/amd64)");
    // An index of thousands is named by its first ten.
    std::vector<Descriptor> many(5000, entries[0]);
    CHECK_THROWS_WITH(select_manifest(many, {"linux", "s390x", ""}, "index.json"),
                      Catch::EndsWith("linux/arm64/v8 and 4990 more)"));
    // Several without a platform (an OCI layout of several images): a tag says which.
    auto two = parse_index(R"({"manifests":[)" + entry(kA, "") + "," + entry(kB, "") + "]}", "i");
    CHECK_THROWS_WITH(select_manifest(two, {"linux", "amd64", ""}, "i"),
                      "i: 2 images, none for a platform: name one by its tag (oci:DIR:TAG)");
    // A single entry without a platform (docker save's index) is taken as is.
    auto one = parse_index(R"({"manifests":[)" + entry(kA, "") + "]}", "i");
    CHECK(select_manifest(one, {"linux", "amd64", ""}, "i").digest == kA);
    CHECK(is_index("application/vnd.oci.image.index.v1+json"));
    CHECK_FALSE(is_index("application/vnd.oci.image.manifest.v1+json"));
}

TEST_CASE("manifests and bad descriptors", "[manifest]") {
    auto m = parse_manifest(R"({"config":{"digest":")" + kA + R"(","size":2},"layers":[{"digest":")" + kB +
                                R"(","size":3,"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip"}]})",
                            "m.json");
    CHECK(m.config.digest == kA);
    REQUIRE(m.layers.size() == 1);
    CHECK(m.layers[0].size == 3);
    CHECK_THROWS_WITH(parse_manifest(R"({"config":{"digest":"sha256:../../etc","size":2},"layers":[]})", "m.json"),
                      Catch::Contains("m.json: config.digest: expected a sha256 digest"));
    CHECK_THROWS_WITH(parse_manifest(R"({"config":{"digest":")" + kA + R"(","size":2},"layers":[],"layers":[]})",
                                     "m.json"),
                      Catch::Contains("duplicate key"));
    auto config_of_type = [&](const std::string& type) {
        return parse_manifest(
            R"({"config":{"mediaType":")" + type + R"(","digest":")" + kA + R"(","size":2},"layers":[]})", "m.json");
    };
    CHECK_NOTHROW(config_of_type("application/vnd.oci.image.config.v1+json"));
    CHECK_NOTHROW(config_of_type("application/vnd.docker.container.image.v1+json"));
    CHECK_THROWS_WITH(config_of_type("application/vnd.cncf.helm.config.v1+json"),
                      Catch::Contains("m.json: config media type `application/vnd.cncf.helm.config.v1+json` is not"));
}

TEST_CASE("image config: the runtime stage's user, command and healthcheck", "[manifest]") {
    auto c = parse_image_config(R"({"os":"linux","architecture":"amd64",
        "config":{"User":"nextjs","Env":["PATH=/usr/bin","NODE_ENV=production"],"WorkingDir":"/app",
          "Cmd":["node","dist/index.js"],"ExposedPorts":{"3000/tcp":{}},"StopSignal":"SIGTERM",
          "Healthcheck":{"Test":["CMD-SHELL","wget -qO- localhost:3000/health"],"Interval":5000000000,
                         "Timeout":2000000000,"Retries":3}},
        "rootfs":{"type":"layers","diff_ids":[")" + kA + R"("]}})",
                                "config.json");
    CHECK(c.user == "nextjs");
    CHECK(c.cmd == std::vector<std::string>{"node", "dist/index.js"});
    CHECK(c.working_dir == "/app");
    CHECK(c.exposed_ports == std::vector<std::string>{"3000/tcp"});
    REQUIRE(c.healthcheck);
    CHECK(c.healthcheck->test[0] == "CMD-SHELL");
    CHECK(c.healthcheck->interval_ns == 5000000000);
    CHECK(c.healthcheck->retries == 3);
    CHECK(c.diff_ids == std::vector<std::string>{kA});
    CHECK_THROWS_WITH(parse_image_config(R"({"config":{"Healthcheck":{"Interval":-1}}})", "c"),
                      Catch::Contains("c: config.Healthcheck.Interval: must not be negative"));
    // A count beyond an int is an error naming it, not a wrapped (negative) number.
    CHECK_THROWS_WITH(parse_image_config(R"({"config":{"Healthcheck":{"Retries":4294967297}}})", "c"),
                      Catch::Contains("config.Healthcheck.Retries"));
}

TEST_CASE("image config: Volumes and ExposedPorts keys are checked", "[manifest]") {
    auto c = parse_image_config(R"({"config":{"Volumes":{"/data":{},"/var/lib/app/":{},"/a/../b":{},"/a/./b":{},
        "/data/.":{}}, "ExposedPorts":{"80":{},"53/udp":{},"7000-7010/tcp":{},"9/sctp":{}}}})", "c");
    // Cleaned as Docker and podman mount them; once each.
    CHECK(c.volumes == std::vector<std::string>{"/data", "/var/lib/app", "/b", "/a/b"});
    CHECK(c.exposed_ports.size() == 4);
    for (const char* key : {"/", "//", "", "data", "..", "/..", "/a/.."})
        CHECK_THROWS_WITH(parse_image_config(R"({"config":{"Volumes":{")" + std::string(key) + R"(":{}}}})", "c"),
                          Catch::Contains("c: config.Volumes: key `" + std::string(key) + "`: a volume"));
    for (const char* key : {"abc/xyz", "0/tcp", "99999/tcp", "80/TCP", "80/", "10-5/tcp", "80/tcp,81/tcp"})
        CHECK_THROWS_WITH(parse_image_config(R"({"config":{"ExposedPorts":{")" + std::string(key) + R"(":{}}}})", "c"),
                          Catch::Contains("c: config.ExposedPorts: key `" + std::string(key) + "`: want PORT"));
}

TEST_CASE("docker-archive manifest.json", "[manifest]") {
    auto imgs = parse_docker_manifest(
        R"([{"Config":"blobs/sha256/aa","RepoTags":["app:latest"],"Layers":["blobs/sha256/bb","blobs/sha256/cc"]}])",
        "manifest.json");
    REQUIRE(imgs.size() == 1);
    CHECK(imgs[0].repo_tags == std::vector<std::string>{"app:latest"});
    CHECK(imgs[0].layers.size() == 2);
    CHECK_THROWS_WITH(parse_docker_manifest(R"([{"RepoTags":[]}])", "manifest.json"),
                      Catch::Contains("manifest.json: [0].Config"));
}
