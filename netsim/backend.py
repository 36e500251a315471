"""Where the integer products and sums of an approximate layer are computed.

``opmodels.kernels`` (Numba CPU, CUDA for CUDA tensors) when it is installed, else the plain-torch
:mod:`netsim.reference`. ``NETSIM_BACKEND=reference`` forces the fallback (used by the tests to
compare the two).
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch

import opmodels

from . import reference


@lru_cache(maxsize=1)
def kernels():
    """The ``opmodels.kernels`` module, or None when it (or Numba) is missing."""
    if os.environ.get("NETSIM_BACKEND", "").lower() == "reference":
        return None
    try:
        from opmodels import kernels as module
    except ImportError:
        return None
    return module if hasattr(module, "matmul") and hasattr(module, "conv2d") else None


def name() -> str:
    return "opmodels.kernels" if kernels() is not None else "torch reference (slow: install opmodels[kernels])"


def _spec(op):
    return opmodels.EXACT_PRODUCT if op is None else op


def _adder_id(op):
    return None if op is None else op


def _to_kernel(t: torch.Tensor):
    return t if t.is_cuda else t.numpy()


def _from_kernel(result, like: torch.Tensor) -> torch.Tensor:
    if isinstance(result, np.ndarray):
        return torch.from_numpy(result)
    return torch.as_tensor(result, device=like.device)


def _output(x: torch.Tensor, shape: tuple, dtype) -> dict:
    """``out=`` for the CPU kernels: they write the accumulators straight into a tensor of ``dtype``
    (a float dtype spares an int64 copy that the layer would convert anyway)."""
    if x.is_cuda or dtype is None:
        return {}
    return {"out": torch.empty(shape, dtype=dtype).numpy()}


def matmul(x: torch.Tensor, w: torch.Tensor, multiplier, adder, acc_width: int, booth_operand: str,
           dtype=None) -> torch.Tensor:
    """The accumulators as int64 (or as ``dtype``, the same values converted, where the kernels can)."""
    module = kernels()
    if module is None:
        return reference.matmul(x, w, multiplier, adder, acc_width, booth_operand)
    result = module.matmul(_to_kernel(x), _to_kernel(w), multiplier=_spec(multiplier), adder=_adder_id(adder),
                           acc_width=acc_width, backend="cuda" if x.is_cuda else "cpu",
                           booth_operand=booth_operand, **_output(x, (x.shape[0], w.shape[1]), dtype))
    return _from_kernel(result, x)


def conv2d(x: torch.Tensor, w: torch.Tensor, multiplier, adder, acc_width: int, stride, padding, dilation,
           groups: int, booth_operand: str, dtype=None) -> torch.Tensor:
    """The accumulators as int64 (or as ``dtype``, see :func:`matmul`)."""
    module = kernels()
    if module is None:
        return reference.conv2d(x, w, multiplier, adder, acc_width, stride, padding, dilation, groups,
                                booth_operand)
    *_, ho, wo = module.conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    result = module.conv2d(_to_kernel(x), _to_kernel(w), multiplier=_spec(multiplier), adder=_adder_id(adder),
                           acc_width=acc_width, stride=stride, padding=padding, dilation=dilation, groups=groups,
                           backend="cuda" if x.is_cuda else "cpu", booth_operand=booth_operand,
                           **_output(x, (x.shape[0], w.shape[0], ho, wo), dtype))
    return _from_kernel(result, x)
