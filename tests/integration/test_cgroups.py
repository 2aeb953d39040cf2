#!/usr/bin/env python3
"""Cgroups on this hybrid host (cgroup2 at /sys/fs/cgroup/unified, controllers on
v1): limits really enforced, pause/resume, kill --all, ps, cleanup.  Every
container cgroup is nested beneath the test process's own cgroups (the default
relative cgroupsPath) and removed by delete."""

import json
import re
import os
import shutil
import time

import harness
from harness import check, check_eq, check_in, skip, wait_until


def _cgroup_lines(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return dict((l.split(":", 2)[1], l.split(":", 2)[2]) for l in f.read().splitlines())


def _needs_cgroups(h):
    if h.rootless and not os.environ.get("CRUNLITE_DELEGATED"):
        skip("no cgroup is delegated to this user (the harness could not set one up)")


def _detached(h, args, resources=None):
    b = h.bundle(args)
    if resources:
        b.linux["resources"] = resources
    b.save()
    cid = h.new_id("cg")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    return b, cid, h.state(cid)["pid"]


def test_container_gets_nested_cgroups_and_delete_removes_them(h):
    _needs_cgroups(h)
    own = _cgroup_lines(os.getpid())
    b, cid, pid = _detached(h, ["/probe", "sleep", "30"])
    theirs = _cgroup_lines(pid)
    for ctrl, path in theirs.items():
        if ctrl.startswith("name="):
            continue
        base = own[ctrl].rstrip("/")
        check_eq(path, f"{base}/{cid}", f"cgroup of {ctrl or 'cgroup2'} nested beneath ours")
    # exec: its process is born in the v2 cgroup and enters the v1 ones (as a thread: "tasks").
    r = h.rt("exec", cid, "cat", "/proc/self/cgroup")
    check_eq(r.rc, 0, f"exec cat /proc/self/cgroup\n{r!r}")
    execd = dict((l.split(":", 2)[1], l.split(":", 2)[2]) for l in r.out.splitlines())
    check_eq(execd, theirs, "the exec'd process is in every cgroup of the init")
    h.rt_ok("delete", "--force", cid)
    for ctrl, path in theirs.items():
        mount = "/sys/fs/cgroup/unified" if ctrl == "" else f"/sys/fs/cgroup/{ctrl.split(',')[0]}"
        if os.path.isdir(mount) and not ctrl.startswith("name="):
            check(not os.path.exists(mount + path), f"{mount + path} removed by delete")


def test_memory_limit_oom_kills(h):
    _needs_cgroups(h)
    b = h.bundle(["/probe", "alloc", "200"])
    b.linux["resources"] = {"memory": {"limit": 32 * 1024 * 1024}}
    r = h.run_bundle(b)
    check_eq(r.rc, 128 + 9, f"allocating 200 MiB under a 32 MiB limit is OOM-killed\n{r!r}")
    check("allocated 40" not in r.out, f"it got past the limit: {r.out!r}")
    b.linux["resources"] = {"memory": {"limit": 256 * 1024 * 1024}}
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"200 MiB fits under 256 MiB\n{r!r}")
    # A limit too low for the setup itself: the error says the OOM killer ended it.
    b.linux["resources"] = {"memory": {"limit": 1000}}
    r = h.run_bundle(b)
    check(r.rc == 1 and "the kernel's OOM killer ended it" in r.err, f"a 1000-byte limit\n{r!r}")


def test_cgroup_mount_shows_the_containers_hierarchies(h):
    """A `cgroup` mount shows the container its own cgroups: on v1 and hybrid
    hosts one directory per v1 hierarchy (as runc), so memory.limit_in_bytes
    reads its limit, and not the cgroup2 one (systemd in the container would take
    the host for a hybrid one and fail to make its cgroups there); on pure v2
    hosts cgroup2 (memory.max)."""
    _needs_cgroups(h)
    limit = 48 * 1024 * 1024
    hybrid = os.path.isdir("/sys/fs/cgroup/memory")
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
              "ls /sys/fs/cgroup/unified 2>&1 | grep -c 'No such'; touch /sys/fs/cgroup/x 2>/dev/null || echo ro"
              if hybrid else "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max")
    b = h.bundle(["sh", "-c", script])
    b.set_namespace("cgroup")
    b.add_mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"])
    b.linux["resources"] = {"memory": {"limit": limit}, "pids": {"limit": 21}}
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"reading the cgroup mount\n{r!r}")
    want = [str(limit), "21", "1", "ro"] if hybrid else [str(limit), "21"]
    check_eq(r.out.split(), want, "the container's own limits through its cgroup mount")
    # systemd's named hierarchy is joined and shown too, as runc does (root: ours is not delegated).
    if hybrid and os.path.isdir("/sys/fs/cgroup/systemd") and not h.rootless:
        b.process["args"] = ["sh", "-c", "grep name=systemd /proc/self/cgroup; ls /sys/fs/cgroup/systemd/cgroup.procs"]
        b.linux["namespaces"] = [n for n in b.linux["namespaces"] if n["type"] != "cgroup"]  # the full path
        cid = h.new_id("sd")
        r = h.run_bundle(b, cid=cid)
        lines = r.out.split()
        check(len(lines) == 2 and lines[0].startswith("name=systemd:", lines[0].find(":") + 1)
              and lines[0].endswith("/" + cid) and lines[1] == "/sys/fs/cgroup/systemd/cgroup.procs",
              f"the name=systemd hierarchy\n{r!r}")


