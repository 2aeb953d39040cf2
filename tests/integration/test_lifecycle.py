#!/usr/bin/env python3
"""Container lifecycle through the CLI: create/start/state/kill/delete/run/list/... .

Run: test_lifecycle.py --as root|user [-k NAME] [-v]   (see harness.py)
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Failure, check, check_eq, check_in, pid_alive, skip, wait_until  # noqa: E402

SLEEP = ["/probe", "sleep", "300"]


def _state_dir_gone(h, cid):
    return not os.path.exists(os.path.join(h.root, cid))


def _assert_gone(h, cid):
    r = h.rt_fail("state", cid, expect="container does not exist")
    check(r.rc != 0, "state of a deleted container must fail")
    check(_state_dir_gone(h, cid), f"state directory {h.root}/{cid} still exists")
    check(cid not in h.container_ids(), f"{cid} still listed")


def _cmdline_is(pid, argv):
    return harness.proc_cmdline(pid) == argv


def test_create_start_kill_delete(h):
    b = h.bundle(SLEEP)
    cid = h.new_id("life")
    h.rt_ok("create", "--bundle", b.path, cid)
    st = h.state(cid)
    check_eq(st["status"], "created", "status after create")
    check_eq(st["id"], cid, "id")
    check_eq(os.path.realpath(st["bundle"]), os.path.realpath(b.path), "bundle")
    pid = st["pid"]
    check(isinstance(pid, int) and pid > 1, f"pid after create: {pid!r}")
    check(pid_alive(pid), f"created container process {pid} is not alive")
    check(not _cmdline_is(pid, SLEEP), "the user process must not run before start")

    h.rt_ok("start", cid)
    st = h.wait_status(cid, "running")
    check_eq(st["pid"], pid, "pid after start")
    check(wait_until(lambda: _cmdline_is(pid, SLEEP), 5),
          f"after start pid {pid} runs {harness.proc_cmdline(pid)}, want {SLEEP}")

    h.rt_ok("kill", cid, "SIGTERM")
    st = h.wait_status(cid, "stopped")
    check(wait_until(lambda: not pid_alive(pid), 5), f"pid {pid} still alive after SIGTERM")

    h.rt_ok("delete", cid)
    _assert_gone(h, cid)


def test_kill_signal_forms(h):
    """kill by name (TERM, SIGTERM), by number (15), without a signal or with "" (SIGTERM,
    as runc), with -s/--signal (podman's); 0 only checks that the container runs."""
    forms = [("SIGTERM",), ("TERM",), ("15",), (), ("",), ("-s", "TERM"), ("--signal", "15")]
    for form in forms:
        b = h.bundle(SLEEP)
        cid = h.new_id("sig")
        out_path = os.path.join(b.path, "stdout")
        h.rt_ok("create", "--bundle", b.path, cid, stdout_path=out_path)
        h.rt_ok("start", cid)
        h.wait_status(cid, "running")
        h.rt_ok("kill", cid, "0")
        check_eq(h.state(cid)["status"], "running", "kill 0 signals nothing")
        if form[:1] in (("-s",), ("--signal",)):
            h.rt_ok("kill", *form, cid)
        else:
            h.rt_ok("kill", cid, *form)
        h.wait_status(cid, "stopped")
        with open(out_path) as f:
            out = f.read()
        check_in("caught signal 15", out, f"container output after kill {form}")
        h.rt_fail("kill", cid, "0", expect="container not running")
        h.rt_ok("delete", cid)


def test_kill_sigkill_and_usr1(h):
    b = h.bundle(SLEEP)
    cid = h.new_id("usr1")
    out_path = os.path.join(b.path, "stdout")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid, stdout_path=out_path)
    h.wait_status(cid, "running")
    h.rt_ok("kill", cid, "USR1")
    h.wait_status(cid, "stopped")
    with open(out_path) as f:
        check_in("caught signal 10", f.read(), "output after kill USR1")
    h.rt_ok("delete", cid)

    b = h.bundle(["/bin/sleep", "300"])  # busybox sleep as PID 1 has no handlers: only KILL works
    cid = h.new_id("kill9")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    pid = h.wait_status(cid, "running")["pid"]
    h.rt_ok("kill", cid, "9")
    h.wait_status(cid, "stopped")
    check(wait_until(lambda: not pid_alive(pid), 5), "pid alive after kill 9")
    h.rt_ok("delete", cid)


