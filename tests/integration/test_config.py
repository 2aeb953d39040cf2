#!/usr/bin/env python3
"""Each config.json field, observed from inside the container by `probe report`.

Run: test_config.py --as root|user [-k NAME] [-v]   (see harness.py)
"""

import json
import os
import resource
import shlex
import shutil
import subprocess
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Failure, check, check_eq, check_in, skip, wait_until  # noqa: E402


def _mount(report, target):
    """The last (top-most) mount entry at target in a probe report, or None."""
    found = [m for m in report["mounts"] if m["target"] == target]
    return found[-1] if found else None


def _opts(m):
    return set(m["options"].split(",")) | set(m["super_options"].split(","))


def _multi_mapping(h, b):
    """Give the bundle a userns where container ids 0..65535 are all mapped, or skip.

    Rootless: 0 -> the caller, 1..65535 -> the caller's /etc/subuid range (needs newuidmap).
    Root: 0..65535 -> a fixed high host range (no helper needed)."""
    if h.rootless:
        if not (shutil.which("newuidmap") and shutil.which("newgidmap")):
            skip("newuidmap/newgidmap not installed")
        if not h.subuid or not h.subgid:
            skip(f"no /etc/subuid or /etc/subgid range for uid {h.uid}")
        n = min(h.subuid[1], h.subgid[1], 65535)
        uids = [{"containerID": 0, "hostID": h.uid, "size": 1},
                {"containerID": 1, "hostID": h.subuid[0], "size": n}]
        gids = [{"containerID": 0, "hostID": h.gid, "size": 1},
                {"containerID": 1, "hostID": h.subgid[0], "size": n}]
    else:
        uids = [{"containerID": 0, "hostID": 400000, "size": 65536}]
        gids = [{"containerID": 0, "hostID": 400000, "size": 65536}]
        # Host root owns the rootfs; make it usable by the mapped root.
        os.chown(b.rootfs, 400000, 400000)
        os.chown(os.path.join(b.rootfs, "tmp"), 400000, 400000)
    b.set_namespace("user")
    b.linux["uidMappings"] = uids
    b.linux["gidMappings"] = gids
    return uids, gids


def _map_lines(text):
    return [tuple(int(x) for x in line.split()) for line in text.splitlines() if line.strip()]


# ---- process ----------------------------------------------------------------------------------


def test_args_env_cwd(h):
    b = h.bundle()
    env = [harness.CONTAINER_PATH, "FOO=bar baz", "EMPTY=", "QUOTE=a\"b'c", "HOME=/root"]
    b.process["env"] = env
    b.process["cwd"] = "/tmp"
    r = h.report(b)
    check_eq(r["cwd"], "/tmp", "cwd")
    check_eq(sorted(r["env"]), sorted(env), "environment")

    b.process["args"] = ["/probe", "env-get", "FOO"]
    out = h.run_bundle(b)
    check_eq((out.rc, out.out), (0, "bar baz\n"), "probe env-get FOO")


def test_args_path_lookup_and_argv(h):
    b = h.bundle(["sh", "-c", 'echo "$0|$1|$2"', "zero", "one two", ""])
    r = h.run_bundle(b)
    check_eq((r.rc, r.out), (0, "zero|one two|\n"), "argv passed verbatim, args[0] via PATH")


def test_home_from_passwd_when_env_has_none(h):
    """runc's rule: without HOME in process.env, or with an empty one (podman's exec -u of
    a uid without an entry sends "HOME="), the uid's passwd home, else "/" (run and exec)."""
    b = h.bundle()
    if h.rootless:
        _multi_mapping(h, b)
    for uid, home in ((0, "/root"), (1000, "/home"), (4242, "/")):
        b.process["user"] = {"uid": uid, "gid": uid}
        env = h.report(b)["env"]
        check_in(f"HOME={home}", env, f"HOME of uid {uid}")
    b.process["env"] = [harness.CONTAINER_PATH, "HOME=/given"]
    check_in("HOME=/given", h.report(b)["env"], "a configured HOME is kept")
    # exec: the same rule for the exec'd process's user.
    b.process["env"] = [harness.CONTAINER_PATH]
    b.process["user"] = {"uid": 0, "gid": 0}
    b.process["args"] = ["sleep", "30"]
    cid = h.create(b)
    h.rt_ok("start", cid)
    r = h.rt("exec", "--user", "1000:1000", cid, "/probe", "env-get", "HOME")
    check_eq((r.rc, r.out), (0, "/home\n"), f"exec HOME\n{r!r}")
    r = h.rt("exec", "--user", "4242", "--env", "HOME=", cid, "/probe", "env-get", "HOME")
    check_eq((r.rc, r.out), (0, "/\n"), f"exec with an empty HOME\n{r!r}")
    h.rt("delete", "--force", cid)


def test_stdio_given_to_the_container_user(h):
    """As runc: stdio pipes are chowned to the process's uid, so a non-root
    process can reopen /dev/stdout.  A regular file (a log of the caller's) keeps
    its owner."""
    b = h.bundle(["sh", "-c", "echo reopened > /dev/stdout && echo also > /dev/stderr"])
    if h.rootless:
        _multi_mapping(h, b)
    b.process["user"] = {"uid": 1000, "gid": 1000}
    b.save()
    r = subprocess.run(h.rt_argv("run", "--bundle", b.path, h.new_id()), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    check_eq((r.returncode, r.stdout, r.stderr), (0, "reopened\n", "also\n"), f"uid 1000 reopens its stdio pipes: {r}")
    b.process["args"] = ["echo", "to a file"]
    b.save()
    out = os.path.join(h.mkdtemp("out"), "log")
    with open(out, "w") as f:
        subprocess.run(h.rt_argv("run", "--bundle", b.path, h.new_id()), stdout=f, timeout=60,
                       stdin=subprocess.DEVNULL, check=True)
    check_eq((open(out).read(), os.stat(out).st_uid), ("to a file\n", os.getuid()), "a log file keeps its owner")


def test_cwd_created_when_missing(h):
    b = h.bundle()
    b.process["cwd"] = "/made/by/runtime"
    r = h.run_bundle(b)
    if r.rc != 0:
        raise Failure(f"a missing cwd should be created (as runc and crun do)\n{r!r}")
    check_eq(r.json()["cwd"], "/made/by/runtime", "cwd")


def test_user_uid_gid_groups(h):
    b = h.bundle()
    if h.rootless:
        _multi_mapping(h, b)
    b.process["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 2000]}
    r = h.report(b)
    check_eq((r["uid"], r["euid"]), (1000, 1000), "uid/euid")
    check_eq((r["gid"], r["egid"]), (1001, 1001), "gid/egid")
    check_eq(sorted(set(r["groups"]) - {1001}), [5, 2000], "supplementary groups")
    check_eq(r["caps"]["CapEff"], "0000000000000000", "CapEff of a non-root user without ambient")


def test_user_root_in_container_with_single_mapping(h):
    if not h.rootless:
        skip("rootless only")
    b = h.bundle()
    r = h.report(b)
    check_eq((r["uid"], r["gid"], r["euid"]), (0, 0, 0), "ids inside")
    check_eq(_map_lines(r["uid_map"]), [(0, h.uid, 1)], "uid_map")
    check_eq(_map_lines(r["gid_map"]), [(0, h.gid, 1)], "gid_map")


def test_umask(h):
    b = h.bundle()
    check_eq(h.report(b)["umask"], 0o022, "default umask")
    b.process["user"]["umask"] = 0o027
    check_eq(h.report(b)["umask"], 0o027, "umask from config")


def test_rlimits(h):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    b = h.bundle()
    want_hard = min(hard, 4096) if hard != resource.RLIM_INFINITY else 4096
    b.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": want_hard},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 4000, "hard": 5000},
    ]
    r = h.report(b)
    check_eq(r["rlimits"]["RLIMIT_NOFILE"], {"soft": 512, "hard": want_hard}, "RLIMIT_NOFILE")
    check_eq(r["rlimits"]["RLIMIT_CORE"], {"soft": 0, "hard": 0}, "RLIMIT_CORE")
    check_eq(r["rlimits"]["RLIMIT_NPROC"], {"soft": 4000, "hard": 5000}, "RLIMIT_NPROC")


def test_rlimit_above_hard_limit_fails(h):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        skip("RLIMIT_NOFILE hard limit is unlimited")
    try:  # with CAP_SYS_RESOURCE the raise would be legal: nothing to test then
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard + 1))
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        skip("this process may raise RLIMIT_NOFILE (CAP_SYS_RESOURCE)")
    except (ValueError, OSError):
        pass
    b = h.bundle()
    b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": hard + 1000, "hard": hard + 1000}]
    r = h.rt_fail("run", "--bundle", b.save().path, h.new_id("rlim"))
    check_in("RLIMIT_NOFILE", r.err + r.out, "error naming the limit")
    # runc's words first (podman reads "operation not permitted" as a permission error), then why.
    check_in("error setting rlimit type 7 (RLIMIT_NOFILE): operation not permitted: hard limit", r.err, "runc's words")


