"""LUT mode on the CPU: each weight's table column split into two 16- or 32-entry tables.

For a radix-4 Booth multiplier and a fixed multiplier operand b, every partial-product bit is a
constant or one bit of the multiplicand a (or its inverse), so the product is a sum of per-bit terms
of a, and it splits over any partition of a's bits:

    L[x, w] = T[x & 15, w] + T[16 + (x >> 4), w]           (x the multiplicand, the default)

With the activation Booth-recoded instead, each Booth row reads one 3-bit digit: rows 0 and 1 read
bits 0..3, rows 2 and 3 bits 3..7, so with the shared bit 3 counted once

    L[x, w] = T[x & 15, w] + T[16 + (x >> 3), w]           (x the Booth-recoded operand).

Neither is assumed: :func:`split_of` builds T from the table alone and checks it on all 65,536 entries
(a table it does not fit keeps the plain gather loop).

The kernel then gathers, once per call, the T rows of every weight into a small table per reduction
step k and block of NB outputs (``R x NB``, int16 when the values fit, a few KB), and for each
activation adds two of its rows to NB int32 accumulators: two contiguous vector adds per MAC row
instead of NB scattered 256 x 256 table lookups. With the exact adder, narrow blocks of many rows
use pair tables whose rows hold the sum of two consecutive steps' products (one row pair per two
MACs). Each output still sees k in ascending order (spec section 8), so LOA accumulation runs in the
same loop, one product at a time. Matmul and conv2d are one kernel: activation ``x[m, k]`` is read at
``xflat[base[m] + koff[k]]`` (for conv2d: the zero-padded input and the unfold order of the
(channel, kernel row, kernel column) offsets).
"""
from __future__ import annotations

import numpy as np

SHIFTS = (4, 3)  # T rows 16.. by x >> 4 (multiplicand), or x >> 3 (Booth-recoded digits share bit 3)
MIN_ROWS = 8  # below this many activation rows, building the tables costs more than it saves
MIN_BLOCK = 8  # one AVX2 vector of int32 accumulators
MIN_OUTPUTS = 4  # outputs per group (fewer, e.g. depthwise, keep the gather loops)
PAIR_BLOCK = 16  # blocks this narrow use pair tables (256 + 2^(2 hb) rows: small enough for the cache)
PAIR_MIN_ROWS = 4096  # ... when enough rows share them: a pair table has 8x the rows to build
TABLE_BYTES = 2 << 20  # the per-call tables are built for chunks of k of this size, which stay in cache
ACC_BYTES = 256 << 10  # an accumulator block (MB rows x NB outputs) stays in L2 while the table streams

