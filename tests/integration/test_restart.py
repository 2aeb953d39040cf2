#!/usr/bin/env python3
"""Restart policies (`run -d --restart`, Docker's), --health-on-failure (podman's) and the
startup healthcheck (--health-startup-*), as root and as an unprivileged user: on-failure:N
restarts exactly N times with a growing backoff (die and restart events), RestartCount and
the policy in inspect; always; `stop` and `rm -f` end a loop, also while it waits; a restart
keeps the container's files (upper dir) and its network namespace (and a published port);
kill, stop and restart when unhealthy; the startup probe hands over to the regular one, or
restarts the container when it keeps failing; `wait` returns at the first exit after it
began, as Docker's and podman's do; contradicting flags fail before anything is made."""

import json
import os
import signal
import time

import harness
from harness import check, check_eq, check_in
import test_image_run as images
from test_image_run import _store, _containers_left

BASE = {"Env": ["PATH=/bin"], "Cmd": ["sleep", "3600"]}
# Crashes on its first run (leaving /marker in the container's upper dir), then serves.
CRASH_ONCE = ["sh", "-c", "if [ -f /marker ]; then exec sleep 3600; fi; touch /marker; exit 3"]


def _image(h, config=BASE):
    """A docker-archive of busybox (+ touch, rm, true, nc) with `config`."""
    return harness.applet_image(h, "example/restart:1.0", ("touch", "rm", "true", "nc"), config)


def _run(h, archive, cid, *args, network=("--network", "none"), ok=True):
    argv = ("run", "-d", "--image", "docker-archive:" + archive, "--store", _store(h), *network, *args)
    if not ok:
        return h.rt(*argv)
    h.rt_ok(*argv)
    return cid


def _inspect(h, cid):
    return json.loads(h.rt_ok("inspect", cid).out)


def _events(h, since, cid):
    r = h.rt_ok("events", "--format", "json", "--since", since, "--until", f"{time.time() + 0.05:.3f}", cid)
    return [json.loads(line) for line in r.out.splitlines()]


def _wait(pred, timeout, what):
    check(harness.wait_until(pred, timeout, 0.05), f"timed out after {timeout}s: {what}")