def test_oom_score_adj(h):
    with open("/proc/self/oom_score_adj") as f:
        current = int(f.read())
    b = h.bundle()
    want = min(current + 100, 1000)
    b.process["oomScoreAdj"] = want
    check_eq(h.report(b)["oom_score_adj"], want, "oom_score_adj")
    b.process["oomScoreAdj"] = current
    check_eq(h.report(b)["oom_score_adj"], current, "oom_score_adj equal to the caller's")


def test_capabilities(h):
    b = h.bundle()
    r = h.report(b)
    want = f"{harness.cap_mask(harness.DEFAULT_CAPS):016x}"
    check_eq(r["caps"]["CapEff"], want, "default CapEff")
    check_eq(r["caps"]["CapPrm"], want, "default CapPrm")
    check_eq(r["caps"]["CapBnd"], want, "default CapBnd")
    check_eq(r["caps"]["CapAmb"], "0000000000000000", "default CapAmb")

    caps = ["CAP_CHOWN", "CAP_KILL"]
    b.process["capabilities"] = {k: list(caps) for k in ("bounding", "effective", "permitted")}
    r = h.report(b)
    want = f"{harness.cap_mask(caps):016x}"
    for k in ("CapEff", "CapPrm", "CapBnd"):
        check_eq(r["caps"][k], want, f"reduced {k}")

    # No process.capabilities is none at all (runc's), not the runtime's own; exec gets the same.
    del b.process["capabilities"]
    for uid in (0,) if h.rootless else (0, 1000):  # (rootless: one id mapped)
        b.process["user"] = {"uid": uid, "gid": uid}
        r = h.report(b)
        for k in ("CapInh", "CapEff", "CapPrm", "CapBnd", "CapAmb"):
            check_eq(r["caps"][k], "0000000000000000", f"uid {uid}, no process.capabilities: {k}")
    b.process["user"] = {"uid": 0, "gid": 0}
    b.set_args("sleep", "30").save()
    cid = h.new_id("nocaps")
    h.rt_ok("run", "-d", "--bundle", b.path, cid)
    try:
        r = h.rt("exec", cid, "grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status")
        check_eq(r.out.split(), ["CapEff:", "0000000000000000", "CapBnd:", "0000000000000000"], f"exec\n{r!r}")
    finally:
        h.rt("delete", "--force", cid)


def test_ambient_capabilities(h):
    b = h.bundle()
    if h.rootless:
        _multi_mapping(h, b)
    caps = ["CAP_NET_BIND_SERVICE"]
    b.process["user"] = {"uid": 1000, "gid": 1000}
    b.process["capabilities"] = {k: list(caps) for k in
                                 ("bounding", "effective", "permitted", "inheritable", "ambient")}
    r = h.report(b)
    want = f"{harness.cap_mask(caps):016x}"
    check_eq(r["uid"], 1000, "uid")
    for k in ("CapAmb", "CapEff", "CapInh", "CapPrm"):
        check_eq(r["caps"][k], want, k)


def test_no_new_privileges(h):
    b = h.bundle()
    b.process["noNewPrivileges"] = True
    check_eq(h.report(b)["no_new_privs"], 1, "NoNewPrivs with noNewPrivileges=true")
    b.process["noNewPrivileges"] = False
    check_eq(h.report(b)["no_new_privs"], 0, "NoNewPrivs with noNewPrivileges=false")


def test_stdio_inherited(h):
    b = h.bundle(["sh", "-c", "echo to-stdout; echo to-stderr >&2; cat"])
    r = h.run_bundle(b, input="from-stdin\n")
    check_eq(r.rc, 0, "exit status")
    check_eq(r.out, "to-stdout\nfrom-stdin\n", "stdout through the caller's pipe")
    check_in("to-stderr", r.err, "stderr through the caller's pipe")
    check_eq(h.report(b)["isatty"], [False, False, False], "no tty without terminal=true")


# ---- hostname / namespaces ------------------------------------------------------------------


def test_hostname_domainname(h):
    b = h.bundle()
    b.config["hostname"] = "crl-host"
    b.config["domainname"] = "crl.example"
    r = h.report(b)
    check_eq(r["hostname"], "crl-host", "hostname")
    check_eq(r["domainname"], "crl.example", "domainname")


def _host_ns():
    out = {}
    for n in os.listdir("/proc/self/ns"):
        link = os.readlink(f"/proc/self/ns/{n}")
        out[n] = int(link[link.index("[") + 1:-1])
    return out


def test_namespaces_new_and_shared(h):
    host = _host_ns()
    b = h.bundle()
    b.set_namespace("cgroup")
    r = h.report(b)
    for n in ("pid", "net", "ipc", "uts", "mnt", "cgroup"):
        check(r["namespaces"][n] != host[n], f"{n} namespace must be new")
    check_eq(r["pid"], 1, "pid in a new pid namespace")
    if h.rootless:
        check(r["namespaces"]["user"] != host["user"], "user namespace must be new")
    else:
        check_eq(r["namespaces"]["user"], host["user"], "user namespace shared")

    for t in ("network", "ipc", "uts", "cgroup", "pid"):
        b.remove_namespace(t)
    b.remove_mount("/sys")  # sysfs needs its own netns when rootless
    if h.rootless and not os.path.isdir("/dev/mqueue"):
        b.remove_mount("/dev/mqueue")  # mqueue needs its own ipcns (or the host's to bind)
    b.add_mount("/sys", "bind", "/sys", ["rbind", "nosuid", "noexec", "nodev", "ro"])
    del b.config["hostname"]
    r = h.report(b)
    for n in ("net", "ipc", "uts", "cgroup", "pid"):
        check_eq(r["namespaces"][n], host[n], f"{n} namespace shared with the host")
    check(r["namespaces"]["mnt"] != host["mnt"], "mount namespace still new")
    check(r["pid"] > 1, "pid in the host pid namespace")


def test_mount_namespace_not_listed_is_inherited(h):
    """runtime-spec: a namespace type not listed is the runtime's.  Without a mount
    namespace the mounts land in the caller's (here a private one the test makes,
    never the host's) and root.path is entered with chroot."""
    if h.rootless:
        # A new user namespace cannot mount in the caller's mount namespace.
        b = h.bundle()
        b.remove_namespace("mount")
        b.save()
        h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="mount namespace")
        return
    unshare = shutil.which("unshare")
    if not unshare:
        skip("unshare(1) not installed")
    b = h.bundle(["sh", "-c", "readlink /proc/self/ns/mnt; echo hi > /tmp/x; cat /tmp/x"])
    b.remove_namespace("mount")
    b.save()
    argv = [unshare, "-m", "--propagation", "private", "sh", "-c",
            'readlink /proc/self/ns/mnt; exec "$@"', "sh"] + h.rt_argv("run", "--bundle", b.path, h.new_id())
    r = h.cmd(argv)
    check_eq(r.rc, 0, f"run without a mount namespace\n{r!r}")
    outer, inner, hi = r.out.split()
    check_eq(inner, outer, "the container is in the caller's mount namespace")
    check_eq(hi, "hi", "root.path is the container's root")
    check(os.path.exists(os.path.join(b.path, "rootfs", "tmp", "x")), "writes land in root.path")
    # What would change the caller's mounts is refused, naming the field.
    b.config["root"]["readonly"] = True
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="root.readonly")


