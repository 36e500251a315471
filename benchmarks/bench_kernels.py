"""Speed of opmodels.kernels against torch float32 of the same layer, in the same process.

Workloads (issue 3): Conv2d 64->64, 3x3, pad 1 on an 8x64x56x56 input, and Linear 512->512 on 256x512,
8-bit operands, M4P8, 2 threads for both numba and torch. Every result is checked bit for bit before it
is timed. Ratios are ours / torch fp32 (best of --repeat runs each); the machine is shared, so re-run
when it is quiet and keep the best.

    PYTHONPATH=$PWD python benchmarks/bench_kernels.py [--json] [--repeat 5] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THREADS = 2


def best_times_alternating(fns, repeat: int) -> list[float]:
    """Best time of each function after a warm-up call (compilation, caches), calls alternating, so
    a busy spell on the shared machine slows every contender alike instead of one."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def best_time(fn, repeat: int) -> float:
    return best_times_alternating([fn], repeat)[0]


def gather_kernel_matmul(plan, x, w):
    """The LUT gather loop alone (what LUT mode runs for a table without a split)."""
    from opmodels.kernels import cpu
    return cpu.matmul(plan, x, w)


def gather_kernel_conv(plan, x, w, padding):
    from opmodels.kernels import conv_geometry, cpu
    return cpu.conv2d(plan, x, w, conv_geometry(x.shape, w.shape, padding=padding))


def check_conv_slice(x, w, got, multiplier, adder, padding, images=1, channels=4):
    """The plain numpy reference (tests/utils.py) on a slice: the full layer would need 7 GB."""
    from tests.utils import conv2d_reference
    expected = conv2d_reference(x[:images], w[:channels], multiplier, adder, 32, padding=(padding, padding))
    if not np.array_equal(got[:images, :channels], expected):
        raise SystemExit(f"NOT BIT-EXACT: conv2d {multiplier} {adder} differs from the numpy reference")


def check(name, got, expected):
    if not np.array_equal(got, expected):
        raise SystemExit(f"NOT BIT-EXACT: {name}")


def cache_timing() -> dict:
    """Compile time (fresh cache directory) and cache-load time (a second process, same directory)
    of a 16-bit behavioural multiplier's scalar function and matmul kernel."""
    snippet = (
        "import time, numpy as np; t0 = time.perf_counter(); import opmodels; "
        "from opmodels import kernels; from opmodels.backends import numba_cpu; "
        "op = opmodels.get('M4P16W16'); t1 = time.perf_counter(); f = numba_cpu.scalar_function(op); f(3, 5); "
        "t2 = time.perf_counter(); kernels.matmul(np.ones((2, 3), np.int64), np.ones((3, 2), np.int64), op); "
        "t3 = time.perf_counter(); print(t2 - t1, t3 - t2)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, OPMODELS_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", snippet], env=env, capture_output=True, text=True, check=True)
            runs.append([float(v) for v in out.stdout.split()])
    (scalar_compile, kernel_compile), (scalar_load, kernel_load) = runs
    return {"scalar_compile_s": scalar_compile, "kernel_compile_s": kernel_compile,
            "scalar_cache_load_s": scalar_load, "kernel_cache_load_s": kernel_load}


