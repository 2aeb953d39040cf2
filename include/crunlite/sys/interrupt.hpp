// SIGINT, SIGTERM and SIGHUP during work that must clean up after itself (an
// image import: its work directories, half-unpacked layers, a container's
// directory; a create: its hooks, init, cgroups and state directory).  While an
// Interruptible lives they set a flag instead of ending the process; the work
// checks it between reads and waits (throw_if_interrupted) and
// unwinds as from any error, and main re-raises the signal once everything is
// cleaned up, so the caller sees the status it expects (130 for Ctrl-C).
#pragma once

#include <sys/types.h>

namespace crunlite::sys {

class Interruptible {
public:
    Interruptible();   // installs the handlers (nested: the outermost installs them)
    ~Interruptible();  // restores what was there before
    Interruptible(const Interruptible&) = delete;
    Interruptible& operator=(const Interruptible&) = delete;

    // In a child forked while one lives, before it goes its own way (a
    // container's init): the handlers that were there before, so a signal
    // sent to the child is its own, not a flag nobody reads.  Async-signal-safe.
    static void restore_in_child() noexcept;
};

// Throws Error(EINTR, "interrupted by SIGINT") once such a signal came.
void throw_if_interrupted();

// The signal that interrupted the work, or 0.
int interrupted_by();

// The same, forgotten: a signal that came too late to undo the work (the
// container started), which the caller passes on instead.
int take_interruption();

// A child doing the work for us (the import in a user namespace, a pull's
// helper) gets the signal too while this lives (one that came before is not
// sent again).  At most 8 children at a time: a ninth is not told.
class ForwardInterrupts {
public:
    explicit ForwardInterrupts(pid_t child);
    ~ForwardInterrupts();
    ForwardInterrupts(const ForwardInterrupts&) = delete;
    ForwardInterrupts& operator=(const ForwardInterrupts&) = delete;

private:
    int slot_ = -1;
};

}  // namespace crunlite::sys
