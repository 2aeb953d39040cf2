#include <catch2/catch.hpp>

#include "crunlite/base/error.hpp"
#include "crunlite/image/manifest.hpp"
#include "crunlite/image/pull.hpp"
#include "crunlite/image/reference.hpp"

using namespace crunlite::image;
using crunlite::Error;

namespace {
const std::string kDigest = "sha256:" + std::string(64, 'a');
}

TEST_CASE("registry references are parsed and normalised as Docker does", "[reference]") {
    Reference r = parse_reference("docker://127.0.0.1:5000/team/app:1.0");
    CHECK(r.registry == "127.0.0.1:5000");
    CHECK(r.repository == "team/app");
    CHECK(r.tag == "1.0");
    CHECK(r.digest.empty());
    CHECK(r.reference() == "1.0");
    CHECK(r.name() == "127.0.0.1:5000/team/app:1.0");
    CHECK(r.api_host() == "127.0.0.1:5000");

    r = parse_reference("docker://busybox");
    CHECK(r.registry == "docker.io");
    CHECK(r.repository == "library/busybox");
    CHECK(r.tag == "latest");
    CHECK(r.api_host() == "registry-1.docker.io");
    CHECK(r.name() == "docker.io/library/busybox:latest");

    r = parse_reference("docker://someone/tool");
    CHECK(r.registry == "docker.io");
    CHECK(r.repository == "someone/tool");

    r = parse_reference("docker://localhost/app@" + kDigest);
    CHECK(r.registry == "localhost");
    CHECK(r.tag.empty());
    CHECK(r.digest == kDigest);
    CHECK(r.reference() == kDigest);
    CHECK(r.name() == "localhost/app@" + kDigest);

    r = parse_reference("docker://quay.io/a/b/c:v1@" + kDigest);  // both: the digest is pulled
    CHECK(r.reference() == kDigest);
    CHECK(r.tag == "v1");

    r = parse_reference("docker://[::1]:5000/app");
    CHECK(r.registry == "[::1]:5000");
    CHECK(r.repository == "app");

    r = parse_reference("docker://registry.example:443/my_app__x/a-b.c:V_1.2-rc");
    CHECK(r.repository == "my_app__x/a-b.c");
    CHECK(r.tag == "V_1.2-rc");
    CHECK(is_registry_ref("docker://x"));
    CHECK_FALSE(is_registry_ref("docker-archive:x.tar"));
}

TEST_CASE("bad references name what is wrong", "[reference]") {
    auto fails = [](const std::string& text, const std::string& why) {
        try {
            parse_reference(text);
            FAIL("accepted " << text);
        } catch (const Error& e) {
            CHECK(e.code() == EINVAL);
            CHECK_THAT(e.message(), Catch::Contains(why));
            CHECK_THAT(e.message(), Catch::Contains("invalid image reference"));
        }
    };
    fails("busybox", "want docker://");
    fails("docker://", "no image name");
    fails("docker://127.0.0.1:5000/", "no image name");
    fails("docker://Upper/x", "invalid name component");  // no '.' or ':': a name, and names are lower case
    fails("docker://host.example/App", "invalid name component `App`");
    fails("docker://host.example/a//b", "invalid name component");
    fails("docker://host.example/a..b", "invalid name component");
    fails("docker://host.example/a___b", "invalid name component");
    fails("docker://host.example/-a", "invalid name component");
    fails("docker://host.example:99999/a", "invalid registry");
    fails("docker://host.example:/a", "invalid registry");
    fails("docker://bad_host.example/a", "invalid registry");
    fails("docker://host.example/a:", "invalid tag");
    fails("docker://host.example/a:.x", "invalid tag");
    fails("docker://host.example/a:" + std::string(129, 'x'), "invalid tag");
    fails("docker://host.example/a@sha256:abc", "digest");
    fails("docker://host.example/a@md5:" + std::string(32, 'a'), "digest");
    fails("docker://host.example/" + std::string(300, 'a'), "longer than 255");
}

