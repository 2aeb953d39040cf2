#!/usr/bin/env bash
# Writes src/cli/hot-symbols.txt: the functions crun-lite's lifecycle verbs run,
# which lld places first in the binary's text (src/cli/meson.build).  Each start
# maps the text 64 KB around every page it touches (the kernel's fault-around)
# and unmaps it at exit: the fewer windows the verbs touch, the less both cost.
#
# 1. perf samples (cpu-clock, 25 kHz) of ROUNDS rounds of each of three sets of
#    verbs: `run`; `exec` (twice, the second with -e and --cwd) into a sleeping
#    container; and the rest of a lifecycle (`create`, `start`, `state`, `list`,
#    `delete -f`, `run -d`, `kill`, `delete -f`) - as the bench user (rootless,
#    cgroups off, run-bench.sh's bundles) and as root (the binary bound
#    read-only onto itself, as on a read-only /usr, so that it is not
#    re-executed).
# 2. Four times: relink with the list so far, record every page fault of 5
#    rounds of each set, and add the function at each instruction fetch that
#    faulted in the binary's text: code the samples missed, which made a start
#    map its window.
# The list: what both `run` and `exec` run, then what `run` alone runs, then
# `exec` alone, then the rest, each group the most samples first: `run` and
# `exec` each touch as few 64 KB windows as they can.
#
# Usage (as root): contrib/bench/hot-symbols.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$here/build}")
rounds=${2:-200}
bench_user=${BENCH_USER:-crlbench}
out=$here/src/cli/hot-symbols.txt

[ "$(id -u)" = 0 ] || { echo "hot-symbols.sh: run as root (it creates the user $bench_user)" >&2; exit 1; }
BUILD=$build "$here/contrib/setup-deps.sh" --bench
command -v perf >/dev/null || { echo "hot-symbols.sh: perf not found (contrib/setup-deps.sh --bench installs linux-perf)" >&2; exit 1; }
crunlite=$build/src/cli/crun-lite
[[ $(readelf -p .comment "$crunlite") == *"Linker: "*"LLD"* ]] ||
    { echo "hot-symbols.sh: $crunlite was not linked by lld (install lld, then meson setup --wipe $build)" >&2; exit 1; }

id "$bench_user" >/dev/null 2>&1 || useradd -m -s /bin/sh "$bench_user"
work=$(mktemp -d /tmp/crun-lite-hot.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$here/contrib/bench/bundle.sh"
bench_bundles "$work" "$(id -u "$bench_user")" "$(id -g "$bench_user")"
chown -R "$bench_user:" "$work"
chmod 755 "$work"

# One user's rounds: round.sh ROOT MODE ROUNDS.  MODE run: `run`; exec: two
# `exec` into a sleeping container (started and deleted around the rounds);
# rest: `create`, `start`, `state`, `list`, `delete -f`, `run -d`, `kill`, `delete -f`.
cat > "$work/round.sh" <<ROUND
set -eu
crl=("$crunlite" --root "\$1" --cgroup-manager disabled)
cd "$work/sleeper"
[ "\$2" != exec ] || "\${crl[@]}" run -d hot-d </dev/null >/dev/null
for i in \$(seq "\$3"); do
    case \$2 in
    run)
        cd "$work/bundle"
        "\${crl[@]}" run hot-run ;;
    exec)
        "\${crl[@]}" exec hot-d /bin/true
        "\${crl[@]}" exec -e A=1 --cwd / hot-d /bin/true ;;
    rest)
        cd "$work/bundle"
        "\${crl[@]}" create hot-c
        "\${crl[@]}" start hot-c
        "\${crl[@]}" state hot-c >/dev/null
        "\${crl[@]}" list >/dev/null
        "\${crl[@]}" delete -f hot-c
        cd "$work/sleeper"
        "\${crl[@]}" run -d hot-r </dev/null >/dev/null
        "\${crl[@]}" kill hot-r KILL
        "\${crl[@]}" delete -f hot-r ;;
    esac
