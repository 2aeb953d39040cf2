#!/usr/bin/env python3
"""The systemd cgroup driver (--systemd-cgroup), against a real systemd: a Debian rootfs with
systemd, built by mmdebstrap once per machine (cached), is booted as PID 1 in a crun-lite
container (cgroup namespace, a writable cgroup2 mount, tmpfs /run), and the built crun-lite runs
containers inside it with the systemd driver. Checked there: the transient scope (Slice,
Delegate, ControlGroup, the resource properties) with the init in its cgroup, `update` through
the unit's properties, pause/ps/stats/kill on the scope, runc's slice:prefix:name, `delete` and a
killed init leaving no unit, bad cgroupsPath values leaving nothing, rootless under the user's
systemd (user@1000.service: run, exec, update, delete), containerd's shim calling crun-lite with
--systemd-cgroup, and a clean shutdown on SIGRTMIN+3. On these hosts cgroup2 has no controllers (they are bound to v1), so properties are
checked, not enforcement (test_cgroups.py checks enforcement). Without systemd, and rootless
without a user manager, the driver's errors name why."""

import hashlib
import json
import os
import shutil
import subprocess
import time

import harness
from harness import check, check_eq, check_in

PACKAGES = "systemd,systemd-sysv,dbus,dbus-user-session,procps,containerd"
USER, USER_ID = "crltest", 1000  # made in the rootfs, for the user's systemd (rootless)
MMDEBSTRAP = ["mmdebstrap", "--quiet", "--variant=minbase", "--include=" + PACKAGES,
              f'--customize-hook=chroot "$1" useradd --no-create-home -u {USER_ID} {USER}',
              # host-network pods copy these two (test_cri_systemd_cgroup)
              '--customize-hook=printf "127.0.0.1 localhost\\n" > "$1/etc/hosts"',
              '--customize-hook=printf "nameserver 127.0.0.1\\n" > "$1/etc/resolv.conf"',
              "bookworm"]
# Built once per machine and mmdebstrap command (another command is another cache); CI
# machines start empty.
ROOTFS_CACHE = os.environ.get("CRUNLITE_SYSTEMD_ROOTFS", "/var/tmp/crun-lite-tests/systemd-rootfs-" +
                              hashlib.sha256(repr(MMDEBSTRAP).encode()).hexdigest()[:16])


def _rootfs():
    """The cached systemd rootfs, built by mmdebstrap when missing (skips when it cannot be)."""
    done = os.path.join(ROOTFS_CACHE, ".complete")
    if os.path.exists(done):
        return os.path.join(ROOTFS_CACHE, "rootfs")
    if not shutil.which("mmdebstrap"):
        harness.skip("mmdebstrap is not installed (contrib/setup-deps.sh --systemd)")
    os.makedirs(ROOTFS_CACHE, exist_ok=True)
    tmp = os.path.join(ROOTFS_CACHE, "rootfs.new")
    shutil.rmtree(tmp, ignore_errors=True)
    r = subprocess.run(MMDEBSTRAP + [tmp],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        harness.skip(f"mmdebstrap could not build the systemd rootfs (Debian's mirror?): {r.stdout[-500:]}")
    shutil.rmtree(os.path.join(ROOTFS_CACHE, "rootfs"), ignore_errors=True)
    os.rename(tmp, os.path.join(ROOTFS_CACHE, "rootfs"))
    open(done, "w").close()
    return os.path.join(ROOTFS_CACHE, "rootfs")


def _build_dir(h):
    """The build tree the runtime under test comes from, bound into the systemd container at the
    same path, so it finds its helpers there."""
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(h.bin))))
    helper = os.path.join(build, "src", "systemd", "crun-lite-systemd")
    if not os.path.exists(helper):
        harness.skip(f"crun-lite-systemd was not built ({helper}): install libsystemd-dev")
    return build


BOOTED = ["/lib/systemd/systemd"]


