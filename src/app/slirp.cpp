#include "crunlite/app/slirp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/json/json.hpp"
#include "crunlite/app/pasta.hpp"
#include "crunlite/image/manifest.hpp"
#include "crunlite/state/store.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::app {
namespace {

bool is_ipv6(const std::string& addr) { return addr.find(':') != std::string::npos; }

// A socket address for `addr` (IPv4, or IPv6 without brackets) and `port`;
// false when `addr` is neither.
bool make_sockaddr(const std::string& addr, int port, sockaddr_storage& out, socklen_t& len) {
    out = {};
    if (is_ipv6(addr)) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&out);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(port));
        len = sizeof *a;
        return ::inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr) == 1;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&out);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a;
    return ::inet_pton(AF_INET, addr.c_str(), &a->sin_addr) == 1;
}

bool is_wildcard(const std::string& addr) { return addr == "0.0.0.0" || addr == "::"; }

std::string host_and_port(const std::string& addr, int port) {
    return (is_ipv6(addr) ? "[" + addr + "]" : addr) + ":" + std::to_string(port);
}

}  // namespace

namespace {

// One port map of `text`; errors name the flag as given, `shown` (a range's).
PortMap parse_one(const std::string& text, const std::string& shown) {
    PortMap p;
    std::string t = text;
    auto bad = [&](const std::string& why) { return Error(EINVAL, "-p " + quote(shown) + ": " + why); };
    if (size_t slash = t.find('/'); slash != std::string::npos) {
        p.proto = ascii_lower(t.substr(slash + 1));  // "TCP" too
        t.resize(slash);
        if (p.proto != "tcp" && p.proto != "udp") throw bad("protocol must be tcp or udp");
    }
    std::vector<std::string> parts;
    if (!t.empty() && t[0] == '[') {  // [IPv6]:HOST:CONTAINER
        size_t close = t.find(']');
        if (close == std::string::npos || t.compare(close, 2, "]:") != 0) throw bad("want [IPv6]:HOST_PORT:CONTAINER_PORT");
        parts = split(t.substr(close + 2), ':');
        parts.insert(parts.begin(), t.substr(1, close - 1));
        if (parts.size() != 3 || !is_ipv6(parts[0])) throw bad("want [IPv6]:HOST_PORT:CONTAINER_PORT");
    } else {
        parts = split(t, ':');
    }
    auto port = [&](const std::string& s) {
        auto v = parse_uint(s);
        if (!v || *v == 0 || *v > 65535) throw bad("invalid port " + quote(s));
        return static_cast<int>(*v);
    };
    if (parts.empty() || parts.size() > 3) throw bad("want [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]");
    p.container = port(parts.back());
    // An empty host port (`IP::C`, podman's `:C`): a free one.
    if (parts.size() >= 2 && !parts[parts.size() - 2].empty()) p.host = port(parts[parts.size() - 2]);
    if (parts.size() == 3) {
        p.host_addr = parts[0];
        sockaddr_storage sa;
        socklen_t len;
        if (!make_sockaddr(p.host_addr, 0, sa, len))
            throw bad("invalid IP address " + quote(p.host_addr) + (is_ipv6(p.host_addr) ? " (an IPv6 address goes in brackets)" : ""));
    }
    return p;
}

}  // namespace

PortMap parse_port(const std::string& text) { return parse_one(text, text); }

