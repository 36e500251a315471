"""CUDA backend and kernels: PTX for sm_80/sm_90 here, results under the CUDA simulator, GPU if present.

The simulator must be chosen before numba.cuda is first imported, so the ``cudasim`` tests run in a
separate pytest process (``test_cudasim_suite``) with NUMBA_ENABLE_CUDASIM=1; that process also runs
when the suite is started with the variable set (tox -e cudasim).
"""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import opmodels
from opmodels import EXACT_PRODUCT, OpmodelsError, kernels
from opmodels.backends import numba_cpu, numba_cuda
from tests.utils import conv2d_reference, matmul_reference

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
ROOT = Path(__file__).resolve().parents[2]
PLANS = [("M4P8", "exact", 32), ("M2P8", "LOA8", 32), (EXACT_PRODUCT, "exact", 24), ("M3P10W16", "LOA6W24", 24),
         ("M1P8W12", "exact", 32)]
needs_simulator = pytest.mark.skipif(not SIMULATED, reason="runs in the NUMBA_ENABLE_CUDASIM=1 subprocess "
                                                           "started by test_cudasim_suite")


def test_cuda_renderer_differs_only_in_decorator_and_header():
    assert numba_cuda.CudaRenderer.HANDLERS is numba_cpu.Renderer.HANDLERS
    graph = opmodels.get("M4P8").graph
    cpu_body = numba_cpu.render_function(graph, "f").splitlines()[1:]
    cuda_body = numba_cuda.render_function(graph, "f").splitlines()[1:]
    assert cpu_body == cuda_body


# -- PTX for real GPUs, compiled by NVRTC/NVVM without a device ----------------------------------------
@pytest.mark.skipif(SIMULATED, reason="compile_ptx is not available under the simulator")
@pytest.mark.parametrize("multiplier,adder,acc_width", [
    p if "W" not in str(p[0]) else pytest.param(*p, marks=pytest.mark.slow) for p in PLANS])  # behavioural: ~40 s each
@pytest.mark.parametrize("cc", [(8, 0), (9, 0)])
def test_every_kernel_compiles_to_ptx(multiplier, adder, acc_width, cc):
    from numba import cuda, types
    from opmodels.kernels import cuda as cuda_kernels

    for booth_operand in ("w", "x"):
        plan = kernels.plan(multiplier, adder, acc_width, "cuda", booth_operand)
        module = cuda_kernels.module(plan)
        i64, i32 = types.int64, types.int32
        arr = lambda dtype, ndim: types.Array(dtype, ndim, "A")
        tables = (arr(i32, 3), arr(i64, 1), arr(i64, 1), i64, i64)  # tables, los, masks, wrap, use_table
        signatures = {
            "matmul_kernel": (arr(types.int8, 2), arr(i64, 2), *tables, arr(i64, 2), i64),
            "conv2d_kernel": (arr(i64, 4), arr(types.int16, 4), *tables, arr(types.float32, 4), i64, *[i64] * 7),
            "range_kernel2": (arr(types.int16, 2), arr(i64, 1), i64),
            "range_kernel4": (arr(types.int8, 4), arr(i64, 1), i64),
        }
        for name, signature in signatures.items():
            ptx, _ = cuda.compile_ptx(getattr(module, name).py_func, signature, cc=cc)
            assert f".target sm_{cc[0]}{cc[1]}" in ptx and ".entry" in ptx, name
            if name.endswith("_kernel") and cuda_kernels.staging(plan) != "scalar":
                assert ".shared" in ptx  # the staged table rows
    if multiplier is not EXACT_PRODUCT:
        device = numba_cuda.scalar_function(opmodels.get(multiplier))
        ptx, _ = cuda.compile_ptx(device.py_func, (types.int64, types.int64), device=True, cc=cc)
        assert ".func" in ptx


# -- the simulator ----------------------------------------------------------------------------------------
@pytest.mark.skipif(SIMULATED, reason="this is the launcher; the simulated tests run in this process")
def test_cudasim_suite():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cudasim", "-p", "no:cacheprovider",
                             str(Path(__file__))], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1]


def _run(fn, *args, **kwargs):
    with warnings.catch_warnings(), np.errstate(over="ignore"):  # numpy scalars warn on the wrap-around
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs).copy_to_host()


@pytest.mark.cudasim
@needs_simulator
@pytest.mark.parametrize("multiplier,adder,acc_width", PLANS)
def test_simulated_matmul(multiplier, adder, acc_width):
    from numba import cuda
    op_width = 8 if multiplier is EXACT_PRODUCT else opmodels.get(multiplier).width
    rng = np.random.default_rng(7)
    for m, k, n in [(1, 1, 1), (3, 20, 2), (1, 33, 3)]:
        for booth_operand in ("w", "x"):
            x = rng.integers(-(1 << (op_width - 1)), 1 << (op_width - 1), (m, k))
            w = rng.integers(-(1 << (op_width - 1)), 1 << (op_width - 1), (k, n))
            got = _run(kernels.matmul, cuda.to_device(x), cuda.to_device(w), multiplier, adder, acc_width,
                       backend="cuda", booth_operand=booth_operand)
            np.testing.assert_array_equal(got, matmul_reference(x, w, multiplier, adder, acc_width, booth_operand))


