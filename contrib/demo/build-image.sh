#!/usr/bin/env bash
# Build the crun-lite demo image (contrib/demo/Dockerfile, an express app) with
# buildah, running every RUN step through crun-lite, and write it as a
# docker-archive.
#
#   contrib/demo/build-image.sh OUTPUT RUNTIME
#
#   OUTPUT   path of the docker-archive tar to write (replaced if it exists);
#            the image in it is tagged crun-lite-demo/app:latest
#   RUNTIME  the crun-lite binary, given to `buildah bud --runtime`
#            (e.g. build/src/cli/crun-lite)
#
# No registry is used: the base image (localhost/crun-lite-demo/node-base) is
# assembled from the host's files: Debian's busybox-static, the host's node
# with the libraries ldd lists, the host's npm, and the CA bundle. `npm ci`
# in the build stage needs the npm registry (the build uses the host network).
#
# Everything goes to a private buildah store in a temporary directory
# (--root/--runroot, vfs driver: no overlay mounts), which is removed on exit,
# and crun-lite keeps its container state there too (--runtime-flag root=...);
# the host's container storage is not touched. (One file outside it is:
# containers/image, as root, always records blob digests in
# /var/lib/containers/cache/blob-info-cache-v1.boltdb; buildah has no option
# to move it.) Run as root.
set -euo pipefail

log() { printf 'build-image: %s\n' "$*"; }
die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: $0 OUTPUT RUNTIME"
[[ $(id -u) -eq 0 ]] || die "run as root"

DEMO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUTPUT=$(realpath -m -- "$1")
RUNTIME=$(realpath -e -- "$2" 2>/dev/null) || die "runtime not found: $2"
[[ -x $RUNTIME ]] || die "runtime is not executable: $RUNTIME"
[[ -f $DEMO_DIR/Dockerfile && -f $DEMO_DIR/app/package-lock.json ]] \
  || die "$DEMO_DIR/Dockerfile or $DEMO_DIR/app/ is missing"

command -v buildah >/dev/null || die "buildah is not installed (apt-get install buildah)"
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || die "$BUSYBOX is missing (apt-get install busybox-static)"
NODE=$(command -v node) || die "node is not installed"
NODE=$(readlink -f -- "$NODE")
NPM=$(command -v npm) || die "npm is not installed"
NPM_CLI=$(readlink -f -- "$NPM")                  # .../node_modules/npm/bin/npm-cli.js
NPM_DIR=$(dirname -- "$(dirname -- "$NPM_CLI")")  # .../node_modules/npm
if [[ ! -f $NPM_DIR/package.json ]]; then
  NPM_DIR=$(npm root -g)/npm
fi
[[ -f $NPM_DIR/bin/npm-cli.js ]] || die "cannot find npm's package directory (tried $NPM_DIR)"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

BASE_IMAGE=localhost/crun-lite-demo/node-base:latest
APP_IMAGE=localhost/crun-lite-demo/app:latest
ARCHIVE_TAG=crun-lite-demo/app:latest

START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/crld-XXXXXX")  # short: it holds buildah's runroot
mkdir -p "$WORK/tmp"
# Every buildah call uses the private store; TMPDIR keeps buildah's temporary
# files (blob copies during commit and push) inside $WORK as well.
B=(env "TMPDIR=$WORK/tmp" buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)