def _monitor_of(h, cid):
    with open(f"/proc/{h.state(cid)['pid']}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _netns(pid):
    return os.readlink(f"/proc/{pid}/ns/net")


def test_on_failure_restarts_exactly_n_times_with_backoff(h):
    """on-failure:3 of an app exiting 3 at once: 3 restarts then it stays exited, with
    die/restart events whose gaps grow (100, 200, 400 ms); inspect shows the count, the
    policy and the last exit.  wait returns at the first exit after it began, restarted or
    not, as Docker's and podman's wait do."""
    since = f"{time.time():.3f}"
    cid = h.new_id("rs")
    archive = _image(h, dict(BASE, Cmd=["sh", "-c", "sleep 0.3; exit 3"]))
    _run(h, archive, cid, "--restart", "on-failure:3", cid)
    r = h.rt("wait", cid, timeout=30)
    check_eq((r.rc, r.out.strip()), (0, "3"), f"wait returns at the first exit\n{r!r}")
    check(_inspect(h, cid)["RestartCount"] < 3, "before the loop ended")

    def ended():
        info = _inspect(h, cid)
        return info["State"]["Status"] == "stopped" and not info["State"]["Restarting"] and info["RestartCount"] == 3
    _wait(ended, 30, "the loop ends after 3 restarts")
    time.sleep(0.5)
    check_eq(h.rt_ok("wait", "--timeout", "2s", cid).out.strip(), "3", "stopped for good: wait returns at once")
    info = _inspect(h, cid)
    check_eq(info["RestartCount"], 3, "restarted exactly 3 times")
    check_eq(info["HostConfig"]["RestartPolicy"], {"Name": "on-failure", "MaximumRetryCount": 3}, "the policy")
    check_eq((info["State"]["Status"], info["State"]["ExitCode"], info["State"]["Restarting"]),
             ("stopped", 3, False), f"stopped for good: {info['State']}")
    events = [e for e in _events(h, since, cid) if e["Action"] in ("die", "restart")]
    check_eq([e["Action"] for e in events], ["die", "restart"] * 3 + ["die"], f"die before each restart: {events}")
    dies = [e["timeNano"] for e in events if e["Action"] == "die"]
    restarts = [e["timeNano"] for e in events if e["Action"] == "restart"]
    # The last run's: it started after the run before it died, and exited after it started.
    check(images._rfc3339(dies[-2]) <= info["State"]["StartedAt"] <= info["State"]["FinishedAt"]
          <= images._now_rfc3339(), f"the last run's StartedAt and FinishedAt: {info['State']}")
    gaps = [(r - d) / 1e6 for d, r in zip(dies, restarts)]
    harness.log(f"backoff gaps (ms): {[round(g) for g in gaps]}")
    check(gaps[0] >= 100 and gaps[1] >= 200 and gaps[2] >= 400, f"Docker's backoff at least: {gaps}")
    # Each run lasts 0.3 s: the gaps are the backoff plus a restart's cost, which is small.
    check(gaps[2] < 1400, f"no more than the backoff and a start: {gaps}")
    check(gaps[0] < gaps[1] < gaps[2], f"the gaps grow: {gaps}")
    check_eq(events[1]["Actor"]["Attributes"].get("restartCount"), "1", "the restart event counts")


def test_on_failure_ignores_success_and_always_restarts_it(h):
    """on-failure does not restart exit 0; always does (until stop)."""
    archive = _image(h, dict(BASE, Cmd=["true"]))
    cid = h.new_id("rs")
    _run(h, archive, cid, "--restart", "on-failure", cid)
    check_eq(h.rt_ok("wait", cid).out.strip(), "0", "exit 0")
    check_eq(_inspect(h, cid)["RestartCount"], 0, "on-failure: exit 0 is not restarted")
    cid2 = h.new_id("rs")
    _run(h, archive, cid2, "--restart", "always", cid2)
    _wait(lambda: _inspect(h, cid2)["RestartCount"] >= 2, 20, "always restarts exit 0")
    check_eq(h.rt_ok("wait", "--timeout", "10s", cid2).out.strip(), "0", "wait: the next exit")
    n = _inspect(h, cid2)["RestartCount"]
    _wait(lambda: _inspect(h, cid2)["RestartCount"] > n, 20, "and the loop goes on")
    h.rt_ok("stop", cid2)
    n = _inspect(h, cid2)["RestartCount"]
    check_eq(h.rt_ok("wait", "--timeout", "5s", cid2).out.strip(), "0", "stopped: wait returns")
    time.sleep(0.5)
    check_eq(_inspect(h, cid2)["RestartCount"], n, "no restart after stop")
    check_eq(_inspect(h, cid2)["State"]["Status"], "stopped", "stopped")


def test_stop_during_backoff_ends_the_loop(h):
    """A crash loop grown to a long backoff: stop while it waits returns at once, the
    monitor goes and the container stays stopped; rm refuses a container waiting to restart,
    rm -f during a loop leaves nothing."""
    archive = _image(h, dict(BASE, Cmd=["sh", "-c", "exit 1"]))
    cid = h.new_id("rs")
    _run(h, archive, cid, "--restart", "always", cid)
    # 100+200+400+800 ms: the 5th wait is 1.6 s long.
    _wait(lambda: _inspect(h, cid)["RestartCount"] >= 4, 20, "four restarts")
    _wait(lambda: _inspect(h, cid)["State"]["Restarting"], 5, "waiting its backoff")
    mons = [_monitor_pid(h, cid)]
    t0 = time.monotonic()
    h.rt_ok("stop", cid)
    check(time.monotonic() - t0 < 1.5, "stop does not wait out the backoff")
    info = _inspect(h, cid)
    check_eq((info["State"]["Status"], info["State"]["Restarting"]), ("stopped", False), f"{info['State']}")
    n = info["RestartCount"]
    time.sleep(2)
    check_eq(_inspect(h, cid)["RestartCount"], n, "never restarted after stop")
    _wait(lambda: not harness.pid_alive(mons[0]), 5, "the monitor exits once the loop ended")
    h.rt_ok("rm", cid)
    # rm -f of a container in a crash loop: nothing left (the harness checks processes too).
    cid2 = h.new_id("rs")
    _run(h, archive, cid2, "--restart", "always", cid2)
    _wait(lambda: _inspect(h, cid2)["RestartCount"] >= 3, 20, "three restarts")
    # Waiting its backoff, it is "restarting": rm without -f refuses it, as Docker's rm does.
    _wait(lambda: _inspect(h, cid2)["State"]["Restarting"], 5, "waiting its backoff")
    r = h.rt("rm", cid2)
    check(r.rc != 0 and "cannot remove a restarting container" in r.err, f"rm of a restarting container\n{r!r}")
    h.rt_ok("rm", "-f", cid2)
    check(cid2 not in _containers_left(h), "its directory is gone")
    _wait(lambda: h.rt("state", cid2).rc != 0, 5, "its state is gone")
    time.sleep(1.0)
    check(h.rt("state", cid2).rc != 0, "not restarted after rm -f")


def _crash_once_then_serve(h, archive, network):
    """on-failure, a crash once: the restarted container sees the file its first run wrote
    (the same upper dir), runs in the same network namespace under the same monitor and,
    with a user-mode network, its published port reaches the new run; one log for both."""
    cid = h.new_id("rs")
    net = ("--network", network) + (("-p", "127.0.0.1::8080") if network != "none" else ())
    _run(h, archive, cid, "--restart", "on-failure:2", cid, network=net)
    first = h.state(cid)["pid"]
    ns = _netns(first)
    mon = _monitor_of(h, cid)
    _wait(lambda: _inspect(h, cid)["RestartCount"] == 1 and _inspect(h, cid)["State"]["Status"] == "running",
          20, f"{network}: restarted once")
    second = h.state(cid)["pid"]
    check(second != first, "a new init")
    check_eq(_netns(second), ns, f"{network}: the same network namespace")
    # The same small monitor adopted it, and stays within test_monitor.py's budget.
    check_eq(_monitor_of(h, cid), mon, "the new init is the monitor's child")
    check_eq(os.path.basename(os.readlink(f"/proc/{mon}/exe")), "crun-lite-monitor", "still crun-lite-monitor")
    with open(f"/proc/{mon}/smaps_rollup") as f:
        pss = next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
    harness.log(f"{network}: monitor after a restart: Pss {pss} kB")
    check(pss <= 1024, f"monitor PSS {pss} kB > 1024 kB after a restart")
    check_eq(h.rt_ok("exec", cid, "cat", "/marker").rc, 0, "the file of the first run is there")
    if network != "none":
        port = int(h.rt_ok("port", cid).out.splitlines()[0].rsplit(":", 1)[1])
        check_eq(images._get(f"http://127.0.0.1:{port}/index.html"), "served\n",
                 f"{network}: the published port reaches the restarted container")
    check_eq(h.rt_ok("logs", cid).out.count("run"), 2, "one log for both runs")
    h.rt_ok("stop", cid)


def test_wait_healthy_follows_a_restart(h):
    """--wait-healthy (and wait --condition healthy) waits on through an exit its restart
    policy restarts: a service that crashes once before it is healthy comes back healthy.
    Without a restart policy the same exit ends the wait (exit 1)."""
    archive = _image(h)
    script = "if [ -f /marker ]; then exec sleep 3600; fi; sleep 0.5; touch /marker; exit 3"
    health = ("--health-cmd", "test -f /marker", "--health-interval", "300ms")
    cid = h.new_id("wh")
    r = _run(h, archive, cid, "--restart", "on-failure:3", *health, "--wait-healthy=20s", cid, "sh", "-c", script,
             ok=False)
    check_eq(r.rc, 0, f"healthy after one restart\n{r!r}")
    info = _inspect(h, cid)
    check_eq((info["RestartCount"], info["State"]["Health"]["Status"]), (1, "healthy"), "restarted once, healthy")
    h.rt_ok("delete", "--force", cid)
    r = _run(h, archive, cid, *health, "--wait-healthy=20s", cid, "sh", "-c", script, ok=False)
    check_eq(r.rc, 1, f"no restart policy: the exit ends the wait\n{r!r}")
    check_in("exited with code 3 before it was healthy", r.err, "says why")
    h.rt_ok("delete", "--force", cid)


def test_restart_keeps_files_and_network(h):
    """Each network there is (none always; pasta and slirp4netns when installed)."""
    script = ("echo run; if [ -f /marker ]; then exec busybox httpd -f -p 8080 -h /www; fi; "
              "touch /marker; sleep 1; exit 3")
    archive = images._web_archive(h, ("sh", "-c", script))
    networks = ["none"] + [n for n in ("pasta", "slirp4netns") if harness._which(n)]
    if len(networks) == 1:
        harness.log("neither pasta nor slirp4netns is installed: no published port is tried")
    for network in networks:
        _crash_once_then_serve(h, archive, network)


def _monitor_pid(h, cid):
    mons = [p for p in harness.descendants()
            if harness.proc_cmdline(p)[:1] and harness.proc_cmdline(p)[0].endswith("crun-lite-monitor")
            and cid in harness.proc_cmdline(p)]
    check_eq(len(mons), 1, f"the monitor of {cid}")
    return mons[0]


def test_a_killed_monitor_restarts_nothing(h):
    """The monitor SIGKILLed while a restart waits its backoff: nothing restarts a container
    nobody would watch; it stays stopped and rm -f removes it, leaving nothing."""
    archive = _image(h, dict(BASE, Cmd=["sh", "-c", "exit 1"]))
    cid = h.new_id("rs")
    _run(h, archive, cid, "--restart", "always", cid)
    _wait(lambda: _inspect(h, cid)["RestartCount"] >= 3, 20, "three restarts")
    _wait(lambda: _inspect(h, cid)["State"]["Restarting"], 5, "waiting its backoff")
    mon = _monitor_pid(h, cid)
    os.kill(mon, signal.SIGKILL)
    n = _inspect(h, cid)["RestartCount"]
    time.sleep(2.5)  # past the backoff (800 ms or 1.6 s by now)
    info = _inspect(h, cid)
    check_eq((info["RestartCount"], info["State"]["Status"], info["State"]["Restarting"]), (n, "stopped", False),
             f"not restarted without its monitor: {info['State']}")
    h.rt_ok("rm", "-f", cid)
    check_eq(_containers_left(h), [], "nothing left")


def test_a_killed_monitor_leaves_no_trusted_health(h):
    """A healthy container whose monitor was SIGKILLed: its health.json still says healthy,
    but no probe will change it; inspect marks it Stale, and a wait for health ends with
    why instead of trusting it."""
    archive = _image(h)
    cid = h.new_id("stale")
    _run(h, archive, cid, "--health-cmd", "true", "--health-interval", "300ms", "--health-timeout", "500ms",
         "--wait-healthy=20s", cid)
    check("Stale" not in _inspect(h, cid)["State"]["Health"], "fresh while probed")
    r = h.rt("wait", "--condition", "healthy", "--timeout", "5s", cid)
    check_eq(r.rc, 0, f"healthy while probed\n{r!r}")
    os.kill(_monitor_pid(h, cid), signal.SIGKILL)
    _wait(lambda: _inspect(h, cid)["State"]["Health"].get("Stale"), 15, "marked stale")
    info = _inspect(h, cid)["State"]
    check_eq((info["Status"], info["Running"], info["Health"]["Status"]), ("running", True, "healthy"),
             "still running, last known healthy")
    r = h.rt("wait", "--condition", "healthy", "--timeout", "5s", cid)
    check_eq(r.rc, 1, f"a wait does not trust it\n{r!r}")
    check_in("by a healthcheck that no longer runs (its crun-lite-monitor is gone)", r.err, "says why")
    h.rt_ok("rm", "-f", cid)


def test_health_on_failure_actions(h):
    """unhealthy → kill (the policy then restarts), stop (stays stopped), restart (whatever
    the policy); --health-on-failure shows in inspect."""
    archive = _image(h)
    health = ("--health-cmd", "cat /tmp/ok", "--health-interval", "200ms", "--health-retries", "1")
    k = h.new_id("hk")
    _run(h, archive, k, *health, "--health-on-failure", "kill", "--restart", "on-failure:1", k)
    s = h.new_id("hs")
    _run(h, archive, s, *health, "--health-on-failure", "stop", "--restart", "always", s)
    r = h.new_id("hr")
    _run(h, archive, r, *health, "--health-on-failure", "restart", r)
    check_eq(_inspect(h, r)["HealthcheckOnFailureAction"], "restart", "the action in inspect")
    _wait(lambda: _inspect(h, k)["RestartCount"] == 1, 20, "kill: restarted by on-failure")
    _wait(lambda: _inspect(h, k)["State"]["ExitCode"] == 137 and h.rt("wait", "--timeout", "0", k).rc == 0, 20,
          "killed again, then no more restarts (on-failure:1)")
    _wait(lambda: _inspect(h, s)["State"]["Status"] == "stopped", 20, "stop: stopped")
    time.sleep(1)
    check_eq(_inspect(h, s)["RestartCount"], 0, "stop: never restarted (even with always)")
    w = h.rt("wait", "--condition", "unhealthy", "--timeout", "0", s)
    check_eq(w.rc, 0, f"stop: it stopped unhealthy, as inspect says, and wait agrees\n{w!r}")
    _wait(lambda: _inspect(h, r)["RestartCount"] >= 1, 20, "restart: restarted without a policy")
    h.rt_ok("stop", r)


def test_an_exit_during_a_probe_is_no_failure(h):
    """A probe that starts as the container exits finds no init to join: that says
    nothing of its health (Docker drops such a result).  Containers that exit 0 while
    probed every 200 ms with one retry end neither unhealthy nor restarted by
    --health-on-failure restart (their policy is no), whatever the probes met."""
    archive = _image(h)
    ids = [h.new_id(f"px{i}") for i in range(6)]
    for i, cid in enumerate(ids):
        _run(h, archive, cid, "--health-cmd", "true", "--health-interval", "200ms", "--health-retries", "1",
             "--health-on-failure", "restart", cid, "sh", "-c", f"sleep 0.{3 + i}; exit 0")
    for cid in ids:
        _wait(lambda: h.rt("wait", "--timeout", "0", cid).rc == 0, 20, f"{cid} exits")
    time.sleep(0.5)  # a probe, or a restart, that would come late
    for cid in ids:
        info = _inspect(h, cid)
        health = info["State"].get("Health", {})
        check_eq((info["State"]["Status"], info["State"]["ExitCode"], info["RestartCount"]), ("stopped", 0, 0),
                 f"{cid}: exited 0, not restarted: {info['State']}")
        check(health.get("Status") != "unhealthy" and health.get("FailingStreak", 0) == 0,
              f"{cid}: no failure counted: {health}")
        check(all(entry["ExitCode"] == 0 for entry in health.get("Log", [])),
              f"{cid}: no failed probe logged: {health}")
        h.rt_ok("rm", cid)


def test_startup_probe_hands_over_and_restarts(h):
    """The startup probe runs first (status starting) and, once it passed twice, the regular
    check takes over (healthy); a startup probe failing 2 times restarts the container."""
    archive = _image(h)
    ok = h.new_id("su")
    _run(h, archive, ok, "--health-cmd", "true", "--health-interval", "300ms",
         "--health-startup-cmd", "cat /tmp/up", "--health-startup-interval", "200ms",
         "--health-startup-success", "2", ok)
    _wait(lambda: len(_inspect(h, ok)["State"]["Health"]["Log"]) >= 2, 10, "two startup probes logged")
    health = _inspect(h, ok)["State"]["Health"]
    check_eq(health["Status"], "starting", f"starting while the startup probe fails: {health}")
    check(all(e["ExitCode"] != 0 for e in health["Log"]), f"only failed startup probes so far: {health}")
    h.rt_ok("exec", ok, "touch", "/tmp/up")
    _wait(lambda: _inspect(h, ok)["State"]["Health"]["Status"] == "healthy", 10, "healthy after the hand-over")
    check(_inspect(h, ok)["State"]["Health"].get("StartupDone"), "the startup probe is done")
    bad = h.new_id("sf")
    _run(h, archive, bad, "--health-cmd", "true", "--health-startup-cmd", "false",
         "--health-startup-interval", "100ms", "--health-startup-retries", "2", bad)
    _wait(lambda: _inspect(h, bad)["RestartCount"] >= 1, 20, "restarted after 2 startup failures")
    check_eq(_inspect(h, bad)["State"]["Health"]["Status"], "starting", "a new run starts over")
    h.rt_ok("stop", bad)


def test_a_failed_restart_says_why_and_keeps_the_last_run(h):
    """A restart that fails (the command is gone: the app deleted it) leaves the container
    stopped as its last run ended: that exit for inspect and wait, its start time, and the
    reason in the log and in inspect's State.Error, as Docker's; a start clears it."""
    cid = h.new_id("rf")
    archive = _image(h, dict(BASE, Cmd=["sh", "-c", "rm /bin/sh; exit 4"]))
    _run(h, archive, cid, "--restart", "on-failure:3", cid)

    def given_up():
        info = _inspect(h, cid)
        return info["State"]["Status"] == "stopped" and not info["State"]["Restarting"] and info["State"]["Error"]
    _wait(given_up, 30, "the restart fails")
    state = _inspect(h, cid)["State"]
    check_in('"sh": executable file not found', state["Error"], "State.Error says why")
    check_eq((state["ExitCode"], _inspect(h, cid)["RestartCount"]), (4, 0), "the last run's exit; no restart made")
    check(state["StartedAt"] < state["FinishedAt"], f"the last run's times: {state}")
    check_eq(h.rt_ok("wait", "--timeout", "2s", cid).out.strip(), "4", "wait: the last run's exit")
    check_in(f"container {cid} not restarted: ", h.rt_ok("logs", cid).err, "the log says why, on stderr")
    h.rt_ok("rm", cid)
    check_eq((h.container_ids(), _containers_left(h)), ([], []), "nothing left")


def test_create_then_start_restarts_by_the_policy(h):
    """create --image --restart: the monitor create leaves restarts the container once started, as
    docker create --restart + start; a created container deleted unstarted is not restarted."""
    archive = _image(h, dict(BASE, Cmd=["sh", "-c", "echo ran; exit 3"]))
    cid = h.new_id("cr")
    create = ("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none")
    h.rt_ok(*create, "--restart", "on-failure:2", cid)
    h.rt_ok("start", cid)
    _wait(lambda: _inspect(h, cid)["RestartCount"] == 2 and _inspect(h, cid)["State"]["Status"] == "stopped",
          30, "two restarts, then stopped")
    check_eq((_inspect(h, cid)["State"]["ExitCode"], h.rt_ok("logs", cid).out), (3, "ran\nran\nran\n"),
             "three runs, the last exit recorded")
    # A start by hand counts afresh (Docker's and podman's): the policy's two restarts again.
    h.rt_ok("start", cid)
    _wait(lambda: h.rt_ok("logs", cid).out == "ran\n" * 6 and _inspect(h, cid)["State"]["Status"] == "stopped",
          30, "started by hand: three more runs")
    check_eq(_inspect(h, cid)["RestartCount"], 2, "the count started again from 0")
    h.rt_ok("rm", cid)
    # Killed before its start: stopped, not restarted (the policy applies from start on); a start runs it.
    h.rt_ok(*create, "--restart", "always", cid, "sleep", "100")
    h.rt_ok("kill", cid, "KILL")
    _wait(lambda: h.state(cid)["status"] == "stopped", 10, "stopped")
    time.sleep(0.5)
    check_eq((h.state(cid)["status"], _inspect(h, cid)["RestartCount"]), ("stopped", 0), "killed before start")
    h.rt_ok("start", cid)
    _wait(lambda: h.state(cid)["status"] == "running", 10, "running after start")
    h.rt_ok("rm", "-f", cid)
    h.rt_ok(*create, "--restart", "always", cid)
    h.rt_ok("rm", "-f", cid)
    time.sleep(1)
    check_eq((h.container_ids(), _containers_left(h)), ([], []), "deleted unstarted: nothing restarted, nothing left")


def test_contradicting_flags_fail_before_anything_starts(h):
    """Each refused with a reason and nothing made.  The exit code is 1, as for every other
    bad flag of run (runc's convention for run and create; podman's 125 is not used here)."""
    archive = _image(h)
    bad = [
        (("--restart", "sometimes"), "unknown restart policy"),
        (("--restart", "on-failure:-1"), "on-failure:N"),
        (("--restart", "on-failure:x"), "on-failure:N"),
        (("--restart", "always:3"), "applies to on-failure only"),
        (("--restart", "always", "--rm"), "conflicts with --rm"),
        (("--health-on-failure", "kill"), "has no healthcheck"),
        (("--health-on-failure", "explode", "--health-cmd", "true"), "unknown action"),
        (("--health-on-failure", "kill", "--no-healthcheck"), "--no-healthcheck"),
        (("--health-on-failure", "restart", "--health-cmd", "true", "--rm"), "conflicts with --rm"),
        (("--health-startup-cmd", "true"), "needs a regular healthcheck"),
        (("--health-startup-retries", "2", "--health-cmd", "true"), "need --health-startup-cmd"),
        (("--health-startup-cmd", "true", "--health-cmd", "true", "--health-startup-success", "-1"),
         "must not be negative"),
    ]
    for args, why in bad:
        cid = h.new_id("bad")
        r = _run(h, archive, cid, *args, cid, ok=False)
        check_eq(r.rc, 125, f"{args}: exit 125 (podman's)\n{r!r}")
        check_in(why, r.err, f"{args}: the reason")
        check(h.rt("state", cid).rc != 0, f"{args}: no container")
    r = h.rt("run", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none",
             "--restart", "always", h.new_id("fg"))
    check_eq(r.rc, 125, f"--restart without -d\n{r!r}")
    check_in("needs run -d", r.err, "why")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none",
             "--health-cmd", "true", "--health-on-failure", "restart", h.new_id("cr"))
    check_eq(r.rc, 125, f"create --health-on-failure restart\n{r!r}")
    check_in("needs run -d", r.err, "nothing would restart it")
    check_eq(_containers_left(h), [], "no container directory left")


if __name__ == "__main__":
    harness.main(globals())
