"""Run on a CUDA device: one thread per output, k ascending (spec section 8), so LOA keeps its order.

Tables in shared memory. Every thread of a block shares one weight column (matmul: one n per block
row; conv2d: one output channel), so for each tile of TILE_K reduction steps the block stages, from
a device table indexed by the weight's bit pattern, the rows that weight selects, and every thread
then adds C of them per MAC:

- an 8-bit LUT that splits (see :mod:`.tables`): C = 2 chunk tables of 16 + 16..32 entries (48 of
  256 int32 staged per step instead of the whole table column: 5x fewer global loads per tile);
- an 8-bit LUT without a split: C = 1, the table column itself (256 entries);
- 9..16-bit operands whose chunk split is proven from the IR (:mod:`.chunks`): C = 2..4 tables of 32
  entries per weight pattern (the device table holds every pattern: 4 x 32 x 2^16 int32 = 32 MB for
  16 bits, built once per operator), the sum reduced modulo 2^out_width;
- otherwise (EXACT_PRODUCT, wider or unproven operators) the product is computed per MAC by the
  multiplier's generated statements.

No host round trip for the operands: the range check runs on the device (one min/max reduction per
operand; only the four extremes come back, 32 bytes), inputs are wrapped without a copy
(``__cuda_array_interface__``: numba arrays, torch CUDA tensors, CuPy) and ``out=`` may be any such
array (e.g. ``torch.empty(..., device="cuda")``), written in place; otherwise the result is a new numba
device array (``torch.as_tensor(out, device="cuda")`` wraps it without a copy). Kernels run on numba's
default stream (the legacy default stream, which torch's default stream also is).
numba.cuda is imported at call time: the simulator must be chosen before its first import.
"""
from __future__ import annotations

import numpy as np

from ..backends import numba_cpu, numba_cuda
from ..errors import OpmodelsError
from . import chunks, generate
from .geometry import conv_geometry
from .planning import OUT_DTYPES, Plan, check_array, check_matmul_shapes, check_range

THREADS = 128
TILE_K = 16
TILE_COLUMNS = 256  # staged entries per step: C x R <= 256
MAX_TABLE_WIDTH = 16  # device chunk tables hold every weight pattern up to this width

TABLE_LINES = [  # p = the sum of the C staged chunk rows this activation selects, reduced mod 2^out_width
    "p = np.int64(0)",
    "for c in range(C):",
    "    p += tile[kk, c * R + ((x >> los[c]) & masks[c])]",
    "p = (p << wrap) >> wrap",
]

