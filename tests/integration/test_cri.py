#!/usr/bin/env python3
"""Kubernetes' node path: containerd's CRI plugin, driven by crictl, with crun-lite as a
runtime handler (and runc beside it, for comparison).

Each test starts a private containerd: its own config, root, state, temp dir and socket
in the test's directory, inside a private mount namespace (tmpfs over /run and CNI's
/var/lib/cni, so the shims' sockets and CNI's cache stay in there) and a network namespace
of its own, where the CNI bridge (Debian's containernetworking-plugins) gives pods
addresses on a private subnet.  Its config is contrib/containerd/config.toml merged into
Debian's stock /etc/containerd/config.toml (or into `containerd config default`), with the
test's paths on top: the snippet itself is what gets tested.  Pods and containers come
from images the test builds (a busybox pause image and a busybox image with the probe),
imported into containerd's k8s.io namespace.  crictl runs in the containerd's network
namespace, where the CRI streaming server (exec) listens on 127.0.0.1.  Pod cgroups are
nested under the test's own cgroup and removed afterwards.  Root only."""

import hashlib
import json
import os
import shutil
import subprocess
import time

import harness
from harness import check, check_eq, check_in, log, skip, wait_until

SNIPPET = os.path.join(harness.REPO_ROOT, "contrib", "containerd", "config.toml")
RUNTIMECLASS = os.path.join(harness.REPO_ROOT, "contrib", "kubernetes", "runtimeclass.yaml")
DEBIAN_CONFIG = "/etc/containerd/config.toml"
CNI_BIN = "/usr/lib/cni"  # Debian's containernetworking-plugins
SUBNET = "10.88.231.0/24"  # inside the test's own network namespace only
CRI = "io.containerd.grpc.v1.cri"
PAUSE_IMAGE = "localhost/crlt-pause:crlt"
BUSYBOX_IMAGE = "localhost/crlt-bb:crlt"


def _needs(h, pods=True):
    """Skips unless containerd can run here, and (pods) crictl and the CNI plugins too."""
    if h.rootless:
        skip("containerd's CRI plugin runs as root here (rootless containerd needs RootlessKit)")
    try:
        import tomllib  # noqa: F401  (Python 3.11+: Debian 12's python3)
    except ImportError:
        skip("Python's tomllib is missing (Python 3.11 or later reads containerd's TOML)")
    for tool, pkg in (("containerd", "containerd"), ("ctr", "containerd"),
                      ("containerd-shim-runc-v2", "containerd"), ("crictl", None),
                      ("unshare", "util-linux"), ("nsenter", "util-linux"), ("ip", "iproute2")):
        if not pods and tool in ("containerd-shim-runc-v2", "crictl", "nsenter"):
            continue
        if not shutil.which(tool):
            if pkg is None:
                skip("crictl is not on PATH (build it from kubernetes-sigs/cri-tools; .ci/run "
                     "adds ../shared/tools, where this project's CI keeps one)")
            skip(f"{tool} is not installed (contrib/setup-deps.sh --containerd installs {pkg})")
    for plugin in ("bridge", "host-local", "loopback") if pods else ():
        if not os.access(os.path.join(CNI_BIN, plugin), os.X_OK):
            skip(f"CNI plugin {CNI_BIN}/{plugin} is missing (contrib/setup-deps.sh --containerd "
                 "installs containernetworking-plugins)")


# --------------------------------------------------------------------------------------------
# containerd's TOML: read with tomllib, merged as dicts, written back for containerd


def _toml_parse(text, what):
    import tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise harness.Failure(f"{what} is not valid TOML: {e}\n{text}")


def _merge(into, more):
    """Deep merge: tables merge key by key, anything else is replaced."""
    for k, v in more.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v
    return into


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string for everything containerd's config holds
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def _toml_key(k):
    return k if k and all(c.isalnum() or c in "-_" for c in k) else json.dumps(k)


def _toml_dump(d, prefix=()):
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            path = prefix + (k,)
            lines += ["", "[" + ".".join(_toml_key(p) for p in path) + "]", _toml_dump(v, path)]
    return "\n".join(lines)


