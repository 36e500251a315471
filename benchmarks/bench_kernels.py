"""Speed of opmodels.kernels against torch float32 of the same layer, in the same process.

Workloads (issues 3 and 13): Conv2d 64->64, 3x3, pad 1 on an 8x64x56x56 input, and Linear 512->512 on
256x512, 8-bit operands, M4P8, 2 threads for both numba and torch; the same layers with a table that
does not split (an 8-bit operator of our own, NOSPLIT8 below), with LOA8 accumulation, and a 16-bit
linear (M4P8W16, behavioural). Every result is checked bit for bit before it is timed. Each row is
timed alternating with torch fp32 of its layer; the ratio is ours / torch fp32 (best of --repeat runs
each; --json also gives the medians). The machine is shared, so re-run when it is quiet.

    PYTHONPATH=$PWD OMP_NUM_THREADS=2 NUMBA_NUM_THREADS=2 python benchmarks/bench_kernels.py [--json] [--repeat 5] [--quick] [--only STEP ...]

``--batched`` times only the batched products and depthwise convolutions (issues 12 and 13): an
attention product 256x4x17x16 @ 256x4x16x17 (one kernels.bmm call, and the per-matrix calls it
replaces), 65 tokens (the split-table path), and depthwise 3x3 convolutions (LUT mode's column
kernel; MobileNet's 7x7 and 4x4 planes, and a table without a split), each against torch fp32.
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


STEPS = ("torch", "lut conv", "lut linear", "gather linear", "loa linear", "nosplit linear", "nosplit conv",
         "linear16", "gather conv", "loa conv", "behavioural", "cache")  # --quick: the first eight
MEDIANS: dict[str, float] = {}  # the median of every timed row, for --json


def times_alternating(fns, repeat: int) -> list[list[float]]:
    """All timed runs of each function after a warm-up call (compilation, caches, prepared tables),
    calls alternating, so a busy spell on the shared machine slows every contender alike."""
    for fn in fns:
        fn()
    runs = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            runs[i].append(time.perf_counter() - start)
    return runs


def best_times_alternating(fns, repeat: int) -> list[float]:
    return [min(r) for r in times_alternating(fns, repeat)]


def paired(name: str, ours, theirs, repeat: int) -> tuple[float, float]:
    """(best of ours, best of torch fp32), alternating; the medians go to MEDIANS[name]."""
    mine, ref = times_alternating([ours, theirs], repeat)
    MEDIANS[name] = float(np.median(mine)) / float(np.median(ref))
    return min(mine), min(ref)


def nosplit_operator():
    """An 8-bit multiplier whose table has no additive split, built here (standing in for
    third-party RTL or a peer's table): the exact product by shift-and-add, its bit 0 flipped where
    a0 AND a4 AND b1 (the AND couples the activation's two nibbles). LUT mode: its 256 x 256 table."""
    from opmodels import Operator

    def build(a, b):
        wide = a.sext(16)
        acc = (wide << 7) & b[7].replicate(16).as_signed()
        acc = -acc
        for i in range(7):
            acc = acc + ((wide << i) & b[i].replicate(16).as_signed())
        return acc ^ (a[0] & a[4] & b[1]).zext(16).as_signed()

    return Operator.from_function("NOSPLIT8", "multiplier", 8, build)


def best_time(fn, repeat: int) -> float:
    return best_times_alternating([fn], repeat)[0]


def gather_kernel_matmul(plan, x, w):
    """The LUT gather loop alone (what LUT mode runs for depthwise layers and tiny shapes)."""
    from opmodels.kernels import cpu
    return cpu.matmul(plan, x, w)


def gather_kernel_conv(plan, x, w, padding):
    """LUT mode's loop kernel for convolutions (cpu.column_conv2d: depthwise layers, tiny shapes)."""
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


def batched(args, rng) -> int:
    """The --batched table: batched products and depthwise convolutions, each checked bit for bit
    against the numpy references (on a slice) and timed alternating with torch fp32."""
    import torch
    import torch.nn.functional as F

    import opmodels
    from opmodels import kernels
    from tests.utils import conv2d_reference, matmul_reference
    rows = []

    def attention(b, h, t, d, multiplier, adder, per_matrix=False):
        q = rng.integers(-128, 128, (b * h, t, d)).astype(np.int8)
        k = rng.integers(-128, 128, (b * h, d, t)).astype(np.int8)
        qt, kt = torch.from_numpy(q).float().reshape(b, h, t, d), torch.from_numpy(k).float().reshape(b, h, d, t)
        got = kernels.bmm(q, k, multiplier, adder)
        for i in (0, b * h - 1):
            check(f"bmm {multiplier} {adder}", got[i], matmul_reference(q[i], k[i], multiplier, adder))
        ours = lambda: kernels.bmm(q, k, multiplier, adder)  # noqa: E731
        if per_matrix:
            ours = lambda: [kernels.matmul(q[i], k[i], multiplier, adder) for i in range(b * h)]  # noqa: E731
        t_ours, t_ref = paired("bmm", ours, lambda: torch.matmul(qt, kt), args.repeat)
        how = "per-matrix calls" if per_matrix else "one bmm call"
        rows.append((f"{b}x{h}x{t}x{d} @ {d}x{t}", f"{multiplier} {adder} {how}", t_ours, t_ref, b * h * t * d * t))

    def depthwise(n, c, hw, multiplier, adder, stride=1):
        x = rng.integers(-128, 128, (n, c, hw, hw)).astype(np.int8)
        w = rng.integers(-128, 128, (c, 1, 3, 3)).astype(np.int8)
        xt, wt = torch.from_numpy(x).float(), torch.from_numpy(w).float()
        got = kernels.conv2d(x, w, multiplier, adder, stride=stride, padding=1, groups=c)
        check(f"depthwise {multiplier} {adder}", got[:1, :4],
              conv2d_reference(x[:1, :4], w[:4], multiplier, adder, 32, (stride, stride), (1, 1), groups=4))
        t_ours, t_ref = paired("depthwise", lambda: kernels.conv2d(x, w, multiplier, adder, stride=stride, padding=1,
                                                                   groups=c),
                               lambda: F.conv2d(xt, wt, stride=stride, padding=1, groups=c), args.repeat)
        ho = (hw - 1) // stride + 1
        rows.append((f"depthwise {n}x{c}x{hw}x{hw} s{stride}", f"{multiplier} {adder}", t_ours, t_ref,
                     n * c * ho * ho * 9))

    attention(256, 4, 17, 16, "M4P8", "exact")
    attention(256, 4, 17, 16, "M4P8", "LOA8")
    attention(16, 4, 17, 16, "M4P8", "exact", per_matrix=True)
    attention(16, 4, 17, 16, "M4P8", "exact")
    attention(64, 4, 65, 16, "M4P8", "exact")
    depthwise(256, 64, 14, "M4P8", "exact")
    depthwise(256, 64, 14, "M4P8", "LOA8")
    depthwise(8, 64, 56, "M4P8", "exact", stride=2)
    depthwise(256, 72, 7, "M4P8", "exact")  # MobileNet's (netsim.zoo) 7x7 and 4x4 depthwise layers
    depthwise(256, 96, 4, "M4P8", "exact")
    if "NOSPLIT8" not in opmodels.registered_ids():
        opmodels.register(nosplit_operator())
    depthwise(256, 64, 14, "NOSPLIT8", "exact")  # a table without a split: the same column kernel
    if args.json:
        print(json.dumps([dict(zip(("shape", "implementation", "s", "torch_fp32_s", "macs"), r)) for r in rows],
                         indent=2))
        return 0
    print(f"{'shape':<28} {'implementation':<30} {'ms':>9} {'torch ms':>9} {'ratio':>7} {'ns/MAC':>7}")
    for shape, name, t, t_ref, macs in rows:
        print(f"{shape:<28} {name:<30} {t * 1e3:>9.2f} {t_ref * 1e3:>9.2f} {t / t_ref:>7.2f} {t / macs * 1e9:>7.3f}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (best is kept)")
    parser.add_argument("--quick", action="store_true", help="skip the slow LOA conv and the cache timing")
    parser.add_argument("--batched", action="store_true",
                        help="only the batched products (attention shapes) and depthwise convolutions")
    parser.add_argument("--scaling", action="store_true",
                        help="only the scaling table: Linear 512->512 M4P8 by batch size and thread count")
    parser.add_argument("--only", action="append", choices=STEPS[1:], metavar="STEP",
                        help=f"run only these steps (after torch), e.g. --only 'loa linear' --only 'loa conv'; "
                             f"one of: {', '.join(STEPS[1:])}")
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

    nosplit = nosplit_operator()
    steps = ["torch", "lut conv", "lut linear", "gather linear", "loa linear", "nosplit linear", "nosplit conv",
             "linear16"]
    if not args.quick:
        steps += ["gather conv", "loa conv", "behavioural", "cache"]
    if args.only:
        steps = ["torch"] + [step for step in STEPS[1:] if step in args.only]
    if args.scaling:
        steps = ["scaling"]
    if args.batched:
        return batched(args, rng)
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
            rows.append(("conv2d", "LUT M4P8 column kernel", t, t / t_conv))
        elif step == "loa linear":
            got = kernels.matmul(x_lin[:32], w_lin, "M4P8", "LOA8")
            from tests.utils import matmul_reference
            check("linear LOA vs sequential numpy LOA loop", got, matmul_reference(x_lin[:32], w_lin, "M4P8", "LOA8"))
            t, t_ref = paired("loa_linear", lambda: kernels.matmul(x_lin, w_lin, "M4P8", "LOA8"),
                              lambda: F.linear(xl, wl), args.repeat * 2)
            t_lin = min(t_lin, t_ref)
            results.update(loa_linear_s=t, loa_linear_ratio=t / t_lin)
            rows.append(("linear", "LUT M4P8 + LOA8", t, t / t_lin))
        elif step == "nosplit linear":
            from tests.utils import matmul_reference
            assert kernels.plan(nosplit).split() is None
            check("linear NOSPLIT8 vs numpy LUT reference", kernels.matmul(x_lin, w_lin, nosplit),
                  matmul_reference(x_lin, w_lin, nosplit))
            t, t_ref = paired("nosplit_linear", lambda: kernels.matmul(x_lin, w_lin, nosplit),
                              lambda: F.linear(xl, wl), args.repeat * 2)
            t_lin = min(t_lin, t_ref)
            results.update(nosplit_linear_s=t, nosplit_linear_ratio=t / t_lin)
            rows.append(("linear", "no split: whole columns", t, t / t_lin))
        elif step == "nosplit conv":
            got = kernels.conv2d(x_conv, w_conv, nosplit, padding=1)
            check_conv_slice(x_conv, w_conv, got, nosplit, "exact", 1)
            t, t_ref = paired("nosplit_conv", lambda: kernels.conv2d(x_conv, w_conv, nosplit, padding=1),
                              lambda: F.conv2d(xc, wc, padding=1), args.repeat)
            t_conv = min(t_conv, t_ref)
            results.update(nosplit_conv_s=t, nosplit_conv_ratio=t / t_conv)
            rows.append(("conv2d", "no split: whole columns", t, t / t_conv))
        elif step == "linear16":
            from tests.utils import matmul_reference
            x16 = rng.integers(-2**15, 2**15, (32, 512))
            w16 = rng.integers(-2**15, 2**15, (512, 512))
            x16t, w16t = torch.from_numpy(x16).float(), torch.from_numpy(w16.T.copy()).float()
            check("16-bit linear", kernels.matmul(x16[:2], w16, "M4P8W16"), matmul_reference(x16[:2], w16, "M4P8W16"))
            t, t_ref = paired("linear16", lambda: kernels.matmul(x16, w16, "M4P8W16"), lambda: F.linear(x16t, w16t),
                              args.repeat)
            results.update(linear16_s=t, linear16_ratio=t / t_ref, linear16_torch_s=t_ref,
                           linear16_ns_per_mac=t / x16.size / w16.shape[1] * 1e9)
            rows.append(("linear 32x512x512", "M4P8W16 16-bit", t, t / t_ref))
        elif step == "scaling":
            scaling = []
            for threads in (1, THREADS):
                numba.set_num_threads(threads)
                torch.set_num_threads(threads)
                for batch in (16, 64, 256, 1024):
                    xb = rng.integers(-128, 128, (batch, 512)).astype(np.int8)
                    xbt = torch.from_numpy(xb).float()
                    t, t_ref = paired(f"scaling_{threads}_{batch}", lambda: kernels.matmul(xb, w_lin, "M4P8"),
                                      lambda: F.linear(xbt, wl), args.repeat * 2)
                    scaling.append({"threads": threads, "batch": batch, "s": t, "torch_s": t_ref,
                                    "ratio": t / t_ref, "gmacs": batch * 512 * 512 / t / 1e9})
            numba.set_num_threads(THREADS)
            torch.set_num_threads(THREADS)
            results["scaling"] = scaling
        elif step == "loa conv":
            got = kernels.conv2d(x_conv, w_conv, "M4P8", "LOA8", padding=1)
            check_conv_slice(x_conv, w_conv, got, "M4P8", "LOA8", 1, channels=2)
            t, t_ref = paired("loa_conv", lambda: kernels.conv2d(x_conv, w_conv, "M4P8", "LOA8", padding=1),
                              lambda: F.conv2d(xc, wc, padding=1), max(1, args.repeat // 2))
            t_conv = min(t_conv, t_ref)
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
    results["macs"] = macs
    results["median_ratios"] = MEDIANS

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if args.scaling:
        print(f"Linear 512->512 M4P8 (split tables)\n{'threads':>7} {'batch':>6} {'ms':>8} {'torch ms':>9} "
              f"{'ratio':>6} {'GMAC/s':>7}")
        for r in results["scaling"]:
            print(f"{r['threads']:>7} {r['batch']:>6} {r['s'] * 1e3:>8.2f} {r['torch_s'] * 1e3:>9.3f} "
                  f"{r['ratio']:>6.2f} {r['gmacs']:>7.2f}")
        return 0
    print(f"{'layer':<18} {'implementation':<26} {'time (ms)':>10} {'ratio vs torch fp32':>20} {'GMAC/s':>7} "
          f"{'ns/MAC':>7}")
    rows = [("conv2d", "torch fp32", results["torch_fp32_conv_s"], 1.0),
            ("linear", "torch fp32", results["torch_fp32_linear_s"], 1.0)] + rows
    layer_macs = {"conv2d": macs["conv"], "linear": macs["linear"], "linear 32x512x512": 32 * 512 * 512,
                  "matmul 64x256x64": 64 * 256 * 64}
    for layer, name, t, ratio in rows:
        n = layer_macs[layer]
        print(f"{layer:<18} {name:<26} {t * 1e3:>10.2f} {ratio:>20.2f} {n / t / 1e9:>7.2f} {t / n * 1e9:>7.3f}")
    if "behavioural16_ns_per_mac" in results:
        print(f"16-bit behavioural (M4P16W16): {results['behavioural16_ns_per_mac']:.2f} ns per MAC")
    if "scalar_compile_s" in results:
        print(f"compile M4P16W16 scalar {results['scalar_compile_s']:.2f} s, matmul kernel "
              f"{results['kernel_compile_s']:.2f} s; second process (cache load): scalar "
              f"{results['scalar_cache_load_s']:.3f} s, kernel {results['kernel_cache_load_s']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