cleanup() {
  local rc=$?
  set +e
  "${B[@]}" rm --all >/dev/null 2>&1
  # The vfs driver mounts nothing; if anything is mounted under $WORK anyway
  # (a crashed build), detach it before removing the directory.
  local m
  awk -v w="$WORK" 'index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf -- "$WORK"
  if [[ $rc -ne 0 ]]; then
    log "FAILED (exit $rc) after $((SECONDS - START))s"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "work directory $WORK"
log "runtime $RUNTIME"

# ---- 1. base image root filesystem ---------------------------------------------
ROOTFS=$WORK/rootfs
log "assembling the node base root filesystem"
mkdir -p "$ROOTFS"
chmod 0755 "$ROOTFS"
(
  cd "$ROOTFS"
  # merged /usr, like Debian 12
  mkdir -p usr/bin usr/sbin usr/lib usr/lib64 usr/local/bin usr/local/lib/node_modules \
           usr/local/etc etc/ssl/certs dev proc sys run home var/tmp
  ln -s usr/bin bin
  ln -s usr/sbin sbin
  ln -s usr/lib lib
  ln -s usr/lib64 lib64
  install -d -m 0700 root
  install -d -m 1777 tmp
  chmod 1777 var/tmp
)

# copy_elf FILE DEST: FILE at DEST in the rootfs, with every shared library
# `ldd FILE` lists (and the dynamic loader) at the path ldd gives.
copy_elf() {
  local file=$1 dest=$2 lib
  install -D -m 0755 "$file" "$ROOTFS$dest"
  # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and
  # "/lib64/ld-linux-x86-64.so.2 (0x...)"; a static binary lists none
  while read -r lib; do
    [[ -e $ROOTFS$lib ]] && continue
    install -D -m 0755 "$(readlink -f -- "$lib")" "$ROOTFS$lib"
  done < <(ldd "$file" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
}

# busybox and its applets as symlinks (what `busybox --install -s` makes)
copy_elf "$BUSYBOX" /bin/busybox
while read -r applet; do
  [[ $applet == bin/busybox || $applet == linuxrc ]] && continue
  [[ -e $ROOTFS/$applet || -L $ROOTFS/$applet ]] && continue
  ln -s /bin/busybox "$ROOTFS/$applet"
done < <("$BUSYBOX" --list-full)

# node and its libraries; npm
copy_elf "$NODE" /usr/local/bin/node
cp -a -- "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
if [[ -f $NPM_DIR/bin/npx-cli.js ]]; then
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
fi

# users, groups, certificates
cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# npm's global config is $prefix/etc/npmrc (prefix /usr/local, from node's path)
echo "update-notifier=false" >"$ROOTFS/usr/local/etc/npmrc"
NODE_ENVS=()
if [[ -f $CA_BUNDLE ]]; then
  install -m 0644 "$(readlink -f -- "$CA_BUNDLE")" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  # npm and node itself trust the bundle, as on the host (whose bundle may hold
  # the CA of a TLS-inspecting proxy)
  echo "cafile=/etc/ssl/certs/ca-certificates.crt" >>"$ROOTFS/usr/local/etc/npmrc"
  NODE_ENVS+=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
else
  log "warning: $CA_BUNDLE not found; npm will only trust node's built-in CAs"
fi

# sanity check on the host: the copied node runs from the rootfs alone
chroot "$ROOTFS" /usr/local/bin/node -e 'process.exit(0)' \
  || die "node does not run inside the assembled rootfs (missing library?)"
log "node $(chroot "$ROOTFS" /usr/local/bin/node --version), npm $(chroot "$ROOTFS" /bin/sh -c \
  'PATH=/usr/local/bin:/usr/bin HOME=/root npm_config_update_notifier=false /usr/local/bin/npm --version')," \
  "busybox $("$BUSYBOX" | head -n1 | awk '{print $2}')"

# ---- 2. commit the base image --------------------------------------------------
log "committing $BASE_IMAGE"
tar --numeric-owner --owner=0 --group=0 -C "$ROOTFS" -cf "$WORK/rootfs.tar" .
rm -rf -- "$ROOTFS"
ctr=$("${B[@]}" from --pull=never --name crun-lite-demo-node-base scratch)
"${B[@]}" add "$ctr" "$WORK/rootfs.tar" / >/dev/null
rm -f -- "$WORK/rootfs.tar"
"${B[@]}" config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  "${NODE_ENVS[@]}" \
  --workingdir / \
  --cmd '["node"]' \
  --created-by "contrib/demo/build-image.sh: busybox-static, node $("$NODE" --version) and npm from the host" \
  "$ctr"
"${B[@]}" commit --quiet --format docker --rm "$ctr" "$BASE_IMAGE" >/dev/null
log "base image committed ($((SECONDS - START))s)"

# ---- 3. build the app through crun-lite ----------------------------------------
log "building $APP_IMAGE (RUN steps through $RUNTIME)"
BUILD_START=$SECONDS
"${B[@]}" bud \
  --format docker \
  --isolation oci \
  --runtime "$RUNTIME" \
  --runtime-flag "root=$WORK/runtime-state" \
  --network host \
  --pull=never \
  -t "$APP_IMAGE" \
  -f "$DEMO_DIR/Dockerfile" \
  "$DEMO_DIR/app"
log "app image built ($((SECONDS - BUILD_START))s)"

# ---- 4. write the docker-archive -----------------------------------------------
log "writing $OUTPUT"
mkdir -p -- "$(dirname -- "$OUTPUT")"
rm -f -- "$OUTPUT"  # docker-archive refuses to add to an existing file
"${B[@]}" push --quiet "$APP_IMAGE" "docker-archive:$OUTPUT:$ARCHIVE_TAG"
log "done in $((SECONDS - START))s: $OUTPUT ($(du -h -- "$OUTPUT" | cut -f1), tagged $ARCHIVE_TAG)"
