"""The radix-4 Booth multiplier family with approximate partial-product cells (spec sections 2-3).

Row j reads the multiplier triple (b2, b1, b0) = (b_{2j+1}, b_{2j}, b_{2j-1}); its encoder gives
``one`` (digit +-1) and ``two`` (digit +-2); the row's n+1 partial-product bits sit in columns 2j..2j+n.
Bits in columns below p (except the row's sign bit) use the approximate cell.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import ClassVar

from ..dsl import Value, cat, const
from ..errors import OpmodelsError
from ..operator import Operator

CELLS = ("ABE1", "ABE2", "PPG2S", "TRUNC")
NEG_MODES = ("exact", "cell")
WIDTHS = range(4, 33, 2)

# Catalog logics M1..M6 (spec section 4): (cell, neg mode).
LOGICS = {1: ("ABE1", "exact"), 2: ("ABE2", "exact"), 3: ("ABE1", "cell"),
          4: ("ABE2", "cell"), 5: ("PPG2S", "exact"), 6: ("TRUNC", "cell")}


def approx_cells(cell: str, b2: Value, b1: Value, b0: Value, a: Value) -> Value:
    """The approximate cells of one row, over the multiplicand bits ``a`` (a_i, i in the region)."""
    k = a.width
    if cell == "TRUNC":
        return const(0, k)
    sign = b2.replicate(k) ^ a
    if cell == "ABE1":  # +-2 digits give 0
        return (b1 ^ b0).replicate(k) & sign
    if cell == "ABE2":
        return sign
    return ((b2 ^ b1) | (b1 ^ b0)).replicate(k) & sign  # PPG2S: +-2A treated as +-1A


def exact_cells(one: Value, two: Value, b2: Value, a_i: Value, a_im1: Value) -> Value:
    """pp_i = (one & (b2 ^ a_i)) | (two & (b2 ^ a_{i-1})) over a vector of columns."""
    k = a_i.width
    flip = b2.replicate(k)
    return (one.replicate(k) & (flip ^ a_i)) | (two.replicate(k) & (flip ^ a_im1))


def neg_bit(cell: str, mode: str, approximate_column: bool, b2: Value, b1: Value, b0: Value) -> Value:
    """The +1 that completes row j's negation, added at column 2j."""
    exact = b2 & ~(b1 & b0)
    if mode == "exact" or not approximate_column or cell == "PPG2S":
        return exact
    return {"ABE1": b2 & (b1 ^ b0), "ABE2": b2, "TRUNC": const(0, 1)}[cell]


