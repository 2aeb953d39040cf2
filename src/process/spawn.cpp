#include "crunlite/process/spawn.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "crunlite/base/error.hpp"

namespace crunlite::process {

bool Captured::ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

Captured run_capturing(const std::vector<std::string>& args, int fd) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int pipefd[2];
    check(::pipe2(pipefd, O_CLOEXEC), "pipe");
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork " + args.at(0));
    if (child == 0) {
        ::dup2(pipefd[1], fd);
        ::execvp(argv[0], argv.data());
        ::dprintf(fd, "exec %s: %s", argv[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(pipefd[1]);
    Captured out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) out.output.append(buf, static_cast<size_t>(n));
    ::close(pipefd[0]);
    while (::waitpid(child, &out.status, 0) < 0 && errno == EINTR) {}
    while (!out.output.empty() && (out.output.back() == '\n' || out.output.back() == ' ')) out.output.pop_back();
    return out;
}

}  // namespace crunlite::process
