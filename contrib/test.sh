#!/bin/bash
# Sets up (packages, build) and runs every test: the Catch2 unit tests, then each
# integration test file as root and as an unprivileged user, then again against an
# ASan+UBSan build, then the fuzzers (contrib/fuzz.sh), then (as root) the podman,
# containerd, CRI and buildah files against the Debian package (contrib/package.sh,
# installed for them, then purged) instead of the build tree, and the OCI runtime-tools
# suite compared with runc (contrib/conformance.sh).  The sanitizer build, the fuzzers'
# build and the package are built in the background, at the lowest priority, while
# the first tests run.  Each "==" line gives the seconds since the start.
# Run as root on a Debian 12 machine.  Prints "N passed, N failed, N skipped" last; exits 1 if any
# test failed.  Extra arguments are passed to the integration files (e.g. -k kill).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD=${BUILD:-$repo/build}
export CRUNLITE_WERROR=1  # the tests' build treats warnings as errors
# The podman, containerd and buildah tests drive the real tools, installed here.
start=$SECONDS
stage() { echo "== $* [$((SECONDS - start)) s]"; }
"$repo/contrib/setup-deps.sh" --podman --containerd --buildah --registry --systemd --demo --conformance --fuzz --package || exit 1
export CRUNLITE_BIN=$BUILD/src/cli/crun-lite CRUNLITE_PROBE=$BUILD/tests/fixtures/probe
# Rootless slirp4netns (run --image -p, podman) opens /dev/net/tun and fuse-overlayfs
# /dev/fuse: Debian's default mode for both is 0666, some machines have 0600.
for dev in /dev/net/tun /dev/fuse; do
    [[ $(id -u) -ne 0 || $(stat -c %a "$dev" 2>/dev/null) == 666 ]] || chmod 0666 "$dev" 2>/dev/null || true
done

