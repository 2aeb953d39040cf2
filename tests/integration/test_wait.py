#!/usr/bin/env python3
"""`crun-lite wait` (podman's wait), as root and as an unprivileged user: every condition
(running, healthy, unhealthy, stopped, exited) on an image container with a healthcheck, the
exit codes of bundle containers, several ids at once, the waits that cannot end well any more
(exit 1 with the reason), --timeout, and usage errors (125)."""

import fcntl
import json
import os
import signal
import time

import harness
from test_image_run import _store
from harness import check, check_eq, check_in

BASE = {"Env": ["PATH=/bin"], "Cmd": ["sleep", "3600"]}
# Probes every 200ms; failures do not count within the long start period, so the status
# stays "starting" until the first success; after it, 2 failures make it unhealthy.
HEALTH = {"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 200_000_000, "Timeout": 2_000_000_000,
          "StartPeriod": 600_000_000_000, "StartInterval": 200_000_000, "Retries": 2}


def _image(h, config):
    """A docker-archive of busybox (+ touch, rm) with the image config `config`."""
    return harness.applet_image(h, "example/wait:1.0", ("touch", "rm", "true"), config)


def _run_image(h, archive, cid, *args):
    h.rt_ok("run", "-d", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none",
            *args, cid)
    return cid


def _run_bundle(h, cid, *args):
    """run -d of a bundle running `args`: a monitor records its exit code."""
    h.rt_ok("run", "--detach", "--bundle", h.bundle(list(args)).path, cid)
    return cid


def _wait(h, *args, **kw):
    return h.rt("wait", *args, **kw)


def _lines(r):
    return r.out.split()



def _die_codes(h, cid):
    """The exit codes of the container's die events, once a monitor's record, were
    it to come, would have come."""
    time.sleep(0.3)
    events = h.rt_ok("events", "--format", "json", "--since", "0", "--until", str(time.time()), cid)
    return [e["Actor"]["Attributes"]["exitCode"] for e in map(json.loads, events.out.splitlines()) if e["Action"] == "die"]

def test_stopped_prints_the_exit_code(h):
    """A bundle container run -d: the default condition (stopped) prints its exit code once
    it exits; exited means the same; a signal's death is 128+n; an exit is noticed at once."""
    cid = _run_bundle(h, h.new_id("w"), "sh", "-c", "sleep 1; exit 3")
    t0 = time.monotonic()
    r = _wait(h, cid)
    took = time.monotonic() - t0
    check_eq((r.rc, _lines(r)), (0, ["3"]), f"wait prints the exit code\n{r!r}")
    check(took < 3, f"wait returned {took:.2f}s after the start of a 1s container")
    r = _wait(h, "--condition", "exited", cid)
    check_eq((r.rc, _lines(r)), (0, ["3"]), f"exited = stopped, and a stopped container at once\n{r!r}")
    check_eq(h.rt_ok("state", cid).json()["status"], "stopped", "wait changed nothing")
    killed = _run_bundle(h, h.new_id("w"), "sleep", "3600")
    p = h.spawn(h.rt_argv("wait", killed))
    time.sleep(0.5)
    check(p.poll() is None, "wait waits while the container runs")
    h.rt_ok("kill", killed, "KILL")
    r = h.finish(p, timeout=20)
    check_eq((r.rc, _lines(r)), (0, ["137"]), f"SIGKILL: 128+9\n{r!r}")
    harness.log(f"    wait returned {r.duration:.2f}s after it started, of which 0.5s before the kill")


def test_several_ids_in_the_order_given(h):
    """Containers exiting at different times: one line each, in the order of the arguments;
    a missing one is reported and fails the wait, and the others are still printed."""
    a = _run_bundle(h, h.new_id("a"), "sh", "-c", "sleep 1.2; exit 1")
    b = _run_bundle(h, h.new_id("b"), "sh", "-c", "exit 2")
    c = _run_bundle(h, h.new_id("c"), "sh", "-c", "sleep 0.6; exit 0")
    r = _wait(h, c, a, b)
    check_eq((r.rc, _lines(r)), (0, ["0", "1", "2"]), f"the order of the ids, not of the exits\n{r!r}")
    missing = h.new_id("missing")
    r = _wait(h, a, missing, b)
    check_eq((r.rc, _lines(r)), (1, ["1", "2"]), f"a missing container fails the wait\n{r!r}")
    check_in(f"container {missing} does not exist", r.err, "the missing container named")