def linear16(rng, xl, wl, t_lin: float, repeat: int) -> tuple[float, float, float]:
    """Linear 512 -> 512, batch 256, 16-bit operands on M4P8W16: the chunk-table kernel (the split is
    proven from the IR), checked against the interpreter on 4 rows and against the per-MAC scalar
    function (timed once: it is ~10x slower) on the whole layer; timed alternating with torch fp32."""
    import torch.nn.functional as F

    from opmodels import kernels
    from opmodels.kernels import cpu
    from tests.utils import matmul_reference
    x16 = rng.integers(-2**15, 2**15, (256, 512))
    w16 = rng.integers(-2**15, 2**15, (512, 512))
    got = kernels.matmul(x16, w16, "M4P8W16")
    check("16-bit chunk tables vs interpreter", got[:4], matmul_reference(x16[:4], w16, "M4P8W16"))
    plan = kernels.plan("M4P8W16")
    start = time.perf_counter()
    check("16-bit chunk tables vs scalar function", got, cpu.matmul(plan, x16, w16))
    t_loop = time.perf_counter() - start
    t, t_lin_paired = best_times_alternating([lambda: kernels.matmul(x16, w16, "M4P8W16"), lambda: F.linear(xl, wl)],
                                             repeat)
    return t, t_loop, min(t_lin, t_lin_paired)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (best is kept)")
    parser.add_argument("--quick", action="store_true", help="skip the slow LOA conv and the cache timing")
    args = parser.parse_args(argv)

    import numba
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from opmodels import kernels
    numba.set_num_threads(THREADS)
    torch.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    rows, results = [], {"threads": THREADS, "multiplier": "M4P8"}

    x_conv = rng.integers(-128, 128, (8, 64, 56, 56)).astype(np.int8)
    w_conv = rng.integers(-128, 128, (64, 64, 3, 3)).astype(np.int8)
    x_lin = rng.integers(-128, 128, (256, 512)).astype(np.int8)
    w_lin = rng.integers(-128, 128, (512, 512)).astype(np.int8)  # [K, N] = [in, out]
    xc, wc = torch.from_numpy(x_conv).float(), torch.from_numpy(w_conv).float()
    xl, wl = torch.from_numpy(x_lin).float(), torch.from_numpy(w_lin.T.copy()).float()  # torch: [out, in]
    plan = kernels.plan("M4P8")
    macs = {"conv": 8 * 64 * 56 * 56 * 64 * 9, "linear": 256 * 512 * 512}

    steps = ["torch", "lut conv", "lut linear", "gather linear", "loa linear", "gather conv"]
    if not args.quick:
        steps += ["loa conv", "behavioural", "cache"]
    steps.append("linear16")  # Linear 512 -> 512 at 16 bits: the proven chunk split (issue 13 part 2)
    progress = tqdm(steps, desc="bench_kernels", file=sys.stderr, disable=args.json)
    for step in progress:
        progress.set_postfix_str(step)
        if step == "torch":
            t_conv = best_time(lambda: F.conv2d(xc, wc, padding=1), args.repeat * 2)
            t_lin = best_time(lambda: F.linear(xl, wl), args.repeat * 4)
            results.update(torch_fp32_conv_s=t_conv, torch_fp32_linear_s=t_lin)
        elif step == "lut conv":
            got = kernels.conv2d(x_conv, w_conv, "M4P8", padding=1)
            check("conv2d split tables vs gather kernel", got, gather_kernel_conv(plan, x_conv, w_conv, 1))
            check_conv_slice(x_conv, w_conv, got, "M4P8", "exact", 1)
            t, t_conv_paired = best_times_alternating(
                [lambda: kernels.conv2d(x_conv, w_conv, "M4P8", padding=1), lambda: F.conv2d(xc, wc, padding=1)],
                args.repeat)
            t_conv = min(t_conv, t_conv_paired)
            results.update(lut_conv_s=t, lut_conv_ratio=t / t_conv, torch_fp32_conv_s=t_conv)
            rows.append(("conv2d", "LUT M4P8 (split tables)", t, t / t_conv))
        elif step == "lut linear":
            got = kernels.matmul(x_lin, w_lin, "M4P8")
            from tests.utils import matmul_reference
            check("linear LUT vs numpy reference", got, matmul_reference(x_lin, w_lin, "M4P8"))
            t, t_lin_paired = best_times_alternating(
                [lambda: kernels.matmul(x_lin, w_lin, "M4P8"), lambda: F.linear(xl, wl)], args.repeat * 4)
            t_lin = min(t_lin, t_lin_paired)
            results.update(lut_linear_s=t, lut_linear_ratio=t / t_lin, torch_fp32_linear_s=t_lin)
            rows.append(("linear", "LUT M4P8 (split tables)", t, t / t_lin))
        elif step == "gather linear":
            t = best_time(lambda: gather_kernel_matmul(plan, x_lin, w_lin), args.repeat)
            results.update(gather_linear_s=t, gather_linear_ratio=t / t_lin)
            rows.append(("linear", "LUT M4P8 gather loop", t, t / t_lin))
        elif step == "gather conv":
            t = best_time(lambda: gather_kernel_conv(plan, x_conv, w_conv, 1), max(1, args.repeat // 2))
            results.update(gather_conv_s=t, gather_conv_ratio=t / t_conv)
            rows.append(("conv2d", "LUT M4P8 gather loop", t, t / t_conv))
        elif step == "loa linear":
            got = kernels.matmul(x_lin[:32], w_lin, "M4P8", "LOA8")
            from tests.utils import matmul_reference
            check("linear LOA vs sequential numpy LOA loop", got, matmul_reference(x_lin[:32], w_lin, "M4P8", "LOA8"))
            t = best_time(lambda: kernels.matmul(x_lin, w_lin, "M4P8", "LOA8"), args.repeat)
            results.update(loa_linear_s=t, loa_linear_ratio=t / t_lin)
            rows.append(("linear", "LUT M4P8 + LOA8", t, t / t_lin))
        elif step == "loa conv":
            got = kernels.conv2d(x_conv, w_conv, "M4P8", "LOA8", padding=1)
            check_conv_slice(x_conv, w_conv, got, "M4P8", "LOA8", 1, channels=2)
            t = best_time(lambda: kernels.conv2d(x_conv, w_conv, "M4P8", "LOA8", padding=1), max(1, args.repeat // 2))
            results.update(loa_conv_s=t, loa_conv_ratio=t / t_conv)
            rows.append(("conv2d", "LUT M4P8 + LOA8", t, t / t_conv))
        elif step == "behavioural":
            x16 = rng.integers(-2**15, 2**15, (64, 256))
            w16 = rng.integers(-2**15, 2**15, (256, 64))
            from tests.utils import matmul_reference
            check("16-bit behavioural", kernels.matmul(x16[:4], w16, "M4P16W16"),
                  matmul_reference(x16[:4], w16, "M4P16W16"))
            t = best_time(lambda: kernels.matmul(x16, w16, "M4P16W16"), args.repeat)
            ns = t / x16.size / w16.shape[1] * 1e9
            results.update(behavioural16_ns_per_mac=ns)
            rows.append(("matmul 64x256x64", "M4P16W16 behavioural", t, float("nan")))
        elif step == "cache":
            results.update(cache_timing())
        elif step == "linear16":
            t, t16_loop, t_lin = linear16(rng, xl, wl, t_lin, args.repeat)
            results.update(chunks16_linear_s=t, chunks16_linear_ratio=t / t_lin, scalar16_linear_s=t16_loop,
                           scalar16_linear_ratio=t16_loop / t_lin, torch_fp32_linear_s=t_lin)
            rows.append(("linear", "M4P8W16 chunk tables", t, t / t_lin))
            rows.append(("linear", "M4P8W16 scalar function", t16_loop, t16_loop / t_lin))
    results["macs"] = macs

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'layer':<18} {'implementation':<26} {'time (ms)':>10} {'ratio vs torch fp32':>20}")
    rows = [("conv2d", "torch fp32", results["torch_fp32_conv_s"], 1.0),
            ("linear", "torch fp32", results["torch_fp32_linear_s"], 1.0)] + rows
    for layer, name, t, ratio in rows:
        print(f"{layer:<18} {name:<26} {t * 1e3:>10.2f} {ratio:>20.2f}")
    if "behavioural16_ns_per_mac" in results:
        print(f"16-bit behavioural (M4P16W16): {results['behavioural16_ns_per_mac']:.2f} ns per MAC")
    if "scalar_compile_s" in results:
        print(f"compile M4P16W16 scalar {results['scalar_compile_s']:.2f} s, matmul kernel "
              f"{results['kernel_compile_s']:.2f} s; second process (cache load): scalar "
              f"{results['scalar_cache_load_s']:.3f} s, kernel {results['kernel_cache_load_s']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