std::vector<PortMap> parse_ports(const std::string& text) {
    constexpr uint64_t kMaxRange = 1024;  // each port is a forward held open (and a socket while picked)
    auto bad = [&](const std::string& why) { return Error(EINVAL, "-p " + quote(text) + ": " + why); };
    size_t slash = text.find('/');
    std::string spec = text.substr(0, slash), proto = slash == std::string::npos ? "" : text.substr(slash);
    size_t last = spec.rfind(':');
    std::string container = last == std::string::npos ? spec : spec.substr(last + 1);
    std::string head = last == std::string::npos ? "" : spec.substr(0, last);  // "[IP]:HOST", "IP:", "HOST"
    size_t host_at = head.rfind(':');
    host_at = host_at == std::string::npos || (head[0] == '[' && host_at < head.find(']')) ? 0 : host_at + 1;
    std::string host = head.substr(host_at), prefix = head.substr(0, host_at);
    if (container.find('-') == std::string::npos && host.find('-') == std::string::npos) return {parse_port(text)};
    // Docker's ranges: HOST1-HOST2:C1-C2 of one length, or C1-C2 alone (free host ports).
    if (host.find('[') != std::string::npos || container.empty())
        throw bad("want [IP:][HOST1-HOST2:]C1-C2[/PROTO] (an IPv6 IP in brackets, then a colon)");
    auto range = [&](const std::string& r) {
        size_t dash = r.find('-');
        auto lo = parse_uint(r.substr(0, dash)), hi = dash == std::string::npos ? lo : parse_uint(r.substr(dash + 1));
        if (!lo || !hi || *lo == 0 || *hi > 65535 || *hi < *lo) throw bad("invalid port range " + quote(r));
        if (*hi - *lo >= kMaxRange) throw bad("a range of at most " + std::to_string(kMaxRange) + " ports");
        std::vector<std::string> out;
        for (uint64_t p = *lo; p <= *hi; ++p) out.push_back(std::to_string(p));
        return out;
    };
    std::vector<std::string> containers = range(container);
    std::vector<std::string> hosts = host.empty() ? std::vector<std::string>(containers.size()) : range(host);
    if (hosts.size() != containers.size())
        throw bad("the host and container ranges differ in length (" + std::to_string(hosts.size()) + " and " +
                  std::to_string(containers.size()) + " ports)");
    std::vector<PortMap> out;
    for (size_t i = 0; i < containers.size(); ++i)
        out.push_back(parse_one((last == std::string::npos ? "" : prefix + hosts[i] + ":") + containers[i] + proto, text));
    return out;
}

std::vector<PortMap> publish_all(const std::vector<std::string>& exposed, const std::vector<PortMap>& published) {
    constexpr size_t kMax = 1024;  // as a -p range: each port is a forward held open
    std::vector<PortMap> out;
    auto mapped = [&](const PortMap& p) {
        auto same = [&](const PortMap& q) { return q.container == p.container && q.proto == p.proto; };
        return std::any_of(published.begin(), published.end(), same) || std::any_of(out.begin(), out.end(), same);
    };
    for (const auto& key : exposed) {
        auto e = image::parse_exposed_port(key);
        if (!e) throw Error(EINVAL, "-P: exposed port " + quote(key) + ": want PORT[-PORT][/tcp|udp|sctp]");
        if (e->proto == "sctp") {
            log::warn("-P: " + key + " not published: pasta and slirp4netns forward tcp and udp only");
            continue;
        }
        for (int port = e->first; port <= e->last; ++port) {
            PortMap p;
            p.proto = e->proto;
            p.container = port;
            if (mapped(p)) continue;
            if (out.size() == kMax) throw Error(EINVAL, "-P: more than " + std::to_string(kMax) + " exposed ports");
            out.push_back(p);
        }
    }
    return out;
}

std::string port_flag(const PortMap& p) {
    std::string s = p.host_addr == "0.0.0.0" ? "" : (is_ipv6(p.host_addr) ? "[" + p.host_addr + "]" : p.host_addr) + ":";
    if (p.host) s += std::to_string(p.host) + ":";
    else if (!s.empty()) s += ":";
    s += std::to_string(p.container);
    if (p.proto != "tcp") s += "/" + p.proto;
    return "-p " + s;
}