def test_namespace_join_by_path(h):
    unshare = shutil.which("unshare")
    if not unshare:
        skip("unshare(1) not installed")
    argv = [unshare, "--net", "--uts"]
    if h.rootless:
        argv = [unshare, "--user", "--map-root-user", "--net", "--uts"]
    # The target: a process of ours in fresh net+uts namespaces (rootless: also a userns).
    target = subprocess.Popen(argv + ["sh", "-c", "hostname joined-target; exec sleep 120"],
                              stdin=subprocess.DEVNULL)
    try:
        def ready():
            try:
                return (os.readlink(f"/proc/{target.pid}/ns/net") != os.readlink("/proc/self/ns/net")
                        and harness.proc_cmdline(target.pid)[:1] == ["sleep"])
            except OSError:
                return False
        check(wait_until(ready, 10), "unshare target did not start")
        tns = {n: os.readlink(f"/proc/{target.pid}/ns/{n}") for n in ("net", "uts", "user")}
        b = h.bundle()
        b.set_namespace("network", f"/proc/{target.pid}/ns/net")
        b.set_namespace("uts", f"/proc/{target.pid}/ns/uts")
        del b.config["hostname"]
        if h.rootless:
            # A joined user namespace brings its own mappings (as with runc).
            b.set_namespace("user", f"/proc/{target.pid}/ns/user")
            b.linux.pop("uidMappings", None)
            b.linux.pop("gidMappings", None)
        r = h.report(b)
        for n, key in (("net", "net"), ("uts", "uts")):
            want = int(tns[n][tns[n].index("[") + 1:-1])
            check_eq(r["namespaces"][key], want, f"joined {n} namespace inode")
        check_eq(r["hostname"], "joined-target", "hostname of the joined uts namespace")
        # hostname may be set in a uts namespace joined by path (as runc).
        b.config["hostname"] = "set-in-joined"
        check_eq(h.report(b)["hostname"], "set-in-joined", "hostname set in the joined uts namespace")
    finally:
        target.kill()
        target.wait()


def test_empty_id_mappings_are_refused(h):
    """A new user namespace with an empty map is a validation error naming the field."""
    for field in ("uidMappings", "gidMappings"):
        b = h.bundle()
        if "user" not in b.namespaces():
            b.set_namespace("user")
            b.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1}]
            b.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1}]
        b.linux[field] = []
        b.save()
        h.rt_fail("run", "--bundle", b.path, h.new_id(), expect=f"linux.{field}: a new user namespace needs")
    check_eq(h.container_ids(), [], "nothing left behind")


def test_uid_gid_mappings(h):
    b = h.bundle()
    uids, gids = _multi_mapping(h, b)
    r = h.report(b)
    check_eq((r["uid"], r["gid"]), (0, 0), "ids inside the user namespace")
    want_u = [(m["containerID"], m["hostID"], m["size"]) for m in uids]
    want_g = [(m["containerID"], m["hostID"], m["size"]) for m in gids]
    check_eq(_map_lines(r["uid_map"]), want_u, "uid_map")
    check_eq(_map_lines(r["gid_map"]), want_g, "gid_map")
    # A mapped non-root id can own files: chown inside works across the whole range.
    b.process["args"] = ["sh", "-c", "touch /tmp/f && chown 1234:4321 /tmp/f && stat -c %u:%g /tmp/f"]
    res = h.run_bundle(b)
    check_eq((res.rc, res.out.strip()), (0, "1234:4321"), "chown to a mapped id")
    st = os.stat(os.path.join(b.rootfs, "tmp", "f"))
    host_uid = [hid + 1234 - cid for cid, hid, n in want_u if cid <= 1234 < cid + n][0]
    check_eq(st.st_uid, host_uid, "host owner of the chowned file")


# ---- root filesystem and mounts -------------------------------------------------------------


def test_readonly_root(h):
    b = h.bundle()
    b.config["root"]["readonly"] = True
    r = h.report(b)
    check_in("ro", _mount(r, "/")["options"].split(","), "options of /")
    b.process["args"] = ["/probe", "write", "/newfile", "x"]
    res = h.run_bundle(b)
    check(res.rc == 1 and "EROFS" in res.err, f"write to a read-only root\n{res!r}")
    b.process["args"] = ["/probe", "write", "/dev/shm/ok", "x"]
    check_eq(h.run_bundle(b).rc, 0, "write to a tmpfs below a read-only root")
    check(not os.path.exists(os.path.join(b.rootfs, "newfile")), "file created on the host")


def test_mount_tmpfs_options(h):
    b = h.bundle()
    b.add_mount("/mnt/t", "tmpfs", "tmpfs", ["size=1m", "mode=0700", "nosuid", "nodev"])
    r = h.report(b)
    m = _mount(r, "/mnt/t")
    check(m is not None, "tmpfs at /mnt/t missing")
    check_eq(m["fstype"], "tmpfs", "fstype")
    opts = _opts(m)
    for o in ("size=1024k", "mode=700", "nosuid", "nodev"):
        check_in(o, opts, "tmpfs options")
    b.process["args"] = ["/probe", "stat", "/mnt/t"]
    st = h.run_bundle(b).json()[0]
    check_eq((st["type"], st["mode"]), ("dir", 0o700), "tmpfs root mode")


def test_mount_tmpfs_keeps_the_mode_of_an_existing_directory(h):
    """As runc: a tmpfs over an existing directory gets that directory's mode
    unless mode= is given; a new directory gets tmpfs's default (1777)."""
    b = h.bundle(["sh", "-c", "/probe stat /srv/kept /srv/given /srv/new"])
    os.makedirs(os.path.join(b.path, "rootfs", "srv", "kept"))
    os.chmod(os.path.join(b.path, "rootfs", "srv", "kept"), 0o750)
    os.makedirs(os.path.join(b.path, "rootfs", "srv", "given"))
    b.add_mount("/srv/kept", "tmpfs", "tmpfs", ["size=1m"])
    b.add_mount("/srv/given", "tmpfs", "tmpfs", ["size=1m", "mode=0711"])
    b.add_mount("/srv/new", "tmpfs", "tmpfs", ["size=1m"])
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"probe stat\n{r!r}")
    modes = [st["mode"] & 0o7777 for st in r.json()]
    check_eq(modes, [0o750, 0o711, 0o1777], "tmpfs modes: kept, given, default")


def test_mount_tmpfs_tmpcopyup(h):
    """tmpcopyup (crun's extension, in runtime-spec's option list): the tmpfs starts
    with a copy of the directory it covers (files, dirs, symlinks, modes); writes
    stay in the tmpfs.  On anything but a tmpfs it is an error naming the mount."""
    b = h.bundle(["sh", "-c", "grep -c tester /srv/etc/passwd; readlink /srv/etc/link; "
                              "stat -c %a /srv/etc/sub; cat /srv/etc/sub/f; echo new > /srv/etc/sub/f; "
                              "awk '$2 == \"/srv/etc\" {print $3}' /proc/mounts"])
    etc = os.path.join(b.path, "rootfs", "srv", "etc")
    os.makedirs(os.path.join(etc, "sub"))
    shutil.copy(os.path.join(b.path, "rootfs", "etc", "passwd"), etc)
    os.symlink("passwd", os.path.join(etc, "link"))
    os.chmod(os.path.join(etc, "sub"), 0o750)
    with open(os.path.join(etc, "sub", "f"), "w") as f:
        f.write("old\n")
    b.add_mount("/srv/etc", "tmpfs", "tmpfs", ["tmpcopyup", "size=1m"])
    r = h.run_bundle(b)
    check_eq((r.rc, r.out.split()), (0, ["1", "passwd", "750", "old", "tmpfs"]), f"tmpcopyup\n{r!r}")
    check_eq(open(os.path.join(etc, "sub", "f")).read(), "old\n", "the rootfs is unchanged")
    # Read-only: filled first, then read-only (podman's --tmpfs DST:ro).
    b.config["mounts"][-1]["options"] = ["tmpcopyup", "ro", "nosuid"]
    b.config["process"]["args"] = ["sh", "-c", "cat /srv/etc/sub/f; touch /srv/etc/x 2>/dev/null || echo refused; "
                                               "awk '$2 == \"/srv/etc\" {print $4}' /proc/mounts"]
    b.save()
    r = h.run_bundle(b)
    check_eq((r.rc, r.out.split()[:2]), (0, ["old", "refused"]), f"a read-only tmpcopyup\n{r!r}")
    check(r.out.split()[2].startswith("ro,nosuid"), f"mounted read-only and nosuid\n{r!r}")
    b.config["mounts"][-1] = {"destination": "/srv/etc", "type": "bind", "source": etc,
                              "options": ["rbind", "tmpcopyup"]}
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="options: tmpcopyup is for tmpfs")