def test_kill_invalid_signal(h):
    b = h.bundle(SLEEP)
    cid = h.new_id("badsig")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    h.rt_fail("kill", cid, "SIGNOPE")
    h.rt_fail("kill", "-s", "KILL", cid, "TERM", expect="cannot be specified more than once")
    check_eq(h.state(cid)["status"], "running", "status after a rejected kill")
    h.rt_ok("delete", "--force", cid)


def test_run_exit_codes(h):
    b = h.bundle()
    for code in (0, 7, 255):
        b.set_args("/probe", "exit", str(code))
        r = h.run_bundle(b)
        check_eq(r.rc, code, f"exit status of run `probe exit {code}`")
    # A foreground run leaves no container behind (no --keep).
    check_eq(h.container_ids(), [], "containers after foreground runs")


def test_run_signal_death(h):
    b = h.bundle(["/probe", "kill-self", "SEGV"])
    r = h.run_bundle(b)
    check_eq(r.rc, 128 + 11, "exit status of a container killed by SIGSEGV")

    # Killed from outside while `run` waits in the foreground.
    b = h.bundle(["/bin/sleep", "300"])
    cid = h.new_id("fgkill")
    p = h.spawn(h.rt_argv("run", "--bundle", b.path, cid))
    h.wait_status(cid, "running", timeout=15)
    h.rt_ok("kill", cid, "KILL")
    r = h.finish(p, timeout=30)
    check_eq(r.rc, 128 + 9, "exit status of a foreground run whose container got SIGKILL")


def test_run_keep(h):
    b = h.bundle(["/probe", "exit", "3"])
    cid = h.new_id("keep")
    r = h.rt("run", "--keep", "--bundle", b.path, cid)
    check_eq(r.rc, 3, "exit status of run --keep")
    st = h.state(cid)
    check_eq(st["status"], "stopped", "status of a kept container")
    h.rt_ok("delete", cid)
    _assert_gone(h, cid)


def test_run_detach(h):
    b = h.bundle(SLEEP)
    cid = h.new_id("detach")
    t0 = time.monotonic()
    h.rt_ok("run", "--detach", "--bundle", b.path, cid, timeout=30)
    check(time.monotonic() - t0 < 20, "run --detach must return promptly")
    st = h.wait_status(cid, "running")
    pid = st["pid"]
    check(pid_alive(pid), "detached container process not alive")
    check(wait_until(lambda: _cmdline_is(pid, SLEEP), 5), "detached process runs the probe")
    h.rt_ok("kill", cid, "KILL")
    h.wait_status(cid, "stopped")
    h.rt_ok("delete", cid)
    _assert_gone(h, cid)


def test_create_same_id_concurrently(h):
    b1, b2 = h.bundle(SLEEP), h.bundle(SLEEP)
    cid = h.new_id("dup")
    p1 = h.spawn(h.rt_argv("create", "--bundle", b1.path, cid))
    p2 = h.spawn(h.rt_argv("create", "--bundle", b2.path, cid))
    r1, r2 = h.finish(p1), h.finish(p2)
    oks = [r for r in (r1, r2) if r.rc == 0]
    check_eq(len(oks), 1, f"successful concurrent creates of one id\n{r1!r}\n{r2!r}")
    loser = r2 if r1.rc == 0 else r1
    check_in("exist", (loser.err + loser.out).lower(), "error of the losing create")
    st = h.state(cid)
    check_eq(st["status"], "created", "status of the winner")
    # The winner's bundle is the one recorded.
    winner_bundle = b1.path if r1.rc == 0 else b2.path
    check_eq(os.path.realpath(st["bundle"]), os.path.realpath(winner_bundle), "bundle")
    # A later sequential attempt fails too and does not disturb the existing container.
    h.rt_fail("create", "--bundle", b1.path, cid, expect="exist")
    check_eq(h.state(cid)["pid"], st["pid"], "pid after a rejected duplicate create")
    h.rt_ok("delete", "--force", cid)
    _assert_gone(h, cid)


