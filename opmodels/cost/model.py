"""The cost of an operator, from the Verilog that was generated (and verified) from its IR.

The operator's netlist (:func:`operator_netlist`: synthesised by :mod:`~opmodels.cost.yosys`, or read
from the cache) is

* checked: the gate simulator runs it on the pairs of :func:`opmodels.vectors.check_pairs` (all
  65,536 of an 8-bit operator; corners and seeded random pairs of a wider one) and must equal the
  reference interpreter, so a cost is never the cost of something else;
* measured: cells by type, a NAND2-equivalent area, logic depth in gates, and an energy proxy: output
  toggles of every gate between consecutive operations of an operand stream, weighted by
  :data:`ENERGY_WEIGHT` (zero-delay, no glitches, no wires: relative figures only).

Netlists are cached by IR hash, flow and Yosys version in ``<cache root>/cost`` (:mod:`opmodels.cache`).
Everything here takes :class:`~opmodels.operator.Operator` objects: ids are resolved by the caller.
See docs/cost.md for the flow, the weights and the model's limits.
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import cache, vectors
from ..bits import to_patterns
from ..errors import OpmodelsError
from ..files import write_atomic
from . import yosys
from .netlist import AREA_NAND2, Netlist
from .yosys import DEFAULT_FLOW, FLOW, GATES, MAPPINGS, SynthesisError, check_flow, find_yosys, yosys_version

# Energy of one output toggle of a cell, in NAND2-toggle units. A cell's internal and input
# capacitance grow with its size, so the area is the proxy (an XOR toggle costs two NAND toggles).
# A first-order guess, not characterised data: only ratios between operators are meaningful.
ENERGY_WEIGHT = dict(AREA_NAND2)
# Bump when the flow or the evaluation changes: it is part of the cache key.
FLOW_VERSION = 1

ENERGY_SAMPLES = 65536
MAX_SAMPLES = 10_000_000  # the stream is held in memory (16 bytes a pair)
CHECK_RANDOM_PAIRS = 65536


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
    tool: str = ""               # the Yosys version that made the netlist
    flow: str = DEFAULT_FLOW

    @property
    def n_cells(self) -> int:
        return sum(self.cells.values())

    def as_dict(self) -> dict:
        return asdict(self) | {"n_cells": self.n_cells}


def cache_directory() -> Path:
    return cache.cache_dir("cost", create=False)


def _slug(text: str) -> str:
    return re.sub(r"[^\w.]+", "-", text).strip("-").lower()


def _flow_key(flow: str) -> str:
    text = (f"{FLOW_VERSION}\n{FLOW}\n{MAPPINGS[flow]}\n{GATES}\n{sorted(AREA_NAND2.items())}\n"
            f"{sorted(ENERGY_WEIGHT.items())}")
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _require_operator(op, what: str):
    # Strings are resolved at the edges (the CLI, netsim's config); here an Operator is required. It is
    # recognised by what it has, so this package stays below opmodels.operator (whose cost() calls it).
    if isinstance(op, str) or not all(hasattr(op, name) for name in ("graph", "ir_hash", "a", "b", "y")):
        raise OpmodelsError(f"{what} takes an Operator, not {op!r}; resolve an id with opmodels.get(...)")
    return op


def operator_netlist(op, use_cache: bool = True, flow: str = DEFAULT_FLOW) -> tuple[Netlist, str]:
    """The checked gate netlist of ``op`` and the tool that made it, from the cache when there."""
    _require_operator(op, "operator_netlist()")
    stem = f"{op.ir_hash}-{flow}-{_flow_key(check_flow(flow))}"
    # Yosys versions map a little differently, so the version is part of the key. Without any Yosys,
    # a netlist cached by whichever version made it still serves.
    command = find_yosys()
    if command:
        candidates = [cache_directory() / f"{stem}-{_slug(yosys_version(tuple(command)))}.json"]
    else:
        candidates = sorted(cache_directory().glob(f"{stem}-*.json"))
    for candidate in candidates if use_cache else []:
        try:
            record = json.loads(candidate.read_text())
            return Netlist.from_dict(record["netlist"]), record["tool"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a missing or damaged entry is made again
    from ..artifacts import module_name, verilog_source  # only needed on a cache miss
    netlist = yosys.synthesize(verilog_source(op), module_name(op), name=op.id, flow=flow)
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


def check_netlist(netlist: Netlist, op, seed: int = 0) -> None:
    """Raise unless the netlist equals the reference interpreter on :func:`opmodels.vectors.check_pairs`
    (every pair of an 8-bit operator; corners plus seeded random pairs of a wider one)."""
    for port in (op.a, op.b):
        if len(netlist.inputs.get(port.name, ())) != port.width:
            raise SynthesisError(f"{op.id}: the netlist's input {port.name} is not {port.width} bits")
    if len(netlist.outputs.get("y", ())) != op.y.width:
        raise SynthesisError(f"{op.id}: the netlist's output y is not {op.y.width} bits")
    a, b = vectors.check_pairs(op, CHECK_RANDOM_PAIRS, seed)
    got = netlist.evaluate({"a": to_patterns(a, op.a.width), "b": to_patterns(b, op.b.width)})["y"]
    want = to_patterns(op.evaluate(a, b), op.y.width)
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = bad[0]
        raise SynthesisError(f"{op.id}: the synthesised netlist differs from the reference at "
                             f"{bad.size} of {a.size} pairs, first a={a[i]} b={b[i]} "
                             f"(netlist {int(got[i])}, reference {int(want[i])} as bit patterns)")


def uniform_stream(op, samples: int = ENERGY_SAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The default operand stream of the energy figures: seeded uniform pairs."""
    return vectors.random_pairs(op, samples, seed)


