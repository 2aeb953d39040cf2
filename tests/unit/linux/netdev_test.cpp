#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/linux/netdev.hpp"

using namespace crunlite;
using linux::rtnl::Bytes;

namespace {

// Netlink is in host byte order: the expected bytes are built the same way.
template <typename T>
void put(Bytes& b, T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
}
void put16(Bytes& b, uint16_t v) { put(b, v); }
void put32(Bytes& b, uint32_t v) { put(b, v); }
void header(Bytes& b, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid = 0) {
    put32(b, len);
    put16(b, type);
    put16(b, flags);
    put32(b, seq);
    put32(b, pid);
}
void attr(Bytes& b, uint16_t type, const void* data, size_t len) {
    put16(b, static_cast<uint16_t>(4 + len));
    put16(b, type);
    const auto* p = static_cast<const uint8_t*>(data);
    b.insert(b.end(), p, p + len);
    while (b.size() % 4) b.push_back(0);
}
// ifinfomsg: family, pad, type (u16), index (s32), flags, change (u32).
void ifinfo(Bytes& b, int32_t index, uint32_t flags, uint32_t change) {
    b.push_back(AF_UNSPEC);
    b.push_back(0);
    put16(b, 0);
    put32(b, static_cast<uint32_t>(index));
    put32(b, flags);
    put32(b, change);
}
uint32_t len_of(const Bytes& b) {
    uint32_t v;
    std::memcpy(&v, b.data(), 4);
    return v;
}
Bytes ip4(const char* text) {
    Bytes b(4);
    REQUIRE(inet_pton(AF_INET, text, b.data()) == 1);
    return b;
}
Bytes ip6(const char* text) {
    Bytes b(16);
    REQUIRE(inet_pton(AF_INET6, text, b.data()) == 1);
    return b;
}
linux::rtnl::Message message(const Bytes& wire) {
    auto msgs = linux::rtnl::split(wire.data(), wire.size());
    REQUIRE(msgs.size() == 1);
    return msgs[0];
}
// An NLMSG_ERROR answering `seq` with `error` (0: an ack).
Bytes error_reply(uint32_t seq, int32_t error) {
    Bytes b;
    header(b, 16 + 4 + 16, NLMSG_ERROR, 0, seq);
    put32(b, static_cast<uint32_t>(error));
    header(b, 16, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);  // the request echoed back
    return b;
}

}  // namespace

TEST_CASE("the move request is one RTM_NEWLINK with the index, the netns fd and the new name", "[netdev]") {
    Bytes got = linux::rtnl::move_link_request(7, 42, 9, "eth9");
    Bytes want;
    header(want, 16 + 16 + 8 + 12, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 7);
    ifinfo(want, 42, 0, 0);  // no flag changes: the kernel takes the device down while moving it
    uint32_t fd = 9;
    attr(want, IFLA_NET_NS_FD, &fd, 4);
    attr(want, IFLA_IFNAME, "eth9", 5);  // NUL-terminated, padded to 4
    CHECK(got == want);
    CHECK(len_of(got) == got.size());
    // A 15-byte name: 16 with the NUL, no padding.
    got = linux::rtnl::move_link_request(8, 3, 4, "abcdefghijklmno");
    CHECK(got.size() == 16 + 16 + 8 + 20);
    CHECK(len_of(got) == got.size());
}

TEST_CASE("lookup, dump and link-up requests", "[netdev]") {
    Bytes want;
    header(want, 16 + 16 + 12, RTM_GETLINK, NLM_F_REQUEST, 1);  // a plain get: the answer is the link or an error
    ifinfo(want, 0, 0, 0);
    attr(want, IFLA_IFNAME, "crl0", 5);
    CHECK(linux::rtnl::get_link_request(1, "crl0") == want);

    want.clear();
    header(want, 16 + 8, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 2);
    want.insert(want.end(), 8, 0);  // ifaddrmsg of AF_UNSPEC: every family, every interface
    CHECK(linux::rtnl::dump_addresses_request(2) == want);

    want.clear();
    header(want, 16 + 16, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 3);
    ifinfo(want, 5, IFF_UP, IFF_UP);
    CHECK(linux::rtnl::set_link_up_request(3, 5) == want);
}