KERNELS = '''
@numba.njit(cache=True, parallel=True, nogil=True)
def build_tables(wpat, wpat2, has2, split, hb, lo_rows, tables):
    # tables[g, nb, s, r, :] for the NB weights of block nb at step s (patterns, zero-padded).
    # One step (lo_rows = 16): row r is split[r, w]. A pair of steps (lo_rows = 256, exact adder
    # only): row r < 256 is split[r & 15, w] + split[r >> 4, w2], row 256 + h is
    # split[16 + (h & (2^hb - 1)), w] + split[16 + (h >> hb), w2]; has2 = 0 where the pair is a lone
    # last step. Flat unsigned indices: numba then skips its negative-index checks.
    G, NBLK, KC, R, NB = tables.shape
    NPAD = wpat.shape[2]
    wflat = wpat.ravel()
    w2flat = wpat2.ravel()
    sflat = split.ravel()
    tflat = tables.reshape(-1)
    pairs = lo_rows == 256
    for task in numba.prange(G * NBLK * KC):  # the (g, nb, s) order of the table's layout
        g = task // (NBLK * KC)
        nb = (task // KC) % NBLK
        k = task % KC
        w0 = np.uint64((g * KC + k) * NPAD + nb * NB)
        second = has2[k]
        for r in range(R):
            t0 = np.uint64((task * R + r) * NB)
            if not pairs:
                s0 = np.uint64(r * 256)
                for j in range(NB):
                    tflat[t0 + np.uint64(j)] = sflat[s0 + np.uint64(wflat[w0 + np.uint64(j)])]
            else:
                if r < 256:
                    ra = r & 15
                    rb = r >> 4
                else:
                    ra = 16 + ((r - 256) & ((1 << hb) - 1))
                    rb = 16 + ((r - 256) >> hb)
                sa = np.uint64(ra * 256)
                sb = np.uint64(rb * 256)
                for j in range(NB):
                    v = sflat[sa + np.uint64(wflat[w0 + np.uint64(j)])]
                    if second:
                        v += sflat[sb + np.uint64(w2flat[w0 + np.uint64(j)])]
                    tflat[t0 + np.uint64(j)] = v


@numba.njit(cache=True, parallel=True, nogil=True)
def split_kernel(xflat, base, koff, koff2, goff, tables, shift, lo_rows, accs, MB):
    # accs[g, nb, m, :] += the MACs of the chunk's steps, k ascending for every output. A step reads
    # x = xflat[base[m] + koff[k]], or with pair tables the pattern pair x | x2 << 8 (x2 at koff2[k]).
    # Flat unsigned indices and no array views (a view's reference count is an atomic that the
    # threads would share).
    G, NBLK, KC, R, NB = tables.shape
    M = base.shape[0]
    MBLK = (M + MB - 1) // MB
    tflat = tables.reshape(-1)
    aflat = accs.reshape(-1)
    nbu = np.uint64(NB)
    pairs = lo_rows == 256
    su = np.uint64(shift)
    hbu = np.uint64(8 - shift)
    lou = np.uint64(lo_rows)
    for task in numba.prange(G * NBLK * MBLK):
        g = task // (NBLK * MBLK)
        nb = (task // MBLK) % NBLK
        m0 = (task % MBLK) * MB
        m1 = min(M, m0 + MB)
        # Two steps per pass over the accumulators (half the loads and stores of them).
        for k in range(0, KC, 2):
            two = k + 1 < KC
            k1 = k + 1 if two else k
            t0 = np.uint64(((g * NBLK + nb) * KC + k) * R * NB)
            t1 = np.uint64(((g * NBLK + nb) * KC + k1) * R * NB)
            for m in range(m0, m1):
                b = base[m] + goff[g]
                x0 = np.uint64(xflat[b + koff[k]])
                x1 = np.uint64(xflat[b + koff[k1]])
                if pairs:
                    x0 |= np.uint64(xflat[b + koff2[k]]) << np.uint64(8)
                    x1 |= np.uint64(xflat[b + koff2[k1]]) << np.uint64(8)
                # low nibbles (of both patterns), then the high parts: rows lo_rows ..
                lo0 = t0 + ((x0 & np.uint64(15)) | ((x0 >> np.uint64(4)) & np.uint64(0xF0))) * nbu
                lo1 = t1 + ((x1 & np.uint64(15)) | ((x1 >> np.uint64(4)) & np.uint64(0xF0))) * nbu
                hi0 = t0 + (lou + (((x0 & np.uint64(255)) >> su) | ((x0 >> (np.uint64(8) + su)) << hbu))) * nbu
                hi1 = t1 + (lou + (((x1 & np.uint64(255)) >> su) | ((x1 >> (np.uint64(8) + su)) << hbu))) * nbu
                a0 = np.uint64(((g * NBLK + nb) * M + m) * NB)
                for j in range(nbu):
                    acc = aflat[a0 + j]
                    p = tflat[lo0 + j] + tflat[hi0 + j]
                    #ACCUMULATE
                    if two:
                        p = tflat[lo1 + j] + tflat[hi1 + j]
                        #ACCUMULATE
                    aflat[a0 + j] = acc

@numba.njit(cache=True, parallel=True, nogil=True)
def finish(accs, out, shift):
    # out[i, o, p] = the accumulator of row m = i * P + p and output o, sign-extended from its low
    # 64 - shift bits (the acc_width-bit register; shift 0 keeps the LOA's own result), converted to
    # out's dtype. One pass instead of numpy's transposes, conversions and wrapping.
    G, NBLK, M, NB = accs.shape
    I, O, P = out.shape
    OG = O // G
    for task in numba.prange(I * O):
        i = task // O
        o = task % O
        g = o // OG
        nb = (o % OG) // NB
        j = (o % OG) % NB
        for p in range(P):
            v = np.int64(accs[g, nb, i * P + p, j])
            out[i, o, p] = (v << shift) >> shift
'''

