// Registry authentication, the pure parts: credentials from the files podman
// and docker write (auth.json, ~/.docker/config.json) or --creds, the
// WWW-Authenticate challenges a registry answers 401 with, and the token
// server's answer.  File lookups are in find_credentials; everything else is
// pure and unit-tested.  Errors are Error(EINVAL) naming the source.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crunlite/image/reference.hpp"

namespace crunlite::image {

struct Credentials {
    std::string username, password;
};

// --creds USER[:PASS] (a password may contain ':').
Credentials parse_creds(std::string_view text);

// The credentials for `ref` in an auth.json / docker config.json text: the
// most specific "auths" key first (HOST/NAME/..., then HOST; Docker's
// "https://HOST/v1/" forms and docker.io's index.docker.io count too), each
// entry an "auth" (base64 of USER:PASS) or "username"/"password".  nullopt
// when none applies.  `source` names the file in errors.
std::optional<Credentials> lookup_auth(std::string_view text, const std::string& source, const Reference& ref);

// The auth files podman reads, in its order: `authfile` alone when given (it
// must exist); else $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
// $XDG_CONFIG_HOME/containers/auth.json (default ~/.config), then
// $DOCKER_CONFIG/config.json (default ~/.docker).  The first file with an entry
// for `ref` wins.
std::vector<std::string> auth_files(const std::string& authfile);
std::optional<Credentials> find_credentials(const Reference& ref, const std::string& authfile);

// One challenge of a WWW-Authenticate header: the scheme in lower case
// ("bearer", "basic") and its parameters (keys in lower case).
struct Challenge {
    std::string scheme;
    std::map<std::string, std::string> params;
};
// RFC 7235: comma-separated challenges, each a scheme and auth-params
// (token or quoted-string values).  Throws on a malformed header.
std::vector<Challenge> parse_www_authenticate(std::string_view header);

// The URL to ask a Bearer challenge's realm for a token to pull `repository`:
// REALM?service=SERVICE&scope=repository:NAME:pull (no scope for an empty
// repository: a login).  The realm must be an http(s) URL.
std::string token_url(const Challenge& bearer, const std::string& repository);

// The token server's JSON answer: "token" or, OAuth2's, "access_token".
std::string parse_token_response(std::string_view text, const std::string& source);

// An auth.json text with the entry `key` ("HOST[:PORT]" or "HOST/NAMESPACE")
// set to `creds` ({"auth": base64(USER:PASS)}), or removed when `creds` is
// nullopt (`removed` tells whether it was there).  Other entries, and other
// top-level keys holding a string or an object of strings (credsStore,
// credHelpers), are kept; anything else is an error naming it, never dropped.
std::string auth_json_with(std::string_view text, const std::string& source, const std::string& key,
                           const std::optional<Credentials>& creds, bool* removed = nullptr);

// Where `image login` writes by default: $REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/UID/auth.json (podman's).
std::string default_login_file();

// Base64 (RFC 4648, with padding) of `data`, and back (throws on bad input).
std::string base64_encode(std::string_view data);
std::string base64_decode(std::string_view text, const std::string& what);

}  // namespace crunlite::image
