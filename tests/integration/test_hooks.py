#!/usr/bin/env python3
"""OCI hooks: each runs at its point of the lifecycle, in the right namespace, with
the container state on stdin; failures and timeouts fail the step (poststart and
poststop only warn) and leave nothing behind."""

import json
import os
import sys

import harness
from harness import check, check_eq, check_in

HOST_SH = "/bin/sh"


def _recorder(log_dir, kind, extra=""):
    """A hook that stores its stdin and facts about itself under log_dir."""
    script = (f'cat > "{log_dir}/{kind}.json"; echo {kind} >> "{log_dir}/order"; '
              f'readlink /proc/self/ns/mnt > "{log_dir}/{kind}.mnt"; '
              f'env > "{log_dir}/{kind}.env"; {extra}')
    return {"path": HOST_SH, "args": ["sh", "-c", script], "env": ["HOOK_KIND=" + kind]}


def _hooked_bundle(h, log_dir):
    b = h.bundle(["/probe", "sleep", "30"])
    b.config["annotations"] = {"org.example.hooks": "yes"}
    b.config["hooks"] = {k: [_recorder(log_dir, k)] for k in
                         ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}
    # startContainer runs inside the container: its path and files are the container's.
    b.config["hooks"]["startContainer"] = [{
        "path": "/bin/sh",
        "args": ["sh", "-c", "cat > /tmp/startContainer.json; readlink /proc/self/ns/mnt > /tmp/sc.mnt"]}]
    b.save()
    return b


def test_every_hook_runs_at_its_point(h):
    log_dir = h.mkdtemp("hooks")
    os.chmod(log_dir, 0o777)
    b = _hooked_bundle(h, log_dir)
    cid = h.create(b)
    init = h.state(cid)["pid"]
    order = open(f"{log_dir}/order").read().split()
    check_eq(order, ["prestart", "createRuntime", "createContainer"], "hooks run by create")
    for kind in ("prestart", "createRuntime", "createContainer"):
        st = json.load(open(f"{log_dir}/{kind}.json"))
        check_eq((st["id"], st["pid"], st["status"]), (cid, init, "creating"), f"{kind} state")
        check_eq(st["bundle"], b.path, f"{kind} state bundle")
        check_eq(st["annotations"], {"org.example.hooks": "yes"}, f"{kind} annotations")
    env = open(f"{log_dir}/createRuntime.env").read().split("\n")
    check_in("HOOK_KIND=createRuntime", env, "hook env")
    check(not any(e.startswith("HOME=") for e in env), f"the runtime's environment leaked: {env}")

    h.rt_ok("start", cid)
    # (The init's /proc/<pid>/ns is readable once it has exec'd: before, it is non-dumpable.)
    host_mnt = os.readlink("/proc/self/ns/mnt")
    def init_mnt():
        try:
            return os.readlink(f"/proc/{init}/ns/mnt")
        except PermissionError:
            return None
    ctr_mnt = harness.wait_until(init_mnt, 10)
    for kind in ("prestart", "createRuntime"):
        check_eq(open(f"{log_dir}/{kind}.mnt").read().strip(), host_mnt, f"{kind} in the runtime namespace")
    check_eq(open(f"{log_dir}/createContainer.mnt").read().strip(), ctr_mnt,
             "createContainer in the container's mount namespace")
    order = open(f"{log_dir}/order").read().split()
    check_eq(order[-1], "poststart", "poststart runs by start")
    st = json.load(open(f"{log_dir}/poststart.json"))
    check_eq((st["status"], st["pid"]), ("running", init), "poststart state")
    sc = os.path.join(b.path, "rootfs", "tmp", "startContainer.json")
    check(wait_for_file(sc), "startContainer ran inside the container")
    check_eq(json.load(open(sc))["status"], "created", "startContainer state")
    check_eq(open(os.path.join(b.path, "rootfs", "tmp", "sc.mnt")).read().strip(), ctr_mnt,
             "startContainer in the container's mount namespace")

    h.rt_ok("delete", "--force", cid)
    order = open(f"{log_dir}/order").read().split()
    check_eq(order, ["prestart", "createRuntime", "createContainer", "poststart", "poststop"],
             "every hook once, in order")
    check_eq(json.load(open(f"{log_dir}/poststop.json"))["status"], "stopped", "poststop state")


def test_hooks_are_those_of_create(h):
    """runtime-spec: changes to config.json after create do not affect the container: start
    and delete run the poststart and poststop hooks it had then, even with config.json
    rewritten or gone.  A hook without env gets the runtime's environment (runc's)."""
    log_dir = h.mkdtemp("hooks")
    os.chmod(log_dir, 0o777)
    b = h.bundle(["/probe", "sleep", "30"])
    b.config["hooks"] = {k: [_recorder(log_dir, k)] for k in ("poststart", "poststop")}
    plain = _recorder(log_dir, "prestart")
    del plain["env"]
    b.config["hooks"]["prestart"] = [plain]
    b.save()
    cid = h.new_id("kept")
    h.rt_ok("create", "--bundle", b.path, cid, env=dict(os.environ, CRUNLITE_TEST_MARK="from-the-runtime"))
    check_in("CRUNLITE_TEST_MARK=from-the-runtime", open(f"{log_dir}/prestart.env").read().split("\n"),
             "a hook without env inherits the runtime's environment")
    b.config["hooks"] = {k: [_recorder(log_dir, "edited-" + k)] for k in ("poststart", "poststop")}
    b.save()
    h.rt_ok("start", cid)
    os.rename(os.path.join(b.path, "config.json"), os.path.join(b.path, "moved.json"))
    h.rt_ok("delete", "--force", cid)
    check_eq(open(f"{log_dir}/order").read().split(), ["prestart", "poststart", "poststop"],
             "the hooks of create, not the edited ones")


