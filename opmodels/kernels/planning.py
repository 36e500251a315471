"""Plan: what to compute and which kernel computes it, decided before any kernel runs.

:func:`plan` checks the settings shared by matmul and conv2d (the operators are already resolved:
an ``Operator`` or ``EXACT_PRODUCT``); the ``check_*`` helpers check the operands, each against the
multiplier port it feeds; :func:`route` picks the CPU kernel from the operator and the shapes.

Modes (from the operator): ``"lut"`` for a multiplier whose operands both have at most 8 bits (a
256 x 256 table indexed by the operands' bit patterns: 8 x 8, 8 x 4, unsigned or mixed alike),
``"behavioural"`` for a wider one (its generated scalar function), ``"exact"`` for EXACT_PRODUCT.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import OpmodelsError
from ..library.booth import ExactBoothParams
from ..operator import EXACT_PRODUCT, ExactProduct, Operator, Port
from ..lut import LUT_WIDTH
from . import tables

BACKENDS = ("cpu", "cuda")
BOOTH_OPERANDS = ("w", "x")
ACC_WIDTHS = range(2, 65)
OUT_DTYPES = ("int64", "int32", "float64", "float32")
# The table kernel pays off from a few activation rows (its tables are built once per layer), and
# with at least this many outputs per group (fewer, e.g. depthwise, keep the gather loops).
SPLIT_MIN_ROWS = 8
SPLIT_MIN_OUTPUTS = 4


@dataclass(frozen=True)
class Plan:
    """The operators and settings of one call, checked. ``booth_operand`` names the operand (x or w)
    that feeds the multiplier's Booth-recoded port ``b``; the other feeds the multiplicand ``a``."""

    multiplier: Operator | ExactProduct
    adder: Operator | None  # None: the exact acc_width-bit adder
    acc_width: int
    backend: str
    booth_operand: str

    @property
    def mode(self) -> str:
        if self.multiplier is EXACT_PRODUCT:
            return "exact"
        return "lut" if tables.fits_table(self.multiplier) else "behavioural"

    @property
    def multiplier_name(self) -> str:
        return self.multiplier.id

    def port_of(self, operand: str) -> Port:
        """The multiplier port that operand ``"x"`` or ``"w"`` feeds."""
        return self.multiplier.b if operand == self.booth_operand else self.multiplier.a

    def table(self) -> np.ndarray:
        """The LUT oriented ``table[x & 0xFF, w & 0xFF]`` (x activation, w weight), int32, C order."""
        return tables.oriented(self.multiplier, self.booth_operand)

    def split(self) -> tuple[int, np.ndarray] | None:
        """The table's additive split (see :mod:`.tables`), None where there is none."""
        return tables.split_of(self.multiplier, self.booth_operand)


def plan(multiplier: Operator | ExactProduct, adder: Operator | None, acc_width: int = 32, backend: str = "cpu",
         booth_operand: str = "w") -> Plan:
    """Check the settings shared by matmul and conv2d; operators come resolved (see ``kernels.plan``)."""
    if backend not in BACKENDS:
        raise OpmodelsError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if booth_operand not in BOOTH_OPERANDS:
        raise OpmodelsError(f"booth_operand must be 'w' (the weight is Booth-recoded) or 'x', not {booth_operand!r}")
    if isinstance(acc_width, bool) or not isinstance(acc_width, (int, np.integer)) or acc_width not in ACC_WIDTHS:
        raise OpmodelsError(f"acc_width must be an integer in {ACC_WIDTHS.start}..{ACC_WIDTHS.stop - 1}, "
                            f"not {acc_width!r}")
    acc_width = int(acc_width)
    if multiplier is not EXACT_PRODUCT:
        if not isinstance(multiplier, Operator):
            raise OpmodelsError(f"multiplier must be an Operator or opmodels.EXACT_PRODUCT, not {multiplier!r}")
        if multiplier.kind != "multiplier":
            raise OpmodelsError(f"multiplier {multiplier.id} is an {multiplier.kind}, not a multiplier")
    if adder is not None:
        if not isinstance(adder, Operator):
            raise OpmodelsError(f"adder must be an Operator or None (the exact adder), not {adder!r}")
        if adder.kind != "adder":
            raise OpmodelsError(f"adder {adder.id} is a {adder.kind}, not an adder "
                                f"(use 'exact' or a LOA id like 'LOA8')")
        if adder.y.width != acc_width:
            hint = f"; use 'LOA{adder.params['l']}W{acc_width}'" if adder.family == "LOA" else ""
            raise OpmodelsError(f"adder {adder.id} is {adder.y.width} bits wide but acc_width is {acc_width}; "
                                f"they must be equal{hint}")
    return Plan(multiplier, adder, acc_width, backend, booth_operand)


