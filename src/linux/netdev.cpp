#include "crunlite/linux/netdev.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <cstring>
#include <map>

#include "crunlite/base/error.hpp"
#include "crunlite/base/log.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::linux {
namespace rtnl {
namespace {

// A kernel errno as Error, lower-cased like sys_error() (the caller adds the context).
Error kernel_error(int err) {
    std::string text = std::strerror(err);
    if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return Error(err, text);
}

// Appends fixed-size parts and attributes, 4-byte aligned (NLMSG_ALIGN and
// RTA_ALIGN are both 4), and fills nlmsg_len at the end.
class Builder {
public:
    Builder(uint16_t type, uint16_t flags, uint32_t seq) {
        nlmsghdr h{};
        h.nlmsg_type = type;
        h.nlmsg_flags = flags;
        h.nlmsg_seq = seq;
        append(&h, sizeof h);
    }
    template <typename T>
    Builder& body(const T& value) {
        append(&value, sizeof value);
        return *this;
    }
    Builder& attr(uint16_t type, const void* data, size_t len) {
        rtattr a{};
        a.rta_type = type;
        a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
        append(&a, sizeof a);
        append(data, len);
        return *this;
    }
    Builder& attr_u32(uint16_t type, uint32_t v) { return attr(type, &v, sizeof v); }
    Builder& attr_string(uint16_t type, const std::string& s) { return attr(type, s.c_str(), s.size() + 1); }
    Builder& attr_bytes(uint16_t type, const Bytes& b) { return b.empty() ? *this : attr(type, b.data(), b.size()); }
    Bytes finish() {
        uint32_t len = static_cast<uint32_t>(buf_.size());
        std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
        return std::move(buf_);
    }

private:
    void append(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        buf_.insert(buf_.end(), b, b + n);
        buf_.resize((buf_.size() + 3) & ~size_t(3), 0);
    }
    Bytes buf_;
};

// Attributes after a fixed header of `offset` bytes: type -> value bytes.
std::map<uint16_t, Bytes> attributes(const Bytes& payload, size_t offset) {
    std::map<uint16_t, Bytes> out;
    size_t pos = NLMSG_ALIGN(offset);
    while (pos + sizeof(rtattr) <= payload.size()) {
        rtattr a;
        std::memcpy(&a, payload.data() + pos, sizeof a);
        if (a.rta_len < sizeof a || pos + a.rta_len > payload.size())
            throw Error(EPROTO, "malformed rtnetlink attribute");
        auto value = payload.begin() + static_cast<ptrdiff_t>(pos);
        out[a.rta_type & NLA_TYPE_MASK] = Bytes(value + RTA_LENGTH(0), value + a.rta_len);
        pos += RTA_ALIGN(a.rta_len);
    }
    return out;
}

// A string attribute: up to its NUL, if any.
std::string string_of(const Bytes& b) {
    const auto* p = reinterpret_cast<const char*>(b.data());
    return std::string(p, strnlen(p, b.size()));
}

// The kernel's explanation in an NLMSG_ERROR (NETLINK_EXT_ACK, NLMSGERR_ATTR_MSG:
// "The interface netns is immutable"), or "".  The TLVs follow the
// error code and the echoed request, which is only its header with NLM_F_CAPPED.
std::string extended_ack_message(const Message& m) {
    if (!(m.flags & NLM_F_ACK_TLVS) || m.payload.size() < sizeof(nlmsgerr)) return "";
    nlmsgerr e;
    std::memcpy(&e, m.payload.data(), sizeof e);
    size_t echoed = (m.flags & NLM_F_CAPPED) ? sizeof(nlmsghdr) : NLMSG_ALIGN(e.msg.nlmsg_len);
    size_t offset = offsetof(nlmsgerr, msg) + echoed;
    if (offset > m.payload.size()) return "";
    auto attrs = attributes(m.payload, offset);
    auto it = attrs.find(NLMSGERR_ATTR_MSG);
    if (it == attrs.end()) return "";
    std::string text = string_of(it->second);
    // Lower-case the first letter: it follows the errno text in our messages.
    if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
}

template <typename T>
T header_of(const Message& m, uint16_t want, const char* what) {
    if (m.type != want || m.payload.size() < sizeof(T))
        throw Error(EPROTO, std::string("expected ") + what + " from rtnetlink");
    T h;
    std::memcpy(&h, m.payload.data(), sizeof h);
    return h;
}

uint32_t u32_of(const Bytes& b) {
    uint32_t v = 0;
    if (b.size() >= sizeof v) std::memcpy(&v, b.data(), sizeof v);
    return v;
}

}  // namespace

Bytes get_link_request(uint32_t seq, const std::string& name) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    return Builder(RTM_GETLINK, NLM_F_REQUEST, seq).body(ifi).attr_string(IFLA_IFNAME, name).finish();
}

