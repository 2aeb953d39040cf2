#!/usr/bin/env python3
"""A docker-archive for the benchmarks: a static busybox with the given applets, /www/index.html
and a root passwd entry, one layer.

Usage: web-image.py OUT.tar BUSYBOX TAG APPLETS(comma-separated) CMD [ARGS...]"""
import hashlib
import io
import json
import os
import sys
import tarfile

out, busybox, tag, applets, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5:]


def add_file(t, name, data):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = len(data), 0o644
    t.addfile(ti, io.BytesIO(data))


layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w") as t:
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp", "www"):
        ti = tarfile.TarInfo(d)
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        t.addfile(ti)
    t.add(busybox, "bin/busybox")
    for a in applets:
        ti = tarfile.TarInfo("bin/" + a)
        ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
        t.addfile(ti)
    add_file(t, "www/index.html", b"hello\n")
    add_file(t, "etc/passwd", b"root:x:0:0:root:/:/bin/sh\n")
raw = layer.getvalue()
config = json.dumps({"architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, "amd64"),
                     "os": "linux", "config": {"Env": ["PATH=/bin"], "Cmd": cmd},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}).encode()
cfg_name = hashlib.sha256(config).hexdigest() + ".json"
with tarfile.open(out, "w") as t:
    add_file(t, cfg_name, config)
    add_file(t, "l0/layer.tar", raw)
    add_file(t, "manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": ["l0/layer.tar"]}]).encode())
