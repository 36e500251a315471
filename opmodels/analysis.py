"""Which bits of one operand each summand of an operator's output depends on: a proof, from the IR,
that the output splits into small per-chunk tables.

With the other operand fixed (a layer's weight), a radix-4 Booth product is a sum modulo 2^w of
partial-product bits, and each bit reads at most a few adjacent bits of the varying operand. When
every such summand reads bits of one *window* only, the product is, for every pair of operands,

    y(x) = T_0[x & 15] + T_1[(x >> 3) & 31] + T_2[(x >> 7) & 31] + ...      (mod 2^w)

where chunk c owns bits 4c .. 4c+3 and its window adds the bit below (4c-1). :func:`chunk_split`
proves this by abstract interpretation over the graph, not by sampling:

- every node gets, per bit, the *support*: the set of bits of the varying operand it can depend on
  (an over-approximation: an adder's bit i depends on bits 0..i of both of its arguments);
- ADD, SUB, SHL and CAST nodes also get a *form*: the node's value modulo 2^width as a sum of
  ``coefficient * bit`` atoms (a SEXT of a ``m``-bit value is its low bits with weights 2^i and its top
  bit with weight -2^(m-1), so sign extension stays a sum); every other node's form is its own bits;
- the output's form modulo 2^w is the list of summands; the split holds when every atom with a
  non-zero coefficient has its support inside one window.

The fixed operand is not tracked (it is a parameter of the tables), so the statement holds for every
value of it. A graph the analysis cannot prove (e.g. an output bit that is a nonlinear function of all
of x's bits) gets ``None`` and a reason: the kernels then keep the per-MAC scalar function.

The tables follow from the split by telescoping (``F`` the operator with the fixed operand bound):
``T_0[u] = F(u)`` and ``T_c[v] = F(v << lo_c) - F((v & 1) << lo_c)`` for c >= 1, ``lo_c = 4c - 1``
(see docs/kernels.md for the short argument).
"""
from __future__ import annotations

from dataclasses import dataclass

from .ir import Graph, Op

CHUNK_BITS = 4


@dataclass(frozen=True)
class ChunkSplit:
    """A proven split of output ``output`` over the bits of input ``operand``: window c is bits
    ``windows[c][0] .. windows[c][1] - 1``; the sum of the window tables equals the output modulo
    ``2 ** out_width`` for every value of both operands."""

    operand: str
    width: int
    out_width: int
    windows: tuple[tuple[int, int], ...]

    @property
    def rows(self) -> int:
        """Table rows per chunk (the widest window's patterns)."""
        return 1 << max(hi - lo for lo, hi in self.windows)


def windows(width: int, chunk_bits: int = CHUNK_BITS) -> tuple[tuple[int, int], ...]:
    """Chunk c owns bits [c * chunk_bits, (c + 1) * chunk_bits); its window adds the bit below."""
    return tuple((max(0, lo - 1), min(width, lo + chunk_bits)) for lo in range(0, width, chunk_bits))


def supports(graph: Graph, operand: str) -> list[list[int]]:
    """Per node, per bit: the bits of input ``operand`` it may depend on, as bit masks."""
    nodes = graph.nodes
    bits: list[list[int]] = []
    for node in nodes:
        args = [bits[a] for a in node.args]
        w = node.width
        op = node.op
        if op is Op.INPUT:
            bits.append([1 << i for i in range(w)] if node.name == operand else [0] * w)
        elif op is Op.CONST:
            bits.append([0] * w)
        elif op in (Op.NOT, Op.CAST):
            bits.append(list(args[0]))
        elif op in (Op.AND, Op.OR, Op.XOR):
            bits.append([x | y for x, y in zip(*args)])
        elif op in (Op.ADD, Op.SUB):  # the carry into bit i reads every bit below it
            prefix, out = 0, []
            for x, y in zip(*args):
                prefix |= x | y
                out.append(prefix)
            bits.append(out)
        elif op is Op.SHL:
            k = node.params[0]
            bits.append([0] * k + args[0][:w - k])
        elif op is Op.SHR_U:
            k = node.params[0]
            bits.append(args[0][k:] + [0] * k)
        elif op is Op.SHR_S:
            k = node.params[0]
            bits.append(args[0][k:] + [args[0][-1]] * k)
        elif op is Op.SLICE:
            lo = node.params[0]
            bits.append(args[0][lo:lo + w])
        elif op is Op.CONCAT:
            bits.append([b for arg in args for b in arg])
        elif op is Op.MUX:
            bits.append([args[0][0] | x | y for x, y in zip(args[1], args[2])])
        elif op is Op.ZEXT:
            bits.append(args[0] + [0] * (w - len(args[0])))
        elif op is Op.SEXT:
            bits.append(args[0] + [args[0][-1]] * (w - len(args[0])))
        else:  # pragma: no cover - the op table is closed; a new op must be added here
            raise NotImplementedError(f"the dependency analysis does not know op {op.value!r}")
    return bits


