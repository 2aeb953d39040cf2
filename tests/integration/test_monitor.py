#!/usr/bin/env python3
"""The monitor of a detached container (`run -d`): once the container started it is
crun-lite-monitor, a small static program with no copy of the runtime, within conmon's
memory; it keeps probing health and records the exit, survives SIGHUP and its caller, and
a monitor killed with SIGKILL leaves a container that `delete --force` still removes.
Foreground runs and `create --image` + `start` are probed too, by crun-lite-monitor -w.
`events --format json` streams start, health_status, oom and die as Docker does."""

import json
import os
import signal
import time

import harness
from harness import check, check_eq, check_in
import test_image_run as images

# conmon's footprint at rest, measured on these machines: 0.75 MB PSS, ~2 MB RSS.
PSS_BUDGET_KB = 1024
RSS_BUDGET_KB = 2048


def _parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _monitor_of(h, cid):
    return _parent(h.state(cid)["pid"])


def _rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def _wait(pred, timeout, what):
    check(harness.wait_until(pred, timeout, 0.1), f"timed out after {timeout}s: {what}")


def _healthy_container(h, interval="1s"):
    archive = images._archive(h, {"Cmd": ["sleep", "600"]})
    cid = h.new_id("mon")
    r = images._run(h, archive, "-d", "--health-cmd", "true", "--health-interval", interval, cid)
    check_eq(r.rc, 0, f"run -d\n{r!r}")
    return cid


def _probes(h, cid):
    return len(images._inspect(h, cid)["State"].get("Health", {}).get("Log", []))


def test_the_monitor_is_small_and_keeps_probing(h):
    cid = _healthy_container(h)
    mon = _monitor_of(h, cid)
    exe = os.readlink(f"/proc/{mon}/exe")
    check_eq(os.path.basename(exe), "crun-lite-monitor", "the monitor is crun-lite-monitor, not a runtime copy")
    _wait(lambda: _probes(h, cid) >= 2, 20, "two probes recorded by the monitor's ticks")
    # At rest (between probes): what stays per container.
    mem = _rollup(mon)
    check(mem["Pss"] <= PSS_BUDGET_KB, f"monitor PSS {mem['Pss']} kB > {PSS_BUDGET_KB} kB: {mem}")
    check(mem["Rss"] <= RSS_BUDGET_KB, f"monitor RSS {mem['Rss']} kB > {RSS_BUDGET_KB} kB: {mem}")
    harness.log(f"monitor at rest: Rss {mem['Rss']} kB, Pss {mem['Pss']} kB")
    check_eq(images._inspect(h, cid)["State"]["Health"]["Status"], "healthy", "health seen through the ticks")
    # SIGHUP (its terminal closing) changes nothing; probes go on.
    os.kill(mon, signal.SIGHUP)
    n = _probes(h, cid)
    _wait(lambda: _probes(h, cid) > n or n >= 5, 20, "probes go on after SIGHUP")
    check(harness.pid_alive(mon), "the monitor survives SIGHUP")
    # The container's exit is recorded by the monitor, through the runtime.
    h.rt_ok("kill", cid, "KILL")
    _wait(lambda: not harness.pid_alive(mon), 20, "the monitor exits after the container")
    inspect = images._inspect(h, cid)
    check_eq(inspect["State"]["Status"], "stopped", "stopped")
    check_eq(inspect["State"]["ExitCode"], 137, "the exit status recorded (SIGKILL)")
    h.rt_ok("delete", cid)
    check_eq(images._containers_left(h), [], "nothing left after delete")


def _health(h, cid):
    r = h.rt("inspect", cid)
    return r.json()["State"].get("Health", {}) if r.rc == 0 else {}