def test_mount_bind_copyup(h):
    """copyup (crun-lite's extension, what image volumes use): an empty bind source first
    gets a copy of the directory it covers, with its mode; a source with files is left as
    it is.  On anything but a bind it is an error naming the mount."""
    b = h.bundle(["sh", "-c", "ls /srv/etc; stat -c %a /srv/etc"])
    etc = os.path.join(b.path, "rootfs", "srv", "etc")
    os.makedirs(os.path.join(etc, "sub"))
    with open(os.path.join(etc, "sub", "f"), "w") as f:
        f.write("image\n")
    os.symlink("sub/f", os.path.join(etc, "link"))
    if not h.rootless:
        os.mknod(os.path.join(etc, "null"), stat.S_IFCHR | 0o640, os.makedev(1, 3))
    os.chmod(etc, 0o750)
    vol = h.mkdtemp("vol")
    b.add_mount("/srv/etc", "bind", vol, ["rbind", "copyup"])
    r = h.run_bundle(b)
    want = ["link", "sub", "750"] if h.rootless else ["link", "null", "sub", "750"]
    check_eq((r.rc, r.out.split()), (0, want), f"copyup into an empty source\n{r!r}")
    check_eq(open(os.path.join(vol, "sub", "f")).read(), "image\n", "the copy is in the source")
    check_eq(os.readlink(os.path.join(vol, "link")), "sub/f", "a symlink copied as a symlink")
    if not h.rootless:
        st = os.lstat(os.path.join(vol, "null"))
        check_eq((stat.S_ISCHR(st.st_mode), st.st_mode & 0o7777, st.st_rdev), (True, 0o640, os.makedev(1, 3)),
                 "a device node copied with its mode")
    os.remove(os.path.join(vol, "sub", "f"))
    r = h.run_bundle(b)
    check_eq((r.rc, os.listdir(os.path.join(vol, "sub"))), (0, []), f"a source with files is not filled again\n{r!r}")
    b.config["mounts"][-1] = {"destination": "/srv/etc", "type": "tmpfs", "source": "tmpfs", "options": ["copyup"]}
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="options: copyup is for bind mounts")


def test_bad_mounts_fail_before_any_fork(h):
    """The mounts are planned in the runtime parent: a bad entry fails `create` naming
    config.json and the mount, before any process is forked (strace -f sees no clone)
    and before any state or cgroup is made."""
    if not shutil.which("strace"):
        skip("strace is not installed (Debian: strace)")
    b = h.bundle(["true"])
    # Compiling a seccomp program forks (linux::build_filter_bounded): planning comes first.
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                          "syscalls": [{"names": ["chroot"], "action": "SCMP_ACT_ERRNO"}]}
    base = list(b.config["mounts"])
    for mount, expect in (
            ({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["tmpcopyup"]},
             "mounts[{i}].options: tmpcopyup is for tmpfs"),
            ({"destination": "", "type": "tmpfs", "source": "tmpfs"}, "mounts[{i}].destination: must not be empty"),
            ({"destination": "/y", "source": "none"}, "mounts[{i}].type: must be set")):
        b.config["mounts"] = base + [mount]
        b.save()
        trace = os.path.join(h.tmp, "trace")
        cid = h.new_id("plan")
        env = dict(os.environ)
        if "ASAN_OPTIONS" in env:  # the sanitizer pass: LeakSanitizer does not work under ptrace
            env["ASAN_OPTIONS"] += ":detect_leaks=0"
        r = h.cmd(["strace", "-f", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o", trace] +
                  h.rt_argv("create", "--bundle", b.path, cid), timeout=60, env=env)
        check(r.rc != 0, f"{mount}: refused\n{r!r}")
        check_in(b.path + "/config.json: " + expect.format(i=len(base)), r.err, "names config.json and the mount")
        calls = [line for line in open(trace) if "clone" in line or "fork" in line]
        check_eq(calls, [], f"{mount}: no process forked")
        check(not os.path.exists(os.path.join(h.root, cid)), "no state left")


def test_mounts_on_proc_are_guarded(h):
    """runc's guard (CVE-2019-16884, CVE-2019-19921): on /proc only a procfs, beneath it
    only the files lxcfs emulates; a symlink of the root that leads there is followed first.
    Nothing is left behind."""
    b = h.bundle(["cat", "/proc/cpuinfo"])
    base = list(b.config["mounts"])
    src = h.mkdtemp("src")
    os.symlink("/proc/sys", os.path.join(b.path, "rootfs", "sneaky"))
    for dest, words in (("/proc", "`/proc` cannot be mounted because it is not of type proc"),
                        ("/proc/sys", "`/proc/sys` cannot be mounted because it is inside /proc"),
                        ("/sneaky", "`/proc/sys` cannot be mounted because it is inside /proc")):
        b.config["mounts"] = base + [{"destination": dest, "type": "bind", "source": src, "options": ["rbind"]}]
        b.save()
        cid = h.new_id("proc")
        r = h.rt("run", "--bundle", b.path, cid)
        check(r.rc != 0 and words in r.err, f"a bind on {dest} refused\n{r!r}")
        check_eq(h.rt("state", cid).rc, 1, "no state left")
    with open(os.path.join(src, "cpuinfo"), "w") as f:
        f.write("lxcfs's\n")
    b.config["mounts"] = base + [{"destination": "/proc/cpuinfo", "type": "bind", "source": src + "/cpuinfo",
                                  "options": ["rbind", "ro"]}]
    b.save()
    r = h.run_bundle(b)
    check_eq((r.rc, r.out), (0, "lxcfs's\n"), f"a file lxcfs emulates may be bound\n{r!r}")


def test_mount_destination_through_a_dangling_symlink(h):
    """A destination that is a dangling symlink inside the root is created where
    it points, inside the root (as runc); never outside it."""
    b = h.bundle(["sh", "-c", "ls -d /real/dir /real/file; readlink /link-dir; "
                  "grep -oE ' /(z|a/c|y/f) ' /proc/self/mountinfo"])
    rootfs = os.path.join(b.path, "rootfs")
    os.symlink("/real/dir", os.path.join(rootfs, "link-dir"))
    os.symlink("../../real/file", os.path.join(rootfs, "link-file"))  # ".." stops at the root
    src = h.mkdtemp("src")
    open(os.path.join(src, "f"), "w").close()
    b.add_mount("/link-dir", "tmpfs", "tmpfs", ["size=1m"])
    b.add_mount("/link-file", "bind", os.path.join(src, "f"), ["bind"])
    # ".." after directories not made yet: they are made, then ".." is followed (runc's securejoin).
    b.add_mount("/x/y/../../z", "tmpfs", "tmpfs", ["size=1m"])
    b.add_mount("/a/b/../c", "tmpfs", "tmpfs", ["size=1m"])
    b.add_mount("/n/../../../y/f", "bind", os.path.join(src, "f"), ["bind"])
    r = h.run_bundle(b)
    check_eq((r.rc, r.out.split()), (0, ["/real/dir", "/real/file", "/real/dir", "/z", "/a/c", "/y/f"]),
             f"created in the root\n{r!r}")
    check(os.path.isdir(os.path.join(rootfs, "real", "dir")), "the directory is in root.path")
    check(os.path.isdir(os.path.join(rootfs, "x", "y")), "x/y made on the way to z")


def test_bind_source_only_the_caller_can_reach(h):
    """Rootless with a mapping that leaves the caller out (container uid 0 is a
    subordinate id): a bind source in a 0700 directory of the caller's is opened
    before the user switch and mounted by fd (as runc >= 1.2), not refused."""
    if not h.rootless:
        skip("the case needs an unprivileged caller")
    if not (h.subuid and h.subgid and shutil.which("newuidmap")):
        skip("no /etc/subuid and /etc/subgid range, or no newuidmap")
    b = h.bundle(["cat", "/mnt/secret/f"])
    # Everything the container's root needs is world-readable (the caller's files
    # are not its own); the source is not.
    d = b.path
    while d != "/":
        if os.stat(d).st_uid == h.uid:
            os.chmod(d, os.stat(d).st_mode | 0o755)
        d = os.path.dirname(d)
    os.makedirs(os.path.join(b.path, "rootfs", "mnt", "secret"))
    private = h.mkdtemp("private")
    os.chmod(private, 0o700)
    os.makedirs(os.path.join(private, "secret"))
    with open(os.path.join(private, "secret", "f"), "w") as f:
        f.write("reached\n")
    n = min(h.subuid[1], h.subgid[1], 65536)
    b.linux["uidMappings"] = [{"containerID": 0, "hostID": h.subuid[0], "size": n}]
    b.linux["gidMappings"] = [{"containerID": 0, "hostID": h.subgid[0], "size": n}]
    b.add_mount("/mnt/secret", "bind", os.path.join(private, "secret"), ["rbind", "ro"])
    r = h.run_bundle(b)
    check_eq((r.rc, r.out), (0, "reached\n"), f"bind source reachable only by the caller\n{r!r}")


def _idmap_as_nested_root(h, b, src):
    """Root in a user namespace of the caller's (rootless podman's): the mount maps
    ids that namespace has, on a filesystem it owns (a tmpfs of its own)."""
    if not (h.subuid and shutil.which("newuidmap")):
        skip("no /etc/subuid range or newuidmap: no user namespace with more than one id")
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "user"]
    for key in ("uidMappings", "gidMappings"):
        b.config["linux"].pop(key)
        b.config["mounts"][-1][key] = [{"containerID": 0, "hostID": 5, "size": 10}]
    b.save()
    script = (f"mount -t tmpfs t {shlex.quote(src)} && touch {shlex.quote(src)}/f && chown 5:6 {shlex.quote(src)}/f && "
              + shlex.join(h.rt_argv("--cgroup-manager", "disabled", "run", "--bundle", b.path, h.new_id())))
    r = h.cmd(["unshare", "--user", "--map-root-user", "--map-auto", "--mount", "sh", "-c", script])
    # As on the host (2001:3002 above): the owners on disk, 5:6, through the mapping.
    check_eq((r.rc, r.out), (0, "10:11\n"), f"idmapped mount as root of a nested user namespace\n{r!r}")


