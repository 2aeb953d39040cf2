#!/usr/bin/env bash
# Start-up benchmark: N sequential `run` of /bin/true in a busybox bundle,
# rootless, for crun-lite, runc and crun, measured in the same run with hyperfine;
# then N `exec ID true` into a running container of each; then the peak RSS (the
# largest process: GNU time's ru_maxrss) of one `run` and one `exec`, the median
# of 15 each.  Prints ms per command, kB, and crun-lite's
# ratio to each.  Each row also has the kernel's floor: for `run`, the same
# container's namespaces, mounts, pivot and exec alone (contrib/bench/floor.c);
# for `exec`, joining the sleeping container's namespaces and starting /bin/true
# there (contrib/bench/exec-floor.c); both static, as crun-lite is.  Last,
# crun-lite, crun and the floors again, alternating (the order rotated every
# round), RUNS times each, for `run` and `exec`: the ratios to quote; the exec
# rows also time a static program whose main returns at once (`start`): what a
# process's start costs here, paid by every runtime and by both floors (glibc
# probes the CPU at each start, and a CPUID traps to the hypervisor on a VM).
# hyperfine runs each command's runs in one block, and the drift of a shared
# machine from one block to the next is as large as the differences measured
# (+-10% here); alternating cancels it.
#
# crun refuses hybrid cgroup hosts (cgroup2 only at /sys/fs/cgroup/unified), so
# every runtime runs inside one private mount namespace in which the cgroup2
# hierarchy is bind-mounted at /sys/fs/cgroup, with cgroups disabled and the
# state roots on a tmpfs (as /run is) — the same conditions for all three.
# Nothing is mounted in the host's namespace.
#
# Usage (as root): contrib/bench/run-bench.sh [BUILD_DIR] [RUNS]
#
# BASELINE=/path/to/another/crun-lite (say, the build of an earlier commit)
# joins the alternation: a before/after comparison on the same bundle (and
# exec into a sleeping container of its own).
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

# The bundles (busybox, runc's rootless spec shape), owned by the bench user below.
. "$here/contrib/bench/bundle.sh"
bench_bundles "$work" "$uid" "$gid"
cc -O2 -static -o "$work/floor" "$here/contrib/bench/floor.c"
cc -O2 -static -o "$work/exec-floor" "$here/contrib/bench/exec-floor.c"
echo 'int main(void) { return 0; }' | cc -O2 -static -x c -o "$work/start" -
# The alternation runs copies of the builds.
cp "$crunlite" "$work/crun-lite.new"
[ -z "${BASELINE:-}" ] || cp "$BASELINE" "$work/crun-lite.baseline"
cat > "$work/alternate.py" <<'PY'
import json, os, statistics, subprocess, sys, time
work, runs, builds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def crl(name, *args):
    return [f"{work}/crun-lite.{name}", "--root", f"{work}/run/state-{name}", "--cgroup-manager", "disabled", *args]
def crun(*args):
    return ["crun", "--root", f"{work}/run/state-crun-alt", "--cgroup-manager=disabled", *args]
def alternate(cmds):
    names = list(cmds)
    times = {name: [] for name in names}
    for i in range(runs):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            argv = cmds[name]
            start = time.perf_counter()
            # posix_spawn (glibc: vfork-like), not subprocess: ~0.2 ms of overhead instead of ~3.
            _, status = os.waitpid(os.posix_spawnp(argv[0], argv, os.environ), 0)
            times[name].append(time.perf_counter() - start)
            if status != 0:
                sys.exit(f"{' '.join(argv)}: wait status {status}")
    return {name: 1000 * statistics.median(t) for name, t in times.items()}
run = {name: crl(name, "run", f"bench-{name}") for name in builds}
run["crun"] = crun("run", "bench-crun-alt")
run["floor"] = [f"{work}/floor", f"{work}/bundle/rootfs"]
results = {"run": alternate(run)}
# exec: into a sleeping container of each.
os.chdir(f"{work}/sleeper")
sleepers = [crl(name, "run", "-d", f"ex-{name}") for name in builds] + [crun("run", "-d", "ex-crun-alt")]
try:
    for argv in sleepers:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    execs = {name: crl(name, "exec", f"ex-{name}", "/bin/true") for name in builds}
    execs["crun"] = crun("exec", "ex-crun-alt", "/bin/true")
    state = subprocess.run(crl(builds[0], "state", f"ex-{builds[0]}"), check=True, capture_output=True).stdout
    execs["floor"] = [f"{work}/exec-floor", str(json.loads(state)["pid"])]
    execs["start"] = [f"{work}/start"]
    results["exec"] = alternate(execs)
finally:
    for name in builds:
        subprocess.run(crl(name, "delete", "-f", f"ex-{name}"))
    subprocess.run(crun("delete", "-f", "ex-crun-alt"))
print()
print(f"alternating, {runs} runs each, the order rotated every round (medians, including Python's posix_spawn):")
for verb, med in results.items():
    line = f"  {verb:4s} " + ", ".join(f"{'crun-lite' if k == 'new' else k} {v:.2f} ms" for k, v in med.items())
    line += f"; crun-lite / crun: {med['new'] / med['crun']:.2f}"
    if "floor" in med:
        line += f", the floor / crun: {med['floor'] / med['crun']:.2f}"
    if "start" in med:
        line += f", start / crun: {med['start'] / med['crun']:.2f}"
    if "baseline" in med:
        line += f", crun-lite / baseline: {med['new'] / med['baseline']:.3f}"
    print(line)
PY
chown -R "$bench_user:" "$work"
# The copies stay root's, as the build is: a binary its user owns is re-executed
# from a sealed copy (docs/design.md, self-protection), which the hyperfine rows
# do not pay.
chown root: "$work"/crun-lite.* 2>/dev/null || true
chmod 755 "$work"

