"""Run on a CUDA device: the kernels of template ``"cuda"`` of :mod:`.generate`.

One thread computes one output, k ascending (spec section 8), so LOA accumulation keeps its order.
LUT mode keeps the table in shared memory: the whole 256 x 256 table (256 KB) does not fit, but every
thread of a block shares one weight column (matmul: one n per block row; conv2d: one output channel
per block row), so for each tile of TILE_K reduction steps the block stages the TILE_K table rows
selected by those weights (TILE_K x 256 int32 = 16 KB) and then every thread gathers from them.
Inputs are device arrays (anything with ``__cuda_array_interface__``: numba arrays, torch CUDA tensors,
CuPy), the result is a numba device array (``torch.as_tensor(out, device="cuda")`` wraps it).
numba.cuda is imported at call time: the simulator must be chosen before its first import.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpmodelsError
from . import generate
from .geometry import conv_geometry
from .planning import Plan, check_array, check_matmul_shapes, check_range

THREADS = 128


def device_array(name: str, value, ndim: int, layout: str):
    from numba import cuda
    if getattr(value, "__cuda_ndarray__", False):  # a numba device array (or the simulator's)
        array = value
    elif hasattr(value, "__cuda_array_interface__"):  # torch, CuPy...: wrapped without a copy
        array = cuda.as_cuda_array(value)
    else:
        raise OpmodelsError(f"backend='cuda' takes device arrays (__cuda_array_interface__), but {name} is a "
                            f"{type(value).__name__}; use numba.cuda.to_device or a CUDA tensor")
    return check_array(name, array, ndim, layout)


def _check_range(plan: Plan, name: str, array) -> None:
    # The check copies the operands to the host once; quantized inputs of netsim are in range by
    # construction, so this is a guard for direct callers.
    check_range(plan, name, array.copy_to_host())


def device_table(plan: Plan):
    """The table oriented ``[w & 0xFF, x & 0xFF]`` (weight-major rows are what a block stages)."""
    from numba import cuda
    if plan.mode != "lut":
        return cuda.to_device(np.zeros((1, 1), np.int32)), 0
    return cuda.to_device(np.ascontiguousarray(plan.table().T)), 1


def matmul(plan: Plan, x, w):
    from numba import cuda
    x = device_array("x", x, 2, "[M, K]")
    w = device_array("w", w, 2, "[K, N]")
    check_matmul_shapes(x, w)
    _check_range(plan, "x", x)
    _check_range(plan, "w", w)
    m, n = x.shape[0], w.shape[1]
    out = cuda.device_array((m, n), np.int64)
    table, use_table = device_table(plan)
    if m and n:
        grid = ((m + THREADS - 1) // THREADS, n)
        generate.module(plan, "cuda").matmul_kernel[grid, THREADS](x, w, table, use_table, out, 64 - plan.acc_width)
    return out


def conv2d(plan: Plan, x, w, stride, padding, dilation, groups):
    from numba import cuda
    x = device_array("x", x, 4, "[N, C, H, W]")
    w = device_array("w", w, 4, "[O, C/groups, kh, kw]")
    geometry = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    _check_range(plan, "x", x)
    _check_range(plan, "w", w)
    out = cuda.device_array((x.shape[0], w.shape[0], geometry.ho, geometry.wo), np.int64)
    table, use_table = device_table(plan)
    if out.size:
        grid = ((geometry.ho * geometry.wo + THREADS - 1) // THREADS, x.shape[0] * w.shape[0])
        generate.module(plan, "cuda").conv2d_kernel[grid, THREADS](
            x, w, table, use_table, out, 64 - plan.acc_width, *geometry.stride, *geometry.padding,
            *geometry.dilation, geometry.groups)
    return out