CUDA_KERNELS = '''
TILE_K = 16


@cuda.jit(cache=True)
def range_kernel2(a, extremes, slot):
    # extremes[2 slot], extremes[2 slot + 1] = min and max of a (atomics; no copy of a to the host)
    R, Cn = a.shape
    i = cuda.grid(1)
    lo = np.int64(0x7FFFFFFFFFFFFFFF)
    hi = np.int64(-0x7FFFFFFFFFFFFFFF - 1)
    while i < R * Cn:
        v = np.int64(a[i // Cn, i % Cn])
        lo = min(lo, v)
        hi = max(hi, v)
        i += cuda.gridsize(1)
    cuda.atomic.min(extremes, 2 * slot, lo)
    cuda.atomic.max(extremes, 2 * slot + 1, hi)


@cuda.jit(cache=True)
def range_kernel4(a, extremes, slot):
    A, B, Cn, D = a.shape
    i = cuda.grid(1)
    lo = np.int64(0x7FFFFFFFFFFFFFFF)
    hi = np.int64(-0x7FFFFFFFFFFFFFFF - 1)
    while i < A * B * Cn * D:
        v = np.int64(a[i // (B * Cn * D), (i // (Cn * D)) % B, (i // D) % Cn, i % D])
        lo = min(lo, v)
        hi = max(hi, v)
        i += cuda.gridsize(1)
    cuda.atomic.min(extremes, 2 * slot, lo)
    cuda.atomic.max(extremes, 2 * slot + 1, hi)


@cuda.jit(cache=True)
def matmul_kernel(xs, ws, tables, los, masks, wrap, use_table, out, acc_shift):
    # block (blockIdx.x: a run of THREADS rows m, blockIdx.y: one column n)
    tile = cuda.shared.array((TILE_K, 256), numba.int32)
    m = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    n = cuda.blockIdx.y
    M = xs.shape[0]
    K = xs.shape[1]
    C = tables.shape[1]
    R = tables.shape[2]
    CR = C * R
    wmask = tables.shape[0] - 1
    acc = np.int64(0)
    for k0 in range(0, K, TILE_K):
        kn = min(TILE_K, K - k0)
        if use_table:  # uniform over the block, so the barriers below are reached by every thread
            for e in range(cuda.threadIdx.x, kn * CR, cuda.blockDim.x):
                cr = e % CR
                tile[e // CR, cr] = tables[np.int64(ws[k0 + e // CR, n]) & wmask, cr // R, cr % R]
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
def conv2d_kernel(xs, ws, tables, los, masks, wrap, use_table, out, acc_shift, sh, sw, ph, pw, dh, dw, groups):
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
    C = tables.shape[1]
    R = tables.shape[2]
    CR = C * R
    wmask = tables.shape[0] - 1
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
            for e in range(cuda.threadIdx.x, kn * CR, cuda.blockDim.x):
                k = k0 + e // CR
                cr = e % CR
                wk = np.int64(ws[o, k // (KH * KW), (k // KW) % KH, k % KW])
                tile[e // CR, cr] = tables[wk & wmask, cr // R, cr % R]
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

_modules: dict[tuple, object] = {}
_tables: dict[tuple, tuple] = {}


def staging(plan: Plan) -> str:
    """How the product is formed: ``"split"``, ``"lut"`` or ``"chunks"`` (staged tables), or
    ``"scalar"`` (the multiplier's statements per MAC, or x * w)."""
    if plan.mode == "lut":
        return "split" if plan.split() is not None else "lut"
    if (plan.mode == "behavioural" and plan.port_of("w").width <= MAX_TABLE_WIDTH and chunks.applies(plan)
            and chunks.split_of(plan).out_width <= 32):  # int32 tables in shared memory
        return "chunks"
    return "scalar"


def module(plan: Plan):
    """The CUDA kernels for this plan (memoised): table modes share one module per adder."""
    how = staging(plan)
    scalar = how == "scalar"
    kind = generate.product_kind(plan) if scalar else "tables"
    key = (kind, plan.multiplier.ir_hash if scalar and plan.mode == "behavioural" else None,
           plan.adder.ir_hash if plan.adder else None)
    if key not in _modules:
        product = generate.product_lines(plan, numba_cuda.CUDA, "") if scalar else TABLE_LINES
        described = plan.multiplier_name if scalar and plan.mode == "behavioural" else kind
        source = (f'"""Generated by opmodels: CUDA kernels for multiplier {described}, adder '
                  f'{plan.adder.id if plan.adder else "exact"}."""\n{numba_cuda.CUDA.header}\n'
                  + generate.fill(CUDA_KERNELS, {"PRODUCT": product,
                                                 "ACCUMULATE": generate.accumulate_lines(plan, numba_cuda.CUDA)}))
        _modules[key] = numba_cpu.load_module(source, f"cuda_{kind}_{'loa' if plan.adder else 'exact'}")
    return _modules[key]


def host_tables(plan: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(tables [2^weight bits, C, R] int32 indexed by the weight's pattern, los [C], masks [C], wrap):
    the product of activation x and weight pattern u is ``sum_c tables[u, c, (x >> los[c]) & masks[c]]``
    sign-extended from its low 64 - wrap bits."""
    how = staging(plan)
    if how == "lut":
        return np.ascontiguousarray(plan.table().T)[:, None, :], np.zeros(1, np.int64), np.array([255]), 0
    if how == "split":
        shift, T = plan.split()
        tables = np.zeros((256, 2, 32), np.int32)
        tables[:, 0, :16] = T[:16].T
        tables[:, 1, :T.shape[0] - 16] = T[16:].T
        return tables, np.array([0, shift]), np.array([15, (256 >> shift) - 1]), 0
    split = chunks.split_of(plan)
    port = plan.port_of("w")
    values = port.read(np.arange(1 << port.width))  # row u: weight pattern u
    tables = chunks.weight_tables(plan, split, values).astype(np.int32, casting="unsafe")
    los = np.array([lo for lo, _ in split.windows])
    masks = np.array([(1 << (hi - lo)) - 1 for lo, hi in split.windows])
    return tables, los, masks, 64 - split.out_width


def device_tables(plan: Plan):
    """(tables, los, masks, wrap, use_table) on the device, built and copied once per operator."""
    from numba import cuda
    how = staging(plan)
    key = (None if how == "scalar" else plan.multiplier.ir_hash, plan.booth_operand, how,
           id(cuda.current_context()))  # device arrays belong to one context
    if key not in _tables:
        if how == "scalar":
            host = (np.zeros((1, 1, 1), np.int32), np.zeros(1, np.int64), np.zeros(1, np.int64), 0)
        else:
            host = host_tables(plan)
        tables, los, masks, wrap = host
        assert tables.shape[1] * tables.shape[2] <= TILE_COLUMNS
        _tables[key] = (cuda.to_device(np.ascontiguousarray(tables, np.int32)),
                        cuda.to_device(np.asarray(los, np.int64)), cuda.to_device(np.asarray(masks, np.int64)),
                        wrap, int(how != "scalar"))
    return _tables[key]


def device_array(name: str, value, ndim: int, layout: str):
    return check_array(name, wrap_device(name, value), ndim, layout)


def wrap_device(name: str, value):
    """A numba view of a device array, without a copy."""
    from numba import cuda
    if getattr(value, "__cuda_ndarray__", False):  # a numba device array (or the simulator's)
        array = value
    elif hasattr(value, "__cuda_array_interface__"):  # torch, CuPy...: wrapped without a copy
        array = cuda.as_cuda_array(value)
    else:
        raise OpmodelsError(f"backend='cuda' takes device arrays (__cuda_array_interface__), but {name} is a "
                            f"{type(value).__name__}; use numba.cuda.to_device or a CUDA tensor")
    return array


def check_ranges(plan: Plan, x, w) -> None:
    """Both operands' ranges, checked on the device: one reduction kernel per operand, and only the
    four extremes come back to the host (the same one-line error as the CPU check)."""
    from numba import cuda
    kernels = module(plan)
    extremes = cuda.to_device(np.array([2**63 - 1, -2**63] * 2, np.int64))
    for slot, array in enumerate((x, w)):
        if array.size:
            kernel = kernels.range_kernel2 if array.ndim == 2 else kernels.range_kernel4
            blocks = min(256, (array.size + THREADS - 1) // THREADS)
            kernel[blocks, THREADS](array, extremes, slot)
    low_high = extremes.copy_to_host()
    for slot, name in enumerate(("x", "w")):
        if (x, w)[slot].size:
            check_range(plan, name, low_high[2 * slot:2 * slot + 2])


def output_array(out, shape: tuple):
    """``out=`` on the device: any array with ``__cuda_array_interface__`` of this shape and a dtype of
    OUT_DTYPES, written in place; None: a new int64 device array."""
    from numba import cuda
    if out is None:
        return cuda.device_array(shape, np.int64)
    array = wrap_device("out", out)
    if tuple(array.shape) != shape or array.dtype.name not in OUT_DTYPES:
        raise OpmodelsError(f"out must be a device array of shape {shape} and dtype {', '.join(OUT_DTYPES)}, "
                            f"not {array.dtype} {tuple(array.shape)}")
    return array


def matmul(plan: Plan, x, w, out=None):
    x = device_array("x", x, 2, "[M, K]")
    w = device_array("w", w, 2, "[K, N]")
    check_matmul_shapes(x, w)
    check_ranges(plan, x, w)
    m, n = x.shape[0], w.shape[1]
    result = output_array(out, (m, n))
    tables, los, masks, wrap, use_table = device_tables(plan)
    if m and n:
        grid = ((m + THREADS - 1) // THREADS, n)
        module(plan).matmul_kernel[grid, THREADS](x, w, tables, los, masks, wrap, use_table, result,
                                                  64 - plan.acc_width)
    return out if out is not None else result


def conv2d(plan: Plan, x, w, stride, padding, dilation, groups, out=None):
    x = device_array("x", x, 4, "[N, C, H, W]")
    w = device_array("w", w, 4, "[O, C/groups, kh, kw]")
    geometry = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    check_ranges(plan, x, w)
    result = output_array(out, (x.shape[0], w.shape[0], geometry.ho, geometry.wo))
    tables, los, masks, wrap, use_table = device_tables(plan)
    if result.size:
        grid = ((geometry.ho * geometry.wo + THREADS - 1) // THREADS, x.shape[0] * w.shape[0])
        module(plan).conv2d_kernel[grid, THREADS](
            x, w, tables, los, masks, wrap, use_table, result, 64 - plan.acc_width, *geometry.stride,
            *geometry.padding, *geometry.dilation, geometry.groups)
    return out if out is not None else result
