"""Time of RTL co-verification (cocotb + Icarus) of the 8-bit catalog, against an exact baseline.

Baseline, measured in the same run: one behavioural exact multiplier (``assign y = a * b``) checked
over all 65,536 pairs as a bring-your-own module. Then the 49 generated 8-bit multipliers (EXACT and
M1..M6 x P0..P14, 49 x 65,536 = 3.2 M vectors) as ``opmodels verify -j JOBS`` runs them, and, with
``--loa``, LOA0..LOA14 at width 32. Prints seconds and ratios to the baseline; ``--json`` for a record.

    PYTHONPATH=$PWD python benchmarks/bench_rtl_verify.py -j 2 [--loa] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import opmodels
from opmodels.verify import verify, verify_catalog


def baseline_seconds() -> float:
    with tempfile.TemporaryDirectory(prefix="opmodels-bench-") as directory:
        source = Path(directory) / "behavioural.v"
        source.write_text("module behavioural (a, b, y);\n  input signed [7:0] a, b;\n"
                          "  output signed [15:0] y;\n  assign y = a * b;\nendmodule\n")
        start = time.perf_counter()
        result = verify(opmodels.get("EXACT"), verilog=source, top="behavioural")
        elapsed = time.perf_counter() - start
    assert result.passed, result
    return elapsed


def timed(ids, jobs: int) -> tuple[float, int, int]:
    start = time.perf_counter()
    results = verify_catalog([opmodels.get(i) for i in ids], jobs=jobs, progress=False)
    elapsed = time.perf_counter() - start
    return elapsed, sum(r.vectors for r in results), sum(r.mismatches for r in results)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--loa", action="store_true", help="also LOA0..LOA14 at width 32 (200,000 + corners each)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    record = {"jobs": args.jobs, "baseline_exact_behavioural_s": baseline_seconds()}
    multipliers = ["EXACT", *opmodels.multipliers_8bit()]
    seconds, vectors, mismatches = timed(multipliers, args.jobs)
    record["catalog_8bit"] = {"operators": len(multipliers), "vectors": vectors, "mismatches": mismatches,
                              "seconds": seconds, "ratio_to_baseline": seconds / record["baseline_exact_behavioural_s"]}
    if args.loa:
        loas = [f"LOA{l}" for l in range(15)]
        seconds, vectors, mismatches = timed(loas, args.jobs)
        record["loa_32bit"] = {"operators": len(loas), "vectors": vectors, "mismatches": mismatches,
                               "seconds": seconds, "ratio_to_baseline": seconds / record["baseline_exact_behavioural_s"]}
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(f"baseline: behavioural a*b, 65,536 pairs, one bench: {record['baseline_exact_behavioural_s']:.2f} s")
    for key in ("catalog_8bit", "loa_32bit"):
        if key in record:
            r = record[key]
            print(f"{key}: {r['operators']} operators, {r['vectors']:,} vectors, {r['mismatches']} mismatches, "
                  f"{r['seconds']:.1f} s with -j {args.jobs} ({r['ratio_to_baseline']:.1f} x baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
