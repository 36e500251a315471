"""Wide operands (9..32 bits) without the per-MAC scalar function: per-weight chunk tables.

With the weight fixed, a Booth product is a sum of per-chunk terms of the activation (the split is
proven from the IR by :func:`opmodels.analysis.chunk_split`, never sampled): for 16 bits,

    P(x, w) = T0[w][x & 15] + T1[w][(x >> 3) & 31] + T2[w][(x >> 7) & 31] + T3[w][(x >> 11) & 31]   (mod 2^32)

The tables of each distinct weight are computed once (by the multiplier's generated scalar function
at the window patterns, see :func:`weight_tables`) and kept with the layer's weights (the kernels' one
table cache, :mod:`.cache`, keyed by the weights' digest: inference weights are static). A call then stages, for a chunk of reduction
steps, each step's ``C x R x N`` table block (int32 when the product fits) and adds C table rows per
activation: C contiguous vector adds across the N outputs per MAC row. Each output still accumulates
k in order (spec section 8), so LOA adders run in the same loop, one product at a time.

:func:`applies` says whether a plan takes this path: behavioural mode and a proven split.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..analysis import ChunkSplit, chunk_split
from ..backends import numba_cpu
from ..bits import wrap_signed
from . import cache, cpu, generate
from .geometry import ConvGeometry, offsets, padded
from .planning import Plan

ACC_BYTES = 256 << 10  # an accumulator block (MB rows x N outputs)
STAGED_BYTES = 192 << 20  # a layer's staged tables up to this size take the staged kernel (512 B a weight at 16 bits)
GATHER_NB = 16  # outputs per task of the gather kernel
NB_MAX = 64  # outputs per task: a step's table slab (C x R x NB) stays in L1/L2

_splits: dict[tuple, ChunkSplit | None] = {}


def split_of(plan: Plan) -> ChunkSplit | None:
    """The proven split of the plan's multiplier over the activation's port, None when unproven."""
    if plan.mode != "behavioural":
        return None
    port = "a" if plan.booth_operand == "w" else "b"
    key = (plan.multiplier.ir_hash, port)
    if key not in _splits:
        _splits[key] = chunk_split(plan.multiplier.graph, port)[0]
    return _splits[key]


def applies(plan: Plan) -> bool:
    split = split_of(plan)
    return split is not None and split.out_width <= 64


def _patterns(split: ChunkSplit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the activation patterns to evaluate, index of F(v << lo) and of F((v & 1) << lo) per
    [chunk, row]; the second is -1 for chunk 0, whose table is F itself)."""
    rows = split.rows
    pats: dict[int, int] = {}
    top = np.zeros((len(split.windows), rows), np.int64)
    low = np.full((len(split.windows), rows), -1, np.int64)
    for c, (lo, hi) in enumerate(split.windows):
        for v in range(1 << (hi - lo)):
            top[c, v] = pats.setdefault(v << lo, len(pats))
            if c:
                low[c, v] = pats.setdefault((v & 1) << lo, len(pats))
    return np.array(list(pats), np.int64), top, low


def _tables_dtype(plan: Plan, split: ChunkSplit):
    return np.int32 if split.out_width <= 32 else np.int64


def weight_tables(plan: Plan, split: ChunkSplit, weights: np.ndarray) -> np.ndarray:
    """[U, C, R] tables of the weight values ``weights`` [U]: row v of chunk c is the chunk's term for
    window pattern v, reduced to a signed out_width-bit value (the sum of the C terms is the
    product modulo 2^out_width)."""
    pats, top, low = _patterns(split)
    xs = plan.port_of("x").read(pats)
    exact_sum = dataclasses.replace(plan, adder=None, acc_width=64)
    f = cpu.matmul(exact_sum, xs[:, None], weights[None, :].astype(np.int64))  # [patterns, U]: F_w(pattern)
    t = f[top]  # [C, R, U]
    t[1:] -= f[np.maximum(low[1:], 0)]
    for c, (lo, hi) in enumerate(split.windows):
        t[c, 1 << (hi - lo):] = 0  # rows past a narrower window are never read
    wrap_signed(t, split.out_width)
    return np.ascontiguousarray(t.transpose(2, 0, 1)).astype(_tables_dtype(plan, split))


