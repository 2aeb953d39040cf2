// From an image config (image-spec config.md, conversion.md) and `run --image`
// flags to the pieces of an OCI config.  Pure: the caller reads the container's
// /etc/passwd and /etc/group (in the image's layers, never via getpwnam).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crunlite/image/manifest.hpp"

namespace crunlite::app {

struct ContainerUser {
    uint32_t uid = 0, gid = 0;
    std::vector<uint32_t> additional_gids;  // the primary group (unless USER was ""), then groups listing the user
    std::string home = "/";                 // from its passwd entry
};

// Resolves "USER[:GROUP]" (names or numbers; "" is root) against the
// container's passwd and group files (nullopt: the image has none), with
// Docker's rules: a user name must exist ("unable to find user nextjs: no
// matching entries in passwd file"), a numeric uid need not (gid 0 then, unless
// its entry says otherwise), an explicit group replaces the primary one and the
// supplementary groups.  The supplementary groups are podman's: the primary
// group first whenever `user` is not "", then (without an explicit group) the
// groups of /etc/group that list the user's name.  Throws Error(EINVAL) naming
// what was not found.
ContainerUser resolve_user(const std::string& user, const std::optional<std::string>& passwd,
                           const std::optional<std::string>& group);

// --group-add: each name (a group of the container's /etc/group) or gid.
// Throws Error(EINVAL) "--group-add: unable to find group NAME: ...".
std::vector<uint32_t> resolve_groups(const std::vector<std::string>& names, const std::optional<std::string>& group);

// process.args: (--entrypoint or Entrypoint) + (args after the image, or Cmd
// when none are given).  --entrypoint resets Cmd, as Docker does.  Throws
// Error(EINVAL) when both end up empty.
std::vector<std::string> process_args(const image::ImageConfig& config, const std::optional<std::string>& entrypoint,
                                      const std::vector<std::string>& args);

// process.env: PATH default, then HOSTNAME and HOME, then the image's Env, then
// `overrides` (--env-file lines, then -e), later entries replacing earlier ones
// of the same name in place.  "-e NAME" without "=" takes NAME from `host_env`
// (dropped when unset there), as docker run does.
std::vector<std::string> merge_env(const std::vector<std::string>& image_env, const std::vector<std::string>& overrides,
                                   const std::string& hostname, const std::string& home,
                                   const std::vector<std::string>& host_env);

// -e values: NAME=VALUE or NAME, NAME neither empty nor holding "=", blanks
// or NUL.  Throws Error(EINVAL) "-e `=x`: invalid variable name ``".  Pure.
void check_env_flags(const std::vector<std::string>& env);

// --env-file content: KEY=VALUE lines, "#" comments and blank lines skipped,
// a line with no "=" is a name taken from the host environment.  Throws
// Error(EINVAL) "FILE:LINE: ..." for an invalid name.
std::vector<std::string> parse_env_file(const std::string& content, const std::string& file);

struct VolumeSpec {
    enum class Kind { Bind, Named, Anonymous };
    Kind kind = Kind::Bind;
    std::string source;       // Bind: the absolute host path; Named: the volume's name; Anonymous: ""
    std::string destination;  // absolute
    bool readonly = false;
    bool relabel = false;  // z or Z: SELinux relabeling, which needs a host without SELinux (none to do)
    bool copy = true;      // a volume: filled from the image when empty ("nocopy": not)
    bool recursive = true;  // rbind (the default) or bind
    std::vector<std::string> options;  // passed on to the mount: propagation, [no]exec, [no]suid, [no]dev
};
// -v as Docker and podman read it: SRC:DST[:OPT[,OPT]] binds SRC when it is
// a path (absolute, or starting with "." and relative to `cwd`), else names a
// volume; a lone DST is an anonymous volume.  DST is absolute (and comes
// back cleaned); OPT is ro or rw, z or Z, for volumes copy or nocopy, bind or
// rbind, a propagation ([r]shared, [r]slave, [r]private, [r]unbindable), [no]exec,
// [no]suid and [no]dev: each of those kinds once.
VolumeSpec parse_volume(const std::string& text, const std::string& cwd);
// Whether `opt` is a mount propagation -v and --mount's bind-propagation take.
bool is_propagation(const std::string& opt);
// Whether `name` may name a volume: a letter or digit, then letters, digits, "_", "." or "-".
bool valid_volume_name(const std::string& name);

// Capability names for --cap-add/--cap-drop: "net_raw", "CAP_NET_RAW" or "ALL".
// `base` is the default set; returns the resulting set, sorted.  Throws
// Error(EINVAL) for an unknown name.
std::vector<std::string> adjust_capabilities(const std::vector<std::string>& base, const std::vector<std::string>& add,
                                             const std::vector<std::string>& drop);

// Go-style durations as Docker prints and takes them: "30s", "1m30s", "500ms",
// "1h"; a bare number is seconds.  Nanoseconds; throws Error(EINVAL) naming
// `flag` for anything else or a negative value.
int64_t parse_duration(const std::string& text, const std::string& flag);

}  // namespace crunlite::app
