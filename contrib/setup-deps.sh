#!/bin/bash
# Installs crun-lite's build and test dependencies (Debian 12 packages) when run as
# root, then configures and builds the tree into $BUILD (default: <repo>/build).
# Used by contrib/demo.sh, contrib/test.sh and (with --bench) contrib/bench/run-bench.sh;
# safe to run again.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$repo/build}

packages=(
    # build
    meson ninja-build g++ pkg-config git scdoc
    libseccomp-dev libcap-dev libyajl-dev libboost-program-options-dev catch2
    libarchive-dev zlib1g-dev libzstd-dev libssl-dev
    # tests and demo: a static busybox for the rootfs, newuidmap/newgidmap, the harness
    busybox-static uidmap python3 util-linux passwd zstd
    # run --image networking (rootless default) and port publishing; the fuse root fallback
    slirp4netns fuse-overlayfs
)

# --bench: also what contrib/bench/run-bench.sh compares against.
# --podman, --containerd, --buildah: the real tools the integration tests drive.
# --conformance: what contrib/conformance.sh needs.  --fuzz: what contrib/fuzz.sh needs.
# --demo: what contrib/demo.sh needs besides.
for arg in "$@"; do
    case $arg in
        --bench) packages+=(hyperfine runc crun umoci) ;;
        # contrib/conformance.sh: runc to compare with, Go to build the OCI suite.
        --conformance) packages+=(runc golang-go) ;;
        # contrib/fuzz.sh: clang with libFuzzer and the sanitizer runtimes.
        --fuzz) packages+=(clang libclang-rt-14-dev) ;;
        --podman) packages+=(podman conmon catatonit) ;;
        --containerd) packages+=(containerd) ;;
        --buildah) packages+=(buildah) ;;
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
    echo "setup-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
    [[ -z ${CRUNLITE_WERROR:-} ]] || quiet meson configure "$build" -Dwerror=$werror
else
    quiet meson setup "$build" "$repo" --buildtype=debugoptimized -Dwerror=$werror
fi
quiet ninja -C "$build"
echo "setup-deps: built $build/src/cli/crun-lite"
