#!/usr/bin/env python3
"""containerd driving crun-lite (`ctr run --runc-binary crun-lite`): a private containerd
(own config, root, state and socket in the test's directory, inside a private mount
namespace so the shim's rootfs mounts never reach the host), an OCI image archive
made by the test, and the task verbs a shim sends to its runtime."""

import json
import os
import shutil
import subprocess
import time

import harness
from harness import check, check_eq, check_in, skip, wait_until


class Containerd:
    def __init__(self, h):
        if h.rootless:
            skip("containerd runs as root here (rootless containerd needs RootlessKit)")
        for tool in ("containerd", "ctr", "unshare"):
            if not shutil.which(tool):
                skip(f"{tool} is not installed (contrib/setup-deps.sh --containerd installs it)")
        self.h = h
        base = h.mkdtemp("ctrd")
        self.sock = os.path.join(base, "c.sock")
        conf = os.path.join(base, "config.toml")
        with open(conf, "w") as f:
            f.write(f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
                    f'[grpc]\n  address = "{self.sock}"\n'
                    '[plugins."io.containerd.internal.v1.opt"]\n'
                    f'  path = "{base}/opt"\n')
        self.log = open(os.path.join(base, "containerd.log"), "w")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "containerd",
                                      "--config", conf], stdout=self.log, stderr=self.log)
        check(wait_until(lambda: os.path.exists(self.sock), 20), "containerd started")
        archive = os.path.join(base, "image.tar")
        harness.make_oci_archive(h, archive, "crlt")
        self.ok("image", "import", "--snapshotter", "native", "--base-name", "localhost/crlt-bb", archive)
        self.image = "localhost/crlt-bb:crlt"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for t in self.ctr("task", "ls", "-q").out.split():
            self.ctr("task", "kill", "-s", "KILL", t)
            self.ctr("task", "rm", "-f", t)
        for c in self.ctr("container", "ls", "-q").out.split():
            self.ctr("container", "rm", c)
        harness.stop_containerd(self.proc)
        self.log.close()
        return False

    def ctr(self, *args, timeout=60):
        return self.h.cmd(["ctr", "-a", self.sock] + list(args), timeout=timeout)

    def ok(self, *args, timeout=60):
        r = self.ctr(*args, timeout=timeout)
        if r.rc != 0:
            raise harness.Failure(f"ctr {' '.join(args)} failed\n{r!r}")
        return r

    def run_args(self, *more):
        return ["run", "--snapshotter", "native", "--runc-binary", self.h.bin, *more]


def test_ctr_run_and_exit_status(h):
    with Containerd(h) as c:
        r = c.ok(*c.run_args("--rm", c.image, h.new_id("ctr"), "sh", "-c", "echo hello-ctr; id -u"))
        check_eq(r.out.split(), ["hello-ctr", "0"], "ctr run output")
        r = c.ctr(*c.run_args("--rm", c.image, h.new_id("ctr"), "sh", "-c", "exit 4"))
        check_eq(r.rc, 4, f"exit status reaches ctr\n{r!r}")
        r = c.ok(*c.run_args("--rm", "--net-host", c.image, h.new_id("ctr"), "/probe", "report"))
        check_eq(r.json()["namespaces"]["net"], os.stat("/proc/self/ns/net").st_ino, "--net-host")
        r = c.ok(*c.run_args("--rm", "--seccomp", c.image, h.new_id("ctr"), "/probe", "report"))
        check_eq(r.json()["seccomp"], 2, "--seccomp loads containerd's default profile")


def test_ctr_task_verbs(h):
    with Containerd(h) as c:
        name = h.new_id("ctrtask")
        c.ok(*c.run_args("-d", c.image, name, "sleep", "1000"))
        check(wait_until(lambda: "RUNNING" in c.ctr("task", "ls").out, 10), "task running")
        r = c.ctr("task", "exec", "--exec-id", "e1", name, "sh", "-c", "echo exec-ok; exit 6")
        check_eq((r.rc, r.out.strip()), (6, "exec-ok"), f"ctr task exec\n{r!r}")
        check_eq(len(c.ok("task", "ps", name).out.strip().splitlines()), 2, "ctr task ps: one process")
        c.ok("task", "pause", name)
        check_in("PAUSED", c.ok("task", "ls").out, "paused")
        c.ok("task", "resume", name)
        check_in("RUNNING", c.ok("task", "ls").out, "resumed")
        check_in("memory", c.ok("task", "metrics", name).out, "metrics from the container's cgroup")
        c.ok("task", "kill", "-a", "-s", "KILL", name)
        check(wait_until(lambda: "STOPPED" in c.ctr("task", "ls").out, 10), "stopped after kill -a")
        c.ok("task", "rm", name)
        c.ok("container", "rm", name)


def _on_pty(h, argv, until, timeout=30):
    """Runs argv with a new pty as its terminal (ctr -t needs one); returns (rc, output)."""
    master, slave = os.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        out = harness.read_pty(master, until=until, timeout=timeout)
        rc = p.wait(timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, out.decode(errors="replace")


def test_ctr_tty_run_and_exec(h):
    with Containerd(h) as c:
        rc, out = _on_pty(h, ["ctr", "-a", c.sock, *c.run_args("-t", "--rm", c.image, h.new_id("ctr"), "sh", "-c",
                                                                 "tty; echo pty-run-ok")], b"pty-run-ok")
        check_eq(rc, 0, f"ctr run -t\n{out}")
        check_in("/dev/pts/", out, "ctr run -t: the process has a pty (console socket)")
        check_in("pty-run-ok", out, "its output comes through the pty")
        name = h.new_id("ctrtty")
        c.ok(*c.run_args("-d", c.image, name, "sleep", "1000"))
        check(wait_until(lambda: "RUNNING" in c.ctr("task", "ls").out, 10), "task running")
        rc, out = _on_pty(h, ["ctr", "-a", c.sock, "task", "exec", "-t", "--exec-id", "t1", name, "sh", "-c",
                              "tty; echo pty-exec-ok"], b"pty-exec-ok")
        check_eq(rc, 0, f"ctr task exec -t\n{out}")
        check_in("/dev/pts/", out, "ctr task exec -t: a pty")
        c.ok("task", "kill", "-s", "KILL", name)
        check(wait_until(lambda: "STOPPED" in c.ctr("task", "ls").out, 10), "stopped")
        c.ok("task", "rm", name)
        c.ok("container", "rm", name)


if __name__ == "__main__":
    harness.main(globals())
