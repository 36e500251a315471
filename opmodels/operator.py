"""An operator: an IR graph with ports ``a``, ``b`` -> ``y`` and what is known about it."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from . import dsl, interp
from .errors import OpmodelsError
from .ir import Graph

KINDS = ("multiplier", "adder")


@dataclass(eq=False)
class Operator:
    """``a`` is the multiplicand (or first addend), ``b`` the Booth-recoded multiplier, ``y`` the result.

    Multipliers map two signed ``width``-bit operands to a signed 2*width-bit product; adders map two
    signed ``width``-bit operands to a signed ``width``-bit sum.
    """

    id: str
    kind: str
    width: int
    graph: Graph
    family: str = "custom"
    params: dict = field(default_factory=dict)
    structure: str = ""  # a drawing of the operator for `opmodels show`

    def __post_init__(self):
        if self.kind not in KINDS:
            raise OpmodelsError(f"kind must be one of {KINDS}, not {self.kind!r}")
        expected = {"multiplier": 2 * self.width, "adder": self.width}[self.kind]
        for port, width in (("a", self.width), ("b", self.width), ("y", expected)):
            try:
                actual = self.graph.port_width(port)
            except KeyError:
                raise OpmodelsError(f"operator {self.id}: the graph has no port {port!r}") from None
            if actual != width:
                raise OpmodelsError(f"operator {self.id}: port {port} is {actual} bits, a {self.width}-bit "
                                    f"{self.kind} needs {width}")

    def __repr__(self):
        return f"<Operator {self.id}: {self.width}-bit {self.kind}, {self.family} {self.params}>"

    @classmethod
    def from_function(cls, id: str, kind: str, width: int, build: Callable, **info) -> "Operator":
        """Build from a DSL function ``build(a, b) -> y`` of two signed ``width``-bit inputs."""
        y = build(dsl.Input("a", width, signed=True), dsl.Input("b", width, signed=True))
        if not isinstance(y, dsl.Value):
            raise OpmodelsError(f"operator {id}: {build.__name__} must return a DSL Value, not {y!r}")
        return cls(id, kind, width, dsl.lower({"y": y.as_signed()}), **info)

    @property
    def out_width(self) -> int:
        return self.graph.port_width("y")

    @cached_property
    def ir_hash(self) -> str:
        return self.graph.hash

    @property
    def operand_range(self) -> tuple[int, int]:
        return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1

    def check_operands(self, *operands: np.ndarray) -> None:
        low, high = self.operand_range
        for name, x in zip("ab", operands):
            if x.dtype.kind not in "iu":
                raise OpmodelsError(f"{self.id}: operand {name} must be integers, not {x.dtype}")
            if x.size and (x.min() < low or x.max() > high):
                bad = x.min() if x.min() < low else x.max()
                raise OpmodelsError(f"{self.id}: operand {name} value {bad} is outside the signed "
                                    f"{self.width}-bit range {low}..{high}")

    def evaluate(self, a, b) -> np.ndarray:
        """The operator on signed integer arrays (broadcast), as int64, by the reference interpreter."""
        a, b = np.asarray(a), np.asarray(b)
        self.check_operands(a, b)
        y = interp.evaluate(self.graph, {"a": a, "b": b})["y"]
        return interp.to_signed(np.broadcast_to(y, np.broadcast_shapes(a.shape, b.shape)), self.out_width)

    def exact(self, a, b) -> np.ndarray:
        """What the exact operator gives: a*b, or a+b wrapped to ``width`` bits."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if self.kind == "multiplier":
            return a * b
        return interp.to_signed(interp.to_patterns(a + b, self.width), self.width)

    def lut(self) -> np.ndarray:
        from .lut import build
        return build(self)

    def metrics(self, samples: int | None = None, seed: int = 0):
        from .metrics import compute
        return compute(self, samples=samples, seed=seed)

    def cost(self, operands=None, **options):
        from .cost import cost  # Yosys synthesis, cached by IR hash; see docs/cost.md
        return cost(self, operands, **options)


def operator(id: str, kind: str = "multiplier", width: int = 8):
    """Decorator: turn a DSL function ``f(a, b) -> y`` into an :class:`Operator` (bring your own)."""
    def wrap(build: Callable) -> Operator:
        return Operator.from_function(id, kind, width, build, family="custom",
                                      structure=(build.__doc__ or "").strip())
    return wrap