def _systemd_config(rootfs, build, work):
    """A container for systemd as PID 1: as podman's --systemd=always sets one up."""
    caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
            "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN", "CAP_SYS_CHROOT",
            "CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP", "CAP_SYS_NICE",
            "CAP_IPC_LOCK", "CAP_LINUX_IMMUTABLE", "CAP_NET_RAW"]
    tmpfs = lambda dest, mode: {"destination": dest, "type": "tmpfs", "source": "tmpfs",
                                "options": ["nosuid", "nodev", f"mode={mode}"]}
    return {
        "ociVersion": "1.2.0",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": BOOTED, "cwd": "/",
                    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "container=crun-lite"],
                    "capabilities": {k: caps for k in ("bounding", "effective", "permitted")}},
        "root": {"path": rootfs, "readonly": True},
        "hostname": "sd",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup", "options": ["nosuid", "noexec", "nodev"]},
            tmpfs("/run", "755"), tmpfs("/tmp", "1777"), tmpfs("/var", "755"), tmpfs("/home", "755"),
            {"destination": build, "type": "bind", "source": build, "options": ["rbind", "ro"]},
            {"destination": work, "type": "bind", "source": work, "options": ["rbind"]},
        ],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup", "network")]},
    }


def _with_systemd(h, body):
    """body(h, sd) with systemd booted; the systemd container is deleted after, whatever happens."""
    sd = Systemd(h)
    try:
        body(h, sd)
    finally:
        h.rt("delete", "--force", sd.cid, timeout=60)


class Systemd:
    """systemd booted in a crun-lite container; `sh` runs a shell command in it."""

    def __init__(self, h):
        if h.rootless:
            harness.skip("booting systemd as PID 1 needs root here; the rootless driver is checked as root "
                         "through the user's systemd inside (test_rootless_user_manager)")
        rootfs = _rootfs()
        self.h, self.build = h, _build_dir(h)
        self.work = h.mkdtemp("sdwork")
        os.chmod(self.work, 0o755)
        b = h.bundle(["true"], name="sd")
        b.config = _systemd_config(rootfs, self.build, self.work)
        b.save()
        self.cid = h.new_id("sd")
        h.rt_ok("run", "-d", "--bundle", b.path, self.cid)
        self.env = {"CRUNLITE_INIT": os.path.join(self.build, "src", "init", "crun-lite-init"),
                    "CRUNLITE_MONITOR": os.path.join(self.build, "src", "monitor", "crun-lite-monitor"),
                    "CRUNLITE_SYSTEMD": os.path.join(self.build, "src", "systemd", "crun-lite-systemd")}
        state = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = self.sh("systemctl is-system-running").out.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.3)
        check(state == "running", f"systemd did not boot to `running` (is {state!r}): "
                                  f"{self.sh('systemctl --failed --no-pager').out}")

    def sh(self, script, timeout=60):
        env = [f"{k}={v}" for k, v in self.env.items()]
        return self.h.rt("exec", "--env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", *sum((["--env", e] for e in env), []),
                         self.cid, "sh", "-c", script, timeout=timeout)

    def sh_ok(self, script, timeout=60):
        r = self.sh(script, timeout=timeout)
        if r.rc != 0:
            raise harness.Failure(f"in the systemd container: {script}\n{r!r}")
        return r.out

    def crun(self, *args):
        """crun-lite inside, with the systemd driver and its own state root (on the tmpfs /run)."""
        return self.sh(" ".join([self.h.bin, "--systemd-cgroup"] + [_q(a) for a in args]))

    def show(self, unit, *props):
        out = self.sh_ok(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in props))
        return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)

    def inner_bundle(self, args, resources=None, cgroups_path=None, rootless=False):
        """A busybox bundle in the shared work dir, for root inside or (rootless) for USER."""
        b = self.h.bundle(args, name="inner")
        dst = os.path.join(self.work, os.path.basename(b.path))
        shutil.move(b.path, dst)
        cfg = harness.default_config(rootless, USER_ID, USER_ID, args)
        # Within what the systemd container has.
        cfg["process"]["capabilities"] = {k: ["CAP_KILL", "CAP_CHOWN"] for k in ("bounding", "effective", "permitted")}
        if resources is not None:
            cfg["linux"]["resources"] = resources
        if cgroups_path is not None:
            cfg["linux"]["cgroupsPath"] = cgroups_path
        with open(os.path.join(dst, "config.json"), "w") as f:
            json.dump(cfg, f)
        return dst