def test_start_errors(h):
    h.rt_fail("start", h.new_id("ghost"), expect="does not exist")
    b = h.bundle(SLEEP)
    cid = h.new_id("start2")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    h.wait_status(cid, "running")
    h.rt_fail("start", cid)
    check_eq(h.state(cid)["status"], "running", "status after a second start")
    h.rt_ok("kill", cid, "KILL")
    h.wait_status(cid, "stopped")
    h.rt_fail("start", cid)
    # The failed start leaves the stopped container as it was: its monitor's exit record too.
    check_eq(h.state(cid)["status"], "stopped", "status after a start of a stopped one")
    check_eq(h.rt("wait", cid).out.split(), ["137"], "its exit code after a failed start")
    h.rt_ok("delete", cid)


def test_kill_errors(h):
    h.rt_fail("kill", h.new_id("ghost"), "TERM", expect="does not exist")
    b = h.bundle(["/probe", "exit", "0"])
    cid = h.new_id("killstopped")
    h.create(b, cid)
    h.rt_ok("start", cid)
    h.wait_status(cid, "stopped")
    h.rt_fail("kill", cid, "TERM", expect="container not running")
    # containerd's shim sends kill --all after the init exited: runc's success, with a
    # cgroup or without one (rootless), its pid namespace gone with the init.
    h.rt_ok("kill", "--all", cid, "9")
    h.rt_ok("delete", cid)


def test_delete_running_needs_force(h):
    h.rt_fail("delete", h.new_id("ghost"), expect="does not exist")
    # runc: --force of a missing container succeeds, removing what an aborted create left.
    ghost = h.new_id("ghost")
    os.makedirs(os.path.join(h.root, ghost))
    h.rt_ok("delete", "--force", ghost)
    check(not os.path.exists(os.path.join(h.root, ghost)), "the leftover directory is gone")
    b = h.bundle(["/bin/sleep", "300"])  # ignores SIGTERM as PID 1: --force must use SIGKILL
    cid = h.new_id("delrun")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    pid = h.wait_status(cid, "running")["pid"]
    h.rt_fail("delete", cid)
    check_eq(h.state(cid)["status"], "running", "status after refused delete")
    check(pid_alive(pid), "process must survive a refused delete")
    h.rt_ok("delete", "--force", cid, timeout=30)
    check(wait_until(lambda: not pid_alive(pid), 10), f"pid {pid} alive after delete --force")
    _assert_gone(h, cid)


def test_delete_created(h):
    """A created (never started) container can be force-deleted; its process goes away."""
    b = h.bundle(SLEEP)
    cid = h.create(b)
    pid = h.state(cid)["pid"]
    h.rt_ok("delete", "--force", cid)
    check(wait_until(lambda: not pid_alive(pid), 10), "created process alive after delete")
    _assert_gone(h, cid)


def test_bundle_path_is_cleaned(h):
    """state's bundle and rootfs as runc has them (Go's filepath.Abs): "../b" and "//b/"
    from a working directory are the same clean path."""
    b = h.bundle(SLEEP)
    b.save()
    parent, name = os.path.split(b.path)
    work = h.mkdtemp("cwd")
    for given, cwd in ((os.path.join("..", os.path.relpath(b.path, os.path.dirname(work))), work),
                       (parent + "//" + name + "/", None)):
        cid = h.new_id("clean")
        r = h.rt("create", "--bundle", given, cid, cwd=cwd)
        check_eq(r.rc, 0, f"create --bundle {given}\n{r!r}")
        st = h.state(cid)
        check_eq((st["bundle"], st["rootfs"]), (b.path, b.path + "/rootfs"), f"--bundle {given}")
        h.rt_ok("delete", "--force", cid)


