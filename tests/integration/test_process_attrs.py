#!/usr/bin/env python3
"""process.scheduler, process.ioPriority, process.execCPUAffinity and
linux.memoryPolicy (runtime-spec 1.2+), observed from inside the container
(/proc/self/stat, /proc/self/status, /proc/self/numa_maps, busybox ionice), for
the init and for `exec`; bad values are refused naming the JSON path, with
nothing left behind.

Run: test_process_attrs.py --as root|user [-k NAME] [-v]   (see harness.py)
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Failure, check, check_eq, check_in, skip  # noqa: E402

SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE = 0, 1, 2, 3, 5, 6


# ---- helpers ----------------------------------------------------------------------------------


def _stat_fields(text):
    """/proc/PID/stat as {field number (1-based, proc(5)): value}; comm may hold blanks."""
    rest = text[text.rfind(")") + 2:].split()
    return {i + 3: v for i, v in enumerate(rest)}


def _sched_of(stat_text):
    """(policy, nice, rt_priority) from /proc/PID/stat: fields 41, 19 and 40."""
    f = _stat_fields(stat_text)
    return int(f[41]), int(f[19]), int(f[40])


def _status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise Failure(f"{name} not in /proc/self/status:\n{text}")


def _numa_policy(text):
    """The policy column of the first /proc/self/numa_maps line: the task's policy
    for a mapping without one of its own ("default", "bind:0", "interleave:0")."""
    lines = text.splitlines()
    check(lines, "numa_maps is empty")
    return lines[0].split()[1]


def _run_out(h, b, *args):
    """Runs the bundle with `args`; its stdout (rc must be 0)."""
    b.set_args(*args)
    r = h.run_bundle(b)
    if r.rc != 0:
        raise Failure(f"container failed\n{r!r}")
    return r.out


def _refused(h, b, expect, what):
    """`run` must fail with `expect` (a JSON path and its problem) and leave nothing behind."""
    b.save()
    r = h.rt_fail("run", "--bundle", b.path, h.new_id("bad"), expect=expect)
    check_eq(h.container_ids(), [], f"nothing left behind after {what}")
    return r


def _started(h, b):
    """A created and started container running `sleep 60`; its id."""
    b.set_args("sleep", "60")
    cid = h.create(b)
    h.rt_ok("start", cid)
    h.wait_status(cid, "running")
    return cid


def _exec_file(h, b, **fields):
    """A process.json for `exec --process`: the bundle's process with `fields` set."""
    proc = json.loads(json.dumps(b.process))
    proc.update(fields)
    path = os.path.join(h.mkdtemp("proc"), "process.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    return path


def _cpus():
    """The CPUs this test may use, and the first CPU id the kernel does not know."""
    allowed = sorted(os.sched_getaffinity(0))
    with open("/sys/devices/system/cpu/possible") as f:
        last = f.read().strip().split(",")[-1].split("-")[-1]
    return allowed, int(last) + 1


# ---- process.scheduler ------------------------------------------------------------------------


def test_scheduler_batch_with_nice(h):
    """SCHED_BATCH and a higher nice: allowed to anyone, so both modes; run and exec."""
    b = h.bundle()
    b.process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    check_eq(_sched_of(_run_out(h, b, "cat", "/proc/self/stat")), (SCHED_BATCH, 5, 0),
             "(policy, nice, rt_priority) of the init")
    cid = _started(h, b)
    r = h.rt("exec", cid, "cat", "/proc/self/stat")
    check_eq(r.rc, 0, f"exec\n{r!r}")
    check_eq(_sched_of(r.out), (SCHED_BATCH, 5, 0), "an exec'd process gets the container's process.scheduler")
    path = _exec_file(h, b, args=["cat", "/proc/self/stat"], scheduler={"policy": "SCHED_OTHER", "nice": 7})
    r = h.rt("exec", "--process", path, cid)
    check_eq(r.rc, 0, f"exec --process\n{r!r}")
    check_eq(_sched_of(r.out), (SCHED_OTHER, 7, 0), "exec --process with its own scheduler")
    h.rt_ok("delete", "--force", cid)


def test_scheduler_idle(h):
    b = h.bundle()
    b.process["scheduler"] = {"policy": "SCHED_IDLE"}
    policy, _, prio = _sched_of(_run_out(h, b, "cat", "/proc/self/stat"))
    check_eq((policy, prio), (SCHED_IDLE, 0), "(policy, rt_priority)")


def test_scheduler_reset_on_fork(h):
    """SCHED_FLAG_RESET_ON_FORK: the process keeps its real-time policy, its
    children start as SCHED_OTHER (the kernel resets only RT/deadline policies
    and negative nices, which need privilege: rootless gets the clear error)."""
    b = h.bundle()
    b.process["scheduler"] = {"policy": "SCHED_RR", "priority": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
    if h.rootless:
        _refused(h, b, "process.scheduler: sched_setattr SCHED_RR priority 5 flags SCHED_FLAG_RESET_ON_FORK: "
                 "operation not permitted", "a refused SCHED_RR")
        return
    _allow_rt(b)
    out = _run_out(h, b, "sh", "-c", "cat /proc/$$/stat; cat /proc/self/stat; exit 0")
    own, child = [line for line in out.splitlines() if line]
    check_eq(_sched_of(own), (SCHED_RR, 0, 5), "the process itself")
    check_eq(_sched_of(child), (SCHED_OTHER, 0, 0), "a child after SCHED_FLAG_RESET_ON_FORK")


def _v1_rt_group_sched():
    """True when the cpu controller is mounted as cgroup v1 with real-time group
    scheduling (CONFIG_RT_GROUP_SCHED): a new cgroup then has no RT runtime."""
    for fstype, mount, opts in harness.read_mountinfo_full():
        if fstype == "cgroup" and "cpu" in opts.split(","):
            return os.path.exists(os.path.join(mount, "cpu.rt_runtime_us"))
    return False


def _allow_rt(b):
    """Gives the container's cgroup real-time runtime where the kernel needs it."""
    if _v1_rt_group_sched():
        b.linux.setdefault("resources", {})["cpu"] = {"realtimeRuntime": 10000}


def test_scheduler_fifo(h):
    """A real-time policy needs CAP_SYS_NICE over the host (applied before the
    container's capabilities are set, as runc): root gets it, rootless gets the error."""
    b = h.bundle()
    b.process["scheduler"] = {"policy": "SCHED_FIFO", "priority": 10}
    if h.rootless:
        r = _refused(h, b, "process.scheduler: sched_setattr SCHED_FIFO priority 10: operation not permitted",
                     "a refused SCHED_FIFO")
        check_in("RLIMIT_RTPRIO", r.err, "the error says what would allow it")
        return
    if _v1_rt_group_sched():
        # The container's cpu cgroup starts with cpu.rt_runtime_us 0: refused, saying why...
        r = _refused(h, b, "process.scheduler: sched_setattr SCHED_FIFO priority 10: operation not permitted",
                     "SCHED_FIFO in a cgroup without RT runtime")
        check_in("linux.resources.cpu.realtimeRuntime", r.err, "the error names the setting that allows it")
        # ...and allowed once the config gives the cgroup some.
        _allow_rt(b)
    check_eq(_sched_of(_run_out(h, b, "cat", "/proc/self/stat")), (SCHED_FIFO, 0, 10),
             "(policy, nice, rt_priority) of the init")
    cid = _started(h, b)
    r = h.rt("exec", cid, "cat", "/proc/self/stat")
    check_eq(r.rc, 0, f"exec\n{r!r}")
    check_eq(_sched_of(r.out), (SCHED_FIFO, 0, 10), "exec'd process")
    h.rt_ok("delete", "--force", cid)


def test_scheduler_deadline(h):
    """SCHED_DEADLINE with runtime/deadline/period (ns): root only, like the RT policies."""
    b = h.bundle()
    b.process["scheduler"] = {"policy": "SCHED_DEADLINE", "runtime": 2000000, "deadline": 10000000,
                              "period": 20000000}
    if h.rootless:
        _refused(h, b, "process.scheduler: sched_setattr SCHED_DEADLINE runtime 2000000 deadline 10000000 "
                 "period 20000000: operation not permitted", "a refused SCHED_DEADLINE")
        return
    policy, _, prio = _sched_of(_run_out(h, b, "cat", "/proc/self/stat"))
    check_eq((policy, prio), (SCHED_DEADLINE, 0), "(policy, rt_priority) of the init")


def test_scheduler_bad_values_are_refused(h):
    cases = [
        ({"policy": "SCHED_ISO"}, "process.scheduler.policy: SCHED_ISO is not supported"),
        ({"policy": "SCHED_WHATEVER"}, "process.scheduler.policy: unknown policy"),
        ({"nice": 1}, "process.scheduler.policy: required field is missing"),
        ({"policy": "SCHED_OTHER", "nice": 20}, "process.scheduler.nice: must be within -20..19"),
        ({"policy": "SCHED_BATCH", "priority": 5}, "process.scheduler.priority: only SCHED_FIFO and SCHED_RR"),
        ({"policy": "SCHED_RR", "priority": 0}, "process.scheduler.priority: must be within 1..99"),
        ({"policy": "SCHED_OTHER", "runtime": 1000}, "process.scheduler.runtime: only SCHED_DEADLINE"),
        ({"policy": "SCHED_DEADLINE", "runtime": 5000, "deadline": 4000},
         "process.scheduler.runtime: must not exceed the deadline"),
        ({"policy": "SCHED_DEADLINE", "runtime": 2000, "deadline": 4000, "period": 3000},
         "process.scheduler.deadline: must not exceed the period"),
        ({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}, "process.scheduler.flags[0]: unknown flag"),
    ]
    for sched, expect in cases:
        b = h.bundle()
        b.process["scheduler"] = sched
        _refused(h, b, expect, json.dumps(sched))


def test_scheduler_negative_nice(h):
    """Raising the priority needs CAP_SYS_NICE over the host: root only."""
    b = h.bundle()
    b.process["scheduler"] = {"policy": "SCHED_OTHER", "nice": -5}
    if h.rootless:
        _refused(h, b, "process.scheduler: sched_setattr SCHED_OTHER nice -5: operation not permitted",
                 "a refused negative nice")
        return
    check_eq(_sched_of(_run_out(h, b, "cat", "/proc/self/stat")), (SCHED_OTHER, -5, 0), "negative nice as root")


# ---- process.ioPriority -----------------------------------------------------------------------


def test_io_priority(h):
    """ioprio_set in the container: read back with busybox ionice (ioprio_get)."""
    b = h.bundle()
    b.process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 3}
    check_eq(_run_out(h, b, "sh", "-c", "ionice -p $$").strip(), "best-effort: prio 3", "init")
    cid = _started(h, b)
    r = h.rt("exec", cid, "sh", "-c", "ionice -p $$")
    check_eq((r.rc, r.out.strip()), (0, "best-effort: prio 3"), f"exec'd process\n{r!r}")
    path = _exec_file(h, b, args=["sh", "-c", "ionice -p $$"], ioPriority={"class": "IOPRIO_CLASS_IDLE", "priority": 0})
    r = h.rt("exec", "--process", path, cid)
    check_eq((r.rc, r.out.strip()), (0, "idle"), f"exec --process with its own ioPriority\n{r!r}")
    h.rt_ok("delete", "--force", cid)


def test_io_priority_realtime_class(h):
    """IOPRIO_CLASS_RT needs CAP_SYS_NICE or CAP_SYS_ADMIN over the host."""
    b = h.bundle()
    b.process["ioPriority"] = {"class": "IOPRIO_CLASS_RT", "priority": 1}
    if h.rootless:
        _refused(h, b, "process.ioPriority: ioprio_set IOPRIO_CLASS_RT priority 1: operation not permitted",
                 "a refused RT class")
        return
    check_eq(_run_out(h, b, "sh", "-c", "ionice -p $$").strip(), "realtime: prio 1", "RT class as root")


def test_io_priority_bad_values_are_refused(h):
    for io, expect in (({"class": "IOPRIO_CLASS_BE", "priority": 8}, "process.ioPriority.priority: must be within 0..7"),
                       ({"class": "IOPRIO_CLASS_NONE", "priority": 0}, "process.ioPriority.class: unknown class"),
                       ({"class": "IOPRIO_CLASS_BE"}, "process.ioPriority.priority: required field is missing")):
        b = h.bundle()
        b.process["ioPriority"] = io
        _refused(h, b, expect, json.dumps(io))


# ---- process.execCPUAffinity ------------------------------------------------------------------


def test_exec_cpu_affinity(h):
    """runtime-spec: execCPUAffinity "is not applicable to the container's init
    process": the init keeps the runtime's affinity; exec'd processes get it."""
    allowed, _ = _cpus()
    if len(allowed) < 2:
        skip(f"needs 2 usable CPUs, have {allowed}")
    first, second = allowed[0], allowed[1]
    b = h.bundle()
    b.process["execCPUAffinity"] = {"initial": str(second), "final": str(first)}
    status = _run_out(h, b, "cat", "/proc/self/status")
    check_eq(_status_field(status, "Cpus_allowed_list"), _status_field(open("/proc/self/status").read(),
                                                                        "Cpus_allowed_list"),
             "the init keeps the runtime's affinity")
    # initial alone: an exec'd process runs on it (nothing changes it later).
    b.process["execCPUAffinity"] = {"initial": str(second)}
    cid = _started(h, b)
    r = h.rt("exec", cid, "cat", "/proc/self/status")
    check_eq(_status_field(r.out, "Cpus_allowed_list"), str(second), f"initial affinity without a final one\n{r!r}")
    h.rt_ok("delete", "--force", cid)
    # A list with a range.
    pair = f"{first}-{second}" if second == first + 1 else f"{first},{second}"
    b.process["execCPUAffinity"] = {"final": pair}
    cid = _started(h, b)
    r = h.rt("exec", cid, "cat", "/proc/self/status")
    check_eq(_status_field(r.out, "Cpus_allowed_list"), pair, f"a two-CPU final list\n{r!r}")
    h.rt_ok("delete", "--force", cid)


def test_exec_cpu_affinity_for_exec(h):
    allowed, _ = _cpus()
    if len(allowed) < 2:
        skip(f"needs 2 usable CPUs, have {allowed}")
    first, second = allowed[0], allowed[1]
    b = h.bundle()
    # Without execCPUAffinity, the caller's set (exec's process starts on the
    # runtime's CPU, then takes back the set it inherits).
    cid = _started(h, b)
    r = h.rt("exec", cid, "cat", "/proc/self/status")
    check_eq(_status_field(r.out, "Cpus_allowed_list"),
             _status_field(open("/proc/self/status").read(), "Cpus_allowed_list"), f"the caller's affinity\n{r!r}")
    h.rt_ok("delete", "--force", cid)
    b.process["execCPUAffinity"] = {"initial": str(first), "final": str(second)}
    cid = _started(h, b)
    r = h.rt("exec", cid, "cat", "/proc/self/status")
    check_eq(r.rc, 0, f"exec\n{r!r}")
    check_eq(_status_field(r.out, "Cpus_allowed_list"), str(second), "exec'd process: the container's final list")
    path = _exec_file(h, b, args=["cat", "/proc/self/status"], execCPUAffinity={"final": str(first)})
    r = h.rt("exec", "--process", path, cid)
    check_eq(r.rc, 0, f"exec --process\n{r!r}")
    check_eq(_status_field(r.out, "Cpus_allowed_list"), str(first), "exec --process with its own final list")
    path = _exec_file(h, b, args=["true"], execCPUAffinity={"initial": "0-x"})
    # Checked before anything is made, named by the file's own JSON path.
    h.rt_fail("exec", "--process", path, cid, expect="process.json: execCPUAffinity.initial: invalid CPU list `0-x`")
    h.rt_ok("delete", "--force", cid)


def test_init_cpu_affinity_is_the_callers(h):
    # The init made by one clone is lent another CPU while the runtime writes the
    # state (src/process/launcher.cpp, CpuLoan); it must run the container with
    # the set it inherited, whatever set the caller has.
    allowed, _ = _cpus()
    sets = [set(allowed), {allowed[-1]}] + ([{allowed[0], allowed[1]}] if len(allowed) >= 3 else [])
    saved = os.sched_getaffinity(0)
    try:
        for cpus in sets:
            os.sched_setaffinity(0, cpus)
            want = _status_field(open("/proc/self/status").read(), "Cpus_allowed_list")
            b = h.bundle()
            out = _run_out(h, b, "cat", "/proc/self/status")
            check_eq(_status_field(out, "Cpus_allowed_list"), want, f"run's init with the caller's set {cpus}")
            cid = _started(h, b)
            r = h.rt("exec", cid, "cat", "/proc/1/status")
            check_eq(_status_field(r.out, "Cpus_allowed_list"), want, f"create/start's init with the caller's set {cpus}")
            h.rt_ok("delete", "--force", cid)
        # A cpuset without the caller's CPUs: the init gets the cpuset's (as the
        # kernel gives a task entering it), not an error.
        if os.geteuid() == 0 and len(allowed) >= 2:
            os.sched_setaffinity(0, {allowed[-1]})
            b = h.bundle()
            b.config["linux"]["resources"] = {"cpu": {"cpus": str(allowed[0])}}
            out = _run_out(h, b, "cat", "/proc/self/status")
            check_eq(_status_field(out, "Cpus_allowed_list"), str(allowed[0]), "the init in a cpuset without the caller's CPU")
    finally:
        os.sched_setaffinity(0, saved)


def test_exec_cpu_affinity_bad_values_are_refused(h):
    _, unknown = _cpus()
    for aff, expect in (({"final": "x"}, "process.execCPUAffinity.final: invalid CPU list `x`"),
                        ({"initial": "3-1"}, "process.execCPUAffinity.initial: invalid CPU list `3-1`: range `3-1` is reversed"),
                        ({"final": "9999"}, "process.execCPUAffinity.final: invalid CPU list `9999`: 9999 is above 8191"),
                        ({"final": f"0,{unknown}"},
                         f"process.execCPUAffinity.final: CPU {unknown} not known to the kernel"),
                        ({"initial": str(unknown)},
                         f"process.execCPUAffinity.initial: CPU {unknown} not known to the kernel")):
        b = h.bundle()
        b.process["execCPUAffinity"] = aff
        _refused(h, b, expect, json.dumps(aff))


# ---- linux.memoryPolicy -----------------------------------------------------------------------


def test_memory_policy(h):
    if not os.path.exists("/proc/self/numa_maps"):
        skip("the kernel has no NUMA support (no /proc/self/numa_maps)")
    b = h.bundle()
    for mp, want in (({"mode": "MPOL_BIND", "nodes": "0"}, "bind:0"),
                     ({"mode": "MPOL_INTERLEAVE", "nodes": "0"}, "interleave:0"),
                     ({"mode": "MPOL_PREFERRED", "nodes": "0"}, "prefer:0"),
                     ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}, "bind=static:0"),
                     ({"mode": "MPOL_LOCAL"}, "local"),
                     ({"mode": "MPOL_DEFAULT"}, "default")):
        b.linux["memoryPolicy"] = mp
        got = _numa_policy(_run_out(h, b, "cat", "/proc/self/numa_maps"))
        check_eq(got, want, f"task policy of the init for {mp}")
    # The init's only: an exec'd process keeps the runtime's (default) policy.
    b.linux["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    cid = _started(h, b)
    r = h.rt("exec", cid, "cat", "/proc/self/numa_maps")
    check_eq((r.rc, _numa_policy(r.out)), (0, "default"), f"exec'd process\n{r!r}")
    h.rt_ok("delete", "--force", cid)


def test_memory_policy_bad_values_are_refused(h):
    if not os.path.exists("/sys/devices/system/node/possible"):
        skip("the kernel has no NUMA support")
    with open("/sys/devices/system/node/possible") as f:
        unknown = int(f.read().strip().split(",")[-1].split("-")[-1]) + 1
    for mp, expect in (({"mode": "MPOL_BIND"}, "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"),
                       ({"mode": "MPOL_LOCAL", "nodes": "0"}, "linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"),
                       ({"mode": "MPOL_BIND", "nodes": "0-"}, "linux.memoryPolicy.nodes: invalid node list `0-`"),
                       ({"mode": "MPOL_BIND", "nodes": f"0,{unknown}"},
                        f"linux.memoryPolicy.nodes: node {unknown} not known to the kernel"),
                       ({"mode": "MPOL_NEAR", "nodes": "0"}, "linux.memoryPolicy.mode: unknown mode `MPOL_NEAR`"),
                       ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]},
                        "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"),
                       ({"nodes": "0"}, "linux.memoryPolicy.mode: required field is missing")):
        b = h.bundle()
        b.linux["memoryPolicy"] = mp
        _refused(h, b, expect, json.dumps(mp))


def test_features_report_memory_policy(h):
    r = h.rt_ok("features", root=False)
    mp = r.json()["linux"]["memoryPolicy"]
    check_eq(sorted(mp["modes"]), sorted(["MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
                                          "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"]), "modes")
    check_eq(sorted(mp["flags"]), ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"], "flags")


if __name__ == "__main__":
    harness.main(globals())