def test_network_resources_need_net_cls_and_net_prio(h):
    """linux.resources.network is written to net_cls/net_prio (cgroup v1 only);
    where they are not mounted, root gets an error naming the file, rootless a
    warning (like every controller not delegated to it)."""
    _needs_cgroups(h)
    b = h.bundle(["cat", "/proc/self/cgroup"])
    b.linux["resources"] = {"network": {"classID": 1048577}}
    b.save()
    if os.path.isdir("/sys/fs/cgroup/net_cls"):
        r = h.run_bundle(b)
        check_eq(r.rc, 0, f"run with net_cls\n{r!r}")
        path = next(l.split(":", 2)[2] for l in r.out.splitlines() if "net_cls" in l.split(":")[1].split(","))
        check_eq(open(f"/sys/fs/cgroup/net_cls{path}/net_cls.classid").read().strip(), "1048577", "classid")
    elif h.rootless:
        r = h.run_bundle(b)
        check_eq(r.rc, 0, f"rootless: dropped with a warning\n{r!r}")
        check_in("net_cls.classid not applied", r.err, "warning names the file")
    else:
        h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="net_cls.classid: no net_cls cgroup here")
        check_eq(h.container_ids(), [], "nothing left behind")


def test_exec_into_a_sub_cgroup(h):
    """exec --cgroup [CONTROLLER:]PATH (runc): the process joins an existing
    sub-cgroup of the container's; a missing one or ".." is an error."""
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["/probe", "sleep", "30"])
    dirs = {}
    for ctrl, path in _cgroup_lines(pid).items():
        if ctrl.startswith("name=") and ctrl != "name=systemd":
            continue
        # systemd's named hierarchy is the container's too (as runc joins it): a sub-cgroup there as well.
        mount = ("/sys/fs/cgroup/unified" if ctrl == "" else "/sys/fs/cgroup/systemd" if ctrl == "name=systemd"
                 else f"/sys/fs/cgroup/{ctrl.split(',')[0]}")
        if os.path.isdir(mount + path) and os.access(mount + path, os.W_OK):  # the container's, not a root left
            dirs[ctrl] = mount + path
            os.mkdir(mount + path + "/sub")
            if "cpuset" in ctrl.split(","):  # a v1 cpuset cgroup starts with no cpus or mems
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open(f"{mount}{path}/sub/{f}", "w") as out:
                        out.write(open(f"{mount}{path}/{f}").read())
    r = h.rt("exec", "--cgroup", "sub", cid, "cat", "/proc/self/cgroup")
    check_eq(r.rc, 0, f"exec --cgroup sub\n{r!r}")
    inside = dict((l.split(":", 2)[1], l.split(":", 2)[2]) for l in r.out.splitlines())
    for ctrl in dirs:
        check(inside[ctrl].endswith("/sub"), f"{ctrl or 'cgroup2'} is the sub-cgroup: {inside[ctrl]!r}")
    h.rt_fail("exec", "--cgroup", "nosuch", cid, "true", expect="sub-cgroup")
    h.rt_fail("exec", "--cgroup", "../x", cid, "true", expect="would leave the container's cgroup")
    h.rt_ok("delete", "--force", cid)
    for d in dirs.values():
        check(not os.path.exists(d), f"{d} removed with its sub-cgroup")


def test_pids_limit_stops_forks(h):
    _needs_cgroups(h)
    b = h.bundle(["/probe", "fork", "50"])
    b.linux["resources"] = {"pids": {"limit": 10}}
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"probe fork\n{r!r}")
    forked = int(r.out.split()[-1])
    check(forked < 10, f"pids.max 10 allowed {forked} forks")


def test_cpu_and_other_limits_are_written(h):
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["/probe", "sleep", "30"],
                            {"cpu": {"shares": 512, "quota": 50000, "period": 100000},
                             "pids": {"limit": 33}})
    cg = _cgroup_lines(pid)
    cpu_ctrl = next(c for c in cg if "cpu" in c.split(",") and c != "cpuset")
    cpu_dir = "/sys/fs/cgroup/" + cpu_ctrl.split(",")[0] + cg[cpu_ctrl]
    check_eq(open(cpu_dir + "/cpu.shares").read().strip(), "512", "cpu.shares")
    check_eq(open(cpu_dir + "/cpu.cfs_quota_us").read().strip(), "50000", "cpu.cfs_quota_us")
    check_eq(open("/sys/fs/cgroup/pids" + cg["pids"] + "/pids.max").read().strip(), "33", "pids.max")


