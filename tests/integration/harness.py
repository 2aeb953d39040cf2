"""Shared helpers for the crun-lite integration tests (Python 3 stdlib only).

A test file defines functions named ``test_*`` taking one argument, the
:class:`Harness`, and ends with ``harness.main(globals())``.  Every file runs in
one of two modes, chosen with ``--as root|user``:

* ``root``: the tests run as root and drive the runtime as root.
* ``user``: when started as root, the harness makes sure the unprivileged
  user ``crltest`` exists with /etc/subuid and /etc/subgid ranges, creates a
  private temporary directory (also used as XDG_RUNTIME_DIR and HOME) owned by
  that user, and re-executes the same test file as that user.  When started by
  an unprivileged user it simply runs as that user.

The binary under test is ``$CRUNLITE_BIN`` (default: the newest
``build*/src/cli/crun-lite`` of the source tree); the static probe is
``$CRUNLITE_PROBE`` (default: ``build*/tests/fixtures/probe``).  The runtime
state root is always a private temporary directory given with ``--root``.

The process running the tests is a child subreaper, so containers that outlive
the runtime invocation that started them are re-parented to it; the harness
reaps them and, after every test, deletes every container left in its state
root and checks that no descendant process survived.

Exit status: 0 all run tests passed, 1 a test failed, 77 skipped (with the
reason printed).  The last line printed is ``N passed, N failed, N skipped``.
"""

import argparse
import ctypes
import fcntl
import json
import os
import pwd
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback

SKIP_RC = 77
TEST_USER = os.environ.get("CRUNLITE_TEST_USER", "crltest")
SUBID_START = int(os.environ.get("CRUNLITE_TEST_SUBID_START", "200000"))
SUBID_COUNT = 65536
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONTAINER_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX = os.environ.get("CRUNLITE_BUSYBOX", "/bin/busybox")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The capability set runc's default spec grants; used for every test container.
DEFAULT_CAPS = [
    "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID",
    "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
]
CAP_NUMBERS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}


def cap_mask(names):
    """The /proc/PID/status hex mask for a list of capability names."""
    mask = 0
    for n in names:
        mask |= 1 << CAP_NUMBERS[n]
    return mask


class Skip(Exception):
    """Raised by a test (or the harness) to skip with a reason."""


class Failure(AssertionError):
    """A test assertion failed."""


def skip(reason):
    raise Skip(reason)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def check_eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def check_in(needle, haystack, what):
    if needle not in haystack:
        raise Failure(f"{what}: {needle!r} not found in {haystack!r}")


def log(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------
# Process helpers (subreaper, reaping, descendants)

PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def set_child_subreaper():
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_CHILD_SUBREAPER)")


def _proc_stat(pid):
    """(state, ppid) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    rest = data[data.rfind(")") + 2:].split()
    return rest[0], int(rest[1])


def _all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children_of(pid):
    out = []
    for p in _all_pids():
        st = _proc_stat(p)
        if st and st[1] == pid:
            out.append(p)
    return out


def descendants(root_pid=None):
    """Every live process below root_pid (default: this process)."""
    root_pid = root_pid or os.getpid()
    parent = {}
    for p in _all_pids():
        st = _proc_stat(p)
        if st:
            parent[p] = st[1]
    out = []
    for p in parent:
        q, hops = p, 0
        while q in parent and q not in (0, 1) and hops < 512:
            q = parent[q]
            hops += 1
            if q == root_pid:
                out.append(p)
                break
    return sorted(out)


# Popen objects currently waited for by their owners: the reaper must leave them alone,
# otherwise subprocess would lose the exit status.
_tracked = set()


def reap():
    """Reap zombie children that nobody tracks (containers re-parented to us)."""
    reaped = []
    for p in children_of(os.getpid()):
        if p in _tracked:
            continue
        st = _proc_stat(p)
        if st and st[0] in ("Z", "X"):
            try:
                os.waitpid(p, os.WNOHANG)
                reaped.append(p)
            except ChildProcessError:
                pass
    return reaped


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def pid_alive(pid):
    st = _proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def runs_protected(pid):
    """Whether process `pid` runs crun-lite from a view nothing can write (self_clone.cpp): the
    overlay view as root, a user's read-only bind view (its exe is on a read-only mount either
    way) or a sealed memfd copy."""
    try:
        target = os.readlink(f"/proc/{pid}/exe")
        return target.startswith("/memfd:crun-lite") or bool(os.statvfs(f"/proc/{pid}/exe").f_flag & os.ST_RDONLY)
    except OSError:
        return False


def wait_until(pred, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        time.sleep(interval)


def read_pty(master, until=None, timeout=10.0):
    """Reads a pty master until `until` (bytes) appears, the other side hangs up, or
    the timeout passes; returns what was read."""
    import select
    out = b""
    end = time.monotonic() + timeout
    while (until is None or until not in out) and time.monotonic() < end:
        r, _, _ = select.select([master], [], [], 0.2)
        if not r:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every slave closed
            break
        if not chunk:
            break
        out += chunk
    return out


def on_a_terminal(argv, size=None, env=None):
    """Runs argv with stdio on a pty (of `size`, (rows, columns), if given);
    returns (exit status, everything it wrote)."""
    import pty
    pid, master = pty.fork()
    if pid == 0:
        if size:
            import fcntl
            import struct
            import termios
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        os.execve(argv[0], argv, os.environ if env is None else env)
    out = read_pty(master, timeout=60)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def stop_containerd(proc):
    """Stops a containerd a test started (SIGTERM, then SIGKILL after 20 s) and
    the shims re-parented to us (a subreaper) that outlive it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _tracked.discard(proc.pid)
    for pid in descendants():
        cmd = proc_cmdline(pid)
        if cmd and "containerd-shim" in cmd[0]:
            os.kill(pid, signal.SIGKILL)


