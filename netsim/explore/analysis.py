"""Pareto fronts, the lossless optimum, and the statistical noise of a test-set accuracy.

Pure Python (no torch), so the analysis can be redone from a sweep's JSON alone.
"""
from __future__ import annotations

import math


def pareto_front(points: list, accuracy: str = "accuracy", cost: str = "cost") -> list:
    """The points no other point dominates (accuracy at least as high and cost at most as low, one of
    them strictly), sorted by cost. Points are dicts; ties (equal accuracy and cost) are all kept."""
    front = []
    for p in points:
        dominated = any(q[accuracy] >= p[accuracy] and q[cost] <= p[cost]
                        and (q[accuracy] > p[accuracy] or q[cost] < p[cost]) for q in points)
        if not dominated:
            front.append(p)
    return sorted(front, key=lambda p: (p[cost], -p[accuracy]))


def lossless_optimum(points: list, baseline: float, tolerance: float = 0.0, accuracy: str = "accuracy",
                     cost: str = "cost"):
    """The cheapest point whose accuracy is at least ``baseline - tolerance`` (None if none is)."""
    ok = [p for p in points if p[accuracy] >= baseline - tolerance - 1e-12]
    return min(ok, key=lambda p: (p[cost], -p[accuracy])) if ok else None


def binomial_se(accuracy: float, samples: int) -> float:
    """Standard error of an accuracy measured on ``samples`` independent test samples."""
    if samples <= 0:
        raise ValueError("samples must be positive")
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / samples)


def pack_hits(hits) -> str:
    """Per-sample correctness (a sequence of bools) as a hex string, for paired tests later."""
    value = 0
    bits = list(hits)
    for index, hit in enumerate(bits):
        if hit:
            value |= 1 << index
    return f"{len(bits)}:{value:x}"


def unpack_hits(text: str) -> list:
    length, _, hexdigits = text.partition(":")
    value = int(hexdigits, 16)
    return [bool(value >> i & 1) for i in range(int(length))]


def mcnemar(baseline_hits: list, other_hits: list) -> dict:
    """Exact (binomial) McNemar test of two classifiers on the same samples.

    ``b``: samples only the baseline gets right, ``c``: only the other. ``p`` is the two-sided
    probability of a split at least this uneven if both were equally accurate.
    """
    if len(baseline_hits) != len(other_hits):
        raise ValueError("the two hit lists cover different samples")
    b = sum(1 for x, y in zip(baseline_hits, other_hits) if x and not y)
    c = sum(1 for x, y in zip(baseline_hits, other_hits) if y and not x)
    n = b + c
    if n == 0:
        return {"only_baseline": 0, "only_other": 0, "p": 1.0}
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return {"only_baseline": b, "only_other": c, "p": min(1.0, 2 * tail)}


def highest_lossless(rows: list, baseline: float, tolerance: float, degree: str, more_is_aggressive: bool,
                     accuracy: str = "accuracy"):
    """The most aggressive degree reached from the mildest one without a loss beyond ``tolerance``.

    Degrees are walked from the mildest (the smallest P or LOA l, the widest bit width) to the most
    aggressive and the walk stops at the first lossy one, so a lucky point past a loss (test-set noise)
    does not count. Returns None when even the mildest degree loses accuracy.
    """
    ordered = sorted(rows, key=lambda r: r[degree], reverse=not more_is_aggressive)
    best = None
    for row in ordered:
        if row[accuracy] < baseline - tolerance - 1e-12:
            break
        best = row[degree]
    return best
