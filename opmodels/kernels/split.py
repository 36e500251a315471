"""Run LUT mode on the CPU with per-weight tables: each weight's table column split into two 16- or
32-entry tables (the split itself: :mod:`.tables`), or, for a table without a split, its whole
column; kernels from template ``"split"`` of :mod:`.generate`.

The tables hold, per reduction step k and block of NB outputs, the T rows of those NB weights
(``R x NB``, int16 when the values fit, a few KB), and for each activation the kernel adds two of
its rows to NB int32 accumulators: two contiguous vector adds per MAC row instead of NB scattered
256 x 256 table lookups (whole columns: one row of 256 per step, one add). With the exact adder,
narrow blocks use pair tables whose rows hold the sum of two consecutive steps' products (one row
pair per two MACs). Tables are built once per weights' content and kept (:mod:`.cache`); tables
it does not keep are built per call in k-chunks that stay in cache. Each output still sees k in
ascending order (spec section 8), so LOA accumulation runs in the same loop, one product at a time,
as a few vector ops over the row of outputs in int32 lanes up to 32 bits (:func:`.generate.loa_lines`).
Matmul and conv2d are one kernel: activation ``x[m, k]`` is read at ``xflat[base[m] + koff[k]]``
(for conv2d: the zero-padded input and the offsets of :mod:`.geometry`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import cache, generate
from .geometry import ConvGeometry, as_patterns, offsets, padded
from .planning import Plan

MIN_BLOCK = 8  # one AVX2 vector of int32 accumulators
PAIR_BLOCK = 16  # blocks this narrow use pair tables (256 + 2^(2 hb) rows: small enough for the cache)
PAIR_MIN_ROWS = 4096  # ... when enough rows share them: a pair table has 8x the rows to build
TABLE_BYTES = 2 << 20  # tables built per call are built for chunks of k of this size, which stay in cache
# The kernels write int64 or float32 results (netsim's); other out= dtypes go through an int64 copy,
# so that each kernel is compiled for two output types, not four.
KERNEL_OUT_DTYPES = ("int64", "float32")
ACC_BYTES = 256 << 10  # an accumulator block (MB rows x NB outputs) stays in L2 while the table streams
# Prepared tables are kept across calls in the kernels' one table cache (:mod:`.cache`: its budget,
# eviction rule and weight digest); tables it would not keep are built per call, in chunks of k.


def _block_width(outputs: int) -> int:
    """NB: outputs per block, a power of two from MIN_BLOCK to 128."""
    return min(128, max(MIN_BLOCK, 1 << (outputs - 1).bit_length()))


class _Layout(NamedTuple):
    """How a step's weights become table rows: ``kind`` "split" (two rows per step: T_lo[x & 15] +
    T_hi[x >> shift]), "pairs" (two rows per two steps, exact adder) or "rows" (a table without a
    split: the whole column, one row per step, indexed by the pattern x)."""

    kind: str
    shift: int
    T: np.ndarray  # what build_tables reads: the split T, or the whole oriented table
    lo_rows: int
    rows: int
    steps: int


def _layout(plan: Plan, K: int, M: int, NB: int, tables: int = 1, keep: bool = True) -> _Layout:
    """The layout for K steps, M rows and blocks of NB outputs (``tables``: G x nblocks of them)."""
    split = plan.split()
    if split is None:
        table = plan.table()
        fits16 = -2**15 <= int(table.min()) and int(table.max()) < 2**15
        return _Layout("rows", 0, table.astype(np.int16 if fits16 else np.int32), 256, 256, K)
    shift, T = split
    hb = 8 - shift
    # Narrow blocks with the exact adder: pair tables, one row pair per two MACs (LOA sums each
    # product), where enough rows share their building or they are built once and kept.
    if plan.adder is None and NB <= PAIR_BLOCK:
        dtype = np.int16 if 2 * int(np.abs(T).max()) < 2**15 else np.int32
        pairs = _Layout("pairs", shift, T.astype(dtype), 256, 256 + (1 << 2 * hb), -(-K // 2))
        if M >= PAIR_MIN_ROWS or (keep and cache.keepable(_nbytes(pairs, tables, NB))):
            return pairs
    return _Layout("split", shift, T, 16, 16 + (1 << hb), K)


def _nbytes(layout: _Layout, tables: int, NB: int) -> int:
    return tables * layout.steps * layout.rows * NB * layout.T.itemsize


def accumulate(plan: Plan, xflat, base, koff, w, group_offsets, out, keep: bool = True) -> None:
    """``out[i, g * OG + o, p]`` = MAC over k of ``P(xflat[base[m] + koff[k] + group_offsets[g]], w[g, k, o])``
    for row ``m = i * P + p``, wrapped like the hardware accumulator.

    xflat: the activations as uint8 patterns (flat); base: int64 [M]; koff: int64 [K]; w: integer
    [G, K, OG] weight values; out: [I, G * OG, P] with I * P = M (matmul: P = 1; conv2d: the output
    pixels of each image), any of the dtypes ``kernels.matmul`` accepts for ``out``. keep: False for
    "weights" that change every call (a batched product of two activations): the tables are built
    per call and not kept in the cache.
    """
    G, K, OG = w.shape
    M = base.shape[0]
    NB = _block_width(OG)
    nblocks = -(-OG // NB)
    layout = _layout(plan, K, M, NB, G * nblocks, keep)
    wpat = np.zeros((G, K, nblocks * NB), np.uint8)
    wpat[:, :, :OG] = w.astype(np.uint8)  # two's-complement patterns; padding columns are discarded
    result = out
    if out.dtype.name not in KERNEL_OUT_DTYPES:
        out = np.empty(out.shape, np.int64)
    acc_dtype = np.dtype(_acc_dtype(plan, K, layout))
    accs = np.empty((G, nblocks, 0, NB), acc_dtype)  # partial sums between chunks of steps, if any
    if layout.kind == "pairs":
        last = koff[-1:] if K % 2 else koff[:0]
        koff, koff2 = koff[0::2], np.concatenate([koff[1::2], last])
    else:
        koff2 = koff
    module = generate.module(plan, "split")
    macs = G * M * K * OG
    build_tables = generate.pick(module, "build_tables", macs)
    split_kernel = generate.pick(module, f"split_kernel_nb{NB}", macs)
    row_kernel = generate.pick(module, f"row_kernel_nb{NB}", macs)
    goff = np.asarray(group_offsets, np.int64)
    mb = _row_block(M, G * nblocks, NB * acc_dtype.itemsize)
    wrap = 0 if plan.adder is not None else 64 - plan.acc_width
    for k0, tables in _tables(plan, layout, wpat, G, nblocks, NB, build_tables, keep):
        part = slice(k0, k0 + tables.shape[2])
        first, last = k0 == 0, part.stop == layout.steps
        if not last and accs.shape[2] != M:
            accs = np.empty((G, nblocks, M, NB), acc_dtype)
        if layout.kind == "rows":
            row_kernel(xflat, base, np.ascontiguousarray(koff[part]), goff, tables, accs, mb, out, wrap, first, last)
        else:
            split_kernel(xflat, base, np.ascontiguousarray(koff[part]), np.ascontiguousarray(koff2[part]),
                         goff, tables, layout.shift, layout.lo_rows, accs, mb, out, wrap, first, last)
    if result is not out:
        result[...] = out  # numpy's casts: the same values the kernel's stores would give


def _tables(plan: Plan, layout: _Layout, wpat: np.ndarray, G: int, nblocks: int, NB: int, build_tables, keep: bool):
    """(k0, tables [G, nblocks, kc, rows, NB]) for consecutive chunks of steps: all steps at once
    from the cache (built on a miss), or, for tables too large to keep, built per call in chunks."""
    steps, rows, T = layout.steps, layout.rows, layout.T
    K = wpat.shape[1]
    if layout.kind == "pairs":
        wpat, wpat2 = wpat[:, 0::2], np.concatenate([wpat[:, 1::2], wpat[:, K - K % 2:]], axis=1)
        has2 = (np.arange(steps) < K // 2).astype(np.uint8)
    else:
        wpat2, has2 = wpat, np.zeros(steps, np.uint8)
    hb = 8 - layout.shift

    def build(part, into):
        build_tables(np.ascontiguousarray(wpat[:, part]), np.ascontiguousarray(wpat2[:, part]), has2[part],
                            T, hb, layout.kind == "pairs", into)
        return into

    nbytes = _nbytes(layout, G * nblocks, NB)
    if keep and cache.keepable(nbytes):
        key = ("split", plan.multiplier.ir_hash, plan.booth_operand, layout.kind, layout.shift, T.dtype.str, NB,
               cache.digest(wpat))
        tables = cache.get(key)
        if tables is None and cache.grow(nbytes):
            tables = build(slice(0, steps), np.empty((G, nblocks, steps, rows, NB), T.dtype))
            cache.put(key, tables)
        if tables is not None:
            yield 0, tables
            return
    kc = max(1, min(steps, TABLE_BYTES // (G * nblocks * rows * NB * T.itemsize)))
    chunk = np.empty((G, nblocks, kc, rows, NB), T.dtype)
    for k0 in range(0, steps, kc):
        into = chunk if k0 + kc <= steps else np.empty((G, nblocks, steps - k0, rows, NB), T.dtype)
        yield k0, build(slice(k0, k0 + kc), into)


def _row_block(rows: int, column_blocks: int, row_bytes: int) -> int:
    """MB: rows per task. Each task streams its k-chunk of tables once, so blocks are as tall as L2
    allows, but there are enough of them to keep every thread busy."""
    import numba
    tasks_per_column_block = -(-2 * numba.get_num_threads() // column_blocks)
    return max(1, min(ACC_BYTES // row_bytes, -(-rows // tasks_per_column_block)))


def _acc_dtype(plan: Plan, K: int, layout: _Layout):
    """int32 accumulators (8 per AVX2 vector) when they hold the result: the exact adder keeps the
    sum modulo 2^acc_width, so any acc_width <= 32 works, wider only when no sum can leave int32; a
    LOA's word-lane statements (:func:`.generate.loa_lines`) hold the register in int32 up to 32 bits."""
    if plan.adder is not None:  # the LOA's statements give the signed acc_width-bit value (generate.loa_lines)
        return np.int32 if plan.acc_width <= 32 else np.int64
    T = layout.T
    per_step = int(np.abs(T).max()) if layout.kind == "rows" else int(np.abs(T[:16]).max()) + int(np.abs(T[16:]).max())
    largest = K * per_step
    return np.int32 if plan.acc_width <= 32 or largest < 2**31 else np.int64


