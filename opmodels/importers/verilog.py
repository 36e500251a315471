"""Verilog -> IR: the user's combinational RTL becomes an :class:`~opmodels.Operator`, with its proof.

1. **Synthesis** with Yosys, the flow :mod:`opmodels.cost` runs (``synth -flatten``, ABC mapping to the
   two-input gates and the 2:1 MUX); several files, ``params`` for the top module, a chosen ``top``.
   A module with flip-flops or latches, an undriven output bit or an unknown parameter is refused there.
2. **Lowering** (:func:`lower_netlist`): every gate becomes 1-bit IR nodes (AND, OR, XOR, NOT, MUX;
   NAND = NOT(AND), ...), each operand bit a SLICE of its INPUT, the result one CONCAT of its bits,
   least significant first. The ports are renamed a, b, y; their signedness is the caller's choice
   (the RTL's bits do not say how they are read).
3. **Proof**: the gate simulator of :mod:`opmodels.cost.netlist` checks the lowering against the
   netlist, then :func:`opmodels.verify.verify` simulates the ORIGINAL source files with Icarus on every
   pair up to 8 + 8 operand bits (seeded random pairs plus corners above) and compares every result
   with the imported operator. The record (vectors, mismatches, counterexamples, tool versions, the
   files' sha256) goes into the operator's provenance.

Every backend then applies to the operator: the interpreter, LUTs, the Numba kernels, Verilog, cost.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import vectors as pairs
from .. import verify as verification
from ..bits import to_patterns
from ..cost import CONST0, CONST1, DEFAULT_FLOW, Netlist, check_flow, elaborate, synthesize
from ..errors import OpmodelsError
from ..ir import Graph, Node, Op
from ..operator import KINDS, Operator, check_id
from .common import Imported, icarus_version, now, package_version, read_sources

MAX_OPERAND_WIDTH = 32  # the kernels compute in int32; the IR holds up to 64 bits
MAX_RESULT_WIDTH = 64
PORTS = ("a", "b", "y")
# The proof of an operator wider than 8 + 8 bits: this many seeded random pairs plus every pair of
# corners (the Icarus bench of a 16-bit netlist runs a few thousand pairs a second).
PROOF_RANDOM_VECTORS = 50_000
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def _not(add, x):
    return add(Op.NOT, x)


# Each gate of the library (opmodels.cost.netlist.CELL_FUNCTIONS, inputs in its port order) as 1-bit IR
# nodes. `add(op, *args)` makes (or reuses) one node.
LOWERING = {
    "BUF": lambda add, a: a,
    "NOT": lambda add, a: add(Op.NOT, a),
    "AND": lambda add, a, b: add(Op.AND, a, b),
    "OR": lambda add, a, b: add(Op.OR, a, b),
    "XOR": lambda add, a, b: add(Op.XOR, a, b),
    "NAND": lambda add, a, b: _not(add, add(Op.AND, a, b)),
    "NOR": lambda add, a, b: _not(add, add(Op.OR, a, b)),
    "XNOR": lambda add, a, b: _not(add, add(Op.XOR, a, b)),
    "ANDNOT": lambda add, a, b: add(Op.AND, a, _not(add, b)),
    "ORNOT": lambda add, a, b: add(Op.OR, a, _not(add, b)),
    "MUX": lambda add, a, b, s: add(Op.MUX, s, b, a),  # Y = S ? B : A
    "NMUX": lambda add, a, b, s: _not(add, add(Op.MUX, s, b, a)),
    "AOI3": lambda add, a, b, c: _not(add, add(Op.OR, add(Op.AND, a, b), c)),
    "OAI3": lambda add, a, b, c: _not(add, add(Op.AND, add(Op.OR, a, b), c)),
    "AOI4": lambda add, a, b, c, d: _not(add, add(Op.OR, add(Op.AND, a, b), add(Op.AND, c, d))),
    "OAI4": lambda add, a, b, c, d: _not(add, add(Op.AND, add(Op.OR, a, b), add(Op.OR, c, d))),
}


def lower_netlist(netlist: Netlist, ports=PORTS, signed=(True, True, True)) -> Graph:
    """The IR of a combinational gate netlist: inputs ``ports[0]``, ``ports[1]`` become a and b,
    output ``ports[2]`` becomes y, with the signedness ``signed`` (a, b, y)."""
    name_a, name_b, name_y = ports
    nodes: list[Node] = []
    known: dict[tuple, int] = {}

    def add(op: Op, *args: int, width: int = 1, is_signed: bool = False, params=(), name=None) -> int:
        node = Node(op, tuple(args), width, is_signed, tuple(params), name)
        key = node.key() if op is not Op.INPUT else (op, name)
        if key not in known:  # a gate Yosys left twice is one node
            known[key] = len(nodes)
            nodes.append(node)
        return known[key]

    node_of: dict[int, int] = {}
    for ir_name, port, is_signed in (("a", name_a, signed[0]), ("b", name_b, signed[1])):
        bits = netlist.inputs[port]
        port_node = add(Op.INPUT, width=len(bits), is_signed=is_signed, name=ir_name)
        for k, net in enumerate(bits):
            node_of.setdefault(net, add(Op.SLICE, port_node, params=(k,)) if len(bits) > 1 else port_node)

    def node(net: int) -> int:
        if net in (CONST0, CONST1):
            return add(Op.CONST, params=(1 if net == CONST1 else 0,))
        if net not in node_of:
            raise OpmodelsError(f"net {net} of the netlist is not driven by an operand bit or a gate; a module "
                                f"with inputs other than {name_a} and {name_b} cannot be imported")
        return node_of[net]

    for gate in netlist.gates:  # in topological order (Netlist.build)
        rule = LOWERING.get(gate.kind)
        if rule is None:
            raise OpmodelsError(f"cell type {gate.kind!r} has no lowering to the IR (known: {sorted(LOWERING)})")
        node_of[gate.output] = rule(add, *(node(n) for n in gate.inputs))
    bits = [node(net) for net in netlist.outputs[name_y]]
    y = add(Op.CONCAT, *bits, width=len(bits), is_signed=signed[2], name="y")
    return Graph(nodes, {"y": y})


def _check_ports(netlist: Netlist, top: str, ports) -> None:
    """The three named ports exist with the right directions and widths, and nothing else is an input."""
    described = ", ".join([*(f"input {p} [{len(b)}]" for p, b in netlist.inputs.items()),
                           *(f"output {p} [{len(b)}]" for p, b in netlist.outputs.items())])
    for role, port, table, direction in (("a", ports[0], netlist.inputs, "input"),
                                         ("b", ports[1], netlist.inputs, "input"),
                                         ("y", ports[2], netlist.outputs, "output")):
        if port not in table:
            what = "the result y" if role == "y" else f"operand {role}"
            raise OpmodelsError(f"module {top} has no {direction} port {port!r} for {what} (its ports: "
                                f"{described}); name them with --port-a/--port-b/--port-y")
        width = len(table[port])
        limit = MAX_RESULT_WIDTH if role == "y" else MAX_OPERAND_WIDTH
        if not 1 <= width <= limit:
            raise OpmodelsError(f"module {top}: port {port} ({role}) is {width} bits; "
                                f"{'a result' if role == 'y' else 'an operand'} has 1..{limit} bits")
    extra = [p for p in netlist.inputs if p not in ports[:2]]
    if extra:
        raise OpmodelsError(f"module {top} has input(s) {', '.join(extra)} besides {ports[0]} and {ports[1]}; an "
                            f"imported operator has two operands (name them with --port-a/--port-b)")


def _check_combinational(design: dict, top: str) -> None:
    """A module with flip-flops or latches is refused, naming the clock or the latched signal."""
    if design["flops"]:
        signal, clock = design["flops"][0]
        raise OpmodelsError(f"module {top} is sequential: {signal} is a flip-flop clocked by {clock}; only "
                            f"combinational modules (no clock, no registers) can be imported (a pipelined "
                            f"multiplier can be checked with opmodels verify --clock {clock} --latency N)")
    if design["latches"]:
        raise OpmodelsError(f"module {top} infers a latch on {design['latches'][0]}: a signal is not assigned on "
                            f"every path of a combinational always block; only combinational logic can be imported")


def check_arguments(top: str, ports, params, op_id, kind: str) -> tuple[str, tuple, dict, str]:
    """The arguments of an import, checked before any tool runs."""
    if not isinstance(top, str) or not _IDENTIFIER.fullmatch(top):
        raise OpmodelsError(f"--top takes the name of a Verilog module, not {top!r}")
    ports = tuple(ports)
    if len(ports) != 3 or not all(isinstance(p, str) and _IDENTIFIER.fullmatch(p) for p in ports):
        raise OpmodelsError(f"ports are three Verilog port names (a, b, y), not {ports!r}")
    if len(set(ports)) != 3:
        raise OpmodelsError(f"--port-a, --port-b and --port-y name three different ports, not {', '.join(ports)}")
    params = dict(params or {})
    for name, value in params.items():
        if not _IDENTIFIER.fullmatch(str(name)) or not isinstance(value, int) or isinstance(value, bool):
            raise OpmodelsError(f"--param takes NAME=INTEGER, not {name}={value!r}")
    if kind not in KINDS:
        raise OpmodelsError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return top, ports, params, check_id(op_id or top)


def import_verilog(sources, top: str, *, ports=PORTS, signed=(True, True, None), params: dict | None = None,
                   op_id: str | None = None, kind: str = "multiplier", vectors: int | None = None, seed: int = 0,
                   flow: str = DEFAULT_FLOW, sim: str = "icarus") -> Imported:
    """Import module ``top`` of the Verilog files ``sources`` as an operator, proved against them.

    ``ports``: the RTL's names of a, b and y. ``signed``: how a, b and y are read (y: None for signed
    when an operand is). ``vectors``: None for every pair up to 8 + 8 bits and
    :data:`PROOF_RANDOM_VECTORS` seeded random pairs plus corners above, N for N random pairs plus
    corners. The returned :class:`Imported` says
    whether the proof passed (``.passed``) and holds its record (``.proof``, also in the provenance).
    """
    top, ports, params, op_id = check_arguments(top, ports, params, op_id, kind)
    check_flow(flow)
    files = read_sources(sources)
    verification.require_simulator(sim)  # before the synthesis: the proof needs it
    signed_a, signed_b, signed_y = signed
    signed_y = (signed_a or signed_b) if signed_y is None else signed_y
    names = ", ".join(str(f.path) for f in files)

    start = time.perf_counter()
    paths = [f.path.resolve() for f in files]
    _check_combinational(elaborate(paths, top, params, name=names), top)
    netlist = synthesize(paths, top, name=names, flow=flow, params=params)
    _check_ports(netlist, top, ports)
    graph = lower_netlist(netlist, ports, (signed_a, signed_b, signed_y))
    synthesised = time.perf_counter() - start
    candidate = Operator(op_id, kind, graph, family="imported")
    if vectors is None and not pairs.exhaustive(candidate):
        vectors = PROOF_RANDOM_VECTORS

    a, b = verification.check_vectors(candidate, vectors, seed)
    lowering_mismatches = _netlist_mismatches(netlist, ports, candidate, a, b)
    if lowering_mismatches:  # the lowering is ours: a difference here is a bug, not the user's RTL
        raise RuntimeError(f"{op_id}: the lowered IR differs from the Yosys netlist at {lowering_mismatches} "
                           f"of {a.size} pairs")
    result = _simulate(candidate, paths, top, ports, params, vectors, seed, sim)
    proof = {
        "method": "Icarus simulation of the original source files (cocotb bench) against the imported operator",
        "passed": result.passed,
        "vectors": result.vectors,
        "pairs": "every pair" if vectors is None else
                 f"{result.vectors - pairs.corner_pairs(candidate)[0].size} seeded random pairs (seed {seed}) "
                 f"plus every pair of corner values",
        "seed": seed,
        "mismatches": result.mismatches,
        "counterexamples": [list(c) for c in result.counterexamples],  # a, b, imported, simulated source
        "netlist_check": {"vectors": int(a.size), "mismatches": 0},
        "simulation_seconds": round(result.seconds, 2),
        **({"log": result.log} if result.log else {}),  # a failed proof keeps its build and log
        "tools": {"synthesis": netlist.tool, "simulator": icarus_version(), "cocotb": package_version("cocotb"),
                  "opmodels": package_version("opmodels")},
        "date": now(),
    }
    provenance = {
        "source": "Verilog",
        "top": top,
        "params": params,
        "ports": dict(zip(PORTS, ports)),
        "files": [f.record() for f in files],
        "synthesis": {"tool": netlist.tool, "flow": flow, "cells": netlist.cell_counts(),
                      "area_nand2": netlist.area(), "depth": netlist.depth(), "seconds": round(synthesised, 2)},
        "proof": proof,
    }
    cells = ", ".join(f"{k} {v}" for k, v in netlist.cell_counts().items())
    structure = (f"Verilog module {top}{_params_text(params)} from {', '.join(f.name for f in files)}, ports "
                 f"a={ports[0]} b={ports[1]} y={ports[2]}\nsynthesised by {netlist.tool} ({flow} flow): {cells}; "
                 f"lowered to {len(graph.nodes)} IR nodes")
    op = Operator(op_id, kind, graph, family="imported", params=params, structure=structure, provenance=provenance)
    return Imported(op, files)


def _simulate(op: Operator, paths, top: str, ports, params: dict, vectors, seed: int, sim: str):
    """The user's module in the verification bench (:func:`opmodels.verify.verify_many`), compared
    with ``op`` on the check's vectors. The ports need no separate check: their widths come from the
    synthesis of the same files. The build is removed after a pass and kept (with its log) otherwise."""
    work = Path(tempfile.mkdtemp(prefix=f"opmodels-import-{op.id}-"))
    dut = verification.Dut(op, top, list(paths), tuple(ports), dict(params))
    try:
        (result,) = verification.verify_many([dut], work, vectors=vectors, seed=seed, sim=sim)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if result.passed:
        shutil.rmtree(work, ignore_errors=True)
        result.log = ""
    return result


def _params_text(params: dict) -> str:
    return f" #({', '.join(f'{k}={v}' for k, v in params.items())})" if params else ""


def _netlist_mismatches(netlist: Netlist, ports, op: Operator, a: np.ndarray, b: np.ndarray) -> int:
    """Pairs where the lowered operator and the netlist's gate simulator differ (0 unless a bug)."""
    got = netlist.evaluate({ports[0]: to_patterns(a, op.a.width), ports[1]: to_patterns(b, op.b.width)})[ports[2]]
    want = to_patterns(op.evaluate(a, b), op.y.width)
    return int(np.count_nonzero(got != want))