def layer_tables(plan: Plan, split: ChunkSplit, w: np.ndarray) -> dict:
    """{"compact": tables [U, C, R] of the distinct weights, "index": [w.shape] into them, "staged":
    the kernel's layout once built}, kept per weight array in :mod:`.cache` (keyed by the weights' digest)."""
    key = ("chunks", plan.multiplier.ir_hash, plan.booth_operand, cache.digest(w))
    entry = cache.get(key)
    if entry is None:
        values, index = np.unique(w, return_inverse=True)
        entry = {"compact": weight_tables(plan, split, values), "index": index.reshape(w.shape).astype(np.int32),
                 "staged": None}
        cache.put(key, entry)
    return entry


KERNELS = '''
@numba.njit(cache=True, parallel=True, nogil=True)
def stage(compact, index, k0, tables):
    # tables[g, k, c, r, n] = compact[index[g, k0 + k, n], c, r]. 16 weights at a time: their C x R
    # entries are read once each (8 cache lines a weight at 16 bits, then in L1), and every write
    # fills 16 consecutive outputs. Flat unsigned indices, no views in the threads.
    G, KC, C, R, N = tables.shape
    K = index.shape[1]
    CR = np.uint64(C * R)
    nu = np.uint64(N)
    cflat = compact.reshape(-1)
    iflat = index.reshape(-1)
    tflat = tables.reshape(-1)
    for task in numba.prange(G * KC):
        g = task // KC
        k = task % KC
        i0 = np.uint64((g * K + k0 + k) * N)
        t0 = np.uint64(task) * CR * nu
        for n0 in range(0, N, 16):
            nn = np.uint64(min(N, n0 + 16) - n0)
            for e in range(CR):
                out0 = t0 + e * nu + np.uint64(n0)
                for j in range(nn):
                    tflat[out0 + j] = cflat[np.uint64(iflat[i0 + np.uint64(n0) + j]) * CR + e]


@numba.njit(cache=True, parallel=True, nogil=True)
def chunk_kernel(xflat, base, koff, goff, tables, los, masks, accs, MB, NB):
    # accs[g, m, :] += the MACs of these steps, k ascending for every output; x[m, k] of group g is
    # the pattern xflat[base[m] + goff[g] + koff[k]]; its chunk c selects table row
    # (x >> los[c]) & masks[c]. A task owns NB outputs and MB rows: each step's C x R x NB table
    # slab stays in L1/L2 while the rows stream. Flat unsigned indices, no views in the threads.
    G, KC, C, R, N = tables.shape
    M = base.shape[0]
    MBLK = (M + MB - 1) // MB
    NBLK = (N + NB - 1) // NB
    tflat = tables.reshape(-1)
    aflat = accs.reshape(-1)
    nu = np.uint64(N)
    for task in numba.prange(G * NBLK * MBLK):
        g = task // (NBLK * MBLK)
        n0 = np.uint64(((task // MBLK) % NBLK) * NB)
        nn = np.uint64(min(N, n0 + NB)) - n0
        m0 = (task % MBLK) * MB
        m1 = min(M, m0 + MB)
        for k in range(KC):
            t = np.uint64((g * KC + k) * C * R)
            for m in range(m0, m1):
                x = np.uint64(xflat[base[m] + goff[g] + koff[k]])
                #ROWS
                a0 = np.uint64((g * M + m) * N) + n0
                for n in range(nn):
                    acc = aflat[a0 + n]
                    #SUM
                    #ACCUMULATE
                    aflat[a0 + n] = acc


@numba.njit(cache=True, parallel=True, nogil=True)
def gather_kernel(xflat, base, koff, goff, compact, index, los, masks, accs, MB, NB):
    # The same sums without staged tables (layers too big to keep them): accs[g, n, m] (outputs
    # major) += for k ascending, the C entries of weight index[g, k, n]'s own tables (C x R, in L1)
    # that x[m, k] selects; each step's row indices are computed once for the MB rows.
    G, K, N = index.shape
    C = compact.shape[1]
    R = compact.shape[2]
    M = base.shape[0]
    MBLK = (M + MB - 1) // MB
    NBLK = (N + NB - 1) // NB
    CR = np.uint64(C * R)
    cflat = compact.reshape(-1)
    aflat = accs.reshape(-1)
    for task in numba.prange(G * NBLK * MBLK):
        g = task // (NBLK * MBLK)
        n0 = ((task // MBLK) % NBLK) * NB
        n1 = min(N, n0 + NB)
        m0 = (task % MBLK) * MB
        m1 = min(M, m0 + MB)
        rows = np.empty((C, MB), np.uint64)
        for k in range(K):
            for m in range(m0, m1):
                x = np.uint64(xflat[base[m] + goff[g] + koff[k]])
                for c in range(C):
                    rows[c, m - m0] = np.uint64(c * R) + ((x >> np.uint64(los[c])) & np.uint64(masks[c]))
            for n in range(n0, n1):
                t0 = np.uint64(index[g, k, n]) * CR
                a0 = np.uint64((g * N + n) * M + m0)
                for mm in range(m1 - m0):
                    acc = aflat[a0 + mm]
                    #GSUM
                    #ACCUMULATE
                    aflat[a0 + mm] = acc
'''