@pytest.mark.cudasim
@needs_simulator
@pytest.mark.parametrize("multiplier,adder,acc_width", PLANS[:3])
def test_simulated_conv2d(multiplier, adder, acc_width):
    from numba import cuda
    rng = np.random.default_rng(8)
    cases = [((1, 2, 4, 4), (3, 2, 3, 3), (1, 1), (1, 1), (1, 1), 1),
             ((2, 4, 5, 4), (4, 1, 3, 2), (2, 1), (1, 0), (1, 2), 4)]  # depthwise, strided, dilated
    for xs, ws, stride, padding, dilation, groups in cases:
        x, w = rng.integers(-128, 128, xs), rng.integers(-128, 128, ws)
        got = _run(kernels.conv2d, cuda.to_device(x), cuda.to_device(w), multiplier, adder, acc_width,
                   stride=stride, padding=padding, dilation=dilation, groups=groups, backend="cuda")
        np.testing.assert_array_equal(got, conv2d_reference(x, w, multiplier, adder, acc_width, stride, padding,
                                                            dilation, groups))


@pytest.mark.cudasim
@needs_simulator
def test_simulated_bad_input():
    from numba import cuda
    with pytest.raises(OpmodelsError, match="takes device arrays"):
        kernels.matmul(np.ones((2, 2), int), np.ones((2, 2), int), backend="cuda")
    with pytest.raises(OpmodelsError, match="x value 300 is outside"):
        kernels.matmul(cuda.to_device(np.full((2, 2), 300)), cuda.to_device(np.ones((2, 2), int)), backend="cuda")
    with pytest.raises(OpmodelsError, match="must be an integer array"):
        kernels.matmul(cuda.to_device(np.ones((2, 2))), cuda.to_device(np.ones((2, 2), int)), backend="cuda")
    with pytest.raises(OpmodelsError, match="shape mismatch"):
        kernels.conv2d(cuda.to_device(np.ones((1, 3, 4, 4), int)), cuda.to_device(np.ones((1, 2, 3, 3), int)),
                       backend="cuda")


# -- a real GPU ---------------------------------------------------------------------------------------------
def _gpu_available() -> bool:
    if SIMULATED:
        return False
    try:
        from numba import cuda
        return cuda.is_available()
    except Exception:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_available(), reason="needs a CUDA GPU (none on this machine)")
def test_gpu_matmul_and_conv2d_match_cpu():
    from numba import cuda
    rng = np.random.default_rng(9)
    x, w = rng.integers(-128, 128, (64, 300)), rng.integers(-128, 128, (300, 40))
    for adder in ("exact", "LOA8"):
        got = kernels.matmul(cuda.to_device(x), cuda.to_device(w), "M4P8", adder, backend="cuda").copy_to_host()
        np.testing.assert_array_equal(got, kernels.matmul(x, w, "M4P8", adder))
    xc, wc = rng.integers(-128, 128, (2, 16, 20, 20)), rng.integers(-128, 128, (8, 16, 3, 3))
    got = kernels.conv2d(cuda.to_device(xc), cuda.to_device(wc), "M1P8", padding=1, backend="cuda").copy_to_host()
    np.testing.assert_array_equal(got, kernels.conv2d(xc, wc, "M1P8", padding=1))


@pytest.mark.cudasim
@needs_simulator
def test_simulated_out_argument():
    """out= takes any device array (a torch CUDA tensor on a GPU), written in place and returned."""
    from numba import cuda
    rng = np.random.default_rng(10)
    x, w = rng.integers(-128, 128, (5, 19)), rng.integers(-128, 128, (19, 4))
    expected = matmul_reference(x, w, "M4P8", "LOA8")
    for dtype in (np.int64, np.float32):
        out = cuda.device_array((5, 4), dtype)
        got = kernels.matmul(cuda.to_device(x), cuda.to_device(w), "M4P8", "LOA8", backend="cuda", out=out)
        assert got is out
        np.testing.assert_array_equal(out.copy_to_host(), expected.astype(dtype))
    xc, wc = rng.integers(-2**11, 2**11, (1, 2, 4, 4)), rng.integers(-2**11, 2**11, (3, 2, 3, 3))
    out = cuda.device_array((1, 3, 4, 4), np.int64)
    kernels.conv2d(cuda.to_device(xc), cuda.to_device(wc), "M1P8W12", padding=1, backend="cuda", out=out)
    np.testing.assert_array_equal(out.copy_to_host(), conv2d_reference(xc, wc, "M1P8W12", padding=(1, 1)))
    with pytest.raises(OpmodelsError, match=r"out must be a device array of shape \(5, 4\)"):
        kernels.matmul(cuda.to_device(x), cuda.to_device(w), backend="cuda", out=cuda.device_array((4, 5), np.int64))
    with pytest.raises(OpmodelsError, match="w value -129 is outside the operand range -128..127"):
        kernels.matmul(cuda.to_device(x), cuda.to_device(np.full((19, 4), -129)), backend="cuda")


