"""Helpers shared by the test tree: operand grids, independent reference models, CLI runs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def all_pairs(width: int) -> tuple[np.ndarray, np.ndarray]:
    """Every signed (a, b) pair of ``width`` bits, as a broadcastable column and row."""
    values = np.arange(-(1 << (width - 1)), 1 << (width - 1), dtype=np.int64)
    return values[:, None], values[None, :]


def random_pairs(width: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded uniform pairs plus the corner values (0, +-1, the extremes) crossed with each other."""
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    rng = np.random.default_rng(seed)
    corners = np.array([0, 1, -1, 2, -2, low, high, low + 1, high - 1], dtype=np.int64)
    ca, cb = np.meshgrid(corners, corners)
    a = np.concatenate([ca.ravel(), rng.integers(low, high, count, endpoint=True)])
    b = np.concatenate([cb.ravel(), rng.integers(low, high, count, endpoint=True)])
    return a, b


def bit(x: int, k: int) -> int:
    return (x >> k) & 1


def booth_from_spec(a: int, b: int, n: int, cell: str, p: int, neg: str) -> int:
    """Spec sections 2-3 written out bit by bit in plain Python, independent of the DSL and the IR."""
    def a_bit(i):  # a_{-1} = 0, a_k = a_{n-1} for k >= n
        return 0 if i < 0 else bit(a, min(i, n - 1))

    def b_bit(i):
        return 0 if i < 0 else bit(b, i)

    total = 0
    for j in range(n // 2):
        b2, b1, b0 = b_bit(2 * j + 1), b_bit(2 * j), b_bit(2 * j - 1)
        one = b1 ^ b0
        two = (1 - one) & (b2 ^ b1)
        row = 0
        for i in range(n + 1):
            exact = (one & (b2 ^ a_bit(i))) | (two & (b2 ^ a_bit(i - 1)))
            if 2 * j + i < p and i < n:
                value = {"ABE1": (b1 ^ b0) & (b2 ^ a_bit(i)), "ABE2": b2 ^ a_bit(i),
                         "PPG2S": ((b2 ^ b1) | (b1 ^ b0)) & (b2 ^ a_bit(i)), "TRUNC": 0}[cell]
            else:
                value = exact
            row += value << i if i < n else -(value << n)
        neg_exact = b2 & (1 - (b1 & b0))
        if neg == "cell" and 2 * j < p:
            neg_j = {"ABE1": b2 & (b1 ^ b0), "ABE2": b2, "PPG2S": neg_exact, "TRUNC": 0}[cell]
        else:
            neg_j = neg_exact
        total += (row + neg_j) * 4 ** j
    total %= 1 << (2 * n)
    return total - (1 << (2 * n)) if total >= 1 << (2 * n - 1) else total


def run_cli(*args: str, cwd=None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m opmodels`` in a fresh process (so import-time effects are real)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "opmodels", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
