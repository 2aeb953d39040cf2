#!/usr/bin/env python3
"""Killed at any point, nothing leaks: `create`, `run -d`, `exec`, the monitor,
`run -d --image` and `image load` are SIGKILLed at many points of their work
(every 0.5 ms for the first 20 ms, then every 5 ms up to 300 ms; with
CRUNLITE_KILL_EVERY=N, every Nth of those), then
`delete --force` / `image prune` runs, and no process, mount, cgroup directory,
state entry or store work directory may be left; `image ls` and a new load
must still work.  Root and rootless."""

import os
import signal
import subprocess
import time

import harness
from harness import check, check_eq, check_in, wait_until

POINTS_MS = [i * 0.5 for i in range(40)] + list(range(20, 300, 5))
# CRUNLITE_KILL_EVERY=N keeps every Nth point (contrib/test.sh's sanitizer pass:
# an instrumented build is slower, and the cleanups are what it checks there).
POINTS_MS = POINTS_MS[::max(1, int(os.environ.get("CRUNLITE_KILL_EVERY", "1")))]


def _kill_tree(p, only_runtime=False):
    """SIGKILL the process p and (with only_runtime) every crun-lite process
    below it, or (without) nothing else: whatever it started lives on."""
    victims = [p.pid]
    if only_runtime:
        victims += [q for q in harness.descendants(p.pid)
                    if "crun-lite" in os.path.basename((harness.proc_cmdline(q) or [""])[0])]
    for q in victims:
        try:
            os.kill(q, signal.SIGKILL)
        except OSError:
            pass
    p.wait()
    # SIGKILL is delivered, not done: a victim keeps its fds (and the flock of a
    # container directory it holds) until it has exited.
    check(wait_until(lambda: not any(harness.pid_alive(q) for q in victims), 5), "the killed processes exit")


def _kill_at_points(h, argv_for, cleanup, store=None, only_runtime=False, extra_check=None):
    """For each point: start argv_for(cid), SIGKILL it after the delay, run
    cleanup(cid); the footprint (harness.footprint) must be as before.
    Returns how many runs were killed before they finished."""
    h.rt_ok("list")  # the state root exists before the first count
    before = harness.footprint(h, store)
    # Left alone, the command works (so the kills below interrupt real work).
    cid = h.new_id("k")
    r = h.cmd(argv_for(cid))
    check_eq(r.rc, 0, f"the command, not killed\n{r!r}")
    cleanup(cid)
    killed_early = again = 0
    for delay in POINTS_MS:
        cid = h.new_id("k")
        p = subprocess.Popen(argv_for(cid), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay / 1000)
        killed_early += p.poll() is None
        _kill_tree(p, only_runtime)
        cleanup(cid)
        if not wait_until(lambda: harness.footprint(h, store) == before, 2):
            # A child forked after the kill's snapshot dies of its parent-death
            # signal a moment later, and held what the cleanup had to leave: once
            # it is gone, the cleanup a user would run again must remove it all.
            again += 1
            cleanup(cid)
        check(wait_until(lambda: harness.footprint(h, store) == before, 10),
              f"killed after {delay} ms, then cleaned up: {harness.footprint(h, store)}, before: {before}")
        if extra_check:
            extra_check(delay)
    harness.log(f"    {len(POINTS_MS)} kills, {killed_early} before the command finished, "
                f"{again} cleaned up twice")
    check(killed_early > 0, "no kill landed before the command finished")
    return killed_early


def test_killed_create(h):
    """The cgroups `create` makes are recorded before they exist (cgroups.json),
    and an init whose state was never recorded exits with its create."""
    b = h.bundle(["sleep", "30"])
    _kill_at_points(h, lambda cid: h.rt_argv("create", "--bundle", b.path, cid),
                    lambda cid: h.rt("delete", "--force", cid))


def test_killed_run_detached(h):
    """Until the container has started, the monitor dies with `run -d`."""
    b = h.bundle(["sleep", "30"])
    _kill_at_points(h, lambda cid: h.rt_argv("run", "-d", "--bundle", b.path, cid),
                    lambda cid: h.rt("delete", "--force", cid))


def test_killed_monitor(h):
    """`run -d` and its monitor (and whatever stage of the runtime is running)
    killed together; then the monitor alone, once the container runs: the
    container lives on, `state` tells the truth, `delete --force` removes it."""
    b = h.bundle(["sleep", "30"])
    _kill_at_points(h, lambda cid: h.rt_argv("run", "-d", "--bundle", b.path, cid),
                    lambda cid: h.rt("delete", "--force", cid), only_runtime=True)
    cid = h.new_id("mon")
    h.rt_ok("run", "-d", "--bundle", b.path, cid)
    # (Not the container's init, which may still be the runtime's binary until it execs.)
    monitors = [q for q in harness.descendants()
                if os.path.basename((harness.proc_cmdline(q) or [""])[0]) == "crun-lite-monitor"]
    check_eq(len(monitors), 1, f"one monitor: {[(q, harness.proc_cmdline(q)) for q in monitors]}")
    os.kill(monitors[0], signal.SIGKILL)
    check(wait_until(lambda: not harness.pid_alive(monitors[0]), 5), "monitor gone")
    check_eq(h.state(cid)["status"], "running", "the container outlives its monitor")
    h.rt_ok("delete", "--force", cid)
    check(not os.path.exists(os.path.join(h.root, cid)), "state removed")