def test_kill_created(h):
    """A created container dies of a signal as runc's does (PID 1 of its pid namespace, it
    would otherwise ignore all but SIGKILL): podman stop of a created container waited
    its whole timeout.  One started later runs with the signals' defaults."""
    for sig in ("TERM", "INT", "HUP", "QUIT", "SEGV", "BUS", "FPE"):
        cid = h.create(h.bundle(SLEEP))
        pid = h.state(cid)["pid"]
        h.rt_ok("kill", cid, sig)
        h.wait_status(cid, "stopped")
        check(wait_until(lambda: not pid_alive(pid), 5), f"created process alive after kill {sig}")
        h.rt_ok("delete", cid)
    # The others runc's init (Go's runtime) takes without effect: still created, and it starts.
    cid = h.create(h.bundle(["/probe", "exit", "0"]))
    for sig in ("USR1", "USR2", "ALRM", "PIPE", "34"):
        h.rt_ok("kill", cid, sig)
    time.sleep(0.3)
    check_eq(h.state(cid)["status"], "created", "USR1, USR2, ALRM, PIPE, 34: still created")
    h.rt_ok("start", cid)
    h.wait_status(cid, "stopped")
    h.rt_ok("delete", cid)
    # Right after create returns (the init may not have its handlers yet: held, not lost).
    for _ in range(5):
        cid = h.create(h.bundle(SLEEP))
        h.rt_ok("kill", cid, "TERM")
        h.wait_status(cid, "stopped")
        h.rt_ok("delete", cid)
    b = h.bundle(["/bin/sleep", "300"])  # busybox sleep as PID 1 has no handlers
    cid = h.create(b)
    h.rt_ok("start", cid)
    pid = h.wait_status(cid, "running")["pid"]

    def comm():
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    check(wait_until(lambda: comm() == "sleep", 5), "started: sleep runs")  # start returns before the exec
    with open(f"/proc/{pid}/status") as f:
        caught = next(l.split()[1] for l in f if l.startswith("SigCgt:"))
    check_eq(int(caught, 16), 0, "the started process has no handler of ours")
    h.rt_ok("kill", cid, "TERM")  # ignored by a PID 1 without a handler, as with runc
    time.sleep(0.2)
    check_eq(h.state(cid)["status"], "running", "still running after TERM")
    h.rt_ok("delete", "--force", cid)


def test_list(h):
    check_eq(h.rt_ok("list", "-q").out.strip(), "", "list -q with no containers")
    empty = h.rt_ok("list", "--format", "json").json()
    check(empty in ([], None), f"list --format json with no containers: {empty!r}")

    b1, b2 = h.bundle(SLEEP), h.bundle(SLEEP)
    c1 = h.create(b1, h.new_id("lista"))
    c2 = h.new_id("listb")
    h.rt_ok("run", "--detach", "--bundle", b2.path, c2)
    h.wait_status(c2, "running")

    q = h.rt_ok("list", "-q").out.split()
    check_eq(sorted(q), sorted([c1, c2]), "list -q")

    table = h.rt_ok("list").out.splitlines()
    header = table[0].split()
    for col in ("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"):
        check_in(col, header, "list table header")
    rows = {line.split()[0]: line.split() for line in table[1:] if line.strip()}
    check_eq(sorted(rows), sorted([c1, c2]), "list table ids")
    check_eq(rows[c1][2], "created", "table status of c1")
    check_eq(rows[c2][2], "running", "table status of c2")
    check_eq(rows[c1][1], str(h.state(c1)["pid"]), "table pid of c1")
    check_in(os.path.realpath(b2.path), [os.path.realpath(x) for x in rows[c2]], "table bundle")
    # runc's tabwriter layout: each column its widest cell and 3 spaces, at least 12.
    cells = [line.split() for line in table]
    widths = [max(max(len(r[i]) for r in cells) + 3, 12) for i in range(5)]
    check_eq(table, ["".join(c.ljust(w) for c, w in zip(r, widths)) + r[5] for r in cells], "the table laid out as runc's")

    js = h.rt_ok("list", "--format", "json").json()
    check(isinstance(js, list) and len(js) == 2, f"list json: {js!r}")
    by_id = {e["id"]: e for e in js}
    check_eq(sorted(by_id), sorted([c1, c2]), "list json ids")
    for key in ("id", "pid", "status", "bundle", "created", "owner"):
        check_in(key, by_id[c1], "list json keys")
    check_eq(by_id[c1]["status"], "created", "json status c1")
    check_eq(by_id[c2]["status"], "running", "json status c2")
    check_eq(os.path.realpath(by_id[c2]["bundle"]), os.path.realpath(b2.path), "json bundle c2")
    h.rt_ok("delete", "--force", c1)
    h.rt_ok("delete", "--force", c2)
    check_eq(h.rt_ok("list", "-q").out.strip(), "", "list -q after deleting everything")


