"""Exact sums of LUT products as a few float32 GEMMs (or convolutions) on transformed operands.

A radix-4 Booth multiplier's table has low rank: each Booth row depends only on the multiplicand and
one 3-bit digit of the multiplier, and within a row the cells give a, ~a, a << 1 and low parts of a.
So the 256 x 256 table splits exactly into a few integer terms,

    L[x, w] = s(x) * s(w) + sum_q U_q(x) V_q(w)          (s = the signed value of the 8-bit pattern)

found here from the table alone (no knowledge of the cells): the first term is the exact product and
the rest spans the error E = L - s s^T, with a basis of E's smallest columns (or rows) and integer
coefficients solved for and then verified entry by entry. Then

    sum_k L[x_mk, w_kn] = sum_{k, q} U_q(x_mk) V_q(w_kn),

one GEMM with r*K inner terms on BLAS (torch), where U_q(x) and V_q(w) are 256-entry table gathers.

Why float32 is exact here: every product U_q(x) V_q(w) is an integer, and for a chunk of k the sum of
their absolute values is at most chunk_k * sum_q max|U_q| max|V_q| (= chunk_k * bound). Chunks are
chosen so this is < 2^24. Any partial sum a BLAS forms, in any order or blocking, is a sum of a subset
of those terms, so its magnitude is below 2^24, and every integer below 2^24 is a float32: no rounding
ever happens. Each chunk's result is then converted to int64 and the chunks are added exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT32_EXACT = 1 << 24  # every integer with |n| <= 2^24 is exactly representable in float32
SIGNED = (np.arange(256) ^ 0x80) - 0x80  # the signed value of each 8-bit pattern


@dataclass(frozen=True)
class Factors:
    """L[x, w] = sum_q U[x, q] * V[w, q] for all 256 x 256 patterns (verified when built)."""

    U: np.ndarray  # int64 [256, r]: functions of the activation pattern
    V: np.ndarray  # int64 [256, r]: functions of the weight pattern

    @property
    def rank(self) -> int:
        return self.U.shape[1]

    @property
    def bound(self) -> int:
        """max over patterns of sum_q |U_q(x) V_q(w)|: the most one MAC adds to a sum of absolutes."""
        return int(np.abs(self.U).max(0) @ np.abs(self.V).max(0))


def _small_basis(E: np.ndarray) -> list[int]:
    """Indices of columns of E that span its column space, smallest (max-abs) columns first."""
    Ef = E.astype(np.float64)
    order = np.argsort(np.abs(E).max(0), kind="stable")
    basis, orthonormal = [], []
    for c in order:
        v = Ef[:, c]
        norm = np.linalg.norm(v)
        if norm == 0:
            continue
        for q in orthonormal:
            v = v - (q @ v) * q
        if np.linalg.norm(v) > 1e-7 * norm:
            basis.append(int(c))
            orthonormal.append(v / np.linalg.norm(v))
    return basis


def _factor_columns(E: np.ndarray):
    """E = B @ C with B = some columns of E and C integer, or None if the solved C is not integral."""
    basis = _small_basis(E)
    if not basis:
        return np.zeros((256, 0), np.int64), np.zeros((0, 256), np.int64)
    B = E[:, basis]
    C, *_ = np.linalg.lstsq(B.astype(np.float64), E.astype(np.float64), rcond=None)
    C = np.rint(C).astype(np.int64)
    return (B, C) if np.array_equal(B @ C, E) else None


def factorize(table: np.ndarray) -> Factors | None:
    """Exact integer factors of ``table[x, w]`` (int, 256 x 256), or None when none were found.
    Tries a basis of functions of x and one of functions of w (and folding the exact term into either)."""
    L = np.asarray(table, dtype=np.int64)
    E = L - np.outer(SIGNED, SIGNED)
    found = []
    by_x = _factor_columns(E)          # E = Bx @ C: U = columns (functions of x), V = C^T
    if by_x is not None:
        found.append((by_x[0], by_x[1].T))
    by_w = _factor_columns(E.T)        # E^T = Bw @ C: U = C^T (functions of x), V = Bw
    if by_w is not None:
        found.append((by_w[1].T, by_w[0]))
    if not found:
        return None
    candidates = []
    for U, V in found:
        candidates.append(Factors(np.concatenate([SIGNED[:, None], U], 1), np.concatenate([SIGNED[:, None], V], 1)))
        folded = _fold_exact_term(U, V)
        if folded is not None:
            candidates.append(folded)
    # Fewest terms, but short exact float32 chunks cost extra passes (a term folded in can be large).
    best = min(candidates, key=lambda f: f.rank * (1 + 256 / max(1, chunk_length(f, 1))))
    if not np.array_equal(best.U @ best.V.T, L):  # the guarantee everything below relies on
        return None
    return best


def _fold_exact_term(U: np.ndarray, V: np.ndarray) -> Factors | None:
    """When s = U @ alpha (integer alpha), s s^T + U V^T = U (V + s alpha^T)^T: one term fewer."""
    for basis, other, swap in ((U, V, False), (V, U, True)):
        if basis.shape[1] == 0:
            continue
        alpha, *_ = np.linalg.lstsq(basis.astype(np.float64), SIGNED.astype(np.float64), rcond=None)
        alpha = np.rint(alpha).astype(np.int64)
        if np.array_equal(basis @ alpha, SIGNED):
            merged = other + np.outer(SIGNED, alpha)
            return Factors(merged, basis) if swap else Factors(basis, merged)
    return None


_cache: dict[tuple, Factors | None] = {}


def factors_of(plan) -> Factors | None:
    key = (plan.multiplier.ir_hash, plan.booth_operand)
    if key not in _cache:
        _cache[key] = factorize(plan.table())
    return _cache[key]


# Above this rank the GEMM has more than MAX_RANK * K inner terms and the gather kernel is faster.
MAX_RANK = 16


def _usable(plan):
    factors = factors_of(plan)
    if factors is None or factors.rank > MAX_RANK:
        return None
    try:
        import torch  # noqa: F401  (BLAS and oneDNN convolutions)
    except ImportError:
        return None
    return factors


def chunk_length(factors: Factors, unit: int) -> int:
    """How many k (in whole units of ``unit`` steps) one float32 GEMM may sum exactly."""
    return ((FLOAT32_EXACT - 1) // (factors.bound * unit)) * unit


def patterns(values: np.ndarray) -> np.ndarray:
    """The 8-bit patterns of in-range operand values, as uint8 (the gather index)."""
    return np.asarray(values).astype(np.uint8)  # two's complement: the low 8 bits of any integer dtype


def matmul(plan, x: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """The exact-adder LUT matmul (int64, wrapped to acc_width), or None to use the gather kernel."""
    factors = _usable(plan)
    if factors is None:
        return None
    step = chunk_length(factors, 1)
    if step == 0:
        return None
    import torch
    from . import wrap_signed

    m, k = x.shape
    n = w.shape[1]
    r = factors.rank
    U, V = factors.U.astype(np.float32), factors.V.astype(np.float32)
    xp, wp = patterns(x), patterns(w)
    out = np.zeros((m, n), np.int64)
    for k0 in range(0, k, step):
        k1 = min(k, k0 + step)
        # numpy's take is a plain gather (much faster than torch advanced indexing on CPU)
        a = np.take(U, xp[:, k0:k1], axis=0).reshape(m, (k1 - k0) * r)                        # [M, (k, q)]
        b = np.take(V, wp[k0:k1], axis=0).transpose(0, 2, 1).reshape((k1 - k0) * r, n)         # [(k, q), N]
        out += (torch.from_numpy(a) @ torch.from_numpy(b)).numpy().astype(np.int64)
    return wrap_signed(out, plan.acc_width)


def conv2d(plan, x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups) -> np.ndarray | None:
    """The exact-adder LUT conv2d as convolutions of the transformed operands, or None."""
    factors = _usable(plan)
    if factors is None:
        return None
    o, cg, kh, kw = w.shape
    step = chunk_length(factors, kh * kw) // (kh * kw)  # input channels per exact chunk
    if step == 0 or (groups > 1 and step < cg):
        return None  # a chunk would cut a group: leave it to the gather kernel
    import torch
    import torch.nn.functional as F
    from . import wrap_signed

    r = factors.rank
    U, V = factors.U.astype(np.float32), factors.V.astype(np.float32)
    # Pad with operand value 0 *before* the transform: a padded position is the MAC P(0, w), i.e.
    # sum_q U_q(0) V_q(w), which is not 0 in general.
    nb, c, h, wd = x.shape
    ph, pw = padding
    xp = np.zeros((nb, h + 2 * ph, wd + 2 * pw, c), np.uint8)              # channels last, patterns
    xp[:, ph:ph + h, pw:pw + wd, :] = patterns(x).transpose(0, 2, 3, 1)
    wp = patterns(w)
    chunks = [(0, cg)] if groups > 1 else [(c0, min(cg, c0 + step)) for c0 in range(0, cg, step)]
    out = None
    for c0, c1 in chunks:
        xs = xp if groups > 1 else xp[..., c0:c1]
        cs = xs.shape[3]
        # Channels ordered (c, q): the gather's natural [N, Hp, Wp, C, r] layout is channels-last.
        feats = torch.from_numpy(np.take(U, xs, axis=0)).reshape(nb, xs.shape[1], xs.shape[2], cs * r)
        feats = feats.permute(0, 3, 1, 2)
        weights = np.take(V, wp[:, c0:c1], axis=0).transpose(0, 1, 4, 2, 3).reshape(o, (c1 - c0) * r, kh, kw)
        weights = torch.from_numpy(np.ascontiguousarray(weights)).contiguous(memory_format=torch.channels_last)
        y = F.conv2d(feats, weights, stride=stride, dilation=dilation, groups=groups).numpy().astype(np.int64)
        out = y if out is None else out + y
    return wrap_signed(np.ascontiguousarray(out), plan.acc_width)
