"""CUDA kernels: the CPU kernels' generated-module scheme with ``cuda.jit`` loops.

One thread computes one output, k ascending (spec section 8), so LOA accumulation keeps its order.
LUT mode keeps the table in shared memory: the whole 256 x 256 table (256 KB) does not fit, but every
thread of a block shares one weight column (matmul: one n per block row; conv2d: one output channel
per block row), so for each tile of TILE_K reduction steps the block stages the TILE_K table rows
selected by those weights (TILE_K x 256 int32 = 16 KB) and then every thread gathers from them.
Inputs are device arrays (anything with ``__cuda_array_interface__``: numba arrays, torch CUDA tensors,
CuPy), the result is a numba device array (``torch.as_tensor(out, device="cuda")`` wraps it).
"""
from __future__ import annotations

import numpy as np

from ..backends import numba_cuda
from ..errors import OpmodelsError
from .cpu import kernel_module as _generated_module

THREADS = 128

LUT_PRODUCT = "p = np.int64(tile[kk, x & 255])"  # the staged table row of this k

KERNELS = '''
TILE_K = 16


@cuda.jit(cache=True)
def matmul_kernel(xs, ws, table, use_table, out, acc_shift):
    # block (blockIdx.x: a run of THREADS rows m, blockIdx.y: one column n)
    tile = cuda.shared.array((TILE_K, 256), numba.int32)
    m = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    n = cuda.blockIdx.y
    M = xs.shape[0]
    K = xs.shape[1]
    acc = np.int64(0)
    for k0 in range(0, K, TILE_K):
        kn = min(TILE_K, K - k0)
        if use_table:  # uniform over the block, so the barriers below are reached by every thread
            for e in range(cuda.threadIdx.x, kn * 256, cuda.blockDim.x):
                tile[e // 256, e % 256] = table[np.int64(ws[k0 + e // 256, n]) & 255, e % 256]
            cuda.syncthreads()
        if m < M:
            for kk in range(kn):
                x = np.int64(xs[m, k0 + kk])
                w = np.int64(ws[k0 + kk, n])
                #PRODUCT
                #ACCUMULATE
        if use_table:
            cuda.syncthreads()
    if m < M:
        out[m, n] = (acc << acc_shift) >> acc_shift


@cuda.jit(cache=True)
def conv2d_kernel(xs, ws, table, use_table, out, acc_shift, sh, sw, ph, pw, dh, dw, groups):
    # block (blockIdx.x: a run of THREADS output pixels, blockIdx.y: one (image, output channel))
    tile = cuda.shared.array((TILE_K, 256), numba.int32)
    H = xs.shape[2]
    W = xs.shape[3]
    O = ws.shape[0]
    CG = ws.shape[1]
    KH = ws.shape[2]
    KW = ws.shape[3]
    HO = out.shape[2]
    WO = out.shape[3]
    pixel = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    nn = cuda.blockIdx.y // O
    o = cuda.blockIdx.y % O
    c0 = (o // (O // groups)) * CG
    oh = pixel // WO
    ow = pixel % WO
    K = CG * KH * KW
    acc = np.int64(0)
    for k0 in range(0, K, TILE_K):
        kn = min(TILE_K, K - k0)
        if use_table:
            for e in range(cuda.threadIdx.x, kn * 256, cuda.blockDim.x):
                k = k0 + e // 256
                wk = np.int64(ws[o, k // (KH * KW), (k // KW) % KH, k % KW])
                tile[e // 256, e % 256] = table[wk & 255, e % 256]
            cuda.syncthreads()
        if pixel < HO * WO:
            for kk in range(kn):
                k = k0 + kk
                c = k // (KH * KW)
                i = (k // KW) % KH
                j = k % KW
                ih = oh * sh - ph + i * dh
                iw = ow * sw - pw + j * dw
                x = np.int64(0)  # zero padding: a real MAC with operand 0
                if 0 <= ih < H and 0 <= iw < W:
                    x = np.int64(xs[nn, c0 + c, ih, iw])
                w = np.int64(ws[o, c, i, j])
                #PRODUCT
                #ACCUMULATE
        if use_table:
            cuda.syncthreads()
    if pixel < HO * WO:
        out[nn, o, oh, ow] = (acc << acc_shift) >> acc_shift
'''


def kernel_module(plan):
    return _generated_module(plan, numba_cuda.CUDA, KERNELS, "cuda_kernels", LUT_PRODUCT)


def device_array(name: str, value, ndim: int, layout: str):
    from numba import cuda
    if getattr(value, "__cuda_ndarray__", False):  # a numba device array (or the simulator's)
        array = value
    elif hasattr(value, "__cuda_array_interface__"):  # torch, CuPy...: wrapped without a copy
        array = cuda.as_cuda_array(value)
    else:
        raise OpmodelsError(f"backend='cuda' takes device arrays (__cuda_array_interface__), but {name} is a "
                            f"{type(value).__name__}; use numba.cuda.to_device or a CUDA tensor")
    if array.dtype.kind not in "iu":
        raise OpmodelsError(f"{name} must be an integer array (quantized values), not {array.dtype}")
    if array.ndim != ndim:
        raise OpmodelsError(f"{name} must have {ndim} dimensions {layout}, not shape {tuple(array.shape)}")
    return array


def _check_range(plan, name, array):
    # The check copies the operands to the host once; quantized inputs of netsim are in range by
    # construction, so this is a guard for direct callers.
    from . import check_range
    check_range(plan, name, array.copy_to_host())


def device_table(plan):
    """The table oriented ``[w & 0xFF, x & 0xFF]`` (weight-major rows are what a block stages)."""
    from numba import cuda
    if plan.mode != "lut":
        return cuda.to_device(np.zeros((1, 1), np.int32)), 0
    return cuda.to_device(np.ascontiguousarray(plan.table().T)), 1


def matmul(plan, x, w):
    from numba import cuda
    x = device_array("x", x, 2, "[M, K]")
    w = device_array("w", w, 2, "[K, N]")
    from . import check_matmul_shapes
    check_matmul_shapes(x, w)
    _check_range(plan, "x", x)
    _check_range(plan, "w", w)
    m, n = x.shape[0], w.shape[1]
    out = cuda.device_array((m, n), np.int64)
    table, use_table = device_table(plan)
    if m and n:
        grid = ((m + THREADS - 1) // THREADS, n)
        kernel_module(plan).matmul_kernel[grid, THREADS](x, w, table, use_table, out, 64 - plan.acc_width)
    return out


def conv2d(plan, x, w, stride, padding, dilation, groups):
    from numba import cuda
    from . import conv_geometry
    x = device_array("x", x, 4, "[N, C, H, W]")
    w = device_array("w", w, 4, "[O, C/groups, kh, kw]")
    stride, padding, dilation, groups, ho, wo = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    _check_range(plan, "x", x)
    _check_range(plan, "w", w)
    out = cuda.device_array((x.shape[0], w.shape[0], ho, wo), np.int64)
    table, use_table = device_table(plan)
    if out.size:
        grid = ((ho * wo + THREADS - 1) // THREADS, x.shape[0] * w.shape[0])
        kernel_module(plan).conv2d_kernel[grid, THREADS](x, w, table, use_table, out, 64 - plan.acc_width,
                                                         *stride, *padding, *dilation, groups)
    return out
