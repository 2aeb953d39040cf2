#include "crunlite/process/sync.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cctype>

#include "crunlite/base/strings.hpp"
#include "crunlite/sys/interrupt.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::process {

std::pair<SyncSocket, SyncSocket> SyncSocket::make_pair() {
    int fds[2];
    check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), "socketpair");
    return {SyncSocket(sys::UniqueFd(fds[0])), SyncSocket(sys::UniqueFd(fds[1]))};
}

void SyncSocket::pass_gate() const noexcept {
    if (!gate_) return;
    for (char c;;) {
        ssize_t n = ::read(gate_.get(), &c, 1);
        if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    gate_.reset();
}

void SyncSocket::send(MsgType type, const std::string& payload) const {
    pass_gate();
    std::string msg(1, static_cast<char>(type));
    msg += payload;
    for (;;) {
        ssize_t n = ::send(fd_.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
        if (n >= 0) return;
        if (errno != EINTR) throw_errno("send sync message");
    }
}

void SyncSocket::send_fd(MsgType type, int fd) const {
    pass_gate();
    char t = static_cast<char>(type);
    if (sys::send_with_fd(fd_.get(), &t, 1, fd) < 0) throw_errno("send sync message with an fd");
}

bool SyncSocket::send_error(const crunlite::Error& e) const noexcept {
    pass_gate();
    std::string msg(1, static_cast<char>(MsgType::Error));
    msg += std::to_string(e.code()) + static_cast<char>(e.kind()) + " " + e.message();
    ssize_t n;
    while ((n = ::send(fd_.get(), msg.data(), msg.size(), MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
    return n >= 0;
}

bool SyncSocket::receive(Message& out, bool to_the_end) const {
    char buf[65536];
    ssize_t n = sys::recv_with_fd(fd_.get(), buf, sizeof buf, out.fd, !to_the_end);
    // A peer that exits with our messages unread (an init that failed before it
    // read Ignored) leaves ECONNRESET, which the kernel reports once, ahead of
    // what the peer sent before it closed (its Error): read on.
    if (n < 0 && errno == ECONNRESET) n = sys::recv_with_fd(fd_.get(), buf, sizeof buf, out.fd, !to_the_end);
    if (n < 0 && errno == EINTR) sys::throw_if_interrupted();
    if (n < 0) throw_errno("receive sync message");
    if (n == 0) return false;
    out.type = static_cast<MsgType>(buf[0]);
    out.payload.assign(buf + 1, static_cast<size_t>(n - 1));
    return true;
}

std::string SyncSocket::expect(MsgType type, const std::string& what) const {
    return expect_message(type, what).payload;
}

sys::UniqueFd SyncSocket::expect_fd(MsgType type, const std::string& what) const {
    Message msg = expect_message(type, what);
    if (!msg.fd) throw crunlite::Error(EPROTO, what + ": sync message without its fd");
    return std::move(msg.fd);
}

void SyncSocket::rethrow(const Message& error) {
    // "<code><kind> <message>"
    size_t sp = error.payload.find(' ');
    std::string head = error.payload.substr(0, sp);
    auto kind = crunlite::Error::Kind::Other;
    if (!head.empty() && !std::isdigit(static_cast<unsigned char>(head.back()))) {
        using K = crunlite::Error::Kind;
        for (K k : {K::CommandNotFound, K::CommandNotExecutable, K::ExecFailed})
            if (head.back() == static_cast<char>(k)) kind = k;
        head.pop_back();
    }
    int code = static_cast<int>(parse_int(head).value_or(0));
    throw crunlite::Error(code, sp == std::string::npos ? error.payload : error.payload.substr(sp + 1), kind);
}

Message SyncSocket::expect_message(MsgType type, const std::string& what) const {
    Message msg;
    if (!receive(msg)) throw crunlite::Error(EPIPE, what + ": container setup process exited early");
    if (msg.type == MsgType::Error) rethrow(msg);
    if (msg.type != type) throw crunlite::Error(EPROTO, what + ": unexpected sync message");
    return msg;
}

}  // namespace crunlite::process
