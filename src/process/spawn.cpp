#include "crunlite/process/spawn.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "crunlite/base/error.hpp"
#include "crunlite/sys/child.hpp"
#include "crunlite/sys/fd.hpp"

namespace crunlite::process {

bool Captured::ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

Captured run_capturing(const std::vector<std::string>& args, int fd) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    sys::Pipe pipe = sys::Pipe::make();
    sys::Child child = sys::Child::fork("fork " + args.at(0), [&] {
        ::dup2(pipe.write.get(), fd);
        ::execvp(argv[0], argv.data());
        ::dprintf(fd, "exec %s: %s", argv[0], std::strerror(errno));
        return 127;
    });
    pipe.write.reset();
    Captured out;
    out.output = sys::read_to_end(pipe.read.get());
    pipe.read.reset();
    out.status = child.wait();
    while (!out.output.empty() && (out.output.back() == '\n' || out.output.back() == ' ')) out.output.pop_back();
    return out;
}

}  // namespace crunlite::process