def summands(graph: Graph, operand: str, output: str = "y") -> list[tuple[int, int]]:
    """The output modulo 2^width as ``(coefficient, support)`` atoms (a bit of some node times a
    coefficient); atoms whose coefficient is 0 modulo 2^width are dropped."""
    nodes = graph.nodes
    bits = supports(graph, operand)
    forms: dict[int, dict[tuple[int, int], int]] = {}

    def own_bits(index: int, signed_top: bool = False) -> dict[tuple[int, int], int]:
        w = nodes[index].width
        form = {(index, i): 1 << i for i in range(w)}
        if signed_top:
            form[(index, w - 1)] = -(1 << (w - 1))
        return form

    def form_of(index: int) -> dict[tuple[int, int], int]:
        # Iterative over the arithmetic nodes feeding ``index`` (adder chains are deep).
        stack = [index]
        while stack:
            i = stack[-1]
            if i in forms:
                stack.pop()
                continue
            node = nodes[i]
            pending = [a for a in node.args if a not in forms] if node.op in (Op.ADD, Op.SUB, Op.SHL, Op.CAST) else []
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            modulus = 1 << node.width
            if node.op in (Op.ADD, Op.SUB):
                form = dict(forms[node.args[0]])
                sign = 1 if node.op is Op.ADD else -1
                for key, coef in forms[node.args[1]].items():
                    form[key] = form.get(key, 0) + sign * coef
            elif node.op is Op.SHL:
                form = {key: coef << node.params[0] for key, coef in forms[node.args[0]].items()}
            elif node.op is Op.CAST:
                form = dict(forms[node.args[0]])
            elif node.op is Op.SEXT:  # x sign-extended: its low bits plus its top bit weighted -2^(m-1)
                form = own_bits(node.args[0], signed_top=True)
            elif node.op is Op.ZEXT:
                form = own_bits(node.args[0])
            else:
                form = own_bits(i)
            forms[i] = {key: coef % modulus for key, coef in form.items() if coef % modulus}
        return forms[index]

    out = graph.outputs[output]
    return [(coef, bits[node][bit]) for (node, bit), coef in form_of(out).items()]


def chunk_split(graph: Graph, operand: str, output: str = "y",
                chunk_bits: int = CHUNK_BITS) -> tuple[ChunkSplit | None, str]:
    """(the proven split over input ``operand``, "") or (None, the reason it cannot be proven)."""
    if operand not in graph.inputs:
        return None, f"the graph has no input {operand!r}"
    width = graph.nodes[graph.inputs[operand]].width
    out_width = graph.nodes[graph.outputs[output]].width
    wins = windows(width, chunk_bits)
    masks = [((1 << hi) - 1) ^ ((1 << lo) - 1) for lo, hi in wins]
    for coef, support in summands(graph, operand, output):
        if support and not any(support & ~m == 0 for m in masks):
            reads = [i for i in range(width) if support >> i & 1]
            return None, (f"a summand (coefficient {coef} modulo 2^{out_width}) reads bits {reads} of {operand}, "
                          f"which lie in no one window of {list(wins)}")
    return ChunkSplit(operand, width, out_width, wins), ""