def test_list_many_from_the_index(h):
    """More containers than list looks up one by one (16): stopped ones are told
    by one read of /proc, and the index (@containers.tsv) follows creates and
    deletes, also those made while it is missing."""
    stopped_bundle, sleeping = h.bundle(["/probe", "exit", "0"]), h.bundle(SLEEP)
    stopped = [h.new_id("many") for _ in range(18)]
    for cid in stopped:
        h.rt_ok("run", "--detach", "--bundle", stopped_bundle.path, cid)
    created = h.create(sleeping, h.new_id("manyc"))
    for cid in stopped:
        h.wait_status(cid, "stopped")

    def rows():
        table = h.rt_ok("list").out.splitlines()[1:]
        return {line.split()[0]: line.split()[1:3] for line in table}

    got = rows()
    want = {cid: ["0", "stopped"] for cid in stopped}
    want[created] = [str(h.state(created)["pid"]), "created"]
    check_eq(got, want, "list of 19 containers")
    check(os.path.isfile(os.path.join(h.root, "@containers.tsv")), "the index is written")
    js = {e["id"]: e for e in h.rt_ok("list", "--format", "json").json()}
    check_eq(sorted(js), sorted(want), "list --format json ids")
    check_eq((js[created]["status"], js[created]["pid"]), ("created", h.state(created)["pid"]), "json: created")
    check_eq((js[stopped[0]]["status"], js[stopped[0]]["pid"]), ("stopped", 0), "json: stopped")
    check_eq(js[stopped[0]]["bundle"], h.state(stopped[0])["bundle"], "json: bundle")

    # The exits the monitors recorded are in the index ("x" lines, written by the
    # rebuild above from their exit files, then appended by each monitor): those
    # rows are stopped without a look at /proc.
    def index_kinds():
        with open(os.path.join(h.root, "@containers.tsv")) as f:
            return {line.split("\t")[1]: line[0] for line in f.read().splitlines()[1:]}  # the last line wins
    kinds = index_kinds()
    check_eq({cid: kinds.get(cid) for cid in stopped}, {cid: "x" for cid in stopped}, "stopped containers in the index")
    check_eq(kinds.get(created), "+", "the created container in the index")
    later = h.new_id("many")
    h.rt_ok("run", "--detach", "--bundle", stopped_bundle.path, later)
    h.wait_status(later, "stopped")
    check(wait_until(lambda: index_kinds().get(later) == "x"), "an exit appended by the monitor")
    want[later] = ["0", "stopped"]
    check_eq(rows(), want, "list with the exits in the index")

    # Changes reach the index; without it they are found in the directories.
    h.rt_ok("delete", stopped[0])
    h.rt_ok("start", created)
    h.wait_status(created, "running")
    del want[stopped[0]]
    want[created][1] = "running"
    check_eq(rows(), want, "list after a delete and a start")
    os.unlink(os.path.join(h.root, "@containers.tsv"))
    h.rt_ok("delete", stopped[1])
    del want[stopped[1]]
    check_eq(rows(), want, "list after a delete without the index")
    for cid in stopped[2:] + [created, later]:
        h.rt_ok("delete", "--force", cid)
    check_eq(h.rt_ok("list", "-q").out.strip(), "", "list -q after deleting everything")


def test_pid_file(h):
    b = h.bundle(SLEEP)
    cid = h.new_id("pidf")
    pid_file = os.path.join(b.path, "init.pid")
    h.rt_ok("create", "--bundle", b.path, "--pid-file", pid_file, cid)
    with open(pid_file) as f:
        text = f.read()
    check(re.fullmatch(r"\d+\n?", text), f"pid file content {text!r}")
    check_eq(int(text), h.state(cid)["pid"], "pid file vs state pid")
    h.rt_ok("delete", "--force", cid)

    # Relative --pid-file is relative to the caller's cwd; run --detach writes it too.
    cid = h.new_id("pidr")
    h.rt_ok("run", "--detach", "--bundle", b.path, "--pid-file", "rel.pid", cid, cwd=b.path)
    with open(os.path.join(b.path, "rel.pid")) as f:
        check_eq(int(f.read()), h.state(cid)["pid"], "relative pid file of run --detach")
    h.rt_ok("delete", "--force", cid)


def _parse_rfc3339(s):
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", s)
    check(m, f"created is not RFC 3339: {s!r}")
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    tz = datetime.timezone.utc if m.group(3) == "Z" else datetime.datetime.strptime(
        m.group(3).replace(":", ""), "%z").tzinfo
    return base.replace(tzinfo=tz)