Bytes dump_addresses_request(uint32_t seq) {
    ifaddrmsg ifa{};
    ifa.ifa_family = AF_UNSPEC;
    return Builder(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq).body(ifa).finish();
}

Bytes move_link_request(uint32_t seq, int32_t index, int netns_fd, const std::string& new_name) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = index;
    return Builder(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq)
        .body(ifi)
        .attr_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd))
        .attr_string(IFLA_IFNAME, new_name)
        .finish();
}

Bytes add_address_request(uint32_t seq, int32_t index, const Address& addr) {
    // The flags a user may set (ip-address(8)); the kernel computes the rest
    // (PERMANENT, TENTATIVE, ...) itself.
    constexpr uint32_t settable = IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR | IFA_F_NOPREFIXROUTE |
                                  IFA_F_MCAUTOJOIN;
    uint32_t flags = addr.flags & settable;
    ifaddrmsg ifa{};
    ifa.ifa_family = addr.family;
    ifa.ifa_prefixlen = addr.prefixlen;
    ifa.ifa_flags = static_cast<uint8_t>(flags & 0xff);
    ifa.ifa_scope = addr.scope;
    ifa.ifa_index = static_cast<uint32_t>(index);
    Builder b(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
    b.body(ifa).attr_bytes(IFA_LOCAL, addr.local).attr_bytes(IFA_ADDRESS, addr.address);
    b.attr_bytes(IFA_BROADCAST, addr.broadcast);
    if (flags > 0xff) b.attr_u32(IFA_FLAGS, flags);
    if (addr.metric) b.attr_u32(IFA_RT_PRIORITY, addr.metric);
    return b.finish();
}

Bytes set_link_up_request(uint32_t seq, int32_t index) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = index;
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
    return Builder(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq).body(ifi).finish();
}

std::vector<Message> split(const uint8_t* data, size_t len) {
    std::vector<Message> out;
    size_t pos = 0;
    while (pos + sizeof(nlmsghdr) <= len) {
        nlmsghdr h;
        std::memcpy(&h, data + pos, sizeof h);
        if (h.nlmsg_len < sizeof h || pos + h.nlmsg_len > len) throw Error(EPROTO, "malformed rtnetlink message");
        out.push_back(Message{h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq,
                              Bytes(data + pos + NLMSG_HDRLEN, data + pos + h.nlmsg_len)});
        pos += NLMSG_ALIGN(h.nlmsg_len);
    }
    return out;
}

bool collect_reply(const std::vector<Message>& msgs, uint32_t seq, std::vector<Message>& out) {
    for (const auto& m : msgs) {
        if (m.seq != seq) continue;  // a late answer to an earlier request
        if (m.type == NLMSG_ERROR || m.type == NLMSG_DONE) {
            // Both carry an int: -errno, 0 for an ack (NLMSG_DONE: the dump's status).
            int err = 0;
            if (m.payload.size() >= sizeof err) std::memcpy(&err, m.payload.data(), sizeof err);
            else if (m.type == NLMSG_ERROR) throw Error(EPROTO, "truncated rtnetlink error");
            if (err < 0) {
                Error e = kernel_error(-err);
                std::string why = m.type == NLMSG_ERROR ? extended_ack_message(m) : "";
                throw why.empty() ? e : Error(e.code(), e.message() + " (" + why + ")");
            }
            return true;
        }
        if (m.type == NLMSG_NOOP) continue;
        out.push_back(m);
        if (!(m.flags & NLM_F_MULTI)) return true;
    }
    return false;
}