def test_a_foreground_run_is_probed_too(h):
    archive = images._archive(h, {"Cmd": ["sleep", "600"]})
    cid = h.new_id("mon")
    p = h.spawn(h.rt_argv("run", "--image", "docker-archive:" + archive, "--store", images._store(h),
                          "--network", "none", "--rm", "--health-cmd", "true", "--health-interval", "500ms",
                          cid))
    try:
        _wait(lambda: _health(h, cid).get("Status") == "healthy", 20,
              "a foreground run's health, seen from another process")
        _wait(lambda: len(_health(h, cid).get("Log", [])) >= 2, 20, "probes go on")
    finally:
        h.rt("kill", cid, "KILL")
        h.finish(p)
    check_eq(h.container_ids(), [], "the foreground run --rm deleted its container")
    # The watcher ends with the container: no crun-lite-monitor is left.
    def watchers():
        return [d for d in harness.descendants()
                if "crun-lite-monitor" in " ".join(harness.proc_cmdline(d)) and cid in harness.proc_cmdline(d)]
    _wait(lambda: not watchers(), 10, "the watcher exits with the container")


def test_create_and_start_of_an_image_is_probed(h):
    archive = images._archive(h, {"Cmd": ["sleep", "600"]})
    cid = h.new_id("mon")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", images._store(h), "--network", "none",
             "--health-cmd", "true", "--health-interval", "500ms", "--health-start-interval", "200ms", cid)
    check_eq(r.rc, 0, f"create --image\n{r!r}")
    time.sleep(1)
    check_eq(_health(h, cid).get("Log", []), [], "no probe of a container that has not started")
    h.rt_ok("start", cid)
    _wait(lambda: _health(h, cid).get("Status") == "healthy", 20, "healthy after start")
    h.rt_ok("delete", "--force", cid)
    check_eq(images._containers_left(h), [], "nothing left after delete")


def _events(h, *args):
    r = h.rt_ok("events", "--format", "json", *args)
    return [json.loads(line) for line in r.out.splitlines()]


def test_events_of_lifecycle_and_health(h):
    since = f"{time.time():.3f}"
    cid = _healthy_container(h, "500ms")
    image = h.state(cid)["annotations"]["org.crun-lite.image"]
    _wait(lambda: _health(h, cid).get("Status") == "healthy", 20, "healthy")
    mon = _monitor_of(h, cid)
    h.rt_ok("kill", cid, "KILL")
    _wait(lambda: not harness.pid_alive(mon), 20, "the monitor exits after the container")
    events = _events(h, "--since", since, "--until", f"{time.time() + 0.2:.3f}", cid)
    check_eq([e["Action"] for e in events], ["start", "health_status: healthy", "die"],
             f"start, one health transition, die: {events}")
    for e in events:
        check_eq((e["Type"], e["id"], e["Actor"]["ID"], e["Actor"]["Attributes"]["name"], e["from"], e["scope"]),
                 ("container", cid, cid, cid, image, "local"), f"Docker's fields: {e}")
        check_eq(e["status"], e["Action"], "status repeats Action")
        check(abs(e["timeNano"] / 1e9 - e["time"]) < 1, f"time and timeNano agree: {e}")
    check_eq(events[2]["Actor"]["Attributes"]["exitCode"], "137", "die carries the exit code")
    check_eq(_events(h, "--since", since, "--until", f"{time.time():.3f}", "nosuch"), [], "filtered by id")
    h.rt_ok("delete", cid)

    # Followed: a stream from now shows only what happens after it started, of the ids asked.
    archive = images._archive(h, {"Cmd": ["sh", "-c", "exit 3"]})
    other = h.new_id("mon")
    p = h.spawn(h.rt_argv("events", "--format", "json", other))
    try:
        time.sleep(0.5)
        images._run(h, archive, "--rm", other)
        text = ""
        deadline = time.time() + 10
        while time.time() < deadline:
            p._crlt[1].seek(0)
            text = p._crlt[1].read().decode()
            if '"die"' in text:
                break
            time.sleep(0.1)
        lines = [json.loads(line) for line in text.splitlines()]
        check_eq([(e["Action"], e["id"]) for e in lines], [("start", other), ("die", other)],
                 f"the followed stream: {lines}")
        check_eq(lines[1]["Actor"]["Attributes"]["exitCode"], "3", "a foreground run's die")
    finally:
        p.kill()
        h.finish(p)


