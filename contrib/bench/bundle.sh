# shellcheck shell=bash
# Sourced by run-bench.sh, hot-symbols.sh and health-bench.sh: the benches' busybox
# bundles.

# `bench_rootfs DIR`: a busybox rootfs at DIR (sh, true and sleep; mount points for
# /proc, /dev, /sys and /tmp).
bench_rootfs() {
    local root=$1
    mkdir -p "$root/bin" "$root/proc" "$root/dev" "$root/sys" "$root/tmp"
    cp "$(command -v busybox)" "$root/bin/busybox"
    for a in sh true sleep; do ln -s busybox "$root/bin/$a"; done
}

# `bench_config ARGS LINUX`: runc's spec shape (the root read-only; proc, a tmpfs
# /dev, /sys read-only) running ARGS (a JSON array), LINUX (a JSON object) its
# "linux".
bench_config() {
    cat <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"user": {"uid": 0, "gid": 0}, "args": $1, "env": ["PATH=/bin"], "cwd": "/",
              "noNewPrivileges": true},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": $2
}
JSON
}

# `bench_bundles DIR UID GID` writes DIR/bundle: a busybox rootfs and runc's
# rootless spec shape for the user UID:GID, running /bin/true (pid, ipc, uts,
# mount and user namespaces); and DIR/sleeper: the same rootfs running
# `sleep 1000`, for the containers `exec` enters.
bench_bundles() {
    local dir=$1 uid=$2 gid=$3
    bench_rootfs "$dir/bundle/rootfs"
    local linux='{
    "uidMappings": [{"containerID": 0, "hostID": '$uid', "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": '$gid', "size": 1}],
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]
  }'
    bench_config '["/bin/true"]' "$linux" >"$dir/bundle/config.json"
    mkdir "$dir/sleeper"
    bench_config '["/bin/sleep", "1000"]' "$linux" |
        sed "s|\"path\": \"rootfs\"|\"path\": \"$dir/bundle/rootfs\"|" >"$dir/sleeper/config.json"
}