Link parse_link(const Message& m) {
    auto ifi = header_of<ifinfomsg>(m, RTM_NEWLINK, "a link");
    Link l;
    l.index = ifi.ifi_index;
    l.flags = ifi.ifi_flags;
    auto attrs = attributes(m.payload, sizeof ifi);
    if (auto it = attrs.find(IFLA_IFNAME); it != attrs.end())
        l.name = string_of(it->second);
    return l;
}

Address parse_address(const Message& m) {
    auto ifa = header_of<ifaddrmsg>(m, RTM_NEWADDR, "an address");
    Address a;
    a.family = ifa.ifa_family;
    a.prefixlen = ifa.ifa_prefixlen;
    a.scope = ifa.ifa_scope;
    a.flags = ifa.ifa_flags;
    a.index = static_cast<int32_t>(ifa.ifa_index);
    auto attrs = attributes(m.payload, sizeof ifa);
    auto get = [&](uint16_t type) { auto it = attrs.find(type); return it == attrs.end() ? Bytes{} : it->second; };
    a.local = get(IFA_LOCAL);
    a.address = get(IFA_ADDRESS);
    a.broadcast = get(IFA_BROADCAST);
    if (attrs.count(IFA_FLAGS)) a.flags = u32_of(attrs[IFA_FLAGS]);
    a.metric = u32_of(get(IFA_RT_PRIORITY));
    return a;
}

bool preserved(const Address& a) {
    return (a.flags & IFA_F_PERMANENT) && a.scope == RT_SCOPE_UNIVERSE && (a.family == AF_INET || a.family == AF_INET6);
}

std::string format_address(const Address& a) {
    const Bytes& ip = a.local.empty() ? a.address : a.local;
    char text[INET6_ADDRSTRLEN] = "?";
    if ((a.family == AF_INET && ip.size() == 4) || (a.family == AF_INET6 && ip.size() == 16))
        ::inet_ntop(a.family, ip.data(), text, sizeof text);
    return std::string(text) + "/" + std::to_string(a.prefixlen);
}

}  // namespace rtnl

namespace {

sys::UniqueFd netlink_socket() {
    sys::UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) throw_errno("open a netlink socket");
    return fd;
}

// Asks for the kernel's explanation with each error (best effort: since 4.12)
// and for errors without the request echoed back.
void want_extended_acks(int fd) {
    int one = 1;
    ::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    ::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
}

// A NETLINK_ROUTE socket and the request/reply exchange on it.
class RtnlSocket {
public:
    explicit RtnlSocket(sys::UniqueFd fd) : fd_(std::move(fd)) { want_extended_acks(fd_.get()); }

    // Sends the request built for the next sequence number; returns the reply's
    // data messages once it is complete.  Kernel errors are thrown.
    template <typename Build>
    std::vector<rtnl::Message> call(Build&& build) {
        uint32_t seq = ++seq_;
        rtnl::Bytes req = build(seq);
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        ssize_t n;
        auto* to = reinterpret_cast<sockaddr*>(&kernel);
        while ((n = ::sendto(fd_.get(), req.data(), req.size(), 0, to, sizeof kernel)) < 0 && errno == EINTR) {}
        if (n < 0) throw_errno("send to rtnetlink");
        std::vector<rtnl::Message> out;
        std::vector<uint8_t> buf(64 * 1024);
        for (;;) {
            sockaddr_nl from{};
            socklen_t from_len = sizeof from;
            while ((n = ::recvfrom(fd_.get(), buf.data(), buf.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                                   &from_len)) < 0 && errno == EINTR) {}
            if (n < 0) throw_errno("receive from rtnetlink");
            if (static_cast<size_t>(n) > buf.size()) throw Error(EMSGSIZE, "rtnetlink reply larger than 64 KiB");
            if (from.nl_pid != 0) continue;  // only the kernel answers; ignore anyone else
            if (rtnl::collect_reply(rtnl::split(buf.data(), static_cast<size_t>(n)), seq, out)) return out;
        }
    }

    rtnl::Link get_link(const std::string& name) {
        auto reply = call([&](uint32_t seq) { return rtnl::get_link_request(seq, name); });
        if (reply.empty()) throw Error(EPROTO, "no answer from rtnetlink");
        return rtnl::parse_link(reply.front());
    }

private:
    sys::UniqueFd fd_;
    uint32_t seq_ = 0;
};

