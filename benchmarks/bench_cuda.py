"""CUDA kernels on a real GPU: time per call, ratio to torch fp32 (cuBLAS/cuDNN) and to the exact
product of the same kernels, every result bit-equal to the CPU kernels. Run by benchmarks/gpu_check.sh.

    python benchmarks/bench_cuda.py [--repeat 5] [--tiny] [--no-networks] [--json]

Columns: milliseconds; ratio to torch fp32 (cuBLAS / cuDNN); ratio to the exact product through the
same kernels ("vs exact": EXACT_PRODUCT, netsim ``multiplier="exact"`` for the networks); ratio to
cuBLAS's exact int8 GEMM (``torch._int_mm``, 8-bit Linear only).

Layers: Linear 512 -> 512 at batch 256 and Conv2d 64 -> 64 3x3 pad 1 on 8 x 64 x 56 x 56 (the CPU
benchmark's shapes), M4P8 (split tables staged in shared memory) with the exact adder and LOA8, and
Linear at 16 bits (M4P8W16, chunk tables). Networks (torch CUDA tensors in and out, no copies):
LeNet-5 batch 256 and ResNet-18 batch 32, M4P8 everywhere, against the fp32 model and the 8-bit
exact model. Operands are made on the host and copied to the device once; every timed call runs on
device arrays, ``cuda.synchronize()`` before the clock stops, best of --repeat. ``--tiny`` shrinks
the layers and skips the networks, so the script also runs under NUMBA_ENABLE_CUDASIM=1 (a check of
the script, not a timing).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from opmodels import EXACT_PRODUCT, kernels

SHAPES = {"linear": ((256, 512), (512, 512)), "conv2d": ((8, 64, 56, 56), (64, 64, 3, 3))}
TINY = {"linear": ((4, 20), (20, 3)), "conv2d": ((1, 2, 5, 5), (2, 2, 3, 3))}
LAYER_CASES = [("linear", "M4P8", "exact", 8), ("linear", "M4P8", "LOA8", 8), ("conv2d", "M4P8", "exact", 8),
               ("conv2d", "M4P8", "LOA8", 8), ("linear", "M4P8W16", "exact", 16)]
NETWORKS = [("lenet5", 256), ("resnet18", 32)]


def _call(layer: str, x, w, multiplier, adder: str, backend: str):
    if layer == "linear":
        return kernels.matmul(x, w, multiplier, adder, backend=backend)
    return kernels.conv2d(x, w, multiplier, adder, padding=1, backend=backend)


def _best(fn, repeat: int) -> float:
    from numba import cuda
    fn()  # warm-up: compilation, device tables
    cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def _torch_fp32(layer: str, x, w, repeat: int) -> float:
    """torch fp32 of the same layer on the GPU (cuBLAS / cuDNN), or nan where torch has no CUDA."""
    try:
        import torch
        if not torch.cuda.is_available():
            return float("nan")
    except ImportError:
        return float("nan")
    import torch.nn.functional as F
    xt, wt = torch.as_tensor(x, device="cuda").float(), torch.as_tensor(w, device="cuda").float()
    fn = (lambda: F.linear(xt, wt.T)) if layer == "linear" else (lambda: F.conv2d(xt, wt, padding=1))
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def _torch_int8(layer: str, x, w, bits: int, repeat: int) -> float:
    """cuBLAS's exact int8 GEMM (``torch._int_mm``) for an 8-bit Linear; nan elsewhere."""
    try:
        import torch
        if layer != "linear" or bits != 8 or not torch.cuda.is_available() or not hasattr(torch, "_int_mm"):
            return float("nan")
    except ImportError:
        return float("nan")
    xt = torch.as_tensor(x, device="cuda").to(torch.int8)
    wt = torch.as_tensor(w, device="cuda").to(torch.int8)
    torch._int_mm(xt, wt)
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        torch._int_mm(xt, wt)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def layer_rows(repeat: int, tiny: bool) -> list[dict]:
    from numba import cuda
    rng = np.random.default_rng(0)
    rows = []
    for layer, multiplier, adder, bits in LAYER_CASES:
        x_shape, w_shape = (TINY if tiny else SHAPES)[layer]
        x, w = (rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), s) for s in (x_shape, w_shape))
        dx, dw = cuda.to_device(x), cuda.to_device(w)
        got = _call(layer, dx, dw, multiplier, adder, "cuda").copy_to_host()
        same = bool(np.array_equal(got, _call(layer, x, w, multiplier, adder, "cpu")))
        t = _best(lambda: _call(layer, dx, dw, multiplier, adder, "cuda"), repeat)
        t_exact = _best(lambda: _call(layer, dx, dw, EXACT_PRODUCT, "exact", "cuda"), repeat)
        t_fp32 = float("nan") if tiny else _torch_fp32(layer, x, w, repeat)
        t_int8 = float("nan") if tiny else _torch_int8(layer, x, w, bits, repeat)
        rows.append({"case": f"{layer} {multiplier}{'' if adder == 'exact' else ' + ' + adder}", "ms": 1e3 * t,
                     "vs_fp32": t / t_fp32, "vs_exact": t / t_exact, "vs_int8": t / t_int8, "equal_to_cpu": same})
    return rows


def network_rows(repeat: int) -> list[dict]:
    """LeNet-5 and ResNet-18 in netsim on torch CUDA tensors: approximate / fp32 and / exact 8-bit."""
    import torch

    import netsim
    from netsim import zoo
    rows = []
    for name, batch in NETWORKS:
        torch.manual_seed(0)
        model = zoo.build(name).eval()
        x = torch.rand(batch, *zoo.ZOO[name].input_shape)
        approx = netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"), calibration=[x])
        exact = netsim.convert(model, netsim.Config.uniform(multiplier="exact"), calibration=[x])
        with torch.inference_mode():
            reference = approx(x)  # the CPU kernels
        approx, exact, model, xc = approx.cuda(), exact.cuda(), model.cuda(), x.cuda()
        with torch.inference_mode():
            same = bool(torch.equal(approx(xc).cpu(), reference))
            times = [_best(lambda m=m: m(xc), repeat) for m in (approx, model, exact)]
        rows.append({"case": f"{name} batch {batch} M4P8", "ms": 1e3 * times[0], "vs_fp32": times[0] / times[1],
                     "vs_exact": times[0] / times[2], "vs_int8": float("nan"), "equal_to_cpu": same})
    return rows


def run(repeat: int, tiny: bool, networks: bool = True) -> list[dict]:
    rows = layer_rows(repeat, tiny)
    if networks and not tiny:
        rows += network_rows(repeat)
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'case':<28} {'ms':>9} {'vs torch fp32':>14} {'vs exact':>9} {'vs cuBLAS int8':>15}  equal to CPU"]
    for r in rows:
        lines.append(f"{r['case']:<28} {r['ms']:>9.3f} {r['vs_fp32']:>13.2f}x {r['vs_exact']:>8.2f}x "
                     f"{r['vs_int8']:>14.2f}x  {r['equal_to_cpu']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="tiny layers, no networks (for the CUDA simulator)")
    parser.add_argument("--no-networks", action="store_true", help="the layers only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.repeat, args.tiny, not args.no_networks)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0 if all(r["equal_to_cpu"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
