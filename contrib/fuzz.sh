#!/bin/bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan, into
# $FUZZ_BUILD, default <repo>/build-fuzz) and runs each for FUZZ_SECONDS
# (default 60) from a copy of its seed corpus in tests/fuzz/corpus/<name>.
# A crash, a sanitizer report, a leak or a timeout fails the run; the input
# that caused it is printed (base64) and kept in $FUZZ_OUT.  Prints
# "fuzz <name>: N runs" per harness.  A $FUZZ_OUT this script made is removed
# when every harness passed and kept (its path printed) when one failed.
# `contrib/fuzz.sh config layer` runs some; `contrib/fuzz.sh --build` only builds them.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FUZZ_BUILD:-$repo/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
out=${FUZZ_OUT:-$(mktemp -d /tmp/crun-lite-fuzz.XXXXXX)}
build_only=0
[[ ${1:-} == --build ]] && { build_only=1; shift; }
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(config image layer user flags archive)

"$repo/contrib/setup-deps.sh" --fuzz >/dev/null || exit 1
if [[ ! -f $build/build.ninja ]]; then
    # -O1 with line tables (as libFuzzer's docs build): quicker to compile than -O2 -g.
    CXX=clang++ CC=clang meson setup "$build" "$repo" -Dfuzzing=true --buildtype=plain -Doptimization=1 \
        -Dcpp_args=-gline-tables-only >"$out/setup.log" 2>&1 ||
        { cat "$out/setup.log"; echo "fuzz: meson setup failed" >&2; exit 1; }
fi
ninja -C "$build" >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log"; echo "fuzz: build failed" >&2; exit 1; }
((build_only)) && { [[ -n ${FUZZ_OUT:-} ]] || rm -rf "$out"; exit 0; }

failed=0
for name in "${harnesses[@]}"; do
    corpus=$out/corpus-$name
    mkdir -p "$corpus" "$out/$name"
    cp -r "$repo/tests/fuzz/corpus/$name/." "$corpus/"
    log=$out/$name.log
    # -timeout: one input longer than 10 s is a hang; -rss_limit_mb: a memory bomb.
    "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/$name/" -print_final_stats=1 "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    echo "fuzz $name: ${runs:-0} runs in ${seconds} s"
    if ((rc != 0)); then
        failed=1
        echo "!! fuzz $name failed (exit $rc):"
        grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -n 20
        for a in "$out/$name"/*; do
            [[ -f $a ]] && { echo "   reproducer $(basename "$a") (base64):"; base64 -w0 "$a" | head -c 4000; echo; }
        done
    fi
done
if [[ -z ${FUZZ_OUT:-} ]]; then
    if ((failed)); then echo "fuzz: logs, corpora and reproducers kept in $out"; else rm -rf "$out"; fi
fi
exit $failed