def matmul(plan: Plan, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    m, k = x.shape
    out = np.empty((m, w.shape[1]), np.int64) if out is None else out
    xflat = as_patterns(np.ascontiguousarray(x)).ravel()
    accumulate(plan, xflat, np.arange(m, dtype=np.int64) * k, np.arange(k, dtype=np.int64), w[None], [0],
               out.reshape(m, w.shape[1], 1))
    return out


def step_table_bytes(plan: Plan, outputs: int) -> int:
    """About the bytes of one step's tables for one matrix of ``outputs`` columns, built per call by
    :func:`bmm` (split rows, or whole-column rows for a table without a split; blocks padded to NB)."""
    NB = _block_width(outputs)
    split = plan.split()
    rows, itemsize = (256, 4) if split is None else (16 + (256 >> split[0]), split[1].itemsize)
    return -(-outputs // NB) * NB * rows * itemsize


def bmm(plan: Plan, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """x [B, M, K] @ w [B, K, N] in one call: the B matrices of w are the groups of one table build
    (built per call, not kept: batched products multiply activations), read at group offsets b*M*K."""
    b, m, k = x.shape
    n = w.shape[2]
    xflat = as_patterns(np.ascontiguousarray(x)).ravel()
    rows = np.empty((m, b * n, 1), np.int64 if out is None else out.dtype)  # [M, (B, N)]: the kernels' output layout
    accumulate(plan, xflat, np.arange(m, dtype=np.int64) * k, np.arange(k, dtype=np.int64), w,
               np.arange(b, dtype=np.int64) * (m * k), rows, keep=False)
    result = rows.reshape(m, b, n).transpose(1, 0, 2)
    if out is None:
        return np.ascontiguousarray(result)
    np.copyto(out, result)
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
