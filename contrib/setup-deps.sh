#!/bin/bash
# Installs crun-lite's build and test dependencies (Debian 12 packages) when run as
# root, then configures and builds the tree into $BUILD (default: <repo>/build).
# Used by contrib/demo.sh, contrib/test.sh and (with --bench) contrib/bench/run-bench.sh;
# safe to run again.  Prints each phase as it starts (apt's and ninja's progress show);
# when another apt or dpkg holds a package lock it says so and waits for it, up to
# $APT_LOCK_WAIT seconds (default 300), instead of failing.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$repo/build}

packages=(
    # build (lld: crun-lite's hot functions first, see src/cli/meson.build)
    meson ninja-build g++ lld pkg-config git scdoc
    libseccomp-dev libcap-dev libyajl-dev libboost-program-options-dev catch2
    libarchive-dev zlib1g-dev libzstd-dev libssl-dev libcurl4-openssl-dev libsystemd-dev
    # tests and demo: a static busybox for the rootfs, newuidmap/newgidmap, the harness
    # (gdb: test_cli.py watches where libcrypto's CPU probe runs)
    busybox-static uidmap python3 util-linux passwd zstd strace gdb
    # run --image networking (pasta, the default, else slirp4netns) and port publishing; the fuse root fallback
    passt slirp4netns fuse-overlayfs
)

# --bench: also what contrib/bench/run-bench.sh compares against, and perf for hot-symbols.sh.
# --podman, --containerd, --buildah, --registry, --systemd: the real tools the integration tests drive.
# --conformance: what contrib/conformance.sh needs.  --fuzz: what contrib/fuzz.sh needs.
# --demo: what contrib/demo.sh needs besides.  --package: what contrib/package.sh needs.
for arg in "$@"; do
    case $arg in
        --bench) packages+=(hyperfine runc crun umoci time linux-perf) ;;
        # contrib/conformance.sh: runc to compare with, Go to build the OCI suite.
        --conformance) packages+=(runc golang-go) ;;
        # contrib/fuzz.sh: clang with libFuzzer and the sanitizer runtimes.
        --fuzz) packages+=(clang libclang-rt-14-dev) ;;
        --podman) packages+=(podman conmon catatonit) ;;
        # test_containerd.py; test_cri.py also needs the CNI plugins (bridge, host-local,
        # loopback in /usr/lib/cni), ip(8), and runc as the CRI handler it compares with.
        --containerd) packages+=(containerd containernetworking-plugins iproute2 runc) ;;
        --buildah) packages+=(buildah) ;;
        # test_systemd.py: a Debian rootfs with systemd, booted in a container.
        --systemd) packages+=(mmdebstrap) ;;
        # contrib/package.sh: the Debian package's tools (its Build-Depends are above).
        --package) packages+=(dpkg-dev debhelper lintian) ;;
        # test_registry.py: a local registry (distribution 2.8), skopeo to push to it, openssl for its CA.
        --registry) packages+=(docker-registry skopeo openssl) ;;
        # The image demo: buildah builds it, curl asks it;
        # node and npm come from Debian unless the machine has them already.
        --demo)
            packages+=(buildah curl)
            command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
            ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup-deps: missing packages ${missing[*]}; run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    lock_wait=${APT_LOCK_WAIT:-300}
    echo "setup-deps: updating the package lists (apt-get update)"
    # The lists lock `update` takes has no timeout option (DPkg::Lock::Timeout covers only
    # dpkg's lock): retry while another apt holds it.
    deadline=$((SECONDS + lock_wait)) waiting=
    until out=$(apt-get update -q 2>&1); do
        if grep -q 'Could not get lock' <<<"$out" && ((SECONDS < deadline)); then
            [[ -n $waiting ]] || echo "setup-deps: waiting up to ${lock_wait}s for the apt lock: $(grep -m1 'Could not get lock' <<<"$out" | sed 's/^E: //')"
            waiting=1
            sleep 5
            continue
        fi
        echo "$out" >&2
        echo "setup-deps: failed: apt-get update" >&2
        exit 1
    done
    # apt says "Waiting for cache lock: ... held by process N" while it waits for dpkg's lock.
    echo "setup-deps: installing ${#missing[@]} packages: ${missing[*]}"
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout="$lock_wait" "${missing[@]}" ||
        { echo "setup-deps: failed: apt-get install ${missing[*]}" >&2; exit 1; }
else
    echo "setup-deps: the ${#packages[@]} packages needed are installed"
fi

quiet() {  # runs a command, showing its output only when it fails
    local out
    if ! out=$("$@" 2>&1); then
        echo "$out" >&2
        echo "setup-deps: failed: $*" >&2
        exit 1
    fi
}
# CRUNLITE_WERROR=1 (contrib/test.sh, so CI): warnings are errors.
werror=false
[[ ${CRUNLITE_WERROR:-} == 1 ]] && werror=true
if [[ -f $build/build.ninja ]]; then
    if [[ -n ${CRUNLITE_WERROR:-} ]]; then
        echo "setup-deps: configuring $build (werror=$werror)"
        quiet meson configure "$build" -Dwerror=$werror
    fi
else
    echo "setup-deps: configuring $build (meson setup, debugoptimized, werror=$werror)"
    quiet meson setup "$build" "$repo" --buildtype=debugoptimized -Dwerror=$werror
fi
# ninja prints one [done/total] line per step when its output is not a terminal.
echo "setup-deps: building with ninja in $build"
ninja -C "$build" || { echo "setup-deps: failed: ninja -C $build" >&2; exit 1; }
echo "setup-deps: built $build/src/cli/crun-lite"