done
[ "\$2" != exec ] || "\${crl[@]}" delete -f hot-d
ROUND
# Both users' rounds, in a private mount namespace (the read-only bind); a
# subreaper above reaps the monitors of `run -d` that `delete` ends.
cat > "$work/rounds.sh" <<ROUNDS
set -eu
mount --make-rprivate /
mount --bind "$crunlite" "$crunlite"
mount -o remount,bind,ro "$crunlite"
bash "$work/round.sh" "$work/state-root" "\$1" "\$2"
runuser -u "$bench_user" -- env XDG_RUNTIME_DIR="$work" bash "$work/round.sh" "$work/state-user" "\$1" "\$2"
ROUNDS
rounds() {  # rounds MODE N FIELDS PERF_RECORD_ARGS...: perf script's FIELDS for N rounds of both users
    local mode=$1 n=$2 fields=$3
    shift 3
    # -a: events that follow the processes would keep each one's credentials, and so
    # its container's session keyring, until perf ends: past 200, the bench user's
    # key quota is spent and `run` fails (EDQUOT).
    perf record -q -a -o "$work/perf.data" "$@" -- python3 "$here/contrib/bench/reap.py" unshare -m bash "$work/rounds.sh" "$mode" "$n" >/dev/null
    perf script -i "$work/perf.data" -F "$fields" --no-demangle
}
# symbols.py samples|faults BINARY: "count name" for each of the binary's
# functions in perf script's lines; for faults, only instruction fetches.
cat > "$work/symbols.py" <<'PY'
import collections, re, sys
mode, binary = sys.argv[1], sys.argv[2]
sample = r"([0-9a-f]+)\s+(\S+)\s+\(([^)]*)\)"  # ip sym (dso)
line_re = re.compile(r"\s*" + (sample + r"\s+" if mode == "faults" else "") + sample + r"\s*$")
counts = collections.Counter()
for line in sys.stdin:
    m = line_re.match(line)
    if not m:
        continue
    ip, name, dso = m.groups()[-3:]
    # faults: address (its symbol and dso), then ip; an instruction fetch faults at its ip.
    if dso != binary or name == "[unknown]" or (mode == "faults" and m.group(1) != ip):
        continue
    counts[name] += 1
for name, n in counts.items():
    print(n, name)
PY
# order.py DIR BINARY: the list, in the groups the header names, from
# DIR/{run,exec,rest} ("count name" lines, summed).  Without the C names
# the binary defines more than once (static functions such as glibc's read_int,
# in vfprintf, vfwprintf and vfscanf): lld would move every one of them.  (C++
# names repeat too, for functions in anonymous namespaces of different files;
# those stay: most are ours, and small.)
cat > "$work/order.py" <<'PY'
import collections, subprocess, sys
nm = subprocess.run(["nm", "--defined-only", sys.argv[2]], capture_output=True, text=True, check=True).stdout
defined = collections.Counter(line.split()[-1] for line in nm.splitlines() if len(line.split()) == 3)
counts = {}
for mode in ("run", "exec", "rest"):
    c = counts[mode] = collections.Counter()
    for line in open(f"{sys.argv[1]}/{mode}"):
        n, name = line.split()
        c[name] += int(n)
run, exe, rest = counts["run"], counts["exec"], counts["rest"]
groups = [[n for n in run if n in exe], [n for n in run if n not in exe],
          [n for n in exe if n not in run], [n for n in rest if n not in run and n not in exe]]
for group in groups:
    for name in sorted(group, key=lambda n: (-(run[n] + exe[n] + rest[n]), n)):
        if defined[name] == 1 or name.startswith("_Z"):
            print(name)
PY

mkdir "$work/modes"
for mode in run exec rest; do
    echo "hot-symbols.sh: sampling $rounds rounds of $mode"
    rounds "$mode" "$rounds" ip,sym,dso -F 25000 | python3 "$work/symbols.py" samples "$crunlite" >"$work/modes/$mode"
done
write_list() {
    python3 "$work/order.py" "$work/modes" "$crunlite" >"$work/list"
    {
        echo "# The functions crun-lite's lifecycle verbs run: lld places them first in its text"
        echo "# (src/cli/meson.build).  Written by contrib/bench/hot-symbols.sh; $1."
        cat "$work/list"
    } >"$out"
    ninja -C "$build" src/cli/crun-lite >/dev/null
}
for pass in 1 2 3 4; do
    write_list "pass $pass of 4"
    for mode in run exec rest; do
        rounds "$mode" 5 addr,ip,sym,dso -e page-faults -c 1 -d | python3 "$work/symbols.py" faults "$crunlite" |
            awk '{print 0, $2}' >>"$work/modes/$mode"
    done
    echo "hot-symbols.sh: pass $pass: $(wc -l <"$work/list") functions listed"
done
write_list "$(date -u +%Y-%m-%d), $rounds rounds of each"
echo "hot-symbols.sh: wrote $out"
