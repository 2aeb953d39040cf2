#!/usr/bin/env bash
# Image import benchmark, two images made here, each timed in one hyperfine run:
#
# 1. single: a ~100 MB single-layer gzip image (an OCI layout), imported by
#    crun-lite into a fresh store, against `tar -xzf` of the same layer and
#    `umoci unpack --rootless` of the same OCI layout.  Also times a second
#    import of an image already in the store (a no-op).
# 2. multi: a 5-layer gzip image of ~340 MB unpacked (random data and many
#    small files copied from /usr), `crun-lite image load` of its oci-archive
#    and of its OCI layout into a fresh store, against `tar -xzf` of the 5
#    layers one after another into one directory.
#
# What a run wrote is moved aside, not removed, before the next run: on an ext4
# without a journal (this VM's) the inodes deleted in the last minute are
# skipped one by one at each file creation, and `rm -rf` of the last run's
# 13,000 files made every command 3 times slower.  All is removed at the end.
#
# Then the 5-layer loads (archive and layout) and tar again, alternating: the
# ratios to quote (see below).  BASELINE=/path/to/another/crun-lite (say, the
# build of an earlier commit) adds that binary's loads to both.
#
# Usage (as root): contrib/bench/import-bench.sh [BUILD_DIR] [RUNS] [single|multi|both]
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$here/build}")
runs=${2:-10}
which=${3:-both}
case $which in single | multi | both) ;; *) echo "import-bench.sh: single, multi or both, not $which" >&2; exit 1 ;; esac
[ "$(id -u)" = 0 ] || { echo "import-bench.sh: run as root (it installs packages)" >&2; exit 1; }
if [ -n "${BASELINE:-}" ]; then
    [ -x "$BASELINE" ] || { echo "import-bench.sh: BASELINE $BASELINE is not an executable" >&2; exit 1; }