// A netlink socket of the network namespace `netns_fd`: a socket belongs to the
// namespace it was created in, so a forked child enters it (setns, which the
// runtime parent itself must not do), creates the socket and hands it back
// over a socketpair.  The child makes only raw syscalls and _exits.
sys::UniqueFd netlink_socket_in(int netns_fd) {
    int sv[2];
    check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), "socketpair");
    sys::UniqueFd ours(sv[0]), theirs(sv[1]);
    sys::Child child = sys::Child::fork("fork", [&] {
        int err = 0;
        int sock = -1;
        if (::setns(netns_fd, CLONE_NEWNET) < 0)
            err = errno;
        else if ((sock = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
            err = errno;
        ssize_t n = sock >= 0 ? sys::send_with_fd(theirs.get(), &err, sizeof err, sock)
                              : ::send(theirs.get(), &err, sizeof err, MSG_NOSIGNAL);
        return n == static_cast<ssize_t>(sizeof err) ? 0 : 1;
    });
    theirs.reset();
    int err = 0;
    sys::UniqueFd sock;
    ssize_t n = sys::recv_with_fd(ours.get(), &err, sizeof err, sock);
    int recv_errno = errno;
    child.wait();
    if (n < 0) throw sys_error(recv_errno, "receive the netlink socket of the container's network namespace");
    if (err) throw sys_error(err, "open a netlink socket in the container's network namespace");
    if (n != static_cast<ssize_t>(sizeof err) || !sock)
        throw Error(EPROTO, "no netlink socket from the container's network namespace");
    return sock;
}

struct Move {
    std::string host_name, target;
    rtnl::Link link;                       // on the host
    std::vector<rtnl::Address> addresses;  // to add again in the container
};

}  // namespace

void move_net_devices(const std::map<std::string, spec::NetDevice>& devices, pid_t pid) {
    if (devices.empty()) return;
    std::string ns_path = "/proc/" + std::to_string(pid) + "/ns/net";
    sys::UniqueFd netns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns) throw_errno("linux.netDevices: open the container's network namespace " + ns_path);
    RtnlSocket host(netlink_socket());

    // Everything is looked up before anything moves: a missing device or an
    // unreadable address list then leaves the host as it was.
    std::vector<rtnl::Address> host_addresses;
    with_context("linux.netDevices: list the host's addresses", [&] {
        for (const auto& m : host.call(rtnl::dump_addresses_request))
            if (m.type == RTM_NEWADDR) host_addresses.push_back(rtnl::parse_address(m));
    });
    std::vector<Move> moves;
    for (const auto& entry : devices) {
        const std::string& name = entry.first;  // (clang: lambdas may not capture structured bindings)
        Move mv{name, entry.second.name.empty() ? name : entry.second.name, {}, {}};
        with_context("linux.netDevices." + name + ": move into the container's network namespace",
                     [&] { mv.link = host.get_link(name); });
        for (const auto& a : host_addresses)
            if (a.index == mv.link.index && rtnl::preserved(a)) mv.addresses.push_back(a);
        moves.push_back(std::move(mv));
    }
    RtnlSocket inside(with_context("linux.netDevices", [&] { return netlink_socket_in(netns.get()); }));

    for (const auto& mv : moves) {
        std::string where = "linux.netDevices." + mv.host_name;
        with_context(where + ": move into the container's network namespace", [&] {
            host.call([&](uint32_t seq) {
                return rtnl::move_link_request(seq, mv.link.index, netns.get(), mv.target);
            });
        });
        with_context(where + ": set up " + quote(mv.target) + " in the container", [&] {
            // The index may change with the namespace (when taken there): ask again.
            rtnl::Link moved = inside.get_link(mv.target);
            for (const auto& a : mv.addresses)
                with_context("add address " + rtnl::format_address(a), [&] {
                    inside.call([&](uint32_t seq) { return rtnl::add_address_request(seq, moved.index, a); });
                });
            if (mv.link.flags & IFF_UP)
                with_context("set it up", [&] {
                    inside.call([&](uint32_t seq) { return rtnl::set_link_up_request(seq, moved.index); });
                });
        });
        log::debug("moved network device " + mv.host_name + " into the container as " + mv.target + " with " +
                   std::to_string(mv.addresses.size()) + " address(es)" + (mv.link.flags & IFF_UP ? ", up" : ""));
    }
}

}  // namespace crunlite::linux
