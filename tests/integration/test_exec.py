#!/usr/bin/env python3
"""`exec` and terminals: what containerd, podman and healthchecks drive."""

import fcntl
import json
import os
import re
import pty
import shutil
import struct
import termios

import harness
from harness import check, check_eq, check_in, skip, wait_until


def _running(h, args=None):
    """A detached container whose init is crun-lite-init running `probe sleep 60`."""
    if not h.init:
        skip("crun-lite-init not built")
    b = h.bundle(args or ["/init", "/probe", "sleep", "60"])
    cid = h.new_id("exec")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    h.wait_status(cid, "running")
    return b, cid


def _ns_inodes(pid):
    out = {}
    for n in ("mnt", "pid", "net", "ipc", "uts", "user", "cgroup"):
        st = os.stat(f"/proc/{pid}/ns/{n}")
        out[n] = st.st_ino
    return out


def test_exec_joins_namespaces_and_applies_process(h):
    b, cid = _running(h)
    init = h.state(cid)["pid"]
    want = _ns_inodes(init)
    r = h.rt("exec", "--env", "EXTRA=1", "-e", "PATH=/bin:/usr/bin", "--cwd", "/tmp", cid,
             "/probe", "report")
    check_eq(r.rc, 0, f"exec\n{r!r}")
    rep = r.json()
    for n in ("mnt", "pid", "net", "ipc", "uts", "user"):
        check_eq(rep["namespaces"][n], want[n], f"{n} namespace of the exec'd process")
    check(rep["pid"] > 1, "a new pid in the container's pid namespace")
    check_eq(rep["cwd"], "/tmp", "--cwd")
    check_in("EXTRA=1", rep["env"], "--env added")
    check_in("PATH=/bin:/usr/bin", rep["env"], "--env replaces a variable")
    check_eq(sum(1 for e in rep["env"] if e.startswith("PATH=")), 1, "one PATH")
    check_eq(rep["hostname"], "crltest", "the container's uts namespace")
    check_eq(rep["no_new_privs"], 1, "noNewPrivileges from the container's process")


def test_exec_preserve_fds_must_be_open(h):
    b, cid = _running(h)
    keep = os.path.join(b.path, "kept")
    with open(keep, "w") as f:
        f.write("kept")
    sh = ["/bin/sh", "-c", f'exec 3<"{keep}"; exec "$@"', "sh"]
    r = h.cmd(sh + h.rt_argv("exec", "--preserve-fds", "1", cid, "/probe", "cat", "/proc/self/fd/3"), timeout=60)
    check_eq((r.rc, r.out), (0, "kept"), f"exec --preserve-fds 1\n{r!r}")
    # fd 4 closed: one of the runtime's own fds would fill it and reach the process.
    r = h.cmd(sh + h.rt_argv("exec", "--preserve-fds", "2", cid, "/probe", "exit", "0"), timeout=60)
    check(r.rc != 0, f"exec --preserve-fds 2 with fd 4 closed fails\n{r!r}")
    check_in("fd 4 is not open", r.err, "the error names the fd")


def test_exec_config_lists_a_namespace_the_init_lacks(h):
    """exec takes the namespaces config.json lists as new without comparing them;
    when one is ours after all (here: config.json gained "network" after create,
    the init shares ours), it compares them all and joins only the others."""
    if not h.init:
        skip("crun-lite-init not built")
    b = h.bundle(["/init", "/probe", "sleep", "60"])
    b.remove_namespace("network")
    b.save()
    cid = h.new_id("exec")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    h.wait_status(cid, "running")
    want = _ns_inodes(h.state(cid)["pid"])
    check_eq(want["net"], os.stat("/proc/self/ns/net").st_ino, "the init shares our network namespace")
    b.set_namespace("network")
    b.save()
    r = h.rt("exec", cid, "/probe", "report")
    check_eq(r.rc, 0, f"exec\n{r!r}")
    rep = r.json()
    for n in ("mnt", "pid", "net", "uts", "user"):
        check_eq(rep["namespaces"][n], want[n], f"{n} namespace of the exec'd process")


