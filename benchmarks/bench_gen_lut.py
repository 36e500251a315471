"""Time of `opmodels gen-lut --all` (49 tables: EXACT + M1..M6 x P0,2..14) in a fresh process.

    python benchmarks/bench_gen_lut.py [--repeat 3] [--json]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    times = {"startup (python -c 'import opmodels')": [], "gen-lut --all, whole command": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import opmodels"], check=True)
        times["startup (python -c 'import opmodels')"].append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "opmodels", "gen-lut", "--all", "-o", out], check=True,
                           capture_output=True)
            times["gen-lut --all, whole command"].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in times.items()}
    if args.json:
        print(json.dumps({"best_seconds": best, "all_seconds": times}, indent=2))
        return
    for name, value in best.items():
        print(f"{name:<42} {value:6.2f} s  (best of {args.repeat})")


if __name__ == "__main__":
    main()