def test_killed_exec(h):
    """A killed `exec` leaves no runtime process; what it started belongs to
    the container and goes with `delete --force`."""
    b = h.bundle(["sleep", "300"])
    cid = h.new_id("ex")
    h.rt_ok("list")  # the state root exists before the first count
    before = harness.footprint(h)
    h.rt_ok("run", "-d", "--bundle", b.path, cid)

    def no_runtime_left(delay):
        left = lambda: [q for q in harness.descendants()  # noqa: E731
                        if "crun-lite" in os.path.basename((harness.proc_cmdline(q) or [""])[0])
                        and q not in monitor]
        check(wait_until(lambda: not left(), 5), f"exec killed after {delay} ms left {left()}")

    monitor = harness.descendants()
    for delay in POINTS_MS:
        p = subprocess.Popen(h.rt_argv("exec", cid, "sleep", "100"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay / 1000)
        _kill_tree(p)
        no_runtime_left(delay)
    check_eq(h.state(cid)["status"], "running", "the container lives on")
    check_eq(h.rt("exec", cid, "true").rc, 0, "exec still works")
    # The processes of the killed execs were orphaned to us (a subreaper): the
    # pid namespace's init cannot finish dying until they are reaped, so reap
    # while delete --force waits for it, as a shim or conmon does.
    p = h.spawn(h.rt_argv("delete", "--force", cid))
    while p.poll() is None:
        harness.reap()
        time.sleep(0.01)
    check_eq(h.finish(p).rc, 0, "delete --force")
    check(wait_until(lambda: harness.footprint(h) == before, 10),
          f"after delete --force: {harness.footprint(h)}, before the container: {before}")


def test_interrupted_create(h):
    """SIGTERM, SIGINT or SIGHUP while `create`, `run` or `run -d` waits for a
    hook (the runtime's createRuntime, or the init's createContainer) undoes
    the create as any failure does: the hook's processes, the init, cgroups and
    state go.  The error names the signal, the runtime ends by it, and the id
    can be created again."""
    marks = h.mkdtemp("marks")
    os.chmod(marks, 0o777)  # the createContainer hook runs as the container's root
    h.rt_ok("list")  # the state root exists before the first count
    before = harness.footprint(h)
    for kind in ("createRuntime", "createContainer"):
        for verb, sig in ((["create"], signal.SIGTERM), (["run"], signal.SIGINT), (["run", "-d"], signal.SIGHUP)):
            what = f"{' '.join(verb)} interrupted by {sig.name} in a {kind} hook"
            mark = os.path.join(marks, f"{kind}-{sig.name}")
            b = h.bundle(["sleep", "30"])
            b.config["hooks"] = {kind: [{"path": "/bin/sh", "args": ["sh", "-c", f"touch {mark}; exec sleep 30"]}]}
            b.save()
            cid = h.new_id("int")
            p = h.spawn(h.rt_argv(*verb, "--bundle", b.path, cid))
            check(wait_until(lambda: os.path.exists(mark), 10), f"{what}: the hook ran")
            p.send_signal(sig)
            r = h.finish(p, timeout=10)
            check_eq(r.rc, -sig, f"{what}: ended by the signal\n{r!r}")
            if verb != ["run", "-d"]:  # its monitor is the one interrupted (by its parent's death)
                check_in(f"interrupted by {sig.name}", r.err, what)
            check(wait_until(lambda: harness.footprint(h) == before, 10),
                  f"{what}: {harness.footprint(h)}, before: {before}")
            b.config["hooks"] = {}
            b.save()
            h.rt_ok("create", "--bundle", b.path, cid)
            h.rt_ok("delete", "--force", cid)


def _image_archive(h):
    path = os.path.join(h.mkdtemp("img"), "app.tar")
    big = [(f"data/f{i}", "x" * (256 << 10)) for i in range(24)]

    def data(t):
        import io
        import tarfile
        ti = tarfile.TarInfo("data")
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        t.addfile(ti)
        for name, content in big:
            ti = tarfile.TarInfo(name)
            raw = content.encode()
            ti.size, ti.mode = len(raw), 0o644
            t.addfile(ti, io.BytesIO(raw))
    harness.make_docker_archive(h, path, "example/killed:1", layers=[harness.busybox_layer(h), data],
                                config={"Cmd": ["sleep", "30"]})
    os.chmod(os.path.dirname(path), 0o755)
    return path


def _store(h):
    return os.path.join(h.mkdtemp("store"), "s")


def _image_works(h, store, archive):
    r = h.rt("image", "ls", "--store", store, root=False)
    check_eq(r.rc, 0, f"image ls after the kills\n{r!r}")
    r = h.rt("image", "load", "--store", store, archive, root=False)
    check_eq(r.rc, 0, f"a new load after the kills\n{r!r}")
    for layer in os.listdir(os.path.join(store, "layers")):
        check(os.path.exists(os.path.join(store, "layers", layer, "layer.json")), f"layer {layer} is whole")


def test_killed_run_image(h):
    """`run -d --image` of an archive: import, overlay, monitor, all killed."""
    archive, store = _image_archive(h), _store(h)

    def cleanup(cid):
        h.rt("delete", "--force", cid)
        h.rt("image", "prune", "--store", store, root=False)
    _kill_at_points(h, lambda cid: h.rt_argv("run", "-d", "--image", "docker-archive:" + archive, "--store", store,
                                             "--network", "none", "--name", cid),
                    cleanup, store=store, only_runtime=True)
    _image_works(h, store, archive)


def test_killed_image_load(h):
    """A killed load keeps only whole layers; prune removes its work."""
    archive, store = _image_archive(h), _store(h)
    _kill_at_points(h, lambda cid: h.rt_argv("image", "load", "--store", store, archive, root=False),
                    lambda cid: h.rt("image", "prune", "--store", store, root=False), store=store)
    _image_works(h, store, archive)


if __name__ == "__main__":
    harness.main(globals())
