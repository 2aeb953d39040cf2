#!/bin/bash
# The crun-lite demo, for a fresh Debian 12 machine, as root: installs the
# dependencies, builds, then as the unprivileged user "crldemo" (created with an
# /etc/subuid range) makes a busybox bundle and runs it rootless: once in the
# foreground, then detached through the state/list/kill/delete lifecycle.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD=${BUILD:-$repo/build}
[[ $(id -u) -eq 0 ]] || { echo "demo: run as root (it creates the user crldemo)" >&2; exit 1; }
"$repo/contrib/setup-deps.sh"

user=crldemo
id -u "$user" >/dev/null 2>&1 || useradd --no-create-home --home-dir /nonexistent --shell /bin/sh --user-group "$user"
for f in /etc/subuid /etc/subgid; do
    grep -q "^$user:" "$f" 2>/dev/null || echo "$user:400000:65536" >>"$f"
done

demo=$(mktemp -d /tmp/crun-lite-demo.XXXXXX)
[[ -n ${KEEP_DEMO:-} ]] || trap 'rm -rf "$demo"' EXIT
install -m 0755 "$BUILD/src/cli/crun-lite" "$demo/crun-lite"
mkdir -p "$demo/bundle/rootfs/bin" "$demo/xdg"
cp /bin/busybox "$demo/bundle/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$demo/bundle/rootfs/bin/$applet"
done
mkdir -p "$demo/bundle/rootfs/"{proc,sys,dev,tmp,etc}
echo "root:x:0:0:root:/:/bin/sh" >"$demo/bundle/rootfs/etc/passwd"
chown -R "$user:$user" "$demo"
chmod 0700 "$demo/xdg"

as_user() { runuser -u "$user" -- env -i PATH=/usr/bin:/bin HOME="$demo" XDG_RUNTIME_DIR="$demo/xdg" "$@"; }
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
cd "$demo/bundle"

say "crun-lite spec --rootless   (as $user, uid $(id -u $user))"
as_user "$demo/crun-lite" spec --rootless
# The generated config runs "sh" on a terminal; the demo runs a script instead.
python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c",
    "echo \"hello from $(hostname)\"; id; echo 'uid_map:'; cat /proc/self/uid_map; "
    "echo 'processes:'; ps -o pid,user,args; echo 'mounts:'; cut -d' ' -f2,3 /proc/mounts"]
json.dump(c, open("config.json", "w"), indent=2)
PY
say "crun-lite run demo"
as_user "$demo/crun-lite" run demo

python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["args"] = ["sleep", "1000"]
json.dump(c, open("config.json", "w"), indent=2)
PY
# run --detach leaves a small monitor that reaps the container and records its exit
# (create/start work too, but then the caller must reap: this host's PID 1 does not).
for step in "run --detach demo" "state demo" "list" "kill demo KILL" "state demo" "delete demo" "list"; do
    say "crun-lite $step"
    # shellcheck disable=SC2086
    as_user "$demo/crun-lite" $step
    [[ $step == "kill demo KILL" ]] && sleep 0.2
done
echo
echo "demo: done (state was kept in $demo/xdg/crun-lite, removed with the demo directory)"