def test_idmapped_bind_mounts(h):
    """idmap/ridmap with mounts[].uidMappings/gidMappings (runtime-spec 1.2): the
    source's owners appear through the mapping.  As root on the host's
    filesystem; rootless the kernel refuses to idmap a filesystem the caller
    does not control, and the error says so."""
    src = h.mkdtemp("idmap")
    os.chmod(src, 0o755)
    f = os.path.join(src, "f")
    open(f, "w").close()
    b = h.bundle(["stat", "-c", "%u:%g", "/mnt/idmapped/f"])
    b.add_mount("/mnt/idmapped", "bind", src, ["rbind", "idmap"])
    b.config["mounts"][-1]["uidMappings"] = [{"containerID": 0, "hostID": 2000, "size": 10}]
    b.config["mounts"][-1]["gidMappings"] = [{"containerID": 0, "hostID": 3000, "size": 10}]
    if h.rootless:
        b.save()
        h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="mounts[6].uidMappings")  # not the caller's ids
        b.config["mounts"][-1]["uidMappings"] = [{"containerID": h.uid, "hostID": h.uid, "size": 1}]
        b.config["mounts"][-1]["gidMappings"] = [{"containerID": h.gid, "hostID": h.gid, "size": 1}]
        b.save()
        h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="idmapped mount")
        check_eq(h.container_ids(), [], "nothing left behind")
        _idmap_as_nested_root(h, b, src)
        return
    os.chown(f, 1, 2)
    r = h.run_bundle(b)
    check_eq((r.rc, r.out), (0, "2001:3002\n"), f"owners through the mount's mapping\n{r!r}")
    check_eq((os.stat(f).st_uid, os.stat(f).st_gid), (1, 2), "the source is unchanged")
    # idmap without mappings: the container's user namespace mapping (here
    # 0..65535 -> 100000..), so the host's uid 1 is uid 1 inside, not nobody.
    b.config["mounts"][-1].pop("uidMappings")
    b.config["mounts"][-1].pop("gidMappings")
    _multi_mapping(h, b)
    r = h.run_bundle(b)
    check_eq((r.rc, r.out), (0, "1:2\n"), f"owners through the container's mapping\n{r!r}")
    # Mappings need idmap/ridmap, come in pairs, and idmap is for bind mounts.
    b.config["mounts"][-1]["options"] = ["rbind"]
    b.config["mounts"][-1]["uidMappings"] = [{"containerID": 0, "hostID": 2000, "size": 10}]
    b.config["mounts"][-1]["gidMappings"] = [{"containerID": 0, "hostID": 3000, "size": 10}]
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="need the idmap or ridmap option")
    b.add_mount("/mnt/t", "tmpfs", "tmpfs", ["idmap"])
    b.config["mounts"][-2]["options"] = ["rbind", "idmap"]
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="supported on bind mounts only")
    check_eq(h.container_ids(), [], "nothing left behind")


def test_mount_bind_rw_ro(h):
    host_dir = h.mkdtemp("share")
    os.chmod(host_dir, 0o777)
    with open(os.path.join(host_dir, "hello"), "w") as f:
        f.write("from-host\n")
    b = h.bundle()
    b.add_mount("/mnt/rw", "bind", host_dir, ["bind"])
    b.add_mount("/mnt/ro", "bind", host_dir, ["bind", "ro"])
    b.add_mount("/mnt/rb", "none", host_dir, ["rbind", "nosuid"])
    b.process["args"] = ["sh", "-c", "cat /mnt/rw/hello /mnt/ro/hello /mnt/rb/hello;"
                         " /probe write /mnt/rw/out from-container;"
                         " /probe write /mnt/ro/no x; echo rc=$?"]
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"container exit status\n{r!r}")
    check_eq(r.out, "from-host\n" * 3 + "rc=1\n", "bind mount contents")
    check_in("EROFS", r.err, "write into a ro bind")
    with open(os.path.join(host_dir, "out")) as f:
        check_eq(f.read(), "from-container", "write through the rw bind")
    check(not os.path.exists(os.path.join(host_dir, "no")), "write through the ro bind")
    rep = h.report(b)
    check_in("ro", _mount(rep, "/mnt/ro")["options"].split(","), "ro bind options")
    check_in("nosuid", _mount(rep, "/mnt/rb")["options"].split(","), "rbind nosuid")
    # Binding a single file.
    # nosymfollow (runc knows it, and acl and iversion): on a bind, and on a tmpfs.
    b3 = h.bundle()
    b3.add_mount("/mnt/ns", "bind", host_dir, ["rbind", "nosymfollow"])
    b3.add_mount("/mnt/rns", "bind", host_dir, ["rbind", "rnosymfollow"])
    b3.add_mount("/mnt/t", "tmpfs", "tmpfs", ["nosuid", "nosymfollow", "acl", "iversion", "noacl", "noiversion"])
    rep = h.report(b3)
    for dest in ("/mnt/ns", "/mnt/rns", "/mnt/t"):
        check_in("nosymfollow", _mount(rep, dest)["options"].split(","), f"{dest} nosymfollow")
    b2 = h.bundle(["/probe", "cat", "/etc/crl-file"])
    b2.add_mount("/etc/crl-file", "bind", os.path.join(host_dir, "hello"), ["bind", "ro"])
    r = h.run_bundle(b2)
    check_eq((r.rc, r.out), (0, "from-host\n"), "file bind mount")
    # The file made to mount on is 0755 less the umask, as runc's (buildah commits it).
    umask = os.umask(0)
    os.umask(umask)
    mode = os.stat(os.path.join(b2.rootfs, "etc", "crl-file")).st_mode & 0o7777
    check_eq(oct(mode), oct(0o755 & ~umask), "mode of the file made to mount on")


