"""The lower-part-OR adder (LOA), Mahdiani et al., IEEE TCAS-I 2010 (spec section 7).

The low ``l`` bits are ORed instead of added; an AND of the top low bits feeds the exact upper adder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from ..dsl import Value, cat
from ..errors import OpmodelsError
from ..operator import Operator

WIDTHS = range(2, 65)


def loa(a: Value, b: Value, *, l: int) -> Value:
    w = a.width
    if l == 0:
        return a + b
    low = (a[:l] | b[:l]).named("low_or")
    carry = (a[l - 1] & b[l - 1]).named("carry_in")
    upper = (a[l:] + b[l:] + carry.zext(w - l)).named("upper_sum")
    return cat(low, upper).as_signed()


def check(width: int, l: int) -> None:
    if isinstance(width, bool) or not isinstance(width, int) or width not in WIDTHS:
        raise OpmodelsError(f"LOA width must be an integer in 2..64, not {width!r}")
    if isinstance(l, bool) or not isinstance(l, int) or not 0 <= l < width:
        raise OpmodelsError(f"LOA l must be an integer in 0..{width - 1} for width {width}, not {l!r}")


def structure(width: int, l: int) -> str:
    bits = "+" * (width - l) + "|" * l
    return (f"bits {width - 1} .. 0: {bits}\n"
            f"+ = exact adder bit, | = OR of the operand bits; carry into bit {l} = a[{l - 1}] & b[{l - 1}]"
            if l else f"bits {width - 1} .. 0: {bits} (exact adder)")


@dataclass(frozen=True)
class LOAParams:
    """The parameters of one lower-part-OR adder, validated; id grammar ``LOA<l>[W<w>]`` (width 32
    by default)."""

    width: int = 32
    l: int = 0

    GRAMMAR: ClassVar = re.compile(r"LOA(\d+)(?:W(\d+))?")

    def __post_init__(self):
        check(self.width, self.l)

    @classmethod
    def parse(cls, op_id: str) -> "LOAParams | None":
        match = cls.GRAMMAR.fullmatch(op_id)
        return cls(int(match[2] or 32), int(match[1])) if match else None

    @property
    def id(self) -> str:
        return f"LOA{self.l}" + ("" if self.width == 32 else f"W{self.width}")

    def build(self) -> Operator:
        return _build(self)


@lru_cache(maxsize=256)
def _build(params: LOAParams) -> Operator:
    width, l = params.width, params.l
    return Operator.from_function(params.id, "adder", width, lambda a, b: loa(a, b, l=l),
                                  family="LOA", params={"width": width, "l": l}, structure=structure(width, l))


def LOA(width: int = 32, l: int = 0) -> Operator:
    """A ``width``-bit lower-part-OR adder with ``l`` approximate low bits; l = 0 is exact."""
    return LOAParams(width, l).build()