def test_exec_from_inside_the_containers_user_namespace(h):
    """A caller already in the container's user namespace (nsenter): exec takes the
    namespaces config.json lists as new, the user namespace among them; setns refuses
    to join one that is ours, and exec compares them all and joins the others."""
    if not shutil.which("nsenter"):
        skip("nsenter (util-linux) not installed")
    b, cid = _running(h)
    want = _ns_inodes(h.state(cid)["pid"])
    if want["user"] == os.stat("/proc/self/ns/user").st_ino:
        skip("the container has no user namespace of its own (its config lists none)")
    r = h.cmd(["nsenter", "--preserve-credentials", "--user=/proc/%d/ns/user" % h.state(cid)["pid"], "--"] + h.rt_argv("exec", cid, "/probe", "report"))
    check_eq(r.rc, 0, f"exec from inside the user namespace\n{r!r}")
    rep = r.json()
    for n in ("mnt", "pid", "net", "ipc", "uts", "user"):
        check_eq(rep["namespaces"][n], want[n], f"{n} namespace of the exec'd process")


def test_container_starts_with_default_signals(h):
    """Whatever the caller ignored or blocked (a shell's background job ignores
    SIGINT), the container's process and an exec'd one start with default
    dispositions and nothing blocked."""
    wrap = ["python3", "-c",
            "import os, signal, sys\n"
            "for s in (signal.SIGINT, signal.SIGUSR1, signal.SIGRTMIN + 2): signal.signal(s, signal.SIG_IGN)\n"
            "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})\n"
            "os.execvp(sys.argv[1], sys.argv[1:])"]
    show = ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]  # no shell: sh ignores SIGQUIT
    b = h.bundle(show)
    r = h.cmd(wrap + h.rt_argv("run", "--bundle", b.path, h.new_id("sig")))
    check_eq(r.rc, 0, f"run\n{r!r}")
    check_in("SigIgn:\t0000000000000000", r.out, "run: default dispositions")
    check_in("SigBlk:\t0000000000000000", r.out, "run: nothing blocked")
    _, cid = _running(h)
    r = h.cmd(wrap + h.rt_argv("exec", cid, *show))
    check_eq(r.rc, 0, f"exec\n{r!r}")
    check_in("SigIgn:\t0000000000000000", r.out, "exec: default dispositions")
    check_in("SigBlk:\t0000000000000000", r.out, "exec: nothing blocked")