passed=0 failed=0 skipped=0
args=("$@")
# When no arguments pick integration tests: the sanitizer pass (CRUNLITE_SANITIZE=0: not),
# the fuzzers, and as root the package (CRUNLITE_PACKAGE=0: not), through which the files
# below run instead of through the build tree.
sanitize=0 fuzz=0 package=0
if [[ $# -eq 0 ]]; then
    fuzz=1
    [[ ${CRUNLITE_SANITIZE:-1} == 1 ]] && sanitize=1
    [[ $(id -u) -eq 0 && ${CRUNLITE_PACKAGE:-1} == 1 ]] && package=1
fi
package_files="test_podman.py test_containerd.py test_cri.py test_buildah.py"
asan_build=${ASAN_BUILD:-$repo/build-asan}
if ((package)); then
    deb_dir=$(mktemp -d /tmp/crun-lite-deb.XXXXXX)
    export DEBIAN_FRONTEND=noninteractive
    # An installed crun-lite package is left alone: the files run against the build tree.
    dpkg-query -W -f='${Status}\n' crun-lite 2>/dev/null | grep -q ' installed$' && package=2
fi

# The background builds, one after another at nice 19, each in the order its stage needs
# it; `built NAME` waits for one and returns its exit status (its output: $bg/NAME.log).
bg=$(mktemp -d /tmp/crun-lite-builds.XXXXXX)
(
    renice -n 19 -p "$BASHPID" >/dev/null
    if ((sanitize)); then
        {
            # werror stays with the plain build: gcc's warnings under -fsanitize are not all
            # sound.  -O1 and line tables only (-g1, enough for the reports' file:line): a
            # third of -O2 -g's compile time under the sanitizers.  Without UBSan's alignment
            # and null checks (x86 loads misaligned data; ASan reports a null dereference as
            # a SEGV) and not position-independent: their records made an 80 MB .data of
            # 3 million relocations that each start relocated and LSan scanned, 0.2 s of
            # every crun-lite command (now 0.04; test_cli.py 42 s, now 12).
            [[ -f $asan_build/build.ninja ]] ||
                meson setup "$asan_build" "$repo" --buildtype=plain -Doptimization=1 \
                    "-Dcpp_args=['-g1','-fno-sanitize=alignment,null']" -Db_pie=false -Dcpp_link_args=-no-pie \
                    -Db_sanitize=address,undefined
        } >"$bg/asan.log" 2>&1 && ninja -C "$asan_build" >>"$bg/asan.log" 2>&1
        echo $? >"$bg/asan.rc"
    fi
    if ((fuzz)); then
        "$repo/contrib/fuzz.sh" --build >"$bg/fuzz.log" 2>&1
        echo $? >"$bg/fuzz.rc"
    fi
    if ((package == 1)); then
        "$repo/contrib/package.sh" "$deb_dir" >"$deb_dir/build.log" 2>&1
        echo $? >"$bg/package.rc"
    fi
) &
bg_pid=$!
built() {
    until [[ -f $bg/$1.rc ]]; do
        kill -0 "$bg_pid" 2>/dev/null || [[ -f $bg/$1.rc ]] || { echo "!! the background builds died"; return 1; }
        sleep 1
    done
    return "$(<"$bg/$1.rc")"
}
cleanup() { rm -rf "$bg" ${demo_dir:+"$demo_dir"}; }
trap cleanup EXIT

# The demo image (tests/integration/test_demo.py), built once for both modes; its RUN
# steps go through the crun-lite under test.
if [[ $(id -u) -eq 0 && -z ${CRUNLITE_DEMO_ARCHIVE:-} ]]; then
    demo_dir=$(mktemp -d /tmp/crun-lite-demo-image.XXXXXX)
    chmod 0755 "$demo_dir"
    stage "building the demo image"
    if "$repo/contrib/demo/build-image.sh" "$demo_dir/app.tar" "$CRUNLITE_BIN" >"$demo_dir/build.log" 2>&1; then
        chmod 0644 "$demo_dir/app.tar"
        export CRUNLITE_DEMO_ARCHIVE=$demo_dir/app.tar
    else
        echo "!! the demo image did not build (test_demo.py builds it again and reports):"
        tail -n 20 "$demo_dir/build.log"
    fi
fi

stage "unit tests"
unit=$BUILD/tests/unit/unit_tests
total=$("$unit" --list-test-names-only | grep -c .)
"$unit"
rc=$?  # Catch2 exits with the number of failed test cases
passed=$((passed + total - rc)) failed=$((failed + rc))

modes=(root user)
[[ $(id -u) -eq 0 ]] || modes=(user)
integration() {  # each integration file in each mode, against $CRUNLITE_BIN; $1: a label, $2: files to leave out, $3: files to run (default all), $4: modes (default all)
    local file mode log rc p f s run_modes
    read -ra run_modes <<<"${4:-${modes[*]}}"
    for file in "$repo"/tests/integration/test_*.py; do
        [[ " ${2:-} " == *" $(basename "$file") "* ]] && continue
        [[ -z ${3:-} || " $3 " == *" $(basename "$file") "* ]] || continue
        for mode in "${run_modes[@]}"; do
            stage "$(basename "$file") --as $mode${1:+ ($1)}"
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
integration "" "$( ((package)) && echo "$package_files")"

# Sanitizers: the unit tests and the integration suite once more (but the files
# named below), against an ASan+UBSan build (gcc, linked dynamically: a static-pie
# cannot carry the sanitizer runtimes; crun-lite-init and the probe stay static and
# plain, as they run inside containers).  Reports go to files; any error in them fails.
if ((sanitize)); then
    stage "ASan+UBSan build in $asan_build"
    if built asan; then
        reports=$(mktemp -d /tmp/crun-lite-sanitizers.XXXXXX)
        chmod 1777 "$reports"  # the unprivileged user's runs write here too
        export ASAN_OPTIONS="log_path=$reports/asan:halt_on_error=1:detect_leaks=1"
        export UBSAN_OPTIONS="log_path=$reports/ubsan:halt_on_error=1:print_stacktrace=1"
        before=("$passed" "$failed" "$skipped")
        stage "unit tests (sanitizers)"
        "$asan_build/tests/unit/unit_tests"
        rc=$?
        passed=$((passed + total - rc)) failed=$((failed + rc))
        # For CI's time budget (instrumented, the suite runs ~1.5 times slower), each file
        # runs once, rootless: the mode in which crun-lite does the most itself (user
        # namespaces, id mappings, import through a user namespace, rootless cgroups);
        # test_killed.py at every 4th of its kill points (the cleanups after the kills
        # are what this pass checks).  As root: test_cgroups.py and test_netdevices.py,
        # which rootless skips in part, and test_containerd.py and test_cri.py, which
        # rootless skip whole.
        root_only="test_containerd.py test_cri.py"
        both="test_cgroups.py test_netdevices.py"
        CRUNLITE_BIN=$asan_build/src/cli/crun-lite CRUNLITE_PROBE=$asan_build/tests/fixtures/probe \
            CRUNLITE_KILL_EVERY=4 integration sanitizers "$root_only" "" user
        [[ $(id -u) -eq 0 ]] && CRUNLITE_BIN=$asan_build/src/cli/crun-lite \
            CRUNLITE_PROBE=$asan_build/tests/fixtures/probe integration sanitizers "" "$both $root_only" root
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
        tail -n 40 "$bg/asan.log"
        echo "!! the sanitizer build failed"
        failed=$((failed + 1))
    fi
fi

# The Debian package (contrib/package.sh: build, lintian), installed with apt; then the files
# above through the installed crun-lite, which finds its installed crun-lite-init, crun-lite-pull
# and crun-lite-monitor (CRUNLITE_INIT, CRUNLITE_PULL, CRUNLITE_MONITOR emptied: no build tree's);
# then purged.
# If it does not build or install, that fails and the files run against the build tree.
package_tests() {
    stage "Debian package (contrib/package.sh)"
    if ((package == 1)) && built package && tail -n 3 "$deb_dir/build.log" &&
        apt-get install -y -q -o DPkg::Lock::Timeout=300 "$deb_dir"/crun-lite_*.deb >"$deb_dir/apt.log" 2>&1; then
        passed=$((passed + 1))
        unset CRUNLITE_HEALTH  # the installed crun-lite-health too, not one named by the caller
        echo "installed $(dpkg-query -W -f='${Package} ${Version}' crun-lite): $(/usr/bin/crun-lite --version | head -n1)"
        CRUNLITE_BIN=/usr/bin/crun-lite CRUNLITE_INIT='' CRUNLITE_PULL='' CRUNLITE_MONITOR='' integration package "" "$package_files"
        apt-get purge -y -q -o DPkg::Lock::Timeout=300 crun-lite >>"$deb_dir/apt.log" 2>&1 ||
            { tail -n 20 "$deb_dir/apt.log"; echo "!! apt-get purge crun-lite failed"; failed=$((failed + 1)); }
    elif ((package == 1)); then
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
# Fuzzing: each libFuzzer harness of tests/fuzz for 30 s (clang, ASan+UBSan;
# FUZZ_SECONDS sets it; 30 keeps CI within its 45 minutes next to the sanitizer
# run), from its seed corpus; a crash, sanitizer report, leak or hang fails.  A
# failed background build is tried again (and reported) by contrib/fuzz.sh.
if ((fuzz)); then
    export FUZZ_SECONDS=${FUZZ_SECONDS:-30}
    stage "fuzzing (tests/fuzz, $FUZZ_SECONDS s per harness)"
    built fuzz
    if "$repo/contrib/fuzz.sh"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

((package)) && package_tests

# The OCI project's validation suite, side by side with runc (root only; needs
# ../shared/conformance next to the repo, else it says so and counts as skipped).
# Not when the arguments pick some integration tests.
if [[ $(id -u) -eq 0 && $# -eq 0 ]]; then
    stage "OCI runtime-tools conformance against runc"
    "$repo/contrib/conformance.sh"
    case $? in
        0) passed=$((passed + 1)) ;;
        77) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
    esac
fi

wait "$bg_pid"
stage "done"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