def test_mount_rbind_recursive(h):
    """rbind carries sub-mounts, bind does not. Uses a private mount namespace (root only)."""
    if h.rootless:
        skip("needs a private mount namespace with a real tmpfs sub-mount (root)")
    unshare = shutil.which("unshare")
    if not unshare:
        skip("unshare(1) not installed")
    src = h.mkdtemp("rsrc")
    os.mkdir(os.path.join(src, "sub"))
    b = h.bundle(["sh", "-c", "ls /mnt/r/sub; echo --; ls /mnt/b/sub"])
    b.add_mount("/mnt/r", "bind", src, ["rbind"])
    b.add_mount("/mnt/b", "bind", src, ["bind"])
    b.save()
    script = (f'mount -t tmpfs crl-sub "{src}/sub" && echo x > "{src}/sub/inner" && '
              f'exec "$@"')
    argv = [unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh"]
    argv += h.rt_argv("run", "--bundle", b.path, h.new_id("rbind"))
    r = h.cmd(argv, timeout=60)
    check_eq(r.rc, 0, f"run inside a private mount namespace\n{r!r}")
    check_eq(r.out, "inner\n--\n", "rbind shows the sub-mount, bind does not")


def test_mount_proc_sys_devpts_mqueue(h):
    b = h.bundle()
    r = h.report(b)
    for target, fstype in (("/proc", "proc"), ("/sys", "sysfs"), ("/dev", "tmpfs"),
                           ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"),
                           ("/dev/mqueue", "mqueue")):
        m = _mount(r, target)
        check(m is not None, f"no mount at {target}")
        check_eq(m["fstype"], fstype, f"fstype at {target}")
    check_in("ro", _mount(r, "/sys")["options"].split(","), "/sys is read-only")
    pts = _opts(_mount(r, "/dev/pts"))
    check_in("ptmxmode=666", pts, "devpts ptmxmode")
    check_in("mode=620", pts, "devpts mode")
    # tmpfs lists mode= only when it differs from 1777, so look at the directory itself.
    shm = h.run_bundle(h.bundle(["/probe", "stat", "/dev/shm"])).json()[0]
    check_eq(shm["mode"] & 0o7777, 0o1777, "/dev/shm mode")
    # proc shows the container's pid namespace.
    b.process["args"] = ["/probe", "cat", "/proc/1/cmdline"]
    out = h.run_bundle(b)
    check_eq(out.out, "/probe\0cat\0/proc/1/cmdline\0", "/proc/1 is the container process")


def test_sysfs_without_netns(h):
    """Without a network namespace: root mounts sysfs; rootless must rbind /sys (runc's spec)."""
    b = h.bundle()
    b.remove_namespace("network")
    if h.rootless:
        b.remove_mount("/sys")
        b.add_mount("/sys", "none", "/sys", ["rbind", "nosuid", "noexec", "nodev", "ro"])
    r = h.report(b)
    m = _mount(r, "/sys")
    check(m is not None and m["fstype"] == "sysfs", f"/sys mount: {m}")
    b.process["args"] = ["/probe", "stat", "/sys/kernel", "/sys/class/net/lo"]
    st = h.run_bundle(b).json()
    check_eq(st[0].get("type"), "dir", "/sys/kernel")
    check(st[1].get("type") == "symlink", f"/sys/class/net/lo: {st[1]}")


def test_mount_propagation_flags(h):
    share = h.mkdtemp("prop")
    b = h.bundle()
    b.add_mount("/mnt/priv", "bind", share, ["rbind", "rprivate"])
    b.add_mount("/mnt/shared", "bind", share, ["rbind", "rshared"])
    b.add_mount("/mnt/slave", "bind", share, ["rbind", "rslave"])
    b.add_mount("/mnt/unbind", "bind", share, ["bind", "runbindable"])
    b.linux["rootfsPropagation"] = "private"
    r = h.report(b)
    opt = {t: _mount(r, t)["optional"] for t in ("/mnt/priv", "/mnt/shared", "/mnt/slave",
                                                   "/mnt/unbind")}
    check(not opt["/mnt/priv"], f"rprivate mount optional fields {opt['/mnt/priv']}")
    check(any(o.startswith("shared:") for o in opt["/mnt/shared"]), f"rshared: {opt}")
    check(not any(o.startswith("shared:") for o in opt["/mnt/slave"]), f"rslave: {opt}")
    check_in("unbindable", opt["/mnt/unbind"], "runbindable")


def test_dev(h):
    b = h.bundle(["/probe", "stat", "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                  "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/fd", "/dev/stdin",
                  "/dev/stdout", "/dev/stderr", "/dev/pts/ptmx", "/dev/shm", "/dev/mqueue"])
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"probe stat\n{r!r}")
    st = {e["path"]: e for e in r.json()}
    for name, (maj, mnr) in {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
                             "urandom": (1, 9), "tty": (5, 0)}.items():
        e = st[f"/dev/{name}"]
        check_eq((e.get("type"), e.get("major"), e.get("minor")), ("char", maj, mnr),
                 f"/dev/{name}")
        check_eq(e["mode"] & 0o666, 0o666, f"/dev/{name} mode")
    for path, target in (("/dev/ptmx", "pts/ptmx"), ("/dev/fd", "/proc/self/fd"),
                         ("/dev/stdin", "/proc/self/fd/0"), ("/dev/stdout", "/proc/self/fd/1"),
                         ("/dev/stderr", "/proc/self/fd/2")):
        check_eq((st[path].get("type"), st[path].get("target")), ("symlink", target), path)
    check_eq((st["/dev/pts/ptmx"].get("type"), st["/dev/pts/ptmx"].get("major")), ("char", 5),
             "/dev/pts/ptmx")
    b.process["args"] = ["sh", "-c", "/probe write /dev/null x && head -c 4 /dev/zero | wc -c"
                         " && /probe cat /dev/fd/0 </dev/null && echo ok"]
    r = h.run_bundle(b)
    check_eq((r.rc, r.out), (0, "4\nok\n"), "/dev/null writable, /dev/zero readable")


def test_linux_devices(h):
    if h.rootless:
        # No mknod in a user namespace: the host's node is bind-mounted at the same path.
        if not os.path.exists("/dev/kmsg"):
            skip("host has no /dev/kmsg to bind")
        dev = {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}
        want = ("char", 1, 11)
    else:
        dev = {"path": "/dev/crl/null2", "type": "c", "major": 1, "minor": 3,
               "fileMode": 0o620, "uid": 1000, "gid": 5}
        want = ("char", 1, 3)
    b = h.bundle(["/probe", "stat", dev["path"]])
    b.linux["devices"] = [dict(dev, path=dev["path"] + "/")]  # a trailing "/" names the same node (runc)
    # A second entry of the same path is not made: the first is (runc's mknod of it fails).
    b.linux["devices"].append(dict(dev, minor=5))
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"probe stat\n{r!r}")
    check_in("is an earlier entry's path: that one is made", r.err, "a warning for the second entry")
    st = r.json()[0]
    check_eq((st.get("type"), st.get("major"), st.get("minor")), want, dev["path"])
    if not h.rootless:
        check_eq((st["mode"] & 0o7777, st["uid"], st["gid"]), (0o620, 1000, 5),
                 "fileMode/uid/gid of the node")
    # A device whose host node does not exist (rootless) or of a bad type is an error.
    bad = {"path": "/dev/crl-none", "type": "c", "major": 1, "minor": 3} if h.rootless else \
        {"path": "dev/relative", "type": "c", "major": 1, "minor": 3}
    b.linux["devices"] = [bad]
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="crl-none" if h.rootless else
              "linux.devices[0].path")


