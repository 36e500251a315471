"""An operator: an IR graph with ports ``a``, ``b`` -> ``y`` and what is known about it.

An :class:`Operator` never changes after construction: its ports are read from the graph and its IR
hash computed once, so every cache keyed by ``ir_hash`` stays valid for as long as the operator lives.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from . import dsl, interp
from .bits import to_signed, to_unsigned
from .errors import OpmodelsError
from .ir import Graph

KINDS = ("multiplier", "adder")
# An id names files (<ID>.npy, <ID>.v) and Verilog modules: letters, digits, '_', '.', '-', starting
# with a letter or digit, so it can never name a path outside its directory.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_id(op_id) -> str:
    if not isinstance(op_id, str) or not ID_PATTERN.fullmatch(op_id) or ".." in op_id:
        raise OpmodelsError(f"operator id {op_id!r} is not allowed: use 1..64 letters, digits, '_', '.' or "
                            f"'-', starting with a letter or digit (it names files and Verilog modules)")
    return op_id


@dataclass(frozen=True)
class Port:
    """One port of an operator: its width and whether its bits are read as two's complement."""

    name: str
    width: int
    signed: bool

    @property
    def range(self) -> tuple[int, int]:
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, (1 << self.width) - 1

    def out_of_range(self, values: np.ndarray) -> int | None:
        """The first extreme of ``values`` outside this port's range, None when all fit."""
        if values.size == 0:
            return None
        low, high = self.range
        smallest, largest = values.min(), values.max()
        return int(smallest) if smallest < low else int(largest) if largest > high else None

    def read(self, patterns) -> np.ndarray:
        """This port's bit patterns as int64 values."""
        return to_signed(patterns, self.width) if self.signed else to_unsigned(patterns, self.width)

    def __str__(self) -> str:
        return f"{self.name}: {'signed' if self.signed else 'unsigned'} {self.width}-bit"