def read_mountinfo():
    """Set of (mount point, fstype, source) of this process's mount namespace."""
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            dash = parts.index("-")
            unesc = lambda s: s.encode().decode("unicode_escape")  # noqa: E731 (\040 etc.)
            out.add((unesc(parts[4]), parts[dash + 1], unesc(parts[dash + 2])))
    return out


def own_cgroups():
    """{controller list: directory} of the cgroups this process is in, one per
    mounted hierarchy (name= hierarchies left out)."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f.read().splitlines():
            _, ctrl, path = line.split(":", 2)
            if ctrl.startswith("name="):
                continue
            mount = "/sys/fs/cgroup/unified" if ctrl == "" else f"/sys/fs/cgroup/{ctrl.split(',')[0]}"
            if not os.path.isdir(mount):  # pure v2: cgroup2 is the root
                mount = "/sys/fs/cgroup"
            if os.path.isdir(mount + path):
                own[ctrl] = mount + path.rstrip("/")
    return own


def footprint(h, store=None):
    """What containers may leave behind: our fds, mounts we see, cgroup
    directories beneath ours, state entries, processes, and with `store` the
    store's containers and work directories."""
    cgroups = sorted(f"{ctrl}:{d}" for ctrl, path in own_cgroups().items()
                     for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    state = sorted(e for e in os.listdir(h.root) if not e.startswith("@")) if os.path.isdir(h.root) else []
    reap()  # orphaned inits come to us (a subreaper): reap the dead
    fp = {"fds": len(os.listdir("/proc/self/fd")), "mounts": len(read_mountinfo()),
          "cgroups": cgroups, "state": state, "processes": descendants()}
    if store:
        for sub in ("containers", "tmp"):
            d = os.path.join(store, sub)
            fp[sub] = sorted(os.listdir(d)) if os.path.isdir(d) else []
    return fp


def safe_rmtree(path):
    """rm -rf that never crosses into another mount (a leaked bind mount must not be emptied)."""
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return True
    ok = True

    def rec(p):
        nonlocal ok
        try:
            entries = os.listdir(p)
        except OSError:
            ok = False
            return
        for e in entries:
            c = os.path.join(p, e)
            try:
                st = os.lstat(c)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if st.st_dev != top.st_dev:
                    log(f"# warning: {c} is a mount point; left in place")
                    ok = False
                    continue
                try:
                    os.chmod(c, 0o700)
                except OSError:
                    pass
                rec(c)
                try:
                    os.rmdir(c)
                except OSError:
                    ok = False
            else:
                try:
                    os.unlink(c)
                except OSError:
                    ok = False

    rec(path)
    try:
        os.rmdir(path)
    except OSError:
        ok = False
    return ok


def is_static_elf(path):
    """True if path is an ELF file without a PT_INTERP program header."""
    try:
        with open(path, "rb") as f:
            hdr = f.read(64)
            if hdr[:4] != b"\x7fELF" or hdr[4] != 2:
                return False
            phoff, = struct.unpack_from("<Q", hdr, 32)
            phentsize, phnum = struct.unpack_from("<HH", hdr, 54)
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
        for i in range(phnum):
            ptype, = struct.unpack_from("<I", ph, i * phentsize)
            if ptype == 3:  # PT_INTERP
                return False
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# Command results


class Result:
    def __init__(self, argv, rc, out, err, duration):
        self.argv, self.rc, self.out, self.err, self.duration = argv, rc, out, err, duration

    @property
    def ok(self):
        return self.rc == 0

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise Failure(f"output of {' '.join(self.argv)} is not JSON ({e}): {self.out!r}")

    def __repr__(self):
        return (f"$ {' '.join(self.argv)}\n  -> rc={self.rc} ({self.duration:.2f}s)\n"
                f"  stdout: {self.out[-2000:]!r}\n  stderr: {self.err[-2000:]!r}")


# --------------------------------------------------------------------------------------------
# Bundles


class Bundle:
    """A bundle directory: rootfs (busybox + /probe) and a config dict saved as config.json."""

    def __init__(self, harness, path, config):
        self.h = harness
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.config = config

    @property
    def process(self):
        return self.config["process"]

    @property
    def linux(self):
        return self.config.setdefault("linux", {})

    def save(self):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)
        return self

    def set_args(self, *args):
        self.process["args"] = list(args)
        return self

    def add_mount(self, destination, type_, source, options=None):
        m = {"destination": destination, "type": type_, "source": source}
        if options is not None:
            m["options"] = list(options)
        self.config["mounts"].append(m)
        return m

    def remove_mount(self, destination):
        self.config["mounts"] = [m for m in self.config["mounts"]
                                 if m["destination"] != destination]

    def namespaces(self):
        return [n["type"] for n in self.linux.get("namespaces", [])]

    def set_namespace(self, type_, path=None):
        ns = [n for n in self.linux.get("namespaces", []) if n["type"] != type_]
        entry = {"type": type_}
        if path:
            entry["path"] = path
        ns.append(entry)
        self.linux["namespaces"] = ns

    def remove_namespace(self, type_):
        self.linux["namespaces"] = [n for n in self.linux.get("namespaces", [])
                                    if n["type"] != type_]


def default_config(rootless, uid, gid, args):
    """An OCI config for a busybox+probe rootfs close to what `runc spec` produces."""
    devpts_opts = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    if not rootless:
        devpts_opts.append("gid=5")
    cfg = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": [CONTAINER_PATH, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "crltest",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": devpts_opts},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        },
    }
    if rootless:
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    return cfg


def _unix_listener(path, backlog, timeout):
    import socket
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(backlog)
    srv.settimeout(timeout)
    return srv


