// delete (runc's) and rm (Docker's habit: several ids, and an image
// container's files even when its state is gone).
#include <unistd.h>

#include <iostream>

#include "../command.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/image/store.hpp"
#include "crunlite/app/container_dirs.hpp"
#include "crunlite/app/image_run.hpp"
#include "crunlite/app/image_store.hpp"
#include "crunlite/app/restart.hpp"
#include "crunlite/state/store.hpp"

namespace crunlite::cli {

int cmd_delete(const Global& g, const std::vector<std::string>& args) {
    bool force = false;
    po::options_description opts("Options"), hidden;
    opts.add_options()("force,f", po::bool_switch(&force), "kill the container first if it is running");
    hidden.add_options()("id", po::value<std::string>());
    po::positional_options_description pos;
    pos.add("id", 1);
    auto vm = parse_args("delete", "delete [options] CONTAINER_ID", opts, hidden, pos, args);
    runtime::remove(g.context(), require_id(vm, "delete"), force);
    return 0;
}

namespace {

// The directory an image container left in the store when its state went
// (a reboot empties the state root, not the store): removed as prune would,
// in the store's user namespace rootless.  False when there is none.
bool remove_dead_image_container(const runtime::Context& ctx, const std::string& store_root, const std::string& id) {
    app::ContainerDirs dirs(store_root);
    std::string dir = dirs.dir(id);
    if (::access(dir.c_str(), F_OK) < 0) return false;
    // Rootless the body runs in a child (in the user namespace): ask the directory.
    app::with_image_store(ctx, store_root, image::LayerLimits{},
                          [&](image::Store& s) { dirs.remove_dead(s, id); });
    return ::access(dir.c_str(), F_OK) < 0;
}

}  // namespace

int cmd_rm(const Global& g, const std::vector<std::string>& args) {
    bool force = false, volumes = false;
    std::string store;
    po::options_description opts("Options");
    opts.add_options()
        ("force,f", po::bool_switch(&force), "kill running containers first; a container that does not exist is no error")
        ("volumes,v", po::bool_switch(&volumes),
         "remove the anonymous volumes (Docker's rm -v; always done: they are the container's own files)")
        ("store", po::value(&store), "image store of image containers (default /var/lib/crun-lite, rootless $XDG_DATA_HOME/crun-lite)");
    std::vector<std::string> ids;
    parse_ids_args("rm", opts, args, ids);
    runtime::Context ctx = g.context();
    std::string store_root = image::store_root(store, ctx.rootless);
    int failed = 0;
    for (const auto& id : ids) {
        try {
            state::validate_id(id);
            bool existed = state::Store(ctx.root).exists(id);
            if (existed && !force && app::restarting(ctx, id))
                throw Error(EBUSY, "cannot remove a restarting container: stop it first, or use --force");
            // delete's work: state, cgroups, hooks, the image container's directory;
            // with --force also what an aborted create left of a container without state.
            if (existed || force) app::remove(ctx, id, force);
            bool dead = !existed && remove_dead_image_container(ctx, store_root, id);
            if (!existed && !dead && !force) throw Error(ENOENT, "container does not exist");
            if (existed || dead) std::cout << id << std::endl;
        } catch (const Error& e) {
            ++failed;
            report_error(e.with_context("rm " + id), 1);
        }
    }
    return failed ? 1 : 0;
}

}  // namespace crunlite::cli