def test_image_conditions(h):
    """Every condition on an image container with a healthcheck: running, healthy (after a
    timeout while starting), unhealthy, then stopped and exited with the code inspect shows;
    stopped, it is still unhealthy (as inspect shows), never running or healthy."""
    cid = _run_image(h, _image(h, dict(BASE, Healthcheck=HEALTH)), h.new_id("img"))
    r = _wait(h, "--condition", "running", cid)
    check_eq((r.rc, _lines(r)), (0, ["-1"]), f"running: -1, as podman prints for such conditions\n{r!r}")
    r = _wait(h, "--condition", "healthy", "--timeout", "1s", cid)
    check_eq(r.rc, 1, f"not healthy yet: the timeout ends the wait\n{r!r}")
    check_in(f"container {cid} not healthy after 1s (status running, health starting)", r.err, "the timeout")
    check_in("No such file", r.err, "with the last probe's output")
    h.rt_ok("exec", cid, "touch", "/tmp/ok")
    r = _wait(h, "--condition", "healthy", "--timeout", "30s", cid)
    check_eq((r.rc, _lines(r)), (0, ["-1"]), f"healthy\n{r!r}")
    p = h.spawn(h.rt_argv("wait", "--condition", "unhealthy", "--interval", "100ms", cid))
    time.sleep(0.5)
    check(p.poll() is None, "a healthy container may still turn unhealthy: wait waits")
    h.rt_ok("exec", cid, "rm", "/tmp/ok")
    r = h.finish(p, timeout=30)
    check_eq((r.rc, _lines(r)), (0, ["-1"]), f"unhealthy\n{r!r}")
    r = _wait(h, "--condition", "healthy", cid)
    check_eq(r.rc, 1, f"unhealthy ends a wait for healthy\n{r!r}")
    check_in(f"container {cid} is unhealthy; last probe (exit 1): ", r.err, "the reason, with the last probe's exit code")
    check_in("No such file", r.err, "and its output")
    p = h.spawn(h.rt_argv("wait", "--condition", "stopped", cid))
    h.rt_ok("stop", "-t", "1", cid)
    r = h.finish(p, timeout=30)
    code = h.rt_ok("inspect", cid).json()["State"]["ExitCode"]
    check_eq((r.rc, _lines(r)), (0, [str(code)]), f"stopped: the exit code inspect shows\n{r!r}")
    r = _wait(h, "--condition", "exited", cid)
    check_eq((r.rc, _lines(r)), (0, [str(code)]), f"exited\n{r!r}")
    for cond in ("running", "healthy"):
        r = _wait(h, "--condition", cond, cid)
        check_eq((r.rc, r.out), (1, ""), f"{cond} after the stop cannot happen\n{r!r}")
        check_in(f"container {cid} exited with code {code} before it was {cond}", r.err, f"{cond}: the reason")
    check_eq(h.rt_ok("inspect", cid).json()["State"]["Health"]["Status"], "unhealthy", "it stopped unhealthy")
    r = _wait(h, "--condition", "unhealthy", cid)
    check_eq((r.rc, _lines(r)), (0, ["-1"]), f"unhealthy, as inspect says\n{r!r}")


def test_any_of_several_conditions(h):
    """--condition given twice (or comma-separated) waits for either: no healthcheck does
    not end a wait that may still see the container stop."""
    cid = _run_image(h, _image(h, BASE), h.new_id("img"), "--no-healthcheck")
    h.rt_ok("kill", cid, "KILL")
    r = _wait(h, "--condition", "healthy", "--condition", "stopped", cid)
    check_eq((r.rc, _lines(r)), (0, ["137"]), f"healthy or stopped: stopped\n{r!r}")
    running = _run_image(h, _image(h, dict(BASE, Healthcheck=HEALTH)), h.new_id("img"))
    r = _wait(h, "--condition", "healthy,running", running)
    check_eq((r.rc, _lines(r)), (0, ["-1"]), f"healthy,running: running\n{r!r}")


