#!/usr/bin/env python3
"""The demo flow as a test: the image contrib/demo/Dockerfile builds (an express app,
runtime stage as user nextjs with a HEALTHCHECK) run with `run -d --image ... -p
--wait-healthy`, asked over HTTP, inspected, stopped gracefully and deleted.

The archive comes from $CRUNLITE_DEMO_ARCHIVE (contrib/test.sh builds it once with
contrib/demo/build-image.sh); as root without it, the test builds it itself."""

import os
import socket
import subprocess
import urllib.request

import harness
from harness import check, check_eq, check_in


def _archive(h):
    path = os.environ.get("CRUNLITE_DEMO_ARCHIVE")
    if path and os.access(path, os.R_OK):
        return path
    if os.geteuid() != 0:
        harness.skip("no demo archive ($CRUNLITE_DEMO_ARCHIVE) and building one needs root")
    for tool in ("buildah", "node", "npm"):
        if not harness._which(tool):
            harness.skip(f"{tool} is not installed: the demo image cannot be built")
    path = os.path.join(h.tmp, "demo-app.tar")
    r = h.cmd([os.path.join(harness.REPO_ROOT, "contrib", "demo", "build-image.sh"), path, h.bin], timeout=600)
    check_eq(r.rc, 0, f"build-image.sh\n{r!r}")
    return path


def test_demo_app_healthy_published_and_stopped(h):
    if not harness._which("slirp4netns"):
        harness.skip("slirp4netns is not installed")
    if os.geteuid() != 0 and not os.access("/dev/net/tun", os.R_OK | os.W_OK):
        harness.skip("/dev/net/tun is not usable by unprivileged users (mode 0666 needed for slirp4netns)")
    archive = _archive(h)
    store = h.mkdtemp("store")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cid = h.new_id("demo")
    r = h.rt("run", "-d", "--image", "docker-archive:" + archive, "--store", store,
             "--network", "slirp4netns", "-p", f"127.0.0.1:{port}:3000", "--wait-healthy=90s", cid, timeout=120)
    check_eq(r.rc, 0, f"run -d --wait-healthy\n{r!r}")
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
    check_eq(body, "Hello from crun-lite\n", "the app answers on the published port")
    info = h.rt_ok("inspect", cid).json()
    check_eq(info["State"]["Health"]["Status"], "healthy", "healthy")
    check_eq(info["Config"]["process"]["user"]["uid"], 1001, "runs as the image's USER nextjs")
    check_eq(info["Config"]["process"]["args"], ["/run/crun-lite-init", "--", "node", "index.js"], "CMD under the init")
    check_in("org.opencontainers.image.exposedPorts", info["Config"]["annotations"], "EXPOSE as an annotation")
    check_eq(h.rt_ok("exec", cid, "id").out.strip(), "uid=1001(nextjs) gid=1001(nodejs) groups=1001(nodejs)",
             "exec as nextjs, its primary group among its groups (as podman shows)")
    h.rt_ok("stop", cid, timeout=30)
    final = h.rt_ok("inspect", cid).json()["State"]
    check_eq(final.get("ExitCode"), 0, "the app's SIGTERM handler ran: a graceful exit")
    check_in("SIGTERM received", h.rt_ok("logs", cid).out, "its output is in the log")
    h.rt_ok("delete", cid)
    check_eq(os.listdir(os.path.join(store, "containers")), [], "the container's files are gone")
    h.rt_ok("image", "rm", "--store", store, "crun-lite-demo/app", root=False)


if __name__ == "__main__":
    harness.main(globals())