def test_events_oom(h):
    since = f"{time.time():.3f}"
    archive = images._archive(h, {"Cmd": ["/probe", "alloc", "200"]})
    cid = h.new_id("mon")
    r = images._run(h, archive, "--rm", "-m", "32m", cid)
    if h.rootless and r.rc == 0 and "memory" in r.err:
        harness.skip(f"rootless without a delegated memory controller, the limit is not applied: {r.err.strip()}")
    check_eq(r.rc, 137, f"OOM-killed\n{r!r}")
    events = _events(h, "--since", since, "--until", f"{time.time():.3f}", cid)
    check_eq([e["Action"] for e in events], ["start", "oom", "die"], f"oom before die: {events}")


def test_events_usage_errors(h):
    h.rt_fail("events", "--format", "yaml", expect="only json")
    h.rt_fail("events", "--format", "json", "--since", "yesterday", expect="--since")
    h.rt_fail("events", "--since", "10m", "x", expect="need --format json")
    h.rt_fail("events", expect="requires exactly 1 argument(s)")


def test_health_log_limits_and_destination(h):
    archive = images._archive(h, {"Cmd": ["sleep", "600"]})
    logs = h.mkdtemp("hlogs")
    os.chmod(logs, 0o777)
    cid = h.new_id("mon")
    r = images._run(h, archive, "-d", "--health-cmd", "echo hello-world", "--health-interval", "300ms",
                    "--health-max-log-count", "2", "--health-max-log-size", "5", "--health-log-destination", logs, cid)
    check_eq(r.rc, 0, f"run -d with log limits\n{r!r}")
    path = os.path.join(logs, cid + "-healthcheck.log")
    _wait(lambda: os.path.exists(path) and len(open(path).read().splitlines()) >= 3, 20, "three probes in the log")
    log = _health(h, cid)["Log"]
    check_eq(len(log), 2, f"health.json keeps 2 entries: {log}")
    check_eq([e["Output"] for e in log], ["hello", "hello"], "outputs cut to 5 bytes")
    lines = [json.loads(line) for line in open(path).read().splitlines()]
    check_eq({(e["Output"], e["ExitCode"], e["Status"]) for e in lines}, {("hello", 0, "healthy")},
             f"each probe appended to the destination: {lines}")
    check_eq(images._inspect(h, cid)["Healthcheck"]["LogDestination"], logs, "inspect shows the destination")
    h.rt_ok("delete", "--force", cid)
    # Bad values: errors naming the flag, before anything is made.
    for flags, why in ((("--health-log-destination", "/etc/passwd"), "not a directory"),
                       (("--health-log-destination", "relative"), "absolute directory"),
                       (("--health-max-log-count", "-1"), "--health-max-log-count")):
        r = images._run(h, archive, "-d", "--health-cmd", "true", *flags, h.new_id("bad"))
        check(r.rc != 0 and why in r.err, f"{flags} refused: {why}\n{r!r}")
    check_eq(h.container_ids(), [], "nothing made by the refused runs")
    check_eq(images._containers_left(h), [], "no container directory left")


