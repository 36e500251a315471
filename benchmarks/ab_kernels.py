"""A/B of the kernels at two commits, robust to a busy machine: one thread, CPU time.

Each commit is exported (``git archive``) to a temporary folder; the commits then run in alternating
processes, each timing one call shape with ``time.process_time`` on one numba thread (a busy machine
slows wall time by up to 10x here; the CPU time a single-threaded call gets is far steadier), best of
``--calls`` calls after two warm-ups (compilation and the table cache), the whole alternation
``--rounds`` times. Results are checked equal between the commits.

    python benchmarks/ab_kernels.py HEAD~1 HEAD --case conv --case linear [--multiplier M4P8] [--adder LOA8]

Cases (the shapes of bench_kernels.py, random int8 operands): conv (8x64x56x56, 64 3x3 filters,
pad 1), linear (256x512 @ 512x512), late (ResNet stage 3: 32x256x8x8, 256 3x3 filters), lenet1 and
lenet2 (LeNet-5's convolutions at batch 256), dw14, dw7 and dw4 (depthwise 3x3 at batch 256:
64x14x14, and MobileNet's 72x7x7 and 96x4x4). ``--multiplier NOSPLIT8``: bench_kernels' table
without a split.
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

CASES = {  # name: (x shape, w shape, padding[, groups]) - padding None is a matmul
    "conv": ((8, 64, 56, 56), (64, 64, 3, 3), 1),
    "linear": ((256, 512), (512, 512), None),
    "late": ((32, 256, 8, 8), (256, 256, 3, 3), 1),
    "lenet1": ((256, 1, 28, 28), (6, 1, 5, 5), 2),
    "lenet2": ((256, 6, 14, 14), (16, 6, 5, 5), 0),
    "dw14": ((256, 64, 14, 14), (64, 1, 3, 3), 1, 64),  # depthwise 3x3 (LUT mode's column kernel)
    "dw7": ((256, 72, 7, 7), (72, 1, 3, 3), 1, 72),     # MobileNet's (netsim.zoo) 7x7 and 4x4 blocks
    "dw4": ((256, 96, 4, 4), (96, 1, 3, 3), 1, 96),
    "pw14": ((256, 64, 14, 14), (128, 64, 1, 1), 0),  # pointwise 1x1: a short k, the finishing pass shows
}

# Runs in the child process, with the exported commit first on sys.path.
CHILD = r"""
import hashlib, json, sys, time
import numba, numpy as np
numba.set_num_threads(1)
from opmodels import kernels
xs, ws, pad, groups, multiplier, adder, calls = json.loads(sys.argv[1])
if multiplier == "NOSPLIT8":
    sys.path.insert(0, sys.argv[2])
    from bench_kernels import nosplit_operator
    multiplier = nosplit_operator()
rng = np.random.default_rng(0)
x = rng.integers(-128, 128, xs).astype(np.int8)
w = rng.integers(-128, 128, ws).astype(np.int8)
if pad is None:
    call = lambda: kernels.matmul(x, w, multiplier, adder)
else:
    call = lambda: kernels.conv2d(x, w, multiplier, adder, padding=pad, groups=groups)
result = call(); call()
best = float("inf")
for _ in range(calls):
    start = time.process_time()
    call()
    best = min(best, time.process_time() - start)
import opmodels
print(json.dumps([best, hashlib.sha256(np.ascontiguousarray(result).tobytes()).hexdigest(), opmodels.__file__]))
"""


def macs(xs, ws, pad) -> int:
    if pad is None:
        return xs[0] * xs[1] * ws[1]
    ho = xs[2] + 2 * pad - ws[2] + 1
    wo = xs[3] + 2 * pad - ws[3] + 1
    return xs[0] * ho * wo * ws[0] * ws[1] * ws[2] * ws[3]


def export(commit: str, into: Path) -> Path:
    folder = into / commit.replace("/", "_")
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commits", nargs=2, metavar="COMMIT", help="the two commits (A, then B)")
    parser.add_argument("--case", action="append", choices=list(CASES), help="call shapes (default: conv, linear)")
    parser.add_argument("--multiplier", default="M4P8")
    parser.add_argument("--adder", default="exact")
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folders = [export(commit, Path(tmp)) for commit in args.commits]
        env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        env.setdefault("OPMODELS_CACHE_DIR", str(Path(tmp) / "cache"))
        for case in args.case or ["conv", "linear"]:
            xs, ws, pad, groups = (CASES[case] + (1,))[:4]
            spec = json.dumps([xs, ws, pad, groups, args.multiplier, args.adder, args.calls])
            for round_ in range(args.rounds):
                line, digests = [], set()
                for commit, folder in zip(args.commits, folders):
                    run = subprocess.run([sys.executable, "-c", CHILD, spec, str(folder / "benchmarks")],
                                         env=dict(env, PYTHONPATH=str(folder)), cwd=folder, capture_output=True,
                                         text=True)  # cwd: "python -c" puts it first on sys.path
                    if run.returncode:
                        sys.exit(f"{commit}: {run.stderr.strip().splitlines()[-1]}")
                    seconds, digest, imported = json.loads(run.stdout)
                    if not Path(imported).is_relative_to(folder):  # an installed copy would shadow the commit
                        sys.exit(f"{commit}: imported opmodels from {imported}, not from its export")
                    digests.add(digest)
                    line.append(f"{commit} {seconds * 1e3:8.2f} ms ({macs(xs, ws, pad) / seconds / 1e9:5.2f} GMAC/s)")
                same = "same results" if len(digests) == 1 else "RESULTS DIFFER"
                print(f"{case:<7} {args.multiplier}+{args.adder} round {round_ + 1}: {' | '.join(line)}  [{same}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
