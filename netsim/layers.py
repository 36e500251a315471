"""Approximate ``Conv2d`` and ``Linear``: the torch layers with only the inner product replaced.

Forward: quantize the input with the calibrated activation scale, take the integer products and sums
with the configured multiplier and adder (spec section 8 order), rescale by ``s_a * s_w`` and add the
bias in floating point. Weights are quantized once, when the layer is built, and again after
``load_state_dict`` (call :meth:`requantize` after changing them in place otherwise). With the exact multiplier and adder the same integers come
from torch's own matmul/convolution on integer-valued floats, which is exact for these magnitudes.

In training mode the backward pass is the straight-through estimator: the gradient of the float
layer evaluated on the quantized operands.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import backend, quant
from .macs import layer_macs
from .config import LayerSettings

FLOAT32_EXACT = 1 << 24  # integers up to this magnitude (and their partial sums) are exact in float32


class ApproxMixin:
    """State shared by the approximate layers; ``settings`` is the resolved :class:`LayerSettings`."""

    settings: LayerSettings

    @classmethod
    def from_float(cls, layer: nn.Module, settings: LayerSettings, name: str = "",
                   input_range: float | None = None):
        """The approximate twin of ``layer``, sharing its weight and bias Parameters.

        The torch layer's own ``__init__`` builds it (on the meta device: its fresh parameters are
        replaced by the original's at once), so every attribute torch derives is derived by torch.
        """
        new = cls(**cls.shape_arguments(layer), bias=layer.bias is not None, device="meta")
        new.weight, new.bias = layer.weight, layer.bias
        new.train(layer.training)
        new.configure(settings, name, input_range)
        new.register_load_state_dict_post_hook(_requantize_after_load)
        return new

    @staticmethod
    def shape_arguments(layer: nn.Module) -> dict:
        """The constructor arguments of a layer of ``layer``'s shape (bias and device aside)."""
        raise NotImplementedError

    def configure(self, settings: LayerSettings, name: str = "", input_range: float | None = None):
        """Take ``settings`` and the calibrated input range; quantizes the weight."""
        self.settings = settings
        self.layer_name = name
        self.multiplier_op = settings.multiplier_operator()
        self.operands = settings.operands()  # the ports' signedness: unsigned activations, a weight offset
        self.adder_op = settings.adder_operator()
        self.acc_width = settings.accumulator_width()
        self.booth_operand = "w" if settings.recode == "weight" else "x"
        self.macs_per_sample = None  # set by the first forward (or the calibration pass)
        scale = None
        if input_range is not None and settings.quantize:
            scale = quant.scale_from_range(torch.tensor(input_range), settings.a_bits, settings.scale,
                                           self.operands.activation_signed)
        self.register_buffer("input_scale", scale, persistent=False)
        self.requantize()

    @torch.no_grad()
    def requantize(self) -> None:
        """Quantize the float weight again (after fine-tuning changed it)."""
        s = self.settings
        if not s.quantize:
            self._buffer("weight_scale", None)
            self._buffer("weight_q", None)
            self._buffer("weight_k", None)
            return
        weight_scale = quant.weight_scale(self.weight, s.w_bits, s.w_granularity, s.scale)
        shape = (-1,) + (1,) * (self.weight.dim() - 1)
        self._buffer("weight_scale", weight_scale.to(self.weight.device))
        self._buffer("weight_q", quant.quantize(self.weight.detach().double(),
                                                weight_scale.reshape(shape) if weight_scale.dim() else weight_scale,
                                                s.w_bits).to(self.weight.device))
        offset = self.operands.weight_offset  # an unsigned weight port: q + offset, removed after the sum
        self._buffer("weight_k", self.weight_q.to(torch.int32 if s.w_bits >= 16 else torch.int16) + offset
                     if offset else self.weight_q)
        self._exact_dtype, self._exact_chunk = self._exact_plan()
        self._prepare_weight()

    def _buffer(self, name: str, value) -> None:
        """Derived weights are non-persistent buffers: ``.to(device)`` moves them, state_dict omits them."""
        if name in self._buffers or not hasattr(self, name):
            self.register_buffer(name, value, persistent=False)
        else:
            setattr(self, name, value)

    def _exact_plan(self):
        """How the exact path sums: (float dtype, reduction chunk or None).

        float32 is exact while every partial sum stays below 2^24; a longer reduction is cut into
        chunks of input channels (features) that each stay below it, and the chunks are added in
        float64 (exact up to 2^53). Grouped convolutions and 9..16-bit operands use float64.
        """
        if self._bound() < FLOAT32_EXACT:
            return torch.float32, None
        per_unit = self._bound() // self._units()
        chunk = (FLOAT32_EXACT - 1) // per_unit
        if chunk >= 1 and getattr(self, "groups", 1) == 1:
            return torch.float32, chunk
        return torch.float64, None

    def _chunked(self, operation, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``operation(x, w)`` summed over dimension 1 of both in exact float32 chunks."""
        if self._exact_chunk is None:
            return operation(x, w)
        acc = None
        for start in range(0, w.shape[1], self._exact_chunk):
            stop = start + self._exact_chunk
            part = operation(x[:, start:stop], w[:, start:stop]).double()
            acc = part if acc is None else acc.add_(part)
        return acc

    def _bound(self) -> int:
        """Largest possible |accumulator| with exact arithmetic."""
        return self._fan_in() * quant.qmax(self.settings.w_bits) * quant.qmax(self.settings.a_bits)

    def activation_scale(self, x: torch.Tensor) -> torch.Tensor:
        """The step that quantizes input ``x``: the calibrated one, or this batch's without calibration."""
        if self.input_scale is not None:
            return self.input_scale
        # no calibration: the scale of this batch (results then depend on the batch)
        s = self.settings
        value = x.detach().abs().mean() if s.a_bits == 1 else x.detach().abs().max()
        return quant.scale_from_range(value, s.a_bits, s.scale, self.operands.activation_signed)

    def quantize_input(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """The activations as the multiplier's activation port takes them (signed, or unsigned)."""
        if self.operands.activation_signed:
            return quant.quantize(x, scale, self.settings.a_bits)
        return quant.quantize_unsigned(x, scale, self.settings.a_bits)

    def _accumulators(self, xq: torch.Tensor, dtype=None) -> torch.Tensor:
        """``_accumulate`` with the weight offset removed exactly: sum P(x, q + z) - z * sum x, in the
        ``acc_width``-bit register (see ``netsim.config.operands``)."""
        offset = self.operands.weight_offset
        if not offset or self._exact():
            return self._accumulate(xq, dtype)
        acc = _wrap(self._accumulate(xq).to(torch.int64) - offset * self._input_sums(xq), self.acc_width)
        return acc if dtype is None else acc.to(dtype)

    def _accumulate(self, xq: torch.Tensor, dtype=None) -> torch.Tensor:
        """The accumulators: int64, or integer-valued floats (the exact path, or ``dtype`` where the
        kernels write it directly; the same values, converted)."""
        raise NotImplementedError

    def _integer_forward(self, xq: torch.Tensor) -> torch.Tensor:
        """The signed ``acc_width``-bit accumulators as int64 (what the hardware MACs hold)."""
        return self._accumulators(xq).to(torch.int64)

    def _exact_result(self, acc: torch.Tensor) -> torch.Tensor:
        """An exact float accumulator as it leaves the ``acc_width``-bit register."""
        if self._bound() < (1 << (self.acc_width - 1)):
            return acc  # cannot overflow: no wrap, no conversion
        return _wrap(acc.to(torch.int64), self.acc_width)

    def _dequantize(self, acc: torch.Tensor, a_scale: torch.Tensor, dtype) -> torch.Tensor:
        scale = (a_scale * self.weight_scale).to(dtype=dtype, device=acc.device)
        y = acc.to(dtype)  # a copy unless acc already is the exact path's float output
        return y.mul_(self._per_channel(scale, acc.dim()))

    def _approx_forward(self, x: torch.Tensor) -> torch.Tensor:
        a_scale = self.activation_scale(x)
        xq = self.quantize_input(x.detach(), a_scale)
        y = self._dequantize(self._accumulators(xq, x.dtype), a_scale, x.dtype)
        if self.bias is not None:
            y.add_(self._per_channel(self.bias.detach(), y.dim()))
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, self.weight, self.bias)):
            # straight-through estimator: value of the approximate layer, gradient of the float one
            # taken at the quantized operands
            xf = x + (xq.to(x.dtype) * a_scale.to(x.dtype) - x).detach()
            shape = (-1,) + (1,) * (self.weight.dim() - 1)
            w_scale = self.weight_scale.reshape(shape) if self.weight_scale.dim() else self.weight_scale
            wf = self.weight + (self.weight_q.to(self.weight.dtype) * w_scale.to(self.weight.dtype)
                                - self.weight).detach()
            reference = self._float_forward(xf, wf)
            y = reference + (y - reference).detach()
        return y

    def _exact(self) -> bool:
        return self.settings.is_exact


