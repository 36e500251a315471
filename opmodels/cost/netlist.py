"""A combinational gate netlist and its simulator: the gate library, evaluation, toggle counting and
a JSON-ready round trip. Nothing here runs Yosys or knows about operators, so a netlist from any
source (Yosys, the cache, a test's hand-written gates) is simulated the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OpmodelsError

# Each cell type: its input ports in order and the function of their boolean arrays (the truth tables
# of Yosys's simple cells $_AND_, $_MUX_ (Y = S ? B : A), $_AOI3_ (Y = ~((A & B) | C)), ...).
CELL_FUNCTIONS = {
    "BUF": (("A",), lambda a: a),
    "NOT": (("A",), lambda a: ~a),
    "AND": (("A", "B"), lambda a, b: a & b),
    "NAND": (("A", "B"), lambda a, b: ~(a & b)),
    "OR": (("A", "B"), lambda a, b: a | b),
    "NOR": (("A", "B"), lambda a, b: ~(a | b)),
    "XOR": (("A", "B"), lambda a, b: a ^ b),
    "XNOR": (("A", "B"), lambda a, b: ~(a ^ b)),
    "ANDNOT": (("A", "B"), lambda a, b: a & ~b),
    "ORNOT": (("A", "B"), lambda a, b: a | ~b),
    "MUX": (("A", "B", "S"), lambda a, b, s: np.where(s, b, a)),
    "NMUX": (("A", "B", "S"), lambda a, b, s: ~np.where(s, b, a)),
    "AOI3": (("A", "B", "C"), lambda a, b, c: ~((a & b) | c)),
    "OAI3": (("A", "B", "C"), lambda a, b, c: ~((a | b) & c)),
    "AOI4": (("A", "B", "C", "D"), lambda a, b, c, d: ~((a & b) | (c & d))),
    "OAI4": (("A", "B", "C", "D"), lambda a, b, c, d: ~((a | b) & (c | d))),
}
# NAND2-equivalent area of each cell type: the X1 cell areas of the NanGate FreePDK45 Open Cell
# Library (INV 0.532 um^2, NAND2/NOR2 0.798, AND2/OR2 1.064, XOR2/XNOR2 1.596, MUX2 1.862) divided by
# NAND2's. The area belongs to the library, so a netlist of any origin has one.
AREA_NAND2 = {
    "NOT": 0.667, "BUF": 1.0, "NAND": 1.0, "NOR": 1.0, "AND": 1.333, "OR": 1.333,
    "XOR": 2.0, "XNOR": 2.0, "MUX": 2.333, "NMUX": 2.333,
    "ANDNOT": 1.333, "ORNOT": 1.333, "AOI3": 1.333, "OAI3": 1.333, "AOI4": 1.667, "OAI4": 1.667,
}
CONST0, CONST1 = -1, -2  # net ids of the constants


class NetlistError(OpmodelsError):
    """A netlist that cannot be simulated: a loop, a net with two drivers or none, an unknown cell."""


@dataclass
class Gate:
    kind: str               # a key of CELL_FUNCTIONS
    inputs: tuple[int, ...]  # net ids
    output: int


@dataclass
class Netlist:
    """A combinational gate netlist in topological order; nets are ints, ports map to lists of nets
    (least significant bit first). Build one with :meth:`build`, which checks and orders the gates."""

    inputs: dict[str, list[int]]
    outputs: dict[str, list[int]]
    gates: list[Gate]
    stat: str = ""  # what the tool that made it printed about it (Yosys's `stat`)
    tool: str = ""  # which tool made it (e.g. "Yosys 0.23")
    top: str = ""   # the module it is the netlist of

    @classmethod
    def build(cls, inputs: dict, outputs: dict, gates: list[Gate], name: str = "netlist") -> "Netlist":
        """A netlist from gates in any order: checked (known cells, one driver per net, no loop, no
        undriven net) and put in topological order."""
        for gate in gates:
            if gate.kind not in CELL_FUNCTIONS:
                raise NetlistError(f"{name}: cell type {gate.kind!r} is not one of {sorted(CELL_FUNCTIONS)}")
            if len(gate.inputs) != len(CELL_FUNCTIONS[gate.kind][0]):
                raise NetlistError(f"{name}: a {gate.kind} cell has {len(CELL_FUNCTIONS[gate.kind][0])} inputs, "
                                   f"not {len(gate.inputs)}")
        input_nets = {b for bits in inputs.values() for b in bits}
        return cls(dict(inputs), dict(outputs), topological_order(gates, input_nets, name))

    def cell_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for gate in self.gates:
            counts[gate.kind] = counts.get(gate.kind, 0) + 1
        return dict(sorted(counts.items()))

    def area(self) -> float:
        """NAND2-equivalent area: the sum of the cells' :data:`AREA_NAND2`."""
        return round(sum(AREA_NAND2[gate.kind] for gate in self.gates), 3)

    def depth(self) -> int:
        """Gates on the longest path from an input to an output."""
        level = {}
        for gate in self.gates:
            level[gate.output] = 1 + max((level.get(n, 0) for n in gate.inputs), default=0)
        return max((level.get(n, 0) for bits in self.outputs.values() for n in bits), default=0)

    def simulate(self, inputs: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
        """Boolean value of every net for each element of the input patterns (non-negative ints)."""
        size = len(next(iter(inputs.values())))
        values = {CONST0: np.zeros(size, bool), CONST1: np.ones(size, bool)}
        for port, bits in self.inputs.items():
            if port not in inputs:
                raise OpmodelsError(f"the netlist has an input {port!r}; give a value for it")
            pattern = np.asarray(inputs[port], dtype=np.uint64)
            for k, bit in enumerate(bits):
                values.setdefault(bit, ((pattern >> np.uint64(k)) & np.uint64(1)).astype(bool))
        for gate in self.gates:
            _, function = CELL_FUNCTIONS[gate.kind]
            values[gate.output] = function(*(values[n] for n in gate.inputs))
        return values

    def evaluate(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Output port patterns (uint64 bit patterns) for the given input patterns."""
        values = self.simulate(inputs)
        result = {}
        for port, bits in self.outputs.items():
            pattern = np.zeros(len(values[CONST0]), dtype=np.uint64)
            for k, bit in enumerate(bits):
                pattern |= values[bit].astype(np.uint64) << np.uint64(k)
            result[port] = pattern
        return result

    def toggles(self, inputs: dict[str, np.ndarray], chunk: int = 1 << 16) -> dict[str, float]:
        """Output toggles of each gate type per operation, over the stream of operations given.

        Zero-delay: a gate toggles between two consecutive operations when its settled output differs.
        Long streams (recorded traces) are simulated ``chunk`` operations at a time, so memory stays flat.
        """
        operations = len(next(iter(inputs.values())))
        if operations < 2:
            raise OpmodelsError(f"an operand stream needs at least 2 operations to toggle, not {operations}")
        per_kind: dict[str, int] = {gate.kind: 0 for gate in self.gates}
        for start in range(0, operations - 1, chunk):
            # chunks overlap by one operation, so every transition is counted exactly once
            values = self.simulate({port: x[start:start + chunk + 1] for port, x in inputs.items()})
            for gate in self.gates:
                value = values[gate.output]
                per_kind[gate.kind] += int(np.count_nonzero(value[1:] != value[:-1]))
        return {kind: count / (operations - 1) for kind, count in sorted(per_kind.items())}

    def to_dict(self) -> dict:
        return {"inputs": self.inputs, "outputs": self.outputs,
                "gates": [[g.kind, list(g.inputs), g.output] for g in self.gates]}

    @classmethod
    def from_dict(cls, data: dict) -> "Netlist":
        """The inverse of :meth:`to_dict` (the gates are already in order: no check, it is the cache's
        hot path and every cached netlist was checked when it was made)."""
        gates = [Gate(kind, tuple(inputs), output) for kind, inputs, output in data["gates"]]
        return cls(data["inputs"], data["outputs"], gates)


def topological_order(gates: list[Gate], inputs: set[int], name: str) -> list[Gate]:
    """``gates`` ordered so that every net is driven before it is read; refuses loops, nets with two
    drivers and nets read but never driven."""
    driver = {}
    for gate in gates:
        if gate.output in driver or gate.output in inputs:
            raise NetlistError(f"{name}: net {gate.output} has more than one driver")
        driver[gate.output] = gate
    ordered, state = [], {}  # state: 1 visiting, 2 done
    for root in gates:
        stack = [(root, False)]
        while stack:
            gate, expanded = stack.pop()
            if state.get(gate.output) == 2:
                continue
            if expanded:
                state[gate.output] = 2
                ordered.append(gate)
                continue
            if state.get(gate.output) == 1:
                raise NetlistError(f"{name}: the netlist has a combinational loop through net {gate.output}")
            state[gate.output] = 1
            stack.append((gate, True))
            for n in gate.inputs:
                if n in driver:
                    if state.get(n) != 2:
                        stack.append((driver[n], False))
                elif n not in inputs and n not in (CONST0, CONST1):
                    raise NetlistError(f"{name}: net {n} is read but never driven")
    return ordered
