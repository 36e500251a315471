"""A/B of a whole netsim forward at two commits, robust to a busy machine: one thread, CPU time.

The network counterpart of ab_kernels.py: each commit is exported (``git archive``) to a temporary
folder and runs in its own process, alternating; each process builds the zoo model (random weights,
seed 0), converts it with the multiplier everywhere (strict), and times the torch fp32 forward and the
approximate forward alternately with ``time.process_time`` on one torch and one numba thread, best of
``--calls`` after a warm-up. Prints both times and their ratio per commit, and checks that the two
commits give the same logits.

    python benchmarks/ab_netsim.py main HEAD [--model mobilenet] [--batch 256] [--multiplier M4P8] [--rounds 2]

One-thread ratios are not the two-thread ratios of bench_netsim.py (torch's convolutions and our
kernels scale differently with threads): use this to compare commits, bench_netsim.py on a quiet
machine for the goals.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from ab_kernels import export  # noqa: E402  (one export of a commit for both A/B scripts)

CHILD = r"""
import hashlib, json, sys, time
import numba, torch
numba.set_num_threads(1)
torch.set_num_threads(1)
import netsim, opmodels
from netsim import zoo
model_name, batch, multiplier, calls = json.loads(sys.argv[1])
torch.manual_seed(0)
model = zoo.build(model_name).eval()
x = torch.rand(batch, *zoo.ZOO[model_name].input_shape)
amodel = netsim.convert(model, netsim.Config.uniform(multiplier=multiplier), calibration=[x], strict=True)
best = {"fp32": float("inf"), "approx": float("inf")}
with torch.inference_mode():
    logits = amodel(x)
    model(x)
    for _ in range(calls):
        for name, forward in (("fp32", model), ("approx", amodel)):
            start = time.process_time()
            forward(x)
            best[name] = min(best[name], time.process_time() - start)
digest = hashlib.sha256(logits.numpy().tobytes()).hexdigest()
print(json.dumps([best["fp32"], best["approx"], digest, opmodels.__file__]))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commits", nargs=2, metavar="COMMIT", help="the two commits (A, then B)")
    parser.add_argument("--model", default="mobilenet")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--multiplier", default="M4P8")
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    spec = json.dumps([args.model, args.batch, args.multiplier, args.calls])
    with tempfile.TemporaryDirectory() as tmp:
        folders = [export(commit, Path(tmp)) for commit in args.commits]
        env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        env.setdefault("OPMODELS_CACHE_DIR", str(Path(tmp) / "cache"))
        for round_ in range(args.rounds):
            line, digests = [], set()
            for commit, folder in zip(args.commits, folders):
                run = subprocess.run([sys.executable, "-c", CHILD, spec], env=dict(env, PYTHONPATH=str(folder)),
                                     cwd=folder, capture_output=True, text=True, check=False)
                if run.returncode:
                    sys.exit(f"{commit}: {run.stderr.strip().splitlines()[-1]}")
                fp32, approx, digest, imported = json.loads(run.stdout)
                if not Path(imported).is_relative_to(folder):  # an installed copy would shadow the commit
                    sys.exit(f"{commit}: imported opmodels from {imported}, not from its export")
                digests.add(digest)
                line.append(f"{commit} fp32 {fp32 * 1e3:7.1f} ms, {args.multiplier} {approx * 1e3:7.1f} ms "
                            f"({approx / fp32:4.2f}x)")
            same = "same logits" if len(digests) == 1 else "LOGITS DIFFER"
            print(f"{args.model} batch {args.batch} round {round_ + 1}: {' | '.join(line)}  [{same}]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
