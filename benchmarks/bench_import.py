"""Time of `opmodels import` end to end in a fresh process (Yosys synthesis, lowering to the IR, the
proof: Icarus simulation of the source against the imported operator, storing): an 8-bit multiplier
(examples/rtl/mul8s_acme.v, proof on all 65,536 pairs; target <= 10 s) and a 16-bit one (the catalog's
M4P12W16, its generated Verilog imported back; proof on 200,000 seeded random pairs plus corners;
target <= 60 s). The time of each stage comes from the operator's provenance.

    python benchmarks/bench_import.py [--repeat 3] [--quick] [--json]

--quick: one repetition, and the 16-bit proof on 20,000 random pairs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "opmodels", *args], cwd=cwd, env=env, capture_output=True, check=False,
                            text=True)
    if result.returncode:
        sys.exit(f"opmodels {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return time.perf_counter() - start


def stages(directory: Path, op_id: str) -> dict:
    record = json.loads((directory / f"{op_id}.json").read_text())["provenance"]
    return {"synthesis": record["synthesis"]["seconds"], "simulation": record["proof"]["simulation_seconds"],
            "vectors": record["proof"]["vectors"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    results = {}
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        run("gen-verilog", "M4P12W16", "-o", str(work / "rtl"), cwd=work)
        cases = {
            "8-bit mul8s_acme (65,536 pairs)": (
                "mul8s_acme", [str(ROOT / "examples/rtl/mul8s_acme.v"), "--top", "mul8s_acme", "--port-a", "A",
                               "--port-b", "B", "--port-y", "O"]),
            "16-bit M4P12W16 round trip": (
                "rt16", [str(work / "rtl" / "M4P12W16.v"), "--top", "opm_m4p12w16", "--id", "rt16",
                             *(["--vectors", "20000"] if args.quick else [])]),
        }
        for name, (op_id, options) in cases.items():
            times, detail = [], {}
            for k in range(repeat):
                out = work / f"ops{k}-{op_id}"
                times.append(run("import", *options, "-o", str(out), cwd=work))
                detail = stages(out, op_id)
            results[name] = {"best_seconds": min(times), "all_seconds": times, **detail}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        print(f"{name:<34} {r['best_seconds']:7.2f} s end to end (best of {repeat}); synthesis "
              f"{r['synthesis']:.2f} s, simulation of {r['vectors']} vectors {r['simulation']:.2f} s")


if __name__ == "__main__":
    main()
