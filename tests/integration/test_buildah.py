#!/usr/bin/env python3
"""buildah builds a multi-stage Containerfile whose RUN steps run through crun-lite
(`buildah bud --isolation oci --runtime crun-lite`), root and rootless; the result,
pushed as a docker-archive, loads into crun-lite's own image store."""

import json
import os
import shutil
import tempfile

import harness
from harness import check, check_eq, check_in, skip

CONTAINERFILE = """\
FROM localhost/crlt-base:latest AS build
RUN mkdir -p /out && echo built-by-crun-lite > /out/msg && id -u > /out/uid
FROM localhost/crlt-base:latest
COPY --from=build /out/msg /msg
RUN cat /msg && test -f /msg
CMD ["cat", "/msg"]
"""


def test_buildah_multistage_build(h):
    buildah = shutil.which("buildah")
    if not buildah:
        skip("buildah is not installed (contrib/setup-deps.sh --buildah installs it)")
    base = h.mkdtemp("buildah")
    runroot = tempfile.mkdtemp(prefix="crlb-", dir="/tmp")  # buildah wants a short runroot
    h.cleanup_paths.append(runroot)
    b = [buildah, "--storage-driver", "vfs", "--root", f"{base}/storage", "--runroot", runroot]
    archive = os.path.join(base, "base.tar")
    harness.make_oci_archive(h, archive, "latest")
    r = h.cmd(b + ["pull", "-q", f"oci-archive:{archive}"])
    check_eq(r.rc, 0, f"buildah pull\n{r!r}")
    check_eq(h.cmd(b + ["tag", r.out.strip(), "localhost/crlt-base:latest"]).rc, 0, "tag")
    ctx = h.mkdtemp("ctx")
    with open(os.path.join(ctx, "Containerfile"), "w") as f:
        f.write(CONTAINERFILE)
    r = h.cmd(b + ["bud", "--isolation", "oci", "--runtime", h.bin, "--format", "docker",
                   "--network", "none", "-t", "localhost/crlt-multi:1", ctx], timeout=300)
    check_eq(r.rc, 0, f"buildah bud through crun-lite\n{r!r}")
    check_in("built-by-crun-lite", r.out, "the second stage's RUN ran and saw the first stage's file")
    out = os.path.join(base, "multi.tar")
    r = h.cmd(b + ["push", "-q", "localhost/crlt-multi:1", f"docker-archive:{out}:localhost/crlt-multi:1"])
    check_eq(r.rc, 0, f"buildah push\n{r!r}")
    store = h.mkdtemp("store")
    r = h.rt("image", "load", "--store", store, "--format", "json", out, root=False)
    check_eq(r.rc, 0, f"crun-lite image load of buildah's archive\n{r!r}")
    check_eq(r.json()["names"], ["localhost/crlt-multi:1"], "the tag buildah gave it")
    conf = json.loads(h.rt("image", "inspect", "--store", store, "localhost/crlt-multi:1", root=False).out)
    check_eq(conf["config"]["Cmd"], ["cat", "/msg"], "CMD of the runtime stage")
    # ...and runs: build, archive, run, all through crun-lite.
    r = h.rt("run", "--rm", "--image", "localhost/crlt-multi:1", "--store", store, "--network", "none",
             h.new_id("built"))
    check_eq((r.rc, r.out.strip()), (0, "built-by-crun-lite"), f"run --image of the built image\n{r!r}")
    # --network host: the RUN step sees the host's interfaces.
    with open(os.path.join(ctx, "Containerfile"), "w") as f:
        f.write("FROM localhost/crlt-base:latest\nRUN echo ifaces: $(ls /sys/class/net)\n")
    r = h.cmd(b + ["bud", "--isolation", "oci", "--runtime", h.bin, "--network", "host",
                   "-t", "localhost/crlt-net:1", ctx], timeout=300)
    check_eq(r.rc, 0, f"buildah bud --network host through crun-lite\n{r!r}")
    line = next((l for l in r.out.splitlines() if l.startswith("ifaces:")), "")
    check_eq(sorted(line.split()[1:]), sorted(os.listdir("/sys/class/net")), "the host's network interfaces")


if __name__ == "__main__":
    harness.main(globals())
