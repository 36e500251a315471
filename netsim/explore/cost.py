"""The cost axis of an exploration: each operator's area (and energy) relative to the exact one.

One source of figures per run, never two in one ratio:

* ``"yosys"`` when Yosys is installed: :class:`opmodels.cost.Cost` of every operator (NAND2-equivalent
  area, switching-energy proxy; docs/cost.md), relative to the exact operator of its kind and width
  (:func:`opmodels.cost.baseline_id`). A synthesis failure is an error, not a reason to switch source.
* ``"ir-proxy"`` when it is not: the IR gate count of every operator, the baseline's included (area
  only; energy is None). It ranks the catalog sensibly but is not synthesis.

A run picks its source once (:func:`cost_source`), passes it to every call, and records it in its outputs.
"""
from __future__ import annotations

from functools import lru_cache

import opmodels
import opmodels.cost

from ..errors import NetsimError

YOSYS, IR_PROXY = "yosys", "ir-proxy"
SOURCES = {YOSYS: "Yosys synthesis", IR_PROXY: "IR gate-count proxy (no Yosys)"}  # names for readers
# rough NAND2 equivalents per result bit of each IR op; wiring ops cost nothing
_GATE_WEIGHTS = {"not": 0.5, "and": 1.25, "or": 1.25, "xor": 2.5, "mux": 2.25, "add": 7.0, "sub": 7.5}


def cost_source() -> str:
    """The source of this run's figures: ``"yosys"`` when Yosys is installed, else ``"ir-proxy"``."""
    return YOSYS if opmodels.cost.find_yosys() else IR_PROXY


def describe(source) -> str:
    """A reader's name for a recorded source (older outputs did not record one)."""
    return SOURCES.get(source, "not recorded" if source is None else str(source))


def operator(op_id: str) -> opmodels.Operator:
    """The catalog operator of a netsim multiplier or adder name; netsim's 8-bit ``"exact"`` product is
    built as the catalog's exact Booth multiplier ``EXACT``."""
    return opmodels.get("EXACT" if op_id.lower() == "exact" else op_id)


def ir_gate_proxy(op) -> float:
    """Sum over the IR nodes of their result width times a rough NAND2 weight of their op."""
    return sum(_GATE_WEIGHTS.get(node.op.value, 0.0) * node.width for node in op.graph.nodes)


@lru_cache(maxsize=None)
def _figures(op, source: str) -> tuple[float, float | None]:
    if source == YOSYS:
        found = op.cost()
        return found.area_nand2, found.energy_per_op
    if source == IR_PROXY:
        return ir_gate_proxy(op), None
    raise NetsimError(f"cost source must be one of {', '.join(SOURCES)}, not {source!r}")


def relative_cost(op_id: str, source: str) -> dict:
    """``{"area", "relative_area", "energy", "relative_energy"}`` of an operator, the figures and its
    exact baseline's all from ``source`` (energy None where the source has none)."""
    op = operator(op_id)
    area, energy = _figures(op, source)
    base_area, base_energy = _figures(opmodels.get(opmodels.cost.baseline_id(op)), source)
    return {"area": area, "relative_area": area / base_area, "energy": energy,
            "relative_energy": energy / base_energy if energy is not None and base_energy else None}


def relative_area(op_id: str, source: str) -> float:
    return relative_cost(op_id, source)["relative_area"]
