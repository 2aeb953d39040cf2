#include "stages.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "crunlite/json/json.hpp"

namespace crunlite::process::detail {

// Connects to linux.seccomp.listenerPath and sends the container process state
// with the listener fd attached (runtime-spec config-linux "listenerPath").
void send_seccomp_listener(const spec::Config& config, const std::string& id, const std::string& bundle,
                           pid_t init_pid, int listener) {
    const spec::Seccomp& sc = *config.linux->seccomp;
    std::string where = "linux.seccomp.listenerPath " + quote(sc.listener_path);
    json::Writer w(false);
    w.begin_object();
    w.key("ociVersion").string(config.oci_version);
    w.key("fds").string_array({"seccompFd"});
    w.key("pid").integer(init_pid);
    w.key("metadata").string(sc.listener_metadata);
    w.key("state").begin_object();
    w.key("ociVersion").string(config.oci_version);
    w.key("id").string(id);
    w.key("status").string("creating");
    w.key("pid").integer(init_pid);
    w.key("bundle").string(bundle);
    w.key("annotations").begin_object();
    for (const auto& [k, v] : config.annotations) w.key(k).string(v);
    w.end_object();
    w.end_object();
    w.end_object();
    std::string text = w.result();

    sys::UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno("socket for " + where);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (sc.listener_path.size() >= sizeof addr.sun_path) throw Error(ENAMETOOLONG, where + ": path too long");
    std::memcpy(addr.sun_path, sc.listener_path.c_str(), sc.listener_path.size() + 1);
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) throw_errno("connect to " + where);
    if (sys::send_with_fd(sock.get(), text.data(), text.size(), listener) != static_cast<ssize_t>(text.size()))
        throw_errno("send the seccomp listener to " + where);
}

// The cgroup v2 directory a stage-1 is born in, opened (none for "").
sys::UniqueFd open_cgroup(const std::string& dir) {
    if (dir.empty()) return {};
    sys::UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open cgroup " + quote(dir));
    return fd;
}

// Stage-1 reports the pid of the process it cloned (our child, by CLONE_PARENT)
// and exits: reap stage-1, own the child (killed and reaped if the launch
// fails from here on), pinned by its pidfd.
sys::Child take_child(const SyncSocket& sync, sys::Child& stage1, const std::string& what) {
    sys::Child child = sys::Child::adopt(static_cast<pid_t>(parse_int(sync.expect(MsgType::Pid, what)).value_or(0)));
    stage1.wait();
    child.require_pidfd("pidfd_open " + std::to_string(child.pid()));
    return child;
}

// The launched process, handed over to the caller.
Launched launched(sys::Child& child) {
    Launched out;
    out.process = std::move(child);
    return out;
}

}  // namespace crunlite::process::detail
