#!/usr/bin/env bash
# Registry pull benchmark: the same ~100 MB image (5 gzip layers of real files
# from this machine's /usr, made here) pushed to Debian's docker-registry on
# 127.0.0.1, then pulled cold (empty store each run) by `crun-lite image pull`,
# `podman pull` and `skopeo copy ... oci:` + `crun-lite image load`, in one run.
# Prints mean times, the ratios to podman, and each tool's peak RSS (GNU time's
# maximum resident set of the largest process: crun-lite's is the larger of
# crun-lite and a crun-lite-pull helper).  Plain HTTP on loopback for all three
# (--tls-verify=false): TLS costs each the same.
#
# Usage (as root): contrib/bench/pull-bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$here/build}")
runs=${2:-5}
[ "$(id -u)" = 0 ] || { echo "pull-bench.sh: run as root (it installs packages)" >&2; exit 1; }
BUILD=$build "$here/contrib/setup-deps.sh" --bench --registry --podman
crunlite=$build/src/cli/crun-lite
export CRUNLITE_PULL=$build/src/pull/crun-lite-pull
work=$(mktemp -d /tmp/crun-lite-pull-bench.XXXXXX)
registry_pid=
cleanup() {
    [ -z "$registry_pid" ] || kill "$registry_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== making the image (5 layers of /usr files)"
python3 - "$work" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
work = sys.argv[1]
layout = os.path.join(work, "oci")
os.makedirs(os.path.join(layout, "blobs", "sha256"))
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(layout, "blobs", "sha256", d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
def files():
    for root in ("/usr/lib", "/usr/share", "/usr/bin", "/usr/libexec"):
        for dirpath, dirs, names in os.walk(root):
            dirs.sort()
            for n in sorted(names):
                p = os.path.join(dirpath, n)
                if os.path.isfile(p) and not os.path.islink(p) and os.access(p, os.R_OK):
                    yield p
source = files()
layers, diff_ids, total = [], [], 0
for i in range(5):  # ~100 MB compressed in all
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        packed = 0
        for p in source:
            try:
                t.add(p, arcname=f"l{i}" + p, recursive=False)
            except OSError:
                continue
            packed += os.path.getsize(p)
            if packed > 55 << 20:
                break
    raw = raw.getvalue()
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    total += len(gz)
    layers.append(dict(blob(gz), mediaType="application/vnd.oci.image.layer.v1.tar+gzip"))
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/true"]},
       "rootfs": {"type": "layers", "diff_ids": diff_ids}}
c = dict(blob(json.dumps(cfg).encode()), mediaType="application/vnd.oci.image.config.v1+json")
m = dict(blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": c, "layers": layers}).encode()),
         mediaType="application/vnd.oci.image.manifest.v1+json",
         annotations={"org.opencontainers.image.ref.name": "bench"})
json.dump({"schemaVersion": 2, "manifests": [m]}, open(os.path.join(layout, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(layout, "oci-layout"), "w"))
print(f"image: {len(layers)} layers, {total / 1e6:.1f} MB compressed")
PY

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
ref=127.0.0.1:$port/bench:1
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/oci:bench" "docker://$ref"

cl_pull="$crunlite image pull --store $work/cl --tls-verify=false -q docker://$ref"
podman_pull="podman --root $work/pr --runroot $work/prr --storage-driver overlay pull -q --tls-verify=false $ref"
sk_load="sh -c 'skopeo --insecure-policy copy -q --src-tls-verify=false docker://$ref oci:$work/sk:bench && $crunlite image load --store $work/sl -q oci:$work/sk:bench'"
echo "== pulling, $runs runs each, cold"
hyperfine -N --runs "$runs" --export-json "$work/r.json" \
  --prepare "rm -rf $work/cl" --prepare "rm -rf $work/pr $work/prr" --prepare "rm -rf $work/sk $work/sl" \
  -n crun-lite "$cl_pull" -n podman "$podman_pull" -n skopeo+load "$sk_load"

rss() {  # peak RSS (kB) of the largest process of one cold run
    rm -rf "$work/cl" "$work/pr" "$work/prr" "$work/sk" "$work/sl"
    /usr/bin/time -f %M -o "$work/rss" sh -c "$1" >/dev/null
    cat "$work/rss"
}
rss_cl=$(rss "$cl_pull") rss_podman=$(rss "$podman_pull")
rss_sk=$(rss "skopeo --insecure-policy copy -q --src-tls-verify=false docker://$ref oci:$work/sk:bench")
rss_load=$(/usr/bin/time -f %M "$crunlite" image load --store "$work/sl" -q "oci:$work/sk:bench" 2>&1 >/dev/null | tail -n1)

python3 - "$work/r.json" "$rss_cl" "$rss_podman" "$rss_sk" "$rss_load" <<'PY'
import json, sys
r = {b["command"]: b["mean"] * 1000 for b in json.load(open(sys.argv[1]))["results"]}
rss_cl, rss_podman, rss_sk, rss_load = (int(x) / 1024 for x in sys.argv[2:6])
print()
for k, v in r.items():
    print(f"{k:12s} {v:9.1f} ms")
print()
print(f"crun-lite / podman:       {r['crun-lite'] / r['podman']:.2f}")
print(f"crun-lite / skopeo+load:  {r['crun-lite'] / r['skopeo+load']:.2f}")
print(f"peak RSS: crun-lite {rss_cl:.1f} MB, podman {rss_podman:.1f} MB, "
      f"skopeo {rss_sk:.1f} MB + load {rss_load:.1f} MB")
PY
