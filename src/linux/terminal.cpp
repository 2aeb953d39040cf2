#include "crunlite/linux/terminal.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/sockios.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/base/strings.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::linux {

sys::UniqueFd setup_terminal(uid_t uid, const std::optional<spec::ConsoleSize>& size, bool console) {
    sys::UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master) throw_errno("open /dev/ptmx for process.terminal");
    if (::unlockpt(master.get()) < 0) throw_errno("unlockpt");
    // TIOCGPTPEER opens the slave through the master, not through a path that a
    // container process could have replaced.
    sys::UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) throw_errno("open the pty slave");
    if (::fchown(slave.get(), uid, static_cast<gid_t>(-1)) < 0 && errno != EINVAL) throw_errno("chown the pty slave");
    if (size && (size->height || size->width)) {
        winsize ws{static_cast<unsigned short>(size->height), static_cast<unsigned short>(size->width), 0, 0};
        if (::ioctl(slave.get(), TIOCSWINSZ, &ws) < 0) throw_errno("set process.consoleSize");
    }
    if (console) {
        // The container's devpts path of the slave: the bind source must be a
        // path (a /proc/self/fd link would need the container's /proc).
        unsigned n = 0;
        if (::ioctl(master.get(), TIOCGPTN, &n) < 0) throw_errno("get the pty number");
        std::string pts = "/dev/pts/" + std::to_string(n);
        // Made if missing, never opened: an existing node (a host's /dev) would be a tty.
        sys::UniqueFd made(::open("/dev/console", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0));
        if (!made && errno != EEXIST) throw_errno("create /dev/console");
        if (::mount(pts.c_str(), "/dev/console", nullptr, MS_BIND, nullptr) < 0)
            throw_errno("bind " + pts + " on /dev/console");
    }
    if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) throw_errno("make the pty the controlling terminal");
    for (int fd = 0; fd < 3; ++fd)
        if (::dup2(slave.get(), fd) < 0) throw_errno("dup the pty slave to stdio");
    return master;
}

void send_to_console_socket(const std::string& socket_path, int master, int await_ms) {
    std::string where = "--console-socket " + quote(socket_path);
    sys::UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno("socket for " + where);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) throw Error(ENAMETOOLONG, where + ": path too long");
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) throw_errno("connect to " + where);
    // runc sends the pty's name as the data that carries the fd.
    const char name[] = "/dev/ptmx";
    if (sys::send_with_fd(sock.get(), name, sizeof name - 1, master) < 0) throw_errno("send the pty master to " + where);
    // Read once nothing we sent is queued any more (SIOCOUTQ: our unread bytes).
    for (int waited_us = 0, queued = 1; waited_us < await_ms * 1000; waited_us += 100) {
        if (::ioctl(sock.get(), SIOCOUTQ, &queued) < 0 || queued == 0) return;
        ::usleep(100);
    }
}

namespace {

void copy_window_size(int from, int to) {
    winsize ws;
    if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

// Writes all of buf; false when the peer is gone.
bool write_all(int fd, const char* buf, size_t len) {
    while (len > 0) {
        ssize_t n = ::write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        buf += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

TerminalProxy::TerminalProxy(sys::UniqueFd master) : master_(std::move(master)) {
    // As runc's: the pty sends "\n" as it is (ONLCR off), so output captured from
    // us (run -t > file) has the program's line ends, not "\r\n".
    termios pty;
    if (::tcgetattr(master_.get(), &pty) == 0) {
        pty.c_oflag &= ~static_cast<tcflag_t>(ONLCR);
        ::tcsetattr(master_.get(), TCSANOW, &pty);
    }
    if (!::isatty(STDIN_FILENO)) return;
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
        termios raw = saved_;
        ::cfmakeraw(&raw);
        // Output processing stays as it was (as containerd/console's raw mode, which
        // runc uses): the caller's terminal turns "\n" into "\r\n" where the
        // program's pty does not (ONLCR off above, or turned off by the program).
        raw.c_oflag |= saved_.c_oflag & OPOST;
        raw_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    copy_window_size(STDIN_FILENO, master_.get());
}

TerminalProxy::~TerminalProxy() {
    if (raw_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

bool TerminalProxy::pump_output() {
    char buf[16384];
    ssize_t n = ::read(master_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;  // EIO: every slave is closed
    return write_all(STDOUT_FILENO, buf, static_cast<size_t>(n));
}

void TerminalProxy::pump_input() {
    char buf[16384];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        stdin_open_ = false;
        const char eof = 4;  // ^D: end of input for the program on the pty
        write_all(master_.get(), &eof, 1);
        return;
    }
    write_all(master_.get(), buf, static_cast<size_t>(n));
}

void TerminalProxy::resize() {
    if (::isatty(STDIN_FILENO)) copy_window_size(STDIN_FILENO, master_.get());
}

void TerminalProxy::drain() {
    int fl = ::fcntl(master_.get(), F_GETFL);
    ::fcntl(master_.get(), F_SETFL, fl | O_NONBLOCK);
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(master_.get(), buf, sizeof buf);
        if (n <= 0 || !write_all(STDOUT_FILENO, buf, static_cast<size_t>(n))) return;
    }
}

}  // namespace crunlite::linux