_modules: dict[tuple, object] = {}


def _module(plan: Plan, chunks: int, wrap: int):
    """The kernels for ``chunks`` tables per MAC; ``wrap`` > 0: the product is the table sum
    sign-extended from its low 64 - wrap bits (needed where the accumulator is wider than the product
    or a LOA adds it), 0: the plain sum (the exact adder modulo 2^acc_width <= product width)."""
    key = (chunks, wrap, plan.adder.ir_hash if plan.adder else None)
    if key not in _modules:
        rows = [f"o{c} = (t + np.uint64({c} * R) + ((x >> np.uint64(los[{c}])) & np.uint64(masks[{c}]))) * nu + n0"
                for c in range(chunks)]
        total = " + ".join(f"np.int64(tflat[o{c} + n])" for c in range(chunks))
        wrap_line = [f"p = (p << np.int64({wrap})) >> np.int64({wrap})"] if wrap else []
        sums = [f"p = {total}"] + wrap_line
        gsum = ["p = " + " + ".join(f"np.int64(cflat[t0 + rows[{c}, mm]])" for c in range(chunks))] + wrap_line
        accumulate = generate.accumulate_lines(plan, numba_cpu.CPU)
        source = (f'"""Generated by opmodels: chunk-table kernels, {chunks} chunks, adder '
                  f'{plan.adder.id if plan.adder else "exact"}."""\n{numba_cpu.CPU.header}\n'
                  + generate.fill(KERNELS, {"ROWS": rows, "SUM": sums, "GSUM": gsum, "ACCUMULATE": accumulate}))
        _modules[key] = numba_cpu.load_module(source, f"chunks{chunks}_{'loa' if plan.adder else 'exact'}")
    return _modules[key]


