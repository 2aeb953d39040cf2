#!/bin/bash
# The crun-lite demo, for a fresh Debian 12 machine, as root: the runtime stage of a
# multi-stage Node.js image, from an image archive to a healthy rootless container.
#
#   1. installs the dependencies and builds crun-lite (contrib/setup-deps.sh --demo);
#   2. builds contrib/demo/Dockerfile (an express app: build stage with npm ci, runtime
#      stage as user nextjs with a HEALTHCHECK) with buildah, whose RUN steps run
#      through crun-lite, from a node base image made of the host's node binary (no
#      registry), and saves it as a docker-archive (contrib/demo/build-image.sh);
#   3. as the unprivileged user "crldemo" (created with an /etc/subuid range):
#      crun-lite run -d --image docker-archive:app.tar -p 8080:3000 --wait-healthy,
#      curl, inspect (health), logs, stop, delete.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD=${BUILD:-$repo/build}
[[ $(id -u) -eq 0 ]] || { echo "demo: run as root (it creates the user crldemo)" >&2; exit 1; }
"$repo/contrib/setup-deps.sh" --demo

user=crldemo
id -u "$user" >/dev/null 2>&1 || useradd --no-create-home --home-dir /nonexistent --shell /bin/sh --user-group "$user"
for f in /etc/subuid /etc/subgid; do
    grep -q "^$user:" "$f" 2>/dev/null || echo "$user:400000:65536" >>"$f"
done
# slirp4netns, run by the user, opens /dev/net/tun: Debian's default mode is 0666,
# some machines have 0600.
[[ $(stat -c %a /dev/net/tun) == 666 ]] || chmod 0666 /dev/net/tun

demo=$(mktemp -d /tmp/crun-lite-demo.XXXXXX)
chmod 0755 "$demo"
as_user() { runuser -u "$user" -- env -i PATH=/usr/bin:/bin HOME="$demo" XDG_RUNTIME_DIR="$demo/xdg" \
    XDG_DATA_HOME="$demo/data" CRUNLITE_INIT="$demo/crun-lite-init" "$@"; }
cleanup() {
    as_user "$demo/crun-lite" delete --force app >/dev/null 2>&1 || true
    # The user's image store holds files of its subordinate ids: it removes them itself.
    as_user "$demo/crun-lite" image rm crun-lite-demo/app >/dev/null 2>&1 || true
    [[ -n ${KEEP_DEMO:-} ]] || rm -rf "$demo"
}
trap cleanup EXIT
install -m 0755 "$BUILD/src/cli/crun-lite" "$demo/crun-lite"
install -m 0755 "$BUILD/src/init/crun-lite-init" "$demo/crun-lite-init"
install -d -m 0700 -o "$user" -g "$user" "$demo/xdg" "$demo/data"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "contrib/demo/build-image.sh $demo/app.tar crun-lite   (buildah bud --runtime crun-lite)"
"$repo/contrib/demo/build-image.sh" "$demo/app.tar" "$demo/crun-lite"
chmod 0644 "$demo/app.tar"
cd "$demo"

say "crun-lite run -d --image docker-archive:app.tar -p 8080:3000 --wait-healthy app   (as $user)"
as_user "$demo/crun-lite" run -d --image "docker-archive:$demo/app.tar" -p 8080:3000 --wait-healthy=60s app
say "curl http://127.0.0.1:8080/"
curl -fsS http://127.0.0.1:8080/
say "crun-lite inspect app   (state and health)"
as_user "$demo/crun-lite" inspect app | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d["Config"]["process"]
print(json.dumps({"State": d["State"], "User": p["user"], "Args": p["args"], "Image": d["Image"]}, indent=2))'
say "crun-lite exec app id"
as_user "$demo/crun-lite" exec app id
say "crun-lite logs app"
as_user "$demo/crun-lite" logs app
say "crun-lite stop app"
as_user "$demo/crun-lite" stop app
as_user "$demo/crun-lite" state app | python3 -c 'import json,sys; print("status:", json.load(sys.stdin)["status"])'
say "crun-lite delete app"
as_user "$demo/crun-lite" delete app
echo
echo "demo: done"