def _receive_with_fds(conn):
    """One message on `conn` and the fds sent with it (SCM_RIGHTS): (data, [fd])."""
    import array
    import socket
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16 * fds.itemsize))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return msg, list(fds)


class FdReceiver:
    """A unix socket at `path` that accepts one connection in the background and keeps
    its message and the fds sent with it (SCM_RIGHTS): what a console socket or a
    seccomp agent receives from the runtime.  result() waits and returns (data, fds).
    With close=True the fds are closed on receipt (what they were is in self.fdinfo)."""

    def __init__(self, path, timeout=20, close=False):
        import threading
        self.path = path
        self.fdinfo = []
        self._got = {}
        srv = _unix_listener(path, 1, timeout)

        def accept():
            try:
                conn, _ = srv.accept()
                msg, fds = _receive_with_fds(conn)
                self._got["data"], self._got["fds"] = msg, fds
                self.fdinfo = [os.readlink(f"/proc/self/fd/{fd}") for fd in fds]
                if close:
                    for fd in fds:
                        os.close(fd)
                conn.close()
            except Exception as e:  # reported by result()
                self._got["error"] = repr(e)
            finally:
                srv.close()

        self._thread = threading.Thread(target=accept, daemon=True)
        self._thread.start()

    def result(self, timeout=20):
        self._thread.join(timeout)
        if "error" in self._got or "fds" not in self._got:
            raise Failure(f"nothing received on {self.path}: {self._got}")
        return self._got["data"], self._got["fds"]


class SeccompAgent:
    """A seccomp agent listening at `path`: it takes every listener the runtime
    sends (one per create and per exec) and lets each notified call go on
    (SECCOMP_USER_NOTIF_FLAG_CONTINUE), counting them in self.calls (syscall
    numbers).  Each listener is served until no process uses its filter."""
    _RECV = 0xC0502100  # SECCOMP_IOCTL_NOTIF_RECV: _IOWR('!', 0, struct seccomp_notif), 80 bytes
    _SEND = 0xC0182101  # SECCOMP_IOCTL_NOTIF_SEND: _IOWR('!', 1, struct seccomp_notif_resp), 24 bytes
    _CONTINUE = 1

    def __init__(self, path, timeout=60):
        import threading
        self.path = path
        self.listeners = 0
        self.calls = []
        srv = _unix_listener(path, 4, timeout)

        def accept():
            try:
                while True:
                    conn, _ = srv.accept()
                    _, fds = _receive_with_fds(conn)
                    conn.close()
                    for fd in fds:
                        self.listeners += 1
                        threading.Thread(target=self._serve, args=(fd,), daemon=True).start()
            except OSError:  # the timeout: no more listeners
                srv.close()

        threading.Thread(target=accept, daemon=True).start()

    def _serve(self, fd):
        import fcntl
        import select
        import struct
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while True:
                events = poller.poll(60_000)
                if not events or events[0][1] & select.POLLHUP:
                    return
                notif = bytearray(80)
                try:
                    fcntl.ioctl(fd, self._RECV, notif)
                except OSError:
                    continue  # the caller went away meanwhile (ENOENT)
                nid, = struct.unpack_from("Q", notif, 0)
                nr, = struct.unpack_from("i", notif, 16)
                self.calls.append(nr)
                try:
                    fcntl.ioctl(fd, self._SEND, bytearray(struct.pack("QqiI", nid, 0, 0, self._CONTINUE)))
                except OSError:
                    pass
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# The harness