class FrozenDict(dict):
    """A dict that refuses changes (and still serialises to JSON and prints like a dict)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("an operator's params and provenance are frozen; build a new operator instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __hash__(self):
        return hash(tuple(sorted(self.items(), key=repr)))

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _frozen(mapping) -> FrozenDict:
    return FrozenDict(mapping or {})


@dataclass(frozen=True, eq=False)
class Operator:
    """``a`` is the multiplicand (or first addend), ``b`` the Booth-recoded multiplier, ``y`` the result.

    The ports come from the graph (``op.a``, ``op.b``, ``op.y``: width and signedness of each). An
    adder's three ports have one width (it accumulates). ``provenance`` says where the operator comes
    from and which proof it passed; ``params`` are its family's parameters.
    """

    id: str
    kind: str
    graph: Graph
    family: str = "custom"
    params: Mapping = field(default_factory=dict)
    structure: str = ""  # a drawing of the operator for `opmodels show`
    provenance: Mapping = field(default_factory=lambda: {"source": "opmodels DSL"})
    a: Port = field(init=False)
    b: Port = field(init=False)
    y: Port = field(init=False)
    ir_hash: str = field(init=False)

    def __post_init__(self):
        check_id(self.id)
        if self.kind not in KINDS:
            raise OpmodelsError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if not isinstance(self.graph, Graph):
            raise OpmodelsError(f"operator {self.id}: graph must be an opmodels.ir.Graph, not {type(self.graph).__name__}")
        set_ = object.__setattr__
        for name in ("a", "b", "y"):
            index = self.graph.inputs.get(name, self.graph.outputs.get(name))
            if index is None:
                raise OpmodelsError(f"operator {self.id}: the graph has no port {name!r}")
            node = self.graph.nodes[index]
            set_(self, name, Port(name, node.width, node.signed))
        if self.kind == "adder" and not self.a.width == self.b.width == self.y.width:
            raise OpmodelsError(f"operator {self.id}: an adder's ports must have one width, not "
                                f"{self.a.width}, {self.b.width} -> {self.y.width}")
        set_(self, "params", _frozen(self.params))
        set_(self, "provenance", _frozen(self.provenance))
        set_(self, "ir_hash", self.graph.hash)

    # An operator is an immutable value: copies are the operator itself, and it pickles by its fields.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return (_rebuild, (self.id, self.kind, self.graph, self.family, dict(self.params), self.structure,
                           dict(self.provenance)))

    # Two operators are the same value when they have the same id and compute the same thing.
    def __eq__(self, other):
        return isinstance(other, Operator) and (self.id, self.kind, self.ir_hash) == (other.id, other.kind, other.ir_hash)

    def __hash__(self):
        return hash((self.id, self.ir_hash))

    def __repr__(self):
        return f"<Operator {self.id}: {self.describe_ports()} {self.kind}, {self.family} {dict(self.params)}>"

    def describe_ports(self) -> str:
        """``signed 8 x signed 8 -> signed 16``."""
        def one(p: Port) -> str:
            return f"{'signed' if p.signed else 'unsigned'} {p.width}"
        return f"{one(self.a)} x {one(self.b)} -> {one(self.y)}"

    @classmethod
    def from_function(cls, id: str, kind: str, width, build: Callable, signed=True, **info) -> "Operator":
        """Build from a DSL function ``build(a, b) -> y``. ``width`` and ``signed`` give the operands:
        one value for both, or an (a, b) pair. The result's signedness is the returned value's."""
        (wa, wb), (sa, sb) = _pair(width), _pair(signed)
        y = build(dsl.Input("a", wa, signed=sa), dsl.Input("b", wb, signed=sb))
        if not isinstance(y, dsl.Value):
            raise OpmodelsError(f"operator {id}: {getattr(build, '__name__', 'build')} must return a DSL Value, "
                                f"not {y!r}")
        return cls(id, kind, dsl.lower({"y": y}), **info)

    @property
    def width(self) -> int:
        """The operand width, where both operands have one."""
        if self.a.width != self.b.width:
            raise OpmodelsError(f"{self.id} has operands of {self.a.width} and {self.b.width} bits; "
                                f"use op.a.width / op.b.width")
        return self.a.width

    @property
    def out_width(self) -> int:
        return self.y.width

    @property
    def operand_range(self) -> tuple[int, int]:
        """The range both operands share (use ``op.a.range`` / ``op.b.range`` where they differ)."""
        if self.a.range != self.b.range:
            raise OpmodelsError(f"{self.id}: its operands have different ranges ({self.a}, {self.b}); "
                                f"use op.a.range / op.b.range")
        return self.a.range

    def check_operands(self, a: np.ndarray, b: np.ndarray) -> None:
        for port, x in ((self.a, a), (self.b, b)):
            if x.dtype.kind not in "iu":
                raise OpmodelsError(f"{self.id}: operand {port.name} must be integers, not {x.dtype}")
            bad = port.out_of_range(x)
            if bad is not None:
                low, high = port.range
                raise OpmodelsError(f"{self.id}: operand {port.name} value {bad} is outside the "
                                    f"{'signed' if port.signed else 'unsigned'} {port.width}-bit range {low}..{high}")

    def evaluate(self, a, b) -> np.ndarray:
        """The operator on integer arrays (broadcast), as int64, by the reference interpreter."""
        a, b = np.asarray(a), np.asarray(b)
        self.check_operands(a, b)
        y = interp.evaluate(self.graph, {"a": a, "b": b})["y"]
        return self.y.read(np.broadcast_to(y, np.broadcast_shapes(a.shape, b.shape)))

    def exact(self, a, b) -> np.ndarray:
        """What the exact operator gives: a*b, or a+b wrapped to the adder's width."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if self.kind == "multiplier":
            return a * b
        return self.y.read(a + b)

    @property
    def has_lut(self) -> bool:
        """True when the operator has a 256 x 256 lookup table: both operands are 8 bits."""
        return self.a.width == self.b.width == 8

    def lut(self) -> np.ndarray:
        from .lut import build
        return build(self)

    def metrics(self, samples: int | None = None, seed: int = 0):
        from .metrics import compute
        return compute(self, samples=samples, seed=seed)

    def cost(self, operands=None, **options):
        from .cost import cost  # Yosys synthesis, cached by IR hash; see docs/cost.md
        return cost(self, operands, **options)


def _rebuild(id, kind, graph, family, params, structure, provenance) -> Operator:
    return Operator(id, kind, graph, family, params, structure, provenance)


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class ExactProduct:
    """The exact product ``a * b`` of any int32 operands, as the kernels compute it (no IR, no table).

    It has its own name so that it cannot be confused with the catalog's ``EXACT``, the 8-bit exact
    Booth multiplier whose operands are checked against -128..127.
    """

    id = "exact-product"
    kind = "multiplier"
    a, b = Port("a", 32, True), Port("b", 32, True)

    def __repr__(self):
        return "opmodels.EXACT_PRODUCT"

    def __reduce__(self):  # one instance, also across processes
        return "EXACT_PRODUCT"


EXACT_PRODUCT = ExactProduct()


def operator(id: str, kind: str = "multiplier", width: int = 8):
    """Decorator: turn a DSL function ``f(a, b) -> y`` into an :class:`Operator` (bring your own)."""
    def wrap(build: Callable) -> Operator:
        return Operator.from_function(id, kind, width, build, family="custom",
                                      structure=(build.__doc__ or "").strip())
    return wrap
