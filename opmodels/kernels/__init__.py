"""Integer matmul and conv2d on approximate multipliers and adders, bit for bit what the hardware MACs give.

Public entry points: :func:`matmul` and :func:`conv2d`. Each output is the multiply-accumulate of spec
section 8: ``acc = ADD_w(acc, sext_w(P(a_k, b_k)))`` for k in order, read as a signed ``acc_width``-bit
integer, returned as int64. By default the weight ``w`` is the Booth-recoded multiplier operand ``b`` and
the activation ``x`` the multiplicand ``a``; ``booth_operand="x"`` swaps the roles.

Modes (chosen from the operator; only the exact product of operands that fit 8 bits switches, by
the data, to the EXACT table's kernel, which gives the same numbers):

- LUT mode: an 8-bit multiplier is its 256 x 256 table (spec section 6). On the CPU each weight's
  table column is split into two 16- or 32-entry tables indexed by parts of the activation, so a MAC
  row is two contiguous vector adds (see :mod:`.split`); every output still accumulates k in order,
  so LOA accumulation runs in the same loop.
- Behavioural mode: a wider multiplier runs its generated scalar function (no table exists).
- ``multiplier=opmodels.EXACT_PRODUCT``: the exact product a*b of any int32 operands. (The catalog's
  ``"EXACT"`` is the 8-bit exact Booth multiplier: its operands are checked like any 8-bit operator's.)

Zero padding in :func:`conv2d` feeds operand value 0 to the multiplier: padded positions are real MACs,
contributing P(0, w) (or P(w, 0) with ``booth_operand="x"``), exactly like hardware that streams zeros.
For approximate multipliers P(0, w) is not always 0 (M1P8 gives P(0, -42) = -255).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OpmodelsError
from ..operator import EXACT_PRODUCT, Operator

BACKENDS = ("cpu", "cuda")
BOOTH_OPERANDS = ("w", "x")
ACC_WIDTHS = range(2, 65)
LUT_WIDTH = 8
EXACT_RANGE = (-(1 << 31), (1 << 31) - 1)  # "exact": any int32 operands (products fit int64)

__all__ = ["EXACT_PRODUCT", "matmul", "conv2d", "Plan", "plan"]


@dataclass(frozen=True)
class Plan:
    """What to compute, resolved and checked once: the operators and how each is evaluated."""

    multiplier: Operator | None  # None: the exact product
    adder: Operator | None       # None: the exact acc_width-bit adder
    acc_width: int
    backend: str
    booth_operand: str

    @property
    def mode(self) -> str:
        if self.multiplier is None:
            return "exact"
        return "lut" if self.multiplier.width == LUT_WIDTH else "behavioural"

    @property
    def operand_range(self) -> tuple[int, int]:
        return EXACT_RANGE if self.multiplier is None else self.multiplier.operand_range

    @property
    def multiplier_name(self) -> str:
        return EXACT_PRODUCT.id if self.multiplier is None else self.multiplier.id

    def table(self) -> np.ndarray:
        """The LUT oriented ``table[x & 0xFF, w & 0xFF]`` (x activation, w weight), int32, C order."""
        table = lut_of(self.multiplier)
        return table if self.booth_operand == "w" else np.ascontiguousarray(table.T)


_luts: dict[str, np.ndarray] = {}


def lut_of(op: Operator) -> np.ndarray:
    """The operator's table, built once per IR hash in this process."""
    if op.ir_hash not in _luts:
        _luts[op.ir_hash] = op.lut()
    return _luts[op.ir_hash]


def _is_exact_adder(adder) -> bool:
    return adder is None or (isinstance(adder, str) and adder.strip().lower() == "exact")


def plan(multiplier="M4P8", adder="exact", acc_width=32, backend="cpu", booth_operand="w") -> Plan:
    """Resolve and check the arguments shared by :func:`matmul` and :func:`conv2d`."""
    from ..catalog import get

    if backend not in BACKENDS:
        raise OpmodelsError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if booth_operand not in BOOTH_OPERANDS:
        raise OpmodelsError(f"booth_operand must be 'w' (the weight is Booth-recoded) or 'x', not {booth_operand!r}")
    if isinstance(acc_width, bool) or not isinstance(acc_width, (int, np.integer)) or acc_width not in ACC_WIDTHS:
        raise OpmodelsError(f"acc_width must be an integer in {ACC_WIDTHS.start}..{ACC_WIDTHS.stop - 1}, "
                            f"not {acc_width!r}")
    acc_width = int(acc_width)
    mul = None if multiplier is EXACT_PRODUCT else get(multiplier)
    if mul is not None and mul.kind != "multiplier":
        raise OpmodelsError(f"multiplier {mul.id} is an {mul.kind}, not a multiplier")
    add = None if _is_exact_adder(adder) else get(adder)
    if add is not None:
        if add.kind != "adder":
            raise OpmodelsError(f"adder {add.id} is a {add.kind}, not an adder (use 'exact' or a LOA id like 'LOA8')")
        if add.width != acc_width:
            hint = f"; use 'LOA{add.params['l']}W{acc_width}'" if add.family == "LOA" else ""
            raise OpmodelsError(f"adder {add.id} is {add.width} bits wide but acc_width is {acc_width}; "
                                f"they must be equal{hint}")
    return Plan(mul, add, acc_width, backend, booth_operand)