TEST_CASE("an address read from a dump is added back with the same fields on the new index", "[netdev]") {
    // RTM_NEWADDR as the kernel dumps it: 10.213.7.1/24 brd 10.213.7.255 on ifindex 4, label crl0.
    Bytes wire;
    header(wire, 0, RTM_NEWADDR, NLM_F_MULTI, 5, 1234);
    wire.push_back(AF_INET);
    wire.push_back(24);
    wire.push_back(IFA_F_PERMANENT);
    wire.push_back(RT_SCOPE_UNIVERSE);
    put32(wire, 4);
    attr(wire, IFA_ADDRESS, ip4("10.213.7.1").data(), 4);
    attr(wire, IFA_LOCAL, ip4("10.213.7.1").data(), 4);
    attr(wire, IFA_BROADCAST, ip4("10.213.7.255").data(), 4);
    attr(wire, IFA_LABEL, "crl0", 5);
    uint32_t flags = IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE;
    attr(wire, IFA_FLAGS, &flags, 4);
    uint32_t len = static_cast<uint32_t>(wire.size());
    std::memcpy(wire.data(), &len, 4);

    auto m = message(wire);
    CHECK((m.type == RTM_NEWADDR && m.seq == 5 && m.flags == NLM_F_MULTI));
    auto a = linux::rtnl::parse_address(m);
    CHECK(a.family == AF_INET);
    CHECK(a.prefixlen == 24);
    CHECK(a.index == 4);
    CHECK(a.flags == (IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE));  // IFA_FLAGS wins over the 8-bit field
    CHECK(a.local == ip4("10.213.7.1"));
    CHECK(a.broadcast == ip4("10.213.7.255"));
    CHECK(linux::rtnl::preserved(a));
    CHECK(linux::rtnl::format_address(a) == "10.213.7.1/24");

    Bytes got = linux::rtnl::add_address_request(9, 2, a);
    Bytes want;
    header(want, 0, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 9);
    want.push_back(AF_INET);
    want.push_back(24);
    want.push_back(0);  // PERMANENT is the kernel's to set; NOPREFIXROUTE does not fit 8 bits
    want.push_back(RT_SCOPE_UNIVERSE);
    put32(want, 2);  // the index in the container
    attr(want, IFA_LOCAL, ip4("10.213.7.1").data(), 4);
    attr(want, IFA_ADDRESS, ip4("10.213.7.1").data(), 4);
    attr(want, IFA_BROADCAST, ip4("10.213.7.255").data(), 4);
    uint32_t settable = IFA_F_NOPREFIXROUTE;
    attr(want, IFA_FLAGS, &settable, 4);  // no IFA_LABEL: the kernel labels it with the new name
    len = static_cast<uint32_t>(want.size());
    std::memcpy(want.data(), &len, 4);
    CHECK(got == want);
    // Round trip: what we send parses back to the same address on the new index.
    auto b = linux::rtnl::parse_address(message(got));
    CHECK((b.local == a.local && b.address == a.address && b.broadcast == a.broadcast && b.index == 2));
}

TEST_CASE("only permanent addresses of global scope go along with the device", "[netdev]") {
    linux::rtnl::Address a;
    a.family = AF_INET6;
    a.prefixlen = 64;
    a.address = ip6("fd00:1::5");
    a.flags = IFA_F_PERMANENT;
    a.scope = RT_SCOPE_UNIVERSE;
    CHECK(linux::rtnl::preserved(a));
    CHECK(linux::rtnl::format_address(a) == "fd00:1::5/64");
    auto link_local = a;
    link_local.address = ip6("fe80::1");
    link_local.scope = RT_SCOPE_LINK;  // made again by the kernel in the new namespace
    CHECK_FALSE(linux::rtnl::preserved(link_local));
    auto dynamic = a;
    dynamic.flags = 0;  // a lease with a lifetime (DHCP, SLAAC) belongs to the host's network
    CHECK_FALSE(linux::rtnl::preserved(dynamic));
    auto host_scope = a;
    host_scope.scope = RT_SCOPE_HOST;
    CHECK_FALSE(linux::rtnl::preserved(host_scope));

    // IPv6: only IFA_ADDRESS, and the metric goes along.
    a.metric = 100;
    Bytes got = linux::rtnl::add_address_request(1, 3, a);
    auto m = message(got);
    CHECK(m.payload[0] == AF_INET6);
    CHECK(m.payload.size() == 8 + 20 + 8);  // ifaddrmsg, IFA_ADDRESS (16 bytes), IFA_RT_PRIORITY
    auto back = linux::rtnl::parse_address(m);
    CHECK((back.address == a.address && back.local.empty() && back.metric == 100 && back.index == 3));
}