def test_state_json(h):
    b = h.bundle(SLEEP)
    b.config["annotations"] = {"org.example.test": "crun-lite", "empty": ""}
    cid = h.create(b)
    st = h.state(cid)
    for key in ("ociVersion", "id", "status", "pid", "bundle", "created", "owner"):
        check_in(key, st, "state keys")
    check(re.match(r"1\.\d+\.\d+", st["ociVersion"]), f"ociVersion {st['ociVersion']!r}")
    check(os.path.isabs(st["bundle"]), "bundle must be absolute")
    created = _parse_rfc3339(st["created"])
    now = datetime.datetime.now(datetime.timezone.utc)
    check(abs((now - created).total_seconds()) < 300, f"created {st['created']} is not recent")
    check_eq(st.get("annotations"), b.config["annotations"], "annotations in state")
    check(isinstance(st["owner"], str), "owner is a string")

    b2 = h.bundle(SLEEP)
    cid2 = h.create(b2)
    check(not h.state(cid2).get("annotations"), "no annotations when the config has none")


def test_relative_bundle_and_cwd(h):
    """--bundle relative to the caller's cwd; state reports it absolute. run defaults to cwd."""
    b = h.bundle(SLEEP)
    parent, name = os.path.split(b.path)
    cid = h.new_id("relb")
    h.rt_ok("create", "--bundle", name, cid, cwd=parent)
    check_eq(os.path.realpath(h.state(cid)["bundle"]), os.path.realpath(b.path), "bundle")
    h.rt_ok("delete", "--force", cid)

    b.set_args("/probe", "exit", "4").save()
    r = h.rt("run", h.new_id("cwdb"), cwd=b.path)
    check_eq(r.rc, 4, "run without --bundle uses the current directory")


def test_init_born_in_its_namespaces(h):
    """An init that joins nothing by path (and needs no time namespace, idmapped
    mount, oom_score_adj or id map written for it) is born in its namespaces:
    one clone3 with their flags, no unshare and no stage-1.  With a time
    namespace (its offsets are written before anyone is in it) the two stages
    remain: unshare, then a clone into the new pid namespace."""
    if not shutil.which("strace"):
        skip("strace is not installed (Debian: strace)")
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:  # the sanitizer pass: LeakSanitizer does not work under ptrace
        env["ASAN_OPTIONS"] += ":detect_leaks=0"

    def traced_run(b):
        trace = os.path.join(h.tmp, "trace")
        r = h.cmd(["strace", "-f", "-qq", "-e", "trace=clone,clone3,fork,vfork,unshare", "-o", trace] +
                  h.rt_argv("run", "--bundle", b.path, h.new_id("born")), timeout=60, env=env)
        check_eq((r.rc, r.out), (0, "ran\n"), f"run under strace\n{r!r}")
        return open(trace).read().splitlines()

    b = h.bundle(["echo", "ran"])
    calls = traced_run(b)
    born = [c for c in calls if "clone3(" in c and "CLONE_NEWPID" in c]
    check_eq(len(born), 1, f"one clone3 into the namespaces: {calls}")
    for flag in ("CLONE_NEWNS", "CLONE_NEWIPC", "CLONE_NEWUTS") + (("CLONE_NEWUSER",) if h.rootless else ()):
        check_in(flag, born[0], "the init's namespaces")
    check_eq([c for c in calls if "unshare(" in c], [], "nothing unshared")
    if not os.path.exists("/proc/self/ns/time"):
        return
    b.set_namespace("time")
    b.linux["timeOffsets"] = {"monotonic": {"secs": 60}}
    b.save()
    calls = traced_run(b)
    check(any("unshare(" in c and "CLONE_NEWTIME" in c for c in calls), f"a time namespace is unshared: {calls}")
    check_eq([c for c in calls if "clone3(" in c and "CLONE_NEWPID" in c], [], "no init born in it")