def test_pause_resume(h):
    _needs_cgroups(h)
    script = "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done"
    b, cid, pid = _detached(h, ["sh", "-c", script])
    count = os.path.join(b.path, "rootfs", "tmp", "count")
    check(wait_until(lambda: os.path.exists(count), 10), "counter started")
    h.rt_ok("pause", cid)
    check_eq(h.state(cid)["status"], "paused", "state after pause")
    freezer = _cgroup_lines(pid).get("freezer")
    if freezer:  # as runc's on a hybrid host: the v1 freezer, which tools read
        with open(f"/sys/fs/cgroup/freezer{freezer}/freezer.state") as f:
            check_eq(f.read().strip(), "FROZEN", "the v1 freezer's state")
    a = open(count).read()
    time.sleep(0.4)
    check_eq(open(count).read(), a, "nothing runs while paused")
    h.rt_fail("pause", cid, expect="container not running")  # runc's words for a paused one
    h.rt_fail("exec", cid, "true", expect="paused")
    h.rt_ok("resume", cid)
    check_eq(h.state(cid)["status"], "running", "state after resume")
    check(wait_until(lambda: open(count).read() != a, 5), "it runs again after resume")
    h.rt_fail("resume", cid, expect="not paused")
    # A paused container can still be deleted with --force: thawed and killed,
    # and success is reported only once its init is gone.
    h.rt_ok("pause", cid)
    h.rt_ok("delete", "--force", cid)
    check(not harness.pid_alive(pid), "the frozen init is dead after delete --force")
    check_eq(h.container_ids(), [], "state removed")
    # As runc: kill KILL of a paused container thaws it, so that it dies (containerd's shim
    # sends kill --all 9, then delete); a signal to --all thaws it too.
    for args, after in ((["KILL"], "stopped"), (["--all", "KILL"], "stopped"), (["--all", "TERM"], "running")):
        b, cid, pid = _detached(h, ["sh", "-c", script])  # (sh as PID 1 has no TERM handler: it runs on)
        h.rt_ok("pause", cid)
        h.rt_ok("kill", cid, *args)
        check(wait_until(lambda: h.state(cid)["status"] == after, 10), f"kill {args} of a paused container: {after}")
        h.rt_ok("delete", "--force", cid)
    # As runc: a created container pauses, and resumes created; then it starts.
    b = h.bundle(["/probe", "sleep", "30"])
    cid = h.create(b)
    h.rt_ok("pause", cid)
    check_eq(h.state(cid)["status"], "paused", "a created container paused")
    h.rt_fail("start", cid, expect="cannot start a container in the paused state")
    h.rt_ok("resume", cid)
    check_eq(h.state(cid)["status"], "created", "created again after resume")
    h.rt_ok("start", cid)
    h.wait_status(cid, "running")
    h.rt_ok("delete", "--force", cid)


def test_kill_all_and_ps(h):
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["sh", "-c", "sleep 100 & sleep 100 & wait"])
    check(wait_until(lambda: len(h.rt_ok("ps", "--format", "json", cid).json()) == 3, 10),
          "ps lists the shell and both sleeps")
    pids = h.rt_ok("ps", "--format", "json", cid).json()
    check_in(pid, pids, "the init is listed")
    table = h.rt_ok("ps", cid).out.splitlines()
    check_in("PID", table[0], "ps table header")
    check_eq(len(table), 4, f"ps table: header and 3 processes: {table}")
    # As runc: words after the id go to ps.
    custom = h.rt_ok("ps", cid, "-o", "pid,comm").out.splitlines()
    check_eq(custom[0].split(), ["PID", "COMMAND"], f"ps options after the id reach ps: {custom}")
    # An exec'd process joins the container's cgroup.
    h.rt_ok("exec", "--detach", "--pid-file", os.path.join(h.tmp, "e.pid"), cid, "sleep", "100")
    epid = int(open(os.path.join(h.tmp, "e.pid")).read())
    check(wait_until(lambda: epid in h.rt_ok("ps", "--format", "json", cid).json(), 5), "exec'd pid in ps")
    h.rt_ok("kill", "--all", cid, "KILL")
    check(wait_until(lambda: h.state(cid)["status"] == "stopped", 10), "stopped after kill --all")
    for p in pids + [epid]:
        check(wait_until(lambda: not harness.pid_alive(p) or _zombie(p), 5), f"pid {p} gone")
    check_eq(h.rt_ok("ps", "--format", "json", cid).json(), [], "a stopped container's empty cgroup")
    # An init without a pid namespace of its own leaves its children when it ends: ps still
    # lists what the cgroup holds, as runc's.
    b = h.bundle(["/probe", "sleep", "60"])
    b.linux["namespaces"] = [n for n in b.linux["namespaces"] if n["type"] != "pid"]
    b.save()
    cid = h.new_id("cg")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    h.rt_ok("exec", "--detach", "--pid-file", os.path.join(h.tmp, "e2.pid"), cid, "/probe", "sleep", "60")
    epid = int(open(os.path.join(h.tmp, "e2.pid")).read())
    h.rt_ok("kill", cid, "KILL")
    check(wait_until(lambda: h.state(cid)["status"] == "stopped", 10), "the init ended")
    check_eq(h.rt_ok("ps", "--format", "json", cid).json(), [epid], "ps lists what the stopped container left")
    h.rt_ok("delete", "--force", cid)