def _q(a):
    return "'" + str(a).replace("'", "'\\''") + "'"


def test_scope_properties_update_and_delete(h):
    """run -d with the systemd driver: a scope in system.slice with Delegate=yes and the
    resources as properties, the init in its cgroup; update changes the properties; pause, ps,
    events --stats and kill --all work on the scope; delete leaves no unit and no cgroup."""
    _with_systemd(h, _scope_properties_update_and_delete)


def _scope_properties_update_and_delete(h, sd):
    resources = {"memory": {"limit": 100 << 20, "swap": 150 << 20}, "pids": {"limit": 77},
                 "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
                 "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10,
                                                                  "minor": 200, "access": "rw"}]}
    b = sd.inner_bundle(["sleep", "1000"], resources=resources)
    r = sd.crun("run", "-d", "--bundle", b, "c1")
    check(r.rc == 0, f"run -d with --systemd-cgroup failed\n{r!r}")
    st = json.loads(sd.crun("state", "c1").out)
    unit = "crun-lite-c1.scope"
    props = sd.show(unit, "ActiveState", "Slice", "Delegate", "ControlGroup", "MemoryMax", "MemorySwapMax",
                    "TasksMax", "CPUWeight", "CPUQuotaPerSecUSec", "AllowedCPUs", "DevicePolicy", "DeviceAllow",
                    "Description")
    check_eq(props.get("ActiveState"), "active", "the scope's state")
    check_eq(props.get("Slice"), "system.slice", "Slice")
    check_eq(props.get("Delegate"), "yes", "Delegate")
    check_eq(props.get("ControlGroup"), "/system.slice/" + unit, "ControlGroup")
    check_eq(props.get("MemoryMax"), str(100 << 20), "MemoryMax")
    check_eq(props.get("MemorySwapMax"), str(50 << 20), "MemorySwapMax (swap alone)")
    check_eq(props.get("TasksMax"), "77", "TasksMax")
    check_eq(props.get("CPUWeight"), "20", "CPUWeight from shares 512")
    check_eq(props.get("CPUQuotaPerSecUSec"), "500ms", "CPUQuotaPerSecUSec")
    check_eq(props.get("AllowedCPUs"), "0", "AllowedCPUs")
    check_eq(props.get("DevicePolicy"), "strict", "DevicePolicy")
    check_in("crun-lite container c1", props.get("Description", ""), "Description")
    allow = sd.sh_ok(f"systemctl show {unit} -p DeviceAllow")
    check_in("/dev/char/10:200 rw", allow, "DeviceAllow")
    check_in("/dev/char/1:3 rwm", allow, "DeviceAllow (the default devices)")
    procs = sd.sh_ok(f"cat /sys/fs/cgroup/system.slice/{unit}/cgroup.procs").split()
    check_eq(procs, [str(st["pid"])], "the scope's cgroup holds the init alone (the helper is gone)")

    r = sd.crun("update", "--memory", str(200 << 20), "--pids-limit", "99", "--cpu-quota", "20000", "c1")
    check(r.rc == 0, f"update failed\n{r!r}")
    props = sd.show(unit, "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec", "DevicePolicy")
    check_eq((props["MemoryMax"], props["TasksMax"], props["CPUQuotaPerSecUSec"]), (str(200 << 20), "99", "200ms"),
             "properties after update")
    check_eq(props["DevicePolicy"], "strict", "update leaves the device policy alone")

    check_eq(sd.crun("pause", "c1").rc, 0, "pause")
    check_eq(sd.sh_ok(f"cat /sys/fs/cgroup/system.slice/{unit}/cgroup.freeze").strip(), "1", "frozen")
    check_eq(json.loads(sd.crun("state", "c1").out)["status"], "paused", "status")
    check_eq(sd.crun("resume", "c1").rc, 0, "resume")
    check_eq(json.loads(sd.crun("ps", "--format", "json", "c1").out), [st["pid"]], "ps")
    stats = json.loads(sd.crun("events", "--stats", "c1").out)
    check_eq(stats["type"], "stats", "events --stats")
    # cgroup v2's cpu.stat (the scope has no other controller here) in runc's nanoseconds.
    usage = stats["data"]["cpu"]["usage"]
    check(usage.get("total", 0) > 0 and usage["user"] + usage["kernel"] > 0 and usage["total"] % 1000 == 0,
          f"cpu usage from cpu.stat: {stats['data']}")
    check_eq(sd.crun("kill", "--all", "c1", "KILL").rc, 0, "kill --all")
    check(harness.wait_until(lambda: json.loads(sd.crun("state", "c1").out)["status"] == "stopped", 10),
          "the container stops")
    r = sd.crun("delete", "c1")
    check(r.rc == 0, f"delete failed\n{r!r}")
    check_eq(sd.show(unit, "LoadState").get("LoadState"), "not-found", "the unit after delete")
    check_eq(sd.sh(f"test -e /sys/fs/cgroup/system.slice/{unit}").rc, 1, "the scope's cgroup after delete")