def test_user_ids_beyond_runc_range_are_refused(h):
    """uid and gid are runc's int32s: (uint32)-1 in config.json, a --process file or -u would
    reach setresuid as "leave unchanged", and the process would keep the runtime's root."""
    b = h.bundle(["/probe", "report"])
    b.process["user"] = {"uid": 4294967295, "gid": 0}
    b.save()
    r = h.rt("run", "--bundle", b.path, h.new_id("ids"))
    check(r.rc == 1 and "process.user.uid: uids and gids must be in range 0-2147483647" in r.err, f"run\n{r!r}")
    check_eq(h.container_ids(), [], "nothing left")
    b, cid = _running(h)
    for user in ("4294967295", "0:4294967295", "2147483648"):
        r = h.rt("exec", "-u", user, cid, "/probe", "report")
        check_eq((r.rc, r.out), (255, ""), f"exec -u {user}\n{r!r}")
        check_in("exec failed: unable to setup user: uids and gids must be in range 0-2147483647", r.err, "runc's words")
    proc = dict(b.config["process"], args=["/probe", "report"], user={"uid": 0, "gid": 4294967295})
    path = os.path.join(h.tmp, "ids.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    r = h.rt("exec", "--process", path, cid)
    check(r.rc == 255 and "user.gid: uids and gids must be in range" in r.err, f"exec --process\n{r!r}")
    h.rt_ok("delete", "--force", cid)


def test_exec_user_and_exit_status(h):
    b, cid = _running(h)
    if h.rootless:
        # A single-id mapping: only uid 0 exists inside.
        r = h.rt("exec", "--user", "0:0", cid, "/probe", "report")
        check_eq((r.rc, r.json()["uid"]), (0, 0), f"exec --user 0:0\n{r!r}")
        for user, why in (("1000", "setuid 1000: cannot set uid to unmapped user in user namespace"),
                          ("0:1000", "setgid 1000: cannot set gid to unmapped user in user namespace")):
            r = h.rt("exec", "--user", user, cid, "true")
            check(r.rc != 0 and why in r.err, f"exec --user {user}: runc's words\n{r!r}")
    else:
        r = h.rt("exec", "--user", "1000:1000", "--additional-gids", "5", cid, "/probe", "report")
        rep = r.json()
        check_eq((rep["uid"], rep["gid"], rep["groups"]), (1000, 1000, [5]), "exec --user/--additional-gids")
        # Go's numbers take a "+"; -g adds to the container's groups (runc's).
        b.process["user"] = {"uid": 0, "gid": 0, "additionalGids": [11, 12]}
        b.save()
        r = h.rt("exec", "-u", "+5:+6", "-g", "+7", "-g", "99", cid, "/probe", "report")
        rep = r.json()
        check_eq((rep["uid"], rep["gid"], sorted(rep["groups"])), (5, 6, [7, 11, 12, 99]), f"-u +5:+6 -g\n{r!r}")
    r = h.rt("exec", cid, "sh", "-c", "exit 7")
    check_eq(r.rc, 7, f"exit status propagated\n{r!r}")
    r = h.rt("exec", cid, "/probe", "kill-self", "TERM")
    check_eq(r.rc, 128 + 15, "death by signal as 128+n")
    # Words after the command are the command's, even when they look like options.
    r = h.rt("exec", cid, "/probe", "env-get", "-e")
    check(r.rc != 0 or r.out == "", f"-e went to the command\n{r!r}")
    r = h.rt("exec", cid, "ls", "-d", "/tmp")
    check_eq((r.rc, r.out), (0, "/tmp\n"), "ls -d /tmp inside")


def test_exec_process_file_and_caps(h):
    b, cid = _running(h)
    proc = dict(b.config["process"])
    proc["args"] = ["/probe", "report"]
    proc["env"] = ["PATH=/bin", "FROM_FILE=yes"]
    proc["cwd"] = "/"
    proc["capabilities"] = {k: ["CAP_KILL"] for k in ("bounding", "effective", "permitted")}
    path = os.path.join(h.tmp, "process.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    rep = h.rt_ok("exec", "--process", path, cid).json()
    check_in("FROM_FILE=yes", rep["env"], "env from --process")
    check_eq(rep["caps"]["CapEff"], f"{harness.cap_mask(['CAP_KILL']):016x}", "caps from --process")
    rep = h.rt_ok("exec", "--cap", "CAP_SYS_ADMIN", cid, "/probe", "report").json()
    want = harness.cap_mask(harness.DEFAULT_CAPS + ["CAP_SYS_ADMIN"])
    check_eq(rep["caps"]["CapEff"], f"{want:016x}", "--cap adds to the container's caps")
    with open(path, "w") as f:
        f.write('{"args": []}')
    h.rt_fail("exec", "--process", path, cid, expect="args")
    # A config's checks, the file's JSON paths (runc refuses an env entry without "=" too).
    proc["env"] = ["PATH=/bin", "NOEQUALS"]
    with open(path, "w") as f:
        json.dump(proc, f)
    h.rt_fail("exec", "--process", path, cid, expect="process.json: env[1]: must be KEY=VALUE, got `NOEQUALS`")


def test_exec_gets_the_containers_caps_and_oom_score(h):
    """As runc: a --process file without capabilities or rlimits gets the container's (not the caller's),
    and every exec'd process has the container's oomScoreAdj; -e must be NAME=VALUE."""
    if not h.init:
        skip("crun-lite-init not built")
    b = h.bundle(["/init", "/probe", "sleep", "60"])
    b.process["oomScoreAdj"] = 100
    b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1000, "soft": 900}]
    caps = b.process["capabilities"]
    caps["ambient"] = caps["inheritable"] = ["CAP_KILL"]
    b.save()
    cid = h.new_id("exec")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    proc = {"args": ["/probe", "report"], "cwd": "/", "env": ["PATH=/bin"], "oomScoreAdj": 7}
    path = os.path.join(h.tmp, "nocaps.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    rep = h.rt_ok("exec", "--process", path, cid).json()
    check_eq(rep["caps"]["CapEff"], f"{harness.cap_mask(harness.DEFAULT_CAPS):016x}",
             "no capabilities in the file: the container's")
    proc["args"] = ["sh", "-c", "ulimit -n"]
    with open(path, "w") as f:
        json.dump(proc, f)
    check_eq(h.rt_ok("exec", "--process", path, cid).out.strip(), "900", "no rlimits in the file: the container's")
    for args in ([], ["--process", path]):
        cmd = [] if args else ["cat", "/proc/self/oom_score_adj"]
        if args:
            proc["args"] = ["cat", "/proc/self/oom_score_adj"]
            with open(path, "w") as f:
                json.dump(proc, f)
        r = h.rt("exec", *args, cid, *cmd)
        check_eq((r.rc, r.out.strip()), (0, "100"), f"exec {args}: the container's oomScoreAdj\n{r!r}")
    r = h.rt("exec", "-e", "BAZ", cid, "true")
    check(r.rc == 255 and 'invalid environment variable: "BAZ"' in r.err, f"-e without =\n{r!r}")
    r = h.rt("exec", "-e", "=x", cid, "true")
    check(r.rc == 255 and "environment variable name can't be empty" in r.err, f"-e =x\n{r!r}")
    if not h.rootless:
        r = h.rt("exec", "-u", "1000", cid, "true")
        check_eq((r.rc, r.err), (0, ""), f"an ambient cap a non-root user cannot keep is no warning\n{r!r}")


def test_exec_errors(h):
    """Errors say "exec failed: " and exit 255, as runc's (a caller tells them from the
    process's own status); a bad option exits 1."""
    r = h.rt_fail("exec", "nosuch", "true", expect="exec failed: container does not exist")
    check_eq(r.rc, 255, "exec of a missing container")
    b, cid = _running(h)
    r = h.rt_fail("exec", cid, "/no/such/binary", expect="no such file or directory")
    check_eq(r.rc, 255, "exec of a missing binary")
    check_eq(h.rt("exec", cid, "sh", "-c", "exit 1").rc, 1, "the process's own status")
    # Found, but its execve fails (not an ELF, a missing #! interpreter): the process's own
    # failure, which exits 1 saying why, as runc's.
    rootfs = os.path.join(b.path, "rootfs")
    for name, text, words in (("garbage", "garbage\n", "exec `/garbage`: exec format error"),
                              ("badinterp", "#!/nonexistent\n", "exec `/badinterp`: no such file or directory")):
        with open(os.path.join(rootfs, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(rootfs, name), 0o755)
        r = h.rt("exec", cid, "/" + name)
        check(r.rc == 1 and words in r.err and "exec failed" not in r.err, f"exec /{name}\n{r!r}")
    check_eq(h.rt_fail("exec", "--no-such-option", cid, "true", expect="unrecognised option").rc, 1, "a bad option")
    # runc's -g takes int64s: anything else is a usage error, exit 1; "/" is the container's own cgroup.
    r = h.rt_fail("exec", "-g", "abc", cid, "true", expect='invalid value "abc" for flag -g: strconv.ParseInt')
    check_eq(r.rc, 1, "a -g that is not a number")
    check_eq(h.rt_fail("exec", "--additional-gids", "1,2", cid, "true", expect="flag -additional-gids").rc, 1, "-g 1,2")
    if not h.rootless:  # a rootless container has no cgroup here to take --cgroup
        h.rt_fail("exec", "--cgroup", "a:b:c", cid, "true", expect="invalid --cgroup argument: a:b:c")
        h.rt_fail("exec", "--cgroup", "x", "--cgroup", "memory:y", cid, "true", expect="(missing <controller>: prefix)")
        r = h.rt("exec", "--cgroup", "/", cid, "cat", "/proc/self/cgroup")
        check_eq(h.rt("exec", cid, "cat", "/proc/self/cgroup").out, r.out, f"exec --cgroup / joins the container's own\n{r!r}")
    h.rt_fail("exec", cid, "nosuchcmd", expect="executable file not found in $PATH")
    h.rt_fail("exec", cid, expect="command is required")
    h.rt_fail("exec", "--tty", "--detach", cid, "true", expect="console socket")
    h.rt_ok("kill", cid, "KILL")
    h.wait_status(cid, "stopped")
    h.rt_fail("exec", cid, "true", expect="cannot exec in a stopped container")


def test_exec_with_a_notified_execve(h):
    """A seccomp filter that notifies execve (SCMP_ACT_NOTIFY): exec's process
    makes that call after its listener went to the parent, which hands it to
    listenerPath while the process waits for the agent's answer.  The agent
    lets every call go on; the exec completes, for the init and for exec."""
    if not h.init:
        skip("crun-lite-init not built")
    agent = harness.SeccompAgent(os.path.join(h.mkdtemp("agent"), "agent.sock"))
    b = h.bundle(["/init", "/probe", "sleep", "60"])
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent.path,
                          "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_NOTIFY"}]}
    b.save()
    cid = h.new_id("notify")
    h.rt_ok("run", "--detach", "--bundle", b.path, cid)
    h.wait_status(cid, "running")
    r = h.rt("exec", cid, "/probe", "report", timeout=30)
    check_eq(r.rc, 0, f"exec with execve notified\n{r!r}")
    check(r.json()["pid"] > 1, "the exec'd process ran")
    check_eq(agent.listeners, 2, "a listener from create and one from exec")
    check(len(agent.calls) >= 3, f"the init's two execve calls and exec's went through the agent: {agent.calls}")


