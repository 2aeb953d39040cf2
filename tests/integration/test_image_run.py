#!/usr/bin/env python3
"""`run --image`: containers of an image made by the test (a docker-archive of busybox,
the probe and a passwd/group layer), as root and as an unprivileged user: the config the
image gives (USER, Env, WorkingDir, Entrypoint/Cmd) and the flags that override it, the
init as PID 1, stop, logs, inspect, healthchecks, port publishing, and clean failures."""

import json
import os
import re
import shlex
import socket
import time
import urllib.request

import harness
from harness import check, check_eq, check_in

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "app:x:1001:1001:app:/home/app:/bin/sh\n")
GROUP = "root:x:0:\napp:x:1001:\nextra:x:2000:app\n"


def _files(*specs, applets=()):
    """A layer from (name, content) files, (name/, None) directories and busybox applets."""
    def add(t):
        import io
        import tarfile
        for applet in applets:
            ti = tarfile.TarInfo("bin/" + applet)
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(ti)
        for name, content in specs:
            ti = tarfile.TarInfo(name.rstrip("/"))
            if content is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            else:
                raw = content.encode()
                ti.size, ti.mode = len(raw), 0o644
                t.addfile(ti, io.BytesIO(raw))
    return add


def _archive(h, config, extra_layers=()):
    """A docker-archive of busybox + probe + /etc/passwd, /etc/group with `config`."""
    path = os.path.join(h.mkdtemp("img"), "app.tar")
    layers = [harness.busybox_layer(h), _files(("etc/passwd", PASSWD), ("etc/group", GROUP),
                                                  applets=("touch", "grep", "rm", "true"))] + list(extra_layers)
    harness.make_docker_archive(h, path, "example/app:1.0", layers=layers, config=config)
    os.chmod(os.path.dirname(path), 0o755)
    return path


def _store(h):
    if getattr(h, "_store_for", None) != h.history:
        h._store_for, h._store = h.history, h.mkdtemp("store")
    return h._store


def _run(h, archive, *args, **kw):
    """crun-lite run --image docker-archive:ARCHIVE --store S --network none ARGS."""
    net = () if any(a.startswith("--network") for a in args) else ("--network", "none")
    return h.rt("run", "--image", "docker-archive:" + archive, "--store", _store(h), *net, *args, **kw)


def _rfc3339(ns):
    """A time as crun-lite writes times (UTC, nanoseconds): such strings compare as times."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _now_rfc3339():
    return _rfc3339(time.time_ns())


def _containers_left(h):
    d = os.path.join(_store(h), "containers")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def _inspect(h, cid):
    return h.rt_ok("inspect", cid).json()


def _wait_health(h, cid, status, timeout=20):
    last = {}

    def reached():
        nonlocal last
        last = _inspect(h, cid)["State"].get("Health", {})
        return last.get("Status") == status
    check(harness.wait_until(reached, timeout=timeout), f"health never became {status}: {last}")
    return last


BASE = {"User": "app", "Env": ["PATH=/bin", "A=image", "B=image"], "WorkingDir": "/work",
        "Cmd": ["sh", "-c", "echo default"]}


def test_image_user_env_workdir_and_overrides(h):
    archive = _archive(h, BASE)
    cid = h.new_id("img")
    r = _run(h, archive, "--rm", "-e", "B=cli", "-e", "C=cli", cid,
             "sh", "-c", "echo $(id -u):$(id -g):$(id -G); pwd; echo $A $B $C $HOME $HOSTNAME")
    check_eq(r.rc, 0, f"run\n{r!r}")
    lines = r.out.split("\n")
    check_eq(lines[0], "1001:1001:1001 2000", "USER by name: uid, gid and the supplementary group")
    check_eq(lines[1], "/work", "WorkingDir created and used")
    check_eq(lines[2], f"image cli cli /home/app {cid[:12]}", "env: image < -e; HOME from passwd; HOSTNAME")
    check_eq(_containers_left(h), [], "--rm removed the container's directory")
    check_eq(h.container_ids(), [], "--rm removed the state")
    # USER by uid:gid, and the image's Cmd when no command is given.
    r = _run(h, archive, "--rm", "-u", "4242:4343", cid, "sh", "-c", "echo $(id -u):$(id -g) $HOME")
    check_eq(r.out.strip(), "4242:4343 /", "numeric user without a passwd entry")
    # An empty -u is the image's USER, as Docker's and podman's (not root).
    r = _run(h, archive, "--rm", "-u", "", cid, "id", "-u")
    check_eq((r.rc, r.out.strip()), (0, "1001"), f"-u ''\n{r!r}")
    r = _run(h, archive, "--rm", "-u", "root", "-w", "/tmp", cid)
    check_eq(r.out.strip(), "default", "the image's Cmd")
    # A WORKDIR the image lacks is made the user's, as podman's; one it has stays as it is.
    r = _run(h, archive, "--rm", "-u", "4242:4343", cid, "sh", "-c", "stat -c %u:%g:%a . && touch made")
    check_eq((r.rc, r.out.strip()), (0, "4242:4343:755"), f"the missing WORKDIR is the user's\n{r!r}")
    r = _run(h, archive, "--rm", "-u", "4242:4343", "-w", "/etc", cid, "sh", "-c", "stat -c %u:%g .")
    check_eq((r.rc, r.out.strip()), (0, "0:0"), f"an existing -w keeps its owner\n{r!r}")


def test_entrypoint_reset_and_a_passwd_line_cut_short(h):
    """ENTRYPOINT [""] resets the base image's (Docker's rule); a hand-written passwd line
    without its shell field still names the user (as runc's and Docker's reader)."""
    passwd = _files(("etc/passwd", PASSWD + "svc:x:1700:1700::/home/svc\n"))
    archive = _archive(h, dict(BASE, User="svc", WorkingDir="", Entrypoint=[""],
                               Cmd=["sh", "-c", "echo $(id -u):$(id -g) $HOME"]), extra_layers=[passwd])
    r = _run(h, archive, "--rm", h.new_id("img"))
    check_eq((r.rc, r.out.strip()), (0, "1700:1700 /home/svc"), f"the Cmd, as svc\n{r!r}")
    check_eq(_containers_left(h), [], "nothing left")


def test_unknown_user_and_bad_flags_leave_nothing(h):
    archive = _archive(h, dict(BASE, User="nobody"))
    cid = h.new_id("img")
    r = _run(h, archive, cid)
    check(r.rc != 0, f"unknown user must fail\n{r!r}")
    check_in("the image's USER: unable to find user nobody", r.err, "the error names the user and whose it is")
    check_eq(r.rc, 125, f"an error of the run exits 125, as podman's and Docker's\n{r!r}")
    for args, words in ((["-u", "app:nogroup"], "unable to find group nogroup"),
                        (["-v", "/nonexistent-dir:/x"], "/nonexistent-dir"),
                        (["-p", "99999:1"], "invalid port"),
                        (["--security-opt", "apparmor=x"], "seccomp="),
                        (["--memory", "lots"], "--memory"),
                        (["--health-interval", "soon"], "--health-interval")):
        r = _run(h, archive, *args, cid) if args[0] == "-u" else _run(h, archive, "-u", "app", *args, cid)
        check_eq(r.rc, 125, f"{args} must fail\n{r!r}")
        check_in(words, r.err, f"the error for {args}")
    # A command that cannot run fails the run at once, detached too: 127 not found, 126 not executable.
    for detach in ([], ["-d"]):
        for cmd, code, words in ((["/nonexistent"], 127, "stat /nonexistent: no such file or directory"),
                                 (["nosuch"], 127, "executable file not found in $PATH"),
                                 (["/etc/passwd"], 126, "exec: \"/etc/passwd\": permission denied")):
            r = _run(h, archive, *detach, "-u", "app", cid, *cmd)
            check_eq(r.rc, code, f"run {detach} {cmd}\n{r!r}")
            check_in(words, r.err, f"the error for {cmd}")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none", "-u", "app",
             cid, "nosuch")
    check_eq(r.rc, 127, f"create with a missing command\n{r!r}")
    # Options of the other form are errors, not silently dropped.
    r = h.rt("run", "--memory", "10m", cid)
    check_in("--memory needs --image", r.err, "an image option without --image")
    # A bundle flag stuck to an image one is read as both (the image options are
    # described only when an option given is not a bundle one).
    r = h.rt("run", "-dt", cid)
    check_in("--tty needs --image", r.err, "-t stuck to -d without --image")
    r = h.rt("create", "--no-pivot", "-e", "A=1", cid)
    check_in("--env needs --image", r.err, "create: an image option after a bundle one")
    r = _run(h, archive, "--no-pivot", cid)
    check_in("--no-pivot applies to bundles", r.err, "a bundle option with --image")
    r = _run(h, archive, "-d", "-t", "-u", "app", cid)
    check_in("-t with -d", r.err, "a detached pty has nobody to hold it")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "-p", "8080:80", "-u", "app", cid)
    check_in("need `run`", r.err, "create cannot keep slirp4netns alive")
    r = _run(h, archive, "-d", "--wait-healthy", "-u", "app", cid)
    check_in("no healthcheck", r.err, "--wait-healthy without a healthcheck is refused before starting")
    check_in("buildah bud --format docker", r.err, "the note says OCI-format images drop HEALTHCHECK")
    r = h.rt("run", "--image", "no-such-image", "--store", _store(h), cid)
    check_in("is not in the store", r.err, "unknown image")
    # A bad WorkingDir is the image's, not a flag's.
    r = _run(h, _archive(h, dict(BASE, WorkingDir="relative")), "-u", "app", cid)
    check_in("the image's WorkingDir `relative`: must be absolute", r.err, "a relative WorkingDir is blamed on the image")
    # The image's Volumes as -v's destinations: absolute, not /, cleaned (as podman's) before
    # they are checked.
    for vol, words in (("/", "config.Volumes: key `/`: a volume cannot be /"),
                       ("data", "key `data`: a volume path must be absolute"),
                       ("/a/../..", "key `/a/../..`: a volume cannot be /"),
                       ("/etc/./hosts", "the image's Volume `/etc/hosts`: /etc/hosts is a file crun-lite writes"),
                       ("/dev", "the image's Volume `/dev`: /dev is the runtime's own mount"),
                       ("/proc/sys", "the image's Volume `/proc/sys`: /proc/sys is the runtime's own mount"),
                       ("/etc/hosts/", "the image's Volume `/etc/hosts`: /etc/hosts is a file crun-lite writes")):
        r = _run(h, _archive(h, dict(BASE, Volumes={vol: {}})), "-u", "app", cid)
        check_eq(r.rc, 125, f"image Volume {vol!r}\n{r!r}")
        check_in(words, r.err, f"the error for the image Volume {vol!r}")
    check_eq(_containers_left(h), [], "no container directory left")
    check_eq(h.container_ids(), [], "no state left")


def test_user_lookup_never_leaves_the_image(h):
    import tarfile

    def links(t):
        # etc -> real-etc inside the image is followed; passwd -> the host's is not.
        for name, target in (("etc", "real-etc"), ("real-etc/passwd", "/../../../../../../../etc/passwd")):
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname = tarfile.SYMTYPE, target
            if name == "real-etc/passwd":
                d = tarfile.TarInfo("real-etc")
                d.type, d.mode = tarfile.DIRTYPE, 0o755
                t.addfile(d)
            t.addfile(ti)
    path = os.path.join(h.mkdtemp("img"), "app.tar")
    harness.make_docker_archive(h, path, "example/links:1", layers=[harness.busybox_layer(h), links],
                                config=dict(BASE, User=""))
    os.chmod(os.path.dirname(path), 0o755)
    r = _run(h, path, "--rm", "-u", harness.TEST_USER, h.new_id("img"), "id")
    check(r.rc != 0, f"a host user must not be found through a symlink out of the image\n{r!r}")
    check_eq(_containers_left(h), [], "nothing left")


def test_entrypoint_and_cmd(h):
    archive = _archive(h, dict(BASE, User="", Entrypoint=["echo", "ep"], Cmd=["cmd"]))
    cid = h.new_id("img")
    check_eq(_run(h, archive, "--rm", cid).out.strip(), "ep cmd", "Entrypoint + Cmd")
    check_eq(_run(h, archive, "--rm", cid, "x", "y").out.strip(), "ep x y", "arguments replace Cmd")
    check_eq(_run(h, archive, "--rm", "--entrypoint", "sh", cid, "-c", "echo over").out.strip(), "over",
             "--entrypoint replaces both")
    r = _run(h, archive, "--rm", "--entrypoint", '["sh", "-c", "echo json $0"]', cid, "arg")
    check_eq((r.rc, r.out.strip()), (0, "json arg"), f"--entrypoint as a JSON array (podman's)\n{r!r}")
    r = _run(h, archive, "--rm", "--entrypoint", "", cid)
    check(r.rc == 125 and "--entrypoint `` replaces the image's Entrypoint and Cmd" in r.err,
          f"--entrypoint '' leaves nothing to run, and says why\n{r!r}")
    r = _run(h, archive, "--rm", "--hostname", "", "--entrypoint", "hostname", cid)
    check_eq(r.out.strip(), cid[:12], f"--hostname '': the default, not the host's\n{r!r}")
    r = _run(h, archive, "--rm", "-e", "=x", cid, "true")
    check(r.rc == 125 and "run: -e `=x`: invalid variable name" in r.err, f"-e without a name\n{r!r}")


def test_volume_read_only_and_confinement(h):
    archive = _archive(h, BASE)
    data = h.mkdtemp("data")
    os.chmod(data, 0o755)  # readable by the image's user
    with open(os.path.join(data, "f"), "w") as f:
        f.write("host data")
    os.chmod(os.path.join(data, "f"), 0o644)
    cid = h.new_id("img")
    r = _run(h, archive, "--rm", "--read-only", "-v", f"{data}:/data:ro", cid, "sh", "-c",
             "cat /data/f; echo; touch /data/x 2>/dev/null && echo data-writable; "
             "touch /work/x 2>/dev/null && echo root-writable; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status")
    check_eq(r.rc, 0, f"run\n{r!r}")
    check_in("host data", r.out, "the volume")
    check("writable" not in r.out, f"read-only volume and root\n{r.out}")
    status = dict(line.split(":\t") for line in r.out.split("\n")[1:] if ":\t" in line)
    check_eq(status.get("CapEff"), "0000000000000000", "a non-root user has no effective capabilities")
    check_eq(status.get("NoNewPrivs"), "1", "no_new_privs")
    check_eq(status.get("Seccomp"), "2", "the default seccomp profile applies")
    # As podman's --read-only-tmpfs (the default): /tmp, /var/tmp and /run stay writable, / does not;
    # SELinux's z and Z are accepted where there is nothing to relabel.
    r = _run(h, archive, "--rm", "--read-only", "-u", "0", "-v", f"{data}:/data:ro,z", cid, "sh", "-c",
             "for d in /tmp /var/tmp /run /; do touch $d/x 2>/dev/null && echo $d; done; cat /data/f")
    check_eq(r.out.split(), ["/tmp", "/var/tmp", "/run", "host", "data"], f"--read-only: the tmpfs dirs\n{r!r}")
    r = _run(h, archive, "--rm", "--read-only", "--read-only-tmpfs=false", "-u", "0", cid, "sh", "-c",
             "touch /tmp/x 2>/dev/null && echo writable; echo done")
    check_eq(r.out.split(), ["done"], f"--read-only-tmpfs=false: /tmp read-only too\n{r!r}")
    r = _run(h, archive, "--rm", "-u", "0", "--security-opt", "seccomp=unconfined", "--cap-drop", "ALL",
             "--cap-add", "chown", cid, "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status")
    status = dict(line.split(":\t") for line in r.out.split("\n") if ":\t" in line)
    check_eq(status.get("CapEff"), "0000000000000001", "--cap-drop ALL --cap-add chown")
    check_eq(status.get("Seccomp"), "0", "seccomp=unconfined")
    # Limits become linux.resources (enforced as for any bundle: see test_cgroups.py).
    r = _run(h, archive, "-d", "--memory", "64m", "--pids-limit", "50", "--cpus", "1.5", cid, "sleep", "100")
    check_eq(r.rc, 0, f"run with limits\n{r!r}")
    res = _inspect(h, cid)["Config"]["linux"]["resources"]
    check_eq((res["memory"]["limit"], res["pids"]["limit"], res["cpu"]["quota"], res["cpu"]["period"]),
             (64 << 20, 50, 150000, 100000), "--memory, --pids-limit, --cpus in the config")
    h.rt_ok("delete", "--force", cid)


def test_whiteouts_hide_lower_layers_only(h):
    """OCI whiteouts: a whiteout hides what the layers below hold, never its own layer's
    entries (a directory made again after it is opaque); a layer whose root is opaque
    hides every layer below, in the container as in the runtime's reading of the image."""
    low = _files(("d/", None), ("d/deleted", "old"))
    for what, layer in (("the directory made again after its whiteout",
                         _files((".wh.d", ""), ("d/", None), ("d/new", "1"))),
                        ("the directory made before its whiteout",
                         _files(("d/", None), ("d/new", "1"), (".wh.d", "")))):
        r = _run(h, _archive(h, BASE, extra_layers=[low, layer]), "--rm", h.new_id("img"), "ls", "/d")
        check_eq((r.rc, r.out), (0, "new\n"), f"{what}: its own file, not the lower layer's\n{r!r}")
    bb = harness.busybox_layer(h)

    def opaque_root(t):
        import tarfile
        t.addfile(tarfile.TarInfo(".wh..wh..opq"))
        bb(t)
    r = _run(h, _archive(h, dict(BASE, User=""), extra_layers=[opaque_root]), "--rm", h.new_id("img"),
             "sh", "-c", "cat /etc/passwd; id -u")
    check_eq((r.rc, r.out), (0, "0\n"), f"an opaque root hides the layers below (their /etc/passwd)\n{r!r}")
    r = _run(h, _archive(h, BASE, extra_layers=[opaque_root]), "--rm", h.new_id("img"), "true")
    check_in("unable to find user app", r.err, "the image's USER is looked up in the same files")


