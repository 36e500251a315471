"""Error metrics of an operator against its exact counterpart (spec section 5).

E = approx - exact. ER = P(E != 0); ME = mean E; MED = mean |E|; NMED = MED / (largest |exact|:
2^(2n-2) for an n-bit multiplier, 2^(w-1) for a w-bit adder); MRED = mean(|E| / |exact|) over pairs
with exact != 0; WCE = max |E|. Exhaustive over all pairs up to 2^20 of them, else uniform samples.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import vectors
from .errors import OpmodelsError

EXHAUSTIVE_LIMIT = 1 << 20
DEFAULT_SAMPLES = 1_000_000
MAX_SAMPLES = 1_000_000_000  # memory stays flat, but more would run for hours: a typo, not a wish
MAX_SEED = (1 << 64) - 1
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


CHUNK = 1 << 20  # pairs per step: memory stays flat however many samples are asked for


def _check(samples, seed) -> None:
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int)
                                or not 1 <= samples <= MAX_SAMPLES):
        raise OpmodelsError(f"samples must be an integer in 1..{MAX_SAMPLES:,}, not {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise OpmodelsError(f"seed must be an integer in 0..{MAX_SEED:,}, not {seed!r}")


def operand_chunks(op, samples: int | None, seed: int):
    """(exhaustive, chunks of (a, b) pairs): every pair when there are at most 2^20 of them and no
    sample count is asked for, else ``samples`` (default 1,000,000) seeded uniform pairs."""
    _check(samples, seed)
    if samples is None and (1 << (op.a.width + op.b.width)) <= EXHAUSTIVE_LIMIT:
        return True, [vectors.all_pairs(op)]
    total = DEFAULT_SAMPLES if samples is None else samples
    rng = np.random.default_rng(seed)

    def chunks():
        for start in range(0, total, CHUNK):
            n = min(CHUNK, total - start)
            yield (rng.integers(*op.a.range, n, endpoint=True, dtype=np.int64),
                   rng.integers(*op.b.range, n, endpoint=True, dtype=np.int64))
    return False, chunks()


def largest_exact(op) -> int:
    """The largest |exact result|: what NMED divides by (2^(2n-2) for signed n x n multipliers)."""
    if op.kind == "multiplier":
        return max(abs(x * y) for x in op.a.range for y in op.b.range)
    return -op.y.range[0] if op.y.signed else op.y.range[1]


def compute(op, samples: int | None = None, seed: int = 0) -> Metrics:
    exhaustive, chunks = operand_chunks(op, samples, seed)
    pairs = wrong = nonzero_exact = 0
    error_sum = magnitude_sum = relative_sum = 0.0
    worst = 0
    for a, b in chunks:
        approx, exact = op.evaluate(a, b), op.exact(a, b)
        if op.out_width > 62:  # the difference could overflow int64: take it in Python integers
            approx, exact = approx.astype(object), exact.astype(object)
        error = approx - exact
        magnitude = np.abs(error).astype(np.float64)
        nonzero = exact != 0
        pairs += error.size
        wrong += int(np.count_nonzero(error))
        error_sum += float(error.astype(np.float64).sum())
        magnitude_sum += float(magnitude.sum())
        relative_sum += float((magnitude[nonzero] / np.abs(exact[nonzero]).astype(np.float64)).sum())
        nonzero_exact += int(np.count_nonzero(nonzero))
        worst = max(worst, int(np.abs(error).max()))
    med = magnitude_sum / pairs
    return Metrics(
        ER=wrong / pairs,
        ME=error_sum / pairs,
        MED=med,
        NMED=med / largest_exact(op),
        MRED=relative_sum / nonzero_exact if nonzero_exact else 0.0,
        WCE=worst,
        pairs=pairs,
        exhaustive=exhaustive,
        seed=None if exhaustive else seed,
    )
