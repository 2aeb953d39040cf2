#!/usr/bin/env bash
# Healthcheck benchmark (issue 16): what a Docker-style health probe costs, as root, in one run.
#
# 1. CPU (user+sys of the command and everything it ran) and wall time per probe of `true` in a
#    running busybox container, PROBES each:
#      crun-lite healthcheck run ID   an image container (run -d --image --network none
#                                     --health-cmd true --health-interval 1h: its monitor idles)
#      crun-lite exec ID true         a bundle container (run -d)
#      runc exec ID true              a bundle container (runc run -d, stdio /dev/null)
#      crun exec ID true              the same with crun
#      podman healthcheck run CTR     runtime runc, --health-cmd true, vfs storage
#    One Python driver runs them round-robin, 10 at a time, so the shared machine's drift hits
#    all alike; CPU is its getrusage(RUSAGE_CHILDREN) delta.  The driver is a child subreaper,
#    so the conmon that podman's exec daemonizes is reaped, and counted, by it.  Also the
#    memory of one idle container's watcher: crun-lite-monitor against podman's conmon.
# 2. Scale: CONTAINERS image containers probed every second by their monitors (run -d --image
#    --network none --health-cmd true --health-interval 1s), sampled for SECONDS: the CPU of the
#    monitors and all they ran (utime+stime+cutime+cstime in /proc/PID/stat, the delta over the
#    window) as % of one core and ms per probe (the probes are counted from each container's
#    health.json log), and the monitors' total PSS and RSS (/proc/PID/smaps_rollup).  Then all
#    are removed, and no crun-lite-monitor of this run may be left.
#
# crun refuses this host's hybrid cgroups (cgroup2 only at /sys/fs/cgroup/unified), so all of it
# runs in one private mount and pid namespace in which the cgroup2 hierarchy is bind-mounted at
# /sys/fs/cgroup (unshare --kill-child: whatever is left dies with the namespace).  crun-lite and
# crun run with cgroups disabled; runc and podman, which cannot disable them, make their cgroups
# there (podman with --pids-limit -1: that hierarchy has no pids controller here).
#
# Usage (as root): contrib/bench/health-bench.sh [--no-setup] [BUILD_DIR] [PROBES] [SECONDS] [CONTAINERS]
#   PROBES 100, SECONDS 30, CONTAINERS 50 by default
#   --no-setup  do not run contrib/setup-deps.sh (packages and build) first
# Exits 77 when a peer (runc, crun, podman with conmon) or a cgroup2 hierarchy is missing.
set -euo pipefail

rootless_ok=0
# shellcheck source=contrib/bench/args.sh
source "$(dirname "$0")/args.sh"
build=$(realpath -m "${args[0]:-$here/build}")
probes=${args[1]:-100}
seconds=${args[2]:-30}
containers=${args[3]:-50}
for n in "$probes" "$seconds" "$containers"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "health-bench.sh: PROBES, SECONDS and CONTAINERS must be positive integers, not '$n'" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "health-bench.sh: run as root" >&2; exit 1; }
if [ "$setup" = 1 ]; then BUILD=$build "$here/contrib/setup-deps.sh" --bench --podman; fi
for tool in runc crun podman conmon; do
    command -v "$tool" >/dev/null || { echo "health-bench.sh: skipped: the peer $tool is not installed (contrib/setup-deps.sh --bench --podman installs it)" >&2; exit 77; }
done
for tool in python3 busybox unshare; do
    command -v "$tool" >/dev/null || { echo "health-bench.sh: $tool is not installed" >&2; exit 1; }
done
for f in src/cli/crun-lite src/init/crun-lite-init src/monitor/crun-lite-monitor; do
    [ -x "$build/$f" ] || { echo "health-bench.sh: $build/$f is not built" >&2; exit 1; }
done
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
    cgroup2=/sys/fs/cgroup
