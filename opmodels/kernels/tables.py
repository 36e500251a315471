"""An 8-bit multiplier's tables, built once per IR hash in this process: the LUT oriented for the
kernels and its additive split.

For a radix-4 Booth multiplier and a fixed multiplier operand b, every partial-product bit is a
constant or one bit of the multiplicand a (or its inverse), so the product is a sum of per-bit terms
of a, and it splits over any partition of a's bits:

    L[x, w] = T[x & 15, w] + T[16 + (x >> 4), w]           (x the multiplicand, the default)

With the activation Booth-recoded instead, each Booth row reads one 3-bit digit: rows 0 and 1 read
bits 0..3, rows 2 and 3 bits 3..7, so with the shared bit 3 counted once

    L[x, w] = T[x & 15, w] + T[16 + (x >> 3), w]           (x the Booth-recoded operand).

Neither is assumed: :func:`split_of` builds T from the table alone and checks it on all 65,536
entries (a table it does not fit keeps the plain gather loop).
"""
from __future__ import annotations

import numpy as np

from .. import interp
from ..lut import LUT_WIDTH
from ..operator import Operator

SHIFTS = (4, 3)  # T rows 16.. by x >> 4 (multiplicand), or x >> 3 (Booth-recoded digits share bit 3)

_luts: dict[str, np.ndarray] = {}
_splits: dict[tuple, tuple[int, np.ndarray] | None] = {}
_largest: dict[str, int] = {}
_weight_major: dict[tuple, np.ndarray] = {}


def fits_table(op: Operator) -> bool:
    """True when both operands have at most 8 bits: the kernels then run the operator as a table."""
    return op.a.width <= LUT_WIDTH and op.b.width <= LUT_WIDTH


def lut_of(op: Operator) -> np.ndarray:
    """The kernels' table ``[a & 0xFF, b & 0xFF]`` of an operator with ports of at most 8 bits, each
    port reading the low bits of the index that are its own (its bit pattern): for an 8 x 8 operator
    this is ``op.lut()``; for an 8 x 4 one, value v of the 4-bit port is found at any index whose low 4
    bits are v's pattern, e.g. ``v & 0xFF``. The rows and columns of values outside a port's range are
    never read (the kernels check every operand against its port first). Built once per IR hash."""
    if op.ir_hash not in _luts:
        patterns = np.arange(1 << LUT_WIDTH, dtype=np.uint32)  # the interpreter takes each port's low bits
        y = interp.evaluate(op.graph, {"a": patterns[:, None], "b": patterns[None, :]})["y"]
        _luts[op.ir_hash] = np.ascontiguousarray(op.y.read(y).astype(np.int32))
    return _luts[op.ir_hash]


def largest_product(op: Operator) -> int:
    """The largest |product| in the operator's table (a bound on one MAC's term), once per IR hash."""
    if op.ir_hash not in _largest:
        _largest[op.ir_hash] = int(np.abs(lut_of(op).astype(np.int64)).max())
    return _largest[op.ir_hash]


def oriented(op: Operator, booth_operand: str) -> np.ndarray:
    """The LUT as ``table[x & 0xFF, w & 0xFF]`` (x activation, w weight), int32, C order."""
    table = lut_of(op)
    return table if booth_operand == "w" else np.ascontiguousarray(table.T)


def weight_major(op: Operator, booth_operand: str) -> np.ndarray:
    """:func:`oriented` transposed, ``[w & 0xFF, x & 0xFF]``, int32, C order (one weight's column is
    1 KB), once per (IR hash, Booth operand)."""
    key = (op.ir_hash, booth_operand)
    if key not in _weight_major:
        _weight_major[key] = np.ascontiguousarray(oriented(op, booth_operand).T)
    return _weight_major[key]


def split_of(op: Operator, booth_operand: str) -> tuple[int, np.ndarray] | None:
    """(shift, T) with ``L[x, w] = T[x & 15, w] + T[16 + (x >> shift), w]`` for every pattern pair,
    checked entry by entry; None when the table has no such split. T is [16 + 256 >> shift, 256],
    int16 when its values fit (half the bytes to stream), else int32."""
    key = (op.ir_hash, booth_operand)
    if key not in _splits:
        _splits[key] = _find_split(oriented(op, booth_operand).astype(np.int64))
    return _splits[key]


def _find_split(L: np.ndarray):
    x = np.arange(256)
    for shift in SHIFTS:
        high = np.arange(256 >> shift) << shift
        # T_hi[u] = L[u << shift] - L[its bits below 4], so that the shared bits are counted once
        T = np.concatenate([L[:16], L[high] - L[high & 15]])
        if np.array_equal(T[x & 15] + T[16 + (x >> shift)], L) and np.abs(T).max() < 2**31:
            return shift, T.astype(np.int16 if np.abs(T).max() < 2**15 else np.int32)
    return None