def test_rootfs_propagation(h):
    for prop, shared in (("shared", True), ("rshared", True), ("private", False),
                         ("slave", False)):
        b = h.bundle()
        b.linux["rootfsPropagation"] = prop
        root = _mount(h.report(b), "/")
        check_eq(any(o.startswith("shared:") for o in root["optional"]), shared,
                 f"rootfsPropagation {prop}: optional fields of / {root['optional']}")


def test_rshared_mounts_reach_the_host(h):
    """rootfsPropagation rshared with an rbind,rshared mount (what containerd makes of a
    Kubernetes Bidirectional volume): a mount the container makes there shows on the host's
    side, as with runc; an rprivate mount beside it stays private; none of the runtime's own
    mounts (root, /proc, /dev) leaks, and detaching the old root unmounts nothing outside.
    So too with a rootfsPropagation for "/" alone (private, slave): runc applies it to "/"
    alone, and the mounts below keep the host's peers.  An rslave root makes the rshared
    mount a peer group of its own: nothing reaches the host.  The "host" is a private mount
    namespace of the test's own."""
    if h.rootless:
        skip("needs real root: a rootless container's mounts cannot propagate to the caller's namespace")
    if not shutil.which("unshare"):
        skip("unshare is not installed (Debian: util-linux)")
    for prop, reaches in (("rshared", True), ("private", True), ("slave", True), ("rslave", False)):
        share = h.mkdtemp("bidir")
        b = h.bundle(["sh", "-c", "mount -t tmpfs ctr-x /x && mount -t tmpfs ctr-y /y && echo mounted"])
        b.process["capabilities"] = {k: ["CAP_SYS_ADMIN"] for k in ("bounding", "effective", "permitted")}
        b.linux["rootfsPropagation"] = prop
        b.add_mount("/x", "bind", share + "/shared", ["rbind", "rshared"])
        b.add_mount("/y", "bind", share + "/priv", ["rbind", "rprivate"])
        b.save()
        cid = h.new_id("bidir")
        run = " ".join(shlex.quote(a) for a in h.rt_argv("run", "--bundle", b.path, cid))
        script = (f"set -e; mount -t tmpfs outer {share}; mount --make-rshared {share}; "
                  f"mkdir {share}/shared {share}/priv; before=$(wc -l < /proc/self/mountinfo); {run}; "
                  f"echo mounts $before $(wc -l < /proc/self/mountinfo); "
                  f"awk '{{print $5, $9, $10}}' /proc/self/mountinfo | grep -E '^{share}/|{b.path}' || true")
        r = h.cmd(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
        check_eq(r.rc, 0, f"{prop}: run in a namespace of our own\n{r!r}")
        lines = r.out.strip().split("\n")
        check_eq(lines[0], "mounted", f"{prop}: the container mounted both\n{r!r}")
        before, after = lines[1].split()[1:]
        check_eq(int(after), int(before) + reaches,
                 f"{prop}: {int(reaches)} mount more outside (the container's /x), nothing less\n{r!r}")
        check_eq(lines[2:], [f"{share}/shared tmpfs ctr-x"] if reaches else [],
                 f"{prop}: only /x reached the host side\n{r!r}")


def test_seccomp_from_config(h):
    b = h.bundle(["sh", "-c", "mkdir /tmp/blocked; echo rc=$?; /probe report"])
    b.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 38}],
    }
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"run\n{r!r}")
    first, report = r.out.split("\n", 1)
    check_eq(first, "rc=1", "mkdir is refused")
    check_in("not implemented", r.err.lower(), "the configured errno (ENOSYS)")
    check_eq(json.loads(report)["seccomp"], 2, "Seccomp mode 2 (filter)")
    b.linux["seccomp"]["syscalls"][0]["action"] = "SCMP_ACT_NOPE"
    b.save()
    h.rt_fail("run", "--bundle", b.path, h.new_id(), expect="SCMP_ACT_NOPE")


def test_masked_and_readonly_paths(h):
    b = h.bundle()
    b.config["mounts"][0]["options"] = ["nosuid", "noexec", "nodev"]  # /proc, as Docker sends it
    # /proc/kcore exists only on some kernels; /proc/timer_list is always there.
    b.linux["maskedPaths"] = ["/proc/kcore", "/proc/timer_list", "/sys/firmware", "/proc/crl-missing"]
    b.linux["readonlyPaths"] = ["/proc/sys", "/proc/sysrq-trigger"]
    b.process["args"] = ["sh", "-c",
                         "wc -c </proc/timer_list; ls -A /sys/firmware | wc -l;"
                         " /probe write /proc/sys/kernel/hostname x; echo rc=$?"]
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"exit status\n{r!r}")
    check_eq(r.out.split(), ["0", "0", "rc=1"], "masked kcore empty, /sys/firmware empty, "
                                                 "/proc/sys read-only")
    check(("EROFS" in r.err) or ("EACCES" in r.err), f"write to /proc/sys error: {r.err!r}")
    rep = h.report(b)
    # The read-only remount keeps the flags of the mount it covers (proc's), as runc.
    opts = _mount(rep, "/proc/sys")["options"].split(",")
    for flag in ("ro", "nosuid", "nodev", "noexec"):
        check_in(flag, opts, "/proc/sys options")


def test_masked_and_readonly_paths_without_proc(h):
    """A container without /proc still gets its masks and read-only paths (they are mounted on
    the path beneath the root, as runc does, where /proc/self/fd is not there to use)."""
    b = h.bundle()
    b.remove_mount("/proc")
    b.linux["maskedPaths"] = ["/sys/firmware", "/crl-missing"]
    b.linux["readonlyPaths"] = ["/etc"]
    b.process["args"] = ["sh", "-c", "ls -A /sys/firmware | wc -l; touch /etc/crl 2>/dev/null; echo rc=$?"]
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"exit status\n{r!r}")
    check_eq(r.out.split(), ["0", "rc=1"], "masked /sys/firmware empty, /etc read-only")


def test_masks_without_a_mount_namespace_are_refused(h):
    """Masks are mounts: without a mount namespace of the container's own they would cover the
    caller's /proc and /sys and stay after delete, so they are refused with runc's words."""
    b = h.bundle()
    b.linux["namespaces"] = [n for n in b.linux["namespaces"] if n["type"] != "mount"]
    b.linux["maskedPaths"] = ["/proc/kcore"]
    r = h.run_bundle(b)
    check(r.rc != 0, f"refused\n{r!r}")
    check_in("linux.maskedPaths: unable to restrict sys entries without a private MNT namespace", r.err, "runc's words")
    with open("/proc/self/mountinfo") as f:
        check_eq([l for l in f if b.path in l], [], "no mount made in the caller's namespace")
    check_eq(h.container_ids(), [], "nothing left")


def test_sysctl(h):
    b = h.bundle()
    b.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    # Written before readonlyPaths makes /proc/sys read-only (podman sends both).
    b.linux["readonlyPaths"] = ["/proc/sys"]
    want = {"net.ipv4.ip_forward": "1"}
    if not h.rootless:
        b.linux["sysctl"]["kernel.domainname"] = "crl.sysctl"
        want["kernel.domainname"] = "crl.sysctl"
    r = h.report(b, sysctls=sorted(want))
    check_eq(r["sysctl"], want, "sysctl values inside")
    if not h.rootless:
        check_eq(r["domainname"], "crl.sysctl", "domainname set through kernel.domainname")
    # A net sysctl without a network namespace is refused.
    b2 = h.bundle()
    b2.remove_namespace("network")
    b2.remove_mount("/sys")
    b2.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    h.rt_fail("run", "--bundle", b2.save().path, h.new_id("sysctlnonet"))
    # Nor in the caller's own network namespace joined by path (runc's words); the host's value stays.
    before = open("/proc/sys/net/ipv4/ping_group_range").read()
    b2.remove_namespace("network")
    b2.linux["namespaces"].append({"type": "network", "path": f"/proc/{os.getpid()}/ns/net"})
    b2.linux["sysctl"] = {"net.ipv4.ping_group_range": "0 5"}
    h.rt_fail("run", "--bundle", b2.save().path, h.new_id("sysctlhostnet"),
              expect='linux.sysctl.net.ipv4.ping_group_range: sysctl "net.ipv4.ping_group_range" not allowed in '
                     'host network namespace')
    check_eq(open("/proc/sys/net/ipv4/ping_group_range").read(), before, "the host's sysctl")


