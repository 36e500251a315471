"""One-pass CPU quantization: ``clamp(round_half_even(x / s))`` written straight into int8 / int16.

:func:`netsim.quant.quantize` in torch is four passes over the activations (the division, the
rounding, the clamp, the conversion) with two or three temporary float tensors; this Numba loop reads
each float once and writes its integer, with the same arithmetic: the scale is first rounded to x's
float dtype (``scale.to(x.dtype)``), then one IEEE division per element (not a multiplication by the
reciprocal, which rounds differently), ``np.rint`` (round half to even, like ``torch.round``), the
clamp to +-limit, and NaN to 0 (what torch's conversion of a NaN gives on x86). Tested equal to the
torch formula bit for bit in ``tests/netsim/test_fused.py``.

It applies to float32 / float64 CPU tensors whose scale is one value or one per leading index (a
per-matrix step ``[..., 1, 1]``, a per-sample step ``[N, 1, 1, 1]``); :func:`quantize` returns None
for anything else and the caller keeps the torch formula.
"""
from __future__ import annotations

import numba
import numpy as np
import torch


@numba.njit(cache=True, nogil=True)
def _quantize_groups(x, scales, limit, out):
    # x and out flat, in len(scales) equal consecutive groups, group g divided by scales[g]. Serial:
    # the loop is one vectorised pass (a parallel region costs more than it saves at these sizes, and
    # far more on a loaded machine). NaN is found by a flag, so the main loop keeps no branch.
    groups = scales.shape[0]
    size = x.shape[0] // groups
    lim = x.dtype.type(limit)
    x2 = x.reshape(groups, size)
    o2 = out.reshape(groups, size)
    for g in range(groups):
        s = scales[g]
        row = x2[g]
        orow = o2[g]
        nan = False
        for i in range(size):
            v = np.rint(row[i] / s)
            nan |= np.isnan(v)
            orow[i] = min(max(v, -lim), lim)
        if nan:
            for i in range(size):
                if np.isnan(row[i] / s):
                    orow[i] = 0


def _groups(x: torch.Tensor, scale: torch.Tensor) -> int | None:
    """How many consecutive equal-sized groups of x share one scale each, or None if the scale's
    shape is not one value or one per leading index of x."""
    if scale.numel() == 1:
        return 1
    if scale.dim() != x.dim():
        return None
    lead = 0
    while lead < x.dim() and scale.shape[lead] == x.shape[lead]:
        lead += 1
    return scale.numel() if all(size == 1 for size in scale.shape[lead:]) else None


def quantize(x: torch.Tensor, scale: torch.Tensor, limit: int, dtype: torch.dtype) -> torch.Tensor | None:
    """``clamp(round(x / scale.to(x.dtype)), -limit, limit).to(dtype)`` in one pass, or None where this
    loop does not apply (a CUDA tensor, another float dtype, a scale of another shape, a gradient)."""
    if (x.device.type != "cpu" or scale.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64)
            or dtype not in (torch.int8, torch.int16) or x.requires_grad or x.numel() == 0):
        return None
    groups = _groups(x, scale)
    if groups is None:
        return None
    flat = x.detach().contiguous().reshape(-1).numpy()
    scales = scale.detach().to(x.dtype).contiguous().reshape(-1).numpy()
    out = torch.empty(x.shape, dtype=dtype)
    _quantize_groups(flat, scales, limit, out.reshape(-1).numpy())
    return out