TEST_CASE("a link answer gives the index, the flags and the name", "[netdev]") {
    Bytes wire;
    header(wire, 16 + 16 + 12, RTM_NEWLINK, 0, 1);
    ifinfo(wire, 6, IFF_UP | IFF_BROADCAST, 0);
    attr(wire, IFLA_IFNAME, "crl0", 5);
    auto l = linux::rtnl::parse_link(message(wire));
    CHECK(l == linux::rtnl::Link{6, IFF_UP | IFF_BROADCAST, "crl0"});
    // Anything else where a link is expected is a protocol error, not garbage.
    Bytes other;
    header(other, 16 + 4, NLMSG_DONE, 0, 1);
    put32(other, 0);
    CHECK_THROWS_WITH(linux::rtnl::parse_link(message(other)), "expected a link from rtnetlink");
}

TEST_CASE("replies: acks, kernel errors as errno, dumps until NLMSG_DONE", "[netdev]") {
    std::vector<linux::rtnl::Message> out;
    Bytes ack = error_reply(4, 0);
    CHECK(linux::rtnl::collect_reply(linux::rtnl::split(ack.data(), ack.size()), 4, out));
    CHECK(out.empty());

    // -ENODEV: the errno, lower-cased; the caller names the device and the step.
    Bytes nodev = error_reply(5, -ENODEV);
    try {
        linux::rtnl::collect_reply(linux::rtnl::split(nodev.data(), nodev.size()), 5, out);
        FAIL("no error thrown");
    } catch (const Error& e) {
        CHECK(e.code() == ENODEV);
        CHECK(e.message() == "no such device");
    }
    // With NETLINK_EXT_ACK and NETLINK_CAP_ACK: the request's header only, then the kernel's message.
    Bytes ext;
    header(ext, 0, NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 5);
    put32(ext, static_cast<uint32_t>(-EINVAL));
    header(ext, 52, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 5);  // its length is the original one
    const char why[] = "The interface netns is immutable";
    attr(ext, NLMSGERR_ATTR_MSG, why, sizeof why);
    uint32_t len = static_cast<uint32_t>(ext.size());
    std::memcpy(ext.data(), &len, 4);
    try {
        linux::rtnl::collect_reply(linux::rtnl::split(ext.data(), ext.size()), 5, out);
        FAIL("no error thrown");
    } catch (const Error& e) {
        CHECK(e.code() == EINVAL);
        CHECK(e.message() == "invalid argument (the interface netns is immutable)");
    }
    // The answer to another request is not ours.
    Bytes stale = error_reply(3, -EEXIST);
    CHECK_FALSE(linux::rtnl::collect_reply(linux::rtnl::split(stale.data(), stale.size()), 5, out));

    // A dump arrives in parts: two messages, then NLMSG_DONE in the next datagram.
    Bytes part;
    for (int i = 0; i < 2; ++i) {
        header(part, 16 + 8, RTM_NEWADDR, NLM_F_MULTI, 6);
        part.insert(part.end(), 8, 0);
    }
    auto msgs = linux::rtnl::split(part.data(), part.size());
    CHECK(msgs.size() == 2);
    CHECK_FALSE(linux::rtnl::collect_reply(msgs, 6, out));
    CHECK(out.size() == 2);
    Bytes done;
    header(done, 16 + 4, NLMSG_DONE, NLM_F_MULTI, 6);
    put32(done, 0);
    CHECK(linux::rtnl::collect_reply(linux::rtnl::split(done.data(), done.size()), 6, out));
    CHECK(out.size() == 2);

    // A plain get is answered by one message without NLM_F_MULTI.
    out.clear();
    Bytes link;
    header(link, 16 + 16, RTM_NEWLINK, 0, 7);
    ifinfo(link, 2, 0, 0);
    CHECK(linux::rtnl::collect_reply(linux::rtnl::split(link.data(), link.size()), 7, out));
    CHECK(out.size() == 1);

    // A length that runs past the datagram is refused.
    Bytes bad;
    header(bad, 64, RTM_NEWLINK, 0, 8);
    CHECK_THROWS_WITH(linux::rtnl::split(bad.data(), bad.size()), "malformed rtnetlink message");
}
