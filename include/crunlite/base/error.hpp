// crunlite::Error — the one error type of crun-lite.
//
// An Error carries an errno value (0 when the failure is not a system error) and
// a human message built as a context chain, outermost first:
//   "mount `/proc` on `/x/proc`: Operation not permitted"
// Code branches on code() (and kind()), never on the message text.
//
// Why exceptions and not std::expected (the original design notes suggested a Result<T>):
// GCC 12 on Debian 12 has no std::expected, and a hand-rolled Result would need
// a TRY macro at every one of hundreds of call sites.  An exception carrying the
// same errno + context chain gives identical information with straight-line code.
// Exceptions stop at three boundaries: cli main, the container child's entry
// (which reports over the sync socket and _exit()s) and the monitor process.
#pragma once

#include <cerrno>
#include <exception>
#include <string>
#include <utility>

namespace crunlite {

class Error : public std::exception {
public:
    // What failed, where a caller answers it apart: a container's command that
    // is not found, or not executable (an image run exits 127 or 126 for them,
    // as Docker's and podman's run do).
    // ExecFailed: the process's own execve failed, once its command was found
    // (ENOEXEC, a missing interpreter): its failure, not the runtime's (runc's exit 1).
    enum class Kind : char { Other = 'o', CommandNotFound = 'f', CommandNotExecutable = 'x', ExecFailed = 'e' };

    Error(int code, std::string message, Kind kind = Kind::Other)
        : code_(code), kind_(kind), message_(std::move(message)) {}
    explicit Error(std::string message) : code_(0), message_(std::move(message)) {}

    // errno value, 0 when not a system error.
    int code() const noexcept { return code_; }
    Kind kind() const noexcept { return kind_; }
    const std::string& message() const noexcept { return message_; }
    const char* what() const noexcept override { return message_.c_str(); }

    // Returns a copy with `context` prepended: "context: message".
    Error with_context(const std::string& context) const { return Error(code_, context + ": " + message_, kind_); }

private:
    int code_;
    Kind kind_ = Kind::Other;
    std::string message_;
};

// Error from an errno value: "context: strerror(err)".
Error sys_error(int err, const std::string& context);

// Throws sys_error(errno, context).  Use right after a failing libc call.
[[noreturn]] void throw_errno(const std::string& context);

// Throws sys_error(errno, context) when result < 0; returns result otherwise.
template <typename T>
T check(T result, const std::string& context) {
    if (result < 0) throw_errno(context);
    return result;
}

// Runs f(); an Error thrown by it gets `context` prepended.
template <typename F>
auto with_context(const std::string& context, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error& e) {
        throw e.with_context(context);
    }
}

}  // namespace crunlite
