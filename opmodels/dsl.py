"""A small DSL of symbolic bit vectors, in which operators are written the way hardware is drawn.

>>> a, b = Input("a", 8, signed=True), Input("b", 8, signed=True)
>>> s = (a.sext(9) + b.sext(9)).named("sum")

Every :class:`Value` has an explicit width and signedness. Binary operators need equal widths and
signedness (extend explicitly with :meth:`Value.sext` / :meth:`Value.zext`); arithmetic wraps modulo
2**width like a hardware adder. A Value is symbolic: using it as a Python bool raises.
:func:`lower` turns the values reachable from the outputs into an :class:`~opmodels.ir.Graph`,
sharing identical sub-expressions.
"""
from __future__ import annotations

from .errors import OpmodelsError
from .ir import MAX_WIDTH, Graph, Node, Op


class DSLError(OpmodelsError, TypeError):
    """A misuse of the DSL: mixed widths, a symbolic value used as a bool, a bad slice..."""


class Value:
    __slots__ = ("op", "args", "width", "signed", "params", "name")

    def __init__(self, op: Op, args: tuple, width: int, signed: bool, params: tuple = (), name: str | None = None):
        if not 1 <= width <= MAX_WIDTH:
            raise DSLError(f"width {width} is outside 1..{MAX_WIDTH}")
        self.op, self.args, self.width, self.signed, self.params, self.name = op, args, width, signed, params, name

    def __repr__(self):
        label = self.name or self.op.value
        return f"<Value {label}: {self.width}{'s' if self.signed else 'u'}>"

    def __bool__(self):
        raise DSLError(
            f"{self!r} is symbolic and has no truth value; use mux(sel, if1, if0) instead of if/and/or"
        )

    def named(self, name: str) -> "Value":
        """Give the wire a name that structural backends (Verilog) show.

        A value that already has a name keeps it: the new name goes on a copy of the node, so that
        naming an alias (a row's neg bit that is just b2) does not rename the original wire."""
        if self.name is None:
            self.name = name
            return self
        return Value(self.op, self.args, self.width, self.signed, self.params, name)

    # -- bit selection ----------------------------------------------------------------------
    def __getitem__(self, key) -> "Value":
        if isinstance(key, int):
            if not -self.width <= key < self.width:
                raise DSLError(f"bit {key} is outside {self!r}")
            return Value(Op.SLICE, (self,), 1, False, (key % self.width,))
        if isinstance(key, slice):
            lo, hi, step = key.indices(self.width)
            if step != 1 or hi <= lo:
                raise DSLError(f"slice [{key.start}:{key.stop}] of {self!r} is empty or strided")
            return Value(Op.SLICE, (self,), hi - lo, False, (lo,))
        raise DSLError(f"cannot index {self!r} with {key!r}")

    # -- width and sign -----------------------------------------------------------------------
    def sext(self, width: int) -> "Value":
        """Sign-extend (copy the top bit) to ``width``; the result is signed."""
        self._check_not_narrower(width)
        return Value(Op.SEXT, (self,), width, True)

    def zext(self, width: int) -> "Value":
        """Zero-extend to ``width``; the result is unsigned."""
        self._check_not_narrower(width)
        return Value(Op.ZEXT, (self,), width, False)

    def extend(self, width: int) -> "Value":
        """Extend the way the value's signedness says."""
        return self.sext(width) if self.signed else self.zext(width)

    def replicate(self, width: int) -> "Value":
        """A 1-bit value copied into every bit of a ``width``-bit vector (Verilog ``{w{x}}``)."""
        if self.width != 1:
            raise DSLError(f"replicate needs a 1-bit value, not {self!r}")
        return Value(Op.SEXT, (self,), width, False)

    def as_signed(self) -> "Value":
        return self if self.signed else Value(Op.CAST, (self,), self.width, True)

    def as_unsigned(self) -> "Value":
        return Value(Op.CAST, (self,), self.width, False) if self.signed else self

    def _check_not_narrower(self, width: int):
        if width < self.width:
            raise DSLError(f"cannot extend {self!r} to fewer bits ({width}); slice it instead")

    # -- operators ----------------------------------------------------------------------------
    def _coerce(self, other, what: str) -> "Value":
        if isinstance(other, Value):
            if (other.width, other.signed) != (self.width, self.signed):
                raise DSLError(
                    f"{what} of {self!r} and {other!r}: widths and signedness must match; "
                    f"extend explicitly with .sext()/.zext() or slice"
                )
            return other
        if isinstance(other, int) and not isinstance(other, bool):
            return const(other, self.width, self.signed)
        raise DSLError(f"{what} of {self!r} and {other!r}: not a Value or an int")

    def _binary(self, op: Op, other, what: str) -> "Value":
        other = self._coerce(other, what)
        return Value(op, (self, other), self.width, self.signed)

    def __and__(self, other):
        return self._binary(Op.AND, other, "&")

    def __or__(self, other):
        return self._binary(Op.OR, other, "|")

    def __xor__(self, other):
        return self._binary(Op.XOR, other, "^")

    def __add__(self, other):
        return self._binary(Op.ADD, other, "+")

    def __sub__(self, other):
        return self._binary(Op.SUB, other, "-")

    def _reflected(self, op: Op, other, what: str):
        return Value(op, (self._coerce(other, what), self), self.width, self.signed)

    __rand__, __ror__, __rxor__, __radd__ = __and__, __or__, __xor__, __add__

    def __rsub__(self, other):
        return self._reflected(Op.SUB, other, "-")

    def __invert__(self):
        return Value(Op.NOT, (self,), self.width, self.signed)

    def __neg__(self):
        return const(0, self.width, self.signed) - self

    def _shift_amount(self, k) -> int:
        if not isinstance(k, int) or not 0 <= k < self.width:
            raise DSLError(f"shift of {self!r} needs a constant int in 0..{self.width - 1}, not {k!r}")
        return k

    def __lshift__(self, k):
        return Value(Op.SHL, (self,), self.width, self.signed, (self._shift_amount(k),))

    def __rshift__(self, k):
        """Arithmetic for signed values, logical for unsigned ones."""
        op = Op.SHR_S if self.signed else Op.SHR_U
        return Value(op, (self,), self.width, self.signed, (self._shift_amount(k),))

    def __eq__(self, other):  # == would silently be identity; comparisons are not part of the DSL
        raise DSLError(f"{self!r} == ...: comparisons are not part of the DSL; use xor and reduce")

    __hash__ = object.__hash__


