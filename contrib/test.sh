#!/bin/bash
# Sets up (packages, build) and runs every test: the Catch2 unit tests, then each
# integration test file as root and as an unprivileged user, then both again against
# an ASan+UBSan build, then the fuzzers (contrib/fuzz.sh), then (as root) the podman,
# containerd, CRI and buildah files against the Debian package (contrib/package.sh,
# built while the fuzzers run, installed for them, then purged) instead of the build
# tree, and the OCI runtime-tools suite compared with runc (contrib/conformance.sh).
# Run as root on a Debian 12 machine.  Prints "N passed, N failed, N skipped" last; exits 1 if any
# test failed.  Extra arguments are passed to the integration files (e.g. -k kill).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD=${BUILD:-$repo/build}
export CRUNLITE_WERROR=1  # the tests' build treats warnings as errors
# The podman, containerd and buildah tests drive the real tools, installed here.
"$repo/contrib/setup-deps.sh" --podman --containerd --buildah --registry --demo --conformance --fuzz --package || exit 1
export CRUNLITE_BIN=$BUILD/src/cli/crun-lite CRUNLITE_PROBE=$BUILD/tests/fixtures/probe
# Rootless slirp4netns (run --image -p, podman) opens /dev/net/tun and fuse-overlayfs
# /dev/fuse: Debian's default mode for both is 0666, some machines have 0600.
for dev in /dev/net/tun /dev/fuse; do
    [[ $(id -u) -ne 0 || $(stat -c %a "$dev" 2>/dev/null) == 666 ]] || chmod 0666 "$dev" 2>/dev/null || true
done

passed=0 failed=0 skipped=0

# The demo image (tests/integration/test_demo.py), built once for both modes; its RUN
# steps go through the crun-lite under test.
if [[ $(id -u) -eq 0 && -z ${CRUNLITE_DEMO_ARCHIVE:-} ]]; then
    demo_dir=$(mktemp -d /tmp/crun-lite-demo-image.XXXXXX)
    trap 'rm -rf "$demo_dir"' EXIT
    chmod 0755 "$demo_dir"
    echo "== building the demo image"
    if "$repo/contrib/demo/build-image.sh" "$demo_dir/app.tar" "$CRUNLITE_BIN" >"$demo_dir/build.log" 2>&1; then
        chmod 0644 "$demo_dir/app.tar"
        export CRUNLITE_DEMO_ARCHIVE=$demo_dir/app.tar
    else
        echo "!! the demo image did not build (test_demo.py builds it again and reports):"
        tail -n 20 "$demo_dir/build.log"
    fi
fi

echo "== unit tests"
unit=$BUILD/tests/unit/unit_tests
total=$("$unit" --list-test-names-only | grep -c .)
"$unit"
rc=$?  # Catch2 exits with the number of failed test cases
passed=$((passed + total - rc)) failed=$((failed + rc))

