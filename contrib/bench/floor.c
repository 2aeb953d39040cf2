// The kernel's floor for run-bench.sh's container: what any runtime must have
// the kernel do for that config.json, and nothing else.  Rootless: one clone
// makes the child in new user, mount, pid, ipc and uts namespaces (pid 1 of the
// new pid namespace); it maps itself to uid/gid 0, mounts proc, a tmpfs /dev and
// /sys (read-only) into the bind-mounted rootfs, pivots into it, detaches the old
// root, makes the root read-only, sets the hostname and execs /bin/true.  No
// state, no config parsing, no checks, no devices, no seccomp: a runtime cannot
// go below this.  (Until 2026-12-05 a child unshared and forked the container's
// pid 1, as a runtime's two stages do: ~0.15 ms more.)
// Usage: floor ROOTFS (prints nothing; exits with true's status)
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void must(int ok, const char* what) {
    if (!ok) {
        perror(what);
        _exit(1);
    }
}

static void write_file(const char* path, const char* text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    must(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), path);
    close(fd);
}

static int wait_for(pid_t pid) {
    int status;
    must(waitpid(pid, &status, 0) == pid, "waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: floor ROOTFS\n");
        return 2;
    }
    const char* rootfs = argv[1];
    uid_t uid = getuid();
    gid_t gid = getgid();
    long child = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD,
                         NULL, NULL, NULL, NULL);
    must(child >= 0, "clone");
    if (child) return wait_for((pid_t)child);

    // pid 1 of the new pid namespace: /proc still shows the caller's, where we are "self".
    char map[64];
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    write_file("/proc/self/gid_map", map);

    must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make / private");
    must(mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) == 0, "bind the rootfs");
    must(chdir(rootfs) == 0, "chdir rootfs");
    must(mount("proc", "proc", "proc", 0, NULL) == 0, "mount proc");
    must(mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") == 0, "mount dev");
    must(mount("/sys", "sys", NULL, MS_BIND | MS_REC, NULL) == 0, "bind sys");
    must(mount(NULL, "sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL) == 0,
         "make sys read-only");
    must(syscall(SYS_pivot_root, ".", ".") == 0, "pivot_root");
    must(umount2(".", MNT_DETACH) == 0, "detach the old root");
    must(chdir("/") == 0, "chdir /");
    must(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0, "make the root read-only");
    must(sethostname("bench", 5) == 0, "sethostname");
    execl("/bin/true", "true", (char*)NULL);
    perror("exec /bin/true");
    _exit(127);
}