def load_trace(path) -> tuple[np.ndarray, np.ndarray]:
    """Operand pairs from ``.npz`` (arrays ``a`` and ``b``) or ``.npy`` (shape (N, 2): a, b), checked
    here, before any synthesis, so a bad trace costs nothing and its message names the file."""
    unreadable = f"cannot read the operand trace {str(path)!r}: not a .npy or .npz file of integer arrays"
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            if data.ndim != 2 or data.shape[1] != 2:
                raise OpmodelsError(f"{path}: a .npy trace has shape (N, 2), not {data.shape}")
            a, b = data[:, 0], data[:, 1]
        else:
            with data:
                if not {"a", "b"} <= set(data.files):
                    raise OpmodelsError(f"{path}: a .npz trace holds arrays 'a' and 'b', not {sorted(data.files)}")
                a, b = data["a"].ravel(), data["b"].ravel()
    except OSError as error:
        raise OpmodelsError(f"cannot read the operand trace {str(path)!r}: {error.strerror or error}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as error:  # garbage, truncated, objects (never unpickled)
        if isinstance(error, OpmodelsError):
            raise
        raise OpmodelsError(unreadable) from None
    for name, x in (("a", a), ("b", b)):
        if x.dtype.kind not in "iu":
            raise OpmodelsError(f"{path}: operand {name} must be integers, not {x.dtype}")
    if a.shape != b.shape or len(a) < 2:
        raise OpmodelsError(f"{path}: a trace needs at least 2 pairs (a and b of one length), not {len(a)} a and "
                            f"{len(b)} b")
    return a, b


def energy(netlist: Netlist, op, a, b) -> tuple[float, float]:
    """(toggles, weighted energy) per operation of the netlist on the operand stream ``a``, ``b``."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise OpmodelsError(f"{op.id}: operand streams must be two 1-D arrays of the same length, "
                            f"not shapes {a.shape} and {b.shape}")
    op.check_operands(a, b)
    per_kind = netlist.toggles({"a": to_patterns(a, op.a.width), "b": to_patterns(b, op.b.width)})
    return (round(sum(per_kind.values()), 4),
            round(sum(ENERGY_WEIGHT[kind] * t for kind, t in per_kind.items()), 4))


def cost(op, operands=None, samples: int = ENERGY_SAMPLES, seed: int = 0, use_cache: bool = True,
         flow: str = DEFAULT_FLOW) -> Cost:
    """Synthesise (or read from the cache), check and measure the :class:`~opmodels.Operator` ``op``.

    ``operands``: a pair of 1-D integer arrays, the operand stream for the energy figures (e.g. a
    trace that netsim recorded); by default ``samples`` uniform random pairs drawn with ``seed``.
    """
    _require_operator(op, "cost()")
    if not 2 <= samples <= MAX_SAMPLES:
        raise OpmodelsError(f"samples must be at least 2 (toggles are counted between operations) and at most "
                            f"{MAX_SAMPLES:,}, not {samples}")
    if seed < 0:
        raise OpmodelsError(f"seed must be a non-negative integer, not {seed}")
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


def _with_ports(netlist: Netlist, ports, name: str) -> Netlist:
    """The netlist with its ports ``ports`` (a, b, y of the user's design) named a, b and y."""
    pa, pb, py = ports
    for port, kind, found in ((pa, "input", netlist.inputs), (pb, "input", netlist.inputs), (py, "output", netlist.outputs)):
        if port not in found:
            listing = ", ".join([*(f"input {p}" for p in netlist.inputs), *(f"output {p}" for p in netlist.outputs)])
            raise OpmodelsError(f"{name}: the design has no {kind} port {port!r} (ports: {listing}); "
                                "rename with --port-a/--port-b/--port-y")
    others = [p for p in netlist.inputs if p not in (pa, pb)]
    if others:
        raise OpmodelsError(f"{name}: the design has inputs besides {pa} and {pb} ({', '.join(others)}); "
                            "a cost is that of a combinational operator of two operands")
    return Netlist({"a": netlist.inputs[pa], "b": netlist.inputs[pb]}, {"y": netlist.outputs[py]}, netlist.gates,
                   netlist.stat, netlist.tool)


def design_cost(verilog, top: str | None = None, params: dict | None = None, op=None, ports=("a", "b", "y"),
                operands=None, samples: int = ENERGY_SAMPLES, seed: int = 0, flow: str = DEFAULT_FLOW,
                name: str | None = None) -> Cost:
    """Cost of a Verilog design of your own (``verilog``: text, or paths of files), synthesised by the
    flow of the catalog's operators, with ``params`` set on module ``top``.

    With an :class:`~opmodels.Operator` ``op``, the design's ports ``ports`` (a, b, y) are checked to
    compute ``op`` on :func:`opmodels.vectors.check_pairs` (as every catalog netlist is) and the
    energy figures come from ``op``'s operand stream, the one its own cost uses, so the figures compare.
    Without one, nothing is checked and the stream drives every input with seeded uniform bit patterns
    (``operands`` (a, b) go to ports a and b, other inputs held at 0)."""
    if not 2 <= samples <= MAX_SAMPLES:
        raise OpmodelsError(f"samples must be at least 2 (toggles are counted between operations) and at most "
                            f"{MAX_SAMPLES:,}, not {samples}")
    name = name or (verilog if isinstance(verilog, str) and "\n" not in verilog else
                    ", ".join(map(str, [verilog] if isinstance(verilog, (str, Path)) else verilog)))
    if isinstance(verilog, Path):
        verilog = [verilog]
    netlist = yosys.synthesize(verilog, top, name=name, flow=flow, params=params)
    design_id = top or netlist.top
    if op is not None:
        _require_operator(op, "design_cost()")
        named = _with_ports(netlist, ports, name)
        try:
            check_netlist(named, op, seed)
        except SynthesisError as error:
            raise SynthesisError(f"{name}: module {design_id} does not compute {op.id}: "
                                 f"{str(error).removeprefix(op.id + ': ')}") from None
        if operands is None:
            a, b = uniform_stream(op, samples, seed)
            stream = f"uniform random, {samples} pairs, seed {seed}"
        else:
            a, b = operands
            stream = f"given, {np.asarray(a).size} pairs"
        toggles, weighted = energy(named, op, a, b)
    else:
        widths = {port: len(bits) for port, bits in netlist.inputs.items()}
        if any(w > 63 for w in widths.values()):
            raise OpmodelsError(f"{name}: inputs wider than 63 bits cannot be simulated")
        if operands is None:
            rng = np.random.default_rng(seed)
            patterns = {port: rng.integers(0, 1 << w, samples, dtype=np.uint64) for port, w in widths.items()}
            stream = f"uniform random bit patterns on every input, {samples} operations, seed {seed}"
        else:
            a, b = (np.asarray(x) for x in operands)
            pa, pb, _ = ports
            for port, x in ((pa, a), (pb, b)):
                if port not in widths:
                    raise OpmodelsError(f"{name}: the design has no input {port!r} for the trace (inputs: "
                                        f"{', '.join(widths)}); rename with --port-a/--port-b")
                low, high = -(1 << (widths[port] - 1)), (1 << widths[port]) - 1
                if x.size and (x.min() < low or x.max() > high):
                    raise OpmodelsError(f"{name}: trace values for {port} must fit its {widths[port]} bits "
                                        f"({low}..{high}), not {x.min()}..{x.max()}")
            patterns = {port: np.zeros(len(a), dtype=np.uint64) for port in widths}
            patterns[pa], patterns[pb] = to_patterns(a, widths[pa]), to_patterns(b, widths[pb])
            stream = f"given, {a.size} pairs"
        per_kind = netlist.toggles(patterns)
        toggles = round(sum(per_kind.values()), 4)
        weighted = round(sum(ENERGY_WEIGHT[kind] * t for kind, t in per_kind.items()), 4)
    return Cost(design_id, "", netlist.cell_counts(), netlist.area(), netlist.depth(), toggles, weighted, stream,
                netlist.tool, flow)


def baseline_id(op) -> str:
    """The catalog id of the exact operator of the same kind and width: what relative figures are
    relative to (the caller resolves it)."""
    if op.a.width != op.b.width:
        raise OpmodelsError(f"{op.id}: no exact baseline in the catalog for operands of {op.a.width} and "
                            f"{op.b.width} bits")
    if op.kind == "multiplier":
        return "EXACT" if op.width == 8 else f"EXACTW{op.width}"
    return "LOA0" if op.width == 32 else f"LOA0W{op.width}"