def _run_with_fds(h, b, cid, extra, env_listen=False, listen_pid="$$"):
    """Run the runtime from `sh` with fds 3 and 4 open on two files (optionally LISTEN_FDS,
    with LISTEN_PID the runtime's own pid unless `listen_pid` says another)."""
    f3, f4 = os.path.join(b.path, "fd3"), os.path.join(b.path, "fd4")
    for p in (f3, f4):
        with open(p, "w") as f:
            f.write(os.path.basename(p))
    prefix = f"LISTEN_FDS=2 LISTEN_PID={listen_pid} " if env_listen else ""
    script = f'exec 3<"{f3}" 4<"{f4}"; {prefix}exec "$@"'
    argv = ["/bin/sh", "-c", script, "sh"] + h.rt_argv("run", *extra, "--bundle", b.path, cid)
    return h.cmd(argv, timeout=60)


def test_preserve_fds(h):
    b = h.bundle()
    b.save()
    r = _run_with_fds(h, b, h.new_id("nofds"), [])
    check_eq(r.rc, 0, f"run\n{r!r}")
    check_eq(r.json()["fds"], [0, 1, 2], "fds without --preserve-fds")

    r = _run_with_fds(h, b, h.new_id("fds"), ["--preserve-fds", "2"])
    check_eq(r.rc, 0, f"run --preserve-fds 2\n{r!r}")
    check_eq(r.json()["fds"], [0, 1, 2, 3, 4], "fds with --preserve-fds 2")

    b.process["args"] = ["sh", "-c", "/probe cat /proc/self/fd/3; echo; /probe cat /proc/self/fd/4"]
    b.save()
    r = _run_with_fds(h, b, h.new_id("fdsc"), ["--preserve-fds", "2"])
    check_eq((r.rc, r.out), (0, "fd3\nfd4"), "contents read through preserved fds")

    # A hole in the range: the runtime's own fds (the state directory, the sync socket)
    # would take fd 5 and be handed to the container.  runc fails too (EBADF).
    b.process["args"] = ["/probe", "report"]
    b.save()
    for verb_args in (["run"], ["create"]):
        cid = h.new_id("fdhole")
        f3 = os.path.join(b.path, "fd3")
        argv = ["/bin/sh", "-c", f'exec 3<"{f3}" 4<"{f3}"; exec "$@"', "sh"]
        argv += h.rt_argv(*verb_args, "--preserve-fds", "3", "--bundle", b.path, cid)
        r = h.cmd(argv, timeout=60)
        check(r.rc != 0, f"{verb_args[0]} --preserve-fds 3 with fd 5 closed fails\n{r!r}")
        check_in("fd 5 is not open", r.err, "the error names the fd")
        check_eq(h.container_ids(), [], "nothing left")


def test_listen_fds(h):
    b = h.bundle(["/probe", "listen-fds"])
    b.save()
    r = _run_with_fds(h, b, h.new_id("listen"), [], env_listen=True)
    check_eq(r.rc, 0, f"run with LISTEN_FDS\n{r!r}")
    got = r.json()
    check_eq(got["LISTEN_FDS"], "2", "LISTEN_FDS")
    check_eq(got["pid_matches"], True, f"LISTEN_PID names the container process: {got}")
    check_eq(got["open"], [True, True], "fds 3 and 4 open")
    # Another process's LISTEN_FDS (LISTEN_PID not ours, or none): not for the container.
    report = h.bundle(["/probe", "report"])
    report.save()
    for pid in ("1", ""):
        r = _run_with_fds(h, report, h.new_id("listen"), [], env_listen=True, listen_pid=pid)
        check_eq(r.rc, 0, f"run with LISTEN_PID={pid!r}\n{r!r}")
        got = r.json()
        check_eq(got["fds"], [0, 1, 2], f"LISTEN_PID={pid!r}: no fds passed")
        check("LISTEN_FDS=2" not in got.get("env", []), f"LISTEN_PID={pid!r}: no LISTEN_FDS: {got.get('env')}")


def test_no_pivot(h):
    if h.rootless:
        skip("--no-pivot is exercised as root")
    b = h.bundle()
    r = h.report(b, extra=["--no-pivot"])
    check_eq(r["uid"], 0, "uid")
    check(_mount(r, "/") is not None, "a root mount is visible")
    check_eq(r["cwd"], "/", "cwd")
    b.process["args"] = ["/probe", "stat", "/probe"]
    check_eq(h.run_bundle(b, extra=["--no-pivot"]).json()[0]["type"], "file", "rootfs content")


def test_caller_env_does_not_leak(h):
    """The caller's environment does not reach the container; only process.env does."""
    b = h.bundle()
    env = dict(os.environ, CRLT_SECRET="leak")
    r = h.run_bundle(b, env=env)
    check_eq(r.rc, 0, "run")
    check(not any(e.startswith("CRLT_SECRET=") for e in r.json()["env"]), "caller env leaked")


def test_rootless_limits_without_delegated_cgroup(h):
    """No cgroup is delegated to the user: the container runs in the caller's cgroup,
    resource limits are dropped with a clear warning, pause says why it cannot."""
    if not h.rootless:
        skip("rootless only")
    def cgroups(pid):
        with open(f"/proc/{pid}/cgroup") as f:
            return f.read()
    b = h.bundle(["/probe", "exit", "0"])
    b.linux["resources"] = {"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 50}}
    r = h.run_bundle(b)
    check_eq(r.rc, 0, f"runs without a cgroup\n{r!r}")
    check_in("not delegated", r.err, "a clear warning that the limits are not applied")
    b2 = h.bundle(["/probe", "sleep", "30"])
    cid = h.new_id("nocg")
    h.rt_ok("run", "--detach", "--bundle", b2.path, cid)
    check_eq(cgroups(h.state(cid)["pid"]), cgroups(os.getpid()), "in our own cgroup")
    h.rt_fail("pause", cid, expect="has no cgroup")
    # As runc's: stats of nothing counted, not an error.
    stats = json.loads(h.rt_ok("events", "--stats", cid).out)
    check_eq((stats["type"], stats["data"]["cpu"]["usage"]), ("stats", {"kernel": 0, "user": 0}), "zeros")
    # A `cgroup` mount shows the cgroups it is in (ours), read-only, as runc's, not the
    # host's whole tree; with a cgroup namespace of its own, nothing (test_private_cgroup_view).
    memory = next((l.split(":", 2)[2].strip() for l in cgroups(os.getpid()).splitlines()
                   if l.split(":")[1] == "memory"), None)
    if memory is None:
        return  # a pure cgroup2 host: the cgroup2 mount is the kernel's own view
    ours = sorted(os.listdir("/sys/fs/cgroup/memory" + memory))
    for extra, want in (([], ours + ["ro"]), ([{"type": "cgroup"}], ["ro"])):
        b3 = h.bundle(["sh", "-c", "ls /sys/fs/cgroup/memory 2>/dev/null; touch /sys/fs/cgroup/memory/x 2>/dev/null || echo ro"])
        b3.linux["namespaces"] += extra
        b3.add_mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"])
        r = h.run_bundle(b3)
        check_eq(r.rc, 0, f"run\n{r!r}")
        check_eq(r.out.split(), want, f"our memory cgroup, read-only; nothing with a cgroup namespace ({extra})")


if __name__ == "__main__":
    harness.main(globals())