void pick_host_ports(std::vector<PortMap>& ports) {
    // Every socket stays bound until all are picked, so two picks differ.
    std::vector<sys::UniqueFd> held;
    auto same = [](const PortMap& a, const PortMap& b) {
        return a.proto == b.proto && a.host_addr == b.host_addr && a.host == b.host && a.container == b.container;
    };
    // A fixed mapping given twice is one (as podman takes it).
    for (size_t i = 1; i < ports.size(); ++i)
        if (ports[i].host && std::any_of(ports.begin(), ports.begin() + static_cast<ptrdiff_t>(i),
                                         [&](const PortMap& q) { return same(q, ports[i]); }))
            ports.erase(ports.begin() + static_cast<ptrdiff_t>(i--));
    for (size_t i = 0; i < ports.size(); ++i) {
        PortMap& p = ports[i];
        std::string flag = port_flag(p);
        for (size_t j = 0; j < i && p.host; ++j) {
            const PortMap& q = ports[j];
            if (q.proto == p.proto && q.host == p.host &&
                (q.host_addr == p.host_addr || is_wildcard(q.host_addr) || is_wildcard(p.host_addr)))
                throw Error(EADDRINUSE, flag + ": host port " + std::to_string(p.host) + " (" + p.proto +
                                            ") is published twice (also by " + port_flag(q) + ")");
        }
        sockaddr_storage sa;
        socklen_t len;
        if (!make_sockaddr(p.host_addr, p.host, sa, len)) throw Error(EINVAL, flag + ": invalid IP address " + quote(p.host_addr));
        sys::UniqueFd s(::socket(sa.ss_family, (p.proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
        if (!s) throw_errno(flag + ": socket");
        int one = 1;
        if (p.proto == "tcp") ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (sa.ss_family == AF_INET6) ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), len) < 0) {
            int e = errno;
            std::string on = is_wildcard(p.host_addr) ? "" : " on " + p.host_addr;
            if (e == EADDRINUSE)
                throw Error(e, flag + ": host port " + std::to_string(p.host) + " (" + p.proto + ")" + on +
                                   " is already in use");
            if (e == EACCES)
                throw Error(e, flag + ": host port " + std::to_string(p.host) +
                                   " is privileged: publishing it needs root (or a lower "
                                   "net.ipv4.ip_unprivileged_port_start)");
            if (e == EADDRNOTAVAIL) throw Error(e, flag + ": " + p.host_addr + " is not an address of this host");
            errno = e;
            throw_errno(flag + ": bind " + host_and_port(p.host_addr, p.host));
        }
        if (!p.host) {
            sockaddr_storage got;
            socklen_t got_len = sizeof got;
            check(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&got), &got_len), flag + ": getsockname");
            p.host = ntohs(got.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&got)->sin6_port
                                                     : reinterpret_cast<sockaddr_in*>(&got)->sin_port);
        }
        held.push_back(std::move(s));
    }
}

void write_ports(const std::string& bundle, const std::vector<PortMap>& ports) {
    json::Writer w(false);
    w.begin_array();
    for (const auto& p : ports) {
        w.begin_object().key("proto").string(p.proto).key("hostIP").string(p.host_addr);
        w.key("hostPort").integer(p.host).key("containerPort").integer(p.container).end_object();
    }
    w.end_array();
    write_file_atomic(bundle + "/ports.json", w.result() + "\n", 0644);
}

std::vector<PortMap> read_ports(const std::string& bundle) {
    std::string path = bundle + "/ports.json";
    if (::access(path.c_str(), F_OK) < 0) return {};
    json::Document doc = json::parse(read_file(path), path);
    std::vector<PortMap> out;
    for (const auto& v : doc.root().elements()) {
        PortMap p;
        p.proto = v.get_string("proto");
        p.host_addr = v.get_string("hostIP");
        p.host = v.at("hostPort").as_uint16();
        p.container = v.at("containerPort").as_uint16();
        out.push_back(p);
    }
    return out;
}

std::vector<PortMap> published_ports(const runtime::Context& ctx, const std::string& id) {
    state::Store store(ctx.root);
    state::State st = store.load(id);
    if (store.status(st) == state::Status::Stopped) return {};
    return read_ports(st.bundle);
}

std::string port_key(const PortMap& p) { return std::to_string(p.container) + "/" + p.proto; }

std::string format_port(const PortMap& p) { return port_key(p) + " -> " + host_and_port(p.host_addr, p.host); }

