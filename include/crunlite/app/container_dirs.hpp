// The app's directories in the image store, one per container made from an image
// (run --image, create --image), and how they hold images (image::Holders):
//
//   <store>/containers/<id>/   the container's bundle (app/image_run.hpp), flocked
//                              by the crun-lite creating or running it, and:
//     state                    its runtime state directory (<root>/<id>), then
//                              the image id it uses, appended under the store lock
//
// A directory is live while <state>/state.json exists or its flock is held: image rm
// refuses the images of live containers, prune keeps them and removes the directories
// of dead ones (a reboot empties the state in /run but not the store).  Runs in the
// runtime parent, rootless inside the store's user namespace where app/image_run.hpp's
// with_image_store puts it.
#pragma once

#include <map>
#include <string>

#include "crunlite/image/store.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::app {

class ContainerDirs : public image::Holders {
public:
    explicit ContainerDirs(const std::string& store_root) : root_(store_root + "/containers") {}

    std::string dir(const std::string& id) const { return root_ + "/" + id; }

    // image::Holders: a holder is a container directory.
    std::map<std::string, std::string> images_in_use() const override;
    void pin(const std::string& holder, const std::string& id) const override;
    void prune() const override;

    // Both throw Error(EINVAL) for an id the runtime would refuse (state::validate_id).
    // Makes <id>/ under `store`'s lock (a dead one of the same id is moved aside
    // for prune), flocked, with its state path recorded; returns the locked
    // directory, to hold until the container's state exists.  Throws
    // Error(EEXIST, "container with given ID already exists") for a live one
    // (one held without state: after a second's grace, for a killed run's children).
    sys::UniqueFd create(const image::Store& store, const std::string& id, const std::string& state_dir) const;
    // Removes <id>/ of a dead container under `store`'s lock; false when there is
    // none.  Throws Error(EBUSY) for a live one.
    bool remove_dead(const image::Store& store, const std::string& id) const;

private:
    std::string root_;
};

// Whether a container directory is live (see above).
bool container_dir_live(const std::string& dir);
// Whether a process holds the directory's lock: its creator, or the monitor of
// `run -d` for as long as it lives.
bool container_dir_held(const std::string& dir);
// Waits, at most `timeout_ms`, until nothing holds the lock of the directory
// `dir_fd` (opened before the directory may be removed): the container's monitor,
// or its foreground run, has ended its network helper (whose host ports are
// free then) and exited.  False when the time passed first.
bool await_container_dir_released(int dir_fd, int timeout_ms);

}  // namespace crunlite::app
