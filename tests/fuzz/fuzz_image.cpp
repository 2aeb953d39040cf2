// The JSON documents of an image (hostile): OCI index, manifest, image config,
// docker-archive manifest.json, and manifest selection for this host.
#include <cstddef>
#include <cstdint>
#include <string>

#include "crunlite/base/error.hpp"
#include "crunlite/image/manifest.hpp"

using namespace crunlite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        auto entries = image::parse_index(text, "index.json");
        image::select_manifest(entries, image::Platform{"linux", "amd64", ""}, "index.json");
    } catch (const Error&) {
    }
    try {
        image::parse_manifest(text, "manifest");
    } catch (const Error&) {
    }
    try {
        image::parse_image_config(text, "config");
    } catch (const Error&) {
    }
    try {
        image::parse_docker_manifest(text, "manifest.json");
    } catch (const Error&) {
    }
    return 0;
}
