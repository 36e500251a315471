"""Symmetric fixed-point quantization.

A ``b``-bit value is ``q * s`` with ``q`` an integer in ``-(2^(b-1) - 1) .. 2^(b-1) - 1`` (symmetric:
-2^(b-1) is never used, so negating a value never overflows) and ``s`` a positive float scale,
``s = range / (2^(b-1) - 1)``. ``q = clamp(round_half_even(x / s))``.

1 bit: a symmetric 1-bit quantizer has no zero; we define it as the sign quantizer of binary networks,
``q = +1 if x >= 0 else -1`` (operands -1 and +1, both in every multiplier's range) with
``s = mean |x|`` (the scale that minimises the squared error of sign quantization, XNOR-Net).

With ``scale = "pow2"`` the step is rounded up to a power of two: fixed point with a per-layer
number of fractional bits.

Unsigned activations (for a multiplier whose activation port is unsigned, see
``netsim.config.operands``): ``q = clamp(round_half_even(x / s), 0, 2^b - 1)`` with
``s = range / (2^b - 1)``; negative inputs become 0 (after a ReLU there are none).
"""
from __future__ import annotations

import math

import torch

from .errors import NetsimError

# |x| values kept per layer by a calibration pass for percentile scales
CALIBRATION_SAMPLES = 1 << 18


def qmax(bits: int) -> int:
    return (1 << (bits - 1)) - 1 if bits > 1 else 1


def integer_dtype(bits: int) -> torch.dtype:
    return torch.int8 if bits <= 8 else torch.int16


def unsigned_max(bits: int) -> int:
    return (1 << bits) - 1


def scale_from_range(value: torch.Tensor, bits: int, mode: str = "float", signed: bool = True) -> torch.Tensor:
    """The step for a range (max |x|, a percentile of |x|, or mean |x| for 1 bit); never 0.
    ``signed=False``: the step of unsigned values ``0 .. 2^bits - 1``."""
    step = value.double() / ((qmax(bits) if bits > 1 else 1) if signed else unsigned_max(bits))
    step = torch.where(step > 0, step, torch.ones_like(step))
    if mode == "pow2":
        step = torch.exp2(torch.ceil(torch.log2(step)))
    return step


def quantize(x: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """Integers ``q`` (int8 up to 8 bits, else int16) with ``x ~ q * scale``; ``scale`` broadcasts."""
    if bits == 1:
        return torch.where(x >= 0, 1, -1).to(torch.int8)
    limit = qmax(bits)
    fused = _fused_quantize(x, scale, limit, integer_dtype(bits))
    if fused is not None:
        return fused
    q = torch.round(x / scale.to(x.dtype)).clamp_(-limit, limit)
    return q.to(integer_dtype(bits))


def _fused_quantize(x: torch.Tensor, scale: torch.Tensor, limit: int, dtype: torch.dtype):
    """The one-pass CPU loop of :mod:`netsim.fused` (the same integers), or None where it does not apply."""
    from . import fused  # numba: imported on the first quantization, not with netsim
    return fused.quantize(x, scale, limit, dtype)


def quantize_unsigned(x: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """Integers ``q`` in ``0 .. 2^bits - 1`` (int16, or int32 for 16 bits) with ``x ~ q * scale``."""
    q = torch.round(x / scale.to(x.dtype)).clamp_(0, unsigned_max(bits))
    return q.to(torch.int16 if bits < 16 else torch.int32)


def weight_scale(weight: torch.Tensor, bits: int, granularity: str, mode: str = "float") -> torch.Tensor:
    """Scale of a weight tensor, one per tensor or one per output channel (dim 0), shaped to broadcast."""
    w = weight.detach().abs().double()
    reduce = (lambda t: t.mean()) if bits == 1 else (lambda t: t.max())
    if granularity == "channel":
        flat = w.reshape(w.shape[0], -1)
        value = flat.mean(dim=1) if bits == 1 else flat.amax(dim=1)
        return scale_from_range(value, bits, mode)
    return scale_from_range(reduce(w), bits, mode)


class RangeObserver:
    """Collects |x| of a layer's input over calibration batches: max, mean, and a sample for percentiles."""

    def __init__(self, seed: int = 0, name: str = ""):
        self.name = name  # the layer, for the error messages
        self.max = 0.0
        self.abs_sum = 0.0
        self.count = 0
        self.samples = []
        self.kept = 0
        self.generator = torch.Generator().manual_seed(seed)

    def observe(self, x: torch.Tensor) -> None:
        a = x.detach().abs().reshape(-1).float()
        if a.numel() == 0:
            return
        top = float(a.max())
        if not math.isfinite(top):  # max(0.0, nan) is 0.0: one NaN would silently make the step 1.0
            raise NetsimError(f"calibration: the input of layer {self.name!r} holds NaN or Inf values, so its "
                              f"activation range is not finite; check the calibration data and the weights")
        self.max = max(self.max, top)
        self.abs_sum += float(a.double().sum())
        self.count += a.numel()
        budget = CALIBRATION_SAMPLES - self.kept
        if budget > 0:
            if a.numel() > budget:
                pick = torch.randint(0, a.numel(), (budget,), generator=self.generator)
                a = a.to("cpu")[pick]
            self.samples.append(a.to("cpu"))
            self.kept += a.numel()

    def range(self, method: str, percentile: float, bits: int) -> float:
        if self.count == 0:
            raise ValueError("no calibration data reached this layer")
        if bits == 1:
            return self.abs_sum / self.count
        if method == "percentile":
            values = torch.cat(self.samples)
            return float(torch.quantile(values.double(), percentile / 100.0))
        return self.max


def wrap_signed(acc: torch.Tensor, width: int) -> torch.Tensor:
    """``opmodels.bits.wrap_signed`` for torch tensors (any device): int64 mod 2^width, read as signed."""
    if width >= 64:
        return acc
    acc = acc & ((1 << width) - 1)
    return acc - ((acc >> (width - 1)) & 1) * (1 << width)