def wait_for_file(path):
    return harness.wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, 10)


def test_failing_hook_fails_create_and_cleans_up(h):
    for kind in ("prestart", "createRuntime", "createContainer"):
        b = h.bundle(["/probe", "sleep", "30"])
        b.config["hooks"] = {kind: [{"path": HOST_SH, "args": ["sh", "-c", "echo broken-hook >&2; exit 3"]}]}
        b.save()
        r = h.rt_fail("create", "--bundle", b.path, h.new_id("hookfail"), expect=f"{kind} hook #0")
        check_in("broken-hook", r.err, "the hook's stderr is in the error")
        check_in("exit status 3", r.err, "the hook's exit status is in the error")
        check_eq(h.container_ids(), [], f"nothing left after a failing {kind} hook")


def test_failing_hook_fails_even_with_sigchld_ignored(h):
    # A caller may start us with SIGCHLD ignored (inherited across exec): the
    # kernel then reaps our children itself, and an exit status would be lost.
    b = h.bundle(["/probe", "sleep", "30"])
    b.config["hooks"] = {"createRuntime": [{"path": HOST_SH, "args": ["sh", "-c", "exit 3"]}]}
    b.save()
    ignore = ("import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); "
              "os.execv(sys.argv[1], sys.argv[1:])")
    argv = [sys.executable, "-c", ignore] + h.rt_argv("create", "--bundle", b.path, h.new_id("hookfail"))
    r = h.cmd(argv)
    check(r.rc != 0, f"create fails with SIGCHLD ignored\n{r!r}")
    check_in("exit status 3", r.err, "the hook's exit status is in the error")
    check_eq(h.container_ids(), [], "nothing left")


def test_hook_timeout(h):
    b = h.bundle(["/probe", "sleep", "30"])
    b.config["hooks"] = {"createRuntime": [{"path": HOST_SH, "args": ["sh", "-c", "sleep 30"],
                                            "timeout": 1}]}
    b.save()
    r = h.rt_fail("create", "--bundle", b.path, h.new_id("hooktime"), expect="timed out")
    check(r.duration < 10, f"the timeout is enforced ({r.duration:.1f}s)")
    check_eq(h.container_ids(), [], "nothing left after a timed-out hook")


def test_poststart_and_poststop_failures_only_warn(h):
    b = h.bundle(["/probe", "exit", "0"])
    bad = {"path": HOST_SH, "args": ["sh", "-c", "exit 1"]}
    b.config["hooks"] = {"poststart": [bad], "poststop": [bad]}
    b.save()
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"run with failing poststart/poststop hooks\n{r!r}")
    check_in("poststart hook #0", r.err, "poststart warning")
    check_in("poststop hook #0", r.err, "poststop warning")


def test_start_container_failure_stops_the_container(h):
    b = h.bundle(["/probe", "exit", "0"])
    b.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]}
    b.save()
    r = h.run_bundle(b)
    check(r.rc != 0, f"a failing startContainer hook fails the container\n{r!r}")
    check_in("startContainer hook #0", r.err, "error names the hook")


def test_run_starts_its_init_without_exec_fifo(h):
    # `create` leaves its init blocked on exec.fifo until `start`; `run` makes
    # none and starts the init with the message that says its state is recorded.
    # createRuntime runs on the host while the init sets up: it sees the state dir.
    log_dir = h.mkdtemp("fifo")
    os.chmod(log_dir, 0o777)
    listing = {"path": HOST_SH, "args": ["sh", "-c", f'ls "{h.root}/$CID" > "{log_dir}/$CID"']}
    for verb in ("create", "run"):
        cid = h.new_id(verb)
        b = h.bundle(["/probe", "exit", "0"])
        b.config["hooks"] = {"createRuntime": [dict(listing, env=[f"CID={cid}"])]}
        b.save()
        if verb == "create":
            h.create(b, cid)
            check_eq(h.state(cid)["status"], "created", "create's state")
            h.rt_ok("start", cid)
            check(harness.wait_until(lambda: h.state(cid)["status"] == "stopped", 10), "the started init exits")
            h.rt_ok("delete", cid)
        else:
            r = h.run_bundle(b, cid)
            check_eq(r.rc, 0, f"run without exec.fifo\n{r!r}")
        made = open(f"{log_dir}/{cid}").read().split()
        check_eq("exec.fifo" in made, verb == "create", f"{verb}: exec.fifo among {made}")
    check_eq(h.container_ids(), [], "nothing left")


def test_features_reports_hooks(h):
    feats = json.loads(h.rt_ok("features", root=False).out)
    check_eq(sorted(feats["hooks"]), sorted(["prestart", "createRuntime", "createContainer",
                                             "startContainer", "poststart", "poststop"]),
             "features.hooks")


if __name__ == "__main__":
    harness.main(globals())