# -- operand checks (host and device arrays alike) ------------------------------------------------------
def check_array(name: str, array, ndim: int, layout: str):
    if array.dtype.kind not in "iu":
        raise OpmodelsError(f"{name} must be an integer array (quantized values), not {array.dtype}")
    if array.ndim != ndim:
        raise OpmodelsError(f"{name} must have {ndim} dimensions {layout}, not shape {tuple(array.shape)}")
    return array


def host_array(name: str, value, ndim: int, layout: str) -> np.ndarray:
    if hasattr(value, "__cuda_array_interface__") and not isinstance(value, np.ndarray):
        raise OpmodelsError(f"{name} is a CUDA device array; use backend='cuda' for device arrays")
    return check_array(name, np.asarray(value), ndim, layout)


def check_matmul_shapes(x, w) -> None:
    if x.shape[1] != w.shape[0]:
        raise OpmodelsError(f"shape mismatch: x is [M, K] = {tuple(x.shape)} and w is [K, N] = {tuple(w.shape)}; "
                            f"K must agree ({x.shape[1]} != {w.shape[0]})")


def check_range(plan_: Plan, name: str, array: np.ndarray) -> None:
    """Every value of operand ``name`` ("x" or "w") must fit the port it feeds (its own width and
    signedness: an unsigned port takes 0..2^n-1, a 4-bit signed one -8..7): a clear error naming the
    first offending value."""
    port = plan_.port_of(name)
    if holds_only(array.dtype, port.range):
        return  # every value of this dtype fits (int8 into an 8-bit signed port): no pass over the data
    bad = port.out_of_range(array)
    if bad is not None:
        low, high = port.range
        raise OpmodelsError(f"{name} value {bad} is outside the operand range {low}..{high} of "
                            f"multiplier {plan_.multiplier_name} (its port {port})")


def holds_only(dtype, limits: tuple[int, int]) -> bool:
    """Whether every value an integer ``dtype`` can hold lies within ``limits`` (low, high): then a
    range check of an array of that dtype cannot fail (netsim's 8-bit quantizer gives int8)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        return False
    info = np.iinfo(dtype)
    return limits[0] <= int(info.min) and int(info.max) <= limits[1]


def out_array(out, shape: tuple):
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


# -- the CPU kernel ---------------------------------------------------------------------------------------
def route(plan_: Plan, rows: int, outputs: int, x: np.ndarray, w: np.ndarray) -> tuple[str, Plan]:
    """``("split", plan)`` for the table kernels of :mod:`.split` (every 8-bit table: its split, or its
    whole columns where it has none), ``("loop", plan)`` for the generated loops.

    rows: activation rows (conv2d: output pixels of all images); outputs: outputs per group. The exact
    product of operands within 8 bits is the EXACT table's, so it takes the split kernel too (the
    same numbers); elsewhere it keeps its ``x * w`` loop, cheaper than a table gather.
    """
    if rows < SPLIT_MIN_ROWS or outputs < SPLIT_MIN_OUTPUTS:
        return "loop", plan_
    candidate = plan_
    low, high = -(1 << (LUT_WIDTH - 1)), (1 << (LUT_WIDTH - 1)) - 1
    if plan_.mode == "exact" and all(not a.size or (a.min() >= low and a.max() <= high) for a in (x, w)):
        candidate = dataclasses.replace(plan_, multiplier=ExactBoothParams(LUT_WIDTH).build())
    if candidate.mode == "lut":  # a table without a split takes the same kernel's whole-column rows
        return "split", candidate
    return "loop", plan_