def test_cgroups_path_and_leftovers(h):
    """runc's slice:prefix:name; delete -f of a created container and a killed init leave no
    unit; bad cgroupsPath values fail before anything is made, naming the field."""
    _with_systemd(h, _cgroups_path_and_leftovers)


def _cgroups_path_and_leftovers(h, sd):
    b = sd.inner_bundle(["sleep", "1000"], cgroups_path="machine-test.slice:tst:x1")
    check_eq(sd.crun("create", "--bundle", b, "x1").rc, 0, "create in machine-test.slice")
    props = sd.show("tst-x1.scope", "Slice", "ControlGroup", "ActiveState")
    check_eq(props["Slice"], "machine-test.slice", "Slice")
    check_eq(props["ControlGroup"], "/machine.slice/machine-test.slice/tst-x1.scope", "ControlGroup")
    check_eq(sd.crun("delete", "--force", "x1").rc, 0, "delete -f of a created container")
    check_eq(sd.show("tst-x1.scope", "LoadState")["LoadState"], "not-found", "the unit after delete -f")

    b = sd.inner_bundle(["sleep", "1000"])
    check_eq(sd.crun("run", "-d", "--bundle", b, "k1").rc, 0, "run -d")
    pid = json.loads(sd.crun("state", "k1").out)["pid"]
    sd.sh_ok(f"kill -9 {pid}")
    check(harness.wait_until(lambda: sd.show("crun-lite-k1.scope", "LoadState")["LoadState"] == "not-found", 10),
          "a killed init leaves no unit")
    check_eq(sd.crun("delete", "k1").rc, 0, "delete after the init was killed")

    for path, want in (("/not/systemd", "slice:prefix:name"), ("nope:p:n", "invalid slice name"),
                       ("system.slice:p:a b", "does not allow"), ("system.slice:p:n.slice", "name a scope")):
        b = sd.inner_bundle(["true"], cgroups_path=path)
        r = sd.crun("run", "--bundle", b, "bad")
        check(r.rc != 0 and want in r.err, f"cgroupsPath {path!r}: want an error with {want!r}\n{r!r}")
        check_in("linux.cgroupsPath", r.err, "the error names the field")
        check_eq(sd.sh("ls /run/crun-lite/bad").rc, 2, "no state left")
    units = sd.sh_ok("systemctl list-units --all --no-legend '*.scope'")
    check("crun-lite-" not in units and "tst-" not in units, f"units left:\n{units}")


