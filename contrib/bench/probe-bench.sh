#!/usr/bin/env bash
# Healthcheck benchmark: what one probe of each kind costs, against the same busybox httpd
# in one image container (--network none):
#   exec  --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/'  (crun-lite exec in the container)
#   http  --health-http http://localhost:8080/                        (crun-lite-health, libcurl)
#   tcp   --health-tcp 8080                                           (a connect from crun-lite)
# For each: `crun-lite healthcheck run ID` timed with hyperfine over RUNS runs (the whole
# command: crun-lite's start, its sealed copy, the probe, the health.json update), and the
# probe alone, the median of End - Start of its health.json entries.  Prints a Markdown table.
#
# Usage (as root): contrib/bench/probe-bench.sh [--rootless USER] [--no-setup] [BUILD_DIR] [RUNS]
#   --rootless USER  run the container as USER (needs /etc/subuid and /etc/subgid ranges)
#   --no-setup       do not run contrib/setup-deps.sh (packages and build) first
set -euo pipefail

# shellcheck source=contrib/bench/args.sh
source "$(dirname "$0")/args.sh"
build=$(realpath -m "${args[0]:-$here/build}")
runs=${args[1]:-30}
[ "$(id -u)" = 0 ] || { echo "probe-bench.sh: run as root (--rootless USER runs the container as USER)" >&2; exit 1; }
if [ "$setup" = 1 ]; then BUILD=$build "$here/contrib/setup-deps.sh" --bench; fi
for tool in hyperfine python3 busybox; do
    command -v "$tool" >/dev/null || { echo "probe-bench.sh: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d /tmp/crun-lite-hbench.XXXXXX)
chmod 755 "$work"
# The runtime, its init and the http helper, where USER can run them.
crunlite=$work/crun-lite
export CRUNLITE_INIT=$work/crun-lite-init CRUNLITE_HEALTH=$work/crun-lite-health
if [ -n "$user" ]; then
    as_user() { runuser -u "$user" -- env HOME="$work/home" XDG_RUNTIME_DIR="$work/home" PATH="$PATH" \
        CRUNLITE_INIT="$CRUNLITE_INIT" CRUNLITE_HEALTH="$CRUNLITE_HEALTH" "$@"; }
else
    as_user() { "$@"; }
fi
cleanup() {
    for kind in exec http tcp; do as_user "$crunlite" --root "$work/state" rm -f "hb-$kind" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
install -m 755 "$build/src/cli/crun-lite" "$crunlite"
install -m 755 "$build/src/init/crun-lite-init" "$CRUNLITE_INIT"
install -m 755 "$build/src/health/crun-lite-health" "$CRUNLITE_HEALTH"
[ -z "$user" ] || { mkdir -m 700 "$work/home" && chown "$user" "$work/home"; }

# A docker-archive: static busybox (sh, httpd, wget) and /www/index.html.
python3 "$here/contrib/bench/web-image.py" "$work/web.tar" "$(command -v busybox)" hbench/web:1 sh,httpd,wget httpd -f -p 127.0.0.1:8080 -h /www
chmod 644 "$work/web.tar"
mkdir -m 700 "$work/store" "$work/state"
[ -z "$user" ] || chown "$user" "$work/store" "$work/state"
as_user "$crunlite" image load -q --store "$work/store" "docker-archive:$work/web.tar" >/dev/null

results=$work/results
: >"$results"
for kind in exec http tcp; do
    case $kind in
        exec) probe=(--health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/') ;;
        http) probe=(--health-http http://localhost:8080/) ;;
        tcp) probe=(--health-tcp 8080) ;;
    esac
    id=hb-$kind
    echo "== $kind" >&2
    as_user "$crunlite" --root "$work/state" run -d --image hbench/web:1 --store "$work/store" --network none \
        "${probe[@]}" --health-interval 1h --health-start-period 0s "$id"
    for _ in $(seq 50); do as_user "$crunlite" --root "$work/state" healthcheck run "$id" >/dev/null && break; sleep 0.1; done
    cmd=$(printf '%q ' "$crunlite" --root "$work/state" healthcheck run "$id")
    [ -z "$user" ] || cmd="$(printf '%q ' runuser -u "$user" -- env HOME="$work/home" XDG_RUNTIME_DIR="$work/home" \
        CRUNLITE_INIT="$CRUNLITE_INIT" CRUNLITE_HEALTH="$CRUNLITE_HEALTH") $cmd"
    hyperfine --style basic --runs "$runs" --warmup 2 --export-json "$work/run-$kind.json" -n "$kind" "$cmd" >&2
    for _ in $(seq "$runs"); do  # the probe's own Start and End, as recorded
        as_user "$crunlite" --root "$work/state" healthcheck run "$id" >/dev/null
        python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["Log"][-1]; print(e["Start"], e["End"])' \
            "$work/store/containers/$id/health.json"
    done >"$work/probe-$kind"
    as_user "$crunlite" --root "$work/state" rm -f "$id" >/dev/null
    python3 - "$kind" "$work/run-$kind.json" "$work/probe-$kind" >>"$results" <<'PY'
import datetime, json, statistics, sys
kind, run, probes = sys.argv[1:]
r = json.load(open(run))["results"][0]
t = lambda s: datetime.datetime.fromisoformat(s[:26].rstrip("Z"))  # noqa: E731
took = [(t(end) - t(start)).total_seconds() * 1000 for start, end in (line.split() for line in open(probes))]
print(f"| {kind} | {r['median'] * 1000:.1f} | {statistics.median(took):.1f} |")
PY
done

echo
echo "$(date -u +%F), $(uname -r), ${user:+rootless as $user, }$runs runs of healthcheck run per kind"
echo
echo "| probe | healthcheck run, median (ms) | the probe alone, median (ms) |"
echo "|---|---|---|"
cat "$results"