def test_a_probe_leaves_nothing_behind(h):
    """What an exec probe starts, even in a session of its own (setsid), ends with the probe:
    the probe runs in a cgroup of its own below the container's, removed with all it holds.
    (Without a cgroup of the container's, rootless without delegation, there is none.)"""
    archive = harness.applet_image(h, "example/probe:1.0", ("setsid",), {"Env": ["PATH=/bin"], "Cmd": ["sleep", "600"]})
    cid = h.new_id("mon")
    r = images._run(h, archive, "-d", "--health-cmd", "setsid sleep 1000 & echo probed", "--health-interval", "1h",
                    cid)
    check_eq(r.rc, 0, f"run -d\n{r!r}")
    with open(os.path.join(h.root, cid, "state.json")) as f:
        st = json.load(f)
    cgroup = st["cgroup_unified"]
    if not cgroup and not st["cgroup_v1"]:  # `ps` works without one, by the pid namespace
        harness.skip("the container has no cgroup here (rootless without a delegated cgroup)")
    before = h.rt_ok("ps", "--format", "json", cid).json()  # crun-lite-init and sleep
    h.rt_ok("healthcheck", "run", cid)
    check_eq(_health(h, cid)["Log"][-1]["Output"].strip(), "probed", "the probe ran")
    check_eq(h.rt_ok("ps", "--format", "json", cid).json(), before, "the container's processes after the probe")
    if cgroup:
        check_eq([d for d in os.listdir(cgroup) if d.startswith("crun-lite-exec-")], [], "the probe's cgroup is gone")
    h.rt_ok("delete", "--force", cid)


def test_rm_container_is_removed_by_the_monitor(h):
    archive = images._archive(h, {"Cmd": ["sh", "-c", "sleep 0.5; exit 3"]})
    cid = h.new_id("mon")
    r = images._run(h, archive, "-d", "--rm", cid)
    check_eq(r.rc, 0, f"run -d --rm\n{r!r}")
    mon = _monitor_of(h, cid)
    _wait(lambda: not harness.pid_alive(mon), 20, "the monitor exits after the container")
    check_eq(h.container_ids(), [], "--rm: the state is gone")
    check_eq(images._containers_left(h), [], "--rm: the container's directory is gone")


def test_killed_monitor_leaves_a_container_delete_removes(h):
    cid = _healthy_container(h)
    init = h.state(cid)["pid"]
    mon = _parent(init)
    os.kill(mon, signal.SIGKILL)
    _wait(lambda: not harness.pid_alive(mon), 10, "the monitor is gone")
    check(harness.pid_alive(init), "the container outlives its monitor")
    r = h.rt("delete", "--force", cid)
    check_eq(r.rc, 0, f"delete --force without a monitor\n{r!r}")
    _wait(lambda: not harness.pid_alive(init), 10, "the init is gone")
    check_eq(h.container_ids(), [], "no state left")
    check_eq(images._containers_left(h), [], "no container directory left")


def test_without_crun_lite_monitor_nothing_is_made(h):
    archive = images._archive(h, {"Cmd": ["sleep", "600"]})
    cid = h.new_id("mon")
    env = dict(os.environ, CRUNLITE_MONITOR="/nonexistent/crun-lite-monitor")
    r = h.cmd(h.rt_argv("run", "--image", "docker-archive:" + archive, "--store", images._store(h),
                        "--network", "none", "-d", cid), env=env)
    check(r.rc != 0, f"run -d without crun-lite-monitor fails\n{r!r}")
    check_in("crun-lite-monitor", r.err, "the error names the missing program")
    check_eq(h.container_ids(), [], "no state")
    check_eq(images._containers_left(h), [], "no container directory")


def test_monitor_verb_is_internal_and_checked(h):
    r = h.rt("monitor", "--help")
    check_eq(r.rc, 0, f"monitor --help\n{r!r}")
    check_in("Internal", r.out, "monitor --help says it is internal")
    h.rt_fail("monitor", "frobnicate", "x", expect="unknown command")
    h.rt_fail("monitor", "exited", "nosuch", "--pid", "1", expect="--start-time")
    # A container id that does not exist (any more): nothing to record, no error.
    h.rt_ok("monitor", "exited", "nosuch", "--pid", "1", "--start-time", "1", "--status", "0")
    r = h.cmd([harness.find_monitor(), "-i", "x"])
    check_eq(r.rc, 125, f"crun-lite-monitor refuses a bad command line\n{r!r}")
    check_in("usage", r.err, "with its usage")


if __name__ == "__main__":
    harness.main(globals())
