// Pulling an image from a registry (OCI distribution spec v2) into the store.
//
// The network part runs in a helper program, crun-lite-pull (src/pull/, in
// libexec next to crun-lite-init): it links libcurl dynamically, which Debian's
// libcurl needs (its static archive wants Kerberos, LDAP, SSH... that ship no
// static libraries), while crun-lite itself stays a static-pie binary (see
// docs/design.md, "Registry pulls: a dynamic helper").  Two requests:
//
//   manifest: resolve REF to one manifest (an index is narrowed to the
//             platform), fetch its config blob; both verified (digest, size,
//             Docker-Content-Digest, 4 MiB caps).  Answers one JSON object.
//   blob:     stream one blob's bytes to stdout (a pipe), at most its size.
//
// The request is JSON on the helper's stdin (credentials never reach argv);
// a failure is "ERRNO MESSAGE" on its stderr and a non-zero exit.  The blob
// pipe feeds Store::import directly, so a layer goes from the socket through
// decompression, both digests and the unpacker without a temporary file, and
// appears in the store only once verified; layers the store has are not
// fetched.  This side (in the core library) re-checks every digest it is given.
#pragma once

#include <optional>
#include <string>

#include "crunlite/image/manifest.hpp"
#include "crunlite/image/reference.hpp"
#include "crunlite/image/registries.hpp"
#include "crunlite/image/registry_auth.hpp"
#include "crunlite/image/store.hpp"

namespace crunlite::image {

// Caps on what a registry may send before it is parsed (containers/image uses the same).
inline constexpr size_t kMaxManifest = 4 * 1024 * 1024;
inline constexpr size_t kMaxConfig = 8 * 1024 * 1024;

struct PullOptions {
    std::optional<Platform> platform;       // --platform; default host_platform()
    std::optional<Credentials> creds;       // --creds; default: the auth files
    std::string authfile;                   // --authfile
    std::string cert_dir;                   // --cert-dir; default certs.d of the registry
    bool tls_verify = true;                 // --tls-verify=false: no verification, http allowed
    bool tls_verify_set = false;            // given: registries.conf's insecure does not override it
    int stall_timeout = 30;                 // s below 1 KiB/s before a transfer is abandoned
    int max_redirects = 10;
    std::string helper;                     // default find_pull_helper()
};

// What `resolve` found.
struct Resolved {
    std::string name;  // what the store calls it: the reference asked for, even when a mirror served it
    Reference ref;     // where it was found (a mirror, or the registry itself)
    PullOptions options;  // as they apply there (registries.conf's insecure)
    std::string digest;         // the manifest's ("sha256:...")
    std::string manifest_json;  // its bytes
    Manifest manifest;
    std::string config_json;    // the config blob, checked against manifest.config
    // For the blob requests: how the registry was reached and the credentials.
    std::string scheme, authorization;
    std::optional<Credentials> creds;
    std::string cert_dir;
};

// What to pull for `text`: docker://... as Docker reads it, a fully qualified
// HOST/NAME[:TAG|@DIGEST], or a short name resolved through registries.conf
// (registries.hpp: an alias or the one search registry; ambiguity is an error).
Reference parse_pull_reference(std::string_view text);

// Resolves `ref` through the helper (no store involved), trying the mirrors
// registries.conf gives it first, then the registry (a blocked one is
// refused).  Throws Error naming the registry and repository (ENOENT: unknown
// manifest or no platform match, EACCES: authentication or blocked,
// ETIMEDOUT, EPROTO: TLS, ...); after failed mirrors, the registry's error.
Resolved resolve(const Reference& ref, const PullOptions& options);

// Imports what `resolve` found into `store` (Store::import): only layers the
// store lacks are fetched, each streamed through a helper's pipe from where
// the manifest came from.  The image gets the name resolved.name.
StoredImage import(Store& store, const Resolved& resolved, const Store::Progress& progress = {});

// image login: checks `creds` with the registry of `key` ("HOST[:PORT]" or
// "HOST[:PORT]/NAMESPACE") through the helper (a token asked for with them, or
// /v2/ with basic auth), then records them under `key` in `authfile` (default:
// default_login_file()), written 0600 (its directory 0700 when made).  Throws
// naming the registry (EACCES when refused).
void login(const std::string& key, const Credentials& creds, const PullOptions& options, const std::string& authfile);
// image logout: removes `key` from `authfile` (default as login); false when it
// had no entry.
bool logout(const std::string& key, const std::string& authfile);

// crun-lite-pull: $CRUNLITE_PULL, the installed libexec copy, or the build tree's.
std::string find_pull_helper();

}  // namespace crunlite::image