def test_delete_leaves_another_containers_processes_alone(h):
    """Two containers in one cgroup, each with its own pid namespace (runc's
    delete kills the cgroup's processes only for a container without one)."""
    _needs_cgroups(h)
    shared = h.new_id("cg-shared")
    ids = []
    for args in (["/probe", "sleep", "3"], ["/probe", "sleep", "60"]):
        b = h.bundle(args)
        b.linux["cgroupsPath"] = shared
        b.save()
        ids.append(h.new_id("cg"))
        r = h.rt_ok("run", "--detach", "--bundle", b.path, ids[-1])
        # runc's warning for the second, whose cgroup holds the first's process.
        check_eq("container's cgroup is not empty: 1 process(es) found" in r.err, len(ids) == 2,
                 f"the warning for a cgroup with processes in it, and only then\n{r!r}")
    short, long = ids
    check(wait_until(lambda: h.state(short)["status"] == "stopped", 10), "the short one ended")
    r = h.rt_ok("delete", short)
    check_eq(h.state(long)["status"], "running", "the other container of the cgroup runs on")
    check_in("remove cgroup", r.err, f"the cgroup it could not remove (still busy) is said, as runc says it\n{r!r}")
    h.rt_ok("delete", "--force", long)
    for bad in ("/", "."):
        b = h.bundle(["/probe", "true"])
        b.linux["cgroupsPath"] = bad
        b.save()
        cid = h.new_id("cg")
        r = h.rt("run", "--bundle", b.path, cid)
        check(r.rc != 0 and "names no cgroup of the container's own" in r.err, f"cgroupsPath {bad!r} refused\n{r!r}")
        check_eq(h.rt("state", cid).rc, 1, "nothing recorded")


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_update_changes_live_limits(h):
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["/probe", "sleep", "30"], {"pids": {"limit": 50}})
    cg = _cgroup_lines(pid)
    pids_max = "/sys/fs/cgroup/pids" + cg["pids"] + "/pids.max"
    mem_limit = "/sys/fs/cgroup/memory" + cg["memory"] + "/memory.limit_in_bytes"
    h.rt_ok("update", "--pids-limit", "7", "--memory", "64m", "--cpu-share", "256", cid)
    check_eq(open(pids_max).read().strip(), "7", "pids.max after update")
    check_eq(open(mem_limit).read().strip(), str(64 << 20), "memory limit after update")
    res = os.path.join(h.tmp, "res.json")
    with open(res, "w") as f:
        json.dump({"pids": {"limit": 9}}, f)
    h.rt_ok("update", "--resources", res, cid)
    check_eq(open(pids_max).read().strip(), "9", "pids.max from --resources")
    r = h.rt("update", "--resources", "-", cid, input='{"pids": {"limit": 11}}')
    check_eq(r.rc, 0, f"update --resources -\n{r!r}")
    check_eq(open(pids_max).read().strip(), "11", "pids.max from stdin")
    r = h.rt("update", "-r", "-", "--pids-limit", "99", cid, input='{"pids": {"limit": 44}}')
    check_eq((r.rc, open(pids_max).read().strip()), (0, "44"), f"with -r the other options are ignored (runc)\n{r!r}")
    h.rt_ok("update", "--resources", "-", cid, input='{"pids": {"limit": 11}}')
    memsw = mem_limit.replace("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
    if os.path.exists(memsw):
        # Raising the memory limit above the swap limit writes swap first; -1 alone lifts both (runc's order).
        h.rt_ok("update", "--memory", "100m", "--memory-swap", "200m", cid)
        r = h.rt("update", "--memory", "300m", "--memory-swap", "400m", cid)
        check_eq((r.rc, open(mem_limit).read().strip(), open(memsw).read().strip()),
                 (0, str(300 << 20), str(400 << 20)), f"memory raised above the old swap limit\n{r!r}")
        r = h.rt("update", "--memory", "-1", cid)
        unlimited = open("/sys/fs/cgroup/memory/memory.limit_in_bytes").read().strip()
        check_eq((r.rc, open(mem_limit).read().strip(), open(memsw).read().strip()), (0, unlimited, unlimited),
                 f"update --memory -1 lifts memory and swap\n{r!r}")
        h.rt_ok("update", "--memory", "64m", "--memory-swap", "-1", cid)
    # runc's update template: zeros are "unchanged", not limits of 0.
    cpu = next(k for k in cg if "cpu" in k.split(",") and "cpuset" not in k)
    shares = f"/sys/fs/cgroup/{cpu}{cg[cpu]}/cpu.shares"
    zeros = {"memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0},
             "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0,
                     "cpus": "", "mems": ""},
             "blockIO": {"weight": 0}, "pids": {"limit": 0}}
    r = h.rt("update", "--resources", "-", cid, input=json.dumps(zeros))
    check_eq(r.rc, 0, f"update with runc's template of zeros\n{r!r}")
    check_eq((open(pids_max).read().strip(), open(mem_limit).read().strip(), open(shares).read().strip()),
             ("11", str(64 << 20), "256"), "nothing changed")
    r = h.rt("update", "--memory", "0", "--pids-limit", "0", "--cpu-share", "0", cid)
    check_eq(r.rc, 0, f"update flags of 0\n{r!r}")
    check_eq((open(pids_max).read().strip(), open(shares).read().strip()), ("11", "256"), "nothing changed")
    r = h.rt("update", "--resources", "-", cid, input='{"pids": {}, "memory": {}}')
    check_eq((r.rc, open(pids_max).read().strip()), (0, "11"), f"pids without a limit: unchanged (runc)\n{r!r}")
    h.rt_fail("update", "--memory", "lots", cid, expect="--memory")
    for flag in ("--cpu-period", "--cpu-share", "--cpu-rt-period"):  # unsigned: -1 is not 2^64-1
        h.rt_fail("update", flag, "-1", cid, expect=f"update: {flag}: want 0 or more, got -1")
    with open(res, "w") as f:
        f.write('{"pids": {"limit": "many"}}')
    h.rt_fail("update", "--resources", res, cid, expect="pids.limit")
    # A live limit is really enforced: with pids.max 3, forks fail.
    h.rt_ok("update", "--pids-limit", "3", cid)
    r = h.rt("exec", cid, "/probe", "fork", "10")
    check(r.rc != 0 or int(r.out.split()[-1]) < 3, f"forks under the updated limit\n{r!r}")