namespace {

// Picks the free host ports and asks slirp4netns (API socket `api`, named
// slirp.sock in the directory `bundle_fd`) to forward each of `ports`.
void publish_through_api(int bundle_fd, const std::string& api, std::vector<PortMap>& ports) {
    pick_host_ports(ports);
    for (const auto& p : ports) {
        json::Writer w(false);
        w.begin_object().key("execute").string("add_hostfwd").key("arguments").begin_object();
        w.key("proto").string(p.proto).key("host_addr").string(p.host_addr);
        w.key("host_port").integer(p.host).key("guest_addr").string(kSlirpGuestAddr).key("guest_port").integer(p.container);
        w.end_object().end_object();
        sys::UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        struct sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/slirp.sock", bundle_fd);
        if (::connect(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0)
            throw_errno("connect to slirp4netns API " + quote(api));
        std::string req = w.result();
        if (::write(sock.get(), req.data(), req.size()) != static_cast<ssize_t>(req.size())) throw_errno("slirp4netns API");
        ::shutdown(sock.get(), SHUT_WR);
        std::string reply = sys::read_to_end(sock.get(), 65536);
        if (reply.find("\"error\"") == std::string::npos && reply.find("\"return\"") != std::string::npos) continue;
        // {"error": {"desc": "..."}}: its words, not its JSON.
        std::string why = trim(reply);
        try {
            json::Document doc = json::parse(reply, "slirp4netns reply");
            if (auto e = doc.root().find("error"))
                if (auto d = e->find_string("desc")) why = *d;
        } catch (const Error&) {
        }
        throw Error(EADDRINUSE, port_flag(p) + ": slirp4netns could not publish host port " +
                                    host_and_port(p.host_addr, p.host) + " (" + p.proto + ")" +
                                    (why.empty() ? "" : ": " + why));
    }
}

}  // namespace

Slirp start_slirp(int netns, int userns, bool rootless, const std::string& bundle, std::vector<PortMap> ports) {
    for (const auto& p : ports)
        if (is_ipv6(p.host_addr))
            throw Error(EINVAL, port_flag(p) + ": slirp4netns publishes on IPv4 addresses only (--network pasta takes IPv6)");
    sys::Pipe exit_pipe = sys::Pipe::make(), ready_pipe = sys::Pipe::make();
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
    std::string log_path = bundle + "/slirp4netns.log";
    sys::Child child = sys::Child::fork("fork slirp4netns", [&]() -> int {
        if (::fchdir(bundle_fd.get()) < 0) ::_exit(127);
        // Its sandbox makes only its own root private before it pivots and detaches the
        // old one: every mount below a shared one would be unmounted in our mount
        // namespace too (ip netns's, /dev/shm's on a systemd host).  So it gets a copy,
        // private throughout, to do that in.
        if (!rootless && (::unshare(CLONE_NEWNS) < 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)) {
            std::string why = "crun-lite: a private mount namespace for its sandbox: " + std::string(std::strerror(errno));
            sys::UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
            [[maybe_unused]] ssize_t n = log ? ::write(log.get(), why.data(), why.size()) : 0;
            ::_exit(127);
        }
        exec_network_helper({exit_pipe.read.get(), ready_pipe.write.get(), netns, userns}, log_path, std::move(args));
    });
    ready_pipe.write.reset();
    exit_pipe.read.reset();
    char c;
    if (::read(ready_pipe.read.get(), &c, 1) != 1) {
        exit_pipe.write.reset();  // it exits, if it has not
        child.wait();
        std::string why;
        try {
            why = trim(read_file(log_path));
        } catch (const Error&) {
        }
        throw Error(EIO, "slirp4netns failed to set up the network" + (why.empty() ? "" : ": " + why) +
                             (rootless ? " (rootless it needs /dev/net/tun with mode 0666)" : ""));
    }
    // Ready: from here stop_user_network stops it (its exit fd closes), as the
    // process that owns the container does when it ends.
    Slirp s{child.pid(), std::move(exit_pipe.write)};
    child.release();
    try {
        publish_through_api(bundle_fd.get(), api, ports);
        write_ports(bundle, ports);
    } catch (...) {
        stop_user_network(s);
        throw;
    }
    return s;
}


bool is_user_network(const std::string& mode) { return mode == "slirp4netns" || mode == "pasta"; }

std::string resolve_network_mode(const std::string& requested, const std::string& publish_flag, bool rootless,
                                 bool creating) {
    bool publishing = !publish_flag.empty();
    // PATH is searched only where the answer matters: not for --network none or host
    // (22 access() calls on this host's PATH).
    std::optional<bool> pasta, slirp;
    auto have_pasta = [&] { return pasta ? *pasta : *(pasta = !sys::find_on_path("pasta").empty()); };
    auto have_slirp = [&] { return slirp ? *slirp : *(slirp = !sys::find_on_path("slirp4netns").empty()); };
    auto user_mode = [&]() -> std::string { return have_pasta() ? "pasta" : have_slirp() ? "slirp4netns" : ""; };
    std::string mode = requested;
    if (mode.empty()) mode = !creating && (rootless || publishing) && !user_mode().empty() ? user_mode() : "none";
    if (mode != "none" && mode != "host" && !is_user_network(mode))
        throw Error(EINVAL, "--network: unknown mode " + quote(mode) + " (want none, host, pasta or slirp4netns)");
    if ((is_user_network(mode) || publishing) && creating) {
        std::string helper = is_user_network(mode) ? mode : user_mode().empty() ? "pasta" : user_mode();
        throw Error(EINVAL, "create --image: --network " + helper + " and " + (publishing ? publish_flag : "-p") +
                                " need `run` (its monitor keeps the network helper)");
    }
    if (mode == "pasta" && !have_pasta()) throw Error(ENOENT, "--network pasta: pasta is not installed (Debian: passt)");
    if (mode == "slirp4netns" && !have_slirp()) throw Error(ENOENT, "--network slirp4netns: slirp4netns is not installed");
    if (publishing && !is_user_network(mode))
        throw Error(EINVAL, publish_flag + " needs --network pasta or slirp4netns" +
                                (user_mode().empty() ? ", and neither is installed" : " (the network is " + mode + ")"));
    if (rootless && mode == "none" && requested.empty() && !creating)
        log::info("neither pasta nor slirp4netns is installed: the container has no network (--network none)");
    return mode;
}

namespace {

// The first IPv4 address of an interface that is up, other than loopback; "" for none.
std::string first_host_ipv4() {
    struct ifaddrs* all = nullptr;
    if (::getifaddrs(&all) < 0) return "";
    std::string out;
    for (const struct ifaddrs* a = all; a && out.empty(); a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK))
            continue;
        char text[INET_ADDRSTRLEN];
        if (::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text))
            out = text;
    }
    ::freeifaddrs(all);
    return out;
}

}  // namespace

