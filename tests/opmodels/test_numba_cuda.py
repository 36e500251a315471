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
    from opmodels.ir import Op
    # the one other difference: a TABLE larger than constant memory allows is refused
    cpu = {op: rule for op, rule in numba_cpu.Renderer.HANDLERS.items() if op is not Op.TABLE}
    assert {op: rule for op, rule in numba_cuda.CudaRenderer.HANDLERS.items() if op is not Op.TABLE} == cpu
    graph = opmodels.get("M4P8").graph
    cpu_body = numba_cpu.render_function(graph, "f").splitlines()[1:]
    cuda_body = numba_cuda.render_function(graph, "f").splitlines()[1:]
    assert cpu_body == cuda_body


def test_cuda_renders_small_tables_and_refuses_large_ones():
    from opmodels.importers.tables import table_operator
    small = table_operator("T4", np.arange(256).reshape(16, 16) - 128, (True, True), {})
    assert numba_cuda.render_function(small.graph, "f").splitlines()[1:] == \
        numba_cpu.render_function(small.graph, "f").splitlines()[1:]
    large = table_operator("T8", np.zeros((256, 256), np.int64), (True, True), {})
    with pytest.raises(NotImplementedError, match="at most 32 KiB .* not 128 KiB"):
        numba_cuda.render_function(large.graph, "f")


# -- PTX for real GPUs, compiled by NVRTC/NVVM without a device ----------------------------------------
@pytest.mark.skipif(SIMULATED, reason="compile_ptx is not available under the simulator")
@pytest.mark.parametrize("multiplier,adder,acc_width", [
    p if "W" not in str(p[0]) else pytest.param(*p, marks=pytest.mark.slow) for p in PLANS])  # behavioural: ~40 s each
@pytest.mark.parametrize("cc", [(8, 0), (9, 0)])
def test_every_kernel_compiles_to_ptx(multiplier, adder, acc_width, cc):
    from numba import cuda, types
    from opmodels.kernels import generate

    for booth_operand in ("w", "x"):
        plan = kernels.plan(multiplier, adder, acc_width, "cuda", booth_operand)
        module = generate.module(plan, "cuda")
        i64, i32 = types.int64, types.int32
        arr = lambda dtype, ndim: types.Array(dtype, ndim, "A")
        signatures = {
            "matmul_kernel": (arr(types.int8, 2), arr(i64, 2), arr(i32, 2), i64, arr(i64, 2), i64),
            "conv2d_kernel": (arr(i64, 4), arr(types.int16, 4), arr(i32, 2), i64, arr(i64, 4), i64, *[i64] * 7),
        }
        for name, signature in signatures.items():
            ptx, _ = cuda.compile_ptx(getattr(module, name).py_func, signature, cc=cc)
            assert f".target sm_{cc[0]}{cc[1]}" in ptx and ".entry" in ptx, name
            if plan.mode == "lut":
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
def test_the_gpu_benchmark_script_runs_and_agrees_with_the_cpu():
    """benchmarks/bench_cuda.py is what scripts/check_gpu.sh runs on a lent GPU: it must work there at once."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_cuda", ROOT / "benchmarks" / "bench_cuda.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run(repeat=1, tiny=True)
    assert {(r["layer"], r["adder"]) for r in rows} == {(l, a) for l in ("linear", "conv2d") for a in ("exact", "LOA8")}
    assert all(r["equal_to_cpu"] for r in rows)