class Harness:
    def __init__(self, mode, binary, probe, tmp, verbose=False):
        self.mode = mode
        self.rootless = mode == "user"
        self.bin = binary
        self.probe = probe
        self.tmp = tmp
        self.verbose = verbose
        self.root = os.path.join(tmp, "state")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self.uid, self.gid = os.getuid(), os.getgid()
        self.history = []
        self._counter = 0
        self._template = None
        self.init = find_init()  # crun-lite-init, when built: /init in every rootfs
        self.cleanup_paths = []  # removed after each test (things outside self.tmp)
        self.bin_name = os.path.basename(binary)
        self.is_runc = self.bin_name == "runc"
        self.is_crun = self.bin_name == "crun"
        self.subuid = self._own_subid_range("/etc/subuid", self.uid)
        self.subgid = self._own_subid_range("/etc/subgid", self.uid)

    # ---- naming ----------------------------------------------------------------------------

    def new_id(self, prefix="c"):
        self._counter += 1
        return f"crlt-{prefix}-{os.getpid()}-{self._counter}"

    def mkdtemp(self, prefix="d"):
        return tempfile.mkdtemp(prefix=prefix + "-", dir=self.tmp)

    # ---- running the runtime ---------------------------------------------------------------

    def cmd(self, argv, timeout=60, stdin=None, pass_fds=(), env=None, cwd=None, input=None,
            stdout_path=None):
        """Run argv with stdout/stderr captured through files (never pipes, so a container that
        inherits them cannot keep us waiting). stdout_path names the stdout file, so the output
        of a detached container can be read later. Returns a Result; never raises on rc != 0."""
        out_f = open(stdout_path, "w+b") if stdout_path else tempfile.TemporaryFile(dir=self.tmp)
        err_f = tempfile.TemporaryFile(dir=self.tmp)
        if input is not None:
            stdin = subprocess.PIPE
        elif stdin is None:
            stdin = subprocess.DEVNULL
        start = time.monotonic()
        p = subprocess.Popen(argv, stdin=stdin, stdout=out_f, stderr=err_f, pass_fds=pass_fds,
                             env=env, cwd=cwd, start_new_session=False)
        _tracked.add(p.pid)
        try:
            try:
                if input is not None:
                    p.communicate(input.encode(), timeout=timeout)
                else:
                    p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                res = self._result(argv, -999, out_f, err_f, start)
                self.history.append(res)
                raise Failure(f"timed out after {timeout}s: {' '.join(argv)}\n{res!r}")
        finally:
            _tracked.discard(p.pid)
        res = self._result(argv, p.returncode, out_f, err_f, start)
        self.history.append(res)
        if self.verbose:
            log(repr(res))
        reap()
        return res

    @staticmethod
    def _result(argv, rc, out_f, err_f, start):
        out_f.seek(0)
        err_f.seek(0)
        out = out_f.read().decode("utf-8", "replace")
        err = err_f.read().decode("utf-8", "replace")
        out_f.close()
        err_f.close()
        return Result(argv, rc, out, err, time.monotonic() - start)

    def rt_argv(self, *args, root=True, global_args=()):
        argv = [self.bin]
        if root:
            argv += ["--root", self.root]
        argv += list(global_args)
        argv += [str(a) for a in args]
        return argv

    def rt(self, *args, timeout=60, root=True, global_args=(), **kw):
        """Run the runtime: `BIN --root ROOT [global_args] args...`."""
        return self.cmd(self.rt_argv(*args, root=root, global_args=global_args), timeout=timeout,
                        **kw)

    def rt_ok(self, *args, **kw):
        r = self.rt(*args, **kw)
        if r.rc != 0:
            raise Failure(f"command failed\n{r!r}")
        return r

    def rt_fail(self, *args, expect=None, **kw):
        """Run and require a non-zero exit; expect, if given, must appear in stderr+stdout."""
        r = self.rt(*args, **kw)
        if r.rc == 0:
            raise Failure(f"command unexpectedly succeeded\n{r!r}")
        if expect is not None and expect.lower() not in (r.err + r.out).lower():
            raise Failure(f"error message lacks {expect!r}\n{r!r}")
        return r

    def spawn(self, argv, **kw):
        """Popen with output to files; the caller must call finish()."""
        out_f = tempfile.TemporaryFile(dir=self.tmp)
        err_f = tempfile.TemporaryFile(dir=self.tmp)
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(argv, stdout=out_f, stderr=err_f, **kw)
        _tracked.add(p.pid)
        p._crlt = (argv, out_f, err_f, time.monotonic())
        return p

    def finish(self, p, timeout=60):
        argv, out_f, err_f, start = p._crlt
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            _tracked.discard(p.pid)
            raise Failure(f"timed out after {timeout}s: {' '.join(argv)}")
        _tracked.discard(p.pid)
        res = self._result(argv, p.returncode, out_f, err_f, start)
        self.history.append(res)
        reap()
        return res

    # ---- bundles ---------------------------------------------------------------------------

    def _build_template(self):
        """One rootfs per test file; bundles hard-link its files (cheap and private)."""
        t = os.path.join(self.tmp, "rootfs-template")
        os.makedirs(t)
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "etc", "root",
                  "home", "var", "run", "mnt", "opt"):
            os.makedirs(os.path.join(t, d), exist_ok=True)
        os.makedirs(os.path.join(t, "tmp"))
        os.chmod(os.path.join(t, "tmp"), 0o1777)
        self._copy(BUSYBOX, os.path.join(t, "bin", "busybox"))
        self._copy(self.probe, os.path.join(t, "probe"))
        if self.init:
            self._copy(self.init, os.path.join(t, "init"))
        with open(os.path.join(t, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n"
                    "tester:x:1000:1000:tester:/home:/bin/sh\n"
                    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        with open(os.path.join(t, "etc", "group"), "w") as f:
            f.write("root:x:0:\ntty:x:5:\ntester:x:1000:\nnogroup:x:65534:\n")
        with open(os.path.join(t, "etc", "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n")
        self._template = t
        r = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True)
        self._applets = [a for a in r.stdout.split() if a and a != "bin/busybox"]

    @staticmethod
    def _copy(src, dst):
        with open(src, "rb") as i, open(dst, "wb") as o:
            while True:
                b = i.read(1 << 20)
                if not b:
                    break
                o.write(b)
        os.chmod(dst, 0o755)

    def bundle(self, args=None, name="b"):
        """A fresh bundle whose process runs `args` (default: probe report)."""
        if self._template is None:
            self._build_template()
        path = self.mkdtemp(name)
        os.chmod(path, 0o755)
        rootfs = os.path.join(path, "rootfs")
        for dirpath, dirnames, filenames in os.walk(self._template):
            rel = os.path.relpath(dirpath, self._template)
            dst = os.path.normpath(os.path.join(rootfs, rel))
            os.makedirs(dst, exist_ok=True)
            os.chmod(dst, os.stat(dirpath).st_mode & 0o7777)
            for fn in filenames:
                s, d = os.path.join(dirpath, fn), os.path.join(dst, fn)
                if fn in ("busybox", "probe", "init"):
                    os.link(s, d)
                else:
                    self._copy(s, d)
                    os.chmod(d, 0o644)
        for a in self._applets:
            link = os.path.join(rootfs, a)
            if not os.path.lexists(link):
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink("/bin/busybox", link)
        cfg = default_config(self.rootless, self.uid, self.gid,
                             args if args is not None else ["/probe", "report"])
        b = Bundle(self, path, cfg)
        b.save()
        return b

    # ---- common operations -----------------------------------------------------------------

    def run_bundle(self, bundle, cid=None, extra=(), timeout=60, **kw):
        """Foreground `run --bundle B ID`; returns the Result (the container is gone after)."""
        bundle.save()
        cid = cid or self.new_id("run")
        return self.rt("run", "--bundle", bundle.path, *extra, cid, timeout=timeout, **kw)

    def report(self, bundle, sysctls=(), extra=(), **kw):
        """Run the bundle with `probe report` and return the parsed report."""
        args = ["/probe", "report"]
        for s in sysctls:
            args += ["--sysctl", s]
        bundle.process["args"] = args
        r = self.run_bundle(bundle, extra=extra, **kw)
        if r.rc != 0:
            raise Failure(f"probe report failed\n{r!r}")
        return r.json()

    def create(self, bundle, cid=None, extra=(), **kw):
        bundle.save()
        cid = cid or self.new_id("create")
        self.rt_ok("create", "--bundle", bundle.path, *extra, cid, **kw)
        return cid

    def state(self, cid):
        r = self.rt("state", cid)
        if r.rc != 0:
            raise Failure(f"state {cid} failed\n{r!r}")
        return r.json()

    def wait_status(self, cid, status, timeout=10):
        last = {}

        def pred():
            nonlocal last
            r = self.rt("state", cid)
            if r.rc != 0:
                return False
            last = r.json()
            return last.get("status") == status

        if not wait_until(pred, timeout, 0.1):
            raise Failure(f"container {cid} never reached {status!r}; last state {last}")
        return last

    def container_ids(self):
        r = self.rt("list", "-q")
        return [l.strip() for l in r.out.splitlines() if l.strip()] if r.rc == 0 else []

    def cleanup_containers(self):
        """delete --force every container in our state root; returns the ids found."""
        ids = self.container_ids()
        for cid in ids:
            self.rt("delete", "--force", cid, timeout=30)
        # Fallback when the runtime cannot list: remove what it left by pid.
        if os.path.isdir(self.root):
            for cid in os.listdir(self.root):
                p = os.path.join(self.root, cid)
                if os.path.isdir(p) and not cid.startswith("@"):  # @: the runtime's own (caches)
                    self.rt("delete", "--force", cid, timeout=30)
        reap()
        return ids

    def reboot_forgets(self, cid):
        """What a reboot does to a container: its processes (the init, and the
        crun-lite-monitor that is its parent), cgroups and state go (the state root is in
        /run); an image store keeps its directory."""
        with open(os.path.join(self.root, cid, "state.json")) as f:
            st = json.load(f)
        parent = (_proc_stat(st["pid"]) or (None, 0))[1]
        monitor = parent if any(a.endswith("crun-lite-monitor") for a in proc_cmdline(parent)[:1]) else None
        for pid in filter(None, (monitor, st["pid"])):  # the monitor first: it would act on the init's end
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), 5)
        reap()
        for d in [st.get("cgroup_unified")] + list((st.get("cgroup_v1") or {}).values()):
            if d and os.path.isdir(d):
                os.rmdir(d)
        safe_rmtree(os.path.join(self.root, cid))

    def mounts_mentioning(self, text):
        return {m for m in read_mountinfo() if text in m[0] or text in m[2]}

    # ---- host-side identity helpers -------------------------------------------------------

    @staticmethod
    def _own_subid_range(path, ident):
        """(start, count) of the first range of the current user in /etc/subuid or /etc/subgid."""
        names = {str(ident)}
        try:
            names.add(pwd.getpwuid(os.getuid()).pw_name)
        except KeyError:
            pass
        try:
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[0] in names:
                        return int(parts[1]), int(parts[2])
        except (OSError, ValueError):
            pass
        return None


