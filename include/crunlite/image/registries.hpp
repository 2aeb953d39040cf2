// registries.conf (containers-registries.conf(5), version 2), the file podman
// users already have: short-name search registries, aliases, and per-registry
// settings (mirrors, insecure, blocked).  Parsing and resolution are pure and
// unit-tested; load_registries_conf() reads the files.  Errors name the file
// and the key (Error(EINVAL)).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/image/reference.hpp"

namespace crunlite::image {

struct RegistryEndpoint {
    std::string location;  // "host[:port][/path]"
    bool insecure = false;  // no TLS verification (and plain http allowed)
};

struct RegistryEntry {
    std::string prefix;  // "host[:port][/path]" or "*.domain"; default: location
    std::string location;
    bool insecure = false, blocked = false;
    std::vector<RegistryEndpoint> mirrors;
    std::string source;  // the file it came from
};

struct RegistriesConf {
    std::vector<std::string> search;              // unqualified-search-registries
    bool search_set = false;                      // a file set it (even to [])
    std::map<std::string, std::string> aliases;   // "app" -> "registry.example/team/app"
    std::vector<RegistryEntry> registries;
    std::vector<std::string> files;               // what was read, in order
};

// One file's contents.  Unknown keys are ignored, as containers/image does;
// the version 1 format ([registries.search]) is refused.
RegistriesConf parse_registries_conf(std::string_view text, const std::string& source);

// Applies a later file (a drop-in) over `base`: a search list it sets replaces
// the earlier one, its aliases and registries (by prefix) replace those of the
// same name.
void merge_registries_conf(RegistriesConf& base, RegistriesConf&& later);

// The files podman reads: $CONTAINERS_REGISTRIES_CONF alone when set; else
// ~/.config/containers/registries.conf (rootless, when it exists) or
// /etc/containers/registries.conf, then the *.conf drop-ins of
// /etc/containers/registries.conf.d and (rootless) ~/.config/containers/registries.conf.d,
// in name order.  Missing files are skipped.
RegistriesConf load_registries_conf();

// True when `name` (no transport) names its registry: its first component has
// a '.' or ':' or is "localhost" ("registry.example/app", not "team/app").
bool is_qualified_name(std::string_view name);

// A short name ("app", "team/app:1", "app@sha256:...") to the one reference to
// pull: an alias, else the only search registry.  Several search registries
// are ambiguous: Error(EINVAL) listing the candidates; none: Error(ENOENT).
// Never a silent pick.
Reference resolve_short_name(std::string_view name, const RegistriesConf& conf);

// Where to fetch `ref` from, in order: the mirrors of its [[registry]] entry
// (longest matching prefix), then the registry itself at its location; each
// with the insecure flag that applies.  A blocked registry is Error(EACCES)
// naming the file.
struct Endpoint {
    Reference ref;  // registry and repository rewritten for this endpoint
    bool insecure = false;
    bool mirror = false;
};
std::vector<Endpoint> endpoints(const Reference& ref, const RegistriesConf& conf);

}  // namespace crunlite::image
