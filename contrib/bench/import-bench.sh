#!/usr/bin/env bash
# Image import benchmark: a ~100 MB single-layer gzip image (an OCI archive made
# here), imported by crun-lite into a fresh store, against `tar -xzf` of the same
# layer and `umoci unpack --rootless` of the same OCI layout, in the same run.
# Also times a second import of an image already in the store (a no-op).
#
# Usage (as root): contrib/bench/import-bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$here/build}")
runs=${2:-10}
[ "$(id -u)" = 0 ] || { echo "import-bench.sh: run as root (it installs packages)" >&2; exit 1; }
BUILD=$build "$here/contrib/setup-deps.sh" --bench
crunlite=$build/src/cli/crun-lite
work=$(mktemp -d /tmp/crun-lite-import.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
work = sys.argv[1]
layout = os.path.join(work, "oci")
os.makedirs(os.path.join(layout, "blobs", "sha256"))
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w") as t:
    for i in range(50):  # 50 × 2 MiB of incompressible data
        data = os.urandom(2 << 20)
        ti = tarfile.TarInfo(f"data/f{i:02d}")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
raw = raw.getvalue()
layer = gzip.compress(raw, compresslevel=1)
open(os.path.join(work, "layer.tar.gz"), "wb").write(layer)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(layout, "blobs", "sha256", d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
l = dict(blob(layer), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")
cfg = {"architecture": "amd64", "os": "linux", "config": {},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}
c = dict(blob(json.dumps(cfg).encode()), mediaType="application/vnd.oci.image.config.v1+json")
m = dict(blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": c, "layers": [l]}).encode()),
         mediaType="application/vnd.oci.image.manifest.v1+json",
         annotations={"org.opencontainers.image.ref.name": "bench"})
json.dump({"schemaVersion": 2, "manifests": [m]}, open(os.path.join(layout, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(layout, "oci-layout"), "w"))
with tarfile.open(os.path.join(work, "image.tar"), "w") as t:
    t.add(layout, arcname=".")
PY

"$crunlite" image load --store "$work/warm" -q "$work/image.tar" >/dev/null  # for the no-op case
hyperfine -N --runs "$runs" --export-json "$work/r.json" \
  --prepare "rm -rf $work/store" --prepare "rm -rf $work/x" --prepare "rm -rf $work/bundle" --prepare "true" \
  -n crun-lite "$crunlite image load --store $work/store -q oci:$work/oci:bench" \
  -n tar "sh -c 'mkdir -p $work/x && tar -xzf $work/layer.tar.gz -C $work/x'" \
  -n umoci "umoci unpack --rootless --image $work/oci:bench $work/bundle" \
  -n crun-lite-again "$crunlite image load --store $work/warm -q oci:$work/oci:bench"

python3 - "$work/r.json" <<'PY'
import json, sys
r = {b["command"]: b["mean"] * 1000 for b in json.load(open(sys.argv[1]))["results"]}
print()
for k, v in r.items():
    print(f"{k:16s} {v:9.1f} ms")
print()
print(f"crun-lite / tar -x:  {r['crun-lite'] / r['tar']:.2f}")
print(f"crun-lite / umoci:   {r['crun-lite'] / r['umoci']:.2f}")
print(f"second import:       {r['crun-lite-again']:.1f} ms (nothing unpacked)")
PY