class ApproxLinear(ApproxMixin, nn.Linear):
    """``nn.Linear`` whose products and sums go through an approximate multiplier and adder."""

    @staticmethod
    def shape_arguments(layer: nn.Linear) -> dict:
        return {"in_features": layer.in_features, "out_features": layer.out_features}

    def _fan_in(self) -> int:
        return self.in_features

    def _units(self) -> int:
        return self.in_features

    @staticmethod
    def _per_channel(values: torch.Tensor, dims: int) -> torch.Tensor:
        return values  # output features are the last dimension

    def _prepare_weight(self):
        self._buffer("weight_kt", self.weight_k.t().contiguous())  # [K, N], the kernels' layout
        self._buffer("_weight_exact", self.weight_q.to(self._exact_dtype))

    def _float_forward(self, x, w):
        return F.linear(x, w, self.bias)

    def _accumulate(self, xq: torch.Tensor, dtype=None) -> torch.Tensor:
        lead = xq.shape[:-1]
        x2 = xq.reshape(-1, self.in_features)
        if self._exact():
            acc = self._exact_result(self._chunked(F.linear, x2.to(self._exact_dtype), self._weight_exact))
        else:
            acc = backend.matmul(x2, self.weight_kt.to(x2.device), self.multiplier_op, self.adder_op,
                                 self.acc_width, self.booth_operand, dtype)
        return acc.reshape(*lead, self.out_features)

    def _input_sums(self, xq: torch.Tensor) -> torch.Tensor:
        """sum over k of x, per output (broadcasts over the output features)."""
        return xq.to(torch.int64).sum(dim=-1, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x) if not self.settings.quantize else self._approx_forward(x)
        if self.macs_per_sample is None and x.dim() >= 1:
            self.macs_per_sample = layer_macs(self, x, y)
        return y

    def extra_repr(self):
        return f"{super().extra_repr()}, {describe_settings(self)}"


