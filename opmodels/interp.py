"""The reference interpreter: numpy evaluation of an IR graph, the executable spec of every op.

Values are unsigned bit patterns in uint32 (width <= 32) or uint64 arrays, masked to the node's
width after every op: that is what keeps every backend equal to this one bit for bit.
"""
from __future__ import annotations

import numpy as np

from .bits import dtype_for, mask, to_patterns, to_signed  # noqa: F401 (re-exported)
from .ir import Graph, Node, Op


def evaluate(graph: Graph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate on bit patterns: ``inputs`` maps port names to integer arrays (broadcastable; their
    low bits are taken); returns each output's patterns as uint32/uint64 arrays."""
    missing = set(graph.inputs) - set(inputs)
    if missing:
        raise ValueError(f"missing inputs {sorted(missing)}; the graph has {sorted(graph.inputs)}")
    values: list[np.ndarray] = []
    with np.errstate(over="ignore"):  # wrapping is the semantics; constant scalars would warn
        for node in graph.nodes:
            args = [values[a] for a in node.args]
            widths = [graph.nodes[a].width for a in node.args]
            values.append(_EVAL[node.op](node, args, widths, inputs))
    return {name: values[index] for name, index in graph.outputs.items()}


def _fill_above(x: np.ndarray, top_bit: int, from_width: int, width: int) -> np.ndarray:
    """Copy bit ``top_bit`` of x into bits from_width .. width-1 (sign extension, arithmetic shift)."""
    dtype = dtype_for(width)
    top = (x >> dtype(top_bit)) & dtype(1)
    return x | ((dtype(0) - top) & dtype(mask(width) ^ mask(from_width)))


def _shl(node: Node, args, widths, inputs):
    return (args[0] << dtype_for(node.width)(node.params[0])) & dtype_for(node.width)(mask(node.width))


def _shr_u(node: Node, args, widths, inputs):
    return args[0] >> dtype_for(node.width)(node.params[0])


def _shr_s(node: Node, args, widths, inputs):
    (k,) = node.params
    shifted = args[0] >> dtype_for(node.width)(k)
    return _fill_above(shifted, node.width - 1 - k, node.width - k, node.width) if k else shifted


def _concat(node: Node, args, widths, inputs):
    dtype = dtype_for(node.width)
    out, offset = dtype(0), 0
    for arg, width in zip(args, widths):
        out = out | (np.asarray(arg).astype(dtype) << dtype(offset))
        offset += width
    return out


def _sext(node: Node, args, widths, inputs):
    x = np.asarray(args[0]).astype(dtype_for(node.width))
    return _fill_above(x, widths[0] - 1, widths[0], node.width)


def _table(node: Node, args, widths, inputs):
    values = np.array(node.params, dtype=dtype_for(node.width))
    return values[np.asarray(args[0]).astype(np.intp)]


def _wrap(fn):
    def apply(node: Node, args, widths, inputs):
        return fn(*args) & dtype_for(node.width)(mask(node.width))
    return apply


_EVAL = {
    Op.INPUT: lambda node, args, widths, inputs: to_patterns(inputs[node.name], node.width),
    Op.CONST: lambda node, args, widths, inputs: dtype_for(node.width)(node.params[0]),
    Op.NOT: lambda node, args, widths, inputs: ~args[0] & dtype_for(node.width)(mask(node.width)),
    Op.AND: lambda node, args, widths, inputs: args[0] & args[1],
    Op.OR: lambda node, args, widths, inputs: args[0] | args[1],
    Op.XOR: lambda node, args, widths, inputs: args[0] ^ args[1],
    Op.ADD: _wrap(np.add),
    Op.SUB: _wrap(np.subtract),
    Op.SHL: _shl,
    Op.SHR_U: _shr_u,
    Op.SHR_S: _shr_s,
    Op.SLICE: lambda node, args, widths, inputs: to_patterns(args[0] >> args[0].dtype.type(node.params[0]), node.width),
    Op.CONCAT: _concat,
    Op.MUX: lambda node, args, widths, inputs: np.where(args[0] != 0, args[1], args[2]).astype(dtype_for(node.width)),
    Op.ZEXT: lambda node, args, widths, inputs: np.asarray(args[0]).astype(dtype_for(node.width)),
    Op.SEXT: _sext,
    Op.CAST: lambda node, args, widths, inputs: args[0],
    Op.TABLE: _table,
}
