#!/usr/bin/env bash
# Network benchmark of image containers, in one run: the same busybox httpd served
#   host         --network host (httpd on 127.0.0.1 itself: the baseline)
#   slirp4netns  --network slirp4netns -p 127.0.0.1:PORT:8080
#   pasta        --network pasta -p 127.0.0.1:PORT:8080
# and measured from the host with curl:
#   latency      REQUESTS sequential GETs of a 6-byte page, each a new curl and a new
#                connection: curl's own time_total (process start not counted), median
#                and 90th percentile
#   throughput   a 100 MB download (/big, written by the container at start) timed with
#                hyperfine over DOWNLOADS runs: mean seconds and MB/s
# A mode whose helper is not installed is reported as such.  Prints a Markdown table.
#
# Usage (as root): contrib/bench/net-bench.sh [--rootless USER] [--no-setup] [BUILD_DIR] [REQUESTS] [DOWNLOADS]
#   --rootless USER  run the containers as USER (needs /etc/subuid and /etc/subgid ranges,
#                    and /dev/net/tun mode 0666 for slirp4netns), as rootless users do
#   --no-setup       do not run contrib/setup-deps.sh (packages and build) first
set -euo pipefail

# shellcheck source=contrib/bench/args.sh
source "$(dirname "$0")/args.sh"
build=$(realpath -m "${args[0]:-$here/build}")
requests=${args[1]:-200}
downloads=${args[2]:-5}
[ "$(id -u)" = 0 ] || { echo "net-bench.sh: run as root (--rootless USER runs the containers as USER)" >&2; exit 1; }
if [ "$setup" = 1 ]; then BUILD=$build "$here/contrib/setup-deps.sh" --bench; fi
for tool in hyperfine curl python3 busybox; do
    command -v "$tool" >/dev/null || { echo "net-bench.sh: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d /tmp/crun-lite-nbench.XXXXXX)
chmod 755 "$work"
# The runtime and its init, where USER can run them.
crunlite=$work/crun-lite
export CRUNLITE_INIT=$work/crun-lite-init
if [ -n "$user" ]; then
    as_user() { runuser -u "$user" -- env HOME="$work/home" XDG_RUNTIME_DIR="$work/home" PATH="$PATH" CRUNLITE_INIT="$CRUNLITE_INIT" "$@"; }
else
    as_user() { "$@"; }
fi
cleanup() {
    for id in nb-host nb-slirp4netns nb-pasta; do as_user "$crunlite" --root "$work/state" rm -f "$id" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
install -m 755 "$build/src/cli/crun-lite" "$crunlite"
install -m 755 "$build/src/init/crun-lite-init" "$CRUNLITE_INIT"
[ -z "$user" ] || { mkdir -m 700 "$work/home" && chown "$user" "$work/home"; }

# A docker-archive: static busybox (sh, httpd, dd) and /www/index.html.
python3 "$here/contrib/bench/web-image.py" "$work/web.tar" "$(command -v busybox)" nbench/web:1 sh,httpd,dd sh
chmod 644 "$work/web.tar"
mkdir -m 700 "$work/store" "$work/state"
[ -z "$user" ] || chown "$user" "$work/store" "$work/state"
as_user "$crunlite" image load -q --store "$work/store" "docker-archive:$work/web.tar" >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
results=$work/results
: >"$results"
for mode in host slirp4netns pasta; do
    if [ "$mode" != host ] && ! command -v "$mode" >/dev/null; then
        echo "| $mode | not installed | | | |" >>"$results"
        continue
    fi
    port=$(free_port)
    id=nb-$mode
    if [ "$mode" = host ]; then
        net=(--network host) listen=127.0.0.1:$port
    else
        net=(--network "$mode" -p "127.0.0.1:$port:8080") listen=8080
    fi
    echo "== $mode: 127.0.0.1:$port" >&2
    as_user "$crunlite" --root "$work/state" run -d --image nbench/web:1 --store "$work/store" "${net[@]}" "$id" \
        sh -c "dd if=/dev/zero of=/www/big bs=1M count=100 2>/dev/null && exec httpd -f -p $listen -h /www"
    url=http://127.0.0.1:$port
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/big" --max-time 30 || true)" = 200 ] && break
        sleep 0.1
    done
    size=$(curl -s -o /dev/null -w '%{size_download}' "$url/big")
    [ "$size" = 104857600 ] || { echo "net-bench.sh: $mode: /big is $size bytes, not 100 MiB" >&2; exit 1; }
    for _ in $(seq "$requests"); do curl -s -o /dev/null -w '%{time_total}\n' "$url/index.html"; done >"$work/lat-$mode"
    hyperfine --style basic --runs "$downloads" --warmup 1 --export-json "$work/dl-$mode.json" \
        -n "$mode" "curl -s -o /dev/null $url/big" >&2
    as_user "$crunlite" --root "$work/state" rm -f "$id" >/dev/null
    python3 - "$mode" "$work/lat-$mode" "$work/dl-$mode.json" >>"$results" <<'PY'
import json, statistics, sys
mode, lat, dl = sys.argv[1:]
ms = sorted(float(x) * 1000 for x in open(lat).read().split())
r = json.load(open(dl))["results"][0]
p90 = ms[int(len(ms) * 0.9) - 1]
print(f"| {mode} | {statistics.median(ms):.2f} | {p90:.2f} | {r['mean']:.3f} ± {r['stddev']:.3f} | "
      f"{100 * 1048576 / r['mean'] / 1e6:.0f} |")
PY
done

echo
echo "$(date -u +%F), $(uname -r), ${user:+rootless as $user, }$requests requests, $downloads downloads of 100 MiB"
echo
echo "| network | latency median (ms) | latency p90 (ms) | 100 MiB download (s) | MB/s |"
echo "|---|---|---|---|---|"
cat "$results"