def test_events_stats(h):
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["/probe", "sleep", "30"], {"pids": {"limit": 40}})
    ev = h.rt_ok("events", "--stats", cid).json()
    check_eq((ev["type"], ev["id"]), ("stats", cid), "event header")
    d = ev["data"]
    check_eq(d["pids"], {"current": 1, "limit": 40}, "pids stats")
    check(d["memory"]["usage"]["usage"] > 0, f"memory usage in {ev}")
    check(d["cpu"]["usage"]["total"] > 0, f"cpu usage in {ev}")
    # runc's shape: every section, and the fields it always writes.
    check_eq(sorted(d), ["blkio", "cpu", "cpuset", "hugetlb", "intel_rdt", "memory", "network_interfaces", "pids"],
             "the sections")
    check({"kernel", "user"} <= set(d["cpu"]["usage"]) and "throttling" in d["cpu"], f"cpu fields: {d['cpu']}")
    for entry in ("usage", "swap", "kernel", "kernelTCP"):
        check({"limit", "failcnt"} <= set(d["memory"][entry]), f"memory.{entry}: {d['memory']}")
    check("sched_relax_domain_level" in d["cpuset"], f"cpuset: {d['cpuset']}")
    check(d["network_interfaces"] is None and d["intel_rdt"] == {}, "runc's empty sections")
    if not h.rootless and any("cpuacct" in k.split(",") for k in _cgroup_lines(pid)):  # v1's cpuacct
        usage = d["cpu"]["usage"]
        check_eq(len(usage.get("percpu", [])), os.cpu_count(), f"a time per CPU: {usage}")
        check_eq(sum(usage["percpu"]), usage["total"], "which add up to the total")


def _spawned_output(p):
    p._crlt[1].seek(0)
    return p._crlt[1].read().decode()


def _events_until_deleted(h, p, cid, watch):
    """Runs watch() on the events stream `p`, then deletes the container (runc's
    stream ends when the cgroup empties, on v2, or goes, on v1) and returns the
    stream's events once it ended, with exit status 0."""
    try:
        watch()
        h.rt_ok("delete", "--force", cid)
        res = h.finish(p, timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            h.finish(p)
    check_eq(res.rc, 0, f"the stream ends with the container\n{res!r}")
    return [json.loads(line) for line in res.out.splitlines()]


def test_events_stream_reports_oom(h):
    """runc's `events ID`: {"type":"oom","id":ID} as soon as the OOM killer ends a
    process of the container, whatever the interval; the first stats one interval
    after the start, not at it; the stream ends when the container's memory cgroup
    goes (v1, at delete) or empties (v2)."""
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["/probe", "sleep", "60"], {"memory": {"limit": 32 << 20}})
    cg = _cgroup_lines(pid)
    v2 = ("/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup") + cg.get("", "/")
    if "memory" not in cg and not os.path.exists(v2 + "/memory.events"):
        skip("the container has no memory cgroup here (no OOM counter to watch)")
    p = h.spawn(h.rt_argv("events", "--interval", "30s", cid))

    def watch():
        time.sleep(0.5)  # watching
        r = h.rt("exec", cid, "/probe", "alloc", "200")
        check_eq(r.rc, 128 + 9, f"allocating 200 MiB under a 32 MiB limit is OOM-killed\n{r!r}")
        start = time.monotonic()
        check(wait_until(lambda: '"oom"' in _spawned_output(p), timeout=5),
              f"an oom event within 5 s: {_spawned_output(p)!r}")
        check(time.monotonic() - start < 1, "the oom event comes at once, not at a stats tick")
    lines = _events_until_deleted(h, p, cid, watch)
    check(lines and all(e == {"type": "oom", "id": cid} for e in lines),
          f"oom events only (no stats before the first interval): {lines}")


def test_events_stream_interval(h):
    """runc waits an interval before the first stats (Go's time.Tick), and its
    --interval is a Go duration: a number without a unit is refused."""
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["/probe", "sleep", "60"])
    h.rt_fail("events", "--interval", "1", cid, expect="interval", timeout=10)
    h.rt_fail("events", "--interval", "0s", cid, expect="interval", timeout=10)
    h.rt_fail("events", "--interval", "soon", cid, expect="interval", timeout=10)
    p = h.spawn(h.rt_argv("events", "--interval", "1500ms", cid))

    def watch():
        time.sleep(1)
        check_eq(_spawned_output(p), "", "nothing before the first interval")
        check(wait_until(lambda: _spawned_output(p).count("\n") >= 2, timeout=5), "stats after 1.5 s and 3 s")
        if "memory" in _cgroup_lines(pid):  # v1's memory cgroup: runc's stream goes on until it is removed
            h.rt_ok("kill", cid, "KILL")
            check(wait_until(lambda: h.state(cid)["status"] == "stopped", 10), "stopped")
            seen = _spawned_output(p).count("\n")
            check(wait_until(lambda: _spawned_output(p).count("\n") > seen, timeout=5), "stats of a stopped container")
    lines = _events_until_deleted(h, p, cid, watch)
    check(len(lines) >= 2 and all((e["type"], e["id"]) == ("stats", cid) and "data" in e for e in lines),
          f"stats events: {lines}")


