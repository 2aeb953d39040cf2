# shellcheck shell=bash
# Sourced by run-bench.sh and hot-symbols.sh.  `bench_bundles DIR UID GID` writes
# DIR/bundle: a busybox rootfs and runc's rootless spec shape for the user UID:GID,
# running /bin/true (the root read-only; proc, a tmpfs /dev, /sys read-only; pid,
# ipc, uts, mount and user namespaces); and DIR/sleeper: the same rootfs running
# `sleep 1000`, for the containers `exec` enters.
bench_bundles() {
    local dir=$1 uid=$2 gid=$3
    mkdir -p "$dir/bundle/rootfs/bin" "$dir/bundle/rootfs/proc" "$dir/bundle/rootfs/dev" "$dir/bundle/rootfs/sys" "$dir/bundle/rootfs/tmp"
    cp "$(command -v busybox)" "$dir/bundle/rootfs/bin/busybox"
    ln -s busybox "$dir/bundle/rootfs/bin/true"
    ln -s busybox "$dir/bundle/rootfs/bin/sh"
    ln -s busybox "$dir/bundle/rootfs/bin/sleep"
    cat > "$dir/bundle/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"user": {"uid": 0, "gid": 0}, "args": ["/bin/true"], "env": ["PATH=/bin"], "cwd": "/",
              "noNewPrivileges": true},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": $uid, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": $gid, "size": 1}],
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}]
  }
}
JSON
    mkdir "$dir/sleeper"
    sed -e 's|"args": \["/bin/true"\]|"args": ["/bin/sleep", "1000"]|' \
        -e "s|\"path\": \"rootfs\"|\"path\": \"$dir/bundle/rootfs\"|" "$dir/bundle/config.json" >"$dir/sleeper/config.json"
}