def test_exec_detach_pid_file_and_no_zombie(h):
    b, cid = _running(h)
    pid_file = os.path.join(h.tmp, "exec.pid")
    r = h.rt("exec", "--detach", "--pid-file", pid_file, cid, "/probe", "sleep", "0.3")
    check_eq(r.rc, 0, f"exec --detach\n{r!r}")
    pid = int(open(pid_file).read())
    check(harness.pid_alive(pid), "the detached process runs")
    # As with runc, it now belongs to our subreaper (conmon, the containerd shim:
    # here the harness), which learns its exit status and reaps it: no zombie.
    check_eq(harness._proc_stat(pid)[1], os.getpid(), "the detached process is handed to our subreaper")

    def gone():
        harness.reap()
        return not os.path.exists(f"/proc/{pid}")
    check(wait_until(gone, 10), f"exec'd process {pid} left a zombie")


def _console_socket(h):
    """A listening console socket; returns (path, fetch) where fetch() returns the master fd."""
    recv = harness.FdReceiver(os.path.join(h.mkdtemp("console"), "console.sock"))

    def fetch():
        _, fds = recv.result()
        check_eq(len(fds), 1, "one fd on the console socket")
        return fds[0]
    return recv.path, fetch


def _talk(master, send, until, timeout=10):
    """Writes `send` to the pty master and reads until `until` appears."""
    os.write(master, send)
    return harness.read_pty(master, until, timeout)