def test_update_shorter_cpu_period_under_a_parent_quota(h):
    """v1: a shorter period with the old quota would exceed the parent's quota, which the
    kernel refuses; with a new quota too, runc writes the period again after it."""
    _needs_cgroups(h)
    parent = h.new_id("cg-quota")
    b = h.bundle(["/probe", "sleep", "30"])
    b.linux["cgroupsPath"] = parent + "/c"
    b.linux["resources"] = {"cpu": {"quota": 40000, "period": 100000}}
    b.save()
    cid = h.new_id("cg")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    cg = _cgroup_lines(h.state(cid)["pid"])
    cpu_ctrl = next((c for c in cg if "cpu" in c.split(",") and c != "cpuset"), None)
    try:
        if cpu_ctrl is None:
            skip("no cgroup v1 cpu controller (the kernel's check is v1's cfs quota)")
        cpu_dir = "/sys/fs/cgroup/" + cpu_ctrl.split(",")[0] + cg[cpu_ctrl]
        with open(os.path.dirname(cpu_dir) + "/cpu.cfs_quota_us", "w") as f:
            f.write("50000")  # the parent's: half a CPU per 100 ms
        r = h.rt("update", "--cpu-period", "50000", "--cpu-quota", "20000", cid)
        check_eq(r.rc, 0, f"update to 20000/50000 (40000/50000 on the way would exceed the parent's)\n{r!r}")
        got = [open(f"{cpu_dir}/cpu.cfs_{f}_us").read().strip() for f in ("quota", "period")]
        check_eq(got, ["20000", "50000"], "quota and period")
        r = h.rt("update", "--cpu-period", "10000", cid)
        check(r.rc != 0 and "linux.resources.cpu.period" in r.err, f"alone, it stays refused\n{r!r}")
    finally:
        h.rt_ok("delete", "--force", cid)
        for ctrl, path in cg.items():  # the parent, which delete leaves (it is not the container's)
            v2 = "unified" if os.path.isdir("/sys/fs/cgroup/unified") else ""  # hybrid, or v2 alone
            mount = ctrl.split(",")[0].removeprefix("name=") or v2
            d = f"/sys/fs/cgroup/{mount}{os.path.dirname(path)}"
            if os.path.basename(d) == parent and os.path.isdir(d):
                os.rmdir(d)


def test_update_memory_below_what_cannot_be_reclaimed(h):
    """v1 refuses a memory limit below what it cannot reclaim (20 MiB in a tmpfs,
    and no swap to take them): runc's words, with the usage."""
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["sh", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1M count=20 2>/dev/null; sleep 60"])
    cg = _cgroup_lines(pid)
    if "memory" not in cg:
        skip("no v1 memory cgroup for the container here")
    usage = "/sys/fs/cgroup/memory" + cg["memory"] + "/memory.usage_in_bytes"
    check(wait_until(lambda: int(open(usage).read()) >= 20 << 20, 10), "the tmpfs file is charged")
    r = h.rt("update", "--memory", "1m", cid)
    check(r.rc != 0, f"update below the usage fails\n{r!r}")
    check(re.search(r"unable to set memory limit to 1048576 \(current usage: \d+, peak usage: \d+\)", r.err),
          f"runc's words\n{r!r}")


def test_update_sizes_as_go_units(h):
    """runc's update reads sizes with go-units' RAMInBytes: binary multiples,
    "i" and "b" optional, one space allowed, fractions; -1 is unlimited."""
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["/probe", "sleep", "30"])
    cg = _cgroup_lines(pid)
    if "memory" not in cg:
        skip("no v1 memory cgroup for the container here")
    mem = "/sys/fs/cgroup/memory" + cg["memory"]

    def limit(name):
        with open(f"{mem}/{name}") as f:
            return int(f.read())
    for text, want in (("100MiB", 100 << 20), ("1GiB", 1 << 30), ("64 M", 64 << 20), ("10Mi", 10 << 20),
                       ("1.5g", 3 << 29), ("200mib", 200 << 20)):
        h.rt_ok("update", "--memory", text, cid)
        check_eq(limit("memory.limit_in_bytes"), want, f"update --memory {text!r}")
    for text, want in (("1MiB", 1 << 20), ("1mib", 1 << 20), ("4KiB", 4096), ("8192kb", 8 << 20)):
        h.rt_ok("update", "--memory-reservation", text, cid)
        check_eq(limit("memory.soft_limit_in_bytes"), want, f"update --memory-reservation {text!r}")
    for bad in ("1x", "1.2.3", "-5m", "1 MiB ", "1e3", "lots"):
        h.rt_fail("update", "--memory", bad, cid, expect="memory")
    check_eq(limit("memory.limit_in_bytes"), 200 << 20, "unchanged by the refused sizes")


