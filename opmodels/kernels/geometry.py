"""Convolution geometry, written once: the output size, the zero-padded input, and where the kernels
read activation ``x[m, k]``.

Rows ``m`` are (image, output row, output column) and reduction steps ``k`` are (input channel in the
group, kernel row, kernel column), both row-major: the column order of ``torch.nn.functional.unfold``
and the MAC order of spec section 8. On the padded input, ``x[m, k]`` of group ``g`` is at the flat
offset ``base[m] + koff[k] + goff[g]`` (:func:`offsets`), where the split kernel reads it. The
generated loops walk the same positions in their own loops: the CPU loop kernel row by row (a
strided row vectorises; reading through ``base`` made its convolution 1.5x slower), the CUDA kernel
per thread from (oh, ow) without a padded copy.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import OpmodelsError


class ConvGeometry(NamedTuple):
    """A checked convolution: every field an int (pairs for the two spatial axes)."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    ho: int
    wo: int


def _pair(name: str, value, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum
                             for v in pair):
        raise OpmodelsError(f"{name} must be an integer >= {minimum} or a pair of them, not {value!r}")
    return int(pair[0]), int(pair[1])


def conv_geometry(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1) -> ConvGeometry:
    """Check the shapes of x [N, C, H, W] and w [O, C/groups, kh, kw] and the settings; return them
    as ints with the output size: (stride, padding, dilation, groups, Ho, Wo)."""
    stride = _pair("stride", stride, 1)
    padding = _pair("padding", padding, 0)
    dilation = _pair("dilation", dilation, 1)
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise OpmodelsError(f"groups must be a positive integer, not {groups!r}")
    groups = int(groups)
    n, c, h, wd = x_shape
    o, cg, kh, kw = w_shape
    if c % groups or o % groups:
        raise OpmodelsError(f"groups={groups} must divide the input channels ({c}) and output channels ({o})")
    if cg != c // groups:
        raise OpmodelsError(f"shape mismatch: w is [O, C/groups, kh, kw] = {tuple(w_shape)}, so it needs "
                            f"{cg * groups} input channels with groups={groups}, but x has {c}")
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if ho < 1 or wo < 1 or kh < 1 or kw < 1:
        raise OpmodelsError(f"the {kh}x{kw} kernel (dilation {dilation}) does not fit the {h}x{wd} input "
                            f"with padding {padding}")
    return ConvGeometry(stride, padding, dilation, groups, ho, wo)


def padded(x: np.ndarray, padding: tuple[int, int], dtype) -> np.ndarray:
    """x [N, C, H, W] zero-padded, as ``dtype`` (value 0, or pattern 0 for uint8: padding is a real
    MAC with operand 0, like hardware that streams zeros)."""
    (ph, pw), (n, c, h, wd) = padding, x.shape
    x = as_patterns(x) if np.dtype(dtype) == np.uint8 else x
    if ph == pw == 0 and x.dtype == dtype and x.flags.c_contiguous:
        return x  # nothing to pad or convert: the kernels only read it
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype)
    xp[:, :, ph:ph + h, pw:pw + wd] = x.astype(dtype, copy=False)
    return xp


def as_patterns(x: np.ndarray) -> np.ndarray:
    """The operands' 8-bit two's-complement patterns as uint8: a view of an int8 or uint8 array (no
    copy: the same bytes), else a converted copy (``astype`` keeps the low 8 bits)."""
    return x.view(np.uint8) if x.dtype in (np.int8, np.uint8) else x.astype(np.uint8)


def offsets(padded_shape, w_shape, geometry: ConvGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(base [N * Ho * Wo], koff [C/groups * kh * kw], goff [groups]), int64: ``x[m, k]`` of group g is
    ``xpad.ravel()[base[m] + koff[k] + goff[g]]``."""
    (sh, sw), _, _, groups, ho, wo = geometry
    n, c, hp, wp = padded_shape
    cg = w_shape[1]
    base = (np.arange(n)[:, None, None] * (c * hp * wp) + np.arange(ho)[None, :, None] * (sh * wp)
            + np.arange(wo)[None, None, :] * sw).ravel()
    goff = np.arange(groups) * (cg * hp * wp)
    return base.astype(np.int64), step_offsets(padded_shape, w_shape, geometry), goff.astype(np.int64)


def step_offsets(padded_shape, w_shape, geometry: ConvGeometry) -> np.ndarray:
    """koff [C/groups * kh * kw], int64: where step k = (channel in the group, kernel row, kernel
    column), row-major, reads on the padded input, relative to the output's window in the group's
    first channel."""
    _, _, hp, wp = padded_shape
    _, cg, kh, kw = w_shape
    dh, dw = geometry.dilation
    koff = (np.arange(cg)[:, None, None] * (hp * wp) + np.arange(kh)[None, :, None] * (dh * wp)
            + np.arange(kw)[None, None, :] * dw).ravel()
    return koff.astype(np.int64)