elif [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
    cgroup2=/sys/fs/cgroup/unified
else
    echo "health-bench.sh: skipped: no cgroup2 hierarchy (crun needs one)" >&2; exit 77
fi

work=$(mktemp -d /tmp/crun-lite-hbench.XXXXXX)
runroot=$(mktemp -d /tmp/crlh-XXXXXX)  # podman wants a short runroot path
cleanup() {
    # The namespace took every process of the run with it.  Normally the inner script removed
    # the containers; if it was killed, runc's and podman's cgroups are left, empty: remove them.
    rmdir "$cgroup2/hb-runc" 2>/dev/null || true
    [ ! -s "$work/podman.id" ] || rmdir "$cgroup2/libpod_parent/libpod-$(cat "$work/podman.id")" 2>/dev/null || true
    rm -rf "$work" "$runroot"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The helpers crun-lite runs, copied so that this run's monitors are known by their executable.
mkdir "$work/bin"
install -m 755 "$build/src/init/crun-lite-init" "$build/src/monitor/crun-lite-monitor" "$work/bin/"
export CRUNLITE_INIT=$work/bin/crun-lite-init CRUNLITE_MONITOR=$work/bin/crun-lite-monitor
export HB_WORK=$work HB_CGROUP2=$cgroup2 HB_PROBES=$probes HB_SECONDS=$seconds HB_CONTAINERS=$containers
export HB_CRUNLITE=$build/src/cli/crun-lite HB_RUNROOT=$runroot

# A busybox rootfs: a bundle for the runtimes, an image for crun-lite and podman.
# shellcheck source=contrib/bench/bundle.sh
source "$(dirname "$0")/bundle.sh"
bench_rootfs "$work/bundle/rootfs"
mkdir "$work/bundle/rootfs/etc"
echo "root:x:0:0:root:/:/bin/sh" >"$work/bundle/rootfs/etc/passwd"
tar -C "$work/bundle/rootfs" -cf "$work/rootfs.tar" .
bench_config '["sleep", "3600"]' \
  '{"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}]}' \
  >"$work/bundle/config.json"
podman=(podman --root "$work/podman" --runroot "$runroot" --storage-driver vfs --tmpdir "$work/ptmp"
        --cgroup-manager cgroupfs --events-backend file)
"${podman[@]}" import -q "$work/rootfs.tar" localhost/bench-bb:latest >/dev/null
"${podman[@]}" save -q --format docker-archive -o "$work/bb.tar" localhost/bench-bb:latest
"$HB_CRUNLITE" image load -q --store "$work/store" --name bench-bb "docker-archive:$work/bb.tar" >/dev/null

# The drivers: hbench.py `probes` (part 1) and `memory` (watchers at rest); hscale.py (part 2).
cat >"$work/hbench.py" <<'PY'
import ctypes, os, resource, shlex, statistics, subprocess, sys, time

def subreaper():
    if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        sys.exit(f"health-bench: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")

def reap_orphans(limit=10.0):
    """Reaps every child left (orphans reparented to us) until none is left or `limit` s passed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.001)
        except ChildProcessError:
            return
    print("health-bench: warning: orphans still running after the round; their CPU counts later", file=sys.stderr)

def run_checked(argv, what):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"health-bench: {what} failed (exit {r.returncode}): {shlex.join(argv)}\n{r.stdout}{r.stderr}")
    return r.stdout

def probes(n, named):
    subreaper()
    cmds = {name: shlex.split(cmd) for name, cmd in (a.split("=", 1) for a in named)}
    names = list(cmds)
    for name in names:  # warm-up, and a check that each probe succeeds
        for _ in range(3):
            run_checked(cmds[name], name)
    reap_orphans()
    cpu, wall, done = dict.fromkeys(names, 0.0), {name: [] for name in names}, dict.fromkeys(names, 0)
    for r in range((n + 9) // 10):
        for name in names[r % len(names):] + names[:r % len(names)]:
            k = min(10, n - done[name])
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            for _ in range(k):
                start = time.perf_counter()
                run_checked(cmds[name], name)
                wall[name].append(time.perf_counter() - start)
            reap_orphans()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name] += after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            done[name] += k
    print(f"\n== exec probe of `true`, {n} each, round-robin (CPU: user+sys of the command and all it ran)")
    print(f"{'command':34s} {'CPU ms/probe':>12s} {'wall ms/probe':>22s} {'median':>7s}")
    cpu_ms = {name: 1000 * cpu[name] / n for name in names}
    wall_ms = {name: 1000 * statistics.mean(wall[name]) for name in names}
    for name in names:
        sd = 1000 * statistics.stdev(wall[name]) if n > 1 else 0.0
        print(f"{name:34s} {cpu_ms[name]:12.2f} {wall_ms[name]:14.2f} ± {sd:5.2f} {1000 * statistics.median(wall[name]):7.2f}")
    ours = [name for name in names if name.startswith("crun-lite")]
    peers = [name for name in names if name not in ours]
    print("\ncrun-lite's ratios")
    for o in ours:
        for p in peers:
            print(f"  {o} / {p}: CPU {cpu_ms[o] / cpu_ms[p]:.2f}, wall {wall_ms[o] / wall_ms[p]:.2f}")

def memory_kb(pid):
    """(PSS, RSS) of a process in kB, from /proc/PID/smaps_rollup."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    return fields["Pss"], fields["Rss"]

def memory(named):
    print("\n== one idle container's watcher")
    for name, pid in (a.split("=", 1) for a in named):
        pss, rss = memory_kb(int(pid))
        print(f"{name:34s} PSS {pss / 1024:6.2f} MB   RSS {rss / 1024:6.2f} MB")

if __name__ == "__main__":
    if sys.argv[1] == "probes":
        probes(int(sys.argv[2]), sys.argv[3:])
    else:
        memory(sys.argv[2:])
PY
cat >"$work/hscale.py" <<'PY'
import calendar, json, os, shlex, subprocess, sys, time
from hbench import memory_kb, run_checked, subreaper

def stat_fields(pid):
    """/proc/PID/stat's fields from the 3rd (state) on, so field N is at index N - 3."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()

def cpu_ticks(pids):
    """utime+stime and cutime+cstime, summed over `pids`."""
    own = children = 0
    for pid in pids:
        f = stat_fields(pid)
        own += int(f[11]) + int(f[12])
        children += int(f[13]) + int(f[14])
    return own, children

def rfc3339(s):
    base, frac = s.rstrip("Z").split(".") if "." in s else (s.rstrip("Z"), "0")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)

def collect(ends, bundles):
    """Adds each container's logged probes, (id, End, ExitCode), to `ends` (the log keeps 5)."""
    for cid, bundle in bundles.items():
        try:
            with open(os.path.join(bundle, "health.json")) as f:
                log = json.load(f)["Log"]
        except FileNotFoundError:  # no probe yet
            continue
        ends.update((cid, rfc3339(e["End"]), e["ExitCode"]) for e in log)

def start(crl, store, ids):
    monitor_exe = os.path.realpath(os.environ["CRUNLITE_MONITOR"])
    monitors, bundles = {}, {}
    t = time.monotonic()
    for cid in ids:
        run_checked(crl + ["run", "-d", "--image", "bench-bb", "--store", store, "--network", "none",
                           "--health-cmd", "true", "--health-interval", "1s", cid, "sleep", "3600"], f"run -d {cid}")
    started = time.monotonic() - t
    for cid in ids:
        st = json.loads(run_checked(crl + ["state", cid], f"state {cid}"))
        monitor = int(stat_fields(st["pid"])[1])  # the init's parent
        if os.path.realpath(f"/proc/{monitor}/exe") != monitor_exe:
            sys.exit(f"health-bench: the parent of {cid}'s init ({monitor}) is not {monitor_exe}")
        monitors[cid], bundles[cid] = monitor, st["bundle"]
    return monitors, bundles, started

def sample(monitors, bundles, seconds):
    time.sleep(2.5)  # each container's first probe comes 1 s after its start
    ends = set()
    collect(ends, bundles)
    hz = os.sysconf("SC_CLK_TCK")
    w0, t0, (own0, ch0) = time.time(), time.monotonic(), cpu_ticks(monitors.values())
    while (left := t0 + seconds - time.monotonic()) > 0:
        time.sleep(min(2.0, left))
        collect(ends, bundles)
    w1, t1, (own1, ch1) = time.time(), time.monotonic(), cpu_ticks(monitors.values())
    collect(ends, bundles)
    mem = [memory_kb(pid) for pid in monitors.values()]
    window = [e for e in ends if w0 <= e[1] < w1]
    return {"window": t1 - t0, "probes": len(window), "failed": sum(1 for e in window if e[2] != 0),
            "own": (own1 - own0) / hz, "children": (ch1 - ch0) / hz,
            "pss": sum(m[0] for m in mem), "rss": sum(m[1] for m in mem)}

def monitors_left():
    """Pids of running processes whose executable is this run's crun-lite-monitor."""
    exe, left = os.path.realpath(os.environ["CRUNLITE_MONITOR"]), []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{p}/exe") == exe:
                left.append(int(p))
        except OSError:  # gone, or a zombie
            pass
    return left

def remove(crl, store, ids):
    """rm -f of all; the monitors, reparented to us (a subreaper), are reaped as they exit."""
    t = time.monotonic()
    run_checked(crl + ["rm", "-f", "--store", store] + ids, "rm -f")
    deadline = time.monotonic() + 15
    while monitors_left() and time.monotonic() < deadline:
        time.sleep(0.01)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
    if left := monitors_left():
        sys.exit(f"health-bench: crun-lite-monitor processes left 15 s after rm -f: {left}")
    return time.monotonic() - t

def report(s, count, started, removed):
    core = 100 / s["window"]
    total = s["own"] + s["children"]
    print(f"\n== {count} image containers probed every 1s by their monitors, sampled for {s['window']:.1f} s")
    print(f"started in {started:.1f} s; {s['probes']} probes in the window ({s['probes'] / s['window']:.1f}/s), "
          f"{s['failed']} failed")
    print(f"CPU of the monitors and all they ran: {total * core:.1f}% of one core, "
          f"{1000 * total / max(s['probes'], 1):.2f} ms per probe (the monitors themselves: {s['own'] * core:.2f}%)")
    print(f"monitors' memory: PSS {s['pss'] / 1024:.2f} MB in all ({s['pss'] / count:.0f} kB each), "
          f"RSS {s['rss'] / 1024:.2f} MB in all ({s['rss'] / count:.0f} kB each)")
    print(f"removed all {count} in {removed:.1f} s (rm -f); no crun-lite-monitor of this run is left")

def main(crl, store, count, seconds):
    subreaper()
    ids = [f"hs-{i}" for i in range(1, count + 1)]
    try:
        monitors, bundles, started = start(crl, store, ids)
        s = sample(monitors, bundles, seconds)
    except BaseException:
        subprocess.run(crl + ["rm", "-f", "--store", store] + ids, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        raise
    report(s, count, started, remove(crl, store, ids))

if __name__ == "__main__":
    main(shlex.split(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
PY

# Runs in the private mount and pid namespace; it removes what it started on any exit.
cat >"$work/inner.sh" <<'INNER'
set -euo pipefail
[ "$HB_CGROUP2" = /sys/fs/cgroup ] || mount --bind "$HB_CGROUP2" /sys/fs/cgroup
w=$HB_WORK
crl=("$HB_CRUNLITE" --root "$w/state" --cgroup-manager disabled)
runc=(runc --root "$w/runc")
crun=(crun --root "$w/crun" --cgroup-manager=disabled)
podman=(podman --root "$w/podman" --runroot "$HB_RUNROOT" --storage-driver vfs --tmpdir "$w/ptmp"
        --cgroup-manager cgroupfs --events-backend file --runtime runc)
cleanup_inner() {
    local ids
    ids=$("${crl[@]}" list -q 2>/dev/null || true)
    # shellcheck disable=SC2086  # ids: one word each
    [ -z "$ids" ] || "${crl[@]}" rm -f --store "$w/store" $ids >/dev/null 2>&1 || true
    "${runc[@]}" delete -f hb-runc >/dev/null 2>&1 || true
    "${crun[@]}" delete -f hb-crun >/dev/null 2>&1 || true
    "${podman[@]}" rm -f -t 0 -a >/dev/null 2>&1 || true
}
trap cleanup_inner EXIT
trap 'exit 130' INT TERM
q() { printf '%q ' "$@"; }
# Starts a detached container with stdio to /dev/null (stdout to $out), showing its errors if it fails.
out=/dev/null
start() {
    "$@" </dev/null >"$out" 2>"$w/start.err" || { echo "health-bench: failed: $*"; cat "$w/start.err"; exit 1; } >&2
}

cd "$w/bundle"
start "${crl[@]}" run -d --image bench-bb --store "$w/store" --network none --health-cmd true \
    --health-interval 1h hb-img sleep 3600
start "${crl[@]}" run -d hb-bundle
start "${runc[@]}" run -d hb-runc
start "${crun[@]}" run -d hb-crun
out=$w/podman.id
start "${podman[@]}" run -d --name hb-podman --network none --pids-limit -1 \
    --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 \
    --health-cmd true --health-interval disable localhost/bench-bb sleep 3600

cd "$w"
python3 hbench.py probes "$HB_PROBES" \
    "crun-lite healthcheck run=$(q "${crl[@]}" healthcheck run hb-img)" \
    "crun-lite exec=$(q "${crl[@]}" exec hb-bundle true)" \
    "runc exec=$(q "${runc[@]}" exec hb-runc true)" \
    "crun exec=$(q "${crun[@]}" exec hb-crun true)" \
    "podman healthcheck run (runc)=$(q "${podman[@]}" healthcheck run hb-podman)"
init=$("${crl[@]}" state hb-img | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
python3 hbench.py memory "crun-lite-monitor=$(sed 's/.*) //' "/proc/$init/stat" | cut -d' ' -f2)" \
    "conmon (podman)=$("${podman[@]}" inspect --format '{{.State.ConmonPid}}' hb-podman)"
cleanup_inner

python3 hscale.py "$(q "${crl[@]}")" "$w/store" "$HB_CONTAINERS" "$HB_SECONDS"
INNER

echo "health-bench: $(date -u +%F), $(uname -r), $(nproc) CPUs; $probes probes each, $containers containers for ${seconds}s"
unshare --mount --pid --fork --kill-child --mount-proc bash "$work/inner.sh"
