"""Where the integer products and sums of an approximate layer are computed: ``opmodels.kernels``
(Numba on the CPU, CUDA for CUDA tensors). Numba is a dependency of netsim (``opmodels[netsim]``);
there is no second, hand-written model of the operators to fall back on.
"""
from __future__ import annotations

import numpy as np
import torch

import opmodels
from opmodels import kernels


def name() -> str:
    return "opmodels.kernels"


def _multiplier(op):
    return opmodels.EXACT_PRODUCT if op is None else op


def _to_kernel(t: torch.Tensor):
    return t if t.is_cuda else t.numpy()


def _from_kernel(result, like: torch.Tensor) -> torch.Tensor:
    if isinstance(result, np.ndarray):
        return torch.from_numpy(result)
    return torch.as_tensor(result, device=like.device)


def _output(x: torch.Tensor, shape: tuple, dtype) -> dict:
    """``out=``: the kernels write the accumulators straight into a tensor of ``dtype`` (a float dtype
    spares an int64 copy that the layer would convert anyway); on the GPU always, so the result is a
    torch CUDA tensor without a copy."""
    if x.is_cuda:
        return {"out": torch.empty(shape, dtype=dtype or torch.int64, device=x.device)}
    if dtype is None:
        return {}
    return {"out": torch.empty(shape, dtype=dtype).numpy()}


def matmul(x: torch.Tensor, w: torch.Tensor, multiplier, adder, acc_width: int, booth_operand: str,
           dtype=None) -> torch.Tensor:
    """The accumulators as int64 (or as ``dtype``, the same values converted, where the kernels can).
    x [M, K] @ w [K, N], or a batch x [B, M, K] @ w [B, K, N] in one call (CPU)."""
    result = kernels.matmul(_to_kernel(x), _to_kernel(w), multiplier=_multiplier(multiplier), adder=adder,
                            acc_width=acc_width, backend="cuda" if x.is_cuda else "cpu",
                            booth_operand=booth_operand, **_output(x, (*x.shape[:-1], w.shape[-1]), dtype))
    return _from_kernel(result, x)


def conv2d(x: torch.Tensor, w: torch.Tensor, multiplier, adder, acc_width: int, stride, padding, dilation,
           groups: int, booth_operand: str, dtype=None) -> torch.Tensor:
    """The accumulators as int64 (or as ``dtype``, see :func:`matmul`)."""
    *_, ho, wo = kernels.conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    result = kernels.conv2d(_to_kernel(x), _to_kernel(w), multiplier=_multiplier(multiplier), adder=adder,
                            acc_width=acc_width, stride=stride, padding=padding, dilation=dilation, groups=groups,
                            backend="cuda" if x.is_cuda else "cpu", booth_operand=booth_operand,
                            **_output(x, (x.shape[0], w.shape[0], ho, wo), dtype))
    return _from_kernel(result, x)
