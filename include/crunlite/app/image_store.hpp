// The image store as the app opens it: as the caller may write it (rootless, in a
// user namespace with the caller's subordinate ids), with the app's container
// directories (app/container_dirs.hpp) as the holders of its images; and imports
// and pulls into it.  Runs in the runtime parent; the bodies, rootless, in the
// user-namespace child.
#pragma once

#include <functional>
#include <string>

#include "crunlite/image/pull.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/runtime/container.hpp"

namespace crunlite::app {

// Runs `body` with the image store at `root` opened as the caller may write
// it: root directly.  Unprivileged, inside a user namespace with the caller's
// subordinate ids (run_in_rootless_userns), so layer files get the owners the
// image gives them (uid 1001 stays distinct from root) and only there can the
// store be cleaned up again; without subordinate ids, directly, with every
// file the caller's (recorded as owners "caller").
void with_image_store(const runtime::Context& ctx, const std::string& root, const image::LayerLimits& limits,
                      const std::function<void(image::Store&)>& body);

// Runs the import `body` inside with_image_store and returns the image it
// stored; with `pin_dir`, pinned to that container directory under the
// import's own hold of the store lock (Store::pin_imports_to).
image::StoredImage import_into(const runtime::Context& ctx, const std::string& root, const image::LayerLimits& limits,
                              const std::function<image::StoredImage(image::Store&)>& body,
                              const std::string& pin_dir = {});

// Pulls `ref` into the store at `root` (image/pull.hpp): the manifest and
// config as the caller, the layers inside with_image_store (import_into).
image::StoredImage pull_image(const runtime::Context& ctx, const std::string& root, const image::Reference& ref,
                              const image::PullOptions& options, const image::LayerLimits& limits,
                              const image::Store::Progress& progress, const std::string& pin_dir = {});

}  // namespace crunlite::app