def Input(name: str, width: int, signed: bool = True) -> Value:
    return Value(Op.INPUT, (), width, signed, name=name)


def const(value: int, width: int, signed: bool = False) -> Value:
    """A constant; negative values are taken as two's complement and must fit ``width`` bits."""
    low = -(1 << (width - 1)) if signed else 0
    high = (1 << width) - 1 if not signed else (1 << (width - 1)) - 1
    if not low <= value <= high:
        raise DSLError(f"constant {value} does not fit {width} {'signed' if signed else 'unsigned'} bits")
    return Value(Op.CONST, (), width, signed, (value & ((1 << width) - 1),))


def cat(*parts: Value) -> Value:
    """Concatenate, first part in the low bits (like Amaranth's Cat, unlike Verilog's {})."""
    if not parts or not all(isinstance(p, Value) for p in parts):
        raise DSLError(f"cat needs one or more Values, got {parts!r}")
    if len(parts) == 1:
        return parts[0]
    return Value(Op.CONCAT, parts, sum(p.width for p in parts), False)


def mux(sel: Value, if1: Value, if0: Value) -> Value:
    if not isinstance(sel, Value) or sel.width != 1:
        raise DSLError(f"mux select must be a 1-bit Value, not {sel!r}")
    if0 = if1._coerce(if0, "mux")
    return Value(Op.MUX, (sel, if1, if0), if1.width, if1.signed)


def lower(outputs: dict[str, Value]) -> Graph:
    """Lower the values reachable from ``outputs`` into a validated Graph (shared sub-expressions once)."""
    nodes: list[Node] = []
    index_of: dict[int, int] = {}  # id(Value) -> node index
    by_key: dict[tuple, int] = {}

    def visit(root: Value) -> int:
        stack = [(root, False)]
        while stack:  # iterative post-order: deep adder chains must not hit the recursion limit
            value, ready = stack.pop()
            if id(value) in index_of:
                continue
            if not ready:
                stack.append((value, True))
                stack.extend((a, False) for a in reversed(value.args) if id(a) not in index_of)
                continue
            node = Node(value.op, tuple(index_of[id(a)] for a in value.args), value.width, value.signed,
                        value.params, value.name)
            key = node.key() if node.op is not Op.INPUT else (Op.INPUT, node.name)
            if node.op is Op.INPUT and key in by_key and nodes[by_key[key]] != node:
                raise DSLError(f"two different inputs are named {node.name!r}")
            if key in by_key and (node.name is None or nodes[by_key[key]].name == node.name):
                index_of[id(value)] = by_key[key]
                continue
            by_key.setdefault(key, len(nodes))
            index_of[id(value)] = len(nodes)
            nodes.append(node)
        return index_of[id(root)]

    out = {name: visit(v) for name, v in outputs.items()}
    return Graph(nodes, out)
