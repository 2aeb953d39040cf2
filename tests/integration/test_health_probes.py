#!/usr/bin/env python3
"""Healthchecks that need nothing in the image: --health-http URL and --health-tcp PORT (and
the image labels org.crun-lite.health.http and .tcp), probed from the container's network
namespace by crun-lite itself (tcp) or by crun-lite-health (http, libcurl), as root and as an
unprivileged user. The image has no shell: only a static busybox (/bin/busybox, and /bin/httpd
linked to it so that killall finds the server by name) serving /www on 127.0.0.1."""

import io
import json
import os
import tarfile
import time

import harness
from test_image_run import _store
from harness import check, check_eq, check_in

PORT = 3000
SERVE = ["/bin/httpd", "-f", "-p", f"127.0.0.1:{PORT}", "-h", "/www"]
URL = f"http://localhost:{PORT}/health"
FAST = ("--health-interval", "200ms", "--health-retries", "1")


def _no_shell_layer(t):
    for d in ("bin", "www", "tmp", "proc", "sys", "dev", "etc"):
        ti = tarfile.TarInfo(d)
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        t.addfile(ti)
    t.add(harness.BUSYBOX, "bin/busybox")
    ti = tarfile.TarInfo("bin/httpd")
    ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
    t.addfile(ti)
    ti = tarfile.TarInfo("www/health")
    ti.size, ti.mode = 3, 0o644
    t.addfile(ti, io.BytesIO(b"ok\n"))


def _image(h, labels=None):
    """A docker-archive of the shell-less busybox image that serves /www on 127.0.0.1:3000."""
    path = os.path.join(h.mkdtemp("img"), "web.tar")
    config = {"Env": ["PATH=/bin"], "Cmd": SERVE}
    if labels:
        config["Labels"] = labels
    harness.make_docker_archive(h, path, "example/web:1.0", layers=[_no_shell_layer], config=config)
    os.chmod(os.path.dirname(path), 0o755)
    return path


def _run(h, archive, *args, verb="run", **kw):
    return h.rt(verb, "--image", "docker-archive:" + archive, "--store", _store(h), "--network", "none", *args, **kw)


def _inspect(h, cid):
    return h.rt_ok("inspect", cid).json()


def _health(h, cid):
    return _inspect(h, cid)["State"].get("Health", {})


def _wait_health(h, cid, status, output=None, timeout=20):
    """Waits until the status is `status` (and the last probe's output contains `output`)."""
    last = {}

    def reached():
        nonlocal last
        last = _health(h, cid)
        return last.get("Status") == status and (output is None or output in last["Log"][-1]["Output"])
    check(harness.wait_until(reached, timeout=timeout), f"health never became {status} ({output}): {last}")
    return last


def _nothing_left(h, cid):
    containers = os.path.join(_store(h), "containers")
    check_eq(sorted(os.listdir(containers)) if os.path.isdir(containers) else [], [], "no container directory left")
    check(cid not in h.container_ids(), "no state left")