def test_exec_tty_with_console_socket(h):
    b, cid = _running(h)
    path, fetch = _console_socket(h)
    # runc's: a console socket only for a detached pty.
    for flags in (["--tty"], ["--detach"]):
        h.rt_fail("exec", *flags, "--console-socket", path, cid, "true",
                  expect="cannot use console socket if crun-lite will not detach or allocate tty")
    h.rt_fail("exec", "--preserve-fds", "-2", cid, "true", expect="--preserve-fds must not be negative")
    r = h.rt("exec", "--tty", "--detach", "--console-socket", path, cid, "sh")
    check_eq(r.rc, 0, f"exec --tty --console-socket\n{r!r}")
    master = fetch()
    try:
        out = _talk(master, b"tty; echo mark-$((40+2))\n", b"mark-42")
        check_in(b"mark-42", out, "the shell on the pty ran a command")
        check_in(b"/dev/pts/", out, "stdin is a pty of the container's devpts")
        _talk(master, b"exit\n", b"\xff", timeout=1)
    finally:
        os.close(master)


def test_exec_terminal_sized_before_the_process_starts(h):
    """An exec'd process's pty is handed on before the process runs, so its first
    look at the terminal sees the size: ours, in the foreground (before, the
    process ran first and saw 0x0).  With a console socket the master is in the
    socket before the process runs; that conmon's size is then seen is tested
    with conmon itself (`podman exec -it`, test_podman): a peer in Python here
    sometimes took longer to size it than the process took to start."""
    b, cid = _running(h)
    rc, out = harness.on_a_terminal(h.rt_argv("exec", "-t", cid, "stty", "size"), size=(24, 99))
    check_eq(rc, 0, f"exec -t stty size\n{out}")
    check_in("24 99", out, "the size of our terminal, before the process started")
    # containerd's shim takes the master only once `exec --detach` has returned:
    # nothing waits for the peer to read it.
    srv = harness._unix_listener(os.path.join(h.mkdtemp("console"), "late.sock"), 1, 20)
    try:
        h.rt_ok("exec", "--tty", "--detach", "--console-socket", srv.getsockname(), cid, "sh", "-c", "echo late-$((1+1))")
        conn, _ = srv.accept()
        _, fds = harness._receive_with_fds(conn)
        conn.close()
    finally:
        srv.close()
    check_eq(len(fds), 1, "one fd on the console socket")
    try:
        check_in(b"late-2", harness.read_pty(fds[0], b"late-2"), "output kept for a peer that reads late")
    finally:
        os.close(fds[0])


