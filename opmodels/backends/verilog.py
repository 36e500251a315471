"""Verilog-2005 from the IR: one ``module opm_<id> (a, b, y)`` per operator.

Reads only the IR: :func:`convert` is a pure function of the graph and a module name; the header
with the operator's id, parameters, IR hash and metrics comes from :mod:`opmodels.artifacts`. Every node is
rendered by one entry of :data:`RENDER`, an exhaustive table over :class:`~opmodels.ir.Op` (a
``TABLE`` becomes a case ROM, :func:`_case_rom`); a node of an op without an entry fails loudly. Each rendered node becomes one ``assign`` of a wire of the
node's exact width whose operands are plain identifiers, bit selects or sized constants, so Verilog's
context-dependent expression sizing never widens an operation: the bits are the interpreter's bits.
Nodes the IR names (``pp0``, ``one0``, ``neg0``, ``low_or``...) keep their names, so the partial-product
rows and cells are visible; unnamed ones are ``n<index>``. Constants, casts and slices are inlined.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..ir import Graph, Node, Op

PORTS = ("a", "b", "y")

# Verilog-2005 reserved words a node name must not take (IEEE 1364-2005 annex B).
KEYWORDS = frozenset("""
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default
defparam design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive
endspecify endtable endtask event for force forever fork function generate genvar highz0 highz1 if
ifnone incdir include initial inout input instance integer join large liblist library localparam
macromodule medium module nand negedge nmos nor noshowcancelled not notif0 notif1 or output parameter
pmos posedge primitive pull0 pull1 pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real
realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small
specify specparam strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1
triand trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
""".split())


class VerilogError(ValueError):
    """The IR holds something this backend cannot render (an op without a rule)."""


@dataclass(frozen=True)
class Ref:
    """How an operand is written: ``base[lo +: width]`` of a wire, a whole wire, or a constant."""

    base: str
    width: int          # width of this reference
    base_width: int = 0  # width of ``base`` (0: a constant literal)
    lo: int = 0

    def __str__(self) -> str:
        if not self.base_width or (self.lo == 0 and self.width == self.base_width):
            return self.base
        if self.width == 1:
            return f"{self.base}[{self.lo}]"
        return f"{self.base}[{self.lo + self.width - 1}:{self.lo}]"


def module_name(op_id: str) -> str:
    return "opm_" + re.sub(r"\W", "_", op_id).lower()


def _const(value: int, width: int) -> Ref:
    return Ref(f"{width}'d{value}", width)


def _slice(x: Ref, lo: int, width: int) -> Ref:
    if not x.base_width:  # a slice of a constant is a constant
        value = int(x.base.split("'d")[1])
        return _const((value >> lo) & ((1 << width) - 1), width)
    return Ref(x.base, width, x.base_width, x.lo + lo)


# Each rule gives the right-hand side of ``assign <wire> = ...`` from the node and its operands.
def _shl(node: Node, x: Ref) -> str:
    (k,) = node.params
    return str(x) if k == 0 else f"{{{_slice(x, 0, node.width - k)}, {k}'d0}}"


def _shr_u(node: Node, x: Ref) -> str:
    (k,) = node.params
    return str(x) if k == 0 else f"{{{k}'d0, {_slice(x, k, node.width - k)}}}"


def _shr_s(node: Node, x: Ref) -> str:
    (k,) = node.params
    top = _slice(x, node.width - 1, 1)
    return str(x) if k == 0 else f"{{{{{k}{{{top}}}}}, {_slice(x, k, node.width - k)}}}"


def _extend(node: Node, x: Ref, fill: str) -> str:
    extra = node.width - x.width
    if extra == 0:
        return str(x)
    if x.width == 1 and fill != "1'b0":  # a 1-bit value replicated: {w{x}}
        return f"{{{node.width}{{{x}}}}}"
    return f"{{{{{extra}{{{fill}}}}}, {x}}}"


RENDER = {
    Op.CONST: lambda node: str(_const(node.params[0], node.width)),
    Op.NOT: lambda node, x: f"~{x}",
    Op.AND: lambda node, x, y: f"{x} & {y}",
    Op.OR: lambda node, x, y: f"{x} | {y}",
    Op.XOR: lambda node, x, y: f"{x} ^ {y}",
    Op.ADD: lambda node, x, y: f"{x} + {y}",
    Op.SUB: lambda node, x, y: f"{x} - {y}",
    Op.SHL: _shl,
    Op.SHR_U: _shr_u,
    Op.SHR_S: _shr_s,
    Op.CONCAT: lambda node, *xs: "{" + ", ".join(str(x) for x in reversed(xs)) + "}",  # x0 lowest
    Op.MUX: lambda node, s, x1, x0: f"{s} ? {x1} : {x0}",
    Op.ZEXT: lambda node, x: _extend(node, x, "1'b0"),
    Op.SEXT: lambda node, x: _extend(node, x, str(_slice(x, x.width - 1, 1))),
    Op.CAST: lambda node, x: str(x),
    Op.SLICE: lambda node, x: str(_slice(x, node.params[0], node.width)),
}
# Ops that need no wire of their own when unnamed: the operand is written in place.
INLINE = {
    Op.CONST: lambda node: _const(node.params[0], node.width),
    Op.CAST: lambda node, x: x,
    Op.SLICE: lambda node, x: _slice(x, node.params[0], node.width),
}
RENDERED_OPS = set(RENDER) | set(INLINE) | {Op.INPUT, Op.TABLE}


def _case_rom(name: str, node: Node, index: Ref) -> list[str]:
    """A TABLE as a synthesisable ROM: a ``reg`` set by full ``case`` statements over the index in an
    ``always @*`` block (every index has an entry, and defaults keep it free of latches). An index of
    more than 8 bits is split, a case over its high bits around cases over its low 8 bits, so a
    simulator compares at most 2 x 256 labels per evaluation instead of 65,536."""
    vector = f"[{node.width - 1}:0] " if node.width > 1 else ""
    low = min(index.width, 8)
    high = index.width - low
    lines = [f"  reg {vector}{name};", "  always @* begin"]

    def inner(offset: int, indent: str, selector: Ref) -> list[str]:
        body = [f"{indent}case ({selector})"]
        body += [f"{indent}  {low}'d{i}: {name} = {node.width}'d{node.params[offset + i]};" for i in range(1 << low)]
        return body + [f"{indent}  default: {name} = {node.width}'d0;", f"{indent}endcase"]

    if high == 0:
        lines += inner(0, "    ", index)
    else:
        lines.append(f"    case ({_slice(index, low, high)})")
        for h in range(1 << high):
            lines += [f"      {high}'d{h}: begin", *inner(h << low, "        ", _slice(index, 0, low)), "      end"]
        lines += [f"      default: {name} = {node.width}'d0;", "    endcase"]
    return lines + ["  end"]


def _is_identity(node: Node, args: list[Ref]) -> bool:
    """Extensions to the same width and shifts by 0 copy their operand: no wire needed."""
    if node.op in (Op.ZEXT, Op.SEXT):
        return node.width == args[0].width
    return node.op in (Op.SHL, Op.SHR_U, Op.SHR_S) and node.params[0] == 0


def _wire_names(graph: Graph) -> dict[int, str]:
    """A unique, legal identifier for every node that gets a wire: its IR name when it has one."""
    taken = set(PORTS) | {f"n{i}" for i in range(len(graph.nodes))}
    names = {}
    for i, node in enumerate(graph.nodes):
        if node.op is Op.INPUT:
            continue
        name = re.sub(r"\W", "_", node.name) if node.name else None
        if name and (name[0].isdigit() or name in KEYWORDS):
            name = "w_" + name
        if name:
            candidate, suffix = name, 1
            while candidate in taken:
                candidate, suffix = f"{name}_{suffix}", suffix + 1
            name = candidate
            taken.add(name)
        names[i] = name or f"n{i}"
    return names


def render_body(graph: Graph) -> list[str]:
    """Wire declarations and assigns of every node, then ``assign <output> = ...``."""
    names = _wire_names(graph)
    refs: list[Ref] = []
    lines = []
    for i, node in enumerate(graph.nodes):
        args = [refs[a] for a in node.args]
        if node.op is Op.INPUT:
            refs.append(Ref(node.name, node.width, node.width))
            continue
        if not node.name and (node.op in INLINE or _is_identity(node, args)):
            refs.append(INLINE[node.op](node, *args) if node.op in INLINE else args[0])
            continue
        if node.op is Op.TABLE:
            lines += _case_rom(names[i], node, args[0])
            refs.append(Ref(names[i], node.width, node.width))
            continue
        rule = RENDER.get(node.op)
        if rule is None:
            raise VerilogError(f"node %{i}: the Verilog backend has no rule for op {node.op!r}")
        name = names[i]
        vector = f"[{node.width - 1}:0] " if node.width > 1 else ""
        lines.append(f"  wire {vector}{name};")
        lines.append(f"  assign {name} = {rule(node, *args)};")
        refs.append(Ref(name, node.width, node.width))
    for port, index in sorted(graph.outputs.items()):
        lines.append(f"  assign {port} = {refs[index]};")
    return lines


def convert(graph: Graph, name: str) -> str:
    """``module name (a, b, y)`` in Verilog-2005: the graph's ports (signed where the node is), then
    one continuous assignment per node. A pure function of the graph; headers come from
    :mod:`opmodels.artifacts`."""
    ports = [*sorted(graph.inputs), *sorted(graph.outputs)]
    lines = [f"module {name} ({', '.join(ports)});"]
    for port in ports:
        direction = "input" if port in graph.inputs else "output"
        node = graph.nodes[graph.inputs.get(port, graph.outputs.get(port))]
        sign = "signed " if node.signed else ""
        lines.append(f"  {direction} {sign}[{node.width - 1}:0] {port};")
    lines += render_body(graph)
    lines.append("endmodule")
    return "\n".join(lines) + "\n"