modes=(root user)
[[ $(id -u) -eq 0 ]] || modes=(user)
integration() {  # each integration file in each mode, against $CRUNLITE_BIN; $1: a label, $2: files to leave out, $3: files to run (default all)
    local file mode log rc p f s
    for file in "$repo"/tests/integration/test_*.py; do
        [[ " ${2:-} " == *" $(basename "$file") "* ]] && continue
        [[ -z ${3:-} || " $3 " == *" $(basename "$file") "* ]] || continue
        for mode in "${modes[@]}"; do
            echo "== $(basename "$file") --as $mode${1:+ ($1)}"
            log=$(mktemp)
            python3 "$file" --as "$mode" "${args[@]}" | tee "$log"
            rc=${PIPESTATUS[0]}
            read -r p f s < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$log" | tail -n1)
            rm -f "$log"
            if [[ -z ${p:-} ]]; then  # the file died before its summary
                echo "!! $(basename "$file") --as $mode exited $rc without a summary"
                p=0 f=1 s=0
            elif ((rc == 77 && p + f + s == 0)); then  # the whole file was skipped
                s=$(python3 "$file" --list "${args[@]}" | grep -c .)
            elif ((rc != 0 && rc != 77 && f == 0)); then
                f=1
            fi
            passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
        done
    done
}
args=("$@")
# As root, when no arguments pick tests (CRUNLITE_PACKAGE=0: never), these files run
# against the Debian package's /usr/bin/crun-lite instead, below.
package_files="test_podman.py test_containerd.py test_cri.py test_buildah.py"
package=0
[[ $(id -u) -eq 0 && $# -eq 0 && ${CRUNLITE_PACKAGE:-1} == 1 ]] && package=1
integration "" "$( ((package)) && echo "$package_files")"

# Sanitizers: the unit tests and the integration suite once more (but the files
# named below), against an
# ASan+UBSan build (gcc, linked dynamically: a static-pie cannot carry the
# sanitizer runtimes; crun-lite-init and the probe stay static and plain, as
# they run inside containers).  Reports go to files; any error in them fails.  Not
# when the arguments pick some integration tests; CRUNLITE_SANITIZE=0 skips it.
if [[ $# -eq 0 && ${CRUNLITE_SANITIZE:-1} == 1 ]]; then
    asan_build=${ASAN_BUILD:-$repo/build-asan}
    echo "== ASan+UBSan build in $asan_build"
    if [[ ! -f $asan_build/build.ninja ]]; then
        # werror stays with the plain build: gcc's warnings under -fsanitize are not all sound.
        # -O1 and line tables only (-g1, enough for the reports' file:line): a third of
        # -O2 -g's compile time under the sanitizers (90 s against 30 s for spec/parse.cpp).
        meson setup "$asan_build" "$repo" --buildtype=plain -Doptimization=1 -Dcpp_args=-g1 \
            -Db_sanitize=address,undefined >/dev/null ||
            { echo "!! meson setup of the sanitizer build failed"; failed=$((failed + 1)); }
    fi
    if ninja -C "$asan_build" >"$asan_build.log" 2>&1; then
        reports=$(mktemp -d /tmp/crun-lite-sanitizers.XXXXXX)
        chmod 1777 "$reports"  # the unprivileged user's runs write here too
        export ASAN_OPTIONS="log_path=$reports/asan:halt_on_error=1:detect_leaks=1"
        export UBSAN_OPTIONS="log_path=$reports/ubsan:halt_on_error=1:print_stacktrace=1"
        before=("$passed" "$failed" "$skipped")
        echo "== unit tests (sanitizers)"
        "$asan_build/tests/unit/unit_tests"
        rc=$?
        passed=$((passed + total - rc)) failed=$((failed + rc))
        # Left out, for CI's time budget (instrumented, the suite runs 2-3 times slower): the
        # files whose work is mostly podman's, buildah's, containerd's and the demo build's
        # (they reach crun-lite through the verbs the other files test directly),
        # test_killed.py (~600 runs, each killed) and test_registry.py (its documents go
        # through the parsers the unit tests and fuzzers check instrumented).
        left_out="test_demo.py test_buildah.py test_podman.py test_containerd.py test_cri.py test_killed.py test_registry.py"
        CRUNLITE_BIN=$asan_build/src/cli/crun-lite CRUNLITE_PROBE=$asan_build/tests/fixtures/probe \
            integration sanitizers "$left_out"
        unset ASAN_OPTIONS UBSAN_OPTIONS
        # A report is an error (ASan, LSan, UBSan); a file with warnings alone (LSan's
        # "Unable to get registers from thread N" for a thread that is exiting) is shown.
        errors=$(grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: " "$reports"/* 2>/dev/null)
        n=$(grep -c . <<<"$errors")
        echo "sanitizers: $((passed - before[0])) passed, $((failed - before[1])) failed, $((skipped - before[2])) skipped; $n reports"
        for r in "$reports"/*; do
            [[ -f $r ]] || continue
            if grep -qxF "$r" <<<"$errors"; then echo "!! $r:"; else echo "sanitizer warning only, $r:"; fi
            head -n 40 "$r"
        done
        ((n == 0)) || failed=$((failed + 1))
        rm -rf "$reports"
    else
        tail -n 40 "$asan_build.log"
        echo "!! the sanitizer build failed"
        failed=$((failed + 1))
    fi
fi

# The Debian package (contrib/package.sh: build, lintian), installed with apt; then the files
# above through the installed crun-lite, which finds its installed crun-lite-init and
# crun-lite-pull (CRUNLITE_INIT and CRUNLITE_PULL emptied: no build tree's); then purged.
# If it does not build or install, that fails and the files run against the build tree.
# It is built in the background while the fuzzers run (each on one core of two).
package_tests() {
    echo "== Debian package (contrib/package.sh)"
    if ((pkg_pid)) && wait "$pkg_pid" && tail -n 3 "$deb_dir/build.log" &&
        apt-get install -y -q -o DPkg::Lock::Timeout=300 "$deb_dir"/crun-lite_*.deb >"$deb_dir/apt.log" 2>&1; then
        passed=$((passed + 1))
        echo "installed $(dpkg-query -W -f='${Package} ${Version}' crun-lite): $(/usr/bin/crun-lite --version | head -n1)"
        CRUNLITE_BIN=/usr/bin/crun-lite CRUNLITE_INIT= CRUNLITE_PULL= integration package "" "$package_files"
        apt-get purge -y -q -o DPkg::Lock::Timeout=300 crun-lite >>"$deb_dir/apt.log" 2>&1 ||
            { tail -n 20 "$deb_dir/apt.log"; echo "!! apt-get purge crun-lite failed"; failed=$((failed + 1)); }
    elif ((pkg_pid)); then
        tail -n 30 "$deb_dir/build.log"
        [[ -f $deb_dir/apt.log ]] && tail -n 20 "$deb_dir/apt.log"
        echo "!! the package did not build or install: the files run against the build tree"
        failed=$((failed + 1))
        integration "" "" "$package_files"
    else
        echo "!! a crun-lite package is installed already: left alone, the files run against the build tree"
        skipped=$((skipped + 1))
        integration "" "" "$package_files"
    fi
    rm -rf "$deb_dir"
}
pkg_pid=0
if ((package)); then
    deb_dir=$(mktemp -d /tmp/crun-lite-deb.XXXXXX)
    export DEBIAN_FRONTEND=noninteractive
    if ! dpkg-query -W -f='${Status}\n' crun-lite 2>/dev/null | grep -q ' installed$'; then
        nice -n 10 "$repo/contrib/package.sh" "$deb_dir" >"$deb_dir/build.log" 2>&1 &
        pkg_pid=$!
    fi
fi

# Fuzzing: each libFuzzer harness of tests/fuzz for 30 s (clang, ASan+UBSan;
# FUZZ_SECONDS sets it; 30 keeps CI within its 45 minutes next to the sanitizer
# run), from its seed corpus; a crash, sanitizer report, leak or hang fails.  Not
# when the arguments pick some integration tests.
if [[ $# -eq 0 ]]; then
    export FUZZ_SECONDS=${FUZZ_SECONDS:-30}
    echo "== fuzzing (tests/fuzz, $FUZZ_SECONDS s per harness)"
    if "$repo/contrib/fuzz.sh"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

((package)) && package_tests

# The OCI project's validation suite, side by side with runc (root only; needs
# ../shared/conformance next to the repo, else it says so and counts as skipped).
# Not when the arguments pick some integration tests.
if [[ $(id -u) -eq 0 && $# -eq 0 ]]; then
    echo "== OCI runtime-tools conformance against runc"
    "$repo/contrib/conformance.sh"
    case $? in
        0) passed=$((passed + 1)) ;;
        77) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
    esac
fi

echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