def booth_r4(a: Value, b: Value, *, cell: str, p: int, neg: str) -> Value:
    n = a.width
    a_i = a.sext(n + 1).as_unsigned()        # a_0 .. a_n, a_n = a_{n-1}
    a_im1 = cat(const(0, 1), a)              # a_{-1} .. a_{n-1}, a_{-1} = 0
    b_pad = cat(const(0, 1), b)              # b_{-1} .. b_{n-1}, b_{-1} = 0
    terms = []
    for j in range(n // 2):
        b0, b1, b2 = (b_pad[2 * j + t].named(f"b{t}_{j}") for t in range(3))
        one = (b1 ^ b0).named(f"one{j}")
        two = (~one & (b2 ^ b1)).named(f"two{j}")
        k = min(n, max(0, p - 2 * j))        # row bits i < k lie in columns 2j + i < p
        row_parts = []
        if k:
            row_parts.append(approx_cells(cell, b2, b1, b0, a_i[:k]).named(f"pp{j}_approx"))
        row_parts.append(exact_cells(one, two, b2, a_i[k:], a_im1[k:]).named(f"pp{j}_exact"))
        row = cat(*row_parts).named(f"pp{j}")  # n+1 bits; bit n is the row's sign
        neg_j = neg_bit(cell, neg, 2 * j < p, b2, b1, b0).named(f"neg{j}")
        terms += [row.as_signed().sext(2 * n) << 2 * j, neg_j.zext(2 * n).as_signed() << 2 * j]
    product = terms[0]
    for term in terms[1:]:  # the sum is taken modulo 2^(2n)
        product = product + term
    return product


def check(width: int, cell: str, p: int, neg: str) -> None:
    if isinstance(width, bool) or width not in WIDTHS:
        raise OpmodelsError(f"width must be an even integer in 4..32, not {width!r}")
    if cell not in CELLS:
        raise OpmodelsError(f"cell must be one of {', '.join(CELLS)}, not {cell!r}")
    if neg not in NEG_MODES:
        raise OpmodelsError(f"neg must be one of {', '.join(NEG_MODES)}, not {neg!r}")
    if isinstance(p, bool) or not isinstance(p, int) or p % 2 or not 0 <= p <= 2 * width - 2:
        raise OpmodelsError(f"p must be an even integer in 0..{2 * width - 2} for width {width}, not {p!r}")


def structure(width: int, cell: str, p: int, neg: str) -> str:
    """The partial-product dot diagram: A approximate cell, E exact cell, S row sign, n neg bit."""
    n = width
    lines = [f"columns {2 * n - 1} .. 0 (left to right); A = {cell} cell, E = exact cell, S = sign, "
             f"n = neg bit ({'follows the cell' if neg == 'cell' else 'exact'} in columns < p)"]
    for j in range(n // 2):
        dots = [" "] * (2 * n)
        for i in range(n + 1):
            c = 2 * j + i
            if c < 2 * n:
                dots[c] = "S" if i == n else ("A" if c < p else "E")
        neg_col = ["n" if c == 2 * j else " " for c in range(2 * n)]
        lines.append(f"row {j}  " + "".join(reversed(dots)) + f"   digit from b[{2 * j + 1}:{2 * j - 1}]")
        lines.append(f"neg {j}  " + "".join(reversed(neg_col)))
    if p:
        lines.append(" " * 8 + " " * (2 * n - p) + "^" * p + f"  approximate region (columns < {p})")
    return "\n".join(lines)


def _width_suffix(width: int, default: int) -> str:
    return "" if width == default else f"W{width}"


@dataclass(frozen=True)
class BoothR4Params:
    """The parameters of one radix-4 Booth multiplier, validated; the family's id grammar
    ``M<m>P<p>[W<n>]`` (logic m of :data:`LOGICS`, default width 8) lives here with them."""

    width: int = 8
    cell: str = "ABE1"
    p: int = 0
    neg: str = "exact"

    GRAMMAR: ClassVar = re.compile(r"M(\d+)P(\d+)(?:W(\d+))?")

    def __post_init__(self):
        check(self.width, self.cell, self.p, self.neg)

    @classmethod
    def parse(cls, op_id: str) -> "BoothR4Params | None":
        """The parameters an id names; None when the id is not of this family's form."""
        match = cls.GRAMMAR.fullmatch(op_id)
        if not match:
            return None
        m, p, width = int(match[1]), int(match[2]), int(match[3] or 8)
        if m not in LOGICS:
            raise OpmodelsError(f"logic M{m} does not exist; the catalog has M1..M6 (see `opmodels list`)")
        cell, neg = LOGICS[m]
        return cls(width, cell, p, neg)

    @property
    def id(self) -> str:
        for m, logic in LOGICS.items():
            if logic == (self.cell, self.neg):
                return f"M{m}P{self.p}" + _width_suffix(self.width, 8)
        return f"BOOTHR4_{self.cell}_{self.neg}_P{self.p}_W{self.width}"

    def build(self) -> Operator:
        return _build_booth(self, self.id, tuple(asdict(self).items()))


@dataclass(frozen=True)
class ExactBoothParams:
    """The exact radix-4 Booth multiplier ``EXACT[W<n>]``: the circuit of every ``M*P0``."""

    width: int = 8

    GRAMMAR: ClassVar = re.compile(r"EXACT(?:W(\d+))?")

    def __post_init__(self):
        check(self.width, "ABE1", 0, "exact")

    @classmethod
    def parse(cls, op_id: str) -> "ExactBoothParams | None":
        match = cls.GRAMMAR.fullmatch(op_id)
        return cls(int(match[1] or 8)) if match else None

    @property
    def id(self) -> str:
        return "EXACT" + _width_suffix(self.width, 8)

    def build(self) -> Operator:
        return _build_booth(BoothR4Params(self.width, "ABE1", 0, "exact"), self.id,
                            (("width", self.width), ("cell", "exact"), ("p", 0), ("neg", "exact")))


@lru_cache(maxsize=512)
def _build_booth(params: BoothR4Params, op_id: str, info: tuple) -> Operator:
    width, cell, p, neg = params.width, params.cell, params.p, params.neg
    return Operator.from_function(
        op_id, "multiplier", width, lambda a, b: booth_r4(a, b, cell=cell, p=p, neg=neg),
        family="BoothR4", params=dict(info), structure=structure(width, cell, p, neg))


def BoothR4(width: int = 8, cell: str = "ABE1", p: int = 0, neg: str = "exact") -> Operator:
    """A radix-4 Booth multiplier; ``p`` = 0 is exact for every cell."""
    return BoothR4Params(width, cell, p, neg).build()