def test_http_probe_of_an_image_without_a_shell(h):
    archive = _image(h)
    cid = h.new_id("http")
    r = _run(h, archive, "-d", "--health-http", URL, *FAST, "--wait-healthy=30s", cid)
    check_eq(r.rc, 0, f"run -d --health-http --wait-healthy\n{r!r}")
    r = h.rt("exec", cid, "sh", "-c", "true")
    check(r.rc != 0, f"the image has no shell: an exec probe could not run\n{r!r}")
    info = _inspect(h, cid)
    hc = info["Healthcheck"]
    check_eq((hc["Kind"], hc["URL"], "Test" in hc), ("http", URL, False), f"inspect's Healthcheck: {hc}")
    check_eq(hc["Interval"], 200_000_000, "--health-interval kept")
    last = info["State"]["Health"]["Log"][-1]
    check_eq((last["ExitCode"], last["Output"]), (0, "HTTP 200"), "the log of a healthy probe")
    r = h.rt("healthcheck", "run", cid)
    check_eq((r.rc, r.out), (0, ""), f"healthcheck run: healthy\n{r!r}")

    # The server answers 404 once the file is gone: unhealthy.
    h.rt_ok("exec", cid, "/bin/busybox", "rm", "/www/health")
    hs = _wait_health(h, cid, "unhealthy", "HTTP 404")
    check_eq(hs["Log"][-1]["ExitCode"], 1, "a 404 is exit code 1")
    r = h.rt("healthcheck", "run", cid)
    check_eq((r.rc, r.out, r.err), (1, "unhealthy\n", "HTTP 404\n"),
             f"healthcheck run: podman's status on stdout, the probe's output on stderr\n{r!r}")
    h.rt_ok("delete", "--force", cid)

    # A port nobody listens on.
    closed = h.new_id("http")
    check_eq(_run(h, archive, "-d", "--health-http", "http://127.0.0.1:3999/", *FAST, closed).rc, 0, "run -d")
    _wait_health(h, closed, "unhealthy", "connect: Connection refused")
    r = h.rt("healthcheck", "run", closed)
    check_eq((r.rc, r.err.strip()), (1, "connect: Connection refused"), f"healthcheck run: closed port\n{r!r}")
    h.rt_ok("delete", "--force", closed)


def test_health_cmd_json_array_runs_without_a_shell(h):
    """podman's --health-cmd '["CMD", ...]' (and "CMD prog args") run the argv itself: in an
    image without /bin/sh they work where a shell command cannot."""
    archive = _image(h)
    cid = h.new_id("argv")
    wget = ["/bin/busybox", "wget", "-q", "-O-", f"http://127.0.0.1:{PORT}/health"]
    for cmd in (json.dumps(["CMD"] + wget), json.dumps(wget), "CMD " + " ".join(wget)):
        r = _run(h, archive, "-d", "--health-cmd", cmd, *FAST, "--wait-healthy=30s", cid)
        check_eq(r.rc, 0, f"--health-cmd {cmd}: healthy without a shell\n{r!r}")
        check_eq(_inspect(h, cid)["Healthcheck"]["Test"], wget, f"--health-cmd {cmd}: run as that argv")
        h.rt_ok("delete", "--force", cid)
    r = _run(h, archive, "-d", "--health-cmd", " ".join(wget), *FAST, cid)
    check_eq(r.rc, 0, f"run -d, a shell command\n{r!r}")
    _wait_health(h, cid, "unhealthy")
    check_eq(_inspect(h, cid)["Healthcheck"]["Test"][:2], ["/bin/sh", "-c"], "a plain command is the shell's")
    h.rt_ok("delete", "--force", cid)
    for flags in (["--health-cmd", '["NONE"]'], ["--health-cmd", "[]"], ["--health-cmd", '["CMD"]']):
        r = _run(h, archive, "-d", *flags, cid)
        if flags[1] == '["NONE"]':
            check_eq(r.rc, 0, f"{flags}\n{r!r}")
            check("Healthcheck" not in _inspect(h, cid), f"{flags} is --no-healthcheck")
            h.rt_ok("delete", "--force", cid)
        else:
            check(r.rc != 0 and f"--health-cmd `{flags[1]}`:" in r.err, f"{flags} is refused, naming it\n{r!r}")
            check_eq(h.container_ids(), [], f"{flags}: nothing made")


def test_binary_probe_output_is_kept_readable(h):
    """A probe that prints a NUL or bytes that are not UTF-8: its output is kept with
    U+FFFD for them, and health.json stays readable (inspect, --wait-healthy)."""
    archive = _image(h)
    cid = h.new_id("bin")
    cmd = json.dumps(["/bin/busybox", "printf", "a\\000b\\377c"])
    r = _run(h, archive, "-d", "--health-cmd", cmd, *FAST, "--wait-healthy=30s", cid)
    check_eq(r.rc, 0, f"healthy, whatever the probe printed\n{r!r}")
    check_eq(_health(h, cid)["Log"][-1]["Output"], "a\ufffdb\ufffdc", "NUL and \\377 as U+FFFD")
    h.rt_ok("delete", "--force", cid)


