"""Run on the CPU: the generated loop kernels (template ``"cpu"`` of :mod:`.generate`), every mode.

LUT mode reads the 256 x 256 table (a convolution: one table column per output channel and step,
:func:`column_conv2d`), behavioural mode runs the multiplier's pasted statements, exact mode
``x * w``. Used where :func:`.planning.route` does not pick the split kernel (depthwise and other
convolutions with few outputs per group, tiny shapes, batched products of activations).
"""
from __future__ import annotations

import numpy as np

from ..bits import wrap_signed
from . import generate, tables
from .geometry import ConvGeometry, as_patterns, padded, step_offsets
from .planning import Plan


def _table(plan: Plan) -> np.ndarray:
    # The kernels always take a table argument; a 1x1 dummy where no table is used keeps one signature.
    return plan.table() if plan.mode == "lut" else np.zeros((1, 1), np.int32)


def _finish(plan: Plan, result: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """The exact adder's int64 sums reduced to the acc_width-bit register (a LOA's generated
    statements already give it), then written into ``out`` if given."""
    if plan.adder is None:
        wrap_signed(result, plan.acc_width)
    if out is None:
        return result
    np.copyto(out, result, casting="unsafe")
    return out


def matmul(plan: Plan, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    xs = np.ascontiguousarray(x, dtype=np.int64)
    ws = np.ascontiguousarray(w, dtype=np.int64)
    result = np.empty((xs.shape[0], ws.shape[1]), np.int64)
    macs = xs.shape[0] * xs.shape[1] * ws.shape[1]
    generate.pick(generate.module(plan, "cpu"), "matmul_kernel", macs)(xs, ws, _table(plan), result)
    return _finish(plan, result, out)


def _narrow(plan: Plan, operand: str):
    """int16 for an operand whose port fits it (every 8-bit operator), else int64."""
    low, high = plan.port_of(operand).range if plan.mode != "exact" else (-2**63, 2**63 - 1)
    return np.int16 if -2**15 <= low and high < 2**15 else np.int64


def _operand(plan: Plan, operand: str, array: np.ndarray) -> np.ndarray:
    """A bmm operand as the kernel reads it: an integer array of at most 16 bits as it is (int8 from
    netsim's quantizer: no copy, the kernel widens each value), else narrowed as :func:`_narrow` says."""
    if array.dtype.kind in "iu" and array.dtype.itemsize <= 2:
        return np.ascontiguousarray(array)
    return np.ascontiguousarray(array, dtype=_narrow(plan, operand))


def cannot_wrap(plan: Plan, k: int) -> bool:
    """Whether k MACs of the exact adder always stay inside the signed acc_width-bit register, so the
    int64 sums need no wrapping (LUT mode: k times the table's largest |product|). A LOA's generated
    statements give the register's value themselves: nothing to wrap either."""
    if plan.adder is not None:
        return True
    if plan.mode != "lut":
        return False
    return k * tables.largest_product(plan.multiplier) < 1 << (plan.acc_width - 1)


def bmm(plan: Plan, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """x [B, M, K] @ w [B, K, N] (or [1, K, N], shared) in one kernel call: one task per (b, m) row.
    Where no sum can leave the register the kernel writes ``out`` (any of its dtypes) directly."""
    xs = _operand(plan, "x", x)
    ws = _operand(plan, "w", w)
    b, m, k = xs.shape
    kernel = generate.pick(generate.module(plan, "cpu"), "bmm_kernel", b * m * k * ws.shape[2])
    direct = cannot_wrap(plan, k)
    if out is not None and direct:
        kernel(xs, ws, _table(plan), out)  # the kernel's int64 sums converted as they are stored
        return out
    result = np.empty((b, m, ws.shape[2]), np.int64)
    kernel(xs, ws, _table(plan), result)
    return result if direct and out is None else _finish(plan, result, out)


def conv2d(plan: Plan, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry,
           out: np.ndarray | None = None) -> np.ndarray:
    if plan.mode == "lut":
        return column_conv2d(plan, x, w, geometry, out)
    low, high = plan.port_of("x").range
    xs = padded(x, geometry.padding, np.int16 if -2**15 <= low and high < 2**15 else np.int64)
    ws = np.ascontiguousarray(w, dtype=np.int64)
    result = np.empty((x.shape[0], w.shape[0], geometry.ho, geometry.wo), np.int64)
    macs = result.size * w.shape[1] * w.shape[2] * w.shape[3]
    generate.pick(generate.module(plan, "cpu"), "conv2d_kernel", macs)(xs, ws, _table(plan), result, *geometry.stride,
                                                                      *geometry.dilation, geometry.groups)
    return _finish(plan, result, out)


def column_conv2d(plan: Plan, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry,
                  out: np.ndarray | None = None) -> np.ndarray:
    """LUT mode's convolution where the split kernel does not pay (few outputs per group, e.g.
    depthwise, or few output pixels): one table column per (output channel, step), read at the
    activation's pattern for every pixel of the output plane. Any 8-bit table (with or without a
    split, imported ones too), any ports (patterns ``& 255``, as :func:`.tables.lut_of` indexes).
    The kernel pads each task's planes itself (no padded copy of the input)."""
    x = np.ascontiguousarray(x)
    xpat = as_patterns(x)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (ph, pw), (hp, wp) = geometry.padding, (h + 2 * geometry.padding[0], wd + 2 * geometry.padding[1])
    koff = step_offsets((n, c, hp, wp), w.shape, geometry).astype(np.uint64)  # k = (c, i, j), row-major
    cols = np.ascontiguousarray(w.reshape(o, cg * kh * kw)).astype(np.uint8).astype(np.uint64) * np.uint64(256)
    result = np.empty((n, o, geometry.ho, geometry.wo), np.int64) if out is None else out
    shift = 0 if plan.adder is not None else 64 - plan.acc_width  # the exact adder's sum wraps to acc_width
    macs = result.size * koff.size
    columns = tables.weight_major(plan.multiplier, plan.booth_operand).ravel()
    generate.pick(generate.module(plan, "cpu"), "column_conv2d_kernel", macs)(
        xpat.ravel(), koff, cols, columns, result, c, cg, h, wd, ph, pw, *geometry.stride, geometry.groups, shift,
        min(n * o, COLUMN_CHUNKS))
    return result


COLUMN_CHUNKS = 64  # column_conv2d_kernel's chunks of tasks (each zeroes one scratch of padded planes)