# -- input checks ------------------------------------------------------------------------------------
def _host_array(name: str, value, ndim: int, layout: str) -> np.ndarray:
    if hasattr(value, "__cuda_array_interface__") and not isinstance(value, np.ndarray):
        raise OpmodelsError(f"{name} is a CUDA device array; use backend='cuda' for device arrays")
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise OpmodelsError(f"{name} must be an integer array (quantized values), not {array.dtype}")
    if array.ndim != ndim:
        raise OpmodelsError(f"{name} must have {ndim} dimensions {layout}, not shape {tuple(array.shape)}")
    return array


def check_matmul_shapes(x, w) -> None:
    if x.shape[1] != w.shape[0]:
        raise OpmodelsError(f"shape mismatch: x is [M, K] = {tuple(x.shape)} and w is [K, N] = {tuple(w.shape)}; "
                            f"K must agree ({x.shape[1]} != {w.shape[0]})")


def check_range(plan_: Plan, name: str, array, low=None, high=None) -> None:
    """Every value must be a legal operand: a clear error naming the first offending value."""
    low_ok, high_ok = plan_.operand_range
    if array.size == 0:
        return
    low = array.min() if low is None else low
    high = array.max() if high is None else high
    if low < low_ok or high > high_ok:
        bad = low if low < low_ok else high
        raise OpmodelsError(f"{name} value {int(bad)} is outside the operand range {low_ok}..{high_ok} "
                            f"of multiplier {plan_.multiplier_name}")


def _pair(name: str, value, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum
                             for v in pair):
        raise OpmodelsError(f"{name} must be an integer >= {minimum} or a pair of them, not {value!r}")
    return int(pair[0]), int(pair[1])


OUT_DTYPES = ("int64", "int32", "float64", "float32")


def _out_array(out, shape: tuple):
    """``out=``: a C-contiguous numpy array to write the result into, converted to its dtype (a float
    dtype spares a caller that rescales anyway a pass over an int64 copy)."""
    if out is None:
        return None
    if (not isinstance(out, np.ndarray) or out.shape != shape or out.dtype.name not in OUT_DTYPES
            or not out.flags.c_contiguous or not out.flags.writeable):
        found = (f"{type(out).__name__} {getattr(out, 'dtype', '')} {tuple(getattr(out, 'shape', ()))}"
                 if isinstance(out, np.ndarray) else type(out).__name__)
        raise OpmodelsError(f"out must be a writeable C-contiguous numpy array of shape {shape} and dtype "
                            f"{', '.join(OUT_DTYPES)}, not {found}")
    return out


def wrap_signed(values: np.ndarray, width: int) -> np.ndarray:
    """int64 values modulo 2^width, read as signed ``width``-bit integers (in place)."""
    if width < 64:
        shift = np.int64(64 - width)
        np.left_shift(values, shift, out=values)
        np.right_shift(values, shift, out=values)
    return values


# -- public API ---------------------------------------------------------------------------------------
def matmul(x, w, multiplier="M4P8", adder="exact", acc_width=32, backend="cpu", booth_operand="w", out=None):
    """``out[m, n] = MAC over k of P(x[m, k], w[k, n])`` on the given operators (spec section 8).

    x: integer [M, K] (the multiplicand values, or the Booth-recoded values with ``booth_operand="x"``);
    w: integer [K, N]. Returns the signed ``acc_width``-bit results as int64 [M, N]; with
    ``backend="cuda"`` x and w are device arrays and so is the result. ``out`` (CPU): an [M, N] array
    of dtype int64, int32, float64 or float32 that receives the results, converted to its dtype.
    """
    p = plan(multiplier, adder, acc_width, backend, booth_operand)
    if p.backend == "cuda":
        if out is not None:
            raise OpmodelsError("out= is supported by the cpu backend only")
        from . import cuda
        return cuda.matmul(p, x, w)
    x = _host_array("x", x, 2, "[M, K]")
    w = _host_array("w", w, 2, "[K, N]")
    check_matmul_shapes(x, w)
    check_range(p, "x", x)
    check_range(p, "w", w)
    from . import cpu
    return cpu.matmul(p, x, w, _out_array(out, (x.shape[0], w.shape[1])))


def conv_geometry(x_shape, w_shape, stride, padding, dilation, groups):
    """Check shapes and return (stride, padding, dilation, groups, Ho, Wo) as ints."""
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
    return stride, padding, dilation, groups, ho, wo


def conv2d(x, w, multiplier="M4P8", adder="exact", acc_width=32, stride=1, padding=0, dilation=1, groups=1,
           backend="cpu", booth_operand="w", out=None):
    """A 2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) whose every MAC is
    the given multiplier and adder, accumulating over (input channel in the group, kernel row, kernel
    column) in row-major order (spec section 8).

    x: integer [N, C, H, W]; w: integer [O, C/groups, kh, kw]. stride, padding, dilation: an int or a
    pair. Zero padding feeds operand value 0 (see the module doc). Returns int64 [N, O, Ho, Wo], or
    ``out`` filled (see :func:`matmul`).
    """
    p = plan(multiplier, adder, acc_width, backend, booth_operand)
    if p.backend == "cuda":
        if out is not None:
            raise OpmodelsError("out= is supported by the cpu backend only")
        from . import cuda
        return cuda.conv2d(p, x, w, stride, padding, dilation, groups)
    x = _host_array("x", x, 4, "[N, C, H, W]")
    w = _host_array("w", w, 4, "[O, C/groups, kh, kw]")
    geometry = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    check_range(p, "x", x)
    check_range(p, "w", w)
    from . import cpu
    out = _out_array(out, (x.shape[0], w.shape[0], geometry[4], geometry[5]))
    return cpu.conv2d(p, x, w, *geometry, out)