def test_version(h):
    r = h.rt_ok("--version", root=False)
    lines = r.out.splitlines()
    check(len(lines) >= 3, f"--version output: {r.out!r}")
    check(re.match(r"^\S+ version \S+", lines[0]), f"first line {lines[0]!r}")
    check(any(l.startswith("commit: ") for l in lines), "a `commit: ` line")
    # A build of this checkout names its HEAD (asked of git at build time, not at configure).
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    built = os.path.realpath(os.environ.get("CRUNLITE_BIN", ""))
    head = subprocess.run(["git", "-C", repo, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0 and built.startswith(repo + os.sep):
        check_in(f"commit: {head.stdout.strip()}", lines, "the commit built")
    check(any(re.match(r"^spec: 1\.\d+\.\d+", l) for l in lines), "a `spec: 1.x.y` line")


def test_features(h):
    f = h.rt_ok("features", root=False).json()
    for key in ("ociVersionMin", "ociVersionMax", "mountOptions"):
        check_in(key, f, "features keys")
    check(re.match(r"1\.\d+\.\d+", f["ociVersionMin"]), "ociVersionMin")
    check(re.match(r"1\.\d+\.\d+", f["ociVersionMax"]), "ociVersionMax")
    for opt in ("ro", "nosuid", "nodev", "noexec", "bind", "rbind", "rprivate"):
        check_in(opt, f["mountOptions"], "mountOptions")
    ns = f.get("linux", {}).get("namespaces")
    check(isinstance(ns, list), f"linux.namespaces: {ns!r}")
    for n in ("pid", "network", "ipc", "uts", "mount", "user"):
        check_in(n, ns, "linux.namespaces")


def _check_failed_start(h, b, expect, verbs=("run",)):
    """Start a broken bundle; require an error naming `expect` and no trace left behind."""
    for verb in verbs:
        cid = h.new_id("broken")
        mounts_before = harness.read_mountinfo()
        r = h.rt(verb, "--bundle", b.path, cid, timeout=30)
        check(r.rc != 0, f"{verb} of a broken bundle succeeded\n{r!r}")
        text = (r.err + r.out).lower()
        check(any(e.lower() in text for e in expect),
              f"{verb}: error message lacks any of {expect}\n{r!r}")
        check(_state_dir_gone(h, cid), f"{verb}: state dir {h.root}/{cid} left behind")
        check(cid not in h.container_ids(), f"{verb}: {cid} still listed")
        h.rt_fail("state", cid, expect="does not exist")
        stray = wait_until(lambda: not (harness.reap() or harness.descendants()), 5)
        check(stray is True, f"{verb}: processes left: "
              f"{[(p, harness.proc_cmdline(p)) for p in harness.descendants()]}")
        new = {m for m in harness.read_mountinfo() - mounts_before
               if b.path in m[0] or b.path in m[2] or h.tmp in m[0]}
        check(not new, f"{verb}: mounts left: {sorted(new)}")
        # Nothing on the host runs a file of this bundle.
        for pid in harness._all_pids():
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                continue
            check(not exe.startswith(b.path), f"{verb}: pid {pid} runs {exe}")


def test_failed_start_not_found(h):
    b = h.bundle(["no-such-command-crlt"])
    _check_failed_start(h, b, ["executable file not found in $PATH"], verbs=("run", "create"))
    b = h.bundle(["/no/such/file"])
    _check_failed_start(h, b, ["no such file or directory"], verbs=("run", "create"))


def test_exec_failure_after_start_reaches_stderr(h):
    """A process that cannot be exec'd once started (create, then start: no runtime is
    left to tell) says why on its own stderr, as runc's init does: containerd's log
    of the container shows it (before, nothing did)."""
    b = h.bundle(["/noshebang"])
    script = os.path.join(b.rootfs, "noshebang")
    with open(script, "w") as f:
        f.write("echo hi\n")
    os.chmod(script, 0o755)
    cid = h.new_id("nx")
    err = os.path.join(h.mkdtemp("stdio"), "stderr")
    with open(err, "wb") as f:
        r = subprocess.run(h.rt_argv("create", "--bundle", b.path, cid), stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                           timeout=60)
    check_eq(r.returncode, 0, "create")
    h.rt_ok("start", cid)
    h.wait_status(cid, "stopped")
    said = "crun-lite: exec `/noshebang`: exec format error"
    check(wait_until(lambda: said in open(err).read(), 5), f"the reason on the process's stderr: {open(err).read()!r}")
    h.rt_ok("delete", cid)


def test_failed_start_bad_cwd(h):
    b = h.bundle(["/probe", "report"])
    b.process["cwd"] = "/probe/not-a-dir"  # /probe is a file: the cwd can be neither made nor entered
    b.save()
    _check_failed_start(h, b, ["not a directory", "cwd", "chdir"])


def test_failed_start_bad_mount(h):
    b = h.bundle(["/probe", "report"])
    b.add_mount("/mnt/missing", "bind", os.path.join(b.path, "does-not-exist"), ["bind"])
    b.save()
    _check_failed_start(h, b, ["no such file or directory"])
    b = h.bundle(["/probe", "report"])
    b.add_mount("/mnt/x", "nosuchfs-crlt", "none", [])
    b.save()
    _check_failed_start(h, b, ["no such device", "nosuchfs-crlt", "unknown filesystem"])


def test_bad_config(h):
    b = h.bundle()
    with open(os.path.join(b.path, "config.json"), "w") as f:
        f.write("{ this is not json")
    r = h.rt_fail("run", "--bundle", b.path, h.new_id("badjson"))
    check(r.err.strip() or r.out.strip(), "an error message for invalid JSON")
    h.rt_fail("run", "--bundle", os.path.join(h.tmp, "no-such-bundle"), h.new_id("nobundle"),
              expect="no such file or directory")


def test_default_root(h):
    """Without --root the state goes to /run/NAME (root) or $XDG_RUNTIME_DIR/NAME (rootless)."""
    name = "crun-lite" if not (h.is_runc or h.is_crun) else h.bin_name
    if h.rootless:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if not xdg:
            skip("XDG_RUNTIME_DIR is not set")
        base = os.path.join(xdg, name)
    else:
        base = os.path.join("/run", name)
    b = h.bundle(SLEEP)
    cid = h.new_id("defroot")
    try:
        h.rt_ok("create", "--bundle", b.path, cid, root=False)
        check(os.path.isdir(os.path.join(base, cid)), f"{base}/{cid} missing")
        check(not os.path.exists(os.path.join(h.root, cid)), "state must not be in the test root")
        check_eq(h.rt_ok("state", cid, root=False).json()["status"], "created", "state")
    finally:
        h.rt("delete", "--force", cid, root=False)
    check(not os.path.exists(os.path.join(base, cid)), f"{base}/{cid} left after delete")


def test_kill_all(h):
    b = h.bundle(["/bin/sh", "-c", "/probe sleep 300 & /probe sleep 300 & wait"])
    cid = h.new_id("killall")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    pid = h.wait_status(cid, "running")["pid"]
    kids = wait_until(lambda: len(harness.children_of(pid)) >= 2 and harness.children_of(pid), 5)
    check(kids, "container init did not fork its two children")
    r = h.rt("kill", "--all", cid, "KILL")
    if r.rc != 0 and h.rootless and h.is_runc:
        skip(f"runc cannot kill --all without cgroups when rootless: {r.err.strip()[-200:]}")
    check(r.rc == 0, f"kill --all failed\n{r!r}")
    check(wait_until(lambda: not any(pid_alive(p) for p in kids + [pid]), 10),
          "processes alive after kill --all")
    h.wait_status(cid, "stopped")
    h.rt_ok("delete", cid)


def test_log_json(h):
    """--log FILE --log-format json: errors are written as JSON lines with level and msg."""
    log_path = os.path.join(h.tmp, f"log-{os.getpid()}.json")
    r = h.rt("state", h.new_id("ghost"), global_args=("--log", log_path, "--log-format", "json"))
    check(r.rc != 0, "state of a missing container must fail")
    with open(log_path) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    check(lines, "log file is empty")
    check(any("does not exist" in l.get("msg", "") and l.get("level") == "error" for l in lines),
          f"no error entry in {lines}")
    # On stderr too, bare as runc's: podman says "crun-lite: " + this itself.
    check_eq(r.err, lines[-1]["msg"] + "\n", "the error on stderr")
    os.unlink(log_path)


def test_lifecycle_cycles_leak_nothing(h):
    """200 create/start/kill/delete cycles: our fds, the mounts we see, cgroup
    directories, state and processes are as before.  (20 in contrib/test.sh's
    sanitizer pass, where each of the 800 runtime processes ends in a leak check:
    200 took 2.5 minutes of CI per mode there.)"""
    cycles = 20 if os.environ.get("ASAN_OPTIONS") else 200
    b = h.bundle(["sleep", "30"])
    h.rt_ok("list")  # the state root exists before the first count
    before = harness.footprint(h)
    for i in range(cycles):
        cid = h.create(b, cid=h.new_id("cycle"))
        h.rt_ok("start", cid)
        h.rt_ok("kill", cid, "KILL")
        h.wait_status(cid, "stopped")
        h.rt_ok("delete", cid)
    check(wait_until(lambda: harness.footprint(h) == before, 10),
          f"after {cycles} cycles: {harness.footprint(h)}, before: {before}")


if __name__ == "__main__":
    harness.main(globals())