_splits: dict[tuple, tuple[int, np.ndarray] | None] = {}


def split_of(plan) -> tuple[int, np.ndarray] | None:
    """(shift, T) with ``L[x, w] = T[x & 15, w] + T[16 + (x >> shift), w]`` for every pattern pair,
    checked entry by entry; None when the table has no such split. T is [16 + 256 >> shift, 256],
    int16 when its values fit (half the bytes to stream), else int32."""
    key = (plan.multiplier.ir_hash, plan.booth_operand)
    if key not in _splits:
        _splits[key] = _find_split(plan.table().astype(np.int64))
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


def usable(plan, rows: int, outputs: int) -> bool:
    """The split kernel pays off with a few activation rows (the tables are built per call) and at
    least one full vector of outputs per group (fewer, e.g. depthwise, keep the gather loops)."""
    return plan.mode == "lut" and rows >= MIN_ROWS and outputs >= MIN_OUTPUTS and split_of(plan) is not None


def _block_width(outputs: int) -> int:
    """NB: outputs per block, a power of two from MIN_BLOCK to 128."""
    return min(128, max(MIN_BLOCK, 1 << (outputs - 1).bit_length()))


def accumulate(plan, xflat, base, koff, w, group_offsets, out) -> None:
    """``out[i, g * OG + o, p]`` = MAC over k of ``P(xflat[base[m] + koff[k] + group_offsets[g]], w[g, k, o])``
    for row ``m = i * P + p``, wrapped like the hardware accumulator.

    xflat: the activations as uint8 patterns (flat); base: int64 [M]; koff: int64 [K]; w: integer
    [G, K, OG] weight values; out: [I, G * OG, P] with I * P = M (matmul: P = 1; conv2d: the output
    pixels of each image), any of the dtypes ``kernels.matmul`` accepts for ``out``.
    """
    from .cpu import kernel_module

    shift, T = split_of(plan)
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
    module = kernel_module(plan, kernels=KERNELS, stem="split")
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


def _acc_dtype(plan, K: int, T: np.ndarray):
    """int32 accumulators (8 per AVX2 vector) when they hold the result: the exact adder keeps the
    sum modulo 2^acc_width, so any acc_width <= 32 works, wider only when no sum can leave int32."""
    if plan.adder is not None:
        return np.int64  # the LOA's generated statements produce the signed acc_width-bit value
    largest = K * (int(np.abs(T[:16]).max()) + int(np.abs(T[16:]).max()))
    return np.int32 if plan.acc_width <= 32 or largest < 2**31 else np.int64


def matmul(plan, x: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    m, k = x.shape
    out = np.empty((m, w.shape[1]), np.int64) if out is None else out
    xflat = np.ascontiguousarray(x).astype(np.uint8).ravel()
    accumulate(plan, xflat, np.arange(m, dtype=np.int64) * k, np.arange(k, dtype=np.int64), w[None], [0],
               out.reshape(m, w.shape[1], 1))
    return out


def conv2d(plan, x, w, stride, padding, dilation, groups, ho, wo, out: np.ndarray | None = None) -> np.ndarray:
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    hp, wp = h + 2 * ph, wd + 2 * pw
    xpad = np.zeros((n, c, hp, wp), np.uint8)  # pattern 0 = operand value 0: padding is a real MAC
    xpad[:, :, ph:ph + h, pw:pw + wd] = x.astype(np.uint8)
    # m = (image, oh, ow) row-major; k = (channel in group, kernel row, kernel column), spec section 8
    base = (np.arange(n)[:, None, None] * (c * hp * wp) + np.arange(ho)[None, :, None] * (sh * wp)
            + np.arange(wo)[None, None, :] * sw).ravel()
    koff = (np.arange(cg)[:, None, None] * (hp * wp) + np.arange(kh)[None, :, None] * (dh * wp)
            + np.arange(kw)[None, None, :] * dw).ravel()
    og = o // groups
    wg = w.reshape(groups, og, cg * kh * kw).transpose(0, 2, 1)  # [G, K, OG]
    out = np.empty((n, o, ho, wo), np.int64) if out is None else out
    accumulate(plan, xpad.ravel(), base.astype(np.int64), koff.astype(np.int64), wg,
               np.arange(groups) * (cg * hp * wp), out.reshape(n, o, ho * wo))
    return out
