#!/usr/bin/env bash
# Image-run benchmark: N sequential "run an image's container to completion" of
# /bin/true in a busybox image, as root, measured in the same run with hyperfine:
#   crun-lite run --rm --image IMG --network none ID true
#   podman run --rm --network none IMG true        (runtime runc, then crun-lite)
#   crun-lite run --bundle B ID                    (the image's rootfs unpacked into a
#                                                   bundle, `crun-lite spec`'s config)
# podman is the tool people use for this; it gets vfs storage (no overlay mounts in
# the host's namespace; the image is 1 MB, so the copy costs little) and the
# ulimits this host allows.  crun-lite gets the same image imported into its store.
# Prints ms per container and crun-lite's ratio to each; and the image run's cost
# over the bundle run of the same rootfs (what images add: the store, the spec
# made from the image, the overlay).  Then both crun-lite runs again with the
# binary on a read-only mount, as installed on a read-only /usr (no re-exec).
#
# Usage (as root): contrib/bench/image-run-bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$here/build}")
runs=${2:-30}
[ "$(id -u)" = 0 ] || { echo "image-run-bench.sh: run as root" >&2; exit 1; }
BUILD=$build "$here/contrib/setup-deps.sh" --bench --podman
crunlite=$build/src/cli/crun-lite
work=$(mktemp -d /tmp/crun-lite-ibench.XXXXXX)
runroot=$(mktemp -d /tmp/crlb-XXXXXX)  # podman wants a short runroot path
trap 'rm -rf "$work" "$runroot"' EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/"{proc,sys,dev,tmp,etc}
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in sh true; do ln -s busybox "$work/rootfs/bin/$a"; done
echo "root:x:0:0:root:/:/bin/sh" >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .

podman=(podman --root "$work/podman" --runroot "$runroot" --storage-driver vfs --tmpdir "$work/ptmp"
        --cgroup-manager cgroupfs --events-backend file)
"${podman[@]}" import -q "$work/rootfs.tar" localhost/bench-bb:latest >/dev/null
"${podman[@]}" save -q --format docker-archive -o "$work/bb.tar" localhost/bench-bb:latest
"$crunlite" image load -q --store "$work/store" --name bench-bb "docker-archive:$work/bb.tar" >/dev/null

# The same rootfs as a bundle: spec's default config, running true.
mkdir -p "$work/bundle/rootfs"
tar -C "$work/bundle/rootfs" -xf "$work/rootfs.tar"
(cd "$work/bundle" && "$crunlite" spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"].update(terminal=False, args=["true"])
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY

# The same two crun-lite runs with the binary on a read-only mount, as installed
# on a read-only /usr (or bound read-only onto itself): root's runs then need no
# re-exec through a protected view (docs/design.md, self-protection).  In a
# private mount namespace: nothing is mounted on the host.  First, before podman's
# runs churn the file system (each copies the rootfs: vfs).
cp "$crunlite" "$work/crun-lite.ro"
unshare -m bash -c "mount --make-rprivate / && mount --bind -o ro '$work/crun-lite.ro' '$work/crun-lite.ro' &&
  hyperfine --style basic --runs $runs --warmup 3 --export-json '$work/result-ro.json' \
  -n crun-lite-ro '$work/crun-lite.ro --root $work/state run --rm --image bench-bb --store $work/store --network none b true' \
  -n crun-lite-ro-bundle '$work/crun-lite.ro --root $work/state run --bundle $work/bundle b'"

ulimits="--ulimit nofile=1024:1024 --ulimit nproc=1000:1000"
hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$work/result.json" \
  -n crun-lite "$crunlite --root $work/state run --rm --image bench-bb --store $work/store --network none b true" \
  -n crun-lite-bundle "$crunlite --root $work/state run --bundle $work/bundle b" \
  -n podman-runc "${podman[*]} --runtime runc run --rm --network none $ulimits localhost/bench-bb true" \
  -n podman-crun-lite "${podman[*]} --runtime $crunlite run --rm --network none $ulimits localhost/bench-bb true"

python3 - "$work/result.json" "$work/result-ro.json" <<'PY'
import json, sys
res = {r["command"]: r for f in sys.argv[1:] for r in json.load(open(f))["results"]}
ms = {n: r["mean"] * 1000 for n, r in res.items()}
sd = {n: r["stddev"] * 1000 for n, r in res.items()}
print()
for n in ms:
    ratio = "" if n.startswith("crun-lite-ro") or n == "crun-lite" else f"  crun-lite/{n} = {ms['crun-lite'] / ms[n]:.2f}"
    print(f"{n:18s} {ms[n]:7.1f} ms ± {sd[n]:.1f}{ratio}")
print(f"\nthe image run over the bundle run of the same rootfs: {ms['crun-lite'] / ms['crun-lite-bundle']:.2f}")
print(f"installed read-only: image run {ms['crun-lite-ro']:.1f} ms, crun-lite-ro/podman-runc = "
      f"{ms['crun-lite-ro'] / ms['podman-runc']:.2f}, over its bundle run: {ms['crun-lite-ro'] / ms['crun-lite-ro-bundle']:.2f}")
PY
