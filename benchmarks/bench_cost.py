"""Time of `opmodels cost --all` (64 operators: EXACT, M1..M6 x P0,2..14, LOA0..14) in a fresh process,
with an empty cache (every operator synthesised by Yosys, checked and simulated) and with a full one.
Ratios are against `opmodels cost EXACT` with an empty cache, in the same run.

    python benchmarks/bench_cost.py [--repeat 3] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def timed(args, cache):
    env = dict(os.environ, OPMODELS_CACHE_DIR=cache)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "opmodels", "cost", *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    names = ("cost EXACT, empty cache", "cost --all, empty cache", "cost --all, cached")
    times = {name: [] for name in names}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            times[names[0]].append(timed(["EXACT"], cache))
        with tempfile.TemporaryDirectory() as cache:
            times[names[1]].append(timed(["--all"], cache))
            times[names[2]].append(timed(["--all"], cache))
    best = {name: min(values) for name, values in times.items()}
    ratios = {name: best[name] / best[names[0]] for name in names}
    if args.json:
        print(json.dumps({"best_seconds": best, "ratio_to_exact": ratios, "all_seconds": times}, indent=2))
        return
    for name in names:
        print(f"{name:<28} {best[name]:7.2f} s  {ratios[name]:6.1f} x EXACT  (best of {args.repeat})")


if __name__ == "__main__":
    main()
