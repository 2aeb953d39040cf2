// Named volumes, as podman keeps them: <store>/volumes/<name>/_data, made by
// `volume create` or by the first -v NAME:DST that names one, filled from the
// image when a container mounts it empty (the runtime's copyup option), kept
// until `volume rm` or `volume prune`.  Anonymous volumes (-v DST, an image's
// Volumes) are directories of the container's own and go with it.
#pragma once

#include <string>
#include <vector>

#include "crunlite/sys/fd.hpp"

namespace crunlite::app {

class Volumes {
public:
    explicit Volumes(const std::string& store_root) : store_root_(store_root), root_(store_root + "/volumes") {}

    // <store>/volumes/<name>/_data, the directory containers mount.
    std::string data(const std::string& name) const { return root_ + "/" + name + "/_data"; }
    bool exists(const std::string& name) const;
    // Makes `name` (Error(EINVAL) for a name valid_volume_name refuses); false when it existed.
    bool create(const std::string& name) const;
    // A shared lock on `name` for a container being made with it, until the fd
    // closes (its app.json names the volume by then): remove refuses it meanwhile.
    sys::UniqueFd hold(const std::string& name) const;
    std::vector<std::string> list() const;
    // The containers whose app.json mounts `name`.
    std::vector<std::string> users(const std::string& name) const;
    // Removes `name` and its files: Error(ENOENT) when there is none, Error(EBUSY)
    // naming the containers that use it.  Rootless, its files of subordinate ids
    // are removed in the caller's user namespace.
    void remove(const std::string& name) const;
    // When `name` was made, RFC 3339.
    std::string created_at(const std::string& name) const;

private:
    std::string store_root_, root_;
};

// A new volume name where none is given (docker volume create): 64 hex digits.
std::string random_volume_name();

}  // namespace crunlite::app
