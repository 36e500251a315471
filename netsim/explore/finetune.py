"""Fine-tuning through approximate layers.

The forward pass is always the approximate one (the values the hardware computes). Two gradients:

- ``ste`` (straight-through estimator): the gradient of the exact product at the quantized operands,
  which is what netsim's approximate layers give in training mode.
- ``lut``: the gradient of the approximate product itself, taken from the operator's lookup table by
  central finite differences, dP/da ~ (P(a+1, b) - P(a-1, b)) / 2 (one-sided at the range ends), and
  the same in b. With the exact multiplier both gradients are identical, which the tests check.
  LUT mode needs operands of at most 8 bits; the adder is treated as exact in the backward pass.

After every optimiser step the layers re-quantize their float weights.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import NetsimError

GRADIENTS = ("ste", "lut")
CHUNK = 1 << 22  # table entries gathered at once in the LUT backward


def finetune(amodel, train_set, epochs: int = 1, lr: float = 1e-4, batch_size: int = 64,
             gradient: str = "ste", seed: int = 0, samples: int | None = None) -> dict:
    """Train the float weights of ``amodel`` (a converted model) through its approximate layers.

    ``samples``: fine-tune on the first ``samples`` training samples only (default: all)."""
    from ..layers import ApproxMixin
    if gradient not in GRADIENTS:
        raise NetsimError(f"gradient must be one of {', '.join(GRADIENTS)}, not {gradient!r}")
    if epochs < 0:
        raise NetsimError(f"fine-tuning epochs must be 0 or more, not {epochs}")
    layers = [m for m in amodel.modules() if isinstance(m, ApproxMixin)]
    hooks = []
    if gradient == "lut":
        for layer in layers:
            if layer.settings.quantize and layer.multiplier_op is not None:
                _check_lut_layer(layer)
                hooks.append(layer.register_forward_hook(_lut_gradient_hook))
    if samples is not None:
        if samples < 1:
            raise NetsimError(f"fine-tuning samples must be at least 1, not {samples}")
        train_set = torch.utils.data.Subset(train_set, range(min(samples, len(train_set))))
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=generator)
    optimizer = torch.optim.Adam([p for p in amodel.parameters() if p.requires_grad], lr=lr)
    losses = []
    amodel.train()
    try:
        for _ in range(epochs):
            total = count = 0.0
            for x, y in loader:
                loss = F.cross_entropy(amodel(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                for layer in layers:
                    layer.requantize()
                total += float(loss.detach()) * len(y)
                count += len(y)
            losses.append(total / max(count, 1))
    finally:
        for hook in hooks:
            hook.remove()
        amodel.eval()
    return {"epochs": epochs, "gradient": gradient, "lr": lr, "batch_size": batch_size, "samples": len(train_set),
            "loss": losses}


def _check_lut_layer(layer) -> None:
    op = layer.multiplier_op
    if not op.has_lut:
        raise NetsimError(f"layer {layer.layer_name}: the LUT gradient needs an 8-bit multiplier with a lookup "
                          f"table ({op.id} is {op.describe_ports()}); use gradient = 'ste'")
    if not (op.a.signed and op.b.signed):  # its tables are indexed by signed values
        raise NetsimError(f"layer {layer.layer_name}: the LUT gradient needs signed operands ({op.id} is "
                          f"{op.describe_ports()}); use gradient = 'ste'")
    if isinstance(layer, torch.nn.Conv2d) and (layer.groups != 1 or layer.padding_mode != "zeros"
                                               or isinstance(layer.padding, str)):
        raise NetsimError(f"layer {layer.layer_name}: the LUT gradient handles groups=1 convolutions with "
                          f"numeric zero padding; use gradient = 'ste'")


@lru_cache(maxsize=64)
def derivative_tables(op) -> tuple:
    """(dP/da, dP/db) as flat float32 tables indexed like the LUT: ``(a & 0xFF) << 8 | (b & 0xFF)``."""
    values = np.arange(-128, 128)
    lut = op.lut().astype(np.int64).reshape(256, 256)
    signed = lut[np.ix_(values & 0xFF, values & 0xFF)].astype(np.float64)  # [a + 128, b + 128]
    d_a = np.gradient(signed, axis=0)  # central inside, one-sided at the ends
    d_b = np.gradient(signed, axis=1)
    out = []
    for table in (d_a, d_b):
        flat = np.empty((256, 256), dtype=np.float32)
        flat[np.ix_(values & 0xFF, values & 0xFF)] = table
        out.append(torch.from_numpy(flat.reshape(-1)))
    return tuple(out)


def table_gradients(xq: torch.Tensor, wq: torch.Tensor, grad: torch.Tensor, op, booth_operand: str):
    """For acc[m, n] = sum_k P(xq[m, k], wq[k, n]): d/dxq and d/dwq of sum(grad * acc), from the LUT.

    ``booth_operand`` "w": the weight is the Booth-recoded operand b (P(x, w)); "x": P(w, x).
    """
    d_a, d_b = derivative_tables(op)
    d_x, d_w = (d_a, d_b) if booth_operand == "w" else (d_b, d_a)
    x, w = xq.long() & 0xFF, wq.long() & 0xFF
    M, K = x.shape
    N = w.shape[1]
    grad_x = torch.empty((M, K), dtype=torch.float32)
    grad_w = torch.zeros((K, N), dtype=torch.float32)
    rows = max(1, CHUNK // max(1, K * N))
    for start in range(0, M, rows):
        xs = x[start:start + rows, :, None]
        index = (xs << 8) | w[None] if booth_operand == "w" else (w[None] << 8) | xs
        g = grad[start:start + rows, None, :].float()
        grad_x[start:start + rows] = (d_x[index] * g).sum(dim=2)
        grad_w += (d_w[index] * g).sum(dim=0)
    return grad_x, grad_w


class _LutGradient(torch.autograd.Function):
    """Zero-valued; its backward is the LUT gradient of the layer (see :func:`_lut_gradient_hook`)."""

    @staticmethod
    def forward(ctx, x, weight, bias, layer, out_shape):
        ctx.layer = layer
        ctx.save_for_backward(x)
        ctx.has_bias = bias is not None
        return x.new_zeros(out_shape)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        layer = ctx.layer
        grad_x, grad_w = _layer_gradients(layer, x, grad)
        grad_b = None
        if ctx.has_bias:
            grad_b = grad.sum(dim=tuple(i for i in range(grad.dim()) if i != (1 if grad.dim() == 4 else grad.dim() - 1)))
        return grad_x, grad_w, grad_b, None, None


def _lut_gradient_hook(layer, inputs, output):
    if not (torch.is_grad_enabled() and layer.training):
        return output
    x = inputs[0]
    surrogate = _LutGradient.apply(x, layer.weight, layer.bias, layer, tuple(output.shape))
    return output.detach() + surrogate


def _layer_gradients(layer, x: torch.Tensor, grad: torch.Tensor):
    from .. import quant
    s = layer.settings
    a_scale = layer.activation_scale(x).float()
    xq = quant.quantize(x.detach(), a_scale, s.a_bits)
    w_scale = layer.weight_scale.float()
    op = layer.multiplier_op
    if isinstance(layer, torch.nn.Conv2d):
        n, c, h, width = x.shape
        o = layer.weight.shape[0]
        kh, kw = layer.kernel_size
        cols = F.unfold(xq.float(), (kh, kw), dilation=layer.dilation, padding=layer.padding, stride=layer.stride)
        length = cols.shape[-1]
        xm = cols.transpose(1, 2).reshape(n * length, -1)
        wm = layer.weight_q.reshape(o, -1).t()
        gm = grad.reshape(n, o, length).transpose(1, 2).reshape(n * length, o)
        gm_scaled = gm * (w_scale.reshape(1, -1) if w_scale.dim() else w_scale)
        grad_x, grad_w = table_gradients(xm, wm, gm_scaled, op, layer.booth_operand)
        grad_w = grad_w * _w_factor(a_scale, w_scale)
        grad_x = F.fold(grad_x.reshape(n, length, -1).transpose(1, 2), (h, width), (kh, kw),
                        dilation=layer.dilation, padding=layer.padding, stride=layer.stride)
        return grad_x.to(x.dtype), grad_w.t().reshape(layer.weight.shape).to(layer.weight.dtype)
    lead = x.shape[:-1]
    xm = xq.reshape(-1, layer.in_features)
    gm = grad.reshape(-1, layer.out_features)
    gm_scaled = gm * (w_scale.reshape(1, -1) if w_scale.dim() else w_scale)
    grad_x, grad_w = table_gradients(xm, layer.weight_q.t(), gm_scaled, op, layer.booth_operand)
    grad_w = grad_w * _w_factor(a_scale, w_scale)
    return grad_x.reshape(*lead, layer.in_features).to(x.dtype), grad_w.t().to(layer.weight.dtype)


def _w_factor(a_scale, w_scale):
    """Turns sum_m g*s_w*dP/dw (computed once with the x gradient) into sum_m g*s_a*dP/dw."""
    return a_scale / (w_scale.reshape(1, -1) if w_scale.dim() else w_scale)
