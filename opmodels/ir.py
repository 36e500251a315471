"""The intermediate representation every backend consumes.

A :class:`Graph` is a list of :class:`Node` in topological order (SSA: a node only refers to earlier
nodes). Every node is a bit vector of ``width`` bits (1..64). Its bits never depend on ``signed``:
signed and unsigned behaviour are separate ops (``SEXT``/``ZEXT``, ``SHR_S``/``SHR_U``), so no backend
has to guess. ``signed`` only says how a reader interprets the pattern (ports, printing).

Op table (args are node indices, params are Python ints; w = result width):

=========  ==================  ==============  =================================================
op         args                params          result
=========  ==================  ==============  =================================================
INPUT      ()                  ()              the input port ``name``
CONST      ()                  (value,)        value, 0 <= value < 2**w
NOT        (x,)                ()              ~x                          w = w(x)
AND        (x, y)              ()              x & y                       w = w(x) = w(y)
OR         (x, y)              ()              x | y                       w = w(x) = w(y)
XOR        (x, y)              ()              x ^ y                       w = w(x) = w(y)
ADD        (x, y)              ()              (x + y) mod 2**w            w = w(x) = w(y)
SUB        (x, y)              ()              (x - y) mod 2**w            w = w(x) = w(y)
SHL        (x,)                (k,)            (x << k) mod 2**w           w = w(x), 0 <= k < w
SHR_U      (x,)                (k,)            x >> k, zeros shifted in    w = w(x), 0 <= k < w
SHR_S      (x,)                (k,)            x >> k, x's top bit in      w = w(x), 0 <= k < w
SLICE      (x,)                (lo,)           bits lo .. lo+w-1 of x      lo + w <= w(x)
CONCAT     (x0, x1, ...)       ()              x0 in the low bits          w = sum of widths
MUX        (s, x1, x0)         ()              x1 if s else x0             w(s) = 1, w = w(x1) = w(x0)
ZEXT       (x,)                ()              x with zeros above          w >= w(x)
SEXT       (x,)                ()              x with its top bit above    w >= w(x)
CAST       (x,)                ()              the same bits               w = w(x) (signedness changes)
TABLE      (x,)                (v0, v1, ...)   v[x], a constant table      2**w(x) values, w(x) <= 16,
                                                                           0 <= v < 2**w
=========  ==================  ==============  =================================================

TABLE is a read-only memory: the index is the argument's bit pattern, the values are result bit
patterns (``signed`` says how they are read, as for every node). Imported lookup tables and C models
are ``TABLE(CONCAT(b, a))``: row a, column b, index ``a * 2**w(b) + b``.
"""
from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

MAX_WIDTH = 64
MAX_TABLE_INDEX = 16  # a TABLE has at most 2**16 entries


class IRError(ValueError):
    """A graph that breaks the op table's width rules."""


class Op(enum.Enum):
    INPUT = "input"
    CONST = "const"
    NOT = "not"
    AND = "and"
    OR = "or"
    XOR = "xor"
    ADD = "add"
    SUB = "sub"
    SHL = "shl"
    SHR_U = "shr_u"
    SHR_S = "shr_s"
    SLICE = "slice"
    CONCAT = "concat"
    MUX = "mux"
    ZEXT = "zext"
    SEXT = "sext"
    CAST = "cast"
    TABLE = "table"


BITWISE_BINARY = (Op.AND, Op.OR, Op.XOR)
ARITH_BINARY = (Op.ADD, Op.SUB)
SHIFTS = (Op.SHL, Op.SHR_U, Op.SHR_S)


@dataclass(frozen=True)
class Node:
    op: Op
    args: tuple[int, ...]
    width: int
    signed: bool = False
    params: tuple[int, ...] = ()
    name: str | None = None  # a wire name for backends that show structure (Verilog)

    def key(self) -> tuple:
        """What makes two nodes the same computation (names do not)."""
        return (self.op, self.args, self.width, self.signed, self.params)


