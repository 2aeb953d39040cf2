#include "crunlite/app/pasta.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::app {
namespace {

constexpr int kReadyTimeoutMs = 30'000;

// pasta's log without the lines its syslog attempts add where there is no
// /dev/log ("Failed to send 47 bytes to syslog").
std::string pasta_messages(const std::string& log_path) {
    std::string out;
    try {
        for (const auto& line : split(read_file(log_path), '\n'))
            if (!line.empty() && line.rfind("Failed to send ", 0) != 0) out += (out.empty() ? "" : "; ") + line;
    } catch (const Error&) {
    }
    return out;
}

}  // namespace

std::vector<std::string> pasta_args(const std::vector<PortMap>& ports, int netns_fd, int userns_fd, int pid_fd,
                                    bool as_root) {
    auto fd_path = [](int fd) { return "/proc/self/fd/" + std::to_string(fd); };
    // --foreground: our child, stopped by us (its daemon would be nobody's to reap);
    // --no-netns-quit: its netns is an fd, not a file it could watch.
    std::vector<std::string> args = {"--config-net", "--foreground", "--quiet", "--no-netns-quit", "--no-map-gw",
                                     "--dns-forward", kPastaDnsAddr, "-T", "none", "-U", "none",
                                     "--netns", fd_path(netns_fd), "-P", fd_path(pid_fd)};
    if (userns_fd >= 0) {
        args.push_back("--userns");
        args.push_back(fd_path(userns_fd));
    }
    if (as_root) {
        args.push_back("--runas");
        args.push_back("0:0");
    }
    bool tcp = false, udp = false;
    for (const auto& p : ports) {
        // No address: pasta binds both IPv6 and IPv4, as Docker's 0.0.0.0 does.
        std::string spec = p.host_addr == "0.0.0.0" ? "" : p.host_addr + "/";
        spec += std::to_string(p.host) + ":" + std::to_string(p.container);
        args.push_back(p.proto == "udp" ? "-u" : "-t");
        args.push_back(spec);
        (p.proto == "udp" ? udp : tcp) = true;
    }
    // Without -t/-u pasta forwards every port bound in the namespace ("auto").
    if (!tcp) args.insert(args.end(), {"-t", "none"});
    if (!udp) args.insert(args.end(), {"-u", "none"});
    return args;
}

NetHelper start_pasta(int netns, int userns, bool rootless, const std::string& bundle, std::vector<PortMap> ports) {
    pick_host_ports(ports);
    // pasta takes a host port once per protocol, whatever the address ("Overlapping port specifier").
    for (size_t i = 0; i < ports.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (ports[j].proto == ports[i].proto && ports[j].host == ports[i].host)
                throw Error(EINVAL, port_flag(ports[i]) + ": pasta publishes host port " + std::to_string(ports[i].host) +
                                        " (" + ports[i].proto + ") on one address only (also " + port_flag(ports[j]) +
                                        "); --network slirp4netns takes both");
    sys::Pipe ready = sys::Pipe::make();
    // In pasta: 3 the network namespace, 4 the user namespace (rootless), 5
    // the pipe it writes its pid to once ready (-P /proc/self/fd/5).
    std::vector<std::string> args = pasta_args(ports, 3, rootless ? 4 : -1, 5, ::geteuid() == 0);
    args.insert(args.begin(), "pasta");
    std::string log_path = bundle + "/pasta.log";
    pid_t parent = ::getpid();
    sys::Child child = sys::Child::fork("fork pasta", [&]() -> int {
        // Ends with its parent even when that is killed before it can stop it.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        exec_network_helper({netns, rootless ? userns : -1, ready.write.get()}, log_path, std::move(args));
    });
    ready.write.reset();
    // Its pid, once it is ready; end of file if it exits first.
    std::string got;
    struct pollfd pfd = {ready.read.get(), POLLIN, 0};
    while (got.find('\n') == std::string::npos) {
        int n = ::poll(&pfd, 1, kReadyTimeoutMs);
        if (n < 0 && errno == EINTR) continue;
        char buf[32];
        ssize_t r = n > 0 ? ::read(ready.read.get(), buf, sizeof buf) : -1;
        if (r > 0) {
            got.append(buf, static_cast<size_t>(r));
            continue;
        }
        if (n == 0) child.kill(SIGKILL);
        int status = child.wait();
        std::string why = pasta_messages(log_path);
        if (n == 0) why = "not ready after " + std::to_string(kReadyTimeoutMs / 1000) + "s" + (why.empty() ? "" : ": " + why);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && why.empty()) why = "pasta is not installed";
        throw Error(EIO, "pasta failed to set up the network" + (why.empty() ? "" : ": " + why));
    }
    // Ready: from here stop_user_network stops it (SIGTERM), as the process
    // that owns the container does when it ends.
    NetHelper h{child.pid(), {}};
    child.release();
    try {
        write_ports(bundle, ports);
    } catch (...) {
        stop_user_network(h);
        throw;
    }
    return h;
}

}  // namespace crunlite::app