# Each runtime's command line up to the verb, for inner.sh (run) and exec.sh (exec, RSS).
cat > "$work/runtimes.sh" <<RUNTIMES
crl=("$crunlite" --root "$work/run/state-crl" --cgroup-manager disabled)
runc=(runc --root "$work/run/state-runc")
crun=(crun --root "$work/run/state-crun" --cgroup-manager=disabled)
RUNTIMES
cat > "$work/inner.sh" <<INNER
set -eu
. $work/runtimes.sh
# Private mount namespace: show the cgroup2 hierarchy at /sys/fs/cgroup, as on a pure v2 host.
mount --make-rprivate /
mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup
# The state roots on a tmpfs, as /run is: a disk's file system would add its own
# swings (this VM's ext4, mounted with discard and without a journal, took
# 0.02-0.3 ms more per run, varying with what was deleted in the minutes before).
mkdir -p $work/run
mount -t tmpfs -o mode=0755,uid=$uid,gid=$gid tmpfs $work/run
mkdir -p $work/xdg && chown $bench_user: $work/xdg
cd $work/bundle
# hyperfine itself runs as the bench user, so each timed command is just the runtime.
runuser -u $bench_user -- env XDG_RUNTIME_DIR=$work/xdg \
  hyperfine --style basic --runs $runs --warmup 5 --export-json $work/result.json \
  -n crun-lite "\${crl[*]} run bench-crl" \
  -n runc "\${runc[*]} run bench-runc" \
  -n crun "\${crun[*]} run bench-crun" \
  -n floor "$work/floor $work/bundle/rootfs"
# A subreaper above: the monitor of crun-lite's "run -d" is reaped when delete ends it.
python3 $here/contrib/bench/reap.py runuser -u $bench_user -- env XDG_RUNTIME_DIR=$work/xdg \
  bash $work/exec.sh $work $runs
python3 $here/contrib/bench/reap.py runuser -u $bench_user -- env XDG_RUNTIME_DIR=$work/xdg \
  python3 $work/alternate.py $work $runs new ${BASELINE:+baseline} > $work/alternate.txt
INNER
# exec and peak RSS, as the bench user: one sleeping container per runtime.
cat > "$work/exec.sh" <<'EXEC'
set -eu
work=$1 runs=$2
. "$work/runtimes.sh"
cd "$work/sleeper"
trap '"${crl[@]}" delete -f ex-crl; "${runc[@]}" delete -f ex-runc; "${crun[@]}" delete -f ex-crun' EXIT
"${crl[@]}" run -d ex-crl </dev/null >/dev/null
"${runc[@]}" run -d ex-runc </dev/null >/dev/null
"${crun[@]}" run -d ex-crun </dev/null >/dev/null
init=$("${crl[@]}" state ex-crl | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
hyperfine --style basic --runs "$runs" --warmup 5 --export-json "$work/exec.json" \
  -n crun-lite "${crl[*]} exec ex-crl /bin/true" \
  -n runc "${runc[*]} exec ex-runc /bin/true" \
  -n crun "${crun[*]} exec ex-crun /bin/true" \
  -n floor "$work/exec-floor $init"
cd "$work/bundle"
# Peak RSS: GNU time's %M, ru_maxrss of the command's largest process, in kB.
rss() { /usr/bin/time -f %M -o "$work/maxrss" "${@:3}" >/dev/null 2>&1; echo "$1 $2 $(<"$work/maxrss")"; }
for i in $(seq 15); do
  rss run crun-lite "${crl[@]}" run rss-crl
  rss run runc "${runc[@]}" run rss-runc
  rss run crun "${crun[@]}" run rss-crun
  rss exec crun-lite "${crl[@]}" exec ex-crl /bin/true
  rss exec runc "${runc[@]}" exec ex-runc /bin/true
  rss exec crun "${crun[@]}" exec ex-crun /bin/true
done >"$work/rss.txt"
EXEC
unshare -m bash "$work/inner.sh"

python3 - "$work" <<'PY'
import collections, json, statistics, sys
work = sys.argv[1]
for verb, path in (("run", "result.json"), ("exec", "exec.json")):
    res = {r["command"]: r for r in json.load(open(f"{work}/{path}"))["results"]}
    ms = {name: r["mean"] * 1000 for name, r in res.items()}
    sd = {name: r["stddev"] * 1000 for name, r in res.items()}
    print()
    for name in ("crun-lite", "runc", "crun", "floor"):
        if name in ms:
            print(f"{verb:4s} {name:10s} {ms[name]:8.2f} ms  (± {sd[name]:.2f})")
    print("     " + ", ".join(f"crun-lite / {o}: {ms['crun-lite'] / ms[o]:.2f}" for o in ("crun", "runc")))
    if "floor" in ms:
        print(f"     the floor / crun: {ms['floor'] / ms['crun']:.2f}; crun-lite over the floor: "
              f"{ms['crun-lite'] - ms['floor']:.2f} ms")
rss = collections.defaultdict(list)
for line in open(f"{work}/rss.txt"):
    verb, name, kb = line.split()
    rss[verb, name].append(int(kb))
print("\npeak RSS, median of 15 (kB):")
for verb in ("run", "exec"):
    med = {name: statistics.median(rss[verb, name]) for name in ("crun-lite", "runc", "crun")}
    print(f"{verb:4s} " + "  ".join(f"{n} {v:.0f}" for n, v in med.items()) +
          f"   crun-lite / crun: {med['crun-lite'] / med['crun']:.2f}")
PY
cat "$work/alternate.txt"