def _debian_stock_config():
    """Debian's shipped /etc/containerd/config.toml as text, or None when it was edited here
    (its md5 differs from the one dpkg recorded) or is missing."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "containerd"], capture_output=True,
                       text=True)
    want = next((l.split()[1] for l in r.stdout.splitlines()
                 if l.split()[:1] == [DEBIAN_CONFIG]), None)
    try:
        with open(DEBIAN_CONFIG, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data.decode() if want and hashlib.md5(data).hexdigest() == want else None


def _snippet_text():
    with open(SNIPPET) as f:
        return f.read()


def _appended(base_text, snippet_text):
    """What a user gets following the snippet's comment: its lines after `version = 2`
    appended to an existing config."""
    lines = snippet_text.splitlines()
    at = next(i for i, l in enumerate(lines) if l.strip().replace(" ", "") == "version=2")
    return base_text.rstrip("\n") + "\n\n" + "\n".join(lines[at + 1:]) + "\n"


def _without_tables(text, name_part):
    """The TOML text without the tables whose header contains name_part (with their keys)."""
    out, dropping = [], False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("[") and not s.startswith("[["):
            dropping = name_part in s
        if not dropping:
            out.append(line)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# The private containerd


def _own_cgroup():
    """This process's cgroup path: the memory controller's on v1 or hybrid hosts (the one
    this machine's sessions are limited by), else the unified one."""
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f.read().splitlines():
            _, ctrls, path = line.split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                paths[c] = path
    return paths.get("memory", paths.get("", "/"))


def _cgroup_mounts():
    return [mnt for fstype, mnt, _ in harness.read_mountinfo_full() if fstype in ("cgroup", "cgroup2")]


# Runs as the private containerd's parent, in its new mount and network namespaces: tmpfs
# over /run (the shims' sockets under /run/containerd/s, iptables' lock) and over CNI's
# cache and IPAM dirs, loopback up (CRI's stream server listens on 127.0.0.1), then containerd.
_LAUNCH = """set -e
mount -t tmpfs -o mode=0755 crlt-cri-run /run
if [ -d /var/lib/cni ]; then mount -t tmpfs -o mode=0755 crlt-cri-cni /var/lib/cni
else mount -t tmpfs -o mode=0755 crlt-cri-varlib /var/lib; fi
ip link set lo up
exec containerd --config "$1"
"""


class Containerd:
    """A private containerd with the CRI plugin; `base_text` is the config the snippet is
    merged into (Debian's stock file by default)."""

    def __init__(self, h, base_text=None, merge_snippet=True, pods=True):
        _needs(h, pods)
        self.h = h
        self.base = base = h.mkdtemp("cri")
        self.sock = os.path.join(base, "c.sock")
        self.runc_root = os.path.join(base, "runc-root")
        self.crun_root = os.path.join(base, "crun-lite-root")
        self.cg_parent = os.path.join(_own_cgroup(), f"crlt-cri-{os.getpid()}")
        # The cgroup directories on the way to the pods' parent that do not exist yet, in
        # every hierarchy (on hybrid hosts our memory cgroup's path is new to the others):
        # removed again at the end, deepest first.
        self.cg_new = []
        for m in _cgroup_mounts():
            d = os.path.join(m, self.cg_parent.lstrip("/"))
            while d != m and not os.path.exists(d):
                self.cg_new.append(d)
                d = os.path.dirname(d)
        self.cg_new.sort(key=len, reverse=True)
        self.pods = []  # ids of the pods a test still has
        self.with_pods = pods
        self.proc = None
        self.log = None
        if base_text is None:
            base_text = _debian_stock_config()
            if base_text is None:
                log(f"# {DEBIAN_CONFIG} is not Debian's as shipped: the snippet goes into an empty config")
                base_text = "version = 2\n"
        text = _appended(base_text, _snippet_text()) if merge_snippet else base_text
        self.config = _toml_parse(text, "the merged containerd config")
        cni_dir = os.path.join(base, "net.d")
        os.mkdir(cni_dir)
        with open(os.path.join(cni_dir, "10-crlt.conflist"), "w") as f:
            json.dump({"cniVersion": "1.0.0", "name": "crlt-cri", "plugins": [
                {"type": "bridge", "bridge": "crlt0", "isGateway": True, "ipMasq": False,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": SUBNET}]],
                          "dataDir": os.path.join(base, "ipam")}}]}, f)
        runtimes = {"crun-lite": {"options": {"BinaryName": h.bin, "Root": self.crun_root}},
                    "runc": {"options": {"Root": self.runc_root}}}
        _merge(self.config, {
            "root": os.path.join(base, "root"), "state": os.path.join(base, "state"),
            "temp": os.path.join(base, "tmp"),
            "grpc": {"address": self.sock}, "ttrpc": {"address": self.sock + ".ttrpc"},
            "plugins": {
                "io.containerd.internal.v1.opt": {"path": os.path.join(base, "opt")},
                CRI: {
                    "sandbox_image": PAUSE_IMAGE,
                    # No CAP_SYS_RESOURCE here: the pause container's oom_score_adj -998 fails.
                    "restrict_oom_score_adj": True,
                    "disable_apparmor": True,  # never load profiles into the host's kernel
                    "netns_mounts_under_state_dir": True,
                    "stream_server_address": "127.0.0.1",
                    "cni": {"bin_dir": CNI_BIN, "conf_dir": cni_dir},
                    "containerd": {"runtimes": runtimes} if pods else {},
                },
            },
        })
        os.mkdir(os.path.join(base, "tmp"))
        self.conf = os.path.join(base, "config.toml")
        with open(self.conf, "w") as f:
            f.write(_toml_dump(self.config) + "\n")
        with open(os.path.join(base, "crictl.yaml"), "w") as f:
            f.write(f"runtime-endpoint: unix://{self.sock}\nimage-endpoint: unix://{self.sock}\n"
                    "timeout: 60\n")
        self.log_path = os.path.join(base, "containerd.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["unshare", "-m", "-n", "--propagation", "private", "--",
                                      "sh", "-c", _LAUNCH, "crlt-cri", self.conf],
                                     stdout=self.log, stderr=self.log)
        harness._tracked.add(self.proc.pid)
        wait_until(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 30)
        if not os.path.exists(self.sock):
            why = f"exited {self.proc.returncode}" if self.proc.poll() is not None else "did not start in 30 s"
            tail = self.log_tail()
            self.close()
            raise harness.Failure(f"containerd {why}\n{tail}")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        try:
            if self.with_pods and self.proc and self.proc.poll() is None:
                for pod in self.crictl("pods", "-q").out.split():
                    self.crictl("stopp", pod)
                    self.crictl("rmp", "-f", pod)
        finally:
            busy = self.close()
        if busy and exc_type is None:
            raise harness.Failure(f"cgroups left behind: {busy}")
        if busy:
            log(f"# cgroups left behind: {busy}")
        return False

    def close(self):
        if self.proc:
            harness.stop_containerd(self.proc)  # and the shims that outlive their pods
        wait_until(lambda: not (harness.reap() or harness.descendants()), 10)
        if self.log:
            self.log.close()
        # The pods' cgroup parent, what the runtimes left below it, the directories above it.
        busy = []
        for d in self.cg_new:
            for sub in sorted((w[0] for w in os.walk(d)), key=len, reverse=True):
                try:
                    os.rmdir(sub)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    busy.append(f"{sub}: {e.strerror}")
        return busy

    def log_tail(self, n=30):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    # ---- clients ---------------------------------------------------------------------------

    def ctr(self, *args, timeout=60):
        return self.h.cmd(["ctr", "-a", self.sock] + list(args), timeout=timeout)

    def ctr_ok(self, *args, timeout=60):
        return self._ok(self.ctr(*args, timeout=timeout))

    def _ok(self, r):
        if r.rc != 0:
            raise harness.Failure(f"failed\n{r!r}\n{self.log_tail()}")
        return r

    def crictl_argv(self, *args):
        """crictl in containerd's network namespace (the stream server's 127.0.0.1)."""
        return ["nsenter", f"--net=/proc/{self.proc.pid}/ns/net", "--", shutil.which("crictl"),
                "--config", os.path.join(self.base, "crictl.yaml")] + [str(a) for a in args]

    def crictl(self, *args, timeout=90):
        return self.h.cmd(self.crictl_argv(*args), timeout=timeout)

    def crictl_ok(self, *args, timeout=90):
        return self._ok(self.crictl(*args, timeout=timeout))

    def plugin_status(self, plugin_id):
        for line in self.ctr_ok("plugins", "ls").out.splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 4 and f"{cols[0]}.{cols[1]}" == plugin_id:
                return cols[-1]
        return None

    def cri_config(self):
        """The CRI plugin's runtime config, as `crictl info` shows it; None without crictl."""
        if not shutil.which("crictl"):
            log("# crictl is not on PATH: the CRI plugin loaded; its handlers are not inspected")
            return None
        return self.crictl_ok("info").json()["config"]["containerd"]

    def import_images(self):
        for ref, entrypoint in ((PAUSE_IMAGE, ["/bin/sleep", "inf"]), (BUSYBOX_IMAGE, ["sh"])):
            archive = os.path.join(self.base, ref.split("/")[1].replace(":", "-") + ".tar")
            harness.make_oci_archive(self.h, archive, ref.split(":")[1],
                                     config={"Env": ["PATH=/bin"], "Entrypoint": entrypoint})
            self.ctr_ok("-n", "k8s.io", "images", "import", "--base-name", ref.split(":")[0], archive)
        # CRI learns about the images from containerd's events.
        check(wait_until(lambda: all(r in self.crictl("images").out
                                     for r in ("localhost/crlt-pause", "localhost/crlt-bb")), 20),
              f"crictl images lists the imported images\n{self.crictl('images')!r}")

    # ---- pods and containers ---------------------------------------------------------------

    def pod_config(self, name):
        """A pod's config file (crictl runp, and create with it again)."""
        path = os.path.join(self.base, f"pod-{name}.json")
        logs = os.path.join(self.base, "logs", name)
        os.makedirs(logs)
        with open(path, "w") as f:
            json.dump({"metadata": {"name": name, "namespace": "crlt", "uid": f"{name}-{os.getpid()}",
                                    "attempt": 0},
                       "hostname": name, "log_directory": logs,
                       "linux": {"cgroup_parent": self.cg_parent}}, f)
        return path

    def container_config(self, name, command):
        path = os.path.join(self.base, f"ctr-{name}.json")
        with open(path, "w") as f:
            json.dump({"metadata": {"name": name}, "image": {"image": BUSYBOX_IMAGE},
                       "command": command, "log_path": f"{name}.log",
                       # profile_type 0: RuntimeDefault, containerd's default seccomp profile.
                       "linux": {"security_context": {"seccomp": {"profile_type": 0}}}}, f)
        return path

    def inspect(self, cid):
        return self.crictl_ok("inspect", "-o", "json", cid).json()

    def state_of(self, cid):
        return self.inspect(cid)["status"]["state"]