def test_tcp_probe_follows_the_server(h):
    """--health-tcp: refused while nothing listens, healthy once the server runs, refused
    again when it is killed; the container runs throughout."""
    archive = _image(h)
    cid = h.new_id("tcp")
    r = _run(h, archive, "-d", "--health-tcp", str(PORT), *FAST, cid, "/bin/busybox", "sleep", "3600")
    check_eq(r.rc, 0, f"run -d --health-tcp\n{r!r}")
    hs = _wait_health(h, cid, "unhealthy", "Connection refused")
    check_eq(hs["Log"][-1]["Output"], f"connect: Connection refused (127.0.0.1:{PORT}, [::1]:{PORT})",
             "both loopback addresses were tried")
    r = h.rt("healthcheck", "run", cid)
    check_eq((r.rc, r.err.strip()), (1, hs["Log"][-1]["Output"]), f"healthcheck run: nothing listens\n{r!r}")
    hc = _inspect(h, cid)["Healthcheck"]
    check_eq((hc["Kind"], hc["Port"]), ("tcp", PORT), f"inspect's Healthcheck: {hc}")

    # httpd without -f daemonizes; the container's init adopts it.
    h.rt_ok("exec", cid, *[a for a in SERVE if a != "-f"])
    hs = _wait_health(h, cid, "healthy")
    check_eq((hs["Log"][-1]["ExitCode"], hs["Log"][-1]["Output"]), (0, f"connected to 127.0.0.1:{PORT}"),
             "the log of a healthy tcp probe")
    r = h.rt("healthcheck", "run", cid)
    check_eq(r.rc, 0, f"healthcheck run: listening\n{r!r}")

    h.rt_ok("exec", cid, "/bin/busybox", "killall", "httpd")
    _wait_health(h, cid, "unhealthy", "Connection refused")
    r = h.rt("healthcheck", "run", cid)
    check_eq(r.rc, 1, f"healthcheck run: the server was killed\n{r!r}")
    check_in("connect: Connection refused", r.err, "healthcheck run prints why")
    check_eq(h.rt_ok("state", cid).json()["status"], "running", "an unhealthy container keeps running")
    h.rt_ok("delete", "--force", cid)


def test_http_probe_over_ipv6_loopback(h):
    archive = _image(h)
    cid = h.new_id("v6")
    serve6 = ["/bin/httpd", "-f", "-p", f"[::1]:{PORT}", "-h", "/www"]
    check_eq(_run(h, archive, "-d", "--health-http", f"http://[::1]:{PORT}/health", *FAST, cid, *serve6).rc, 0, "run -d")
    v6 = h.rt("exec", cid, "/bin/busybox", "cat", "/proc/net/if_inet6").out
    if "00000000000000000000000000000001" not in v6:
        h.rt_ok("delete", "--force", cid)
        harness.skip("the container's loopback has no ::1 (IPv6 disabled)")
    hs = _wait_health(h, cid, "healthy")
    check_eq(hs["Log"][-1]["Output"], "HTTP 200", "a probe of http://[::1]")
    h.rt_ok("delete", "--force", cid)


