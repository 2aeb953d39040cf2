// linux.netDevices (runtime-spec 1.3): host network interfaces moved into the
// container's network namespace, renamed, with their addresses and up state.
// Spoken over a raw NETLINK_ROUTE socket (rtnetlink(7)); no library.
//
// The config is validated before (spec/validate.cpp: a new network namespace,
// valid and distinct names).  Where each part runs:
//   - rtnl::*: pure (request bytes out, reply bytes in); unit-tested.  Netlink
//     uses the host's byte order throughout.
//   - move_net_devices(): the runtime parent (process/launcher.cpp), as host
//     root, once the container's init exists in its new network namespace and
//     before it is told to go on; it forks one short-lived child that enters
//     that namespace only to open a netlink socket there.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crunlite/spec/config.hpp"

namespace crunlite::linux {

// Moves each device (host name -> spec::NetDevice) into the network namespace
// of process `pid` (/proc/PID/ns/net): every device is looked up first, so a
// missing one fails before any has moved.  Then, per device, ONE RTM_NEWLINK
// moves and renames it, its permanent global addresses (read on the host before
// the move: the kernel drops them) are added again inside, and it is set up
// there if it was up on the host.  Throws Error naming the device
// ("linux.netDevices.dummy0: move into the container's network namespace: no
// such device").  Devices moved before a failure stay in the container's
// namespace: the caller kills the init, and the kernel then destroys virtual
// devices and returns physical ones to the initial network namespace.
void move_net_devices(const std::map<std::string, spec::NetDevice>& devices, pid_t pid);

namespace rtnl {

using Bytes = std::vector<uint8_t>;

// One message of a reply: the nlmsghdr fields and what follows the header.
struct Message {
    uint16_t type = 0;
    uint16_t flags = 0;
    uint32_t seq = 0;
    Bytes payload;
};

struct Link {
    int32_t index = 0;
    uint32_t flags = 0;  // IFF_*
    std::string name;
    bool operator==(const Link&) const = default;
};

// One interface address, as RTM_GETADDR reports it and RTM_NEWADDR takes it.
struct Address {
    uint8_t family = 0;  // AF_INET, AF_INET6
    uint8_t prefixlen = 0;
    uint8_t scope = 0;   // RT_SCOPE_*
    uint32_t flags = 0;  // IFA_F_* (IFA_FLAGS when present: it holds more bits than ifa_flags)
    int32_t index = 0;   // interface
    Bytes local;         // IFA_LOCAL (IPv4; IPv6 only with a peer)
    Bytes address;       // IFA_ADDRESS: the address, or the peer on point-to-point links
    Bytes broadcast;     // IFA_BROADCAST (IPv4)
    uint32_t metric = 0; // IFA_RT_PRIORITY, 0 when absent
    bool operator==(const Address&) const = default;
};

// Requests.  Each gets NLM_F_REQUEST; changes also NLM_F_ACK, so that every one
// is answered by an NLMSG_ERROR (0 or -errno).
Bytes get_link_request(uint32_t seq, const std::string& name);  // RTM_GETLINK by IFLA_IFNAME
Bytes dump_addresses_request(uint32_t seq);                     // RTM_GETADDR, NLM_F_DUMP, every family
// RTM_NEWLINK: ifi_index `index`, IFLA_NET_NS_FD `netns_fd`, IFLA_IFNAME `new_name`.
// The kernel moves and renames in one step (do_setlink), so no name is ever
// taken in the wrong namespace and no half-done state is visible.
Bytes move_link_request(uint32_t seq, int32_t index, int netns_fd, const std::string& new_name);
// RTM_NEWADDR (NLM_F_CREATE | NLM_F_EXCL) of `addr` on interface `index`.  No
// IFA_LABEL: an IPv4 label is the interface's (old) name, so the kernel's
// default, the new name, is the right one.
Bytes add_address_request(uint32_t seq, int32_t index, const Address& addr);
Bytes set_link_up_request(uint32_t seq, int32_t index);         // RTM_NEWLINK, IFF_UP in ifi_change/flags

// Splits a datagram from the kernel into messages; Error(EPROTO) when malformed.
std::vector<Message> split(const uint8_t* data, size_t len);

// Adds the messages of the reply to request `seq` in `msgs` to `out` (others
// are ignored) and returns true once that reply is complete: an NLMSG_ERROR
// (an ack), NLMSG_DONE (end of a dump) or a message without NLM_F_MULTI (the
// answer to a plain get).  A kernel error throws Error(errno, "no such device"),
// with the kernel's explanation appended when it sent one (NETLINK_EXT_ACK):
// "invalid argument (the interface netns is immutable)".
bool collect_reply(const std::vector<Message>& msgs, uint32_t seq, std::vector<Message>& out);

Link parse_link(const Message& m);        // an RTM_NEWLINK message; Error(EPROTO) otherwise
Address parse_address(const Message& m);  // an RTM_NEWADDR message; Error(EPROTO) otherwise

// Whether an address goes along with its device: permanent (IFA_F_PERMANENT,
// configured by someone, not a DHCP or SLAAC lease that belongs to the host's
// network) and of global scope (RT_SCOPE_UNIVERSE; link-local ones are made
// again by the kernel) -- as runtime-spec 1.3, runc and youki.
bool preserved(const Address& a);

// "10.213.7.1/24", "fd00::1/64" for messages.
std::string format_address(const Address& a);

}  // namespace rtnl
}  // namespace crunlite::linux