# --------------------------------------------------------------------------------------------
# The steps, for one runtime handler


def _pod_steps(c, handler, times):
    """runp, create, start, exec (sync, streaming, -t), logs, stats, stop, rm, stopp, rmp for
    a pod run by `handler`, then a pod whose container fails.  Records each step's time."""
    h = c.h
    rt_root = os.path.join(c.crun_root if handler == "crun-lite" else c.runc_root, "k8s.io")
    rt_bin = h.bin if handler == "crun-lite" else shutil.which("runc")

    log_from = os.path.getsize(c.log_path)

    def step(name, *args, **kw):
        r = c.crictl_ok(*args, **kw)
        times[name] = r.duration
        return r

    def via_runtime(cid):
        """The container as its OCI runtime (the handler's binary) sees it."""
        r = h.cmd([rt_bin, "--root", rt_root, "state", cid])
        check_eq(r.rc, 0, f"{handler} knows container {cid[:12]}\n{r!r}")
        return r.json()

    pod_cfg = c.pod_config(f"{handler}-pod")
    pod = step("runp", "runp", "--runtime", handler, pod_cfg).out.strip()
    c.pods.append(pod)
    info = c.crictl_ok("inspectp", "-o", "json", pod).json()
    check_eq(info["status"]["state"], "SANDBOX_READY", "the pod is ready")
    check_eq(info["info"]["runtimeHandler"], handler, "the pod's runtime handler")
    ip = info["status"]["network"]["ip"]
    check(ip.startswith(SUBNET.rsplit(".", 1)[0] + "."), f"the pod's address {ip!r} is in {SUBNET}")
    check_eq(via_runtime(pod)["status"], "running", f"{handler} runs the pause container")

    cfg = c.container_config("main", ["sh", "-c", "echo main-started; trap 'echo got-term; exit 0' TERM; "
                                      "sleep 1000 & wait"])
    cid = step("create", "create", "--no-pull", pod, cfg, pod_cfg).out.strip()
    check_eq(c.state_of(cid), "CONTAINER_CREATED", "after create")
    step("start", "start", cid)
    check_eq(c.state_of(cid), "CONTAINER_RUNNING", "after start")
    st = via_runtime(cid)
    check_eq(st["status"], "running", f"{handler} runs the container")

    # The container is in the pod: the pod's network namespace, our cgroup parent.
    r = step("exec -s", "exec", "-s", cid, "sh", "-c", "echo exec-sync-ok; id -u; "
             "busybox ip -4 -o addr show eth0; cat /proc/self/cgroup; grep Seccomp: /proc/self/status")
    check_in("exec-sync-ok\n0\n", r.out, "exec -s: output and uid")
    check_in(f"inet {ip}/", r.out, "exec -s: the container has the pod's address")
    check_in(c.cg_parent + "/", r.out, "exec -s: the container sits under the pod's cgroup parent")
    check_in("Seccomp:\t2", r.out, "exec -s: the RuntimeDefault seccomp profile (filter mode)")
    r = c.crictl("exec", "-s", cid, "sh", "-c", "exit 7")
    check(r.rc != 0 and "exited with 7" in r.err, f"exec -s: a failing command's status reaches crictl\n{r!r}")

    r = step("exec", "exec", cid, "sh", "-c", "echo exec-stream-ok; test -t 1 || echo no-tty")
    check_eq(r.out.split(), ["exec-stream-ok", "no-tty"], "exec (streaming, no tty)")
    r = c.crictl("exec", cid, "sh", "-c", "exit 5")
    check(r.rc != 0 and "exit code 5" in r.err, f"exec: a failing command's status reaches crictl\n{r!r}")

    # crictl wants -i with -t (kubectl exec -it): stdin and the terminal are the pty.
    from test_containerd import _on_pty  # root only, so from the source tree
    t0 = time.monotonic()
    rc, out = _on_pty(h, c.crictl_argv("exec", "-i", "-t", cid, "sh", "-c", "tty; echo pty-exec-ok"),
                      b"pty-exec-ok")
    times["exec -it"] = time.monotonic() - t0
    check_eq(rc, 0, f"crictl exec -it\n{out}")
    check_in("/dev/pts/", out, "exec -t: the process has a pty")
    check_in("pty-exec-ok", out, "exec -t: output through the pty")

    r = step("logs", "logs", cid)
    check_in("main-started", r.out, "logs: the container's output")

    def stats():
        r = c.crictl_ok("stats", "-o", "json", "--id", cid)
        s = r.json().get("stats") or [{}]
        return r if int(s[0].get("memory", {}).get("workingSetBytes", {}).get("value", 0)) > 0 else None
    r = wait_until(stats, 20, 0.5)  # containerd samples the cgroup every few seconds
    check(r, f"stats: a working set from the container's cgroup\n{c.crictl('stats', '-o', 'json', '--id', cid)!r}")
    times["stats"] = r.duration
    s = r.json()["stats"][0]
    check_eq(s["attributes"]["id"], cid, "stats: the container")
    check("cpu" in s and "memory" in s, f"stats: cpu and memory\n{s}")

    step("stop", "stop", "--timeout", "10", cid)
    st = c.inspect(cid)["status"]
    check_eq((st["state"], st["exitCode"]), ("CONTAINER_EXITED", 0), "stop: SIGTERM handled, exit 0")
    check_in("got-term", c.crictl_ok("logs", cid).out, "stop: the container saw SIGTERM")
    step("rm", "rm", cid)
    check(cid not in c.crictl_ok("ps", "-a", "-q").out, "rm: the container is gone")
    step("stopp", "stopp", pod)
    check_eq(c.crictl_ok("inspectp", "-o", "json", pod).json()["status"]["state"], "SANDBOX_NOTREADY",
             "stopp: the pod is stopped")
    r = h.cmd([rt_bin, "--root", rt_root, "state", pod])
    check(r.rc != 0, f"stopp: {handler} no longer has the pause container\n{r!r}")
    step("rmp", "rmp", pod)
    c.pods.remove(pod)
    check(pod not in c.crictl_ok("pods", "-q").out, "rmp: the pod is gone")

    # A pod whose container fails: Exited, with its status.
    t0 = time.monotonic()
    pod_cfg = c.pod_config(f"{handler}-failpod")
    pod = c.crictl_ok("runp", "--runtime", handler, pod_cfg).out.strip()
    c.pods.append(pod)
    cfg = c.container_config("failing", ["sh", "-c", "sleep 1001 & echo failing-now >&2; exit 3"])
    cid = c.crictl_ok("create", "--no-pull", pod, cfg, pod_cfg).out.strip()
    c.crictl_ok("start", cid)
    check(wait_until(lambda: c.state_of(cid) == "CONTAINER_EXITED", 20), "the failing container exits")
    times["failing pod (runp..exited)"] = time.monotonic() - t0
    st = c.inspect(cid)["status"]
    check_eq((st["exitCode"], st["reason"]), (3, "Error"), "the failing container's status")
    row = [l for l in c.crictl_ok("ps", "-a", "--id", cid).out.splitlines() if cid[:13] in l]
    check(row and "Exited" in row[0], f"crictl ps -a shows it Exited: {row}")
    check_in("failing-now", c.crictl_ok("logs", cid).err, "its stderr is in the logs")
    c.crictl_ok("rm", cid)
    c.crictl_ok("stopp", pod)
    c.crictl_ok("rmp", pod)
    c.pods.remove(pod)
    # The containers share the pod's PID namespace (CRI's default), so their background
    # children outlive sh: when the init exits, the shim has them killed with `kill --all`
    # on the stopped container, which must succeed (else the exit is handled a retry later).
    c.log.flush()
    with open(c.log_path, errors="replace") as f:
        f.seek(log_from)
        complaints = [l for l in f if "failed to kill init's children" in l]
    check(not complaints, f"the shim's kill --all after the init exited failed: {complaints}")


