"""Error metrics of an operator against its exact counterpart (spec section 5).

E = approx - exact. ER = P(E != 0); ME = mean E; MED = mean |E|; NMED = MED / (largest |exact|:
2^(2n-2) for an n-bit multiplier, 2^(w-1) for a w-bit adder); MRED = mean(|E| / |exact|) over pairs
with exact != 0; WCE = max |E|. Exhaustive over all pairs up to 2^20 of them, else uniform samples.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import OpmodelsError

EXHAUSTIVE_LIMIT = 1 << 20
DEFAULT_SAMPLES = 1_000_000
NAMES = ("ER", "ME", "MED", "NMED", "MRED", "WCE")


@dataclass(frozen=True)
class Metrics:
    ER: float
    ME: float
    MED: float
    NMED: float
    MRED: float
    WCE: int
    pairs: int
    exhaustive: bool
    seed: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def row(self) -> str:
        return (f"{self.ER:.4f} {self.ME:+.4f} {self.MED:.4f} {self.NMED:.4e} {self.MRED:.4e} {self.WCE}")


def operand_pairs(op, samples: int | None, seed: int):
    """All pairs (as a broadcast grid) when there are few enough and no sample count is asked for."""
    low, high = op.operand_range
    if samples is None and (1 << (2 * op.width)) <= EXHAUSTIVE_LIMIT:
        values = np.arange(low, high + 1, dtype=np.int64)
        return values[:, None], values[None, :], True
    if samples is not None and (not isinstance(samples, int) or samples < 1):
        raise OpmodelsError(f"samples must be a positive integer, not {samples!r}")
    rng = np.random.default_rng(seed)
    n = DEFAULT_SAMPLES if samples is None else samples
    return rng.integers(low, high, n, endpoint=True), rng.integers(low, high, n, endpoint=True), False


def compute(op, samples: int | None = None, seed: int = 0) -> Metrics:
    a, b, exhaustive = operand_pairs(op, samples, seed)
    approx, exact = op.evaluate(a, b), op.exact(a, b)
    if op.out_width > 62:  # the difference could overflow int64: take it in Python integers
        approx, exact = approx.astype(object), exact.astype(object)
    error = (approx - exact).ravel()
    exact = np.broadcast_to(exact, approx.shape).ravel()
    magnitude = np.abs(error).astype(np.float64)
    nonzero = exact != 0
    largest = 2.0 ** (2 * op.width - 2 if op.kind == "multiplier" else op.width - 1)
    med = float(magnitude.mean())
    return Metrics(
        ER=float(np.count_nonzero(error) / error.size),
        ME=float(error.astype(np.float64).mean()),
        MED=med,
        NMED=med / largest,
        MRED=float((magnitude[nonzero] / np.abs(exact[nonzero]).astype(np.float64)).mean()),
        WCE=int(np.abs(error).max()),
        pairs=int(error.size),
        exhaustive=exhaustive,
        seed=None if exhaustive else seed,
    )