fi
BUILD=$build "$here/contrib/setup-deps.sh" --bench
crunlite=$build/src/cli/crun-lite
work=$(mktemp -d /tmp/crun-lite-import.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/old"

# The OCI layout (and archive) of gzip layers; layers: [(tar bytes, gzip level)].
cat > "$work/layout.py" <<'PY'
import gzip, hashlib, json, os, tarfile
def write(layout, ref, layers, archive=None):
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    def blob(data):
        d = hashlib.sha256(data).hexdigest()
        open(os.path.join(layout, "blobs", "sha256", d), "wb").write(data)
        return {"digest": "sha256:" + d, "size": len(data)}
    descs, diff_ids, gzips = [], [], []
    for raw, level in layers:
        gz = gzip.compress(raw, compresslevel=level, mtime=0)
        gzips.append(gz)
        descs.append(dict(blob(gz), mediaType="application/vnd.oci.image.layer.v1.tar+gzip"))
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    cfg = {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    c = dict(blob(json.dumps(cfg).encode()), mediaType="application/vnd.oci.image.config.v1+json")
    m = dict(blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                              "config": c, "layers": descs}).encode()),
             mediaType="application/vnd.oci.image.manifest.v1+json",
             annotations={"org.opencontainers.image.ref.name": ref})
    json.dump({"schemaVersion": 2, "manifests": [m]}, open(os.path.join(layout, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(layout, "oci-layout"), "w"))
    if archive:
        with tarfile.open(archive, "w") as t:
            t.add(layout, arcname=".")
    return gzips
PY

# hyperfine's results (JSON) in ms, then "a / b" for each pair given.
report() {
    python3 - "$@" <<'PY'
import json, sys
r = {b["command"]: b["mean"] * 1000 for b in json.load(open(sys.argv[1]))["results"]}
print()
for k, v in r.items():
    print(f"{k:20s} {v:9.1f} ms")
print()
for pair in sys.argv[2:]:
    a, b = pair.split("/")
    if a in r and b in r:
        print(f"{a + ' / ' + b + ':':34s} {r[a] / r[b]:.2f}")
PY
}

# Moves what `dirs` hold into $work/old (see above).
aside() { echo "sh -c 'for d in $*; do [ ! -e \$d ] || mv \$d $work/old/\$(basename \$d).\$\$; done'"; }

# 1. One layer of 50 x 2 MiB random data, in an OCI layout.
single() {
    python3 - "$work" <<'PY'
import io, os, sys, tarfile
sys.path.insert(0, sys.argv[1])
import layout
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w") as t:
    for i in range(50):  # 50 × 2 MiB of incompressible data
        data = os.urandom(2 << 20)
        ti = tarfile.TarInfo(f"data/f{i:02d}")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
gz, = layout.write(os.path.join(sys.argv[1], "oci"), "bench", [(raw.getvalue(), 1)])
open(os.path.join(sys.argv[1], "layer.tar.gz"), "wb").write(gz)
PY
    "$crunlite" image load --store "$work/warm" -q "oci:$work/oci:bench" >/dev/null  # for the no-op case
    hyperfine -N --runs "$runs" --export-json "$work/r.json" \
      --prepare "$(aside "$work/store")" --prepare "$(aside "$work/x")" --prepare "$(aside "$work/bundle")" --prepare "true" \
      -n crun-lite "$crunlite image load --store $work/store -q oci:$work/oci:bench" \
      -n tar "sh -c 'mkdir -p $work/x && tar -xzf $work/layer.tar.gz -C $work/x'" \
      -n umoci "umoci unpack --rootless --image $work/oci:bench $work/bundle" \
      -n crun-lite-again "$crunlite image load --store $work/warm -q oci:$work/oci:bench"
    report "$work/r.json" crun-lite/tar crun-lite/umoci
    python3 -c "import json, sys; print(f'second import: {json.load(open(sys.argv[1]))[\"results\"][3][\"mean\"] * 1000:.1f} ms (nothing unpacked)')" "$work/r.json"
}

# 2. Five gzip layers (level 6, as docker and buildah write them), each 24 MiB
# of random data and ~36 MiB of files copied from a /usr tree (the first files
# in sorted order up to that budget: many small compressible files).
multi() {
    python3 - "$work" <<'PY'
import io, os, random, sys, tarfile
sys.path.insert(0, sys.argv[1])
import layout
work = sys.argv[1]
trees = ["/usr/include", "/usr/share/doc", "/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/share"]
rng = random.Random(5)
def files_of(tree, budget):
    out, total = [], 0
    for d, dirs, names in os.walk(tree):
        dirs.sort()
        for n in sorted(names):
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            size = os.path.getsize(p)
            if size > 4 << 20 or total + size > budget:
                continue
            out.append(p)
            total += size
            if total > budget - 4096:
                return out
    return out
layers, files = [], 0
for k, tree in enumerate(trees):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for p in files_of(tree, 36 << 20):
            t.add(p, arcname=f"l{k}" + p, recursive=False)
            files += 1
        for i in range(12):
            data = rng.randbytes(2 << 20)
            ti = tarfile.TarInfo(f"l{k}/random/f{i:02d}")
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
            files += 1
    layers.append((raw.getvalue(), 6))
gzips = layout.write(os.path.join(work, "oci5"), "bench5", layers, os.path.join(work, "image5.tar"))
for k, gz in enumerate(gzips):
    open(os.path.join(work, f"layer{k}.tar.gz"), "wb").write(gz)
print(f"5 layers, {files} files, MB unpacked/gzip:", " ".join(f"{len(r) / 1e6:.0f}/{len(g) / 1e6:.0f}" for (r, _), g in zip(layers, gzips)),
      f"(total {sum(len(r) for r, _ in layers) / 1e6:.0f}/{sum(len(g) for g in gzips) / 1e6:.0f})")
PY
    tars="mkdir -p $work/x5"
    for k in 0 1 2 3 4; do tars="$tars && tar -xzf $work/layer$k.tar.gz -C $work/x5"; done
    baseline=()
    [ -z "${BASELINE:-}" ] || baseline=(-n baseline "$BASELINE image load --store $work/store5 -q $work/image5.tar"
                                        -n baseline-layout "$BASELINE image load --store $work/store5 -q oci:$work/oci5:bench5")
    hyperfine -N --runs "$runs" --export-json "$work/r5.json" --prepare "$(aside "$work/store5" "$work/x5")" \
      -n crun-lite "$crunlite image load --store $work/store5 -q $work/image5.tar" \
      -n crun-lite-layout "$crunlite image load --store $work/store5 -q oci:$work/oci5:bench5" \
      -n tar "sh -c '$tars'" \
      "${baseline[@]}"
    report "$work/r5.json" crun-lite/tar crun-lite-layout/tar crun-lite/baseline crun-lite-layout/baseline-layout
    # hyperfine runs each command's runs in a block, and the file system's state
    # changes from one block to the next (the first block finds the fewest
    # recently freed inodes, and writeback of earlier blocks' data lands on the
    # later ones): the loads again, alternating crun-lite's (and the baseline's)
    # with tar, RUNS rounds, the order reversed every other round, medians
    # compared.  These are the ratios to quote.
    python3 - "$work" "$runs" "$crunlite" "${BASELINE:-}" "$tars" <<'PY'
import os, statistics, subprocess, sys, time
work, runs, new, old, tars = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def load(binary, source):
    return [binary, "image", "load", "--store", f"{work}/store5", "-q", source]
cmds = {"crun-lite": load(new, f"{work}/image5.tar"), "crun-lite-layout": load(new, f"oci:{work}/oci5:bench5")}
if old:
    cmds["baseline"] = load(old, f"{work}/image5.tar")
cmds["tar"] = ["sh", "-c", tars]
times = {k: [] for k in cmds}
for i in range(runs):
    for k in list(cmds) if i % 2 == 0 else reversed(list(cmds)):
        for d in ("store5", "x5"):
            if os.path.exists(f"{work}/{d}"):
                os.rename(f"{work}/{d}", f"{work}/old/{d}.{k}.{i}")
        t = time.monotonic()
        subprocess.run(cmds[k], check=True, stdout=subprocess.DEVNULL)
        times[k].append(time.monotonic() - t)
m = {k: statistics.median(v) for k, v in times.items()}
print(f"\nalternating, {runs} rounds, medians: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in m.items()))
ratios = [f"{k} / tar: {m[k] / m['tar']:.2f}" for k in cmds if k != "tar"]
if old:
    ratios.append(f"crun-lite / baseline: {m['crun-lite'] / m['baseline']:.2f}")
print(", ".join(ratios))
PY
}

[ "$which" = multi ] || single
[ "$which" = single ] || multi