def test_many_layers(h):
    """An image of 60 layers: more overlay options than mount(2) takes (a page), given to
    the kernel one layer at a time; more than overlayfs stacks (500) is refused at import."""
    layers = [_files((f"l{i}", f"{i}\n")) for i in range(60)]
    archive = _archive(h, BASE, extra_layers=layers)
    r = _run(h, archive, "--rm", h.new_id("img"), "cat", "/l0", "/l59", "/etc/passwd")
    kernel = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    if r.rc != 0 and "lowerdir+" in r.err and kernel < (6, 8):
        harness.skip(f"Linux {os.uname().release} has no fsconfig lowerdir+ (6.8)")
    check_eq((r.rc, r.out.split("\n")[:2]), (0, ["0", "59"]), f"every layer in the root\n{r!r}")
    archive = _archive(h, BASE, extra_layers=[_files((f"m{i}", "")) for i in range(500)])
    r = h.rt("image", "load", "--store", _store(h), "docker-archive:" + archive)
    check(r.rc != 0 and "502 layers, more than 500" in r.err, f"502 layers refused\n{r!r}")


def test_one_name_under_two_roots_is_two_containers(h):
    """Two test suites, each with its --root, may name a container alike: each gets its own
    cgroup, so one's stop, pause or ps never reaches the other's processes."""
    archive = _archive(h, BASE)
    cid = h.new_id("img")
    other = ["--root", h.mkdtemp("root2")]
    r = _run(h, archive, "-d", cid, "sleep", "100")
    check_eq(r.rc, 0, f"run -d in the first root\n{r!r}")
    r = h.cmd([h.bin, *other, "run", "--image", "docker-archive:" + archive, "--store", h.mkdtemp("store2"),
               "--network", "none", "-d", cid, "sleep", "100"])
    check_eq(r.rc, 0, f"run -d of the same name in a second root\n{r!r}")
    pid = _inspect(h, cid)["State"]["Pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        mine = f.read()
    check(f"/crun-lite-{cid}-" in mine or os.getuid() != 0, f"the container's cgroup is named for it: {mine}")
    r = h.cmd([h.bin, *other, "delete", "--force", cid])
    check_eq(r.rc, 0, f"delete --force in the second root\n{r!r}")
    check_eq(_inspect(h, cid)["State"]["Status"], "running", "the first root's container runs on")
    h.rt_ok("delete", "--force", cid)


def _volume_image(h):
    """BASE with Volumes /data (app's, 0750, empty) and /seed (a file), and /opt/cfg (a file)."""
    def add(t):
        import io
        import tarfile
        for name, uid, mode, content in (("data", 1001, 0o750, None), ("seed", 0, 0o755, None),
                                         ("seed/hello", 0, 0o644, b"seed\n"), ("opt", 0, 0o755, None),
                                         ("opt/cfg", 0, 0o644, b"cfg\n")):
            ti = tarfile.TarInfo(name)
            ti.uid = ti.gid = uid
            ti.mode = mode
            if content is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            else:
                ti.size = len(content)
                t.addfile(ti, io.BytesIO(content))
    return _archive(h, dict(BASE, Volumes={"/data": {}, "/seed/": {}}), extra_layers=[add])


def test_volumes_anonymous_filled_from_the_image(h):
    """The image's Volumes (and -v DST) are anonymous volumes, as Docker's: directories on disk
    that start with what the image has there, its owner and mode included, writable under
    --read-only, and gone with the container."""
    archive = _volume_image(h)
    cid = h.new_id("img")
    script = ("id -u; stat -c '%u %a' /data; cat /seed/hello /opt/cfg; touch /data/x && echo writable; "
              "grep -E ' /(data|seed|opt) ' /proc/mounts | cut -d' ' -f2,3")
    r = _run(h, archive, "--rm", "--read-only", "-v", "/opt", cid, "sh", "-c", script)
    check_eq(r.rc, 0, f"run\n{r!r}")
    lines = r.out.split("\n")
    check_eq(lines[:5], ["1001", "1001 750", "seed", "cfg", "writable"],
             f"owner, mode and files of the image; writable volumes in a read-only root\n{r!r}")
    mounts = dict(line.split() for line in lines[5:] if line)
    check_eq(sorted(mounts), ["/data", "/opt", "/seed"], f"three volumes\n{r!r}")
    check("tmpfs" not in mounts.values(), f"volumes are on disk, not tmpfs\n{r!r}")
    check_eq(_containers_left(h), [], "--rm removes the anonymous volumes with the container")
    # Kept across a restart of the container (they are its files), as Docker's.
    r = _run(h, archive, "-d", "--restart", "on-failure:1", cid, "sh", "-c",
             "echo run >> /data/runs; [ $(wc -l < /data/runs) = 2 ] && exec sleep 100; exit 1")
    check_eq(r.rc, 0, f"run -d\n{r!r}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = h.rt("exec", cid, "sh", "-c", "wc -l < /data/runs")
        if r.out.strip() == "2":
            break
        time.sleep(0.1)
    check_eq(r.out.strip(), "2", f"the volume outlives a restart\n{r!r}")
    check_eq([(m["Type"], m["Destination"], m["RW"]) for m in _inspect(h, cid)["Mounts"]],
             [("volume", "/data", True), ("volume", "/seed", True)], "inspect: Mounts (cleaned, as podman's)")
    h.rt_ok("rm", "-f", cid)
    check_eq(_containers_left(h), [], "rm removes the anonymous volumes")


def test_volume_mistakes_and_places_the_image_lacks(h):
    """A volume at a place the image lacks is the user's, as podman makes it; a bad -v after a
    new named volume leaves no volume; one place twice is an error; a bind over /run keeps the
    init out of the host's directory; the options Docker and podman pass on are taken."""
    archive = _volume_image(h)
    store = _store(h)
    cid = h.new_id("img")
    r = _run(h, archive, "--rm", "-v", "/fresh", "-v", f"{cid}-new:/named/deep", cid, "sh", "-c",
             "stat -c %u:%g /fresh /named/deep; touch /fresh/x /named/deep/y && echo writable")
    check_eq((r.rc, r.out.split()), (0, ["1001:1001", "1001:1001", "writable"]), f"owned by the USER\n{r!r}")
    h.rt_ok("volume", "rm", "--store", store, f"{cid}-new")
    missing = os.path.join(h.tmp, "missing")
    for args, words in ((["-v", f"{cid}-leak:/a", "-v", f"{missing}:/b"], f"{missing}: no such file or directory"),
                        (["-v", "/x", "-v", f"{cid}-leak:/x/"], "duplicate mount point /x"),
                        (["-v", f"{cid}-leak:/a", "--mount", f"type=bind,src={h.tmp},dst=/a"],
                         "duplicate mount point /a"),
                        (["-v", "/x:/y:ro,rw"], "one of ro, rw only")):
        r = _run(h, archive, *args, cid, "true")
        check(r.rc != 0 and words in r.err, f"{args}: refused\n{r!r}")
        vols = h.rt_ok("volume", "ls", "-q", "--store", store).out.split()
        check(f"{cid}-leak" not in vols, f"{args}: no volume left\n{vols}")
        check_eq(_containers_left(h), [], f"{args}: nothing left")
    run_dir = h.mkdtemp("run")
    r = _run(h, archive, "--rm", "-u", "0", "-v", f"{run_dir}:/run:ro,rslave,noexec", "-v", f"{h.tmp}:/mnt:bind", cid,
             "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; grep ' /run ' /proc/mounts | cut -d' ' -f4")
    check_eq(r.rc, 0, f"a read-only bind over /run\n{r!r}")
    check(r.out.startswith("/dev/crun-lite-init -- "), f"the init is bound elsewhere\n{r!r}")
    check("noexec" in r.out.split()[-1] and r.out.split()[-1].startswith("ro,"), f"the options reach the mount\n{r!r}")
    check_eq(os.listdir(run_dir), [], "nothing made in the host's directory")


def test_named_volumes(h):
    """-v NAME:DST: a volume that outlives the container, filled from the image once (unless
    nocopy), listed, inspected and removed by `volume`, refused while a container uses it."""
    archive = _volume_image(h)
    store = _store(h)
    cid, other = h.new_id("img"), h.new_id("img")
    vol = lambda *a, **kw: h.rt("volume", *a, "--store", store, **kw)  # noqa: E731
    r = _run(h, archive, "--rm", "-u", "0", "-v", "seedvol:/seed", "-v", "datavol:/data", cid, "sh", "-c",
             "cat /seed/hello; echo more > /seed/more; touch /data/mine; stat -c '%u %a' /data")
    check_eq((r.rc, r.out.split("\n")[:2]), (0, ["seed", "1001 750"]), f"a new volume gets the image's files\n{r!r}")
    r = _run(h, archive, "--rm", "-u", "0", "-v", "seedvol:/elsewhere:ro", cid, "sh", "-c",
             "cat /elsewhere/hello /elsewhere/more; touch /elsewhere/x 2>/dev/null || echo read-only")
    check_eq(r.out.split(), ["seed", "more", "read-only"], f"the same volume, kept, mounted read-only\n{r!r}")
    r = _run(h, archive, "--rm", "-v", "emptyvol:/seed:nocopy", cid, "ls", "-A", "/seed")
    check_eq((r.rc, r.out), (0, ""), f"nocopy: not filled\n{r!r}")
    r = vol("ls")
    check_eq(r.out.split("\n")[1:-1], ["local     datavol", "local     emptyvol", "local     seedvol"], f"volume ls\n{r!r}")
    check_eq(vol("ls", "-q").out.split(), ["datavol", "emptyvol", "seedvol"], "volume ls -q")
    info = vol("inspect", "seedvol").json()
    check_eq((info[0]["Name"], info[0]["Mountpoint"], info[0]["Driver"]),
             ("seedvol", os.path.join(store, "volumes", "seedvol", "_data"), "local"), f"volume inspect\n{info}")
    check_eq(vol("inspect", "-f", "{{.Name}}", "datavol").out, "datavol\n", "volume inspect --format")
    # In use by a container (even stopped): refused, naming it; then removed, files of other owners too.
    check_eq(_run(h, archive, "-d", "-v", "datavol:/data", other, "sleep", "100").rc, 0, "run -d with a volume")
    check_eq([(m["Type"], m.get("Name"), m["Destination"]) for m in _inspect(h, other)["Mounts"]],
             [("volume", "datavol", "/data"), ("volume", None, "/seed")], "inspect: Mounts, named first")
    r = vol("rm", "datavol")
    check(r.rc == 1 and f"volume `datavol` is in use by container {other}" in r.err, f"volume rm of a used one\n{r!r}")
    h.rt_ok("stop", "-t", "1", other)
    check_eq(vol("rm", "datavol").rc, 1, "a stopped container still uses it")
    r = vol("prune")
    check_eq(sorted(r.out.split()), ["emptyvol", "seedvol"], f"volume prune: the unused ones\n{r!r}")
    h.rt_ok("rm", other)
    r = vol("rm", "datavol", "nosuch")
    check(r.rc == 1 and r.out == "datavol\n" and "no such volume `nosuch`" in r.err, f"volume rm\n{r!r}")
    check_eq(vol("rm", "-f", "nosuch").rc, 0, "volume rm -f: a missing one is no error")
    check_eq(os.listdir(os.path.join(store, "volumes")), [], "nothing left of the volumes")
    check_eq(vol("create", "made").out, "made\n", "volume create NAME")
    check_eq(len(vol("create").out.strip()), 64, "volume create: a random name")
    check_eq(vol("create", "bad/name").rc, 1, "volume create: a bad name")
    vol("prune")
    # What another filesystem holds is not the image's: a volume on sysfs's gets nothing.
    r = _run(h, archive, "--rm", "-u", "0", "-v", "sysvol:/sys/kernel/mm", cid, "true")
    check_eq((r.rc, os.listdir(os.path.join(store, "volumes", "sysvol", "_data"))), (0, []),
             f"nothing of sysfs copied\n{r!r}")
    # Beneath /proc nothing may be mounted (runc's guard); the volume made for it goes again.
    r = _run(h, archive, "--rm", "-u", "0", "-v", "procvol:/proc/sys/kernel/random", cid, "true")
    check(r.rc != 0 and "cannot be mounted because it is inside /proc" in r.err, f"a volume inside /proc\n{r!r}")
    check("procvol" not in os.listdir(os.path.join(store, "volumes")), "the volume made for it is removed")
    # --read-only: a volume on /etc goes under the container's own /etc files, one on /tmp replaces the tmpfs.
    r = _run(h, archive, "--rm", "--read-only", "-u", "0", "-v", "/etc", "-v", "/tmp", "--hostname", "vh", cid, "sh", "-c",
             "cat /etc/hostname; grep -c ' /tmp ' /proc/mounts; grep ' /tmp ' /proc/mounts | cut -d' ' -f3")
    lines = r.out.split()
    check_eq(lines[:2], ["vh", "1"], f"the container's /etc/hostname over the /etc volume; one /tmp mount\n{r!r}")
    check(len(lines) == 3 and lines[2] != "tmpfs", f"/tmp is the volume, not the tmpfs\n{r!r}")
    vol("prune")
    # Bad -v, and a run that fails, leave no volume behind.
    r = _run(h, archive, "--rm", "-v", "bad name:/x", cid, "true")
    check(r.rc == 125 and "is neither a path" in r.err, f"-v with a bad name\n{r!r}")
    r = _run(h, archive, "--rm", "-v", "/tmp:/x:nocopy", cid, "true")
    check(r.rc == 125 and "nocopy is for volumes" in r.err, f"nocopy on a bind\n{r!r}")
    r = _run(h, archive, "--rm", "-v", "newvol:/x", cid, "/nonexistent")
    check_eq(r.rc, 127, f"a missing command\n{r!r}")
    check_eq(vol("ls", "-q").out, "", "the failed run's new volume was removed")
    # ./PATH is a bind relative to the working directory.
    rel = h.mkdtemp("rel")
    os.makedirs(os.path.join(rel, "sub"))
    os.chmod(os.path.join(rel, "sub"), 0o777)
    r = h.rt("run", "--image", "docker-archive:" + archive, "--store", store, "--network", "none", "--rm",
             "-v", "./sub:/sub", cid, "touch", "/sub/f", cwd=rel)
    check_eq((r.rc, os.listdir(os.path.join(rel, "sub"))), (0, ["f"]), f"-v ./sub:/sub\n{r!r}")


def test_inspect_oom_killed(h):
    """State.OOMKilled: true once a container stopped because the kernel's OOM killer killed
    one of its processes (its oom event), false otherwise, as Docker's."""
    if h.rootless and not os.environ.get("CRUNLITE_DELEGATED"):
        harness.skip("no cgroup is delegated to this user (the harness could not set one up)")
    archive = _archive(h, BASE)
    oom, fine = h.new_id("img"), h.new_id("img")
    check_eq(_run(h, archive, "-d", "-m", "32m", oom, "/probe", "alloc", "200").rc, 0, "run -d the allocator")
    check_eq(_run(h, archive, "-d", "-m", "32m", fine, "true").rc, 0, "run -d true")
    r = h.rt("wait", oom, fine, timeout=30)
    check_eq(r.out.split(), ["137", "0"], f"the allocator is killed\n{r!r}")
    check_eq((_inspect(h, oom)["State"]["OOMKilled"], _inspect(h, fine)["State"]["OOMKilled"]), (True, False),
             "State.OOMKilled")
    h.rt_ok("rm", oom, fine)


def test_a_volume_fill_that_fails_leaves_it_empty(h):
    """A volume whose filling from the image fails part-way (here: no space left) is emptied
    again, so that the next start fills it (a part copy would pass for a filled volume); the
    run fails saying why.  The store's volumes/ is a small tmpfs in a mount namespace of the
    test's own."""
    if h.rootless:
        harness.skip("mounts a small tmpfs in a private mount namespace: root only here")
    import shutil
    if not shutil.which("unshare"):
        harness.skip("unshare is not installed (Debian: util-linux)")
    archive = _archive(h, dict(BASE, User=""), extra_layers=[_files(("data/", None), ("data/a", "a\n"),
                                                                    ("data/big", "x" * (256 << 10)))])
    store, cid = _store(h), h.new_id("img")
    run = " ".join(shlex.quote(a) for a in h.rt_argv("run", "--image", "docker-archive:" + archive, "--store", store,
                                                      "--network", "none", "--rm", "-v", "bigvol:/data", cid, "true"))
    vol = " ".join(shlex.quote(a) for a in h.rt_argv("volume", "create", "--store", store, "bigvol"))
    script = (f"set -e; mkdir -p {store}/volumes; mount -t tmpfs -o size=64k small {store}/volumes; {vol}; "
              f"{run} && echo ran || echo failed; ls -A {store}/volumes/bigvol/_data | wc -l")
    r = h.cmd(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    check_eq(r.out.split(), ["bigvol", "failed", "0"], f"the part copy removed\n{r!r}")
    check_in("copy `/data/big`: no space left on device", r.err, "the reason, naming the file")
    check_eq(_containers_left(h), [], "nothing left of the container")


def test_exec_user_as_podman(h):
    """exec -u into an image container resolves names and ids in the container's passwd and
    group, as podman's exec -u: its gid, groups and HOME; root gets the container's capabilities."""
    archive = _archive(h, BASE)
    cid = h.new_id("img")
    check_eq(_run(h, archive, "-d", cid, "sleep", "100").rc, 0, "run -d")
    show = ["sh", "-c", "id -u; id -g; id -G; echo $HOME; grep CapEff /proc/self/status | cut -f2"]
    r = h.rt_ok("exec", cid, *show)
    check_eq(r.out.split(), ["1001", "1001", "1001", "2000", "/home/app", "0000000000000000"], f"the image's USER\n{r!r}")
    for user in ("0", "root", "root:root"):
        r = h.rt_ok("exec", "-u", user, cid, *show)
        lines = r.out.split()
        check_eq(lines[:4], ["0", "0", "0", "/root"], f"exec -u {user}: root, its group and HOME\n{r!r}")
        check(int(lines[4], 16) & (1 << 0), f"exec -u {user}: root has CAP_CHOWN\n{r!r}")
    r = h.rt_ok("exec", "-u", "app:extra", "-e", "HOME=/x", cid, *show)
    check_eq(r.out.split()[:4], ["1001", "2000", "2000", "/x"], f"an explicit group; -e HOME wins\n{r!r}")
    r = h.rt("exec", "-u", "nosuch", cid, "true")
    check(r.rc == 255 and "unable to find user nosuch" in r.err, f"exec -u of a missing user\n{r!r}")
    # The container's files as they are now: a user added since the start is found; what the
    # container puts there is read only when it is a regular file inside its root.
    h.rt_ok("exec", "-u", "0", cid, "sh", "-c", "echo late:x:3000:2000::/late:/bin/sh >> /etc/passwd")
    r = h.rt_ok("exec", "-u", "late", cid, *show)
    check_eq(r.out.split()[:4], ["3000", "2000", "2000", "/late"], f"a user added in the container\n{r!r}")
    h.rt_ok("exec", "-u", "0", cid, "sh", "-c", "rm /etc/group && ln -s /../../../../etc/nosuch /etc/group")
    r = h.rt_ok("exec", "-u", "late", cid, "id", "-G")
    check_eq(r.out.split(), ["2000"], f"a symlink out of the root resolves inside it (no group file)\n{r!r}")
    h.rt_ok("exec", "-u", "0", cid, "sh", "-c", "rm /etc/group && busybox mkfifo /etc/group")
    r = h.rt("exec", "-u", "late", cid, "true")
    check(r.rc == 255 and f"container {cid}: /etc/group is not a regular file" in r.err, f"a FIFO as /etc/group\n{r!r}")
    # podman's exec -i (stdin is always the process's) and -w.
    r = h.rt_ok("exec", "-i", "-w", "/tmp", cid, "sh", "-c", "pwd; cat", input="from stdin\n")
    check_eq(r.out, "/tmp\nfrom stdin\n", f"exec -i -w\n{r!r}")
    # As podman's exec (bundle containers keep runc's 255): 127 not found, 126 not executable.
    check_eq((h.rt("exec", cid, "nosuch").rc, h.rt("exec", cid, "/etc/passwd").rc), (127, 126), "exec exit codes")
    h.rt_ok("kill", cid, "KILL")
    h.wait_status(cid, "stopped")
    r = h.rt("exec", "-u", "late", cid, "true")
    check(r.rc == 255 and "cannot exec in a stopped container" in r.err, f"exec -u into a stopped one\n{r!r}")
    h.rt_ok("delete", "--force", cid)


def test_volumes_tty_and_host_network(h):
    archive = _archive(h, dict(BASE, User=""))
    cid = h.new_id("img")
    # -t: the process gets a pty, proxied to ours.
    import subprocess
    master, slave = os.openpty()
    p = subprocess.Popen(h.rt_argv("run", "--image", "docker-archive:" + archive, "--store", _store(h),
                                   "--network", "none", "--rm", "-t", cid, "sh", "-c", "tty; echo tty-done"),
                         stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = harness.read_pty(master, until=b"tty-done", timeout=20).decode(errors="replace")
    os.close(master)
    check_eq(p.wait(20), 0, f"run -t\n{out}")
    check_in("/dev/pts/", out, "run -t: a pty")
    # --network host: the host's interfaces.
    r = _run(h, archive, "--rm", "--network", "host", cid, "ls", "/sys/class/net")
    check_eq(sorted(r.out.split()), sorted(os.listdir("/sys/class/net")), "--network host")
    # ... and, as Docker's, the host's name and /etc/hosts (unless --hostname).
    import socket
    r = _run(h, archive, "--rm", "--network", "host", cid, "sh", "-c", "hostname; echo $HOSTNAME; cat /etc/hosts")
    with open("/etc/hosts") as f:
        check_eq(r.out, f"{socket.gethostname()}\n{socket.gethostname()}\n{f.read()}", f"--network host names\n{r!r}")
    r = _run(h, archive, "--rm", "--network", "host", "--hostname", "box", cid, "hostname")
    check_eq(r.out.strip(), "box", "--hostname still wins")
    r = _run(h, archive, "--rm", cid, "ls", "/sys/class/net")
    check_eq(r.out.split(), ["lo"], "--network none: only loopback")


def test_init_forwards_sigterm_and_reaps_orphans(h):
    # The subshell leaves an orphan that exits later: only a reaping PID 1 collects it.
    cmd = ["sh", "-c", "(sleep 0.3 &); exec /probe sleep 3600"]
    archive = _archive(h, dict(BASE, User="", Cmd=cmd))

    def zombies(init):
        return [p for p in harness.descendants(init) if (harness._proc_stat(p) or ("gone",))[0] == "Z"]

    plain = h.new_id("img")
    _run(h, archive, "-d", "--no-init", plain)
    pid1 = _inspect(h, plain)["State"]["Pid"]
    check(harness.wait_until(lambda: zombies(pid1), timeout=10), "without the init the orphan stays a zombie")
    h.rt_ok("delete", "--force", plain)

    cid = h.new_id("img")
    r = _run(h, archive, "-d", cid)
    check_eq(r.rc, 0, f"run -d\n{r!r}")
    init = _inspect(h, cid)["State"]["Pid"]
    check_eq(harness.proc_cmdline(init)[:2], ["/run/crun-lite-init", "--"], "crun-lite-init is PID 1")
    time.sleep(1)
    check_eq(zombies(init), [], "the init reaped the orphan")
    t0 = time.monotonic()
    h.rt_ok("stop", cid)
    check(time.monotonic() - t0 < 5, "SIGTERM reached the probe through the init (no SIGKILL wait)")
    final = _inspect(h, cid)["State"]
    check_eq(final["Status"], "stopped", "stopped")
    check_eq(final.get("ExitCode"), 143, "exit status 128+SIGTERM kept")
    h.rt_ok("delete", cid)
    check_eq(_containers_left(h), [], "delete removed the container's directory")


def test_init_signals_status_mask_and_drain(h):
    archive = _archive(h, dict(BASE, User=""))
    cid = h.new_id("img")
    # Every forwardable signal reaches the child, real-time ones included (37 = SIGRTMIN+3).
    script = ("trap 'echo got-usr1' USR1; trap 'echo got-rt' 37; trap 'echo got-hup' HUP; "
              "grep -E '^Sig(Blk|Ign):' /proc/self/status; echo ready; while :; do sleep 0.1; done")
    _run(h, archive, "-d", cid, "sh", "-c", script)
    check(harness.wait_until(lambda: "ready" in h.rt_ok("logs", cid).out, 10), "the child started")
    log = h.rt_ok("logs", cid).out
    check_in("SigBlk:\t0000000000000000", log, "the child starts with an empty signal mask")
    check_in("SigIgn:\t0000000000000000", log, "and default dispositions")
    for sig, word in (("USR1", "got-usr1"), ("RTMIN+3", "got-rt"), ("HUP", "got-hup")):
        h.rt_ok("kill", cid, sig)
        check(harness.wait_until(lambda: word in h.rt_ok("logs", cid).out, 10), f"SIG{sig} forwarded")
    h.rt_ok("kill", cid, "KILL")
    h.wait_status(cid, "stopped")
    h.rt_ok("delete", cid)
    # The child's status is the container's; a leftover that ignores SIGTERM is
    # killed after the init's grace period (2 s) instead of keeping it alive.
    t0 = time.monotonic()
    r = _run(h, archive, "--rm", cid, "sh", "-c", "(trap '' TERM; sleep 100) & sleep 0.2; exit 3")
    check_eq(r.rc, 3, f"the child's exit status\n{r!r}")
    check(time.monotonic() - t0 < 8, "the init drained the leftover (SIGTERM, wait, SIGKILL)")
    r = _run(h, archive, "--rm", cid, "sh", "-c", "kill -SEGV $$")
    check_eq(r.rc, 128 + 11, f"a child killed by a signal: 128+n\n{r!r}")


def test_init_cannot_be_ptraced_by_the_container(h):
    """crun-lite-init is non-dumpable: a container process of the same uid cannot
    ptrace (and so stop) it, even without a seccomp profile."""
    archive = _archive(h, dict(BASE, User=""))
    r = _run(h, archive, "--rm", "--security-opt", "seccomp=unconfined", h.new_id("img"), "/probe", "try", "ptrace-1")
    check_eq((r.rc, r.out.strip()), (0, "ptrace-1 EPERM"), f"PTRACE_ATTACH to the init\n{r!r}")


def test_image_runs_leak_nothing(h):
    """50 `run --rm --image`: no container directory, state, mount, fd or
    process is left, and the store holds just the image."""
    archive = _archive(h, dict(BASE, User=""))
    _run(h, archive, "--rm", h.new_id("img"), "true")  # imported once, outside the count
    fds, mounts = len(os.listdir("/proc/self/fd")), len(harness.read_mountinfo())
    for i in range(50):
        r = _run(h, archive, "--rm", h.new_id("img"), "true")
        check_eq(r.rc, 0, f"run {i}\n{r!r}")
    check_eq((_containers_left(h), h.container_ids()), ([], []), "no container directory or state left")
    check_eq((len(os.listdir("/proc/self/fd")), len(harness.read_mountinfo())), (fds, mounts), "fds and mounts")
    harness.reap()
    check_eq(harness.children_of(os.getpid()), [], "no process left")


def test_a_relative_store(h):
    """--store relative to the working directory, for load, run (whose overlay names the
    layers by absolute paths) and rm, as for the default store."""
    archive = _archive(h, dict(BASE, User=""))
    work = os.path.dirname(_store(h))
    rel = os.path.relpath(_store(h), work)
    r = h.rt("image", "load", "--store", rel, archive, root=False, cwd=work)
    check_eq(r.rc, 0, f"load\n{r!r}")
    cid = h.new_id("rel")
    r = h.rt("run", "--rm", "--network", "none", "--store", rel, "--image", "example/app:1.0", cid, "echo", "ok", cwd=work)
    check_eq((r.rc, r.out.strip()), (0, "ok"), f"run --store {rel}\n{r!r}")
    check_eq(_run(h, archive, "-d", cid, "sleep", "100").rc, 0, "run -d")
    r = h.rt("rm", "-f", "--store", rel, cid, cwd=work)
    check_eq(r.rc, 0, f"rm --store {rel}\n{r!r}")
    check_eq((_containers_left(h), h.container_ids()), ([], []), "no container directory or state left")


def test_foreground_exit_code_in_inspect(h):
    """A foreground run records no exit file (it has no monitor): inspect and wait read the
    exit code from its die event."""
    archive = _archive(h, dict(BASE, User=""))
    cid = h.new_id("fg")
    before = _now_rfc3339()
    r = _run(h, archive, cid, "sh", "-c", "exit 44")
    check_eq(r.rc, 44, f"the foreground run's status\n{r!r}")
    whole = _inspect(h, cid)
    info = whole["State"]
    check_eq((info["Status"], info.get("ExitCode"), info["Running"]), ("stopped", 44, False), "inspect")
    check(before <= whole["Created"] <= info["StartedAt"] <= info["FinishedAt"] <= _now_rfc3339(),
          f"Created, StartedAt and FinishedAt (from the die event) in order: {before} {whole}")
    check_eq(h.rt_ok("wait", cid).out.strip(), "44", "wait")
    h.rt_ok("rm", cid)


def test_image_platform(h):
    """As Docker: an image for another OS is refused, one for another architecture runs
    with a warning (binfmt_misc may run it; busybox here is this machine's anyway)."""
    path = os.path.join(h.mkdtemp("img"), "app.tar")
    harness.make_docker_archive(h, path, "example/win:1", platform=("windows", "amd64"))
    r = _run(h, path, "--rm", h.new_id("plat"), "true")
    check(r.rc != 0 and "is for windows, not linux" in r.err, f"a windows image\n{r!r}")
    check_eq(_containers_left(h), [], "nothing left")
    harness.make_docker_archive(h, path, "example/s390x:1", platform=("linux", "s390x"))
    r = _run(h, path, "--rm", h.new_id("plat"), "echo", "ran")
    check_eq((r.rc, r.out.strip()), (0, "ran"), f"another architecture runs\n{r!r}")
    check_in("is for s390x, this machine is", r.err, "with a warning")


def test_stop_escalates_to_sigkill(h):
    archive = _archive(h, dict(BASE, User=""))
    cid = h.new_id("img")
    _run(h, archive, "-d", "--no-init", cid, "sh", "-c", "trap '' TERM; while :; do sleep 1; done")
    t0 = time.monotonic()
    h.rt_ok("stop", "-t", "1", cid)
    took = time.monotonic() - t0
    check(1 <= took < 8, f"stop waited the timeout, then killed ({took:.1f}s)")
    check_eq(_inspect(h, cid)["State"].get("ExitCode"), 137, "killed by SIGKILL")


def test_stop_signal_and_stop_timeout_flags(h):
    """run --stop-signal replaces the image's StopSignal; --stop-timeout is stop's default
    wait before SIGKILL (stop -t still wins); bad values are refused, as podman's."""
    archive = _archive(h, dict(BASE, User="", StopSignal="SIGUSR2"))
    sig, slow = h.new_id("img"), h.new_id("img")
    _run(h, archive, "-d", "--no-init", "--stop-signal", "usr1", sig, "sh", "-c",
         "trap 'exit 7' USR1; trap 'exit 9' USR2; while :; do sleep 0.1; done")
    h.rt_ok("stop", sig)
    check_eq(_inspect(h, sig)["State"].get("ExitCode"), 7, "--stop-signal USR1, not the image's USR2")
    _run(h, archive, "-d", "--no-init", "--stop-timeout", "1", slow, "sh", "-c",
         "trap '' TERM USR2; while :; do sleep 0.1; done")
    t0 = time.monotonic()
    h.rt_ok("stop", slow)
    took = time.monotonic() - t0
    check(1 <= took < 6, f"stop waited --stop-timeout 1, not 10 ({took:.1f}s)")
    check_eq(_inspect(h, slow)["State"].get("ExitCode"), 137, "then SIGKILL")
    h.rt_ok("rm", sig, slow)
    for flag, value, want in (("--stop-signal", "SIGNOPE", "run: --stop-signal: unknown signal \"SIGNOPE\""),
                              ("--stop-timeout", "-1", "--stop-timeout must not be negative")):
        r = _run(h, archive, "--rm", flag, value, sig, "true")
        check(r.rc == 125 and want in r.err, f"{flag} {value}\n{r!r}")


def test_stop_several_at_once_and_a_paused_one(h):
    """stop takes several containers and stops them in parallel; a paused one is resumed
    after its stop signal, so its handler runs (exit 3, not SIGKILL's 137 after the
    timeout; rootless without a delegated cgroup nothing can be paused); one that does not
    exist fails the command, named, and the others stop."""
    archive = _archive(h, dict(BASE, User=""))
    ids = [h.new_id("stop") for _ in range(3)]
    for cid in ids:
        r = _run(h, archive, "-d", "--no-init", cid, "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done")
        check_eq(r.rc, 0, f"run -d {cid}\n{r!r}")
    r = h.rt("pause", ids[0])
    check(r.rc == 0 or (os.getuid() != 0 and "has no cgroup" in r.err), f"pause\n{r!r}")
    t0 = time.monotonic()
    r = h.rt("stop", "-t", "20", *ids, "no-such-container")
    took = time.monotonic() - t0
    check_eq(r.rc, 1, f"one of them does not exist\n{r!r}")
    check_eq(sorted(r.out.split()), sorted(ids), "each stopped one printed, as Docker and podman print them")
    check_in("stop no-such-container: ", r.err, "the error names it")
    check(took < 15, f"stopped in parallel, the paused one by its handler ({took:.1f}s)")
    for cid in ids:
        check_eq(_inspect(h, cid)["State"].get("ExitCode"), 3, f"{cid} ran its TERM handler")
        h.rt_ok("delete", "--force", cid)


def test_start_a_stopped_container_again(h):
    """start of a stopped image container runs it again, as Docker's: detached, with a monitor
    (logs appended, its exit recorded), its files and volumes kept, its creation time too;
    a running one is left as it is."""
    archive = _archive(h, dict(BASE, User="", Volumes={"/data": {}}))
    cid = h.new_id("img")
    script = "echo run >> /data/runs; echo run >> /runs; wc -l < /data/runs; wc -l < /runs; exec sleep 100"
    check_eq(_run(h, archive, "-d", cid, "sh", "-c", script).rc, 0, "run -d")
    created = _inspect(h, cid)["Created"]
    h.rt_ok("stop", "-t", "1", cid)
    h.rt_ok("start", cid)
    info = _inspect(h, cid)
    check_eq((info["State"]["Status"], info["Created"], info["Name"]), ("running", created, cid),
             f"running again, same creation\n{info}")
    pid = info["State"]["Pid"]
    check_eq((h.rt("start", cid).rc, _inspect(h, cid)["State"]["Pid"]), (0, pid), "start of a running one: nothing (Docker's)")
    deadline = time.monotonic() + 10
    while h.rt_ok("logs", cid).out.split() != ["1", "1", "2", "2"] and time.monotonic() < deadline:
        time.sleep(0.1)
    check_eq(h.rt_ok("logs", cid).out.split(), ["1", "1", "2", "2"], "the volume and the root kept; the log appended")
    h.rt_ok("kill", cid, "KILL")
    check_eq(h.rt("wait", cid, timeout=20).out.split(), ["137"], "the monitor of the new run records its exit")
    h.rt_ok("rm", cid)
    check_eq(_containers_left(h), [], "nothing left")


def test_a_failed_start_keeps_the_last_exit(h):
    """A start again that fails (its command is gone from the container's root: the first
    run removed it) leaves the container as it was: stopped, with the exit code and times of
    its last run in inspect, state and wait; a second failure too."""
    archive = _archive(h, dict(BASE, User=""))
    cid = h.new_id("img")
    check_eq(_run(h, archive, "-d", "--no-init", cid, "/bin/sh", "-c", "rm /bin/sh; exit 3").rc, 0, "run -d")
    check_eq(h.rt("wait", cid, timeout=20).out.split(), ["3"], "the first run's exit")
    before = _inspect(h, cid)["State"]
    state_before = h.rt_ok("state", cid).json()
    for attempt in ("first", "second"):
        r = h.rt("start", cid)
        check(r.rc != 0 and "/bin/sh" in r.err, f"{attempt} start: its command is gone\n{r!r}")
        after = _inspect(h, cid)["State"]
        check_eq(after, before, f"inspect after the {attempt} failed start")
        check_eq(h.rt_ok("state", cid).json(), state_before, f"state after the {attempt} failed start")
        check_eq(h.rt("wait", cid, timeout=20).out.split(), ["3"], f"wait after the {attempt} failed start")
    h.rt_ok("rm", cid)
    check_eq(_containers_left(h), [], "nothing left")


def test_stop_signal_from_image_and_create_start(h):
    # StopSignal SIGUSR1: the shell's trap answers it with exit 7.
    cmd = ["sh", "-c", "trap 'exit 7' USR1; while :; do sleep 0.1; done"]
    archive = _archive(h, dict(BASE, User="", StopSignal="SIGUSR1", Cmd=cmd))
    cid = h.new_id("img")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none",
             "--no-init", cid)
    check_eq(r.rc, 0, f"create --image\n{r!r}")
    check_eq(h.rt_ok("state", cid).json()["status"], "created", "created, waiting for start")
    info = _inspect(h, cid)
    check_eq(info["Config"]["annotations"]["org.opencontainers.image.stopSignal"], "SIGUSR1",
             "StopSignal as an annotation")
    check_eq((info["State"]["StartedAt"], info["State"]["FinishedAt"]),
             ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"), "created: Docker's zero times")
    # stop leaves a created container as it is (Docker's, podman's): no exit is made up.
    h.rt_ok("stop", "-t", "1", cid)
    check_eq((h.rt_ok("state", cid).json()["status"], _inspect(h, cid)["State"].get("ExitCode", 0)), ("created", 0),
             "stop of a created container")
    time.sleep(1.1)
    before = _now_rfc3339()
    h.rt_ok("start", cid)
    h.wait_status(cid, "running")
    started = _inspect(h, cid)["State"]["StartedAt"]
    check(started >= before, f"StartedAt is the start's time, not the create's: {started} < {before}")
    # The monitor create left is the init's parent: it records the exit (as docker create + start).
    t0 = time.monotonic()
    h.rt_ok("stop", "-t", "5", cid)
    check(time.monotonic() - t0 < 4, "the image's StopSignal stopped it (no SIGKILL wait)")
    check_eq(_inspect(h, cid)["State"]["ExitCode"], 7, "the exit the monitor recorded")
    h.rt_ok("delete", cid)
    # Its output goes to the log once started; wait gives the exit code.
    h.rt_ok("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none", cid,
            "sh", "-c", "echo started; exit 3")
    check_eq(h.rt_ok("logs", cid).out, "", "nothing logged before start")
    h.rt_ok("start", cid)
    check_eq(h.rt("wait", cid).out.strip(), "3", "wait: the exit code")
    check_eq(h.rt_ok("logs", cid).out, "started\n", "the output, in the log")
    h.rt_ok("delete", cid)
    check_eq(_containers_left(h), [], "nothing left")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--rm", cid)
    check(r.rc != 0 and "--rm" in r.err, f"create --rm is refused\n{r!r}")


def test_logs_capture_detached_output(h):
    archive = _archive(h, BASE)
    cid = h.new_id("img")
    t0 = time.time()
    _run(h, archive, "-d", cid, "sh", "-c", "echo to-stdout; echo to-stderr >&2; printf 'no newline'")
    h.wait_status(cid, "stopped")
    # Docker's and podman's: each stream on its own, a last line without its newline kept.
    r = h.rt_ok("logs", cid)
    check_eq((r.out, r.err), ("to-stdout\nno newline", "to-stderr\n"), "stdout's on stdout, stderr's on stderr")
    # -t: each line after its time, RFC 3339 in UTC with nanoseconds.
    stamped = h.rt_ok("logs", "-t", cid).out.split("\n")[0]
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z to-stdout", stamped), f"logs -t: {stamped!r}")
    logged = time.mktime(time.strptime(stamped[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    check(t0 - 2 <= logged <= time.time() + 1, f"the time it was logged: {stamped!r}")
    # --since and --until: a time, a timestamp or a duration before now.
    check_eq(h.rt_ok("logs", "--since", "1m", cid).out, "to-stdout\nno newline", "--since 1m")
    check_eq(h.rt_ok("logs", "--until", "2000-01-01T00:00:00Z", cid).out, "", "--until a time before")
    check_eq(h.rt_ok("logs", "--since", str(int(time.time()) + 60), cid).out, "", "--since a time after")
    h.rt_fail("logs", "--since", "yesterday", cid, expect="logs: --since: invalid time `yesterday`")
    # The log holds CRI records (podman's k8s-file format), one a line.
    with open(os.path.join(_store(h), "containers", cid, "ctr.log")) as f:
        records = f.read().splitlines()
    records = [r.split(" ", 1)[1] for r in records]
    check_eq(([r for r in records if r.startswith("stdout")], [r for r in records if r.startswith("stderr")]),
             (["stdout F to-stdout", "stdout P no newline"], ["stderr F to-stderr"]),
             "TIME STREAM F|P TEXT (each stream in order; the two are read apart)")
    for verb in (["logs"], ["stop"], ["inspect"], ["port"], ["healthcheck", "run"]):
        r = h.rt(*verb, "no-such-container")
        check(r.rc != 0 and "container no-such-container does not exist" in r.err, f"{verb}: the container named\n{r!r}")
    # --follow prints what comes and returns when the container stops.
    follow = h.new_id("img")
    _run(h, archive, "-d", follow, "sh", "-c", "echo first; sleep 1; echo second")
    r = h.rt("logs", "-f", follow, timeout=20)
    check_eq(r.out.split(), ["first", "second"], "logs -f until the container stopped")
    # --tail N (-n): the last N lines, as Docker's; with -f, then what comes.
    check_eq(h.rt_ok("logs", "--tail", "1", follow).out, "second\n", "logs --tail 1")
    check_eq(h.rt_ok("logs", "-n", "5", follow).out, "first\nsecond\n", "more lines than the log has")
    check_eq(h.rt_ok("logs", "--tail", "0", follow).out, "", "--tail 0")
    check_eq(h.rt_ok("logs", "--tail", "-1", follow).out, "first\nsecond\n", "--tail -1: all, as podman's")
    h.rt_fail("logs", "--tail", "x", follow, expect="want a number of lines or all")
    tailed = h.new_id("img")
    _run(h, archive, "-d", tailed, "sh", "-c", "echo one; echo two; sleep 1; echo three")
    harness.wait_until(lambda: "two" in h.rt_ok("logs", tailed).out, 10)
    r = h.rt("logs", "-f", "--tail", "1", tailed, timeout=20)
    check_eq(r.out.split(), ["two", "three"], "--tail 1 -f: the last line, then the rest")
    # Detached with --rm: the monitor deletes the container and its files after the exit.
    gone = h.new_id("img")
    _run(h, archive, "-d", "--rm", gone, "sleep", "0.3")
    check(harness.wait_until(lambda: gone not in h.container_ids() and gone not in _containers_left(h), 10),
          "run -d --rm: the container and its directory are removed once it exits")


def test_logs_keep_bursts_and_long_lines_whole(h):
    """A burst larger than the pipes, and a line longer than a record (logged in parts),
    come back from logs as written."""
    archive = _archive(h, BASE)
    cid = h.new_id("img")
    script = ("i=0; while [ $i -lt 3000 ]; do echo line$i; echo err$i >&2; i=$((i+1)); done; "
              "head -c 40000 /dev/zero | tr '\\0' x; echo; echo end")
    _run(h, archive, "-d", cid, "sh", "-c", script)
    h.wait_status(cid, "stopped")
    r = h.rt_ok("logs", cid)
    want = "".join(f"line{i}\n" for i in range(3000)) + "x" * 40000 + "\nend\n"
    check_eq((len(r.out), r.out == want), (len(want), True), "stdout whole, in order")
    check_eq(r.err, "".join(f"err{i}\n" for i in range(3000)), "stderr whole, in order")
    with open(os.path.join(_store(h), "containers", cid, "ctr.log")) as f:
        kinds = [line.split(" ", 3)[2] for line in f if " stdout " in line]
    check(kinds.count("P") >= 2, f"the long line in parts of 16 KiB at most: {kinds.count('P')} parts")
    h.rt_ok("delete", cid)
    # A prompt (no newline yet) is logged as it comes, not when the line ends.
    prompt = h.new_id("img")
    _run(h, archive, "-d", prompt, "sh", "-c", "printf 'Password: '; sleep 60")
    check(harness.wait_until(lambda: h.rt_ok("logs", prompt).out == "Password: ", 10), "the prompt is in the log")
    h.rt_ok("delete", "--force", prompt)


def test_health_start_period_begins_at_start(h):
    """As Docker's: a container created long before its start has its whole start period
    after `start` (failures in it do not count), then fails as usual."""
    health = {"Test": ["CMD", "false"], "Interval": 200_000_000, "StartPeriod": 2_000_000_000,
              "StartInterval": 200_000_000, "Retries": 1}
    archive = _archive(h, dict(BASE, User="", Healthcheck=health, Cmd=["sleep", "3600"]))
    cid = h.new_id("img")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none", cid)
    check_eq(r.rc, 0, f"create --image\n{r!r}")
    time.sleep(2.5)  # the start period, were it counted from create
    h.rt_ok("start", cid)
    time.sleep(1)
    check_eq(_inspect(h, cid)["State"]["Health"]["Status"], "starting", "1 s after start: in the start period")
    _wait_health(h, cid, "unhealthy")
    h.rt_ok("delete", "--force", cid)
    check_eq(_containers_left(h), [], "nothing left")


def test_healthcheck_transitions_and_timeout(h):
    health = {"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 200_000_000, "Timeout": 2_000_000_000,
              "StartPeriod": 60_000_000_000, "StartInterval": 200_000_000, "Retries": 2}
    archive = _archive(h, dict(BASE, User="", Healthcheck=health, Cmd=["sleep", "3600"]))
    cid = h.new_id("img")
    _run(h, archive, "-d", cid)
    time.sleep(1)
    check_eq(_inspect(h, cid)["State"]["Health"]["Status"], "starting",
             "failures in the start period do not count")
    h.rt_ok("exec", cid, "sh", "-c", "echo fine > /tmp/ok")
    hs = _wait_health(h, cid, "healthy")
    # As scripts ask Docker: inspect --format with a Go template.
    r = h.rt("inspect", "--format", "{{.State.Health.Status}} {{json .State.Running}}", cid)
    check_eq((r.rc, r.out), (0, "healthy true\n"), f"inspect --format\n{r!r}")
    r = h.rt("inspect", "-f", "{{.State.Nope}}", cid)
    check(r.rc == 1 and "inspect --format: `{{.State.Nope}}`: State has no Nope" in r.err, f"a missing field\n{r!r}")
    r = h.rt("inspect", "-f", "{{with .State.Health}}{{.Status}}{{end}}|{{.State.Status | upper}}|"
             "{{if .State.Nope}}x{{else}}none{{end}}|{{range $k, $v := .State.Health}}{{$k}},{{end}}", cid)
    check_eq((r.rc, r.out), (0, "healthy|RUNNING|none|FailingStreak,Log,Status,\n"), f"with, pipelines, if, range\n{r!r}")
    check_eq(hs["Log"][-1]["Output"].strip(), "fine", "the probe's output is kept")
    check_eq(hs["Log"][-1]["ExitCode"], 0, "exit code 0")
    check_eq(h.rt("healthcheck", "run", cid).rc, 0, "healthcheck run: healthy")
    h.rt_ok("exec", cid, "rm", "/tmp/ok")
    hs = _wait_health(h, cid, "unhealthy")
    check(hs["FailingStreak"] >= 2, f"FailingStreak counts after the first success: {hs}")
    check(len(hs["Log"]) <= 5, "at most 5 results kept")
    r = h.rt("healthcheck", "run", cid)
    check_eq(r.rc, 1, f"healthcheck run: unhealthy\n{r!r}")
    check_in("No such file", r.err, "healthcheck run prints the probe's output")
    check_eq(r.out, "unhealthy\n", "and the status, as podman's")
    check_eq(h.rt_ok("state", cid).json()["status"], "running", "state")
    h.rt_ok("delete", "--force", cid)
    # A probe running past its timeout fails.
    r = _run(h, archive, "-d", "--health-cmd", "trap '' TERM; sleep 7777", "--health-timeout", "300ms",
             "--health-interval", "200ms", "--health-retries", "1", "--health-start-period", "0s", cid)
    check_eq(r.rc, 0, f"run\n{r!r}")
    hs = _wait_health(h, cid, "unhealthy")
    check_in("exceeded timeout (300ms)", hs["Log"][-1]["Output"], "timeout in the log")
    check_eq(hs["Log"][-1]["ExitCode"], -1, "a timed-out probe")
    # A probe that ignores SIGTERM is killed with its exec: no pile of leftovers.
    time.sleep(2)
    count = h.rt_ok("exec", cid, "sh", "-c", "n=0; for f in /proc/[0-9]*/cmdline; do "
                    "[ \"$(cat $f 2>/dev/null)\" = sleep7777 ] && n=$((n+1)); done; echo $n").out
    check(int(count.strip() or 0) <= 1, f"at most the running probe's sleep is left (found {count.strip()})")


def test_health_interval_disable(h):
    """--health-interval disable (or 0), podman's: no timer; `healthcheck run` alone probes,
    and --wait-healthy, which would wait for nothing, is refused."""
    archive = _archive(h, dict(BASE, User="", Cmd=["sleep", "3600"]))
    for value in ("disable", "0"):
        cid = h.new_id("img")
        check_eq(_run(h, archive, "-d", "--health-cmd", "true", "--health-interval", value, cid).rc, 0, "run -d")
        time.sleep(1.5)
        hs = _inspect(h, cid)["State"]["Health"]
        check_eq((hs["Status"], hs.get("Log", [])), ("starting", []), f"--health-interval {value}: no probe by itself")
        check_eq(h.rt("healthcheck", "run", cid).rc, 0, "healthcheck run")
        check_eq(_inspect(h, cid)["State"]["Health"]["Status"], "healthy", "probed on demand")
        h.rt_ok("rm", "-f", cid)
    r = _run(h, archive, "-d", "--health-cmd", "true", "--health-interval", "disable", "--wait-healthy", cid)
    check(r.rc == 125 and "no timer" in r.err, f"--wait-healthy with no timer\n{r!r}")
    check_eq(_containers_left(h), [], "nothing left")


def test_healthcheck_run_enters_from_the_sealed_copy(h):
    """`healthcheck run` execs the image's command in the container, so, like exec, it runs
    from a view of the runtime nothing can write (CVE-2019-5736): the read-only overlay view as
    root, else the sealed memfd copy."""
    archive = _archive(h, dict(BASE, User="", Cmd=["sleep", "3600"]))
    cid = h.new_id("img")
    check_eq(_run(h, archive, "-d", "--health-cmd", "sleep 3", "--health-interval", "1h", cid).rc, 0, "run -d")
    p = h.spawn(h.rt_argv("healthcheck", "run", cid))
    try:
        exe = []
        def probe_seen():  # then healthcheck run has re-exec'd, if it does
            running = h.rt("exec", cid, "sh", "-c", "ps -o args | grep -c '^sleep 3$'").out.strip()
            if running in ("", "0"):
                return False
            exe[:] = [os.readlink(f"/proc/{p.pid}/exe"), harness.runs_protected(p.pid)]
            return True
        check(harness.wait_until(probe_seen, 10, 0.1), "the probe runs")
        st = os.stat(h.bin)
        if h.rootless and st.st_uid == 0 and not st.st_mode & 0o022:
            check_eq(exe[:1], [h.bin], "root's binary run by a user needs no copy (self_clone.cpp)")
        else:
            check(exe and exe[1], f"healthcheck run's exe is protected: {exe}")
    finally:
        h.finish(p)
    h.rt_ok("delete", "--force", cid)


def _ok_out(r):
    check_eq(r.rc, 0, f"succeeds\n{r!r}")
    return r.out


def test_wait_healthy(h):
    archive = _archive(h, dict(BASE, Cmd=["sleep", "3600"]))
    cid = h.new_id("img")
    t0 = time.monotonic()
    r = _run(h, archive, "-d", "--health-cmd", "echo broken-probe >&2; exit 1", "--health-interval", "200ms",
             "--health-retries", "2", "--wait-healthy=30s", cid)
    check_eq(r.rc, 1, f"--wait-healthy fails for an unhealthy container\n{r!r}")
    check(time.monotonic() - t0 < 15, "it fails fast, not at the timeout")
    check_in("broken-probe", r.err, "with the probe's output")
    h.rt_ok("delete", "--force", cid)
    r = _run(h, archive, "-d", "--health-cmd", "true", "--health-interval", "200ms", "--wait-healthy", cid)
    check_eq(r.rc, 0, f"--wait-healthy returns once healthy\n{r!r}")
    check_eq(_inspect(h, cid)["State"]["Health"]["Status"], "healthy", "inspect says healthy")
    none = h.new_id("img")
    r = _run(h, archive, "-d", "--no-healthcheck", "--wait-healthy", none)
    check(r.rc != 0 and "healthcheck is turned off" in r.err, f"--wait-healthy with the healthcheck off\n{r!r}")
    r = _run(h, archive, "-d", "--wait-healthy", none)
    check(r.rc != 0 and "image has no healthcheck" in r.err, f"--wait-healthy without a healthcheck\n{r!r}")
    r = h.rt("healthcheck", "run", none)
    check_eq(r.rc, 125, f"healthcheck run without a healthcheck is an error (125, as podman)\n{r!r}")
    # Docker's and podman's run -d and create: the id on stdout, for id=$(run -d ...).
    check_eq(_ok_out(_run(h, archive, "-d", "--health-cmd", "true", "--name", "printed", "sleep", "100")),
             "printed\n", "run -d prints the id")
    check_eq(_ok_out(h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none",
                          "--health-cmd", "true", "--name", "made", "sleep", "100")), "made\n", "create too")
    r = h.rt("healthcheck", "run", "made")
    check(r.rc == 125 and "container made is not running" in r.err, f"healthcheck run of a created one\n{r!r}")
    if h.rt("pause", "printed").rc == 0:  # rootless without a delegated cgroup nothing can be paused
        r = h.rt("healthcheck", "run", "printed")
        check_eq((r.rc, r.err.strip()), (1, "healthcheck: cannot probe a paused container"),
                 f"an exec probe of a paused one, as a network probe\n{r!r}")
    for name in ("printed", "made"):
        h.rt_ok("delete", "--force", name)
    for bad in ("-x", ".hidden", "_u"):
        r = _run(h, archive, "-d", "--name", bad, "true")
        check(r.rc != 0 and f"invalid container name `{bad}`: it must start with a letter or a digit" in r.err,
              f"--name {bad}\n{r!r}")
    # The timeout takes "=": a duration after a bare --wait-healthy is not a container id.
    r = _run(h, archive, "-d", "--health-cmd", "true", "--wait-healthy", "5s", "--name", none)
    check(r.rc != 0 and "--wait-healthy takes its timeout as --wait-healthy=5s" in r.err, f"--wait-healthy 5s\n{r!r}")
    check_eq(h.container_ids(), [cid], "no container 5s")


def test_image_in_use_is_kept(h):
    archive = _archive(h, dict(BASE, Cmd=["sleep", "3600"]))
    cid = h.new_id("img")
    _run(h, archive, "-d", cid)
    r = h.rt("image", "rm", "--store", _store(h), "example/app:1.0", root=False)
    check(r.rc != 0, f"image rm of an image in use must fail\n{r!r}")
    check_in(cid, r.err, "the error names the container")
    h.rt_ok("delete", "--force", cid)
    h.rt_ok("image", "rm", "--store", _store(h), "example/app:1.0", root=False)


def test_image_rm_and_ls_race_run_from_an_archive(h):
    """run --image ARCHIVE imports and pins the image in one hold of the store
    lock: an `image rm` looping beside it never takes the image between the two
    (it fails "in use" or runs before the import), and `image ls` (no lock)
    never fails while images come and go."""
    archive = _archive(h, dict(BASE, User=""))
    store = _store(h)
    stop = time.monotonic() + 8
    rm = shlex.join(h.rt_argv("image", "rm", "--store", store, "example/app:1.0", root=False))
    ls = shlex.join(h.rt_argv("image", "ls", "--store", store, root=False))
    racer = h.spawn(["sh", "-c", f"while [ $(date +%s) -lt {int(time.time()) + 8} ]; do "
                                 f"{rm} >/dev/null 2>&1; {ls} >/dev/null || echo LS-FAILED; done"])
    runs = failures = 0
    while time.monotonic() < stop:
        r = _run(h, archive, "--rm", h.new_id("img"), "true")
        runs += 1
        if r.rc != 0:
            failures += 1
            harness.log(f"    {r!r}")
    out = h.finish(racer, timeout=30).out
    harness.log(f"    {runs} runs beside image rm and ls, {failures} failed")
    check_eq(failures, 0, "runs failed while image rm raced them")
    check("LS-FAILED" not in out, f"image ls failed while images came and went: {out!r}")
    check_eq(_containers_left(h), [], "nothing left")


def test_fuse_overlayfs_root(h):
    if not harness._which("fuse-overlayfs"):
        harness.skip("fuse-overlayfs is not installed")
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        harness.skip("/dev/fuse is not usable by this user (Debian's default mode is 0666)")
    # A second layer deletes a file and makes /opt opaque: fuse-overlayfs must
    # honour the whiteouts the store wrote for the kernel's overlay.
    import io
    import tarfile

    def deleting(t):
        for name, data in ((".wh.gone", b""), ("opt/.wh..wh..opq", b""), ("opt/new", b"new\n")):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data))
    base = _files(("gone", "x"), ("opt/", None), ("opt/old", "old"))
    archive = _archive(h, dict(BASE, User=""), extra_layers=[base, deleting])
    cid = h.new_id("img")
    r = _run(h, archive, "--rm", "--overlay", "fuse", cid, "sh", "-c",
             "grep ' / ' /proc/mounts | cut -d' ' -f3; ls /opt; test -e /gone && echo gone-visible; "
             "echo written > /w; cat /w")
    check_eq(r.rc, 0, f"run --overlay fuse\n{r!r}")
    check_eq(r.out.split(), ["fuse.fuse-overlayfs", "new", "written"], "fuse-overlayfs root with the layers' whiteouts")
    check_eq(_containers_left(h), [], "nothing left")
    check(not any("fuse-overlayfs" in " ".join(harness.proc_cmdline(p)) for p in harness.descendants()),
          "no fuse-overlayfs daemon outlives the container")
    # The init drains the container's processes but not the daemon serving the root:
    # a worker that flushes on SIGTERM still has its filesystem.
    r = _run(h, archive, "--rm", "--overlay", "fuse", cid, "sh", "-c",
             "(trap 'sleep 0.3; cat /etc/passwd >/dev/null && echo FLUSH-OK; exit 0' TERM; "
             "while :; do sleep 0.1; done) & sleep 0.5; exit 0")
    check_in("FLUSH-OK", r.out, f"the root outlives the drain\n{r!r}")
    # The daemon lives in the container's pid namespace with every capability: the
    # container may not look into it, and may not get the capability that would let it.
    r = _run(h, archive, "--rm", "--overlay", "fuse", "-u", "0", cid, "sh", "-c",
             "for p in /proc/[0-9]*; do grep -q '^fuse-overlayfs' $p/cmdline 2>/dev/null && "
             "{ echo daemon; grep Cpus_allowed_list $p/status; ls $p/root/ && echo visible; }; done")
    # ... and runs on the caller's CPUs (the init, lent one CPU while the runtime
    # writes the state, is not when it may start the daemon).
    want = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("Cpus_allowed_list:"))
    check_eq(r.out.split(), ["daemon", "Cpus_allowed_list:", want], f"the daemon is there, its root out of reach\n{r!r}")
    check_in("Permission denied", r.err, "looking into the daemon's root is refused")
    r = _run(h, archive, "--rm", "--overlay", "fuse", "--cap-add", "SYS_PTRACE", cid, "true")
    check_in("not with CAP_SYS_PTRACE", r.err, "fuse-overlayfs and SYS_PTRACE are refused together")
    r = _run(h, archive, "--rm", "--overlay", "fancy", cid, "true")
    check_in("--overlay: unknown driver", r.err, "an unknown driver")


def _network_resolv_conf(nameserver, ipv6):
    """What a network with its own DNS forwarder writes (podman's): its
    nameserver, then the host's that are not loopback (IPv6 ones with `ipv6`),
    the last search line and the options."""
    lines = [line.split() for line in open("/etc/resolv.conf") if line.split()]
    out = [f"nameserver {nameserver}"]
    out += [f"nameserver {w[1]}" for w in lines if w[0] == "nameserver" and len(w) > 1
            and not w[1].startswith("127.") and w[1] not in ("::1", nameserver) and (ipv6 or ":" not in w[1])]
    searches = [w[1:] for w in lines if w[0] == "search" and len(w) > 1]
    if searches:
        out.append(f"search {' '.join(searches[-1])}")
    options = [x for w in lines if w[0] == "options" for x in w[1:]]
    if options:
        out.append(f"options {' '.join(options)}")
    return "\n".join(out) + "\n"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _needs_slirp4netns():
    if not harness._which("slirp4netns"):
        harness.skip("slirp4netns is not installed")
    if os.geteuid() != 0 and not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        harness.skip("/dev/net/tun is not usable by unprivileged users (mode 0666 needed for slirp4netns)")


def test_publish_all_exposed_ports(h):
    """-P publishes each exposed port (the image's, --expose's) no -p maps, on a free port of
    every host address; so the test runs it in a network namespace of its own."""
    _needs_slirp4netns()
    www = _files(("www/", None), ("www/index.html", "all\n"))
    archive = _archive(h, dict(BASE, User="", ExposedPorts={"8080/tcp": {}, "9/sctp": {}},
                               Cmd=["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]), extra_layers=[www])
    cid = h.new_id("img")
    run = h.rt_argv("run", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "slirp4netns",
                    "-d", "-P", "--expose", "5353/udp", "-p", "127.0.0.1::5353/udp", cid)
    port = h.rt_argv("port", cid)
    wget = ["sh", "-c", 'for i in $(seq 50); do wget -qO- "http://127.0.0.1:$1/index.html" && exit; sleep 0.2; done',
            "wget"]
    script = (f"ip link set lo up && {shlex.join(run)} >/dev/null && {shlex.join(port)} && "
              f"{shlex.join(wget)} $({shlex.join(port)} 8080/tcp | cut -d: -f2); "
              f"{shlex.join(h.rt_argv('delete', '--force', cid))}")
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]
    r = h.cmd(unshare + ["sh", "-c", script], timeout=60)
    if r.rc != 0 and os.geteuid() != 0 and "unshare" in r.err:
        harness.skip(f"no network namespace of our own: {r.err.strip()}")
    lines = r.out.splitlines()
    check_eq(len(lines), 3, f"the two ports, then the page\n{r!r}")
    check(re.fullmatch(r"5353/udp -> 127\.0\.0\.1:\d+", lines[0]) is not None, f"-p stays as given: {lines}")
    check(re.fullmatch(r"8080/tcp -> 0\.0\.0\.0:\d+", lines[1]) is not None, f"-P: the image's port: {lines}")
    check_eq(lines[2], "all", "served through the port -P published")
    check_in("9/sctp not published", r.err, "sctp is skipped with a warning")
    check_eq(_containers_left(h), [], "nothing left")


def test_host_containers_internal_leads_to_the_host(h):
    """With slirp4netns, host.containers.internal (and host.docker.internal, and --add-host's
    host-gateway) name the host's first IPv4 address, which leads to the host (podman's).  The
    "host" is a network namespace of the test's own, with that address on a veth interface,
    where the test serves a page."""
    _needs_slirp4netns()
    archive = _archive(h, dict(BASE, User=""))
    cid = h.new_id("img")
    run = h.rt_argv("run", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "slirp4netns",
                    "--rm", "--add-host", "gw:host-gateway", cid, "sh", "-c",
                    "grep -E 'internal|gw' /etc/hosts; busybox wget -qO- http://host.containers.internal:8000/page")
    script = ("set -e; ip link set lo up; ip link add d0 type veth peer name d1; ip addr add 192.0.2.1/24 dev d0; "
              "ip link set d0 up; mkdir -p web; echo from-the-host > web/page; "
              "python3 -m http.server --bind 192.0.2.1 --directory web 8000 >/dev/null 2>&1 & server=$!; "
              "for i in $(seq 50); do python3 -c 'import socket; socket.create_connection((\"192.0.2.1\", 8000))' "
              f"2>/dev/null && break; sleep 0.1; done; {shlex.join(run)}; kill $server")
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]
    r = h.cmd(unshare + ["sh", "-c", script], timeout=60, cwd=h.tmp)
    if r.rc != 0 and os.geteuid() != 0 and "unshare" in r.err:
        harness.skip(f"no network namespace of our own: {r.err.strip()}")
    check_eq(r.out.splitlines(), ["192.0.2.1\thost.containers.internal host.docker.internal", "192.0.2.1\tgw",
                                  "from-the-host"], f"the names, and the page served on the host\n{r!r}")
    r = _run(h, archive, "--network", "pasta" if harness._which("pasta") else "none", "--rm", "--add-host",
             "gw:host-gateway", cid, "true")
    check_in("host-gateway needs --network slirp4netns or host", r.err, f"no way to the host\n{r!r}")
    check_eq(_containers_left(h), [], "nothing left")


def test_slirp4netns_sandbox_leaves_our_mounts(h):
    """As root slirp4netns runs sandboxed: it pivots and detaches its old root, which it made
    private alone.  It gets a mount namespace of its own, private throughout, so that mounts
    below a shared one stay in ours (those of `ip netns`, of /dev/shm on a systemd host).
    The shared tmpfs and its submount are made in a mount namespace of the test's own."""
    _needs_slirp4netns()
    if h.rootless:
        harness.skip("rootless slirp4netns runs without its sandbox")
    archive = _archive(h, dict(BASE, User=""))
    cid = h.new_id("img")
    top = os.path.join(h.tmp, "shared-top")
    run = h.rt_argv("run", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "slirp4netns",
                    "--rm", cid, "true")
    script = (f"set -e; mkdir -p {top}; mount -t tmpfs top {top}; mount --make-shared {top}; mkdir {top}/sub; "
              f"mount -t tmpfs sub {top}/sub; {shlex.join(run)}; grep -c ' {top}/sub ' /proc/self/mountinfo")
    r = h.cmd(["unshare", "-m", "--propagation", "shared", "sh", "-c", script], timeout=60)
    check_eq(r.out.strip(), "1", f"the submount of a shared mount is still there\n{r!r}")
    check_eq(_containers_left(h), [], "nothing left")


def test_publish_port_through_slirp4netns(h):
    _needs_slirp4netns()
    www = _files(("www/", None), ("www/index.html", "served by busybox httpd\n"))
    archive = _archive(h, dict(BASE, User="", Cmd=["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]),
                       extra_layers=[www])
    port = _free_port()
    cid = h.new_id("img")
    r = _run(h, archive, "-d", "--network", "slirp4netns", "-p", f"127.0.0.1:{port}:8080", cid)
    check_eq(r.rc, 0, f"run -p\n{r!r}")
    body = ""

    def served():
        nonlocal body
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).read().decode()
            return True
        except OSError:
            return False
    check(harness.wait_until(served, timeout=15), "the published port answers")
    check_eq(body, "served by busybox httpd\n", "HTTP through the published port")
    hosts = h.rt_ok("exec", cid, "cat", "/etc/hosts").out
    check_in(f"10.0.2.100\t{cid[:12]} {cid}\n", hosts, "/etc/hosts names the container: host name and name")
    check_eq(h.rt_ok("exec", cid, "cat", "/etc/resolv.conf").out, _network_resolv_conf("10.0.2.3", False),
             "resolv.conf: slirp4netns's DNS first, then the host's")
    h.rt_ok("stop", cid)
    h.rt_ok("delete", cid)
    check_eq(_containers_left(h), [], "nothing left")
    # A 64-character id (podman's kind) still fits slirp4netns's API socket.
    long_id = (cid + "-" + "x" * 64)[:64]
    r = _run(h, archive, "-d", "--network", "slirp4netns", "-p", f"127.0.0.1:{_free_port()}:8080", long_id)
    check_eq(r.rc, 0, f"run -p with a 64-character id\n{r!r}")
    h.rt_ok("delete", "--force", long_id)


def test_publish_a_free_port_and_list_it(h):
    """-p IP::CONTAINER picks a free host port (as Docker); `port` lists the mappings in Docker's
    format; a host port already taken is refused in plain words naming it. (-p CONTAINER alone
    publishes on 0.0.0.0, which tests do not bind: its parsing is unit-tested.)"""
    _needs_slirp4netns()
    import re
    www = _files(("www/", None), ("www/index.html", "picked\n"))
    archive = _archive(h, dict(BASE, User="", Cmd=["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]),
                       extra_layers=[www])
    cid = h.new_id("img")
    r = _run(h, archive, "-d", "--network", "slirp4netns", "-p", "127.0.0.1::8080", "-p", "127.0.0.1::8080",
             "-p", "127.0.0.1::5353/udp", cid)
    check_eq(r.rc, 0, f"run -p IP::PORT\n{r!r}")
    lines = h.rt_ok("port", cid).out.splitlines()
    check_eq(len(lines), 3, f"one line per published port: {lines}")
    found = [re.fullmatch(r"(\d+)/(tcp|udp) -> 127\.0\.0\.1:(\d+)", l) for l in lines]
    check(all(found), f"Docker's format 'PORT/PROTO -> IP:HOSTPORT': {lines}")
    check_eq([(m.group(1), m.group(2)) for m in found], [("8080", "tcp"), ("8080", "tcp"), ("5353", "udp")],
             "the container ports, in order")
    hosts = [int(m.group(3)) for m in found]
    check(len(set(hosts[:2])) == 2 and all(p >= 1024 for p in hosts), f"two different free ports: {hosts}")
    for port in hosts[:2]:
        def served():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).read() == b"picked\n"
            except OSError:
                return False
        check(harness.wait_until(served, timeout=15), f"the picked port {port} answers")
    check_eq(h.rt_ok("port", cid, "8080").out.split(), [f"127.0.0.1:{p}" for p in hosts[:2]], "port ID 8080")
    check_eq(h.rt_ok("port", cid, "5353/udp").out.split(), [f"127.0.0.1:{hosts[2]}"], "port ID 5353/udp")
    # And as Docker's inspect shows them, for scripts that ask it.
    ports = _inspect(h, cid)["NetworkSettings"]["Ports"]
    check_eq(ports["8080/tcp"], [{"HostIp": "127.0.0.1", "HostPort": str(p)} for p in hosts[:2]], "NetworkSettings.Ports")
    r = h.rt("inspect", "-f", '{{(index (index .NetworkSettings.Ports "5353/udp") 0).HostPort}}', cid)
    check_eq(r.out.strip(), str(hosts[2]), f"Docker's template for a published port\n{r!r}")
    r = h.rt("port", cid, "9999")
    check(r.rc != 0 and "no public port `9999/tcp` published" in r.err, f"an unpublished port\n{r!r}")
    check_eq(h.rt("port", "no-such-container").rc, 1, "port of a missing container")
    # A taken host port: its number in plain words, not slirp4netns's JSON; nothing left.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        other = h.new_id("img")
        r = _run(h, archive, "-d", "--network", "slirp4netns", "-p", f"127.0.0.1:{taken}:8080", other)
    check(r.rc != 0, f"a taken host port must fail\n{r!r}")
    check_in(f"-p 127.0.0.1:{taken}:8080: host port {taken} (tcp) on 127.0.0.1 is already in use", r.err,
             "the error names the port")
    check("{" not in r.err, f"no raw JSON in the error\n{r.err}")
    r = _run(h, archive, "-d", "--network", "slirp4netns", "-p", "127.0.0.1:8080:80", "-p", "127.0.0.1:8080:81", other)
    check_in("host port 8080 (tcp) is published twice", r.err, "the same host port twice")
    check_eq(_containers_left(h), [cid], "the refused containers left nothing")
    # The same mapping twice is one, as podman takes it.
    dup = _free_port()
    r = _run(h, archive, "-d", "--network", "slirp4netns", "-p", f"127.0.0.1:{dup}:8080", "-p", f"127.0.0.1:{dup}:8080",
             other)
    check_eq(r.rc, 0, f"run with a mapping given twice\n{r!r}")
    check_eq(h.rt_ok("port", other).out, f"8080/tcp -> 127.0.0.1:{dup}\n", "published once")
    h.rt_ok("rm", "-f", other)
    # Docker's ranges: a port map per port.
    r = _run(h, archive, "-d", "--network", "slirp4netns", "-p", "127.0.0.1::8080-8081/udp", other)
    check_eq(r.rc, 0, f"run -p with a range\n{r!r}")
    lines = h.rt_ok("port", other).out.splitlines()
    check_eq([l.split(" -> ")[0] for l in lines], ["8080/udp", "8081/udp"], f"one mapping per port of the range: {lines}")
    h.rt_ok("rm", "-f", other)
    check_eq(h.container_ids(), [cid], "no state of the refused containers")
    h.rt_ok("stop", cid)
    check_eq(h.rt_ok("port", cid).out, "", "a stopped container publishes nothing")
    # Its host port taken meanwhile: `start` fails, and the container stays, stopped (podman's).
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the served connections' TIME_WAIT
        busy.bind(("127.0.0.1", hosts[0]))
        busy.listen()
        r = h.rt("start", cid)
    check(r.rc != 0 and f"host port {hosts[0]} (tcp) on 127.0.0.1 is already in use" in r.err, f"start\n{r!r}")
    check_eq(h.state(cid)["status"], "stopped", "the container stays")
    h.rt_ok("start", cid)
    check_eq(h.state(cid)["status"], "running", "started once the port is free")
    h.rt_ok("rm", "-f", cid)


def _web_archive(h, cmd=("busybox", "httpd", "-f", "-p", "8080", "-h", "/www")):
    """busybox httpd serving /www, with /www/cgi-bin/peer printing the client's address."""
    import io
    import tarfile

    def web(t):
        for d in ("www", "www/cgi-bin"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            t.addfile(ti)
        for name, data, mode in (("www/index.html", b"served\n", 0o644),
                                 ("www/cgi-bin/peer", b"#!/bin/sh\necho Content-Type: text/plain\necho\n"
                                                      b"echo \"$REMOTE_ADDR\"\n", 0o755)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), mode
            t.addfile(ti, io.BytesIO(data))
    return _archive(h, dict(BASE, User="", Cmd=list(cmd)), extra_layers=[web])


def _get(url, timeout=15):
    """The body of `url`, retried until the server answers (None if it never does)."""
    body = None

    def fetched():
        nonlocal body
        try:
            body = urllib.request.urlopen(url, timeout=2).read().decode()
            return True
        except OSError:
            return False
    harness.wait_until(fetched, timeout=timeout)
    return body


def _need_pasta(h):
    if not harness._which("pasta"):
        harness.skip("pasta is not installed (Debian: passt)")


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _global_ipv6(if_inet6):
    """Global addresses (scope 00) in /proc/net/if_inet6 text, as 32 hex digits."""
    return sorted(l.split()[0] for l in if_inet6.splitlines() if len(l.split()) >= 6 and l.split()[3] == "00")


def test_pasta_publishes_ports_ipv4_and_ipv6(h):
    """--network pasta: the container gets the host's addresses and routes (IPv6 too), DNS
    through pasta, and -p publishes on IPv4 and IPv6 host addresses, free ports included."""
    _need_pasta(h)
    archive = _web_archive(h)
    cid = h.new_id("img")
    v6 = _ipv6_loopback()
    ports = ["-p", "127.0.0.1::8080"] + (["-p", "[::1]::8080"] if v6 else [])
    r = _run(h, archive, "-d", "--network", "pasta", *ports, cid)
    check_eq(r.rc, 0, f"run --network pasta\n{r!r}")
    check_eq(_inspect(h, cid)["Network"], "pasta", "inspect names the network")
    lines = h.rt_ok("port", cid).out.splitlines()
    check_eq(len(lines), 2 if v6 else 1, f"port: {lines}")
    check(lines[0].startswith("8080/tcp -> 127.0.0.1:"), f"IPv4 mapping {lines}")
    port4 = int(lines[0].rsplit(":", 1)[1])
    check_eq(_get(f"http://127.0.0.1:{port4}/index.html"), "served\n", "HTTP over the IPv4 published port")
    if v6:
        check(lines[1].startswith("8080/tcp -> [::1]:"), f"IPv6 mapping {lines}")
        port6 = int(lines[1].rsplit(":", 1)[1])
        check_eq(_get(f"http://[::1]:{port6}/index.html"), "served\n", "HTTP over the IPv6 published port")
    inside = h.rt_ok("exec", cid, "cat", "/proc/net/if_inet6").out
    host_v6 = _global_ipv6(open("/proc/net/if_inet6").read())
    if host_v6:
        check(set(_global_ipv6(inside)) & set(host_v6), f"the container has the host's IPv6 address {host_v6}:\n{inside}")
    check_eq(h.rt_ok("exec", cid, "cat", "/etc/resolv.conf").out, _network_resolv_conf("169.254.1.1", True),
             "DNS through pasta first, then the host's")
    pasta = [p for p in harness.descendants() if harness.proc_cmdline(p)[:1] == ["pasta"]]
    check_eq(len(pasta), 1, "one pasta, kept by the monitor")
    h.rt_ok("stop", cid)
    check(not harness.pid_alive(pasta[0]), "pasta ended (and reaped) when stop returns")
    check_eq(h.rt_ok("port", cid).out, "", "a stopped container publishes nothing")
    # rm -f returns once pasta let go of the host port: it can be bound at once (podman's).
    h.rt_ok("start", cid)
    check_eq(_get(f"http://127.0.0.1:{port4}/index.html"), "served\n", "started again, on the same port")
    h.rt_ok("rm", "-f", cid)
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the served connection's TIME_WAIT
        again.bind(("127.0.0.1", port4))
    cid = h.new_id("img")
    check_eq(_run(h, archive, "-d", "--network", "pasta", cid).rc, 0, "another container")
    # A taken port is refused by name before pasta starts.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        r = _run(h, archive, "-d", "--network", "pasta", "-p", f"127.0.0.1:{taken}:8080", h.new_id("img"))
    check_in(f"host port {taken} (tcp) on 127.0.0.1 is already in use", r.err, f"a taken port\n{r!r}")
    # pasta takes a host port on one address only: refused in words, before it starts.
    free = _free_port()
    r = _run(h, archive, "-d", "--network", "pasta", "-p", f"127.0.0.1:{free}:8080", "-p", f"127.0.0.2:{free}:8080",
             h.new_id("img"))
    check_in(f"-p 127.0.0.2:{free}:8080: pasta publishes host port {free} (tcp) on one address only", r.err,
             f"one host port on two addresses\n{r!r}")
    h.rt_ok("rm", "-f", cid)
    check_eq((_containers_left(h), h.container_ids()), ([], []), "nothing left")


def test_pasta_shows_the_client_address(h):
    """Through pasta the app sees the client's own address (so does slirp4netns, whose own
    port forwarding we use: only podman's rootlesskit forwarder loses it).  The client needs an
    address that is not loopback: the test runs crun-lite and the client in a network namespace
    it makes, with a veth pair (10.77.0.1 published, 10.77.0.2 the client)."""
    _need_pasta(h)
    if os.geteuid() != 0:
        harness.skip("making a network namespace with a veth pair needs root")
    for tool in ("unshare", "nsenter", "ip"):
        if not harness._which(tool):
            harness.skip(f"{tool} is not installed")
    import subprocess
    holder = subprocess.Popen(["unshare", "--net", "sleep", "600"])
    harness._tracked.add(holder.pid)
    try:
        ns = ["nsenter", "-t", str(holder.pid), "-n"]
        harness.wait_until(lambda: os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"), 5)
        setup = ("ip link add va type veth peer name vb && ip addr add 10.77.0.1/24 dev va && "
                 "ip addr add 10.77.0.2/24 dev vb && ip link set va up && ip link set vb up && ip link set lo up && "
                 "ip route add default via 10.77.0.254 dev va onlink")
        r = h.cmd(ns + ["sh", "-c", setup])
        if r.rc != 0:
            harness.skip(f"cannot make a veth pair here: {r.err.strip()}")
        archive = _web_archive(h)
        modes = ["pasta"] + (["slirp4netns"] if harness._which("slirp4netns") else [])
        for mode in modes:
            cid = h.new_id("img")
            r = h.cmd(ns + h.rt_argv("run", "--image", "docker-archive:" + archive, "--store", _store(h), "-d",
                                     "--network", mode, "-p", "10.77.0.1::8080", cid))
            check_eq(r.rc, 0, f"run --network {mode} in the test's namespace\n{r!r}")
            port = int(h.rt_ok("port", cid, "8080").out.strip().rsplit(":", 1)[1])
            client = ("import socket, sys\n"
                      "for _ in range(100):\n"
                      "    try:\n"
                      "        s = socket.socket(); s.bind(('10.77.0.2', 0)); s.connect(('10.77.0.1', %d)); break\n"
                      "    except OSError:\n"
                      "        import time; time.sleep(0.1)\n"
                      "s.sendall(b'GET /cgi-bin/peer HTTP/1.0\\r\\n\\r\\n'); d = b''\n"
                      "while True:\n"
                      "    c = s.recv(4096)\n"
                      "    if not c: break\n"
                      "    d += c\n"
                      "print(d.decode().strip().splitlines()[-1])\n") % port
            r = h.cmd(ns + ["python3", "-c", client])
            seen = r.out.strip().replace("::ffff:", "").strip("[]")
            check_eq(seen, "10.77.0.2", f"{mode}: the address the app sees is the client's\n{r!r}")
            h.rt_ok("rm", "-f", cid)
    finally:
        holder.kill()
        holder.wait()
        harness._tracked.discard(holder.pid)


def test_network_defaults_and_refusals(h):
    """pasta is the default user-mode network where installed (rootless, or with -p); -p needs
    one; slirp4netns publishes on IPv4 only and says to use pasta for IPv6."""
    archive = _archive(h, dict(BASE, User="", Cmd=["sleep", "3600"]))
    have_pasta, have_slirp = harness._which("pasta"), harness._which("slirp4netns")
    cid = h.new_id("img")
    args = ["-p", "127.0.0.1::9"] if not h.rootless else []
    r = h.rt("run", "--image", "docker-archive:" + archive, "--store", _store(h), "-d", *args, cid)
    check_eq(r.rc, 0, f"run with the default network\n{r!r}")
    want = "pasta" if have_pasta else "slirp4netns" if have_slirp else "none"
    check_eq(_inspect(h, cid)["Network"], want, "the default network")
    h.rt_ok("rm", "-f", cid)
    r = _run(h, archive, "-d", "-p", "127.0.0.1::80", cid)
    check_in("-p needs --network pasta or slirp4netns", r.err, "-p with --network none")
    r = _run(h, archive, "-d", "-P", "--network", "host", cid)
    check_in("-P needs --network pasta or slirp4netns (the network is host)", r.err, "-P names itself")
    r = _run(h, archive, "-d", "--network", "vde", cid)
    check_in("want none, host, pasta or slirp4netns", r.err, "an unknown network")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "pasta", cid)
    check_in("need `run`", r.err, "create cannot keep pasta alive")
    if have_pasta or have_slirp:
        r = _run(h, archive, "-d", "--network", want, "-p", "198.51.100.7::80", cid)
        check_in("-p 198.51.100.7::80: 198.51.100.7 is not an address of this host", r.err, f"a foreign address\n{r!r}")
        if h.rootless and int(open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read()) > 80:
            r = _run(h, archive, "-d", "--network", want, "-p", "127.0.0.1:80:80", cid)
            check_in("host port 80 is privileged", r.err, f"a privileged port rootless\n{r!r}")
    if have_slirp and _ipv6_loopback():
        r = _run(h, archive, "-d", "--network", "slirp4netns", "-p", "[::1]::80", cid)
        check_in("slirp4netns publishes on IPv4 addresses only (--network pasta takes IPv6)", r.err, f"IPv6 -p\n{r!r}")
    check_eq((_containers_left(h), h.container_ids()), ([], []), "nothing left")


def test_rm_removes_containers_and_their_files(h):
    """rm: delete for several ids, printing each removed one; an image container leaves nothing,
    even one whose state vanished (a reboot empties the state root, not the store)."""
    archive = _archive(h, dict(BASE, User="", Cmd=["sleep", "3600"]))
    a, b, missing = h.new_id("img"), h.new_id("img"), h.new_id("none")
    for cid in (a, b):
        check_eq(_run(h, archive, "-d", cid).rc, 0, "run -d")
    r = h.rt("rm", a)
    check(r.rc != 0, f"rm of a running container without -f must fail\n{r!r}")
    check_in(f"rm {a}: cannot delete container {a} that is not stopped: running", r.err, "the error names it")
    check_eq(sorted(_containers_left(h)), sorted([a, b]), "a refused rm removes nothing")
    r = h.rt("rm", "-f", a, missing, b)
    check_eq(r.rc, 0, f"rm -f: a missing container is no error\n{r!r}")
    check_eq(r.out.split(), [a, b], "the ids removed, not the missing one")
    check_eq((_containers_left(h), h.container_ids()), ([], []), "no directory, no state")
    # Every id is tried: the stopped one goes, the missing one fails the command.
    c = h.new_id("img")
    _run(h, archive, "-d", c, "true")
    h.wait_status(c, "stopped")
    r = h.rt("rm", missing, c)
    check_eq(r.rc, 1, f"rm with a missing id\n{r!r}")
    check_in(f"rm {missing}: container does not exist", r.err, "the missing id is named")
    check_eq((r.out.split(), _containers_left(h)), ([c], []), "the stopped container was still removed")
    # A directory whose state is gone: delete cannot find it, rm finds it in the store.
    dead = h.new_id("img")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none", dead)
    check_eq(r.rc, 0, f"create --image\n{r!r}")
    h.reboot_forgets(dead)
    check_eq(_containers_left(h), [dead], "the directory outlived the state")
    h.rt_fail("delete", dead, expect="container does not exist")
    h.rt_fail("rm", dead, expect=f"rm {dead}: container does not exist")  # not in the default store
    r = h.rt("rm", "--store", _store(h), dead)
    check_eq((r.rc, r.out.split()), (0, [dead]), f"rm --store removes the dead directory\n{r!r}")
    check_eq(_containers_left(h), [], "nothing left in the store")
    h.rt_fail("rm", "../x", expect="invalid container ID format: `../x`")


def test_dns_none_keeps_the_images_resolv_conf(h):
    """--dns none (podman's): no resolv.conf written, the image's stays; alone only."""
    archive = _archive(h, BASE, extra_layers=[_files(("etc/resolv.conf", "nameserver 203.0.113.9\n"))])
    cid = h.new_id("img")
    for ro in ([], ["--read-only"]):
        r = _run(h, archive, "--rm", *ro, "--dns", "none", cid, "cat", "/etc/resolv.conf")
        check_eq((r.rc, r.out), (0, "nameserver 203.0.113.9\n"), f"--dns none {ro}\n{r!r}")
    r = _run(h, archive, "--rm", "--dns", "192.0.2.53", cid, "cat", "/etc/resolv.conf")
    check_eq((r.rc, r.out), (0, "nameserver 192.0.2.53\n"), f"--dns replaces it\n{r!r}")
    for args in (["--dns", "none", "--dns", "192.0.2.53"], ["--dns", "none", "--dns-search", "x.example"]):
        r = _run(h, archive, *args, cid, "true")
        check_eq(r.rc, 125, f"{args}\n{r!r}")
        check_in("--dns none writes no resolv.conf", r.err, f"the error for {args}")
    r = _run(h, archive, "--dns-search", "-bad", cid, "true")  # podman's refusal
    check_eq(r.rc, 125, f"--dns-search -bad\n{r!r}")
    check_in("--dns-search `-bad`: not a domain", r.err, "the error for --dns-search -bad")
    check_eq(_containers_left(h), [], "no container directory left")


def test_docker_run_flags(h):
    """Docker's and podman's flags for what the image does not say: --tmpfs (podman's
    defaults, tmpcopyup), --add-host, --dns*, --ulimit, --sysctl, --group-add, --shm-size,
    --label and --cidfile; each bad value fails naming it and leaves nothing."""
    archive = _archive(h, dict(BASE, Volumes={"/cache": {}}), extra_layers=[
        _files(("seed/", None), ("seed/file", "from the image"), ("cache/", None), ("cache/old", "x"))])
    cid = h.new_id("img")
    script = ("cat /seed/file; echo; ls /cache | wc -l; ls /scratch | wc -l; "
              "grep -E ' /(seed|scratch|cache|dev/shm) ' /proc/self/mountinfo | cut -d' ' -f5,6,9-; "
              "grep -E 'db|v6' /etc/hosts; cat /etc/resolv.conf; ulimit -Sn; ulimit -Hn; ulimit -u; id -G; "
              "cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
    r = _run(h, archive, "--rm", "-u", "app", "--tmpfs", "/seed", "--tmpfs", "/scratch:exec,size=1m,notmpcopyup",
             "--tmpfs", "/cache:notmpcopyup", "--add-host", "db.local:10.1.2.3", "--add-host", "v6:[fd00::1]",
             "--dns", "192.0.2.53", "--dns-search", "example.com", "--dns-option", "ndots:2",
             "--ulimit", "nofile=4096:8192", "--ulimit", "nproc=500", "--shm-size", "7.5m", "--group-add", "root",
             "--group-add", "5000", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", cid, "sh", "-c", script)
    check_eq(r.rc, 0, f"run with Docker's flags\n{r!r}")
    out = r.out.split("\n")
    check_eq(out[0], "from the image", "--tmpfs starts with the image's files (tmpcopyup)")
    check_eq(out[1:3], ["0", "0"], "notmpcopyup: empty; the tmpfs replaces the image's Volume")
    mounts = {line.split()[0]: line for line in out[3:7]}
    check_eq(sorted(mounts), ["/cache", "/dev/shm", "/scratch", "/seed"], f"the mounts\n{r.out}")
    check("noexec" in mounts["/seed"] and "nodev" in mounts["/seed"] and "tmpfs" in mounts["/seed"],
          f"podman's defaults: {mounts['/seed']}")
    check("noexec" not in mounts["/scratch"] and "size=1024k" in mounts["/scratch"], f"exec,size=1m: {mounts['/scratch']}")
    check_in("size=7680k", mounts["/dev/shm"], "--shm-size 7.5m")
    check_eq(out[7:9], ["10.1.2.3\tdb.local", "fd00::1\tv6"], "--add-host lines in /etc/hosts")
    check_eq(out[9:12], ["nameserver 192.0.2.53", "search example.com", "options ndots:2"], "--dns*: resolv.conf")
    check_eq(out[12:15], ["4096", "8192", "500"], "--ulimit nofile=4096:8192 and nproc=500")
    check_eq(out[15].split(), ["1001", "0", "2000", "5000"], "--group-add: a name of the image's group file, a gid")
    check_eq(out[16], "80", "--sysctl in the container's network namespace")
    # -u and --group-add names in a bound /etc/passwd, /etc/group (or /etc), as the container sees them.
    etc, nobody = h.mkdtemp("etc"), h.mkdtemp("etc")  # nobody: an /etc with no such user
    os.chmod(etc, 0o755)
    os.chmod(nobody, 0o755)
    for name, text in (("passwd", PASSWD + "bindu:x:7001:7002::/home/bindu:/bin/sh\n"), ("group", GROUP + "bindg:x:7002:\n")):
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(etc, name), 0o644)
    for binds in ([f"{etc}/passwd:/etc/passwd:ro", f"{etc}/group:/etc/group:ro"], [f"{etc}:/etc:ro"],
                  [f"{etc}/passwd:/etc/passwd", f"{nobody}:/etc", f"{etc}/group:/etc/group"]):
        r = _run(h, archive, "--rm", "-u", "bindu", "--group-add", "bindg", *sum((["-v", b] for b in binds), []),
                 cid, "sh", "-c", "id -u; id -g; echo $HOME")
        check_eq((r.rc, r.out.split()), (0, ["7001", "7002", "/home/bindu"]), f"-u from {binds}\n{r!r}")
    # What is no regular file holds no entries; a symlink in a bound /etc is not followed.
    r = _run(h, archive, "--rm", "-v", "/dev/null:/etc/group", cid, "id", "-u")
    check_eq((r.rc, r.out), (0, "1001\n"), f"-v /dev/null:/etc/group\n{r!r}")
    linked = h.mkdtemp("etc")
    os.chmod(linked, 0o755)
    os.symlink("/etc/passwd2", os.path.join(linked, "passwd"))
    r = _run(h, archive, "--rm", "-u", "bindu", "-v", f"{linked}:/etc:ro", cid, "true")
    check(r.rc == 125 and "passwd is a symbolic link" in r.err, f"a symlink in a bound /etc\n{r!r}")
    # ping without CAP_NET_RAW (ICMP sockets), as Docker's and podman's: every group may open them.
    r = _run(h, archive, "--rm", "-u", "app", cid, "sh", "-c",
             "cat /proc/sys/net/ipv4/ping_group_range; /probe try icmp-socket")
    lo, hi = r.out.split()[:2]
    check_eq((r.rc, lo, r.out.split()[2:]), (0, "0", ["icmp-socket", "OK"]), f"net.ipv4.ping_group_range\n{r!r}")
    check(int(hi) >= 2000, f"the range covers the container's groups: {hi}")
    r = _run(h, archive, "--rm", "-u", "app", "--sysctl", "net.ipv4.ping_group_range=1 0", cid, "/probe", "try", "icmp-socket")
    check_eq(r.out.split(), ["icmp-socket", "EACCES"], f"--sysctl replaces the default\n{r!r}")
    # A tmpfs at /dev/shm replaces the default one (--shm-size's).
    r = _run(h, archive, "--rm", "-u", "app", "--tmpfs", "/dev/shm:size=2m,exec", cid, "sh", "-c",
             "grep ' /dev/shm ' /proc/self/mountinfo | cut -d' ' -f6,9-")
    lines = r.out.split("\n")[:-1]
    check(len(lines) == 1 and lines[0].startswith("rw,nosuid,nodev,relatime tmpfs rw,size=2048k"), f"--tmpfs /dev/shm\n{r!r}")
    # --label: an annotation; --cidfile: the id, refused when there already is one.
    cidfile = os.path.join(h.mkdtemp("cid"), "cid")
    r = _run(h, archive, "-d", "-l", "team=qa", "--label", "flag", "--cidfile", cidfile, cid, "sleep", "100")
    check_eq(r.rc, 0, f"run -d --label --cidfile\n{r!r}")
    with open(cidfile) as f:
        check_eq(f.read(), cid, "--cidfile holds the id")
    ann = _inspect(h, cid)["Config"]["annotations"]
    check_eq((ann.get("team"), ann.get("flag")), ("qa", ""), "--label KEY=VALUE and KEY")
    other = h.new_id("img")
    r = _run(h, archive, "-d", "--cidfile", cidfile, other, "sleep", "100")
    check_eq(r.rc, 125, f"an existing --cidfile is refused\n{r!r}")
    check_in("container ID file found", r.err, "Docker's words")
    h.rt_ok("delete", "--force", cid)
    os.unlink(cidfile)
    for args, words in ((["--tmpfs", "data"], "--tmpfs `data`: the destination must be an absolute path"),
                        (["--tmpfs", "/"], "cannot mount a tmpfs over /"),
                        (["--tmpfs", "/d", "--tmpfs", "//x/../d/"], "--tmpfs `//x/../d/`: duplicate mount point /d"),
                        (["--tmpfs", "/d", "-v", "/d"], "duplicate mount point /d"),
                        (["--tmpfs", "/d:bogus"], "--tmpfs `/d:bogus`: unknown tmpfs option `bogus`"),
                        (["--tmpfs", "/d:mode=999"], "invalid value in `mode=999`"),
                        (["--tmpfs", "/dev"], "/dev is the runtime's own mount"),
                        (["--sysctl", "kernel.hostname=x"], "--sysctl `kernel.hostname=x`: kernel.hostname is not allowed"),
                        (["--add-host", "db"], "--add-host `db`: want NAME:IP"),
                        (["--add-host", "db:nowhere"], "`nowhere` is not an IP address"),
                        (["--dns", "dns.example"], "--dns `dns.example`: not an IP address"),
                        (["--ulimit", "files=1"], "invalid ulimit type `files`"),
                        (["--ulimit", "nofile=10:5"], "the soft limit must not be above the hard limit"),
                        (["--ulimit", "nofile=many"], "`many` is not a limit"),
                        (["--sysctl", "kernel.hostname"], "--sysctl `kernel.hostname`: want KEY=VALUE"),
                        (["--sysctl", "kernel.panic=1"], "kernel.panic"),
                        (["--group-add", "nosuch"], "--group-add: unable to find group nosuch"),
                        (["--shm-size", "0"], "--shm-size must be positive"),
                        (["--label", "org.crun-lite.x=1"], "crun-lite's own")):
        r = _run(h, archive, "--cidfile", cidfile, *args, other, "true")
        check_eq(r.rc, 125, f"{args} must fail\n{r!r}")
        check_in(words, r.err, f"the error for {args}")
        check(not os.path.exists(cidfile), f"{args}: the --cidfile made is removed")
    check_eq(_containers_left(h), [], "no container directory left")
    check_eq(h.container_ids(), [], "no state left")


def test_proc_is_nosuid_nodev_noexec(h):
    """/proc of an image container is mounted as Docker's and podman's: nosuid,
    nodev, noexec, and so are readonlyPaths' binds of it (/proc/sys)."""
    archive = _archive(h, BASE)
    r = _run(h, archive, "--rm", h.new_id("img"), "cat", "/proc/self/mountinfo")
    check_eq(r.rc, 0, f"run\n{r!r}")
    options = {f[4]: set(f[5].split(",")) for f in (line.split() for line in r.out.splitlines())}
    for place in ("/proc", "/proc/sys"):
        check({"nosuid", "nodev", "noexec"} <= options.get(place, set()), f"{place}: {options.get(place)}")


def test_mount_and_device_flags(h):
    """Docker's --mount (bind, volume, tmpfs) is -v's and --tmpfs's; --device puts a host
    device at the container's path: as root a node with its device cgroup rule (r: reads
    only), rootless the host's node bind-mounted."""
    archive = _archive(h, BASE, extra_layers=[_files(("seed/", None), ("seed/file", "from the image"), ("scratch/", None))])
    data = h.mkdtemp("data")
    os.chmod(data, 0o777)
    with open(os.path.join(data, "f"), "w") as f:
        f.write("host")
    os.chmod(os.path.join(data, "f"), 0o644)
    vol = h.new_id("vol")
    cid = h.new_id("img")
    script = ("cat /bind/f; echo; touch /bind/x 2>/dev/null || echo bind-ro; cat /seed/file; echo; "
              "ls /anon | wc -l; echo $(grep ' /scratch ' /proc/self/mountinfo | cut -d' ' -f9-) $(ls -ld /scratch | cut -c1-10); "
              "ls -l /dev/mynull | cut -c1; echo hi > /dev/mynull && echo wrote; head -c1 /dev/mynull | wc -c")
    r = _run(h, archive, "--rm", "-u", "0", "--mount", f"type=bind,source={data},target=/bind,readonly",
             "--mount", f"type=volume,src={vol},dst=/seed", "--mount", "dst=/anon,volume-nocopy",
             "--mount", "type=tmpfs,destination=/scratch,tmpfs-size=1m,tmpfs-mode=1777",
             "--device", "/dev/null:/dev/mynull:r", cid, "sh", "-c", script)
    out = r.out.split("\n")
    check_eq(r.rc, 0, f"run with --mount and --device\n{r!r}")
    check_eq(out[:2], ["host", "bind-ro"], "type=bind,readonly")
    check_eq(out[2], "from the image", "a new named volume, filled from the image")
    check_eq(out[3], "0", "an anonymous volume")
    check("size=1024k" in out[4] and out[4].endswith("drwxrwxrwt"), f"type=tmpfs with tmpfs-size and tmpfs-mode: {out[4]}")
    check_eq(out[5:8], ["c", "wrote", "0"], f"--device /dev/null at /dev/mynull\n{r!r}")
    # A directory: the devices below it (podman's).
    r = _run(h, archive, "--rm", "-u", "0", "--device", "/dev/net/", cid, "sh", "-c", "ls -l /dev/net/tun | cut -c1")
    check_eq((r.rc, r.out), (0, "c\n"), f"--device /dev/net: its tun\n{r!r}")
    h.rt_ok("volume", "rm", "--store", _store(h), vol)
    nodev = h.mkdtemp("nodev")
    os.chmod(nodev, 0o755)
    # As root the device cgroup allows what PERMS says (/dev/fuse: not among the defaults).
    if not h.rootless and os.path.exists("/dev/fuse"):
        opened = "exec 3>/dev/myfuse && echo opened"
        for perms, want in (("r", ""), ("rw", "opened")):
            r = _run(h, archive, "--rm", "-u", "0", "--device", f"/dev/fuse:/dev/myfuse:{perms}", cid, "sh", "-c", opened)
            check_eq(r.out.strip(), want, f"--device /dev/fuse:/dev/myfuse:{perms}: open for writing\n{r!r}")
    for args, words in ((["--mount", "type=bind,dst=/x"], "a bind needs a source"),
                        (["--mount", "src=/tmp"], "a destination (dst, destination or target) is required"),
                        (["--mount", "type=nfs,dst=/x"], "type `nfs`: want bind, volume or tmpfs"),
                        (["--mount", "type=bind,src=/tmp,dst=/x,volume-nocopy"], "volume-nocopy is for type=volume"),
                        (["--mount", "type=volume,src=/tmp,dst=/x"], "a volume's source is a volume name"),
                        (["--mount", "dst=/x,readonly=maybe"], "readonly wants true or false"),
                        (["--mount", "dst=/x,bind-propagation=rshared"],
                         "bind-propagation and bind-nonrecursive are for type=bind"),
                        (["--mount", "type=tmpfs,dst=/"], "cannot mount a tmpfs over /"),
                        (["--device", "/etc/passwd"], "/etc/passwd is not a device"),
                        (["--device", nodev], f"{nodev} holds no device"),
                        (["--device", "/dev/nosuch"], "/dev/nosuch"),
                        (["--device", "/dev/null:/dev/x:rwx"], "permissions `rwx`"),
                        (["--device", "dev/null"], "the paths must be absolute")):
        r = _run(h, archive, *args, cid, "true")
        check_eq(r.rc, 125, f"{args} must fail\n{r!r}")
        check_in(words, r.err, f"the error for {args}")
    check_eq(_containers_left(h), [], "no container directory left")
    check_eq(h.container_ids(), [], "no state left")


def test_inspect_several(h):
    """inspect A B: Docker's array; with --format a line each; a missing one is reported,
    the others printed, exit 1.  One container: its object, as before."""
    archive = _archive(h, BASE)
    a, b = h.new_id("img"), h.new_id("img")
    for c in (a, b):
        check_eq(_run(h, archive, "-d", c, "sleep", "100").rc, 0, "run -d")
    check_eq([o["Id"] for o in h.rt_ok("inspect", a, b).json()], [a, b], "inspect A B: an array")
    check_eq(h.rt_ok("inspect", a).json()["Id"], a, "inspect A: the object")
    r = h.rt("inspect", "-f", "{{.Id}}", a, "nosuch", b)
    check_eq((r.rc, r.out.split()), (1, [a, b]), f"--format: a line each; the missing one fails\n{r!r}")
    check_in("container nosuch does not exist", r.err, "the missing one is named")
    for c in (a, b):
        h.rt_ok("delete", "--force", c)


def test_stdin_only_with_interactive(h):
    """As Docker's and podman's run: the container reads standard input only with -i; without
    it, /dev/null (a `while read` loop around `run` keeps its own input)."""
    archive = _archive(h, BASE)
    r = _run(h, archive, "--rm", h.new_id("img"), "sh", "-c", "cat; echo end", input="typed\n")
    check_eq((r.rc, r.out), (0, "end\n"), f"no -i: /dev/null\n{r!r}")
    r = _run(h, archive, "--rm", "-i", h.new_id("img"), "sh", "-c", "cat; echo end", input="typed\n")
    check_eq((r.rc, r.out), (0, "typed\nend\n"), f"-i: the caller's input\n{r!r}")
    r = h.rt("create", "-i", h.new_id("img"), "--image", "x")
    check_in("unrecognised option '-i'", r.err, "-i is run's (create has no attach)")


def test_supplementary_groups_as_podman(h):
    """`id` in the container shows what podman 4.3 shows for the same image (measured with runc
    and crun, root and rootless): with a user given (image User or -u, even root) the primary
    group is among the groups, then the groups listing the user; -u USER:GROUP has only GROUP;
    no User at all: root with only the groups listing root. (podman also names an unknown uid
    4242 "4242" through an /etc/passwd entry it adds; we do not write into the image.)"""
    passwd = ("root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001:app:/home/app:/bin/sh\n"
              "lone:x:1002:3000:lone:/:/bin/sh\n")
    group = "root:x:0:\nwheel:x:10:root,app\napp:x:1001:\nextra:x:2000:app\nthree:x:3000:\n"
    path = os.path.join(h.mkdtemp("img"), "ids.tar")
    harness.make_docker_archive(h, path, "example/ids:1", layers=[
        harness.busybox_layer(h), _files(("etc/passwd", passwd), ("etc/group", group))],
        config={"Env": ["PATH=/bin"], "Cmd": ["id"]})
    os.chmod(os.path.dirname(path), 0o755)
    expected = {
        (): "uid=0(root) gid=0(root) groups=10(wheel)",
        ("-u", "root"): "uid=0(root) gid=0(root) groups=0(root),10(wheel)",
        ("-u", "app"): "uid=1001(app) gid=1001(app) groups=10(wheel),1001(app),2000(extra)",
        ("-u", "1001"): "uid=1001(app) gid=1001(app) groups=10(wheel),1001(app),2000(extra)",
        ("-u", "app:extra"): "uid=1001(app) gid=2000(extra) groups=2000(extra)",
        ("-u", "app:4343"): "uid=1001(app) gid=4343 groups=4343",
        ("-u", "lone"): "uid=1002(lone) gid=3000(three) groups=3000(three)",
        ("-u", "4242:4343"): "uid=4242 gid=4343 groups=4343",
    }
    for flags, want in expected.items():
        r = _run(h, path, "--rm", *flags, h.new_id("img"))
        check_eq((r.rc, r.out.strip()), (0, want), f"id with {flags or 'no user'}\n{r!r}")


def test_dead_container_dirs_do_not_pin_images(h):
    """A container whose state vanished (a reboot empties /run) leaves its directory in the
    store: it must not pin the image, block the id, or stay forever."""
    archive = _archive(h, dict(BASE, User="", Cmd=["sleep", "3600"]))
    cid = h.new_id("img")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none", cid)
    check_eq(r.rc, 0, f"create --image\n{r!r}")
    h.reboot_forgets(cid)  # the state is gone, the directory stays
    check_eq(_containers_left(h), [cid], "the directory outlived the state")
    r = _run(h, archive, "--rm", cid, "echo", "reused")
    check_eq((r.rc, r.out.strip()), (0, "reused"), f"the id can be used again\n{r!r}")
    r = h.rt("create", "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none", cid)
    h.reboot_forgets(cid)
    h.rt_ok("image", "prune", "--store", _store(h), root=False)
    check_eq(_containers_left(h), [], "image prune removes dead container directories")
    h.rt_ok("image", "rm", "--store", _store(h), "example/app:1.0", root=False)


def test_image_files_must_be_regular(h):
    import tarfile

    def fifo(t):
        ti = tarfile.TarInfo("etc/passwd")
        ti.type = tarfile.FIFOTYPE
        t.addfile(ti)
    path = os.path.join(h.mkdtemp("img"), "app.tar")
    harness.make_docker_archive(h, path, "example/fifo:1", layers=[harness.busybox_layer(h), fifo],
                                config=dict(BASE, User="app"))
    os.chmod(os.path.dirname(path), 0o755)
    r = _run(h, path, "--rm", h.new_id("img"), "id", timeout=20)
    check(r.rc != 0, f"a FIFO as /etc/passwd must fail, not hang\n{r!r}")
    check_in("not a regular file", r.err, "the error says why")
    check_eq(_containers_left(h), [], "nothing left")
    # Nor is a huge one read whole.
    big = os.path.join(h.mkdtemp("img"), "big.tar")
    harness.make_docker_archive(h, big, "example/big:1", config=dict(BASE, User="app"), layers=[
        harness.busybox_layer(h), _files(("etc/passwd", PASSWD + "#" * (1 << 20) + "\n"))])
    os.chmod(os.path.dirname(big), 0o755)
    r = _run(h, big, "--rm", h.new_id("img"), "id")
    check(r.rc == 125 and "is larger than 1 MiB" in r.err, f"a /etc/passwd over 1 MiB\n{r!r}")
    check_eq(_containers_left(h), [], "nothing left")


def test_passwd_symlink_into_a_lower_layer(h):
    """/etc/passwd and /etc/group as symlinks (absolute and relative) to files
    of a lower layer, as base-passwd images have: USER is found through them."""
    import tarfile

    def links(t):
        for name, target in (("etc/passwd", "/usr/share/base/passwd"), ("etc/group", "../usr/share/base/group")):
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname = tarfile.SYMTYPE, target
            t.addfile(ti)
    base = _files(("usr/", None), ("usr/share/", None), ("usr/share/base/", None),
                  ("usr/share/base/passwd", PASSWD), ("usr/share/base/group", GROUP))
    path = os.path.join(h.mkdtemp("img"), "app.tar")
    harness.make_docker_archive(h, path, "example/baselinks:1",
                                layers=[harness.busybox_layer(h), base, _files(("etc/", None)), links],
                                config=dict(BASE, User="app"))
    os.chmod(os.path.dirname(path), 0o755)
    r = _run(h, path, "--rm", h.new_id("img"), "id")
    check_eq(r.rc, 0, f"USER app through the symlinks\n{r!r}")
    check_in("uid=1001(app) gid=1001(app)", r.out, "the user and group from the lower layer")
    check_eq(_containers_left(h), [], "nothing left")


def test_etc_files_in_the_upper_layer_or_bind_mounted(h):
    """/etc/hosts, /etc/hostname and /etc/resolv.conf: files of the container's
    upper layer when the image's /etc is a directory; bind mounts when /etc is a
    symlink (the image's target stays untouched) and with --read-only, where they
    stay writable as Docker's."""
    import tarfile
    show = ("cat /etc/hosts /etc/hostname; echo resolv=$(wc -c </etc/resolv.conf); "
            "echo mounts=$(grep -cE ' [^ ]*/etc/(hosts|hostname|resolv.conf) ' /proc/mounts); "
            "echo x >> /etc/hosts && echo hosts-writable")
    archive = _archive(h, dict(BASE, User=""))
    cid = h.new_id("img")
    r = _run(h, archive, "--rm", "--hostname", "webhost", cid, "sh", "-c", show)
    check_eq(r.rc, 0, f"run\n{r!r}")
    check_in("127.0.0.1\tlocalhost", r.out, "hosts")
    check_in(f"\twebhost {cid}\n", r.out, "hosts names the container: host name and name (podman's)")
    lines = r.out.split("\n")
    check_in("webhost", lines, "hostname")
    check(any(l.startswith("resolv=") and l[7:].isdigit() and int(l[7:]) > 0 for l in lines),
          f"resolv.conf has the host's\n{r.out}")
    check_in("mounts=0", lines, "no /etc mounts: the files are the upper layer's")
    check_in("hosts-writable", r.out, "hosts is writable")

    # An /etc without write permission (as some images ship it) keeps its mode.
    def etc_0555(t):
        ti = tarfile.TarInfo("etc")
        ti.type, ti.mode = tarfile.DIRTYPE, 0o555
        t.addfile(ti)
    ro_etc = _archive(h, dict(BASE, User=""), extra_layers=[etc_0555])
    r = _run(h, ro_etc, "--rm", cid, "sh", "-c", "ls -ld /etc; cat /etc/hostname")
    check_eq((r.rc, r.out.split()[0], r.out.split()[-1]), (0, "dr-xr-xr-x", cid[:12]), f"an /etc of mode 0555\n{r!r}")

    r = _run(h, archive, "--rm", "--read-only", "--hostname", "webhost", cid, "sh", "-c", show)
    check_eq(r.rc, 0, f"run --read-only\n{r!r}")
    check_in("mounts=3", r.out.split("\n"), "--read-only: three bind mounts")
    check_in("hosts-writable", r.out, "--read-only: hosts stays writable")

    def etc_link(t):
        ti = tarfile.TarInfo("etc")
        ti.type, ti.linkname = tarfile.SYMTYPE, "usr/etc"
        t.addfile(ti)
    base = _files(("usr/", None), ("usr/etc/", None), ("usr/etc/passwd", PASSWD), ("usr/etc/group", GROUP),
                  ("usr/etc/hosts", "image's own\n"), applets=("grep", "true"))
    path = os.path.join(h.mkdtemp("img"), "app.tar")
    harness.make_docker_archive(h, path, "example/etclink:1", layers=[harness.busybox_layer(h), base, etc_link],
                                config=dict(BASE, User=""))
    os.chmod(os.path.dirname(path), 0o755)
    r = _run(h, path, "--rm", "--hostname", "webhost", cid, "sh", "-c", show + "; readlink /etc")
    check_eq(r.rc, 0, f"run with /etc a symlink\n{r!r}")
    check_in(f"\twebhost {cid}\n", r.out, "hosts through the symlink")
    check_in("mounts=3", r.out.split("\n"), "/etc a symlink: three bind mounts")
    check_in("usr/etc", r.out, "/etc is still the image's symlink")
    check_eq(_containers_left(h), [], "nothing left")


def test_private_cgroup_view(h):
    """An image container has a cgroup namespace of its own: /proc/self/cgroup
    shows it at the root, and /sys/fs/cgroup holds its own cgroups, not the
    host's tree (as Docker and podman give on cgroup v2); rootless without a
    delegated cgroup, nothing (the namespace would show the caller's tree)."""
    archive = _archive(h, BASE)
    r = _run(h, archive, "--rm", h.new_id("img"), "sh", "-c",
             "cat /proc/self/cgroup; echo ==; ls /sys/fs/cgroup; ls /sys/fs/cgroup/unified 2>/dev/null; true")
    check_eq(r.rc, 0, f"run\n{r!r}")
    own, listing = r.out.split("==\n", 1)
    for line in own.split():
        check(line.endswith(":/"), f"the container's cgroups are the roots of its view: {own!r}")
    host = {d for d in os.listdir("/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup")
            if d not in ("cgroup.procs",)}
    theirs = set(listing.split())
    leaked = {d for d in host & theirs if not d.startswith("cgroup.") and "." not in d}
    check_eq(leaked, set(), f"host cgroups visible in the container: {listing!r}")
    harness.log(f"    /proc/self/cgroup: {own.split()}, /sys/fs/cgroup: {listing.split()[:12]}")


if __name__ == "__main__":
    harness.main(globals())
