#!/usr/bin/env bash
# Scale benchmark, as root, in two parts.
#
# 1. COUNT (default 100) detached containers of one busybox image running
#    `sleep 1000`, started in parallel (xargs -P PAR, default COUNT: all at once),
#    then stopped (-t 0, as sleep as pid 1 ignores SIGTERM) and removed, each
#    invocation for one container, by:
#      crun-lite run -d --image IMG --network none ID sleep 1000
#      podman run -d --network none IMG sleep 1000    (runtime runc, with conmon)
#    Prints the wall time of each phase and the memory of what stays per
#    container while they run: the PSS (/proc/PID/smaps_rollup) summed over the
#    containers' processes and everything of the tool that stays beside them
#    (crun-lite: crun-lite-monitor; podman: conmon, and any process of podman's
#    that stays), found as the containers' pids and their parents, every process
#    whose command line names this run's private directories, and all their
#    descendants.  podman gets vfs storage and a private --root/--runroot, as in
#    image-run-bench.sh.
# 2. Whether the verbs on the hot path scan: `state`, `list`, `run --image`,
#    `image ls` and `image inspect`, each timed by hyperfine against a state
#    root with one container and a store with one image, and against one with
#    BIG_CONTAINERS (1000) stopped image containers and a store with BIG_IMAGES
#    (200) images (distinct configs sharing one layer).  Prints the ratios.
#
# Everything is made under a private /tmp directory and removed at exit; the only
# processes stopped are the containers this run started, through the tools.
#
# Usage (as root): contrib/bench/scale-bench.sh [BUILD_DIR] [RUNS]
#   env: COUNT=100 PAR=COUNT BIG_CONTAINERS=1000 BIG_IMAGES=200 PARTS="start scale"
#   BASELINE=/path/to/another/crun-lite adds part 2's rows for that binary (say, an
#   earlier commit's build), on the same roots and stores.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$here/build}")
runs=${2:-20}
count=${COUNT:-100}
par=${PAR:-$count}
big_containers=${BIG_CONTAINERS:-1000}
big_images=${BIG_IMAGES:-200}
parts=${PARTS:-start scale}
[ "$(id -u)" = 0 ] || { echo "scale-bench.sh: run as root" >&2; exit 1; }
BUILD=$build "$here/contrib/setup-deps.sh" --bench --podman
crunlite=$build/src/cli/crun-lite
[ -x "$crunlite" ] || { echo "scale-bench.sh: $crunlite not built" >&2; exit 1; }
# Each container costs a few processes and descriptors: make sure the limits allow them.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
ulimit -u unlimited 2>/dev/null || true
pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$pid_max" -gt $((count * 20 + 2000)) ] || { echo "scale-bench.sh: pid_max $pid_max is too small for $count containers" >&2; exit 1; }

work=$(mktemp -d /tmp/crun-lite-scale.XXXXXX)
runroot=$(mktemp -d /tmp/crls-XXXXXX)  # podman wants a short runroot path
podman=(podman --root "$work/podman" --runroot "$runroot" --storage-driver vfs --tmpdir "$work/ptmp"
        --cgroup-manager cgroupfs --events-backend file)
