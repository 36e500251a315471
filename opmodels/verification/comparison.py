"""What a combinational check runs and how its results are judged: the operand pairs (from
:mod:`opmodels.vectors`, the one pair generator), the reference result of each pair, and the
comparison of the simulator's result words with those references.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import OpmodelsError
from ..vectors import check_pairs, sampled_pairs

RANDOM_VECTORS = 200_000  # operators wider than 8 + 8 bits: this many seeded random pairs, then the corners
MAX_VECTORS = 10_000_000  # a bench holds its vectors in memory and simulates for minutes per million


def check_vectors(op, count: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) pairs of a check, int64. ``count=None``: every pair up to 8 + 8 operand bits, else
    200,000 seeded random pairs plus every pair of corners; ``count=N``: N random pairs plus the
    corners, whatever the width."""
    if count is None:
        return check_pairs(op, RANDOM_VECTORS, seed)
    if not 1 <= count <= MAX_VECTORS:
        raise OpmodelsError(f"the number of random vectors must be in 1..{MAX_VECTORS:,}, not {count}")
    return sampled_pairs(op, count, seed)


def reference(op, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """What the RTL must compute, int64: the LUT for 8-bit multipliers (so the table a user loads is
    what the hardware was checked against), the reference interpreter otherwise."""
    if op.kind == "multiplier" and op.has_lut:
        return op.lut().astype(np.int64)[a & 0xFF, b & 0xFF]
    return op.evaluate(a, b)


def swapped_reference(op, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """What the RTL would give with its operand ports swapped, ``op(b, a)``, when both operands have one
    width and signedness (else None: swapped ports would not have the right widths)."""
    if (op.a.width, op.a.signed) != (op.b.width, op.b.signed):
        return None
    return reference(op, b, a)


def compare(op_id: str, y, a, b, expected, got: list, limit: int = 10, swapped=None) -> dict:
    """Compare result words read from the simulator (``None``: x/z bits) with ``expected``; ``y`` is
    the result port (its width and signedness say how a word reads). ``swapped``: the reference with
    the operands exchanged; the summary then counts the mismatches against it too, so a report can say
    that the ports look swapped."""
    if len(got) != len(expected):
        raise RuntimeError(f"the harness returned {len(got)} results for {len(expected)} vectors")
    unknown = np.array([g is None for g in got], dtype=bool)
    words = np.array([0 if g is None else g for g in got], dtype=np.uint64)
    values = y.read(words)
    bad = np.flatnonzero(unknown | (values != expected))
    examples = [[int(a[i]), int(b[i]), int(expected[i]), None if unknown[i] else int(values[i])]
                for i in bad[:limit]]
    summary = {"operator": op_id, "vectors": int(len(expected)), "mismatches": int(len(bad)),
               "counterexamples": examples}
    if swapped is not None and len(bad):
        summary["swapped_mismatches"] = int(np.count_nonzero(unknown | (values != swapped)))
    return summary


@dataclass
class Result:
    """One module checked: vectors (or MAC products) driven, mismatches with the first counterexamples,
    the bench's time and, when something differed or the build was kept, its log."""

    operator: str
    top: str
    vectors: int = 0
    mismatches: int = 0
    counterexamples: list = field(default_factory=list)
    seconds: float = 0.0
    log: str = ""
    note: str = ""  # what the mismatches suggest, e.g. "ports look swapped: ..."

    @property
    def passed(self) -> bool:
        return self.vectors > 0 and self.mismatches == 0
