#include "crunlite/sys/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "crunlite/base/error.hpp"
#include "crunlite/sys/syscalls.hpp"

namespace crunlite::sys {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

std::atomic<int> caught{0};
// Children that get the signal too: pidfds (never a pid that was reaped and
// reused), -1 for a free slot.  A pull runs a helper per blob, three at once.
constexpr size_t kForwardSlots = 8;
std::atomic<int> forward_to[kForwardSlots] = {-1, -1, -1, -1, -1, -1, -1, -1};
int depth = 0;                    // Interruptibles alive (the main thread makes them)
struct sigaction before[std::size(kSignals)];

void on_signal(int sig) {  // async-signal-safe: atomics and system calls
    int saved = errno;
    int none = 0;
    caught.compare_exchange_strong(none, sig);
    for (auto& slot : forward_to)
        if (int fd = slot.load(); fd >= 0) pidfd_send_signal(fd, sig);
    errno = saved;
}

void restore_handlers() noexcept {
    for (size_t i = 0; i < std::size(kSignals); ++i) ::sigaction(kSignals[i], &before[i], nullptr);
}

}  // namespace

Interruptible::Interruptible() {
    if (depth++) return;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    // No SA_RESTART: a blocking call (a lock another import holds, a stalled
    // transfer) returns EINTR, and the work unwinds from there.
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kSignals); ++i) {
        ::sigaction(kSignals[i], nullptr, &before[i]);
        // An ignored one stays ignored (nohup, a shell's background job).
        if (before[i].sa_handler != SIG_IGN) ::sigaction(kSignals[i], &sa, nullptr);
    }
}

Interruptible::~Interruptible() {
    if (!--depth) restore_handlers();
}

void Interruptible::restore_in_child() noexcept {
    if (depth) restore_handlers();
}

void throw_if_interrupted() {
    if (int sig = caught.load(std::memory_order_relaxed))
        throw Error(EINTR, std::string("interrupted by SIG") + sigabbrev_np(sig));
}

int interrupted_by() { return caught.load(); }

int take_interruption() { return caught.exchange(0); }

// A child forked after the signal came has the flag already: its work (the
// cleanup of an interrupted import, say) is not cut short.  One past the slots
// is not told (documented in the header).
ForwardInterrupts::ForwardInterrupts(pid_t child) {
    int fd = pidfd_open(child, 0);
    if (fd < 0) return;
    for (size_t i = 0; i < kForwardSlots; ++i) {
        int free = -1;
        if (forward_to[i].compare_exchange_strong(free, fd)) {
            slot_ = static_cast<int>(i);
            return;
        }
    }
    ::close(fd);
}

ForwardInterrupts::~ForwardInterrupts() {
    if (slot_ < 0) return;
    int fd = forward_to[slot_].exchange(-1);
    if (fd >= 0) ::close(fd);
}

}  // namespace crunlite::sys
