"""CUDA kernels on a real GPU: time per call and agreement with the CPU kernels, in one run.

    python benchmarks/bench_cuda.py [--repeat 5] [--tiny] [--json]

Cases: Linear 512 -> 512 at batch 256 and Conv2d 64 -> 64 3x3 pad 1 on 8 x 64 x 56 x 56 (the CPU
benchmark's shapes), M4P8 with the exact adder and with LOA8. Operands are generated on the host,
copied to the device once, and every timed call runs on device arrays (``cuda.synchronize()`` before
the clock stops). Each result is compared with the CPU kernels bit for bit. ``--tiny`` shrinks the
shapes so the script also runs under NUMBA_ENABLE_CUDASIM=1 (a check of the script, not a timing).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from opmodels import kernels

SHAPES = {"linear": ((256, 512), (512, 512)), "conv2d": ((8, 64, 56, 56), (64, 64, 3, 3))}
TINY = {"linear": ((4, 20), (20, 3)), "conv2d": ((1, 2, 5, 5), (2, 2, 3, 3))}


def _call(layer: str, x, w, adder: str, backend: str):
    if layer == "linear":
        return kernels.matmul(x, w, "M4P8", adder, backend=backend)
    return kernels.conv2d(x, w, "M4P8", adder, padding=1, backend=backend)


def run(repeat: int, tiny: bool) -> list[dict]:
    from numba import cuda
    rng = np.random.default_rng(0)
    rows = []
    for layer, (x_shape, w_shape) in (TINY if tiny else SHAPES).items():
        x, w = rng.integers(-128, 128, x_shape), rng.integers(-128, 128, w_shape)
        dx, dw = cuda.to_device(x), cuda.to_device(w)
        for adder in ("exact", "LOA8"):
            got = _call(layer, dx, dw, adder, "cuda").copy_to_host()  # also the warm-up (compilation)
            same = bool(np.array_equal(got, _call(layer, x, w, adder, "cpu")))
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                _call(layer, dx, dw, adder, "cuda")
                cuda.synchronize()
                times.append(time.perf_counter() - start)
            rows.append({"layer": layer, "adder": adder, "best_ms": 1e3 * min(times), "equal_to_cpu": same})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="tiny shapes (for the CUDA simulator)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.repeat, args.tiny)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'layer':<8} {'adder':<6} {'best ms':>9}  equal to CPU")
        for r in rows:
            print(f"{r['layer']:<8} {r['adder']:<6} {r['best_ms']:>9.2f}  {r['equal_to_cpu']}")
    return 0 if all(r["equal_to_cpu"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