def test_labels_give_the_probe_and_flags_override_them(h):
    archive = _image(h, {"org.crun-lite.health.http": URL, "maintainer": "x"})
    cid = h.new_id("label")
    r = _run(h, archive, "-d", *FAST, "--wait-healthy=30s", cid)
    check_eq(r.rc, 0, f"the image's label is its healthcheck\n{r!r}")
    info = _inspect(h, cid)
    check_eq((info["Healthcheck"]["Kind"], info["Healthcheck"]["URL"]), ("http", URL), "from the label")
    annotations = info["Config"].get("annotations", {})
    check("org.crun-lite.health.http" not in annotations and annotations.get("maintainer") == "x",
          f"crun-lite's own labels are not annotations: {annotations}")
    h.rt_ok("delete", "--force", cid)

    # A flag replaces the label.
    r = _run(h, archive, "-d", "--health-tcp", "3999", *FAST, cid)
    check_eq(r.rc, 0, f"run -d --health-tcp over the label\n{r!r}")
    hs = _wait_health(h, cid, "unhealthy", "Connection refused")
    check_eq(_inspect(h, cid)["Healthcheck"]["Kind"], "tcp", "the flag's kind")
    check_in("3999", hs["Log"][-1]["Output"], "the flag's port")
    h.rt_ok("delete", "--force", cid)
    for flags in (["--no-healthcheck"], ["--health-cmd", "none"], ["--health-cmd", "NONE"]):
        r = _run(h, archive, "-d", *flags, cid)
        check_eq(r.rc, 0, f"{flags}\n{r!r}")
        check("Healthcheck" not in _inspect(h, cid), f"{flags} disables the label's probe")
        r = h.rt("healthcheck", "run", cid)
        check_eq(r.rc, 125, f"healthcheck run without a healthcheck\n{r!r}")
        h.rt_ok("delete", "--force", cid)
    r = _run(h, archive, "-d", "--health-cmd", "", cid)
    check_eq(r.rc, 0, f"--health-cmd ''\n{r!r}")
    check_eq(_inspect(h, cid)["Healthcheck"]["Kind"], "http", "an empty --health-cmd keeps the image's probe")
    h.rt_ok("delete", "--force", cid)

    tcp = _image(h, {"org.crun-lite.health.tcp": str(PORT)})
    r = _run(h, tcp, "-d", *FAST, "--wait-healthy=30s", cid)
    check_eq(r.rc, 0, f"a tcp label\n{r!r}")
    check_eq(_inspect(h, cid)["Healthcheck"].get("Port"), PORT, "the label's port")
    h.rt_ok("delete", "--force", cid)


def test_bad_labels_fail_the_run_and_leave_nothing(h):
    cid = h.new_id("badlabel")
    for labels, words in (({"org.crun-lite.health.http": URL, "org.crun-lite.health.tcp": "3000"},
                           "org.crun-lite.health.http and org.crun-lite.health.tcp conflict"),
                          ({"org.crun-lite.health.http": "http://example.com/"},
                           "image label org.crun-lite.health.http: `http://example.com/`"),
                          ({"org.crun-lite.health.tcp": "http"},
                           "image label org.crun-lite.health.tcp: want a port number 1-65535, got `http`")):
        r = _run(h, _image(h, labels), "-d", cid)
        check(r.rc != 0, f"{labels} must fail\n{r!r}")
        check_in(words, r.err, f"the error for {labels}")
        _nothing_left(h, cid)


