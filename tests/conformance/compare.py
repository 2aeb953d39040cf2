#!/usr/bin/env python3
"""Compares two runtime-tools result directories test by test.

    compare.py REFERENCE_OUT CANDIDATE_OUT SUMMARY...

Each directory holds one TAP log per test program (<program>.log), as
../shared/conformance/runtime-tools.sh leaves them under out/<runtime>/; each
SUMMARY is that script's standard output (a later one overrides an earlier one
for the programs it lists, as after a re-run).
A test is (program, description, n-th occurrence of that description): the
suite numbers tests differently when a program stops early, descriptions do not
change.  A program that exits non-zero failed as a whole (its own check, e.g.
"the runtime MUST refuse this config", comes after the checks it ran inside
the container): it counts as one more test, "<program> exits 0", and its TAP
passes do not count for it.
Prints the totals side by side and every test the reference passes and the
candidate does not ("regressions"), at most 40; the last line names the programs
that hold them, "rerun: p1 p2 ..." (empty when none).  Exits 1 when there are
regressions.
"""
import collections
import os
import re
import sys

LINE = re.compile(r"^(ok|not ok) \d+( - (.*))?$")


def results(out_dir):
    """{program: {"pass": set(keys), "fail": set(keys), "skip": int}}"""
    out = {}
    for name in sorted(os.listdir(out_dir)):
        if not name.endswith(".log"):
            continue
        prog = name[:-4]
        seen = collections.Counter()
        r = {"pass": set(), "fail": set(), "skip": 0}
        with open(os.path.join(out_dir, name), errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                skipped = "# SKIP" in line
                m = LINE.match(line.split(" # ")[0])
                if not m:
                    continue
                desc = m.group(3) or ""
                seen[desc] += 1
                key = (prog, desc, seen[desc])
                if skipped:
                    r["skip"] += 1
                elif m.group(1) == "ok":
                    r["pass"].add(key)
                else:
                    r["fail"].add(key)
        out[prog] = r
    return out


def exit_codes(summaries):
    """{runtime name: {program: exit code}} from runtime-tools.sh outputs."""
    codes = collections.defaultdict(dict)
    for path in summaries:
        name = None
        with open(path) as f:
            for line in f:
                if line.startswith("["):
                    name = line[1:line.index("]")]
                    continue
                parts = line.split()
                if name and len(parts) >= 5 and parts[0] != "TOTAL" and parts[4].lstrip("-").isdigit():
                    codes[name][parts[0]] = int(parts[4])
    return codes


def apply_exit_codes(res, codes):
    for prog, rc in codes.items():
        r = res.setdefault(prog, {"pass": set(), "fail": set(), "skip": 0})
        key = (prog, "exits 0", 1)
        if rc == 0:
            r["pass"].add(key)
        else:
            r["fail"].add(key)
            r["pass"].clear()  # nothing else of a failed program counts as passed


def totals(res):
    return (sum(len(r["pass"]) for r in res.values()), sum(len(r["fail"]) for r in res.values()),
            sum(r["skip"] for r in res.values()))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    ref_dir, cand_dir = sys.argv[1:3]
    ref, cand = results(ref_dir), results(cand_dir)
    rname, cname = os.path.basename(ref_dir.rstrip("/")), os.path.basename(cand_dir.rstrip("/"))
    codes = exit_codes(sys.argv[3:])
    apply_exit_codes(ref, codes.get(rname, {}))
    apply_exit_codes(cand, codes.get(cname, {}))
    print(f"{'runtime':12} {'ok':>6} {'not ok':>7} {'skip':>6}")
    for name, res in ((rname, ref), (cname, cand)):
        ok, no, sk = totals(res)
        print(f"{name:12} {ok:6d} {no:7d} {sk:6d}")
    regressions = []
    better = 0
    for prog, r in sorted(ref.items()):
        c = cand.get(prog, {"pass": set(), "fail": set(), "skip": 0})
        regressions += sorted(r["pass"] - c["pass"])
        better += len(c["pass"] - r["pass"])
    print(f"tests {cname} passes and {rname} does not: {better}")
    print(f"tests {rname} passes and {cname} does not: {len(regressions)}")
    for prog, desc, n in regressions[:40]:
        print(f"  {prog}: {desc or '(no description)'}" + (f" (#{n})" if n > 1 else ""))
    if len(regressions) > 40:
        print(f"  ... and {len(regressions) - 40} more")
    print("rerun: " + " ".join(sorted({p for p, _, _ in regressions})))
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
