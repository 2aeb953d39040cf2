#include "crunlite/sys/interrupt.hpp"

#include <signal.h>
#include <cstring>
#include <iterator>

#include <atomic>

#include "crunlite/base/error.hpp"

namespace crunlite::sys {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

std::atomic<int> caught{0};
std::atomic<pid_t> forward_to{0};
int depth = 0;  // Interruptibles alive (the main thread makes them)
struct sigaction before[sizeof kSignals / sizeof kSignals[0]];

void on_signal(int sig) {  // async-signal-safe: atomics and kill
    int none = 0;
    caught.compare_exchange_strong(none, sig);
    if (pid_t child = forward_to.load()) ::kill(child, sig);
}

}  // namespace

Interruptible::Interruptible() {
    if (depth++) return;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < std::size(kSignals); ++i) ::sigaction(kSignals[i], &sa, &before[i]);
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
ForwardInterrupts::ForwardInterrupts(pid_t child) { forward_to = child; }

ForwardInterrupts::~ForwardInterrupts() { forward_to = 0; }

}  // namespace crunlite::sys
