#!/bin/bash
# Runs the OCI runtime-tools validation suite against crun-lite and runc side by
# side, as root, and fails on any test that runc passes and crun-lite does not.
# The suite comes from ../shared/conformance/runtime-tools.sh next to the repo
# (or $CRUNLITE_CONFORMANCE); without it, or without root, it exits 77 saying why.
# A program with such a test is run once more for both runtimes (some tests
# race: see docs/conformance.md) and the second result counts.
# Prints the totals side by side; raw TAP logs stay in $RT_WORK/out/.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$repo/build}
suite=${CRUNLITE_CONFORMANCE:-$repo/../shared/conformance/runtime-tools.sh}
runc=/usr/sbin/runc
bin=$build/src/cli/crun-lite
export RT_WORK=${RT_WORK:-/var/tmp/runtime-tools-260e151}

[[ -f $suite ]] || { echo "conformance: skipped: no OCI validation suite at $suite"; exit 77; }
[[ $(id -u) -eq 0 ]] || { echo "conformance: skipped: the suite runs as root"; exit 77; }
"$repo/contrib/setup-deps.sh" --conformance >/dev/null || exit 1
[[ -x $runc ]] || { echo "conformance: $runc missing after setup" >&2; exit 1; }

results=$(mktemp -d /tmp/crun-lite-conformance.XXXXXX)
trap 'rm -rf "$results"' EXIT
# One run of both runtimes; logs are copied out since the next run replaces them.
run() {  # SUMMARY_FILE [TEST...]
    local summary=$1; shift
    bash "$suite" --compare "$runc" "$bin" "$@" >"$summary" 2>"$summary.err"
    local rc=$?
    ((rc == 0)) || { cat "$summary" "$summary.err" >&2; echo "conformance: the suite failed to run (exit $rc)" >&2; exit 1; }
    for name in runc crun-lite; do
        mkdir -p "$results/$name"
        cp "$RT_WORK/out/$name/"*.log "$results/$name/"
    done
}
compare() { python3 "$repo/tests/conformance/compare.py" "$results/runc" "$results/crun-lite" "$results"/summary*.txt; }

echo "== OCI runtime-tools: runc and crun-lite, side by side"
run "$results/summary1.txt"
grep TOTAL "$results/summary1.txt"
compare >"$results/compare.txt"
rerun=$(sed -n 's/^rerun: //p' "$results/compare.txt")
if [[ -n $rerun ]]; then
    echo "conformance: once more, for tests runc passed and crun-lite did not: $rerun"
    # shellcheck disable=SC2086
    run "$results/summary2.txt" $rerun
fi
compare
