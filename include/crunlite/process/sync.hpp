// SyncSocket: the typed message channel between the runtime parent and the
// container's setup processes (a SOCK_SEQPACKET socketpair, so one send is one
// message).  The protocol is strictly sequential:
//
//   stage-1 -> parent  MapRequest   (after unshare(CLONE_NEWUSER); parent writes uid/gid maps)
//   parent  -> stage-1 MapDone
//   stage-1 -> parent  Pid          (payload: stage-2 pid, decimal; stage-1 then exits)
//   parent  -> stage-2 Go           (after the parent has recorded/placed the pid)
//   stage-2 -> parent  NetNs, UserNs (only when asked: its namespace fds attached)
//   stage-2 -> parent  Hooks        (only with hooks: mounts done, before pivot_root)
//   parent  -> stage-2 HooksDone    (payload: the creating and created state JSON, '\n'-separated)
//   stage-2 -> parent  Pty          (only with process.terminal: the pty master attached)
//   stage-2 -> parent  SeccompFd    (only with SCMP_ACT_NOTIFY rules: the listener fd attached)
//   stage-2 -> parent  Ready        (rootfs and process set up)
//   parent  -> stage-2 Committed    (the state is recorded; stage-2 then blocks on exec.fifo,
//                                    or with payload kStartNow goes on to exec at once; with
//                                    kPutStateInPlace, sent before Ready, stage-2 renames the
//                                    state written ahead into place itself, then execs)
//   any child -> parent Error       (payload: errno, ' ', message; the sender then _exit()s)
//
// The socket is close-on-exec, so when the container process execs the parent
// reads EOF; an exec failure after start is reported as an Error first.
//
// The same channel carries the verdict of a `run -d` monitor to its caller
// (runtime/run.cpp), and the steps of the rootless user-namespace child
// (runtime::run_in_rootless_userns) to its parent:
//
//   monitor -> caller   Started     (the container started; the monitor stays)
//   monitor -> caller   Error       (create or start failed; the monitor then exits)
//   userns child -> parent MapRequest, parent -> userns child MapDone (as stage-1's),
//   then an Error from the child if its work fails
#pragma once

#include <string>
#include <string_view>

#include "crunlite/base/error.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::process {

enum class MsgType : char {
    MapRequest = 'M', MapDone = 'D', Pid = 'P', Go = 'G', Hooks = 'H', HooksDone = 'h', Pty = 'T', SeccompFd = 'S',
    Ready = 'R', Error = 'E', NetNs = 'N', UserNs = 'U',
    Committed = 'C',  // parent -> init: the container's state is recorded (create may now exit)
    Ignored = 'I',    // parent -> init: the signals the runtime ignores, which the init resets
    Started = 's'     // `run -d` monitor -> its caller: the container started
};

// The payloads of a Committed message that also starts the init (`run`): the
// state is in place; or the init is to put it in place itself (see
// LaunchRequest::state_handoff).
inline constexpr std::string_view kStartNow = "start";
inline constexpr std::string_view kPutStateInPlace = "rename";

struct Message {
    MsgType type;
    std::string payload;
    sys::UniqueFd fd;  // an fd that came with the message, if any
};

class SyncSocket {
public:
    SyncSocket() = default;
    explicit SyncSocket(sys::UniqueFd fd) : fd_(std::move(fd)) {}

    // Creates a connected pair; first end for the parent, second for the child.
    static std::pair<SyncSocket, SyncSocket> make_pair();

    void send(MsgType type, const std::string& payload = {}) const;
    // Sends a message with `fd` attached (SCM_RIGHTS).
    void send_fd(MsgType type, int fd) const;
    // Sends an Error message carrying `e`; never throws (used on the way to _exit).
    // Returns false when it could not be sent (the parent is gone).
    bool send_error(const crunlite::Error& e) const noexcept;
    // Receives one message; returns false on EOF (peer closed).  Throws on errors,
    // and (unless `to_the_end`) Error(EINTR) once an interruption came
    // (sys::Interruptible): also one that came before the call.
    bool receive(Message& out, bool to_the_end = false) const;
    // Receives one message and requires it to be `type`; an Error message is
    // rethrown as the Error it carries, EOF is reported as `what` ending early.
    std::string expect(MsgType type, const std::string& what) const;
    // expect() for a message that carries an fd; returns the fd.
    sys::UniqueFd expect_fd(MsgType type, const std::string& what) const;
    // Throws the Error an Error message carries.
    [[noreturn]] static void rethrow(const Message& error);

    int fd() const { return fd_.get(); }
    void close() { fd_.reset(); }

    // This end's sends first wait for EOF on `gate` (once): for a process that
    // shares the socket with one whose message must come first (the init and
    // stage-1's Pid), and that holds the read end of a pipe the other closes.
    // Const, as the socket is handed down so: the gate is the sender's, not the
    // socket's.
    void hold_sends_until_eof(sys::UniqueFd gate) const { gate_ = std::move(gate); }

private:
    Message expect_message(MsgType type, const std::string& what) const;
    void pass_gate() const noexcept;
    sys::UniqueFd fd_;
    mutable sys::UniqueFd gate_;
};

}  // namespace crunlite::process