def test_bad_flags_are_refused_before_anything_starts(h):
    """Refused while parsing: the image is never read (it does not even exist here)."""
    cid = h.new_id("badflag")
    missing = os.path.join(h.tmp, "no-such-image.tar")
    for verb in ("run", "create"):
        for args, words in ((["--health-cmd", "true", "--health-http", URL],
                             "--health-cmd and --health-http conflict: one probe kind at a time"),
                            (["--health-http", URL, "--health-tcp", "80"], "--health-http and --health-tcp conflict"),
                            (["--health-tcp", "80", "--health-cmd", "true"], "--health-cmd and --health-tcp conflict"),
                            (["--health-http", "ftp://localhost/x"], "--health-http: `ftp://localhost/x`: the scheme must be http or https"),
                            (["--health-http", "http://example.com/"], "--health-http: `http://example.com/`: the host must be the container itself"),
                            (["--health-http", "http://localhost:99999/"], "--health-http: `http://localhost:99999/`: port: want a port number 1-65535"),
                            (["--health-http", "http://user:pw@localhost/"], "--health-http: `http://user:pw@localhost/`: a user name or password"),
                            (["--health-http", "localhost:3000"], "--health-http: `localhost:3000`: want http://HOST[:PORT]/PATH"),
                            (["--health-tcp", "0"], "--health-tcp: want a port number 1-65535, got `0`"),
                            (["--health-tcp", "65536"], "--health-tcp: want a port number 1-65535"),
                            (["--health-tcp", "web"], "--health-tcp: want a port number 1-65535, got `web`"),
                            (["--no-healthcheck", "--health-tcp", "80"], "--no-healthcheck (or --health-cmd none) conflicts"),
                            (["--health-cmd", "none", "--health-interval", "1s"], "--no-healthcheck (or --health-cmd none) conflicts")):
            r = _run(h, missing, *args, cid, verb=verb)
            check(r.rc != 0, f"{verb} {args} must fail\n{r!r}")
            check(r.err.startswith(f"crun-lite: {verb}: "), f"the error names the verb: {r.err!r}")
            check_in(words, r.err, f"the error for {verb} {args}")
            check("no-such-image" not in r.err, f"refused before the image is looked at: {r.err!r}")
            _nothing_left(h, cid)
    # The flags need --image.
    r = h.rt("run", "--health-tcp", "80", cid)
    check_in("--health-tcp needs --image", r.err, "a health flag without --image")


def _proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_http_probe_runs_confined_in_the_network_namespace(h):
    """While a probe waits on a server that never answers, its crun-lite-health is in the
    container's network namespace but the host's mount namespace, without privileges (root:
    nobody, no groups), with no_new_privs; at the timeout it is killed and the probe fails."""
    archive = _image(h)
    cid = h.new_id("confined")
    silent = ["/bin/busybox", "nc", "-l", "-p", "3002", "-e", "/bin/busybox", "sleep", "60"]  # accepts, never answers
    check_eq(_run(h, archive, "-d", "--health-http", "http://localhost:3002/", "--health-interval", "1h",
                  "--health-timeout", "3s", cid, *silent).rc, 0, "run -d")
    p = h.spawn(h.rt_argv("healthcheck", "run", cid))
    try:
        helper = []

        def found():
            helper[:] = [int(d) for d in os.listdir("/proc") if d.isdigit() and
                         harness.proc_cmdline(int(d))[:2] == ["crun-lite-health", "http://localhost:3002/"]]
            return bool(helper)
        check(harness.wait_until(found, 10, 0.05), "the http probe's helper runs")
        pid, init = helper[0], h.state(cid)["pid"]
        status = _proc_status(pid)
        uids, gids = status["Uid"].split(), status["Gid"].split()
        harness.log(f"    crun-lite-health: Uid {uids}, Gid {gids}, Groups {status['Groups'].split()}, "
                    f"NoNewPrivs {status['NoNewPrivs']}, CapEff {status['CapEff']}, CapBnd {status['CapBnd']}")
        if h.rootless:
            check(str(h.uid) not in uids and "0" not in uids, f"rootless: the container's nobody, not us: {uids}")
        else:
            check_eq((set(uids), set(gids), status["Groups"].strip()), ({"65534"}, {"65534"}, ""),
                     "root: nobody, no groups")
        check_eq((status["NoNewPrivs"], int(status["CapEff"], 16), int(status["CapPrm"], 16)), ("1", 0, 0),
                 "no_new_privs, no capabilities")
        ns = lambda p, kind: os.readlink(f"/proc/{p}/ns/{kind}")  # noqa: E731
        check_eq(ns(pid, "net"), ns(init, "net"), "in the container's network namespace")
        check_eq(ns(pid, "mnt"), ns("self", "mnt"), "in the host's mount namespace, not the container's")
        check(ns(init, "mnt") != ns("self", "mnt"), "the container has a mount namespace of its own")
        res = h.finish(p)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check_eq((res.rc, res.err.strip()), (1, "Health check exceeded timeout (3s)"), f"healthcheck run\n{res!r}")
    hs = _health(h, cid)
    check_eq((hs["Log"][-1]["ExitCode"], hs["Log"][-1]["Output"]), (-1, "Health check exceeded timeout (3s)"),
             "the timeout in the log")
    check(harness.wait_until(lambda: not harness.pid_alive(pid), 5), "no helper left after the timeout")
    h.rt_ok("delete", "--force", cid)