def test_conditions_that_cannot_happen_any_more(h):
    """Exit 1 with the reason: no healthcheck (image or bundle), a missing container, one
    deleted while waited for, and a stopped one whose exit code nobody recorded."""
    archive = _image(h, BASE)
    none = _run_image(h, archive, h.new_id("img"), "--no-healthcheck")
    for cond in ("healthy", "unhealthy"):
        r = _wait(h, "--condition", cond, none)
        check_eq((r.rc, r.out), (1, ""), f"{cond} without a healthcheck\n{r!r}")
        check_in(f"container {none} has no healthcheck (waiting for {cond})", r.err, "the reason")
    bundle = _run_bundle(h, h.new_id("b"), "sleep", "3600")
    r = _wait(h, "--condition", "healthy", bundle)
    check_in(f"container {bundle} has no healthcheck", r.err, "a bundle container has none")
    check_eq(r.rc, 1, "exit 1")
    r = _wait(h, "--condition", "running", "no-such-container")
    check_eq(r.rc, 1, f"missing\n{r!r}")
    check_in("container no-such-container does not exist", r.err, "the reason")
    # create + start: no monitor records an exit code.  The wait says so, after a grace.
    b = h.bundle(["sh", "-c", "sleep 0.5"])
    plain = h.create(b, h.new_id("plain"))
    h.rt_ok("start", plain)
    r = _wait(h, plain)
    check_eq((r.rc, r.out), (1, ""), f"no exit code recorded\n{r!r}")
    check_in(f"container {plain} stopped, but no exit code was recorded (the monitor of `run -d` and a foreground "
             "`run` record one: none was there, or it was gone)", r.err, "the reason")
    # Deleted while waited for: killed (no monitor, so no record comes), then deleted.
    gone = h.create(h.bundle(["sleep", "3600"]), h.new_id("gone"))
    h.rt_ok("start", gone)
    p = h.spawn(h.rt_argv("wait", gone))
    time.sleep(0.5)  # its first look: seen running (else it was never there, another error)
    h.rt_ok("kill", gone, "KILL")
    h.wait_status(gone, "stopped")
    h.rt_ok("delete", gone)
    r = h.finish(p, timeout=20)
    check_eq((r.rc, r.out), (1, ""), f"deleted while waiting\n{r!r}")
    check_in(f"container {gone} was deleted while waiting for it to be stopped", r.err, "the reason")


def test_rm_container(h):
    """run -d --rm (image containers) deletes the container as it exits: wait still prints its exit code, from
    the exit record when it gets there first, else from the container's die event."""
    archive = _image(h, BASE)
    for _ in range(10):
        cid = h.new_id("rm")
        h.rt_ok("run", "-d", "--rm", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none",
                cid, "sh", "-c", "sleep 0.3; exit 5")
        r = _wait(h, cid)
        check_eq((r.rc, _lines(r)), (0, ["5"]), f"the exit code of a deleted --rm container\n{r!r}")


def test_rm_force_of_a_running_container(h):
    """rm -f (delete --force) of a running container records its end as the monitor would
    have (SIGKILL's 137): a wait under way prints it and its die event is logged, once, as
    with Docker's rm -f."""
    archive = _image(h, BASE)
    for cid in (_run_image(h, archive, h.new_id("img")), _run_bundle(h, h.new_id("b"), "sleep", "3600")):
        p = h.spawn(h.rt_argv("wait", cid))
        time.sleep(0.5)  # its first look: seen running
        h.rt_ok("rm", "-f", cid)
        r = h.finish(p, timeout=20)
        check_eq((r.rc, _lines(r)), (0, ["137"]), f"wait, then rm -f\n{r!r}")
        check_eq(_die_codes(h, cid), ["137"], "one die event")


