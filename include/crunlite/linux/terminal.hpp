// Pseudo-terminals for process.terminal.
//
// The pty is allocated by the container's own process, from the container's
// devpts (/dev/ptmx inside its root), exactly as runc does: the slave becomes
// the process's controlling terminal and stdio, the master goes to whoever
// drives the container (--console-socket, or the foreground `run`/`exec` proxy).
#pragma once

#include <sys/types.h>
#include <termios.h>

#include <optional>
#include <string>

#include "crunlite/spec/config.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::linux {

// Opens a new pty from /dev/ptmx, makes its slave the controlling terminal of
// the calling process (which must be a session leader) and its fds 0-2, owned by
// uid (its group stays devpts's, tty with gid=5, as runc leaves it), sized
// `size` if given.  With `console`, the slave is also bind-mounted on
// /dev/console (made if missing), as runc does for a container's init.
// Returns the master.
sys::UniqueFd setup_terminal(uid_t uid, const std::optional<spec::ConsoleSize>& size, bool console = false);

// Sends `master` to the unix socket at `socket_path` with SCM_RIGHTS (the
// protocol of runc's --console-socket, which containerd and conmon implement).
// With `await_ms`, then waits up to that long until the peer has read it.
void send_to_console_socket(const std::string& socket_path, int master, int await_ms = 0);

// Foreground use without a console socket (`run`, `exec` with a terminal):
// joins our stdin/stdout to the pty master.  While it lives, our terminal (if
// stdin is one) is in raw mode; resize() mirrors its size after SIGWINCH.  The
// caller polls master() and, while stdin_open(), stdin.
class TerminalProxy {
public:
    explicit TerminalProxy(sys::UniqueFd master);
    ~TerminalProxy();
    TerminalProxy(const TerminalProxy&) = delete;
    TerminalProxy& operator=(const TerminalProxy&) = delete;

    int master() const { return master_.get(); }
    bool stdin_open() const { return stdin_open_; }
    // master -> stdout; false once the pty hung up (every slave closed).
    bool pump_output();
    // stdin -> master; at EOF of stdin, sends the terminal's EOF character.
    void pump_input();
    void resize();
    // Copies whatever output is still buffered (after the process exited).
    void drain();

private:
    sys::UniqueFd master_;
    bool stdin_open_ = true;
    bool raw_ = false;
    termios saved_{};
};

}  // namespace crunlite::linux
