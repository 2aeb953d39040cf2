#include "crunlite/app/image_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "crunlite/app/container_dirs.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/runtime/user_namespace.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/interrupt.hpp"

namespace crunlite::app {

void with_image_store(const runtime::Context& ctx, const std::string& root, const image::LayerLimits& limits,
                         const std::function<void(image::Store&)>& body) {
    // Ctrl-C or SIGTERM unwinds the work (its tmp/ directories, layers half
    // unpacked, a rootless child's too), then ends the process (main).
    sys::Interruptible interruptible;
    auto work = [&](image::UnpackOptions unpack) {
        unpack.limits = limits;
        ContainerDirs dirs(root);
        image::Store store(root, unpack, &dirs);
        body(store);
    };
    if (!ctx.rootless) {
        work(image::UnpackOptions{});
    } else {
        image::UnpackOptions mapped;
        mapped.device_nodes = false;
        mapped.user_xattrs = true;
        if (!runtime::run_in_rootless_userns([&] { work(mapped); })) work(image::UnpackOptions::unprivileged());
    }
    // One the work never saw (it had nothing left to read): the caller stops here all the same.
    sys::throw_if_interrupted();
}

image::StoredImage import_into(const runtime::Context& ctx, const std::string& root, const image::LayerLimits& limits,
                              const std::function<image::StoredImage(image::Store&)>& body, const std::string& pin_dir) {
    // The import may run in a user namespace child: its result comes back as the id.
    sys::Pipe result = sys::Pipe::make();
    with_image_store(ctx, root, limits, [&](image::Store& s) {
        if (!pin_dir.empty()) s.pin_imports_to(pin_dir);
        std::string id = body(s).id;
        [[maybe_unused]] ssize_t n = ::write(result.write.get(), id.data(), id.size());
    });
    result.write.reset();
    std::string id = sys::read_to_end(result.read.get(), 256);
    return image::Store(root, image::UnpackOptions{}).inspect(id);
}

image::StoredImage pull_image(const runtime::Context& ctx, const std::string& root, const image::Reference& ref,
                              const image::PullOptions& options, const image::LayerLimits& limits,
                              const image::Store::Progress& progress, const std::string& pin_dir) {
    // 1. The manifest and config, as the caller (its credentials and certs);
    // 2. the layers, streamed into the store as it is written (rootless: in the
    //    user namespace).
    image::Resolved resolved = image::resolve(ref, options);
    return import_into(ctx, root, limits, [&](image::Store& s) { return image::import(s, resolved, progress); },
                       pin_dir);
}

}  // namespace crunlite::app