def test_rm_force_of_an_init_that_exited_by_itself(h):
    """delete --force of a container whose init had exited by itself (exit 3) but was not
    gone yet: its own exit code is recorded, not SIGKILL's 137.  To hold the init there, a
    detached exec's process is left in its PID namespace: the init, exiting, waits until the
    kernel's SIGKILL has ended it and its parent (we, a subreaper) has reaped it.  The code
    comes from the kernel once the monitor reaped the init (PIDFD_INFO_EXIT, Linux 6.15)."""
    release = tuple(int(n) for n in os.uname().release.split("-")[0].split(".")[:2])
    if release < (6, 15):
        harness.skip(f"kernel {os.uname().release} keeps no exit status for a pidfd (PIDFD_INFO_EXIT, Linux 6.15)")
    cid = _run_bundle(h, h.new_id("x"), "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 1 & wait $!; done")
    init = h.state(cid)["pid"]
    pid_file = h.mkdtemp("pid") + "/exec.pid"
    h.rt_ok("exec", "--detach", "--pid-file", pid_file, cid, "sleep", "3600")
    with open(pid_file) as f:
        lingering = int(f.read())
    check(harness._proc_stat(lingering)[1] == os.getpid(), "the detached exec's process is our child")
    waiter = h.spawn(h.rt_argv("wait", cid))
    time.sleep(0.5)  # its first look: seen running
    os.kill(init, signal.SIGTERM)  # ours, by pid: its trap exits 3
    check(harness.wait_until(lambda: harness._proc_stat(lingering)[0] == "Z"),
          "the init's exit killed the exec'd process")
    check((harness._proc_stat(init) or "Z")[0] != "Z", "the init, exiting, waits for its namespace to empty")
    deleting = h.spawn(h.rt_argv("delete", "--force", cid))
    # Past its look at the init (alive) once it holds the container's lock, and a moment.
    state_dir = os.path.join(h.root, cid)

    def locked():
        fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    check(harness.wait_until(locked), "delete --force holds the container's lock")
    time.sleep(0.3)
    os.waitpid(lingering, 0)  # the init ends
    r = h.finish(deleting, timeout=20)
    check_eq(r.rc, 0, f"delete --force\n{r!r}")
    r = h.finish(waiter, timeout=20)
    check_eq((r.rc, _lines(r)), (0, ["3"]), f"wait prints the init's own exit code\n{r!r}")
    check_eq(_die_codes(h, cid), ["3"], "one die event, exit 3")


def test_timeout(h):
    """--timeout names the container, the condition and what it saw; 0 looks once."""
    cid = _run_bundle(h, h.new_id("t"), "sleep", "3600")
    r = _wait(h, "--timeout", "500ms", cid)
    check_eq((r.rc, r.out), (1, ""), f"timeout\n{r!r}")
    check_in(f"container {cid} not stopped after 500ms (status running)", r.err, "the message")
    check(0.4 < r.duration < 5, f"returned after {r.duration:.2f}s")
    r = _wait(h, "--timeout", "0", "--condition", "running", cid)
    check_eq((r.rc, _lines(r)), (0, ["-1"]), f"--timeout 0 of a reached condition\n{r!r}")
    r = _wait(h, "--timeout", "0", cid)
    check_eq(r.rc, 1, f"--timeout 0 of one not reached\n{r!r}")
    check_in("not stopped after 0s", r.err, "the message")
    done = _run_bundle(h, h.new_id("t"), "true")
    r = _wait(h, "--timeout", "2s", "-i", "50ms", done, cid)
    check_eq((r.rc, _lines(r)), (1, ["0"]), f"one reached, one timed out\n{r!r}")
    check_in(f"container {cid} not stopped after 2s", r.err, "only the one still running")
    check(done not in r.err, f"nothing said of the one that stopped\n{r!r}")


def test_usage_errors(h):
    """Usage errors exit 125 naming the option and the value, before any waiting."""
    cid = _run_bundle(h, h.new_id("u"), "sleep", "3600")
    for args, words in ((["--condition", "paused", cid], "wait: --condition: unknown condition `paused`"),
                        (["--condition", "healthy,", cid], "wait: --condition: unknown condition ``"),
                        (["--interval", "soon", cid], "wait: --interval: invalid duration `soon`"),
                        (["--interval", "0", cid], "wait: --interval `0`: must be positive"),
                        (["--timeout", "-1s", cid], "wait: --timeout: invalid duration `-1s`"),
                        (["--timeout", cid], "requires a minimum of 1 argument(s)"),
                        ([], "requires a minimum of 1 argument(s)"),
                        (["../x"], "invalid container ID format: `../x`"),
                        (["--latest", cid], "unrecognised option '--latest'")):
        r = _wait(h, *args)
        check_eq((r.rc, r.out), (125, ""), f"wait {args}\n{r!r}")
        check_in(words, r.err, f"wait {args}: the message")
    r = h.rt_ok("wait", "--help", root=False)
    for word in ("Usage: crun-lite wait [options] CONTAINER_ID...", "--condition", "--interval", "--timeout"):
        check_in(word, r.out, "wait --help")
    check_eq(h.rt_ok("state", cid).json()["status"], "running", "nothing happened to the container")


if __name__ == "__main__":
    harness.main(globals())