def test_update_resources_takes_runcs_fields_only(h):
    """runc's update -r applies memory limit/reservation/swap, the CPU's fields but
    burst and idle, blockIO.weight, pids.limit and unified; the rest of a
    LinuxResources (network, rdma, hugepageLimits, devices, disableOOMKiller,
    swappiness...) is ignored without an error."""
    _needs_cgroups(h)
    b, cid, pid = _detached(h, ["/probe", "sleep", "30"], {"pids": {"limit": 50}})
    cg = _cgroup_lines(pid)
    pids_max = "/sys/fs/cgroup/pids" + cg["pids"] + "/pids.max"

    def update(res):
        r = h.rt("update", "--resources", "-", cid, input=json.dumps(res))
        check_eq(r.rc, 0, f"update -r {res}\n{r!r}")
        return r
    update({"network": {"classID": 5, "priorities": [{"name": "lo", "priority": 3}]}, "pids": {"limit": 12}})
    check_eq(open(pids_max).read().strip(), "12", "pids.max beside an ignored network section")
    update({"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}})
    update({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}], "blockIO": {
        "throttleReadBpsDevice": [{"major": 1, "minor": 3, "rate": 1000}]}})
    update({"devices": [{"allow": False, "access": "rwm"}]})
    r = h.rt("exec", cid, "/probe", "report")
    check_eq(r.rc, 0, f"devices untouched by update (runc: SkipDevices)\n{r!r}")
    if "memory" in cg:
        mem = "/sys/fs/cgroup/memory" + cg["memory"]
        swappiness = open(f"{mem}/memory.swappiness").read().strip()
        update({"memory": {"disableOOMKiller": True, "swappiness": 7, "limit": 80 << 20}})
        control = open(f"{mem}/memory.oom_control").read()
        check("oom_kill_disable 0" in control, f"disableOOMKiller is not update's: {control!r}")
        check_eq(open(f"{mem}/memory.swappiness").read().strip(), swappiness, "nor is swappiness")
        check_eq(open(f"{mem}/memory.limit_in_bytes").read().strip(), str(80 << 20), "the limit beside them is")
        r = update({"memory": {"kernel": 1 << 30, "kernelTCP": 1 << 30}})
        check_in("Kernel memory settings are ignored", r.err, "runc's warning")
        tcp = f"{mem}/memory.kmem.tcp.limit_in_bytes"
        if os.path.exists(tcp):
            check(int(open(tcp).read()) != 1 << 30, "kernelTCP is not written")
    # runc's other flags: kernel memory warned of and ignored; Intel RDT's schemas refused.
    r = h.rt_ok("update", "--kernel-memory", "10m", "--kernel-memory-tcp", "10m", cid)
    check_in("Kernel memory settings are ignored", r.err, "runc's warning for --kernel-memory")
    if not os.path.exists("/sys/fs/resctrl/schemata"):
        h.rt_fail("update", "--l3-cache-schema", "L3:0=f", cid, expect="Intel RDT/CAT: l3 cache schema is not enabled")
        h.rt_fail("update", "--mem-bw-schema", "MB:0=50", cid,
                  expect="Intel RDT/MBA: memory bandwidth schema is not enabled")


def test_device_rules(h):
    _needs_cgroups(h)
    if not os.path.exists("/dev/loop0"):
        skip("no loop devices on this host")
    # An unbound loop device opens and reads 0 bytes: only the cgroup can refuse it.
    script = ("rm -f /tmp/loop; mknod /tmp/loop b 7 0 && head -c1 /tmp/loop >/dev/null; echo loop=$?; "
              "echo x > /dev/null; echo null=$?; head -c1 /dev/urandom >/dev/null; echo urandom=$?")
    b = h.bundle(["sh", "-c", script])
    b.linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    if h.rootless:
        # Device rules need privileges: skipped, saying so at debug level (as crun).
        b.process["args"] = ["/probe", "exit", "0"]
        r = h.run_bundle(b, global_args=["--debug"])
        check_eq(r.rc, 0, f"device rules skipped rootless\n{r!r}")
        check_in("linux.resources.devices: not applied rootless", r.err, "debug line")
        return
    r = h.run_bundle(b)
    check_eq(r.out.split(), ["loop=1", "null=0", "urandom=0"],
             f"deny-all config: b 7:0 refused, the default devices work\n{r!r}")
    check_in("Operation not permitted", r.err, "refused by the device cgroup")
    b.linux["resources"]["devices"].append({"allow": True, "type": "b", "major": 7, "minor": 0, "access": "rm"})
    r = h.run_bundle(b)
    check_eq(r.out.split()[0], "loop=0", f"an allow rule for b 7:0 rm\n{r!r}")
    # runc's allowed devices: any node may be made (m), only the default ones and tun used.
    b.linux["resources"]["devices"] = [{"allow": False, "access": "rwm"}]
    b.process["args"] = ["sh", "-c", "mknod /tmp/b b 7 0 && echo mknod-b; mknod /tmp/fuse c 10 229 && echo mknod-c; "
                         "head -c1 /tmp/fuse 2>/dev/null || echo fuse-refused; mkdir -p /dev/net; "
                         "mknod /dev/net/tun c 10 200 && (exec 3<>/dev/net/tun) && echo tun-opened"]
    r = h.run_bundle(b)
    check_eq(r.out.split(), ["mknod-b", "mknod-c", "fuse-refused", "tun-opened"], f"runc's allowed devices\n{r!r}")