def test_probe_of_a_paused_container_fails(h):
    """As an exec probe does: exit code 125, the reason as output."""
    archive = _image(h)
    cid = h.new_id("paused")
    check_eq(_run(h, archive, "-d", "--health-tcp", str(PORT), "--health-interval", "1h", cid).rc, 0, "run -d")
    r = h.rt("pause", cid)
    if r.rc != 0:
        h.rt_ok("delete", "--force", cid)
        harness.skip(f"pause needs a freezer cgroup this mode lacks: {r.err.strip()}")
    r = h.rt("healthcheck", "run", cid)
    check_eq((r.rc, r.err.strip()), (1, "healthcheck: cannot probe a paused container"), f"healthcheck run\n{r!r}")
    check_eq(_health(h, cid)["Log"][-1]["ExitCode"], 125, "recorded as a probe that could not run")
    h.rt_ok("resume", cid)
    check_eq(h.rt("healthcheck", "run", cid).rc, 0, "resumed: probed again, and the server answers")
    h.rt_ok("delete", "--force", cid)


def test_a_pause_is_not_a_failure(h):
    """Paused, the monitor does not probe, and a probe that could not run changes nothing: with
    --health-on-failure restart and one retry, the pause stays and the status with it."""
    archive = _image(h)
    cid = h.new_id("pausedact")
    r = _run(h, archive, "-d", "--health-tcp", str(PORT), *FAST, "--health-on-failure", "restart", cid)
    check_eq(r.rc, 0, f"run -d\n{r!r}")
    _wait_health(h, cid, "healthy")
    r = h.rt("pause", cid)
    if r.rc != 0:
        h.rt_ok("delete", "--force", cid)
        harness.skip(f"pause needs a freezer cgroup this mode lacks: {r.err.strip()}")
    time.sleep(1.5)  # 7 intervals
    check_eq(h.rt("healthcheck", "run", cid).rc, 1, "a probe by hand fails on a paused container")
    info = _inspect(h, cid)
    check_eq((info["State"]["Status"], info["RestartCount"], info["State"]["Health"]["Status"],
              info["State"]["Health"]["FailingStreak"]), ("paused", 0, "healthy", 0),
             f"still paused and healthy, not restarted: {info['State']}")
    h.rt_ok("resume", cid)
    time.sleep(0.5)
    info = _inspect(h, cid)
    check_eq((info["RestartCount"], info["State"]["Health"]["Status"]), (0, "healthy"), "resumed: probed again")
    h.rt_ok("delete", "--force", cid)


def test_probe_of_a_stopped_container(h):
    archive = _image(h)
    cid = h.new_id("stopped")
    check_eq(_run(h, archive, "-d", "--health-tcp", str(PORT), "--health-interval", "1h", cid,
                  "/bin/busybox", "true").rc, 0, "run -d")
    check(harness.wait_until(lambda: h.state(cid)["status"] == "stopped", 10), "the container exits")
    r = h.rt("healthcheck", "run", cid)
    check_eq(r.rc, 125, f"healthcheck run of a stopped container is an error\n{r!r}")
    check_in("not running", r.err, "it says why")
    h.rt_ok("delete", "--force", cid)


if __name__ == "__main__":
    harness.main(globals())
