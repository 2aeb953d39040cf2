// The JSON documents of an image (OCI image-spec and Docker's archive format),
// parsed into what import and image runs need.  Pure; errors name the document
// and JSON path; duplicate keys are refused (json::parse).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crunlite::image {

struct Platform {
    std::string os, architecture, variant;
};

struct Descriptor {
    std::string media_type;
    std::string digest;  // "sha256:<64 hex>", checked
    int64_t size = 0;
    std::map<std::string, std::string> annotations;
    std::optional<Platform> platform;
};

// An OCI index (index.json or a nested image index): its manifests.
std::vector<Descriptor> parse_index(std::string_view text, const std::string& source);

// True for media types of an index (OCI or Docker manifest list).
bool is_index(const std::string& media_type);
// True for media types of an image manifest (OCI or Docker v2 schema 2).
bool is_manifest(const std::string& media_type);

// Whether an image for `have` serves a request for `want`: the same os and
// architecture, and the same variant when both name one.
bool platform_matches(const Platform& have, const Platform& want);

// "linux/arm64", "linux/arm64/v8".
std::string platform_name(const Platform& p);

// The manifest for `want` among an index's entries: exact os/architecture (and
// variant when both name one); attestation manifests (buildkit's
// "vnd.docker.reference.type: attestation-manifest", platform unknown/unknown)
// are never picked.  An entry without a platform matches when it is the only
// candidate.  Throws Error(ENOENT) listing what the index offers.
Descriptor select_manifest(const std::vector<Descriptor>& entries, const Platform& want, const std::string& source);

struct Manifest {
    Descriptor config;
    std::vector<Descriptor> layers;
};
Manifest parse_manifest(std::string_view text, const std::string& source);

// Refuses layer media types crun-lite cannot unpack (a layout's or a registry's
// manifest); `what` names the layer.  Pure.
void check_layer_media_type(const Descriptor& layer, const std::string& what);

struct Healthcheck {
    std::vector<std::string> test;  // ["CMD", ...], ["CMD-SHELL", "..."], ["NONE"]
    int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0, start_interval_ns = 0;
    int retries = 0;
};

// An ExposedPorts key ("8080/tcp", "53/udp", "80": tcp, "7000-7010/tcp"), or
// nullopt when it is not one.
struct ExposedPorts {
    int first = 0, last = 0;
    std::string proto;
};
std::optional<ExposedPorts> parse_exposed_port(const std::string& key);

struct ImageConfig {
    Platform platform;
    std::vector<std::string> diff_ids;
    std::string user, working_dir, stop_signal;
    std::vector<std::string> env, entrypoint, cmd;
    std::vector<std::string> exposed_ports, volumes;
    std::map<std::string, std::string> labels;
    std::optional<Healthcheck> healthcheck;  // Docker format keeps it; OCI output may drop it
};
ImageConfig parse_image_config(std::string_view text, const std::string& source);

// docker-archive's manifest.json: one entry per image in the archive.
struct DockerArchiveImage {
    std::string config;  // path inside the archive ("blobs/sha256/..." or "<hex>.json")
    std::vector<std::string> repo_tags;
    std::vector<std::string> layers;  // paths inside the archive
};
std::vector<DockerArchiveImage> parse_docker_manifest(std::string_view text, const std::string& source);

}  // namespace crunlite::image