class Graph:
    """Nodes in topological order, named input and output ports. Immutable: validated and hashed once,
    so the hash stays a valid cache key for as long as the graph lives."""

    __slots__ = ("nodes", "outputs", "inputs", "hash")

    def __init__(self, nodes, outputs: Mapping[str, int]):
        set_ = object.__setattr__
        set_(self, "nodes", tuple(nodes))
        set_(self, "outputs", MappingProxyType(dict(outputs)))
        set_(self, "inputs", MappingProxyType({n.name: i for i, n in enumerate(self.nodes) if n.op is Op.INPUT}))
        validate(self)
        # Structural hash (sha256 of :meth:`to_text`): the cache key of every generated artifact.
        set_(self, "hash", hashlib.sha256(self.to_text().encode()).hexdigest())

    def __setattr__(self, name, value):
        raise AttributeError(f"a Graph is immutable; build a new one instead of setting {name!r}")

    def __reduce__(self):
        return (Graph, (self.nodes, dict(self.outputs)))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __eq__(self, other):
        return isinstance(other, Graph) and other.hash == self.hash

    def __hash__(self):
        return hash(self.hash)

    def __repr__(self):
        return f"<Graph {len(self.nodes)} nodes, {self.hash[:12]}>"

    def port_width(self, name: str) -> int:
        index = self.inputs.get(name, self.outputs.get(name))
        if index is None:
            raise KeyError(name)
        return self.nodes[index].width

    def to_text(self) -> str:
        """One line per node: ``%index = op(args) params : width s/u name``. Stable: hashed."""
        lines = []
        for i, n in enumerate(self.nodes):
            args = ", ".join(f"%{a}" for a in n.args)
            params = "".join(f" #{p}" for p in n.params)
            sign = "s" if n.signed else "u"
            name = f" {n.name}" if n.name else ""
            lines.append(f"%{i} = {n.op.value}({args}){params} : {n.width}{sign}{name}")
        for name, index in sorted(self.outputs.items()):
            lines.append(f"out {name} = %{index}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> "Graph":
        """The graph :meth:`to_text` printed (how operator directories store a graph)."""
        nodes, outputs = [], {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            match = _NODE_LINE.fullmatch(line) or _OUTPUT_LINE.fullmatch(line)
            if match is None:
                raise IRError(f"line {number}: not a node or output line: {line[:80]!r}")
            if match.re is _OUTPUT_LINE:
                outputs[match["name"]] = int(match["index"])
                continue
            if int(match["index"]) != len(nodes):
                raise IRError(f"line {number}: node %{match['index']} out of order (expected %{len(nodes)})")
            try:
                op = Op(match["op"])
            except ValueError:
                raise IRError(f"line {number}: unknown op {match['op']!r}") from None
            args = tuple(int(a.strip()[1:]) for a in match["args"].split(",")) if match["args"].strip() else ()
            params = tuple(int(p) for p in re.findall(r"#(-?\d+)", match["params"]))
            nodes.append(Node(op, args, int(match["width"]), match["sign"] == "s", params, match["name"]))
        return cls(nodes, outputs)

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.op.value] = counts.get(n.op.value, 0) + 1
        return counts


_NODE_LINE = re.compile(r"%(?P<index>\d+) = (?P<op>[a-z_]+)\((?P<args>[%\d, ]*)\)(?P<params>(?: #-?\d+)*)"
                        r" : (?P<width>\d+)(?P<sign>[su])(?: (?P<name>\S+))?")
_OUTPUT_LINE = re.compile(r"out (?P<name>\S+) = %(?P<index>\d+)")


def _fits(values: tuple[int, ...], width: int) -> bool:
    limit = 1 << width
    return all(type(v) is int and 0 <= v < limit for v in values)


def validate(graph: Graph) -> None:
    """Check every node against the op table once, so backends may trust the graph."""
    nodes = graph.nodes
    for i, n in enumerate(nodes):
        where = f"node %{i} ({n.op.value})"
        if not 1 <= n.width <= MAX_WIDTH:
            raise IRError(f"{where}: width {n.width} is outside 1..{MAX_WIDTH}")
        if any(not 0 <= a < i for a in n.args):
            raise IRError(f"{where}: arguments {n.args} must refer to earlier nodes")
        w = [nodes[a].width for a in n.args]
        arity = {Op.INPUT: 0, Op.CONST: 0, Op.MUX: 3}.get(n.op, 2 if n.op in BITWISE_BINARY + ARITH_BINARY else 1)
        if n.op is Op.CONCAT:
            ok = len(n.args) >= 1 and sum(w) == n.width
        elif len(n.args) != arity:
            ok = False
        elif n.op is Op.INPUT:
            ok = bool(n.name) and not n.params
        elif n.op is Op.CONST:
            ok = len(n.params) == 1 and 0 <= n.params[0] < (1 << n.width)
        elif n.op in BITWISE_BINARY + ARITH_BINARY:
            ok = w[0] == w[1] == n.width
        elif n.op in SHIFTS:
            ok = w[0] == n.width and len(n.params) == 1 and 0 <= n.params[0] < n.width
        elif n.op is Op.SLICE:
            ok = len(n.params) == 1 and n.params[0] >= 0 and n.params[0] + n.width <= w[0]
        elif n.op is Op.MUX:
            ok = w[0] == 1 and w[1] == w[2] == n.width
        elif n.op in (Op.ZEXT, Op.SEXT):
            ok = n.width >= w[0]
        elif n.op is Op.TABLE:
            ok = w[0] <= MAX_TABLE_INDEX and len(n.params) == 1 << w[0] and _fits(n.params, n.width)
        else:  # NOT, CAST
            ok = n.width == w[0]
        if not ok:
            raise IRError(f"{where}: breaks the width rule (width {n.width}, argument widths {w}, params {n.params})")
    for name, index in graph.outputs.items():
        if not 0 <= index < len(nodes):
            raise IRError(f"output {name!r} refers to missing node %{index}")
    if len(graph.inputs) != sum(n.op is Op.INPUT for n in nodes):
        raise IRError("two inputs share one name")