# --------------------------------------------------------------------------------------------
# Tests


def test_snippet_loads_with_debian_config(h):
    """contrib/containerd/config.toml appended to Debian's stock config: CRI loads, with
    crun-lite as a handler and runc still the default."""
    _needs(h, pods=False)
    stock = _debian_stock_config()
    if stock is None:
        skip(f"{DEBIAN_CONFIG} is missing or not Debian's as shipped (dpkg's md5 differs)")
    with Containerd(h, base_text=stock, pods=False) as c:
        check_eq(c.plugin_status(CRI), "ok", f"the CRI plugin loads\n{c.log_tail()}")
        cfg = c.cri_config()
        if cfg:
            check_eq(cfg["defaultRuntimeName"], "runc", "runc stays the default")
            check_eq(cfg["runtimes"]["crun-lite"]["options"]["BinaryName"], "/usr/local/bin/crun-lite",
                     "the snippet's crun-lite handler (where `meson install` puts it)")
            check_eq(cfg["runtimes"]["runc"]["runtimeType"], "io.containerd.runc.v2", "runc's handler")


def test_snippet_loads_with_default_config(h):
    """The snippet merged into `containerd config default` (key by key, or its crun-lite
    tables appended as its comment says): CRI loads."""
    _needs(h, pods=False)
    default = h.cmd(["containerd", "config", "default"])
    check_eq(default.rc, 0, f"containerd config default\n{default!r}")
    merged = _merge(_toml_parse(default.out, "containerd config default"),
                    _toml_parse(_snippet_text(), SNIPPET))
    appended = _toml_parse(_appended(default.out, _without_tables(_snippet_text(), ".runtimes.runc]")),
                           "containerd config default + the snippet's crun-lite tables")
    check_eq(appended, merged, "appending the crun-lite tables is the key-by-key merge")
    with Containerd(h, base_text=default.out, merge_snippet=False, pods=False) as c:
        check_eq(c.plugin_status(CRI), "ok", f"CRI loads with `containerd config default`\n{c.log_tail()}")
    with Containerd(h, base_text=_appended(default.out, _without_tables(_snippet_text(), ".runtimes.runc]")),
                    merge_snippet=False, pods=False) as c:
        check_eq(c.plugin_status(CRI), "ok", f"the CRI plugin loads\n{c.log_tail()}")
        cfg = c.cri_config()
        if cfg:
            check_eq(cfg["defaultRuntimeName"], "runc", "runc stays the default")
            check_in("crun-lite", cfg["runtimes"], "the crun-lite handler")


