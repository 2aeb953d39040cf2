// Registry image references, as `podman pull docker://...` takes them:
//   docker://[HOST[:PORT]/]NAME[:TAG][@DIGEST]
// normalised as Docker does: a first component without '.' or ':' that is not
// "localhost" is part of the name on docker.io, and a one-component name there
// lives under "library/" (docker://busybox is docker.io/library/busybox:latest).
// Short names through registries.conf are not resolved here.  Pure; errors are
// Error(EINVAL) naming the reference and what is wrong with it.
#pragma once

#include <string>
#include <string_view>

#include "crunlite/image/manifest.hpp"

namespace crunlite::image {

inline constexpr std::string_view kRegistryTransport = "docker://";

struct Reference {
    std::string registry;    // "127.0.0.1:5000", "docker.io"
    std::string repository;  // "library/busybox", "app"
    std::string tag;         // "latest" unless a digest alone was given
    std::string digest;      // "sha256:<64 hex>" or ""

    // What the store names the image: "HOST/NAME:TAG", or "HOST/NAME@DIGEST" for a digest.
    std::string name() const;
    // The manifest to ask for: the digest when given, else the tag.
    std::string reference() const { return digest.empty() ? tag : digest; }
    // The host the API is served by (docker.io's is registry-1.docker.io).
    std::string api_host() const;
};

// True when `text` names a registry image (starts with docker://).
bool is_registry_ref(std::string_view text);

// Parses "docker://..." (the transport is required).
Reference parse_reference(std::string_view text);

// Checks a name the store is to give an image ("app:1", "localhost/app",
// "HOST:PORT/team/app@sha256:..."), read from an archive or given by the user:
// the grammar above, and not an id ("sha256:..." or 64 hex digits), which would
// stand for another image's id.  Throws Error(EINVAL) naming the name and why;
// returns it parsed.
Reference check_image_name(std::string_view name);

// "os/arch[/variant]" (--platform); "linux/arm64/v8".  The names uname and distributions
// use stand for the OCI ones, as podman takes them: x86_64 and x86-64 amd64, aarch64 arm64,
// i386 and i686 386, armhf arm/v7, armel arm/v6.
Platform parse_platform(std::string_view text);

// This machine: linux/<host_arch()>.
Platform host_platform();

}  // namespace crunlite::image
