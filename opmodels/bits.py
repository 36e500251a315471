"""Two's-complement helpers shared by every numpy path: bit patterns, signed reads, wrapping.

Everything that reduces a value modulo 2^width and reads it back as signed goes through
:func:`wrap_signed`, so the interpreter, the kernels, the metrics and the checks agree on one rule.
"""
from __future__ import annotations

import numpy as np


def mask(width: int) -> int:
    return (1 << width) - 1


def dtype_for(width: int) -> type:
    """The unsigned dtype that holds ``width``-bit patterns."""
    return np.uint32 if width <= 32 else np.uint64


def wrap_signed(values: np.ndarray, width: int) -> np.ndarray:
    """int64 ``values`` modulo 2^width, read as signed ``width``-bit integers, **in place**."""
    if width < 64:
        shift = np.int64(64 - width)
        np.left_shift(values, shift, out=values)
        np.right_shift(values, shift, out=values)
    return values


def to_signed(patterns, width: int) -> np.ndarray:
    """``width``-bit patterns (or any integers, taken modulo 2^width) read as two's complement int64."""
    return wrap_signed(np.array(patterns, dtype=np.uint64, copy=True).view(np.int64), width)


def to_unsigned(patterns, width: int) -> np.ndarray:
    """``width``-bit patterns (width <= 63) read as unsigned int64."""
    return np.asarray(patterns).astype(np.int64) & np.int64(mask(width))


def to_patterns(values, width: int) -> np.ndarray:
    """Signed or unsigned integers to their ``width``-bit patterns, in the width's unsigned dtype."""
    dtype = dtype_for(width)
    x = np.asarray(values)
    if x.dtype != dtype:
        x = x.astype(np.int64, copy=False).view(np.uint64) if x.dtype.kind == "i" else x
        x = x.astype(dtype)
    return x & dtype(mask(width))