NetworkEtc network_etc(const std::string& mode) {
    NetworkEtc e;
    if (mode == "slirp4netns" || mode == "host") e.host_gateway = first_host_ipv4();
    if (mode == "slirp4netns") {
        e.host_addr = kSlirpGuestAddr;
        e.nameserver = "10.0.2.3";
    } else if (mode == "pasta") {
        e.nameserver = kPastaDnsAddr;  // the container has the host's address: its name stays on 127.0.1.1
    }
    return e;
}

void exec_network_helper(std::vector<int> fds, const std::string& log_path, std::vector<std::string> args) {
    // Moved out of the way first: the fds we dup onto may be the sources.
    for (int& fd : fds)
        if (fd >= 0) fd = ::fcntl(fd, F_DUPFD, 10);
    for (size_t i = 0; i < fds.size(); ++i)
        if (fds[i] >= 0) ::dup2(fds[i], static_cast<int>(3 + i));
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, 0);
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

NetHelper start_user_network(const std::string& mode, int netns, int userns, bool rootless, const std::string& bundle,
                             std::vector<PortMap> ports) {
    if (mode == "pasta") return start_pasta(netns, userns, rootless, bundle, std::move(ports));
    return start_slirp(netns, userns, rootless, bundle, std::move(ports));
}

void stop_user_network(NetHelper& helper) {
    if (helper.pid <= 0) return;
    if (helper.exit_fd) helper.exit_fd.reset();  // slirp4netns exits
    else ::kill(helper.pid, SIGTERM);
    ::waitpid(helper.pid, nullptr, 0);
    helper.pid = 0;
}

}  // namespace crunlite::app