def accumulate(plan: Plan, xflat, base, koff, w, group_offsets, out) -> None:
    """``out[i, g * OG + o, p]`` = MAC over k of ``P(xflat[base[m] + koff[k] + group_offsets[g]], w[g, k, o])``
    for row ``m = i * P + p`` (the layout of :func:`.split.accumulate`); xflat holds patterns."""
    split = split_of(plan)
    G, K, OG = w.shape
    M = base.shape[0]
    entry = layer_tables(plan, split, w)
    compact, index = entry["compact"], entry["index"]
    C, R = compact.shape[1], compact.shape[2]
    modular = plan.adder is None and plan.acc_width <= split.out_width
    if modular and plan.acc_width <= 32 and compact.dtype == np.int32:
        acc_dtype, wrap = np.int32, 0  # int32 lanes wrap modulo 2^32: exact for acc_width <= 32
    elif plan.adder is not None and plan.acc_width <= 32:  # a LOA's word-lane statements (generate.loa_lines)
        acc_dtype, wrap = np.int32, 64 - split.out_width
    else:
        acc_dtype, wrap = np.int64, (0 if modular else 64 - split.out_width)
    accs = np.zeros((G, M, OG), acc_dtype)
    los = np.array([lo for lo, _ in split.windows], np.int64)
    masks = np.array([(1 << (hi - lo)) - 1 for lo, hi in split.windows], np.int64)
    module = _module(plan, C, wrap)
    nb = min(OG, NB_MAX)
    mb = _row_block(M, G * -(-OG // nb), nb * accs.itemsize)
    goff = np.asarray(group_offsets, np.int64)
    staged_bytes = G * K * C * R * OG * compact.itemsize
    if staged_bytes <= STAGED_BYTES:  # the layer's staged tables, built once and kept with its weights
        staged = entry["staged"]
        if staged is None:
            staged = np.empty((G, K, C, R, OG), compact.dtype)
            module.stage(compact, index, 0, staged)
            if cache.grow(staged.nbytes):  # kept with the layer's tables when the cache has room
                entry["staged"] = staged
        module.chunk_kernel(xflat, base, np.ascontiguousarray(koff), goff, staged, los, masks, accs, mb, nb)
    else:  # too big to keep: each weight's own tables, gathered (see gather_kernel)
        accs_t = np.zeros((G, OG, M), acc_dtype)
        module.gather_kernel(xflat, base, np.ascontiguousarray(koff), goff, compact, index, los, masks, accs_t,
                             _row_block(M, G * -(-OG // GATHER_NB), 256), GATHER_NB)
        accs = accs_t.transpose(0, 2, 1)
    result = accs.astype(np.int64).transpose(1, 0, 2).reshape(M, G * OG)  # [M, O]
    if plan.adder is None:
        wrap_signed(result, plan.acc_width)
    I, O, P = out.shape
    np.copyto(out, result.reshape(I, P, O).transpose(0, 2, 1), casting="unsafe")


def _row_block(rows: int, groups: int, row_bytes: int) -> int:
    import numba
    tasks_per_group = -(-2 * numba.get_num_threads() // groups)
    return max(1, min(ACC_BYTES // max(1, row_bytes), -(-rows // tasks_per_group)))


def _flat_patterns(plan: Plan, x: np.ndarray) -> np.ndarray:
    width = plan.port_of("x").width
    dtype = np.uint16 if width <= 16 else np.uint32 if width <= 32 else np.uint64
    return (x.astype(np.int64) & ((1 << width) - 1)).astype(dtype)


def matmul(plan: Plan, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    m, k = x.shape
    out = np.empty((m, w.shape[1]), np.int64) if out is None else out
    xflat = _flat_patterns(plan, np.ascontiguousarray(x)).ravel()
    accumulate(plan, xflat, np.arange(m, dtype=np.int64) * k, np.arange(k, dtype=np.int64), w[None], [0],
               out.reshape(m, w.shape[1], 1))
    return out


def conv2d(plan: Plan, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry,
           out: np.ndarray | None = None) -> np.ndarray:
    n, o, groups = x.shape[0], w.shape[0], geometry.groups
    xpad = padded(_flat_patterns(plan, x), geometry.padding, np.uint16 if plan.port_of("x").width <= 16
                  else np.uint64)
    base, koff, goff = offsets(xpad.shape, w.shape, geometry)
    wg = w.reshape(groups, o // groups, koff.size).transpose(0, 2, 1)  # [G, K, OG]
    out = np.empty((n, o, geometry.ho, geometry.wo), np.int64) if out is None else out
    accumulate(plan, xpad.ravel(), base, koff, np.ascontiguousarray(wg), goff,
               out.reshape(n, o, geometry.ho * geometry.wo))
    return out
