#!/usr/bin/env bash
# Start-up benchmark: N sequential `run` of /bin/true in a busybox bundle,
# rootless, for crun-lite, runc and crun, measured in the same run with hyperfine.
# Prints ms per container and crun-lite's ratio to each.
#
# crun refuses hybrid cgroup hosts (cgroup2 only at /sys/fs/cgroup/unified), so
# every runtime runs inside one private mount namespace in which the cgroup2
# hierarchy is bind-mounted at /sys/fs/cgroup, with cgroups disabled — the same
# conditions for all three.  Nothing is mounted in the host's namespace.
#
# Usage (as root): contrib/bench/run-bench.sh [BUILD_DIR] [RUNS]
#
# BASELINE=/path/to/another/crun-lite (say, the build of an earlier commit)
# adds a before/after comparison: the two binaries run alternately, RUNS times
# each, on the same bundle, and the medians are compared.  Alternating cancels
# the drift of a shared machine, which in hyperfine's one-after-the-other
# order is as large as the difference a change makes (±10% here).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$here/build}")
runs=${2:-100}
bench_user=${BENCH_USER:-crlbench}

[ "$(id -u)" = 0 ] || { echo "run-bench.sh: run as root (it creates the user $bench_user)" >&2; exit 1; }
BUILD=$build "$here/contrib/setup-deps.sh" --bench
for tool in hyperfine runc crun busybox unshare runuser; do
    command -v "$tool" >/dev/null || { echo "run-bench.sh: $tool not found (contrib/setup-deps.sh --bench installs it)" >&2; exit 1; }
done
crunlite=$build/src/cli/crun-lite
[ -x "$crunlite" ] || { echo "run-bench.sh: $crunlite not built" >&2; exit 1; }
if [ -n "${BASELINE:-}" ]; then
    [ -x "$BASELINE" ] || { echo "run-bench.sh: BASELINE $BASELINE is not an executable" >&2; exit 1; }
fi

id "$bench_user" >/dev/null 2>&1 || useradd -m -s /bin/sh "$bench_user"
uid=$(id -u "$bench_user")
gid=$(id -g "$bench_user")
work=$(mktemp -d /tmp/crun-lite-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# A busybox bundle the bench user owns, with runc's rootless spec shape.
mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/proc" "$work/bundle/rootfs/dev" "$work/bundle/rootfs/sys" "$work/bundle/rootfs/tmp"
cp "$(command -v busybox)" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
ln -s busybox "$work/bundle/rootfs/bin/sh"
cat > "$work/bundle/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"user": {"uid": 0, "gid": 0}, "args": ["/bin/true"], "env": ["PATH=/bin"], "cwd": "/",
              "noNewPrivileges": true},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": $uid, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": $gid, "size": 1}],
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]
  }
}
JSON
# The bench user may not reach the builds: it runs copies.
[ -z "${BASELINE:-}" ] || cp "$crunlite" "$work/crun-lite.new"
[ -z "${BASELINE:-}" ] || cp "$BASELINE" "$work/crun-lite.baseline"
cat > "$work/alternate.py" <<'PY'
import statistics, subprocess, sys, time
work, runs = sys.argv[1], int(sys.argv[2])
times = {"new": [], "baseline": []}
for i in range(runs):
    for name in ("new", "baseline") if i % 2 == 0 else ("baseline", "new"):
        cmd = [f"{work}/crun-lite.{name}", "--root", f"{work}/state-{name}", "--cgroup-manager", "disabled",
               "run", f"bench-{name}"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        times[name].append(time.perf_counter() - start)
med = {name: 1000 * statistics.median(t) for name, t in times.items()}
print()
print(f"alternating, {runs} runs each (medians, including Python's fork+exec):")
print(f"  crun-lite {med['new']:.2f} ms, baseline {med['baseline']:.2f} ms, crun-lite / baseline: "
      f"{med['new'] / med['baseline']:.3f}")
PY
chown -R "$bench_user:" "$work"
chmod 755 "$work"

cat > "$work/inner.sh" <<INNER
set -eu
# Private mount namespace: show the cgroup2 hierarchy at /sys/fs/cgroup, as on a pure v2 host.
mount --make-rprivate /
mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup
mkdir -p $work/xdg && chown $bench_user: $work/xdg
cd $work/bundle
# hyperfine itself runs as the bench user, so each timed command is just the runtime.
runuser -u $bench_user -- env XDG_RUNTIME_DIR=$work/xdg \
  hyperfine --style basic --runs $runs --warmup 5 --export-json $work/result.json \
  -n crun-lite "$crunlite --root $work/state-crl --cgroup-manager disabled run bench-crl" \
  -n runc "runc --root $work/state-runc run bench-runc" \
  -n crun "crun --root $work/state-crun --cgroup-manager=disabled run bench-crun"
[ -z "${BASELINE:-}" ] || runuser -u $bench_user -- env XDG_RUNTIME_DIR=$work/xdg \
  python3 $work/alternate.py $work $runs > $work/alternate.txt
INNER
unshare -m bash "$work/inner.sh"

python3 - "$work/result.json" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ms = {name: r["mean"] * 1000 for name, r in res.items()}
sd = {name: r["stddev"] * 1000 for name, r in res.items()}
print()
for name in ("crun-lite", "runc", "crun"):
    print(f"{name:10s} {ms[name]:8.2f} ms/container  (± {sd[name]:.2f})")
print()
for other in ("crun", "runc"):
    print(f"crun-lite / {other}: {ms['crun-lite'] / ms[other]:.2f}")
PY
[ ! -f "$work/alternate.txt" ] || cat "$work/alternate.txt"