class ApproxConv2d(ApproxMixin, nn.Conv2d):
    """``nn.Conv2d`` (any groups, depthwise included) with approximate products and sums."""

    @staticmethod
    def shape_arguments(layer: nn.Conv2d) -> dict:
        return {name: getattr(layer, name) for name in ("in_channels", "out_channels", "kernel_size", "stride",
                                                         "padding", "dilation", "groups", "padding_mode")}

    def _fan_in(self) -> int:
        kh, kw = self.kernel_size
        return self.in_channels // self.groups * kh * kw

    def _units(self) -> int:
        return self.in_channels // self.groups

    @staticmethod
    def _per_channel(values: torch.Tensor, dims: int) -> torch.Tensor:
        return values.reshape((1, -1) + (1,) * (dims - 2)) if values.dim() else values

    def _prepare_weight(self):
        self._buffer("_weight_exact", self.weight_q.to(self._exact_dtype))

    def _float_forward(self, x, w):
        return self._conv_forward(x, w, self.bias)

    def _explicit_padding(self, x: torch.Tensor):
        """Pads x itself when the padding is not symmetric zeros; returns (x, padding for the kernel)."""
        if self.padding_mode != "zeros":
            return F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode), (0, 0)
        if isinstance(self.padding, str):
            if self.padding == "valid":
                return x, (0, 0)
            left, right, top, bottom = self._reversed_padding_repeated_twice
            if left == right and top == bottom:
                return x, (top, left)
            return F.pad(x, self._reversed_padding_repeated_twice), (0, 0)
        return x, tuple(self.padding)

    def _accumulate(self, xq: torch.Tensor, dtype=None) -> torch.Tensor:
        xq, padding = self._explicit_padding(xq)
        if self._exact():
            def convolve(x, w):
                return F.conv2d(x, w, None, self.stride, padding, self.dilation, self.groups)
            return self._exact_result(self._chunked(convolve, xq.to(self._exact_dtype), self._weight_exact))
        return backend.conv2d(xq, self.weight_k.to(xq.device), self.multiplier_op, self.adder_op,
                              self.acc_width, _int_or_pair(self.stride), _int_or_pair(padding),
                              _int_or_pair(self.dilation), self.groups, self.booth_operand, dtype)

    def _input_sums(self, xq: torch.Tensor) -> torch.Tensor:
        """sum of x over each output's window (padded positions are 0), per output channel."""
        xq, padding = self._explicit_padding(xq)
        ones = torch.ones((self.groups, self.in_channels // self.groups, *self.kernel_size), dtype=torch.float64,
                          device=xq.device)
        sums = F.conv2d(xq.to(torch.float64), ones, None, self.stride, padding, self.dilation, self.groups)
        return sums.to(torch.int64).repeat_interleave(self.out_channels // self.groups, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.settings.quantize:
            y = super().forward(x)
        else:
            y = self._approx_forward(x)
        if self.macs_per_sample is None:
            self.macs_per_sample = layer_macs(self, x, y)
        return y

    def extra_repr(self):
        return f"{super().extra_repr()}, {describe_settings(self)}"


_wrap = quant.wrap_signed


def _requantize_after_load(module, incompatible_keys) -> None:
    """``load_state_dict`` post-hook: the loaded float weights are quantized again."""
    module.requantize()


def _int_or_pair(value):
    value = tuple(value) if not isinstance(value, int) else (value, value)
    return value[0] if value[0] == value[1] else value


def describe_settings(layer: ApproxMixin) -> str:
    s = layer.settings
    if not s.quantize:
        return "float"
    mul = "exact" if layer.multiplier_op is None else layer.multiplier_op.id
    add = "exact" if layer.adder_op is None else layer.adder_op.id
    ports = layer.operands.describe()
    return f"multiplier={mul}, adder={add}, w_bits={s.w_bits}, a_bits={s.a_bits}, recode={s.recode}" + \
        (f", {ports}" if ports else "")


APPROX_TYPES = {nn.Conv2d: ApproxConv2d, nn.Linear: ApproxLinear}
