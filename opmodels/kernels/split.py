"""Run LUT mode on the CPU with split tables: each weight's table column split into two 16- or
32-entry tables (the split itself: :mod:`.tables`), kernels from template ``"split"`` of :mod:`.generate`.

The kernel gathers, once per call, the T rows of every weight into a small table per reduction
step k and block of NB outputs (``R x NB``, int16 when the values fit, a few KB), and for each
activation adds two of its rows to NB int32 accumulators: two contiguous vector adds per MAC row
instead of NB scattered 256 x 256 table lookups. With the exact adder, narrow blocks of many rows
use pair tables whose rows hold the sum of two consecutive steps' products (one row pair per two
MACs). Each output still sees k in ascending order (spec section 8), so LOA accumulation runs in the
same loop, one product at a time. Matmul and conv2d are one kernel: activation ``x[m, k]`` is read at
``xflat[base[m] + koff[k]]`` (for conv2d: the zero-padded input and the offsets of :mod:`.geometry`).
"""
from __future__ import annotations

import numpy as np

from . import generate
from .geometry import ConvGeometry, offsets, padded
from .planning import Plan

MIN_BLOCK = 8  # one AVX2 vector of int32 accumulators
PAIR_BLOCK = 16  # blocks this narrow use pair tables (256 + 2^(2 hb) rows: small enough for the cache)
PAIR_MIN_ROWS = 4096  # ... when enough rows share them: a pair table has 8x the rows to build
TABLE_BYTES = 2 << 20  # the per-call tables are built for chunks of k of this size, which stay in cache
ACC_BYTES = 256 << 10  # an accumulator block (MB rows x NB outputs) stays in L2 while the table streams


def _block_width(outputs: int) -> int:
    """NB: outputs per block, a power of two from MIN_BLOCK to 128."""
    return min(128, max(MIN_BLOCK, 1 << (outputs - 1).bit_length()))


def accumulate(plan: Plan, xflat, base, koff, w, group_offsets, out) -> None:
    """``out[i, g * OG + o, p]`` = MAC over k of ``P(xflat[base[m] + koff[k] + group_offsets[g]], w[g, k, o])``
    for row ``m = i * P + p``, wrapped like the hardware accumulator.

    xflat: the activations as uint8 patterns (flat); base: int64 [M]; koff: int64 [K]; w: integer
    [G, K, OG] weight values; out: [I, G * OG, P] with I * P = M (matmul: P = 1; conv2d: the output
    pixels of each image), any of the dtypes ``kernels.matmul`` accepts for ``out``.
    """
    shift, T = plan.split()
    G, K, OG = w.shape
    M = base.shape[0]
    NB = _block_width(OG)
    nblocks = -(-OG // NB)
    wpat = np.zeros((G, K, nblocks * NB), np.uint8)
    wpat[:, :, :OG] = w.astype(np.uint8)  # two's-complement patterns; padding columns are discarded
    accs = np.zeros((G, nblocks, M, NB), _acc_dtype(plan, K, T))
    hb = 8 - shift
    # Narrow blocks with the exact adder: pair tables, one row pair per two MACs (LOA sums each product).
    pairs = plan.adder is None and NB <= PAIR_BLOCK and M >= PAIR_MIN_ROWS
    if pairs:
        steps = -(-K // 2)
        last = koff[-1:] if K % 2 else koff[:0]
        koff, koff2 = koff[0::2], np.concatenate([koff[1::2], last])
        wpat, wpat2 = wpat[:, 0::2], np.concatenate([wpat[:, 1::2], wpat[:, K - K % 2:]], axis=1)
        has2 = (np.arange(steps) < K // 2).astype(np.uint8)
        lo_rows, rows = 256, 256 + (1 << 2 * hb)
        dtype = np.int16 if 2 * int(np.abs(T).max()) < 2**15 else np.int32
    else:
        steps, koff2, wpat2, has2 = K, koff, wpat, np.zeros(K, np.uint8)
        lo_rows, rows, dtype = 16, 16 + (1 << hb), T.dtype
    T = T.astype(dtype)
    kc = max(1, min(steps, TABLE_BYTES // (G * nblocks * rows * NB * T.itemsize)))
    tables = np.empty((G, nblocks, kc, rows, NB), T.dtype)
    module = generate.module(plan, "split")
    mb = _row_block(M, G * nblocks, NB * accs.itemsize)
    for k0 in range(0, steps, kc):
        chunk = tables if k0 + kc <= steps else np.empty((G, nblocks, steps - k0, rows, NB), T.dtype)
        part = slice(k0, k0 + kc)
        module.build_tables(np.ascontiguousarray(wpat[:, part]), np.ascontiguousarray(wpat2[:, part]), has2[part],
                            T, hb, lo_rows, chunk)
        module.split_kernel(xflat, base, np.ascontiguousarray(koff[part]), np.ascontiguousarray(koff2[part]),
                            np.asarray(group_offsets, np.int64), chunk, shift, lo_rows, accs, mb)
    module.finish(accs, out, 0 if plan.adder is not None else 64 - plan.acc_width)


def _row_block(rows: int, column_blocks: int, row_bytes: int) -> int:
    """MB: rows per task. Each task streams its k-chunk of tables once, so blocks are as tall as L2
    allows, but there are enough of them to keep every thread busy."""
    import numba
    tasks_per_column_block = -(-2 * numba.get_num_threads() // column_blocks)
    return max(1, min(ACC_BYTES // row_bytes, -(-rows // tasks_per_column_block)))


def _acc_dtype(plan: Plan, K: int, T: np.ndarray):
    """int32 accumulators (8 per AVX2 vector) when they hold the result: the exact adder keeps the
    sum modulo 2^acc_width, so any acc_width <= 32 works, wider only when no sum can leave int32."""
    if plan.adder is not None:
        return np.int64  # the LOA's generated statements produce the signed acc_width-bit value
    largest = K * (int(np.abs(T[:16]).max()) + int(np.abs(T[16:]).max()))
    return np.int32 if plan.acc_width <= 32 or largest < 2**31 else np.int64


def matmul(plan: Plan, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    m, k = x.shape
    out = np.empty((m, w.shape[1]), np.int64) if out is None else out
    xflat = np.ascontiguousarray(x).astype(np.uint8).ravel()
    accumulate(plan, xflat, np.arange(m, dtype=np.int64) * k, np.arange(k, dtype=np.int64), w[None], [0],
               out.reshape(m, w.shape[1], 1))
    return out


def conv2d(plan: Plan, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry,
           out: np.ndarray | None = None) -> np.ndarray:
    n, o, groups = x.shape[0], w.shape[0], geometry.groups
    xpad = padded(x, geometry.padding, np.uint8)
    base, koff, goff = offsets(xpad.shape, w.shape, geometry)
    wg = w.reshape(groups, o // groups, koff.size).transpose(0, 2, 1)  # [G, K, OG]
    out = np.empty((n, o, geometry.ho, geometry.wo), np.int64) if out is None else out
    accumulate(plan, xpad.ravel(), base, koff, wg, goff, out.reshape(n, o, geometry.ho * geometry.wo))
    return out