@pytest.mark.cudasim
@needs_simulator
def test_gpu_check_script_under_the_simulator():
    """benchmarks/gpu_check.sh is what a lent GPU runs: its steps (tests, then one table) must work there
    at once, so they run here with GPU_CHECK_SIMULATE=1."""
    env = dict(os.environ, GPU_CHECK_SIMULATE="1")
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("case") and "vs torch fp32" in line)
    rows = lines[header + 1:]
    assert [r.split("  ")[0].strip() for r in rows] == ["linear M4P8", "linear M4P8 + LOA8", "conv2d M4P8",
                                                        "conv2d M4P8 + LOA8", "linear M4P8W16"]
    assert all(r.endswith("True") for r in rows)
    assert " passed" in result.stdout


@pytest.mark.skipif(SIMULATED or _gpu_available(), reason="checks the message of a machine without a GPU")
def test_gpu_check_script_says_that_no_gpu_is_present():
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={k: v for k, v in os.environ.items()
                                                         if k not in ("NUMBA_ENABLE_CUDASIM", "GPU_CHECK_SIMULATE")})
    assert result.returncode == 2 and "no CUDA GPU is present on this machine" in result.stderr
    bad = subprocess.run(["bash", str(ROOT / "scripts" / "check_gpu.sh"), "--fast"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "unknown argument '--fast'" in bad.stderr


# -- the tables staged in shared memory (numpy, no device) --------------------------------------------------
def _staged_product(tables, los, masks, wrap, x, wpat):
    p = sum(tables[wpat, c, (x >> los[c]) & masks[c]].astype(np.int64) for c in range(tables.shape[1]))
    return (p << wrap) >> wrap


@pytest.mark.parametrize("multiplier,staging", [("M4P8", "split"), ("M1P8", "split"), ("M6P14", "split"),
                                                ("M1P8W12", "chunks"), ("M3P10W16", "chunks")])
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_device_tables_give_every_product(multiplier, staging, booth_operand):
    from opmodels.kernels import cuda as cuda_kernels
    plan = kernels.plan(multiplier, backend="cuda", booth_operand=booth_operand)
    assert cuda_kernels.staging(plan) == staging
    tables, los, masks, wrap = cuda_kernels.host_tables(plan)
    assert tables.dtype == np.int32 and tables.shape[1] * tables.shape[2] <= cuda_kernels.TILE_COLUMNS
    op = opmodels.get(multiplier)
    if op.width == 8:
        x, w = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128))
    else:
        x, w = _seeded_pairs(op.width)
    expected = op.evaluate(w, x) if booth_operand == "x" else op.evaluate(x, w)
    got = _staged_product(tables, los, masks, wrap, x.astype(np.int64), w & ((1 << op.width) - 1))
    np.testing.assert_array_equal(got, expected)


def _seeded_pairs(width):
    from tests.utils import random_pairs
    return random_pairs(width, 20_000, seed=5)


def test_device_tables_fall_back_to_the_scalar_product():
    from opmodels.kernels import cuda as cuda_kernels
    assert cuda_kernels.staging(kernels.plan(EXACT_PRODUCT, backend="cuda")) == "scalar"
    assert cuda_kernels.staging(kernels.plan("M2P8W32", backend="cuda")) == "scalar"  # wider than a device table
    unproven = opmodels.Operator.from_function("CARRYAND10", "multiplier", 10,
                                               lambda a, b: (a.sext(20) + b.sext(20)) & a.sext(20))
    assert cuda_kernels.staging(kernels.plan(unproven, backend="cuda")) == "scalar"


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_available(), reason="needs a CUDA GPU (none on this machine)")
def test_gpu_torch_tensors_in_and_out_without_copies():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU for torch too (this torch has no CUDA)")
    rng = np.random.default_rng(11)
    x, w = rng.integers(-2**15, 2**15, (40, 70)), rng.integers(-2**15, 2**15, (70, 9))
    xt, wt = torch.as_tensor(x, device="cuda"), torch.as_tensor(w, device="cuda")
    out = torch.empty((40, 9), dtype=torch.float64, device="cuda")
    pointer = out.data_ptr()
    got = kernels.matmul(xt, wt, "M3P10W16", backend="cuda", out=out)
    assert got is out and out.data_ptr() == pointer
    np.testing.assert_array_equal(out.cpu().numpy(), kernels.matmul(x, w, "M3P10W16").astype(np.float64))
