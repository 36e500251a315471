"""The integer products and sums of the ops netsim intercepts as function calls (see :mod:`.intercept`).

Every op reduces to one of two integer primitives of ``opmodels.kernels``: ``matmul`` (linear, the
batched products of ``torch.matmul`` / ``@`` / ``bmm`` / ``einsum``, attention, and Conv3d as
im2col) and ``conv2d`` (Conv1d as a 1-high Conv2d, ConvTranspose1d/2d as the direct convolution of
the zero-upsampled input). Batched products are one kernel call for the whole batch
(``kernels.matmul`` on [B, M, K] @ [B, K, N]; on CUDA one call per matrix), never a loop over
elements in Python.

The order of the sum (it matters for approximate adders) is the kernels' k order: for a matmul the
contracted index ascending; for a convolution (input channel of the group, kernel taps in row-major
order); for Conv3d (input channel, kd, kh, kw); for a transposed convolution the taps of the flipped
kernel over the zero-upsampled input. Zero padding and the zeros inserted by a transposed convolution
are real MACs fed operand 0, as the kernels' conv2d treats padding (hardware that streams zeros); the
MACs reported are the useful ones (what torch counts).

With the exact multiplier and adder the same integers come from torch's own operation in float64 on
the integer-valued operands (exact below 2^53), wrapped to ``acc_width`` bits.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import backend, quant
from .config import LayerSettings
from .errors import NetsimError


class Arithmetic:
    """The multiplier, adder, accumulator width and Booth-recoded operand of one op."""

    def __init__(self, settings: LayerSettings, name: str = ""):
        self.settings = settings
        self.multiplier = settings.multiplier_operator()
        op = self.multiplier
        if op is not None and not (op.a.signed and op.b.signed):  # ports: netsim.config.operands
            raise NetsimError(f"{name or 'an intercepted op'}: multiplier {op.id} is {op.describe_ports()}; the "
                              f"intercepted ops (functional calls, Conv1d/3d, transposed convolutions) take signed "
                              f"operands only: give this op a multiplier with signed ports in a [[layer]] entry")
        self.adder = settings.adder_operator()
        self.acc_width = settings.accumulator_width()
        self.booth = "w" if settings.recode == "weight" else "x"  # "w": the second (right) operand
        self.exact = settings.is_exact

    def describe(self) -> str:
        return "exact" if self.multiplier is None else self.multiplier.id


def _exact(acc: torch.Tensor, arith: Arithmetic) -> torch.Tensor:
    return quant.wrap_signed(acc.round().to(torch.int64), arith.acc_width)


def matmul(a: torch.Tensor, b: torch.Tensor, arith: Arithmetic, dtype=None) -> torch.Tensor:
    """int64 accumulators of ``a @ b``: a integer [..., M, K], b integer [..., K, N] (batch dims broadcast).
    ``dtype``: a float dtype to receive them in instead (the same values converted; the kernels write
    it directly, sparing an int64 result and a conversion pass)."""
    if arith.exact:
        acc = _exact(torch.matmul(a.double(), b.double()), arith)
        return acc if dtype is None else acc.to(dtype)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.dim() == 2:  # one right operand for every row of a: one kernel call
        acc = backend.matmul(a.reshape(-1, k), b, arith.multiplier, arith.adder, arith.acc_width, arith.booth, dtype)
        return acc.reshape(*a.shape[:-1], n)
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a3 = a.expand(*batch, m, k).reshape(-1, m, k)
    b3 = b.expand(*batch, k, n).reshape(-1, k, n)
    if not a.is_cuda:  # the whole batch in one kernel call
        acc = backend.matmul(a3.contiguous(), b3.contiguous(), arith.multiplier, arith.adder, arith.acc_width,
                             arith.booth, dtype)
        return acc.reshape(*batch, m, n)
    out = torch.empty((a3.shape[0], m, n), dtype=dtype or torch.int64, device=a.device)
    for index in range(a3.shape[0]):  # CUDA: one call per matrix
        out[index] = backend.matmul(a3[index], b3[index], arith.multiplier, arith.adder, arith.acc_width,
                                    arith.booth)
    return out.reshape(*batch, m, n)


def conv2d(x: torch.Tensor, w: torch.Tensor, arith: Arithmetic, stride, pads, dilation, groups: int) -> torch.Tensor:
    """int64 accumulators of a 2-D convolution; ``pads`` in ``F.pad`` order (negative values crop)."""
    x = F.pad(x, pads) if any(pads) else x
    if arith.exact:
        return _exact(F.conv2d(x.double(), w.double(), None, stride, 0, dilation, groups), arith)
    return backend.conv2d(x, w, arith.multiplier, arith.adder, arith.acc_width, tuple(stride), (0, 0),
                          tuple(dilation), groups, arith.booth)


def conv3d(x: torch.Tensor, w: torch.Tensor, arith: Arithmetic, stride, pads, dilation, groups: int) -> torch.Tensor:
    """int64 accumulators of a 3-D convolution, as im2col and one kernel matmul (groups: one batched
    call on the CPU, one matmul per group on CUDA)."""
    x = F.pad(x, pads) if any(pads) else x
    if arith.exact:
        return _exact(F.conv3d(x.double(), w.double(), None, stride, 0, dilation, groups), arith)
    kernel = w.shape[2:]
    patches = x
    for dim, (size, step, spread) in enumerate(zip(kernel, stride, dilation)):
        patches = patches.unfold(2 + dim, (size - 1) * spread + 1, step)
    patches = patches[..., ::dilation[0], ::dilation[1], ::dilation[2]]  # [N, C, Do, Ho, Wo, kd, kh, kw]
    n, c, do, ho, wo = patches.shape[:5]
    cols = patches.permute(0, 2, 3, 4, 1, 5, 6, 7)
    o = w.shape[0]
    og = o // groups
    rows = n * do * ho * wo
    a = cols.reshape(rows, groups, -1).transpose(0, 1)  # [G, rows, cg * kd * kh * kw]
    b = w.reshape(groups, og, -1).transpose(1, 2)         # [G, K, og]
    if groups == 1 or x.is_cuda:
        out = torch.cat([backend.matmul(a[g], b[g], arith.multiplier, arith.adder, arith.acc_width, arith.booth)
                         for g in range(groups)], dim=1)
    else:  # every group in one kernel call: [G, rows, og] -> [rows, G * og]
        acc = backend.matmul(a.contiguous(), b.contiguous(), arith.multiplier, arith.adder, arith.acc_width,
                             arith.booth)
        out = acc.transpose(0, 1).reshape(rows, o)
    return out.reshape(n, do, ho, wo, o).permute(0, 4, 1, 2, 3)


def transposed_weight(w: torch.Tensor, groups: int) -> torch.Tensor:
    """A transposed convolution's weight [Cin, Cout/g, *k] as the direct convolution's [Cout, Cin/g, *k],
    flipped in space."""
    cin, cout_g, *kernel = w.shape
    w = w.reshape(groups, cin // groups, cout_g, *kernel).transpose(1, 2).reshape(groups * cout_g, cin // groups,
                                                                                  *kernel)
    return w.flip(dims=tuple(range(2, w.dim())))


def upsampled(x: torch.Tensor, stride, kernel, padding, output_padding, dilation):
    """The zero-upsampled input of a transposed convolution and the ``F.pad`` amounts (per dim, last first)
    that make it a direct convolution with stride 1."""
    spatial = x.shape[2:]
    if any(s > 1 for s in stride):
        shape = [(size - 1) * step + 1 for size, step in zip(spatial, stride)]
        z = x.new_zeros((*x.shape[:2], *shape))
        z[(slice(None), slice(None), *(slice(None, None, step) for step in stride))] = x
        x = z
    pads = []
    for k, p, extra, d in reversed(list(zip(kernel, padding, output_padding, dilation))):
        before = d * (k - 1) - p
        pads += [before, before + extra]
    return x, pads


def dequantize(acc: torch.Tensor, scale: torch.Tensor, dtype, channel_dim: int | None = None) -> torch.Tensor:
    """``acc * scale`` in ``dtype``; a per-channel ``scale`` runs along ``channel_dim``."""
    scale = scale.to(dtype=dtype, device=acc.device)
    if scale.dim() and channel_dim is not None:
        shape = [1] * acc.dim()
        shape[channel_dim] = -1
        scale = scale.reshape(shape)
    return acc.to(dtype) * scale


def dynamic_scale(x: torch.Tensor, bits: int, mode: str) -> torch.Tensor:
    """The step of a tensor quantized on the fly: from its own max |x| (mean |x| for 1 bit)."""
    value = x.detach().abs().mean() if bits == 1 else x.detach().abs().max()
    return quant.scale_from_range(value, bits, mode)


def matrix_scale(x: torch.Tensor, bits: int, mode: str) -> torch.Tensor:
    """One step per matrix (the last two dims) of an operand of a product of two activations, shaped
    [..., 1, 1]: each sample's and head's result then depends on its own operands only, never on the
    other samples of the batch (a batch-wide max would make an accuracy depend on the batch size)."""
    magnitude = x.detach().abs()
    value = magnitude.mean(dim=(-2, -1), keepdim=True) if bits == 1 else magnitude.amax(dim=(-2, -1), keepdim=True)
    return quant.scale_from_range(value, bits, mode)


def activation_product(a: torch.Tensor, b: torch.Tensor, arith: Arithmetic, a_bits: int, b_bits: int,
                       mode: str) -> torch.Tensor:
    """``a @ b`` of two float activations, each quantized on the fly with one step per matrix
    (:func:`matrix_scale`; a with ``a_bits``, b with ``b_bits``): the accumulators times ``sa * sb`` in
    a's dtype. Views (attention's q, k^T) are made contiguous once, so the max, the quantization and
    the kernel read contiguous memory, and the kernels write float accumulators that are scaled in
    place: the same numbers as quantizing the views and dequantizing an int64 result."""
    a, b = a.detach().contiguous(), b.detach().contiguous()
    sa, sb = matrix_scale(a, a_bits, mode), matrix_scale(b, b_bits, mode)
    direct = a.dtype if a.dtype in (torch.float32, torch.float64) else None  # what the kernels' out= takes
    acc = matmul(quant.quantize(a, sa, a_bits), quant.quantize(b, sb, b_bits), arith, direct).to(a.dtype)
    return acc.mul_((sa * sb).to(dtype=a.dtype, device=acc.device))


def quantize_weight(w: torch.Tensor, settings: LayerSettings):
    """(integers, scale) of a weight operand: per tensor, or per output channel (dim 0)."""
    scale = quant.weight_scale(w, settings.w_bits, settings.w_granularity, settings.scale)
    shape = (-1,) + (1,) * (w.dim() - 1)
    q = quant.quantize(w.detach().double(), scale.reshape(shape) if scale.dim() else scale, settings.w_bits)
    return q.to(w.device), scale.to(w.device)
