"""Operand pairs, generated in one place for every check: the metrics, the netlist check, the RTL
co-verification and the tests. Operators with at most 8 + 8 operand bits get every pair; wider ones
seeded uniform random pairs plus every pair of corner values.
"""
from __future__ import annotations

import numpy as np

from .bits import to_signed

EXHAUSTIVE_BITS = 16  # a.width + b.width up to this: every pair (65,536 for 8 x 8)


def values(port) -> np.ndarray:
    """Every value of a port, ascending, int64."""
    low, high = port.range
    return np.arange(low, high + 1, dtype=np.int64)


def corners(port) -> np.ndarray:
    """Extremes, small values, single bits and alternating patterns of a port's range, int64."""
    width, (low, high) = port.width, port.range
    found = {low, low + 1, high - 1, high, 0, 1, 2} | {1 << k for k in range(width - 1 if port.signed else width)}
    if port.signed:
        found |= {-1, -2} | {-(1 << k) for k in range(width)}
    alternating = int("01" * width, 2) & ((1 << width) - 1)
    for pattern in (alternating, alternating ^ ((1 << width) - 1)):
        found.add(int(to_signed([pattern], width)[0]) if port.signed else pattern)
    return np.array(sorted(v for v in found if low <= v <= high), dtype=np.int64)


def exhaustive(op) -> bool:
    return op.a.width + op.b.width <= EXHAUSTIVE_BITS


def all_pairs(op) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) pair, a-major, as two flat int64 arrays."""
    a, b = np.meshgrid(values(op.a), values(op.b), indexing="ij")
    return a.ravel(), b.ravel()


def random_pairs(op, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` seeded uniform pairs, int64."""
    rng = np.random.default_rng(seed)
    return (rng.integers(*op.a.range, count, endpoint=True, dtype=np.int64),
            rng.integers(*op.b.range, count, endpoint=True, dtype=np.int64))


def corner_pairs(op) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(corners(op.a), corners(op.b), indexing="ij")
    return a.ravel(), b.ravel()


def sampled_pairs(op, random_count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random pairs, then every pair of corners."""
    (ra, rb), (ca, cb) = random_pairs(op, random_count, seed), corner_pairs(op)
    return np.concatenate([ra, ca]), np.concatenate([rb, cb])


def check_pairs(op, random_count: int = 200_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The pairs a check runs: all of them for operators up to 8 + 8 bits, else :func:`sampled_pairs`."""
    return all_pairs(op) if exhaustive(op) else sampled_pairs(op, random_count, seed)
