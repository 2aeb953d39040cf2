// The kernel's floor for run-bench.sh's `exec`: what any runtime must have the
// kernel do to start /bin/true in a running container, and nothing else.  A
// child (sharing our memory, as posix_spawn's) joins the container's user,
// mount, pid, ipc and uts namespaces in one setns through the init's pidfd and
// clones, as our child, the process that lands in the pid namespace and execs
// /bin/true; we wait for it.  The runtime must stay outside to report the
// status, and setns into a pid namespace only moves the children to come:
// two clones and one exec are the least.  No state, no config, no checks, no
// user or capabilities, no seccomp: a runtime cannot go below this.
// Usage: exec-floor PID (the container's init; prints nothing; exits with
// true's status)
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int pidfd;
static char joiner_stack[64 * 1024] __attribute__((aligned(16)));
static char process_stack[64 * 1024] __attribute__((aligned(16)));

static int process(void* arg) {
    (void)arg;
    if (chdir("/") == 0) execl("/bin/true", "true", (char*)NULL);
    _exit(127);
}

static int joiner(void* arg) {
    (void)arg;
    if (setns(pidfd, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS) != 0) _exit(1);
    // Our parent's child (CLONE_PARENT); we go on once it has exec'd (CLONE_VFORK).
    int flags = CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD;
    _exit(clone(process, process_stack + sizeof process_stack, flags, NULL) < 0);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: exec-floor PID\n");
        return 2;
    }
    pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
    if (pidfd < 0) {
        perror("pidfd_open");
        return 1;
    }
    int status;
    pid_t child = clone(joiner, joiner_stack + sizeof joiner_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
    if (child < 0 || waitpid(child, &status, 0) != child || status != 0) {
        fprintf(stderr, "exec-floor: could not join the namespaces of %s\n", argv[1]);
        return 1;
    }
    if (wait(&status) < 0) {
        perror("wait");
        return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