def test_runtimeclass(h):
    """contrib/kubernetes/runtimeclass.yaml names the snippet's handler."""
    if h.rootless:
        skip("root only, like the rest of this file (the files are checked once)")
    with open(RUNTIMECLASS) as f:
        lines = [l.split("#")[0].rstrip() for l in f]
    fields = {l.split(":", 1)[0].strip(): l.split(":", 1)[1].strip() for l in lines if ":" in l}
    check_eq(fields.get("kind"), "RuntimeClass", "kind")
    check_eq(fields.get("apiVersion"), "node.k8s.io/v1", "apiVersion")
    check_eq(fields.get("handler"), "crun-lite", "handler")
    check_in('runtimes.crun-lite]', _snippet_text(), "the snippet defines that handler")


def test_cri_pods_crun_lite_and_runc(h):
    """Every step with crun-lite as the pod's handler, then with runc in the same containerd;
    prints both handlers' times."""
    with Containerd(h) as c:
        check_eq(c.plugin_status(CRI), "ok", f"the CRI plugin loads\n{c.log_tail()}")
        c.import_images()
        # An untimed first pod, with no --runtime (containerd's default, runc): it makes the
        # CNI bridge and the pause image's snapshot, which the first timed runp would pay for.
        pod = c.crictl_ok("runp", c.pod_config("warm-up")).out.strip()
        c.pods.append(pod)
        info = c.crictl_ok("inspectp", "-o", "json", pod).json()
        check_eq(info["status"]["state"], "SANDBOX_READY", "a pod with the default handler")
        if shutil.which("runc"):
            r = h.cmd(["runc", "--root", os.path.join(c.runc_root, "k8s.io"), "state", pod])
            check_eq(r.rc, 0, f"the default handler is runc\n{r!r}")
        c.crictl_ok("stopp", pod)
        c.crictl_ok("rmp", pod)
        c.pods.remove(pod)
        times = {}
        handlers = ["crun-lite"] + (["runc"] if shutil.which("runc") else [])
        for handler in handlers:
            times[handler] = {}
            _pod_steps(c, handler, times[handler])
        if "runc" not in handlers:
            log("# runc is not installed: crun-lite's times only")
        log("# CRI steps: seconds per crictl call, same containerd, same images")
        log("# " + f"{'step':28}" + "".join(f"{hd:>11}" for hd in handlers))
        for name in times["crun-lite"]:
            log("# " + f"{name:28}" + "".join(f"{times[hd].get(name, 0):11.3f}" for hd in handlers))
        log("# " + f"{'total':28}" + "".join(f"{sum(times[hd].values()):11.3f}" for hd in handlers))


if __name__ == "__main__":
    harness.main(globals())