# --------------------------------------------------------------------------------------------
# Image archives made by the tests (OCI layout and docker-archive)


def busybox_layer(h):
    """Adds a busybox + probe root filesystem to a tarfile."""
    def add(t):
        for d in ("bin", "proc", "sys", "dev", "etc", "tmp"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            t.addfile(ti)
        t.add(BUSYBOX, "bin/busybox")
        t.add(h.probe, "probe")
        for applet in ("sh", "echo", "id", "sleep", "cat", "hostname", "ls", "wget"):
            ti = tarfile.TarInfo("bin/" + applet)
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(ti)
    return add


def _tar_bytes(add):
    import io
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        add(t)
    return buf.getvalue()


def _blob(layout, data):
    import hashlib
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def make_oci_archive(h, path, ref, layers=None, config=None, compress=False, tamper=None):
    """An OCI image archive at `path` (or an OCI layout directory when path ends in "/").
    `layers`: callables that add entries to a tarfile, bottom first (default: busybox_layer);
    `config`: the image config's "config" object; `compress`: True (gzip) or "zstd";
    `tamper`: a
    callable run on the layout before it is archived."""
    import gzip
    import hashlib
    layout = path.rstrip("/") if path.endswith("/") else h.mkdtemp("oci")
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    descs, diff_ids = [], []
    for add in layers or [busybox_layer(h)]:
        raw = _tar_bytes(add)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        if compress == "zstd":
            data = subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
        else:
            data = gzip.compress(raw) if compress else raw
        d = _blob(layout, data)
        d["mediaType"] = "application/vnd.oci.image.layer.v1.tar" + (
            "+zstd" if compress == "zstd" else "+gzip" if compress else "")
        descs.append(d)
    cfg = {"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64", "os": "linux",
           "config": config or {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_desc = _blob(layout, json.dumps(cfg).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": dict(config_desc, mediaType="application/vnd.oci.image.config.v1+json"),
                "layers": descs}
    manifest_desc = _blob(layout, json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [dict(manifest_desc,
             mediaType="application/vnd.oci.image.manifest.v1+json",
             annotations={"org.opencontainers.image.ref.name": ref})]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    if tamper:
        tamper(layout, descs)
    if not path.endswith("/"):
        with tarfile.open(path, "w") as t:
            t.add(layout, arcname=".")
    return cfg


def applet_image(h, repo_tag, applets, config):
    """A docker-archive of busybox with the extra applet links `applets` (bin/NAME ->
    busybox) and the image config `config`, in a directory of its own others may read."""
    def links(t):
        for applet in applets:
            ti = tarfile.TarInfo("bin/" + applet)
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(ti)
    path = os.path.join(h.mkdtemp("img"), "app.tar")
    make_docker_archive(h, path, repo_tag, layers=[busybox_layer(h), links], config=config)
    os.chmod(os.path.dirname(path), 0o755)
    return path


def make_docker_archive(h, path, repo_tag, layers=None, config=None, platform=None):
    """A `docker save` archive of the pre-25 kind: manifest.json, <hex>.json, <id>/layer.tar.
    `repo_tag`: its RepoTags' one name, or a list of them; `platform`: (os, architecture),
    default this machine's."""
    import hashlib
    d = h.mkdtemp("docker")
    entries, diff_ids = [], []
    for i, add in enumerate(layers or [busybox_layer(h)]):
        raw = _tar_bytes(add)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        os.makedirs(os.path.join(d, f"l{i}"))
        with open(os.path.join(d, f"l{i}", "layer.tar"), "wb") as f:
            f.write(raw)
        entries.append(f"l{i}/layer.tar")
    cfg = {"architecture": "amd64" if os.uname().machine == "x86_64" else "arm64", "os": "linux",
           "config": config or {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if platform:
        cfg["os"], cfg["architecture"] = platform
    data = json.dumps(cfg).encode()
    name = hashlib.sha256(data).hexdigest() + ".json"
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        tags = repo_tag if isinstance(repo_tag, list) else [repo_tag]
        json.dump([{"Config": name, "RepoTags": tags, "Layers": entries}], f)
    with tarfile.open(path, "w") as t:
        t.add(d, arcname=".")
    return cfg


# --------------------------------------------------------------------------------------------
# Locating things, preparing the unprivileged user


def _newest(candidates):
    existing = [c for c in candidates if os.path.isfile(c) and os.access(c, os.X_OK)]
    if not existing:
        return None
    return max(existing, key=os.path.getmtime)


def find_binary():
    b = os.environ.get("CRUNLITE_BIN")
    if b:
        return os.path.abspath(b) if os.sep in b else (_which(b) or b)
    import glob
    return _newest(glob.glob(os.path.join(REPO_ROOT, "build*", "src", "cli", "crun-lite")))


def installed(path):
    """True for a program outside the source tree that every user can run where it is (the
    Debian package's /usr/bin/crun-lite, `meson install`'s /usr/local/bin/crun-lite): the
    tests use it in place, with the crun-lite-init installed next to it."""
    path = os.path.realpath(path)
    if path.startswith(os.path.realpath(REPO_ROOT) + os.sep):
        return False
    try:
        d = path
        while d != "/":
            d = os.path.dirname(d)
            if not os.stat(d).st_mode & 0o001:
                return False
        return os.stat(path).st_mode & 0o005 == 0o005
    except OSError:
        return False


def _find_helper(env, name, build_subdir):
    """A helper program: $env, an installed crun-lite's own (<prefix>/libexec/crun-lite, as
    the runtime's find_helper looks), else the newest build tree's."""
    p = os.environ.get(env)
    if p:
        return os.path.abspath(p)
    b = find_binary()
    if b and os.path.basename(b) == "crun-lite" and installed(b):
        p = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(b))), "libexec", "crun-lite", name)
        if os.path.isfile(p):
            return p
    import glob
    return _newest(glob.glob(os.path.join(REPO_ROOT, "build*", "src", build_subdir, name)))


def find_init():
    """crun-lite-init (static), copied into every test rootfs as /init when found."""
    return _find_helper("CRUNLITE_INIT", "crun-lite-init", "init")


def find_monitor():
    """crun-lite-monitor (static): what `run -d` leaves watching a container."""
    return _find_helper("CRUNLITE_MONITOR", "crun-lite-monitor", "monitor")


def find_health():
    """crun-lite-health (libcurl): what runs an http healthcheck probe."""
    return _find_helper("CRUNLITE_HEALTH", "crun-lite-health", "health")


def find_probe():
    p = os.environ.get("CRUNLITE_PROBE")
    if p:
        return os.path.abspath(p)
    import glob
    return _newest(glob.glob(os.path.join(REPO_ROOT, "build*", "tests", "fixtures", "probe")))


def _which(name):
    for d in (os.environ.get("PATH") or SYSTEM_PATH).split(":"):
        c = os.path.join(d, name)
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def _ensure_subid(path, user, start, count):
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        for line in f:
            if line.split(":")[0] == user:
                return
        f.seek(0, os.SEEK_END)
        f.write(f"{user}:{start}:{count}\n")


def ensure_test_user():
    """Create TEST_USER and its sub-id ranges if missing (root only). Returns the pwd entry."""
    lock_path = "/run/lock/crltest-setup.lock" if os.path.isdir("/run/lock") else "/tmp/.crltest.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pw = pwd.getpwnam(TEST_USER)
        except KeyError:
            useradd = _which("useradd") or "/usr/sbin/useradd"
            r = subprocess.run([useradd, "--no-create-home", "--home-dir", "/nonexistent",
                                "--shell", "/bin/sh", "--user-group", TEST_USER],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise Skip(f"cannot create user {TEST_USER}: {r.stderr.strip()}")
            pw = pwd.getpwnam(TEST_USER)
        _ensure_subid("/etc/subuid", TEST_USER, SUBID_START, SUBID_COUNT)
        _ensure_subid("/etc/subgid", TEST_USER, SUBID_START, SUBID_COUNT)
        return pw


def _userns_works():
    unshare = _which("unshare")
    if not unshare:
        return False, "unshare(1) not found"
    r = subprocess.run([unshare, "--user", "--map-root-user", "true"], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return False, f"unprivileged user namespaces do not work: {r.stderr.strip()}"
    return True, ""


# A test file that sets this runs its `--as user` pass inside cgroups delegated to
# the test user (created beneath our own, chowned to it), like systemd's user@.service
# delegation.  Others run without, as an unprivileged user usually does here.
DELEGATE_CGROUPS = False

# Files of a cgroup directory its delegate must own (cgroup v2 delegation rules;
# the v1 equivalents are owned along with the directory's other files).
_DELEGATED_FILES = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "tasks")


def delegate_cgroups(pw, name):
    """Creates NAME beneath our own cgroup in every hierarchy and hands it to pw."""
    made = []
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f.read().splitlines():
            _, ctrls, path = line.split(":", 2)
            own[ctrls] = path
    for m in read_mountinfo_full():
        fstype, mount, opts = m
        if fstype == "cgroup2":
            key = ""
        elif fstype == "cgroup":
            ctrls = [o for o in opts.split(",") if o not in ("rw", "ro") and not o.startswith("name=")
                     and o not in ("nosuid", "nodev", "noexec", "relatime", "clone_children")]
            key = next((k for k in own if k and set(k.split(",")) == set(ctrls)), None)
            if key is None:
                continue
        else:
            continue
        d = os.path.join(mount + own.get(key, "/"), name)
        try:
            os.mkdir(d)
        except OSError as e:
            log(f"# cannot delegate {d}: {e}")
            continue
        if fstype == "cgroup" and "cpuset" in key.split(","):
            for f in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(os.path.dirname(d), f)) as src, open(os.path.join(d, f), "w") as dst:
                    dst.write(src.read())
        os.chown(d, pw.pw_uid, pw.pw_gid)
        for f in os.listdir(d):
            if fstype == "cgroup" or f in _DELEGATED_FILES:
                os.chown(os.path.join(d, f), pw.pw_uid, pw.pw_gid)
        made.append(d)
    return made


def read_mountinfo_full():
    """(fstype, mount point, super options) of every mount."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            l, r = left.split(), right.split()
            if len(l) >= 5 and len(r) >= 3:
                out.append((r[0], l[4], r[2]))
    return out


def _reexec_as_user(argv_rest, binary, probe):
    """Root side of `--as user`: prepare the user and a private dir, run the file as the user."""
    try:
        pw = ensure_test_user()
    except Skip as e:
        log(f"SKIP: {e}")
        print("0 passed, 0 failed, 0 skipped")
        return SKIP_RC
    tmp = tempfile.mkdtemp(prefix="crltest-user-", dir="/tmp")
    os.chmod(tmp, 0o700)
    os.chown(tmp, pw.pw_uid, pw.pw_gid)
    xdg = os.path.join(tmp, "xdg")
    os.mkdir(xdg, 0o700)
    os.chown(xdg, pw.pw_uid, pw.pw_gid)
    # The source tree and build may live where the user cannot read (/root): give it
    # copies of the binary, the probe and the test files in its own directory.  An
    # installed binary and init (see installed()) are used where they are.
    own = os.path.join(tmp, "under-test")
    os.mkdir(own, 0o755)
    helpers = {"CRUNLITE_INIT": find_init(), "CRUNLITE_MONITOR": find_monitor(), "CRUNLITE_HEALTH": find_health()}
    copies = {p: p for p in (binary, *helpers.values()) if p and installed(p)}
    for src in ((binary, probe, os.path.abspath(sys.argv[0]), os.path.abspath(__file__)) +
                tuple(p for p in helpers.values() if p)):
        if src in copies:
            continue
        dst = os.path.join(own, os.path.basename(src))
        shutil.copy2(src, dst)
        copies[src] = dst
    # The other test files, for a test that imports another's helpers.
    here = os.path.dirname(os.path.abspath(__file__))
    for name in os.listdir(here):
        if name.startswith("test_") and name.endswith(".py") and not os.path.exists(os.path.join(own, name)):
            shutil.copy2(os.path.join(here, name), os.path.join(own, name))
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    env = {
        "PATH": SYSTEM_PATH, "HOME": tmp, "USER": pw.pw_name, "LOGNAME": pw.pw_name,
        "XDG_RUNTIME_DIR": xdg, "LANG": "C.UTF-8", "TMPDIR": tmp,
        "CRUNLITE_BIN": copies[binary], "CRUNLITE_PROBE": copies[probe], "CRUNLITE_TEST_TMP": tmp,
    }
    for var, p in helpers.items():
        if p and copies[p] != p:
            env[var] = copies[p]
    # Source files some tests use, where the user can read them.
    for var, rel in (("CRUNLITE_PODMAN_CONF", "contrib/podman/containers.conf"),
                     ("CRUNLITE_COMPLETION", "contrib/completion/crun-lite.bash"),
                     ("CRUNLITE_MAN", "man/crun-lite.1.scd"),
                     ("CRUNLITE_HOT_SYMBOLS", "src/cli/hot-symbols.txt")):
        src = os.path.join(REPO_ROOT, rel)
        if os.path.exists(src):
            env[var] = os.path.join(own, os.path.basename(rel))
            shutil.copy2(src, env[var])
    # The man page sources (one per command), as a directory.
    man_dir = os.path.join(REPO_ROOT, "man")
    if os.path.isdir(man_dir):
        env["CRUNLITE_MAN_DIR"] = os.path.join(own, "man")
        shutil.copytree(man_dir, env["CRUNLITE_MAN_DIR"])
    for k, v in os.environ.items():
        if (k.startswith("CRUNLITE_") and k not in env) or k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            env[k] = v  # the sanitizers' options: contrib/test.sh's sanitizer run
    argv = [python, copies[os.path.abspath(sys.argv[0])], "--as", "user"] + argv_rest
    delegated = delegate_cgroups(pw, f"crltest-{os.getpid()}") if DELEGATE_CGROUPS else []
    if delegated:
        env["CRUNLITE_DELEGATED"] = "1"

    def become_user():
        # As root, still: start inside the delegated cgroups, then drop to the user.
        for d in delegated:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write("0")
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    try:
        p = subprocess.Popen(argv, env=env, cwd=tmp, preexec_fn=become_user)
        try:
            rc = p.wait()
        except KeyboardInterrupt:
            p.send_signal(signal.SIGINT)
            rc = p.wait()
    finally:
        for d in sorted(delegated, key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError as e:
                log(f"# warning: cannot remove delegated cgroup {d}: {e}")
        mounted = [m for m in read_mountinfo() if m[0].startswith(tmp)]
        if mounted:
            log(f"# warning: mounts left under {tmp}: {mounted}")
        if os.environ.get("CRUNLITE_KEEP_TMP"):
            log(f"# kept {tmp}")
        else:
            safe_rmtree(tmp)
    return rc


# --------------------------------------------------------------------------------------------
# Runner


def main(test_globals):
    ap = argparse.ArgumentParser()
    ap.add_argument("--as", dest="mode", choices=("root", "user"), default="root")
    ap.add_argument("-k", dest="pattern", action="append", default=[],
                    help="run only tests whose name contains this (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every command")
    ap.add_argument("--list", action="store_true")
    opts = ap.parse_args()
    passthrough = sum((["-k", k] for k in opts.pattern), []) + (["-v"] if opts.verbose else [])

    tests = [(n, f) for n, f in test_globals.items() if n.startswith("test_") and callable(f)]
    if opts.pattern:
        tests = [(n, f) for n, f in tests if any(k in n for k in opts.pattern)]
    if opts.list:
        for n, _ in tests:
            print(n)
        return sys.exit(0)

    def bail(reason):
        log(f"SKIP: {reason}")
        print("0 passed, 0 failed, 0 skipped", flush=True)
        sys.exit(SKIP_RC)

    binary, probe = find_binary(), find_probe()
    if not binary or not os.path.isfile(binary):
        bail(f"runtime binary not found (set CRUNLITE_BIN or build it): {binary}")
    if not probe or not os.path.isfile(probe):
        bail(f"probe not found (set CRUNLITE_PROBE or build tests/fixtures): {probe}")
    if not is_static_elf(BUSYBOX):
        bail(f"{BUSYBOX} missing or not static (install busybox-static)")
    if not is_static_elf(probe):
        bail(f"{probe} is not a static executable")

    euid = os.geteuid()
    if opts.mode == "root" and euid != 0:
        bail("--as root needs root")
    if opts.mode == "user" and euid == 0:
        ok, why = _userns_works()
        if not ok:
            bail(why)
        sys.stdout.flush()
        sys.exit(_reexec_as_user(passthrough, binary, probe))

    if opts.mode == "user":
        ok, why = _userns_works()
        if not ok:
            bail(why)
        for path in (binary, probe):
            if not os.access(path, os.X_OK):
                bail(f"{path} is not executable by uid {euid}")

    set_child_subreaper()
    owned_tmp = os.environ.get("CRUNLITE_TEST_TMP")
    base = tempfile.mkdtemp(prefix="crltest-", dir=owned_tmp or "/tmp")
    os.chmod(base, 0o755)
    h = Harness(opts.mode, binary, probe, base, verbose=opts.verbose)
    log(f"# {os.path.basename(sys.argv[0])} --as {opts.mode}: binary {binary}, probe {probe}, "
        f"uid {os.getuid()}, tmp {base}")

    passed = failed = skipped = 0
    for name, fn in tests:
        h.history = []
        mounts_before = read_mountinfo()
        t0 = time.monotonic()
        status, detail = "ok", ""
        try:
            fn(h)
        except Skip as e:
            status, detail = "skip", str(e)
        except Failure as e:
            status, detail = "FAIL", str(e)
        except Exception:  # a bug in the test or an unexpected runtime behaviour
            status, detail = "FAIL", traceback.format_exc()
        # Cleanup after every test: containers, leftover processes, leftover mounts.
        try:
            left = h.cleanup_containers()
        except Failure as e:
            left = [f"<cleanup failed: {e}>"]
        for p in h.cleanup_paths:
            safe_rmtree(p)
        h.cleanup_paths = []
        stray = wait_until(lambda: not (reap() or descendants()), 5) or descendants()
        stray = [] if stray is True else stray
        new_mounts = {m for m in read_mountinfo() - mounts_before if base in m[0] or base in m[2]}
        if status == "ok" and (stray or new_mounts):
            status = "FAIL"
            detail = (f"leftovers after the test: processes {[(p, proc_cmdline(p)) for p in stray]}"
                      f", mounts {sorted(new_mounts)}")
        for p in stray:  # our own descendants: stop them so the next test starts clean
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        wait_until(lambda: not (reap() or descendants()), 5)
        dt = time.monotonic() - t0
        if status == "ok":
            passed += 1
            log(f"ok      {name} ({dt:.1f}s)")
        elif status == "skip":
            skipped += 1
            log(f"skip    {name}: {detail}")
        else:
            failed += 1
            log(f"FAIL    {name} ({dt:.1f}s)\n    " + detail.replace("\n", "\n    "))
            if left:
                log(f"    containers left behind: {left}")
            if h.history:
                log("    last commands:")
                for r in h.history[-4:]:
                    log("      " + repr(r).replace("\n", "\n      "))
    if os.environ.get("CRUNLITE_KEEP_TMP"):
        log(f"# kept {base}")
    else:
        safe_rmtree(base)
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    if failed:
        sys.exit(1)
    if passed == 0 and skipped > 0:
        sys.exit(SKIP_RC)
    sys.exit(0)
