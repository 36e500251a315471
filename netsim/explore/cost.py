"""The cost axis of an exploration: hardware cost of each multiplier and adder.

``op.cost()`` (Yosys area in NAND2 equivalents and a switching-energy proxy, from the "Hardware cost"
work) is used when the operator has it. Without it, a clearly labelled stand-in is computed from the
operator's IR: the bit-level gate count weighted by rough NAND2 equivalents. It ranks the catalog's
multipliers sensibly (bigger approximate regions use simpler cells) but it is not synthesis.
"""
from __future__ import annotations

from functools import lru_cache

import opmodels

# rough NAND2 equivalents per result bit of each IR op; wiring ops cost nothing
_GATE_WEIGHTS = {"not": 0.5, "and": 1.25, "or": 1.25, "xor": 2.5, "mux": 2.25, "add": 7.0, "sub": 7.5}
_AREA_KEYS = ("area_nand2", "nand2", "area_ge", "area")
_ENERGY_KEYS = ("energy_per_op", "energy", "energy_proxy", "toggle_energy", "switching_energy")


@lru_cache(maxsize=None)
def operator_cost(op_id: str) -> dict:
    """{"area": ..., "energy": ..., "source": ...} for a catalog id; "exact" is the exact Booth multiplier."""
    op = opmodels.get("EXACT" if op_id.lower() == "exact" else op_id)
    if hasattr(op, "cost"):
        try:
            found = op.cost()
        except opmodels.OpmodelsError:  # no Yosys here, or synthesis failed: the labelled stand-in
            found = None
        area = _field(found, _AREA_KEYS)
        if area is not None:
            energy = _field(found, _ENERGY_KEYS)
            return {"area": float(area), "energy": float(energy) if energy is not None else None,
                    "source": "op.cost() (Yosys)"}
    return {"area": ir_gate_proxy(op), "energy": None, "source": "IR gate-count proxy"}


def ir_gate_proxy(op) -> float:
    total = 0.0
    for node in op.graph.nodes:
        total += _GATE_WEIGHTS.get(node.op.value, 0.0) * node.width
    return total


def relative_area(op_id: str) -> float:
    """Area relative to the exact multiplier of the same family (EXACT = 1)."""
    return operator_cost(op_id)["area"] / operator_cost("EXACT")["area"]


def cost_source() -> str:
    return operator_cost("EXACT")["source"]


def _field(found, keys):
    for key in keys:
        if isinstance(found, dict) and key in found:
            return found[key]
        if hasattr(found, key):
            return getattr(found, key)
    return None
