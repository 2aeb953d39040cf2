// exec into an image container, as podman's exec: its user resolved in the container's files.
#include <fcntl.h>

#include <algorithm>

#include "crunlite/app/image_run.hpp"
#include "crunlite/app/image_spec.hpp"
#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/spec/parse.hpp"
#include "crunlite/state/events.hpp"
#include "crunlite/state/store.hpp"
#include "crunlite/sys/fd.hpp"
#include "image_layers.hpp"

namespace crunlite::app {

using detail::read_container_file;

bool is_image_container(const runtime::Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    return store.exists(id) && store.load(id).annotations.count(kImageAnnotation) > 0;
}

void resolve_exec_user(const runtime::Context& ctx, runtime::ExecOptions& o) {
    if (o.user.empty() || !o.process_file.empty()) return;
    state::Store states(ctx.root);
    state::State st = states.load(o.id);
    if (!st.annotations.count(kImageAnnotation)) return;
    // The container's own files, as podman's exec reads them: a user added
    // since it started is found.  Without its init there is nothing to exec
    // into: exec's own words.
    sys::UniqueFd root;
    if (st.pid > 0 && states.status(st) != state::Status::Stopped) {
        root.reset(::open(("/proc/" + std::to_string(st.pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (states.status(st) == state::Status::Stopped) root.reset();  // the pid may be another's by now
    }
    if (!root) throw Error(EINVAL, "cannot exec in a stopped container");
    std::optional<std::string> passwd, group;
    with_context("--user", [&] {
        passwd = read_container_file(root.get(), "/etc/passwd", o.id);
        group = read_container_file(root.get(), "/etc/group", o.id);
    });
    ContainerUser u = with_context("--user", [&] { return resolve_user(o.user, passwd, group); });
    o.user = std::to_string(u.uid) + ":" + std::to_string(u.gid);
    o.own_groups = true;
    if (o.additional_gids.empty())
        for (uint32_t g : u.additional_gids) o.additional_gids.push_back(std::to_string(g));
    if (std::none_of(o.env.begin(), o.env.end(), [](auto& e) { return e.rfind("HOME=", 0) == 0; }))
        o.env.insert(o.env.begin(), "HOME=" + u.home);
    if (u.uid == 0) {
        spec::Config config = spec::parse_config(read_file(st.config_path), st.config_path);
        if (config.process && config.process->capabilities)
            for (const auto& cap : config.process->capabilities->bounding) o.caps.push_back(cap);
    }
}

}  // namespace crunlite::app
