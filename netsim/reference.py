"""A plain-torch integer backend: products from the operator's lookup table (or the reference
interpreter for wide operators), sums in spec section 8 order.

It is the fallback when ``opmodels.kernels`` (Numba) is not installed, and a second opinion in the
tests. It is simple rather than fast: one gather per product, memory bounded by chunking.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from opmodels.lut import LUT_WIDTH

CHUNK_PRODUCTS = 1 << 22  # products materialised at once


@lru_cache(maxsize=64)
def _lut(op) -> torch.Tensor:
    return torch.from_numpy(op.lut().astype(np.int64).reshape(-1))


def products(mcand: torch.Tensor, mplier: torch.Tensor, op) -> torch.Tensor:
    """P(a, b) as int64 for broadcastable integer tensors; ``op`` None is the exact product."""
    a, b = mcand.long(), mplier.long()
    if op is None:
        return a * b
    if op.width == LUT_WIDTH:
        return _lut(op)[((a & 0xFF) << 8) | (b & 0xFF)]
    a, b = torch.broadcast_tensors(a, b)
    return torch.from_numpy(op.evaluate(a.numpy(), b.numpy()))


def wrap(value: torch.Tensor, width: int) -> torch.Tensor:
    """Two's-complement wrap of int64 values to ``width`` bits."""
    if width >= 64:
        return value
    value = value & ((1 << width) - 1)
    return value - ((value >> (width - 1)) & 1) * (1 << width)


def loa_add(x: torch.Tensor, y: torch.Tensor, width: int, l: int) -> torch.Tensor:
    """Spec section 7 on int64 tensors holding signed ``width``-bit values (width <= 63)."""
    mask = (1 << width) - 1
    xp, yp = x & mask, y & mask
    if l == 0:
        return wrap(xp + yp, width)
    low = (xp | yp) & ((1 << l) - 1)
    carry = (xp >> (l - 1)) & (yp >> (l - 1)) & 1
    upper = ((xp >> l) + (yp >> l) + carry) & ((1 << (width - l)) - 1)
    return wrap((upper << l) | low, width)


def matmul(x: torch.Tensor, w: torch.Tensor, multiplier, adder, acc_width: int,
           booth_operand: str = "w") -> torch.Tensor:
    """x [M, K] and w [K, N] integers -> int64 [M, N]; the Booth-recoded operand is ``booth_operand``."""
    x, w = x.cpu(), w.cpu()
    M, K = x.shape
    N = w.shape[1]
    out = torch.empty((M, N), dtype=torch.int64)
    rows = max(1, CHUNK_PRODUCTS // max(1, K * N))
    for start in range(0, M, rows):
        xs = x[start:start + rows, :, None]
        ws = w[None, :, :]
        p = products(xs, ws, multiplier) if booth_operand == "w" else products(ws, xs, multiplier)
        p = p.expand(xs.shape[0], K, N)
        if adder is None:
            out[start:start + rows] = wrap(p.sum(dim=1), acc_width)
        else:
            if adder.width > 63:
                raise NotImplementedError("the torch fallback handles LOA widths up to 63")
            acc = torch.zeros((xs.shape[0], N), dtype=torch.int64)
            for k in range(K):
                acc = loa_add(acc, wrap(p[:, k], adder.width), adder.width, adder.params["l"])
            out[start:start + rows] = acc
    return out


def conv2d(x: torch.Tensor, w: torch.Tensor, multiplier, adder, acc_width: int, stride=1, padding=0,
           dilation=1, groups=1, booth_operand: str = "w") -> torch.Tensor:
    """x [N, C, H, W], w [O, C/groups, kh, kw] integers -> int64 [N, O, Ho, Wo] (unfold column order)."""
    x, w = x.cpu(), w.cpu()
    n, c, h, width = x.shape
    o, cg, kh, kw = w.shape
    # float64 holds every operand exactly; padding zeros become operand 0, which contributes P(0, w)
    cols = F.unfold(x.double(), (kh, kw), dilation=dilation, padding=padding, stride=stride)
    length = cols.shape[-1]
    ho = (h + 2 * _pair(padding)[0] - _pair(dilation)[0] * (kh - 1) - 1) // _pair(stride)[0] + 1
    wo = length // ho
    cols = cols.view(n, groups, cg * kh * kw, length).long()
    og = o // groups
    out = torch.empty((n, o, length), dtype=torch.int64)
    for g in range(groups):
        xg = cols[:, g].transpose(1, 2).reshape(n * length, cg * kh * kw)
        wg = w[g * og:(g + 1) * og].reshape(og, -1).t().long()
        out[:, g * og:(g + 1) * og] = matmul(xg, wg, multiplier, adder, acc_width, booth_operand) \
            .view(n, length, og).transpose(1, 2)
    return out.view(n, o, ho, wo)


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)
