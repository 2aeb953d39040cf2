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
std::atomic<int> forward_to{-1};  // a pidfd: never a pid that was reaped and reused
int depth = 0;                    // Interruptibles alive (the main thread makes them)
struct sigaction before[std::size(kSignals)];

void on_signal(int sig) {  // async-signal-safe: atomics and system calls
    int saved = errno;
    int none = 0;
    caught.compare_exchange_strong(none, sig);
    if (int fd = forward_to.load(); fd >= 0) pidfd_send_signal(fd, sig);
    errno = saved;
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
    if (--depth) return;
    for (size_t i = 0; i < std::size(kSignals); ++i) ::sigaction(kSignals[i], &before[i], nullptr);
}

void throw_if_interrupted() {
    if (int sig = caught.load(std::memory_order_relaxed))
        throw Error(EINTR, std::string("interrupted by SIG") + sigabbrev_np(sig));
}

int interrupted_by() { return caught.load(); }

// A child forked after the signal came has the flag already.
ForwardInterrupts::ForwardInterrupts(pid_t child) { forward_to = pidfd_open(child, 0); }

ForwardInterrupts::~ForwardInterrupts() {
    int fd = forward_to.exchange(-1);
    if (fd >= 0) ::close(fd);
}

}  // namespace crunlite::sys