def test_rootless_user_manager(h):
    """Rootless, the unit is the user's: `systemd --user` (user@1000.service, its bus at
    /run/user/1000/bus) gets the scope in user.slice below its own cgroup; exec joins it (systemd
    moves the process: the caller's cgroup and the scope meet only in one the user cannot
    write), update sets its properties, delete stops it."""
    _with_systemd(h, _rootless_user_manager)


def _rootless_user_manager(h, sd):
    r = sd.sh(f"mkdir -p /home/{USER} && chown {USER} /home/{USER} && systemctl start user@{USER_ID}.service")
    if r.rc != 0:
        harness.skip(f"the user's systemd does not start in the systemd container: {r.err.strip()}")
    b = sd.inner_bundle(["sleep", "1000"], rootless=True, resources={"pids": {"limit": 50}})
    as_user = (f"runuser -u {USER} -- env XDG_RUNTIME_DIR=/run/user/{USER_ID} " +
               " ".join(f"{k}={v}" for k, v in sd.env.items()) + f" {h.bin} --systemd-cgroup ")
    user_show = f"runuser -u {USER} -- env XDG_RUNTIME_DIR=/run/user/{USER_ID} systemctl --user show crun-lite-r1.scope "

    out = sd.sh_ok(as_user + f"run -d --bundle {b} r1 && " + user_show + "-p Slice -p Delegate -p ControlGroup -p TasksMax")
    props = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    check_eq(props.get("Slice"), "user.slice", "Slice")
    check_eq(props.get("Delegate"), "yes", "Delegate")
    check_eq(props.get("ControlGroup"),
             f"/user.slice/user-{USER_ID}.slice/user@{USER_ID}.service/user.slice/crun-lite-r1.scope", "ControlGroup")
    check_eq(props.get("TasksMax"), "50", "TasksMax")
    sd.sh_ok(as_user + "exec -d r1 sleep 1000")
    pids = json.loads(sd.sh_ok(as_user + "ps --format json r1"))
    check_eq(len(pids), 2, f"the init and the exec'd process in the scope: {pids}")
    out = sd.sh_ok(as_user + "update --pids-limit 60 r1 && " + user_show + "-p TasksMax")
    check_in("TasksMax=60", out, "TasksMax after update")
    out = sd.sh_ok(as_user + "delete -f r1 && " + user_show + "-p LoadState")
    check_in("LoadState=not-found", out, "the unit after delete -f")


def test_containerd_systemd_cgroup(h):
    """containerd inside the systemd (Debian's containerd.service, started at boot) runs a
    container through crun-lite with the systemd cgroup manager (`ctr run --runc-systemd-cgroup`:
    the shim calls the runtime with --systemd-cgroup, as with SystemdCgroup = true): the scope
    is there with Delegate=yes while the task runs, pause and kill reach it, and removing the
    task leaves no unit."""
    _with_systemd(h, _containerd_systemd_cgroup)


