#!/usr/bin/env python3
"""podman driving crun-lite (`podman --runtime crun-lite`), as root and rootless: the
way most people will meet it.  The image is a busybox rootfs imported with
`podman import`; podman's storage lives in the test's temporary directory."""

import os
import shutil
import tarfile
import tempfile

import harness
from harness import check, check_eq, check_in, skip

# This host allows no CAP_SYS_RESOURCE: podman's default nofile limit (1048576 as
# root) cannot be raised to, so the tests pass limits the host allows.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]


class Podman:
    def __init__(self, h):
        self.h = h
        self.bin = shutil.which("podman")
        if not self.bin:
            skip("podman is not installed (contrib/setup-deps.sh --podman installs it)")
        base = h.mkdtemp("podman")
        # podman refuses a runroot path longer than 50 characters.
        runroot = tempfile.mkdtemp(prefix="crlp-", dir="/tmp")
        h.cleanup_paths.append(runroot)
        # contrib/podman/containers.conf, pointed at the binary under test.
        conf = os.path.join(base, "containers.conf")
        snippet = os.environ.get("CRUNLITE_PODMAN_CONF") or os.path.join(
            harness.REPO_ROOT, "contrib", "podman", "containers.conf")
        with open(snippet) as src:
            text = src.read()
        with open(conf, "w") as f:
            f.write(text.replace('crun-lite = ["/usr/local/bin/crun-lite", "/usr/bin/crun-lite"]',
                                 f'crun-lite = ["{h.bin}"]'))
        self.env = dict(os.environ, CONTAINERS_CONF=conf)
        self.base = base
        # vfs storage: no overlay mounts in the host's namespace (tests never touch
        # global mounts); the image is small.
        self.args = [self.bin, "--root", f"{base}/storage", "--runroot", runroot, "--storage-driver", "vfs",
                     "--tmpdir", f"{base}/tmp", "--cgroup-manager", "cgroupfs",
                     "--events-backend", "file", "--runtime", "crun-lite"]
        if h.rootless:
            # No slirp4netns needed for these tests; state of conmon etc. stays in our tmp.
            self.net = ["--network", "none"]
        else:
            self.net = []
        self._import(base)

    def _import(self, base):
        rootfs = os.path.join(base, "rootfs")
        os.makedirs(os.path.join(rootfs, "bin"))
        for d in ("proc", "sys", "dev", "etc", "tmp"):
            os.makedirs(os.path.join(rootfs, d))
        shutil.copy2(harness.BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
        for applet in ("sh", "echo", "id", "cat", "sleep", "ps", "true", "tty", "stty", "hostname"):
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        shutil.copy2(self.h.probe, os.path.join(rootfs, "probe"))
        with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/:/bin/sh\n")
        tar = os.path.join(base, "rootfs.tar")
        with tarfile.open(tar, "w") as t:
            t.add(rootfs, arcname=".")
        r = self.run("import", tar, "localhost/crlt-bb:latest")
        check_eq(r.rc, 0, f"podman import\n{r!r}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # Rootless podman keeps a pause process (catatonit) holding its user
        # namespace; ours is the one whose pid file is in our directories.
        for d in (os.path.join(self.base, "tmp"), os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent"), "libpod", "tmp")):
            pid_file = os.path.join(d, "pause.pid")
            try:
                pid = int(open(pid_file).read())
                if harness.proc_cmdline(pid)[:1] == ["catatonit"]:
                    os.kill(pid, 9)
            except (OSError, ValueError):
                pass
        return False

    def run(self, *args, timeout=120):
        return self.h.cmd(self.args + list(args), timeout=timeout, env=self.env)

    def ok(self, *args, timeout=120):
        r = self.run(*args, timeout=timeout)
        if r.rc != 0:
            raise harness.Failure(f"podman {' '.join(args)} failed\n{r!r}")
        return r


def test_podman_run(h):
    with Podman(h) as p:
        _test_podman_run(h, p)


def _test_podman_run(h, p):
    r = p.ok("run", "--rm", *p.net, *ULIMITS, "localhost/crlt-bb", "sh", "-c",
             "echo hello-from-podman; id -u; cat /proc/self/uid_map | wc -l")
    lines = r.out.split()
    check_eq(lines[:2], ["hello-from-podman", "0"], "output of a podman run")
    r = p.run("run", "--rm", *p.net, *ULIMITS, "localhost/crlt-bb", "sh", "-c", "exit 7")
    check_eq(r.rc, 7, f"exit status through podman\n{r!r}")
    r = p.run("run", "--rm", *p.net, *ULIMITS, "localhost/crlt-bb", "/no/such/program")
    check(r.rc != 0, "a failing start fails podman run")
    check_in("no such file or directory", r.err.lower(), "crun-lite's error reaches the user")


def test_podman_user_namespaces(h):
    """--userns and --uidmap: a user namespace of the container's own, mapped from ours
    (rootless: podman's, where crun-lite runs as root and maps any ids it has, as runc)."""
    with Podman(h) as p:
        if h.rootless:
            r = p.ok("run", "--rm", *p.net, *ULIMITS, "--userns=keep-id", "localhost/crlt-bb", "sh", "-c",
                     "id -u; id -g; cat /proc/self/uid_map")
            lines = r.out.split("\n")
            check_eq(lines[:2], [str(os.getuid()), str(os.getgid())], f"keep-id: our own ids inside\n{r!r}")
            check_in(f"{os.getuid()}          0          1", r.out, "keep-id maps our uid onto podman's 0")
            r = p.run("run", "--rm", *p.net, *ULIMITS, "--uidmap", "0:60000:10000", "--gidmap", "0:60000:10000",
                      "localhost/crlt-bb", "true")
            check(r.rc != 0, f"ids podman's namespace lacks are refused\n{r!r}")
            check_in("not mapped in our user namespace (/proc/self/uid_map)", r.err, "naming our map")
        else:  # (rootless, the image's files, ours, would not be its root's: runc fails alike)
            r = p.ok("run", "--rm", *p.net, *ULIMITS, "--uidmap", "0:1:100", "--gidmap", "0:1:100", "localhost/crlt-bb",
                     "sh", "-c", "id -u; cat /proc/self/uid_map")
            check_eq(r.out.split()[:4], ["0", "0", "1", "100"], f"--uidmap 0:1:100\n{r!r}")


def test_podman_detached_exec_pause_update_stop(h):
    with Podman(h) as p:
        _test_podman_detached_exec_pause_update_stop(h, p)


def _test_podman_detached_exec_pause_update_stop(h, p):
    name = h.new_id("pod")
    p.ok("run", "-d", "--name", name, *p.net, *ULIMITS, "localhost/crlt-bb", "sleep", "1000")
    try:
        r = p.ok("exec", name, "sh", "-c", "echo exec-ok; ps -o pid,args | grep -c sleep")
        check_in("exec-ok", r.out, "podman exec output")
        r = p.run("exec", name, "sh", "-c", "exit 3")
        check_eq(r.rc, 3, f"podman exec exit status\n{r!r}")
        r = p.ok("exec", "-t", name, "tty")
        check_in("/dev/pts/", r.out, "podman exec -t gets a pty")
        # conmon sizes the pty master as it receives it: the process must not run before.
        for _ in range(3):
            rc, out = harness.on_a_terminal(p.args + ["exec", "-it", name, "stty", "size"], size=(33, 101), env=p.env)
            check_eq(rc, 0, f"podman exec -it stty size\n{out}")
            check_in("33 101", out, "podman exec -it: the process starts with the terminal's size")
        if not h.rootless:
            p.ok("pause", name)
            check_in("paused", p.ok("inspect", "--format", "{{.State.Status}}", name).out, "paused")
            p.ok("unpause", name)
            check_in("running", p.ok("inspect", "--format", "{{.State.Status}}", name).out, "running")
            p.ok("update", "--memory", "64m", name)
        p.ok("kill", name)
    finally:
        p.run("rm", "-f", name)


def test_podman_cgroups_disabled(h):
    with Podman(h) as p:
        _test_podman_cgroups_disabled(h, p)


def _test_podman_cgroups_disabled(h, p):
    r = p.ok("run", "--rm", "--cgroups=disabled", *p.net, *ULIMITS, "localhost/crlt-bb",
             "echo", "no-cgroups")
    check_in("no-cgroups", r.out, "--cgroups=disabled")


def test_podman_init_healthcheck_publish_stop(h):
    if not shutil.which("slirp4netns"):
        skip("slirp4netns is not installed")
    if h.rootless and not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        skip("/dev/net/tun is not usable by unprivileged users (mode 0666 needed for slirp4netns)")
    with Podman(h) as p:
        _test_podman_init_healthcheck_publish_stop(h, p)


def _test_podman_init_healthcheck_publish_stop(h, p):
    import socket
    import time
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = h.new_id("pod")
    # --health-interval disable: no systemd timers here; `healthcheck run` probes on demand.
    p.ok("run", "-d", "--name", name, "--init", "--network", "slirp4netns", "-p", f"127.0.0.1:{port}:8080",
         "--health-cmd", "cat /tmp/ok", "--health-interval", "disable", *ULIMITS,
         "localhost/crlt-bb", "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc")
    try:
        pid1 = p.ok("exec", name, "cat", "/proc/1/cmdline").out.split("\0")[0]
        check_in("init", pid1, "podman --init puts its init first")
        body = ""
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/passwd", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.2)
        check_in("root:x:0:0", body, "HTTP through podman's published port")
        r = p.run("healthcheck", "run", name)
        check(r.rc != 0, f"healthcheck run: unhealthy before /tmp/ok exists\n{r!r}")
        p.ok("exec", name, "sh", "-c", "echo ok > /tmp/ok")
        p.ok("healthcheck", "run", name)
        t0 = time.monotonic()
        p.ok("stop", "-t", "5", name)
        check(time.monotonic() - t0 < 5, "podman stop: the init passed SIGTERM on")
        check_in("exited", p.ok("inspect", "--format", "{{.State.Status}}", name).out, "stopped")
    finally:
        p.run("rm", "-f", name)


if __name__ == "__main__":
    harness.main(globals())