def test_device_rules_on_a_pure_v2_host(h):
    """Where cgroup v2 is all there is, device rules become an eBPF program.  Emulated in
    a private mount namespace that sees only a cgroup2 mount at /sys/fs/cgroup."""
    if h.rootless:
        skip("device programs need privileges (skipped rootless, see test_device_rules)")
    if not os.path.exists("/dev/loop0"):
        skip("no loop devices on this host")
    unshare = shutil.which("unshare")
    if not unshare:
        skip("unshare(1) not installed")
    script = ("rm -f /tmp/loop; mknod /tmp/loop b 7 0 && head -c1 /tmp/loop >/dev/null; echo loop=$?; "
              "echo x > /dev/null; echo null=$?; cat /proc/self/cgroup | tail -1")
    b = h.bundle(["sh", "-c", script])
    b.linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    b.set_namespace("cgroup")
    b.save()
    cid = h.new_id("v2dev")
    pure_v2 = ("umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\"")
    r = h.cmd([unshare, "-m", "--propagation", "private", "sh", "-c", pure_v2, "sh"] +
              h.rt_argv("run", "--bundle", b.path, cid))
    check_eq(r.rc, 0, f"run on a cgroup2-only view\n{r!r}")
    out = r.out.split()
    check_eq(out[:2], ["loop=1", "null=0"], f"the eBPF program refuses b 7:0, allows /dev/null\n{r!r}")
    check_eq(out[2], "0::/", "the container sits in its own cgroup namespace root")
    check(not os.path.exists(f"/sys/fs/cgroup/unified/{cid}"), "its v2 cgroup is removed")


def test_cgroup_manager_disabled(h):
    own = _cgroup_lines(os.getpid())
    b = h.bundle(["/probe", "sleep", "30"])
    b.linux["resources"] = {"pids": {"limit": 50}, "devices": [{"allow": False, "access": "rwm"}]}
    b.save()
    cid = h.new_id("nocg")
    r = h.rt_ok("--cgroup-manager", "disabled", "run", "--detach", "--bundle", b.path, cid, root=True)
    check_in("linux.resources.pids.limit not applied: --cgroup-manager disabled makes no cgroup", r.err,
             "the limit dropped is named (the device rules are not limits)")
    pid = h.state(cid)["pid"]
    check_eq(_cgroup_lines(pid), own, "no cgroup of its own with --cgroup-manager disabled")
    h.rt_fail("pause", cid, expect="has no cgroup")
    # ps finds them as signals do: by the container's pid namespace, not our cgroup's other processes.
    pid_file = os.path.join(h.tmp, "e.pid")
    h.rt_ok("exec", "-d", "--pid-file", pid_file, cid, "/probe", "sleep", "30")
    epid = int(open(pid_file).read())
    check_eq(sorted(h.rt_ok("ps", "--format", "json", cid).json()), sorted([pid, epid]), "ps without a cgroup")
    # runc's stats of a container without a cgroup (rootless, none delegated): zeros.
    data = json.loads(h.rt_ok("events", "--stats", cid).out)["data"]
    check_eq(data["cpu"], {"usage": {"kernel": 0, "user": 0}, "throttling": {}}, "no CPU counted")
    check_eq(data["memory"]["usage"], {"limit": 0, "failcnt": 0}, "no memory counted")
    check_eq((data["pids"], data["blkio"]), ({}, {}), "no pids or I/O counted")


def test_a_frozen_cgroup_is_refused_at_create(h):
    """runc's refusal: an init put in a cgroup that is already frozen would hang in its first
    step.  create fails at once, leaving the cgroup as it was and no container."""
    _needs_cgroups(h)
    freezer = _cgroup_lines(os.getpid()).get("freezer")
    if freezer is None:
        skip("no v1 freezer hierarchy here")
    name = h.new_id("frozen")
    d = f"/sys/fs/cgroup/freezer{freezer.rstrip('/')}/{name}"
    try:
        os.mkdir(d)
        with open(d + "/freezer.state", "w") as f:
            f.write("FROZEN")
    except OSError as e:
        skip(f"cannot make a frozen freezer cgroup here: {e}")
    try:
        b = h.bundle(["/probe", "true"])
        b.linux["cgroupsPath"] = name
        b.save()
        cid = h.new_id("frozen")
        r = h.rt("create", "--bundle", b.path, cid, timeout=20)
        check(r.rc != 0 and "container's cgroup unexpectedly frozen" in r.err, f"refused at once\n{r!r}")
        check_eq((h.container_ids(), open(d + "/freezer.state").read().strip()), ([], "FROZEN"),
                 "no container; the cgroup untouched")
    finally:
        with open(d + "/freezer.state", "w") as f:
            f.write("THAWED")
        os.rmdir(d)


def test_bad_resources_fail_cleanly(h):
    _needs_cgroups(h)
    b = h.bundle(["/probe", "exit", "0"])
    b.linux["resources"] = {"memory": {"limit": 64 << 20, "swap": 32 << 20}, "unified": {"bogus": "1"}}
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id("badres"), expect="linux.resources")
    check_eq(h.container_ids(), [], "nothing left")
    # A core file that is no limit: cgroup.procs would move any process (the host's PID 1) in.
    b.linux["resources"] = {"unified": {"cgroup.procs": "1"}}
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id("badres"), expect="linux.resources.unified.cgroup.procs: not a limit")
    # A value the kernel refuses names its field and value, then the file.
    b.linux["resources"] = {"cpu": {"cpus": "99999"}}
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id("badres"), expect="linux.resources.cpu.cpus `99999`: write `")
    check_eq(h.container_ids(), [], "nothing left")


if __name__ == "__main__":
    harness.DELEGATE_CGROUPS = True  # the user pass runs in cgroups delegated to it
    harness.main(globals())
