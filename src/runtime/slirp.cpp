#include "crunlite/runtime/slirp.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"

namespace crunlite::runtime {

PortMap parse_port(const std::string& text) {
    PortMap p;
    std::string t = text;
    if (size_t slash = t.find('/'); slash != std::string::npos) {
        p.proto = t.substr(slash + 1);
        t.resize(slash);
        if (p.proto != "tcp" && p.proto != "udp") throw Error(EINVAL, "-p " + quote(text) + ": protocol must be tcp or udp");
    }
    auto parts = split(t, ':');
    if (parts.size() == 3) {
        p.host_addr = parts[0];
        parts.erase(parts.begin());
    }
    auto port = [&](const std::string& s) {
        auto v = parse_uint(s);
        if (!v || *v == 0 || *v > 65535) throw Error(EINVAL, "-p " + quote(text) + ": invalid port " + quote(s));
        return static_cast<int>(*v);
    };
    if (parts.size() != 2) throw Error(EINVAL, "-p " + quote(text) + ": want [IP:]HOST_PORT:CONTAINER_PORT[/PROTO]");
    p.host = port(parts[0]);
    p.container = port(parts[1]);
    return p;
}

Slirp start_slirp(int netns, int userns, bool rootless, const std::string& bundle, const std::vector<PortMap>& ports) {
    int exit_pipe[2], ready_pipe[2];
    check(::pipe2(exit_pipe, O_CLOEXEC), "pipe");
    check(::pipe2(ready_pipe, O_CLOEXEC), "pipe");
    sys::UniqueFd exit_r(exit_pipe[0]), exit_w(exit_pipe[1]), ready_r(ready_pipe[0]), ready_w(ready_pipe[1]);
    // The API socket is named relative to the bundle (slirp4netns runs there,
    // we connect through /proc/self/fd/N/): a unix socket path is limited to 107
    // bytes, which a store path plus a 64-character id exceeds.
    std::string api = bundle + "/slirp.sock";
    ::unlink(api.c_str());
    sys::UniqueFd bundle_fd(::open(bundle.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!bundle_fd) throw_errno("open " + quote(bundle));
    // The namespaces come as fds 5 and 6 (the init is not dumpable, so its
    // /proc/PID/ns cannot be opened by path, by slirp4netns or us).
    std::vector<std::string> args = {"slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
                                     "--api-socket", "slirp.sock", "--exit-fd", "3", "--ready-fd", "4",
                                     "--netns-type=path"};
    if (rootless) {
        args.push_back("--userns-path=/proc/self/fd/6");
    } else {
        // As root it runs with every capability: confine it as podman does (its
        // sandbox needs to setegid(0) in a user namespace, so not rootless).
        args.push_back("--enable-sandbox");
        args.push_back("--enable-seccomp");
    }
    args.push_back("/proc/self/fd/5");
    args.push_back("tap0");
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork slirp4netns");
    std::string log_path = bundle + "/slirp4netns.log";
    if (pid == 0) {
        // Moved out of the way first: the fds we dup onto may be the sources.
        if (::fchdir(bundle_fd.get()) < 0) ::_exit(127);
        int from[] = {exit_r.get(), ready_w.get(), netns, userns};
        for (int& fd : from) fd = ::fcntl(fd, F_DUPFD, 10);
        for (int i = 0; i < 4; ++i) ::dup2(from[i], 3 + i);
        int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (log >= 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    ready_w.reset();
    exit_r.reset();
    Slirp s{pid, std::move(exit_w)};
    char c;
    if (::read(ready_r.get(), &c, 1) != 1) {
        s.exit_fd.reset();
        ::waitpid(pid, nullptr, 0);
        s.pid = 0;
        std::string why;
        try {
            why = trim(read_file(log_path));
        } catch (const Error&) {
        }
        throw Error(EIO, "slirp4netns failed to set up the network" + (why.empty() ? "" : ": " + why) +
                             (rootless ? " (rootless it needs /dev/net/tun with mode 0666)" : ""));
    }
    for (const auto& p : ports) {
        json::Writer w(false);
        w.begin_object().key("execute").string("add_hostfwd").key("arguments").begin_object();
        w.key("proto").string(p.proto).key("host_addr").string(p.host_addr);
        w.key("host_port").integer(p.host).key("guest_addr").string(kSlirpGuestAddr).key("guest_port").integer(p.container);
        w.end_object().end_object();
        sys::UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        struct sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/slirp.sock", bundle_fd.get());
        if (::connect(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0)
            throw_errno("connect to slirp4netns API " + quote(api));
        std::string req = w.result();
        if (::write(sock.get(), req.data(), req.size()) != static_cast<ssize_t>(req.size())) throw_errno("slirp4netns API");
        ::shutdown(sock.get(), SHUT_WR);
        std::string reply;
        char buf[512];
        ssize_t n;
        while ((n = ::read(sock.get(), buf, sizeof buf)) > 0) reply.append(buf, static_cast<size_t>(n));
        if (reply.find("\"error\"") != std::string::npos || reply.find("\"return\"") == std::string::npos)
            throw Error(EADDRINUSE, "-p " + std::to_string(p.host) + ":" + std::to_string(p.container) +
                                        ": slirp4netns refused: " + trim(reply));
    }
    return s;
}

}  // namespace crunlite::runtime