cleanup() {
    set +e
    # Only this run's containers, by their own tools and private roots.
    for root in "$work"/state*; do
        [ -d "$root" ] || continue
        "$crunlite" --root "$root" list -q 2>/dev/null | xargs -r -P 8 -n 1 "$crunlite" --root "$root" delete --force 2>/dev/null
    done
    [ -d "$work/podman" ] && "${podman[@]}" rm -a -f -t 0 >/dev/null 2>&1
    # podman's storage leaves mounts (shm) under its root: unmount only those.
    grep -o " $work/[^ ]*\| $runroot/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n 1 umount -l 2>/dev/null
    rm -rf "$work" "$runroot"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/"{proc,sys,dev,tmp,etc}
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
echo "root:x:0:0:root:/:/bin/sh" >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"${podman[@]}" import -q "$work/rootfs.tar" localhost/bench-bb:latest >/dev/null
"${podman[@]}" save -q --format docker-archive -o "$work/bb.tar" localhost/bench-bb:latest
"$crunlite" image load -q --store "$work/store" --name bench-bb "docker-archive:$work/bb.tar" >/dev/null

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# PSS in kB of the containers' processes (pids on stdin) and of what stays with
# them: "TOTAL WORKLOAD PROCESSES DETAIL", WORKLOAD being the containers' own
# `sleep` (with podman's vfs storage each container has its own copy of busybox,
# whose pages are then not shared: the part without it is the runtime's own).
pss() {
    python3 - "$work" "$runroot" <<'PY'
import os, sys
marks = sys.argv[1:]
roots = {int(l) for l in sys.stdin.read().split() if l.strip() and int(l) > 0}
procs = {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        stat = open(f"/proc/{p}/stat").read()
        cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        continue
    procs[int(p)] = (int(stat[stat.rindex(")") + 2:].split()[1]), cmd, stat[stat.index("(") + 1:stat.rindex(")")])
chosen = set(roots)
chosen |= {procs[p][0] for p in roots if p in procs and procs[p][0] > 1}
chosen |= {p for p, (_, cmd, _) in procs.items() if any(m in cmd for m in marks)}
chosen.discard(os.getpid())
chosen.discard(os.getppid())
grew = True
while grew:
    kids = {p for p, (pp, _, _) in procs.items() if pp in chosen} - chosen
    chosen |= kids
    grew = bool(kids)
total, work, by = 0, 0, {}
for p in chosen:
    try:
        for line in open(f"/proc/{p}/smaps_rollup"):
            if line.startswith("Pss:"):
                kb = int(line.split()[1])
                total += kb
                name = procs[p][2] if p in procs else "?"
                work += kb if name == "sleep" else 0
                by[name] = by.get(name, 0) + kb
    except OSError:
        pass
detail = ", ".join(f"{n} {kb / 1024:.1f} MiB" for n, kb in sorted(by.items(), key=lambda x: -x[1]))
print(f"{total} {work} {len(chosen)} {detail}")
PY
}

part_start() {
    ids=$(seq -f "s%g" 1 "$count")
    echo "== $count detached busybox containers (sleep 1000), --network none, $par at once"
    printf '%-12s %9s %9s %9s %13s %13s\n' tool start stop rm "PSS/ctr" "w/o sleep"
    # crun-lite
    t=$(date +%s%N)
    echo "$ids" | xargs -P "$par" -I{} "$crunlite" --root "$work/state" run -d --image bench-bb --store "$work/store" \
        --network none {} sleep 1000 >/dev/null
    c_start=$(ms_since "$t")
    sleep 1
    "$crunlite" --root "$work/state" list --format json |
        python3 -c 'import json,sys; print("\n".join(str(c["pid"]) for c in json.load(sys.stdin)))' >"$work/pids"
    read -r c_kb c_wkb c_n c_detail < <(pss <"$work/pids")
    running=$("$crunlite" --root "$work/state" list | grep -c running || true)
    [ "$running" = "$count" ] || echo "scale-bench.sh: only $running of $count crun-lite containers run" >&2
    t=$(date +%s%N)
    echo "$ids" | xargs -P "$par" -I{} "$crunlite" --root "$work/state" stop -t 0 {} >/dev/null
    c_stop=$(ms_since "$t")
    t=$(date +%s%N)
    echo "$ids" | xargs -P "$par" -I{} "$crunlite" --root "$work/state" rm {} >/dev/null
    c_rm=$(ms_since "$t")
    # podman
    ulimits="--ulimit nofile=1024:1024 --ulimit nproc=1000:1000"
    t=$(date +%s%N)
    # shellcheck disable=SC2086
    echo "$ids" | xargs -P "$par" -I{} "${podman[@]}" --runtime runc run -d --name {} --network none $ulimits \
        localhost/bench-bb sleep 1000 >/dev/null
    p_start=$(ms_since "$t")
    sleep 1
    "${podman[@]}" ps -q >"$work/ids"
    xargs -a "$work/ids" "${podman[@]}" inspect --format '{{.State.Pid}}' >"$work/pids"
    read -r p_kb p_wkb p_n p_detail < <(pss <"$work/pids")
    running=$("${podman[@]}" ps -q | wc -l)
    [ "$running" = "$count" ] || echo "scale-bench.sh: only $running of $count podman containers run" >&2
    t=$(date +%s%N)
    echo "$ids" | xargs -P "$par" -I{} "${podman[@]}" stop -t 0 {} >/dev/null
    p_stop=$(ms_since "$t")
    t=$(date +%s%N)
    echo "$ids" | xargs -P "$par" -I{} "${podman[@]}" rm {} >/dev/null
    p_rm=$(ms_since "$t")
    awk -v c="$c_start $c_stop $c_rm $c_kb $c_wkb $c_n" -v p="$p_start $p_stop $p_rm $p_kb $p_wkb $p_n" -v n="$count" \
        -v cd="$c_detail" -v pd="$p_detail" 'BEGIN {
        split(c, a, " "); split(p, b, " ")
        printf "%-12s %6d ms %6d ms %6d ms %9.2f MiB %9.2f MiB  (%d processes: %s)\n", "crun-lite",
            a[1], a[2], a[3], a[4] / 1024 / n, (a[4] - a[5]) / 1024 / n, a[6], cd
        printf "%-12s %6d ms %6d ms %6d ms %9.2f MiB %9.2f MiB  (%d processes: %s)\n", "podman-runc",
            b[1], b[2], b[3], b[4] / 1024 / n, (b[4] - b[5]) / 1024 / n, b[6], pd
        printf "crun-lite/podman-runc: start %.2f, stop %.2f, rm %.2f, memory %.2f (without the sleeps %.2f)\n",
            a[1] / b[1], a[2] / b[2], a[3] / b[3], a[4] / b[4], (a[4] - a[5]) / (b[4] - b[5])
    }'
}

part_scale() {
    echo "== one container and one image against $big_containers containers and $big_images images"
    # BIG_IMAGES distinct images (configs differing in a label) sharing one layer, in one OCI layout.
    python3 - "$work" "$big_images" <<'PY'
import hashlib, json, os, sys
work, n = sys.argv[1], int(sys.argv[2])
layout = os.path.join(work, "many")
os.makedirs(os.path.join(layout, "blobs", "sha256"))
def blob(data, media):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(layout, "blobs", "sha256", d), "wb").write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
layer = open(os.path.join(work, "rootfs.tar"), "rb").read()
l = blob(layer, "application/vnd.oci.image.layer.v1.tar")
manifests = []
for i in range(n):
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Labels": {"bench.n": str(i)}},
           "rootfs": {"type": "layers", "diff_ids": [l["digest"]]}}
    c = blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
    m = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                         "config": c, "layers": [l]}).encode(), "application/vnd.oci.image.manifest.v1+json")
    m["annotations"] = {"org.opencontainers.image.ref.name": f"img{i}"}
    manifests.append(m)