TEST_CASE("image names: Docker's grammar, and never an id", "[reference]") {
    for (const char* ok : {"app:1", "app", "localhost/app:1.0", "docker.io/library/busybox:latest",
                           "127.0.0.1:5000/team/app@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                           "cafe:latest", "c601ebad781b"})
        CHECK_NOTHROW(check_image_name(ok));
    auto fails = [](const std::string& name, const std::string& why) {
        try {
            check_image_name(name);
            FAIL("accepted " << name);
        } catch (const Error& e) {
            CHECK(e.code() == EINVAL);
            CHECK_THAT(e.message(), Catch::StartsWith("invalid image name `" + name + "`: ") && Catch::Contains(why));
        }
    };
    const std::string hex(64, 'c');
    fails("sha256:" + hex, "an image id, not a name");
    fails("sha256:c601", "an image id, not a name");
    fails(hex, "64 hex digits are an image id");
    fails(hex + ":latest", "64 hex digits are an image id");
    fails("docker.io/library/" + hex, "64 hex digits are an image id");
    fails("BAD TAG!!:::", "invalid tag");
    fails("App:1", "invalid name component `App`");
    fails("", "no image name");
    fails(std::string(300, 'a') + ":1", "longer than 255");
}

TEST_CASE("platforms: --platform and index matching", "[reference]") {
    Platform p = parse_platform("linux/arm64/v8");
    CHECK(p.os == "linux");
    CHECK(p.architecture == "arm64");
    CHECK(p.variant == "v8");
    CHECK(parse_platform("linux/amd64").variant.empty());
    for (const char* bad : {"linux", "linux/", "/amd64", "linux/arm/v7/x", "", "linux/a md64"})
        CHECK_THROWS_WITH(parse_platform(bad), Catch::Contains("want OS/ARCH[/VARIANT]"));
    CHECK(host_platform().os == "linux");
    CHECK(host_platform().architecture == host_arch());

    auto desc = [](const std::string& digest, Platform pl) {
        Descriptor d;
        d.digest = digest;
        d.platform = pl;
        return d;
    };
    std::string a = "sha256:" + std::string(64, '1'), b = "sha256:" + std::string(64, '2'),
                c = "sha256:" + std::string(64, '3');
    std::vector<Descriptor> entries = {desc(a, {"linux", "arm", "v6"}), desc(b, {"linux", "arm", "v7"}),
                                       desc(c, {"linux", "amd64", ""})};
    CHECK(select_manifest(entries, parse_platform("linux/arm/v7"), "i").digest == b);
    CHECK(select_manifest(entries, parse_platform("linux/amd64"), "i").digest == c);
    CHECK(select_manifest(entries, parse_platform("linux/arm"), "i").digest == a);  // no variant asked: the first
    CHECK_THROWS_WITH(select_manifest(entries, parse_platform("windows/amd64"), "i"),
                      Catch::Contains("no image for windows/amd64 (it has: linux/arm/v6, linux/arm/v7, linux/amd64)"));
    CHECK_THROWS_WITH(select_manifest(entries, parse_platform("linux/arm/v5"), "i"),
                      Catch::Contains("no image for linux/arm/v5 (it has: linux/arm/v6,"));
    // uname's and distributions' names, as podman takes them.
    CHECK(select_manifest(entries, parse_platform("linux/x86_64"), "i").digest == c);
    CHECK(select_manifest(entries, parse_platform("linux/armhf"), "i").digest == b);
    CHECK(parse_platform("linux/aarch64").architecture == "arm64");
    CHECK(parse_platform("linux/armel").variant == "v6");
    CHECK(parse_platform("linux/i686").architecture == "386");
    CHECK(platform_matches({"linux", "arm64", ""}, {"linux", "arm64", "v8"}));
    CHECK_FALSE(platform_matches({"linux", "arm", "v6"}, {"linux", "arm", "v7"}));
    CHECK_FALSE(platform_matches({"linux", "amd64", ""}, {"linux", "arm64", ""}));
}

TEST_CASE("layer media types crun-lite cannot unpack are refused by name", "[reference]") {
    Descriptor d;
    for (const char* ok : {"application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
                           "application/vnd.oci.image.layer.v1.tar+zstd",
                           "application/vnd.docker.image.rootfs.diff.tar.gzip"}) {
        d.media_type = ok;
        CHECK_NOTHROW(check_layer_media_type(d, "layer x"));
    }
    d.media_type = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    CHECK_THROWS_WITH(check_layer_media_type(d, "layer x"), Catch::Contains("foreign, non-distributable"));
    d.media_type = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted";
    CHECK_THROWS_WITH(check_layer_media_type(d, "layer x"), Catch::Contains("encrypted layers are not supported"));
    d.media_type = "";
    CHECK_THROWS_WITH(check_layer_media_type(d, "layer x"), "layer x: unsupported layer media type `` (none given)");
    d.media_type = "text/html";
    CHECK_THROWS_WITH(check_layer_media_type(d, "layer x"), "layer x: unsupported layer media type `text/html`");
}