def _containerd_systemd_cgroup(h, sd):
    ctr = "ctr --address /run/containerd/containerd.sock "
    ok = harness.wait_until(lambda: sd.sh(ctr + "version").rc == 0, 30)
    check(ok, f"containerd.service did not come up: {sd.sh('systemctl status containerd --no-pager').out}")
    archive = os.path.join(sd.work, "image.tar")
    harness.make_oci_archive(h, archive, "crlt")
    sd.sh_ok(ctr + f"image import --snapshotter native --base-name localhost/crlt-bb {archive}")
    sd.sh_ok(ctr + f"run -d --snapshotter native --runc-binary {h.bin} --runc-systemd-cgroup "
             "--cgroup system.slice:ctr:t1 localhost/crlt-bb:crlt t1 sleep 1000")
    props = sd.show("ctr-t1.scope", "ActiveState", "Delegate", "Slice", "ControlGroup")
    check_eq((props.get("ActiveState"), props.get("Delegate"), props.get("Slice")), ("active", "yes", "system.slice"),
             "the task's scope")
    procs = sd.sh_ok("cat /sys/fs/cgroup/system.slice/ctr-t1.scope/cgroup.procs").split()
    check_eq(len(procs), 1, f"the task's init alone in the scope: {procs}")
    sd.sh_ok(ctr + "task pause t1")
    check_eq(sd.sh_ok("cat /sys/fs/cgroup/system.slice/ctr-t1.scope/cgroup.freeze").strip(), "1", "paused")
    sd.sh_ok(ctr + "task resume t1")
    sd.sh_ok(ctr + "task kill -s KILL t1")
    check(harness.wait_until(lambda: "STOPPED" in sd.sh(ctr + "task ls").out, 15), "the task stops")
    sd.sh_ok(ctr + "task rm t1 && " + ctr + "container rm t1")
    check_eq(sd.show("ctr-t1.scope", "LoadState").get("LoadState"), "not-found", "the unit after the task is gone")


def test_cri_systemd_cgroup(h):
    """Kubernetes' path on a systemd node: a containerd whose CRI plugin has crun-lite as its
    runtime with SystemdCgroup = true (started as a service inside the systemd), driven by
    crictl. The pod's pause container and its container each get a scope
    (cri-containerd-ID.scope) in the pod's slice, with Delegate=yes; stopping and removing
    them leaves no unit. Host-network pods: no CNI needed."""
    _with_systemd(h, _cri_systemd_cgroup)


CRI_CONFIG = """version = 2
root = "/var/lib/crlt-cri"
state = "/run/crlt-cri"
[grpc]
  address = "/run/crlt-cri/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/crlt-pause:crlt"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "crun-lite"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun-lite]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun-lite.options]
        BinaryName = "{bin}"
        SystemdCgroup = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "{work}/cni"
"""


