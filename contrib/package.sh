#!/bin/bash
# Builds crun-lite's Debian package from the working tree (uncommitted and untracked files
# included, ignored ones not): copies the tree to a temporary directory with contrib/debian
# at debian/, runs `dpkg-buildpackage -us -uc -b` there, then lintian (its errors fail the
# build, its warnings are shown), and leaves the .deb in OUTDIR (default <repo>/build-deb),
# printing its path last.
#   contrib/package.sh [OUTDIR]            then: apt install ./build-deb/crun-lite_*.deb
# As root it first installs what it needs (debhelper, lintian and contrib/debian/control's
# Build-Depends), waiting up to $APT_LOCK_WAIT seconds (default 300) for another apt or
# dpkg; as another user those must be installed already.  DEB_BUILD_OPTIONS defaults to
# "nocheck noddebs parallel=2": only what the package installs is built, without debug info
# (contrib/test.sh runs the tests); DEB_BUILD_OPTIONS=parallel=2 also builds and runs the
# unit tests (and makes a -dbgsym package, not kept).
# Safe to run again: it replaces OUTDIR's .deb of the same version.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(mkdir -p "${1:-$repo/build-deb}" && cd "${1:-$repo/build-deb}" && pwd)
say() { echo "package: $*"; }
die() { echo "package: failed: $*" >&2; exit 1; }

# The package's version is meson.build's; contrib/debian/changelog must have its entry.
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$repo/meson.build" | head -n1)
entry=$(sed -n '1s/^crun-lite (\([^)]*\)).*/\1/p' "$repo/contrib/debian/changelog")
[[ $entry == "$version" ]] ||
    die "meson.build says version $version, contrib/debian/changelog's last entry is ${entry:-none}: add one (dch -c contrib/debian/changelog -v $version)"

export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck noddebs parallel=2}
# Without debug packages (noddebs), dh_strip throws the debug info away: compile none (-g0).
if [[ " $DEB_BUILD_OPTIONS " == *" noddebs "* && -z ${DEB_CXXFLAGS_APPEND+set}${DEB_CFLAGS_APPEND+set} ]]; then
    export DEB_CFLAGS_APPEND=-g0 DEB_CXXFLAGS_APPEND=-g0
fi
profiles=()
[[ " $DEB_BUILD_OPTIONS " == *" nocheck "* ]] && profiles=(-Pnocheck)  # no catch2 then
export DEB_BUILD_PROFILES=${profiles[*]#-P}

# The source tree: git's view of the working tree, else everything but build directories.
work=$(mktemp -d "${TMPDIR:-/tmp}/deb-crun-lite.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/crun-lite-$version
mkdir "$src"
say "copying the source tree to $src"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$repo" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do if [[ -e $repo/$f || -L $repo/$f ]]; then printf '%s\0' "$f"; fi; done |
        tar -C "$repo" --null -T - -cf - | tar -C "$src" -xf -
    # meson.build asks git for the commit crun-lite --version shows.
    GIT_DIR=$(git -C "$repo" rev-parse --absolute-git-dir)
    export GIT_DIR
else
    tar -C "$repo" --exclude='./build*' --exclude=__pycache__ -cf - . | tar -C "$src" -xf -
fi
cp -a "$src/contrib/debian" "$src/debian"

# Packages: the tools, then the Build-Depends apt resolves from debian/control.
tools=(dpkg-dev debhelper lintian)
missing=()
for p in "${tools[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if ((${#missing[@]})) || ! (cd "$src" && dpkg-checkbuilddeps "${profiles[@]}" >/dev/null 2>&1); then
    [[ $(id -u) -eq 0 ]] ||
        die "missing: ${missing[*]:-Build-Depends (dpkg-checkbuilddeps says which)}; run as root to install them"
    export DEBIAN_FRONTEND=noninteractive
    lock_wait=${APT_LOCK_WAIT:-300}
    say "updating the package lists (apt-get update)"
    # `update` has no lock timeout option (DPkg::Lock::Timeout covers dpkg's lock only): retry.
    deadline=$((SECONDS + lock_wait)) waiting=
    until out_=$(apt-get update -q 2>&1); do
        grep -q 'Could not get lock' <<<"$out_" && ((SECONDS < deadline)) || { echo "$out_" >&2; die "apt-get update"; }
        [[ -n $waiting ]] || say "waiting up to ${lock_wait}s for the apt lock: $(grep -m1 'Could not get lock' <<<"$out_" | sed 's/^E: //')"
        waiting=1
        sleep 5
    done
    apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout="$lock_wait")
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        apt-get install "${apt_opts[@]}" "${missing[@]}" || die "apt-get install ${missing[*]}"
    fi
    say "installing the Build-Depends (apt-get build-dep${profiles[*]:+ ${profiles[*]}})"
    apt-get build-dep "${apt_opts[@]}" "${profiles[@]}" "$src" || die "apt-get build-dep"
else
    say "debhelper, lintian and the Build-Depends are installed"
fi

log=$out/crun-lite_${version}_build.log
say "building (dpkg-buildpackage -us -uc -b, DEB_BUILD_OPTIONS='$DEB_BUILD_OPTIONS'; log: $log)"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$log" 2>&1 || { tail -n 60 "$log" >&2; die "dpkg-buildpackage (see $log)"; }
say "dpkg-buildpackage done (${SECONDS}s)"
changes=$(ls "$work"/crun-lite_"$version"_*.changes)

# Replace the previous build's package of this version, nothing else.
rm -f "$out"/crun-lite_"$version"_*.deb
cp "$work"/crun-lite_"$version"_*.deb "$out"/
deb=$(ls "$out"/crun-lite_"$version"_*.deb)

say "lintian"
# Errors fail (the .deb stays for a look); warnings and the rest are shown.  What is by
# design is in contrib/debian/crun-lite.lintian-overrides, with the reason.
lintian --fail-on error --display-info "$changes" || die "lintian reports errors in $deb"
say "built $deb (${SECONDS}s)"