def test_create_with_terminal_and_console_socket(h):
    if not h.init:
        skip("crun-lite-init not built")
    b = h.bundle(["sh"])
    b.process["terminal"] = True
    b.process["consoleSize"] = {"height": 33, "width": 111}
    b.save()
    path, fetch = _console_socket(h)
    cid = h.new_id("tty")
    h.rt_ok("create", "--console-socket", path, "--bundle", b.path, cid)
    master = fetch()
    try:
        h.rt_ok("start", cid)
        out = _talk(master, b"stty size; echo done-$((1+1))\n", b"done-2")
        check_in(b"33 111", out, "process.consoleSize applied")
        # As runc: /dev/console is the pty, which keeps devpts's group (tty where gid=5 applies).
        out = _talk(master, b"stat -c 'dev=%t:%T group=%g' /dev/console $(tty); echo done-$((2+1))\n", b"done-3")
        devs = re.findall(rb"dev=(\w+:\w+) group=(\d+)", out)
        check(len(devs) == 2 and devs[0] == devs[1], f"/dev/console is the process's pty: {out!r}")
        if not h.rootless:
            check_eq(devs[0][1], b"5", "the pty's group is tty (devpts gid=5)")
        _talk(master, b"exit\n", b"\xff", timeout=1)
    finally:
        os.close(master)
    h.wait_status(cid, "stopped")
    # Without a console socket, create refuses (someone must hold the master).
    h.rt_fail("create", "--bundle", b.path, h.new_id("tty"), expect="console socket")
    b.process["terminal"] = False
    b.save()
    h.rt_fail("create", "--console-socket", path, "--bundle", b.path, h.new_id("tty"),
              expect="cannot use console socket if crun-lite will not detach or allocate tty")
    # Nor in the foreground (runc's: only a detached pty needs one); negative --preserve-fds is no count.
    b.process["terminal"] = True
    b.save()
    before = h.container_ids()
    h.rt_fail("run", "--console-socket", path, "--bundle", b.path, h.new_id("tty"),
              expect="will not detach or allocate tty")
    h.rt_fail("run", "--preserve-fds", "-1", "--bundle", b.path, h.new_id("tty"), expect="--preserve-fds")
    check_eq(h.container_ids(), before, "nothing made")


def test_run_foreground_terminal_proxy(h):
    """`run` with terminal: true and no console socket proxies our own terminal."""
    b = h.bundle(["sh", "-c", "stty size; tty; read line; echo got-$line; exit 3"])
    b.process["terminal"] = True
    b.save()
    argv = h.rt_argv("run", "--bundle", b.path, h.new_id("proxy"))
    pid, master = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 99, 0, 0))
        os.execv(h.bin, argv)
    try:
        out = _talk(master, b"", b"/dev/pts/", timeout=10)
        out += _talk(master, b"hello\r", b"got-hello", timeout=10)
        check_in(b"24 99", out, "window size mirrored into the container's pty")
        check_in(b"got-hello", out, "input reached the process")
        # Our terminal keeps its output processing (runc's raw mode): "\n" shows as "\r\n".
        check_in(b"/dev/pts/0\r\n", out, "new lines start at the left")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    check_eq(os.waitstatus_to_exitcode(status), 3, "exit status through the proxy")
    # Captured output keeps the program's line ends, as runc's (its pty has no ONLCR): no "\r\n".
    b = h.bundle(["sh", "-c", "echo OUT; stty -a 2>/dev/null | grep -o -- '-onlcr'"])
    b.process["terminal"] = True
    b.save()
    r = h.rt("run", "--bundle", b.path, h.new_id("proxy"))
    check_eq((r.rc, r.out), (0, "OUT\n-onlcr\n"), f"run -t > file\n{r!r}")


if __name__ == "__main__":
    harness.main(globals())