def _cri_systemd_cgroup(h, sd):
    crictl = shutil.which("crictl")
    if not crictl:
        harness.skip("crictl is not on PATH (.ci/run adds ../shared/tools, where this project's CI keeps one)")
    shutil.copy2(crictl, os.path.join(sd.work, "crictl"))
    conf = os.path.join(sd.work, "cri.toml")
    with open(conf, "w") as f:
        f.write(CRI_CONFIG.replace("{bin}", h.bin).replace("{work}", sd.work))
    sock = "/run/crlt-cri/containerd.sock"
    ctr = f"ctr --address {sock} -n k8s.io "
    cri = f"{sd.work}/crictl --runtime-endpoint unix://{sock} --image-endpoint unix://{sock} --timeout 30s "
    sd.sh_ok(f"systemd-run --unit=crlt-cri containerd --config {conf}")
    check(harness.wait_until(lambda: sd.sh(ctr + "version").rc == 0, 30),
          f"containerd with the CRI plugin did not come up: {sd.sh('journalctl -u crlt-cri --no-pager').out[-2000:]}")
    for ref, entrypoint in (("localhost/crlt-pause:crlt", ["/bin/sleep", "inf"]), ("localhost/crlt-bb:crlt", ["sh"])):
        archive = os.path.join(sd.work, ref.split("/")[1].replace(":", "-") + ".tar")
        harness.make_oci_archive(h, archive, "crlt", config={"Env": ["PATH=/bin"], "Entrypoint": entrypoint})
        sd.sh_ok(ctr + f"images import --snapshotter native --base-name {ref.split(':')[0]} {archive}")
    check(harness.wait_until(lambda: "crlt-pause" in sd.sh(cri + "images").out, 20),
          "crictl sees the images: " + sd.sh("journalctl -u crlt-cri --no-pager | grep -E 'error|fail' | tail -3").out)

    slice_ = "kubepods-besteffort-podcrlt1.slice"
    pod_cfg, ctr_cfg = os.path.join(sd.work, "pod.json"), os.path.join(sd.work, "ctr.json")
    with open(pod_cfg, "w") as f:
        json.dump({"metadata": {"name": "p1", "namespace": "crlt", "uid": "crlt1", "attempt": 0},
                   "log_directory": "/var/log/crlt",
                   "linux": {"cgroup_parent": slice_,
                             "security_context": {"namespace_options": {"network": 2}}}}, f)
    with open(ctr_cfg, "w") as f:
        json.dump({"metadata": {"name": "main"}, "image": {"image": "localhost/crlt-bb:crlt"},
                   "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"], "log_path": "main.log"}, f)
    pod = sd.sh_ok(cri + f"runp {pod_cfg}").strip()
    cid = sd.sh_ok(cri + f"create --no-pull {pod} {ctr_cfg} {pod_cfg}").strip()
    sd.sh_ok(cri + f"start {cid}")
    for what, id_ in (("the pause container", pod), ("the container", cid)):
        props = sd.show(f"cri-containerd-{id_}.scope", "ActiveState", "Delegate", "Slice", "ControlGroup")
        check_eq((props.get("ActiveState"), props.get("Delegate"), props.get("Slice")), ("active", "yes", slice_),
                 f"{what}'s scope")
        check_eq(props.get("ControlGroup"),
                 f"/kubepods.slice/kubepods-besteffort.slice/{slice_}/cri-containerd-{id_}.scope",
                 f"{what}'s cgroup")
    sd.sh_ok(cri + f"stop {cid} && {cri} rm {cid} && {cri} stopp {pod} && {cri} rmp {pod}")
    units = sd.sh_ok("systemctl list-units --all --no-legend 'cri-containerd-*'")
    check_eq(units.strip(), "", "units left after the pod is gone")
    sd.sh("systemctl stop crlt-cri")


def test_clean_shutdown(h):
    """SIGRTMIN+3, what `podman stop` sends a systemd container, powers it off: the container
    exits by itself, its inner containers' units stopped on the way."""
    _with_systemd(h, _clean_shutdown)


def _clean_shutdown(h, sd):
    # Its init ends on SIGTERM (a PID 1 without a handler would ignore it: systemd would wait
    # the scope's 90 s stop timeout before SIGKILL).
    b = sd.inner_bundle(["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"])
    check_eq(sd.crun("run", "-d", "--bundle", b, "s1").rc, 0, "run -d inside")
    h.rt_ok("kill", sd.cid, "RTMIN+3")
    check(harness.wait_until(lambda: h.state(sd.cid)["status"] == "stopped", 30),
          "systemd powers off on SIGRTMIN+3")


def test_errors_without_systemd(h):
    """Here PID 1 is not systemd: the driver says so (root), or names the user bus that does not
    answer (rootless); nothing is left behind."""
    b = h.bundle(["true"])
    if not h.rootless and os.path.exists("/run/systemd/system"):
        harness.skip("this host runs systemd: the error without it cannot be seen here")
    for flags in (["--systemd-cgroup"], ["--cgroup-manager", "systemd"]):
        if h.rootless:
            r = h.rt_fail(*flags, "run", "--bundle", b.path, "nosd",
                          env=dict(os.environ, XDG_RUNTIME_DIR=h.mkdtemp("xdg"), DBUS_SESSION_BUS_ADDRESS=""))
            check_in("the user's bus", r.err, f"{flags}: the error names the bus")
        else:
            h.rt_fail(*flags, "run", "--bundle", b.path, "nosd", expect="systemd is not running on this host")
    check_eq(h.container_ids(), [], "containers left")
    check(not os.path.exists(os.path.join(h.root, "nosd")), "no state directory left")


if __name__ == "__main__":
    harness.main(globals())