open(os.path.join(layout, "index.json"), "w").write(json.dumps({"schemaVersion": 2, "manifests": manifests}))
open(os.path.join(layout, "oci-layout"), "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
    "$crunlite" image load -q --store "$work/store-big" --name bench-bb "docker-archive:$work/bb.tar" >/dev/null
    seq 1 $((big_images - 1)) | xargs -P 2 -I{} "$crunlite" image load -q --store "$work/store-big" --name "img{}" "oci:$work/many:img{}" >/dev/null
    # BIG_CONTAINERS image containers that ran `true` and stopped: their state stays (no processes).
    seq -f "c%g" 1 "$big_containers" | xargs -P 4 -I{} "$crunlite" --root "$work/state-big" run -d --image bench-bb \
        --store "$work/store-big" --network none {} true >/dev/null
    "$crunlite" --root "$work/state-one" run -d --image bench-bb --store "$work/store" --network none c1 true >/dev/null
    sleep 1
    echo "images: $("$crunlite" image ls -q --store "$work/store-big" | wc -l) and 1;" \
         "containers: $("$crunlite" --root "$work/state-big" list -q | wc -l) and $("$crunlite" --root "$work/state-one" list -q | wc -l)"
    # Each verb's four commands one after the other (one, many; then the
    # baseline's), so that the drift of a shared machine spares its ratios.
    local cmds=() verb tag cl
    for verb in state list ls inspect run; do
        for tag in "" ${BASELINE:+" (baseline)"}; do
            cl=$crunlite
            [ -z "$tag" ] || cl=$BASELINE
            case $verb in
                state) cmds+=(-n "state 1$tag" "$cl --root $work/state-one state c1"
                              -n "state N$tag" "$cl --root $work/state-big state c500") ;;
                list) cmds+=(-n "list 1$tag" "$cl --root $work/state-one list"
                             -n "list N$tag" "$cl --root $work/state-big list") ;;
                ls) cmds+=(-n "image ls 1$tag" "$cl image ls --store $work/store"
                           -n "image ls N$tag" "$cl image ls --store $work/store-big") ;;
                inspect) cmds+=(-n "image inspect 1$tag" "$cl image inspect --store $work/store bench-bb"
                                -n "image inspect N$tag" "$cl image inspect --store $work/store-big bench-bb") ;;
                run) cmds+=(-n "run --image 1$tag" "$cl --root $work/state-one run --rm --image bench-bb --store $work/store --network none r true"
                            -n "run --image N$tag" "$cl --root $work/state-big run --rm --image bench-bb --store $work/store-big --network none r true") ;;
            esac
        done
    done
    # The system calls of each (strace -f -c): the work done, whatever the load.
    local i
    : >"$work/syscalls"
    for ((i = 0; i < ${#cmds[@]}; i += 3)); do
        # shellcheck disable=SC2086
        strace -f -c -o "$work/strace.txt" ${cmds[i + 2]} >/dev/null 2>&1
        echo "$(awk '$NF == "total" {print $(NF - 2)}' "$work/strace.txt")	${cmds[i + 1]}" >>"$work/syscalls"
    done
    hyperfine --style basic --runs "$runs" --warmup 3 -N --export-json "$work/scale.json" "${cmds[@]}" >"$work/hyperfine.log"
    python3 - "$work/scale.json" "$big_containers" "$big_images" "$work/syscalls" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
calls = {name: int(n) for n, name in (l.rstrip("\n").split("\t") for l in open(sys.argv[4]))}
print("\nmedian wall time of each command's runs, its mean CPU time (user + system: steadier than\n"
      "wall time on a loaded machine) and its system calls (strace -f -c, one run); ratio: many / one")
for tag in ("", " (baseline)"):
    for verb in ("state", "list", "image ls", "image inspect", "run --image"):
        if verb + " 1" + tag not in res:
            continue
        one, big = res[verb + " 1" + tag], res[verb + " N" + tag]
        n = sys.argv[3] if verb.startswith("image") else sys.argv[2] if verb in ("state", "list") else f"{sys.argv[2]}/{sys.argv[3]}"
        cpu = lambda r: (r["user"] + r["system"]) * 1000
        c1, cn = calls[verb + " 1" + tag], calls[verb + " N" + tag]
        print(f"{verb + tag:25s} 1: {one['median'] * 1000:5.1f} ms, CPU {cpu(one):5.1f} ms, {c1:5d} syscalls   "
              f"{n:>8s}: {big['median'] * 1000:5.1f} ms, CPU {cpu(big):5.1f} ms, {cn:5d} syscalls   "
              f"ratio {big['median'] / one['median']:.2f}, CPU {cpu(big) / cpu(one):.2f}, syscalls {cn / c1:.2f}")
PY
}

for p in $parts; do "part_$p"; done
