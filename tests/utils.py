"""Helpers shared by the test tree: operand grids, independent reference models, CLI runs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import opmodels

ROOT = Path(__file__).resolve().parents[1]

# cocotb's get_runner("icarus") exits the process when the tool is missing: skip before, with a reason.
requires_icarus = pytest.mark.skipif(shutil.which("iverilog") is None or shutil.which("vvp") is None,
                                     reason="Icarus Verilog (iverilog, vvp) is not installed")


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


def booth_from_spec(a, b, n: int, cell: str, p: int, neg: str):
    """Spec sections 2-3 written out bit by bit, independent of the DSL and the IR.

    Works on Python ints and, elementwise, on int64 numpy arrays (widths up to 16)."""
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
    total = total % (1 << (2 * n))
    return total - (1 << (2 * n)) * (total >= 1 << (2 * n - 1))


def run_cli(*args: str, cwd=None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m opmodels`` in a fresh process (so import-time effects are real)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "opmodels", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


# ---- plain numpy references of the kernels (from the kernels branch)
def wrap(values, width: int) -> np.ndarray:
    """Integers modulo 2^width, read as signed width-bit values."""
    values = np.asarray(values, dtype=np.int64)
    if width == 64:
        return values
    low = values & np.int64((1 << width) - 1)
    return np.where(low >= (1 << (width - 1)), low - (1 << width), low).astype(np.int64)


def products(multiplier, a, b) -> np.ndarray:
    """P(a, b) elementwise (broadcast): the interpreter, the LUT gather for 8 x 8 operators, or a*b."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if multiplier is opmodels.EXACT_PRODUCT:
        return a * b
    op = opmodels.get(multiplier)
    if op.a.width == op.b.width == 8:
        return op.lut()[a & 0xFF, b & 0xFF].astype(np.int64)
    return op.evaluate(a, b)


def loa_from_spec(x, y, width: int, l: int) -> np.ndarray:
    """Spec section 7 written out, independent of the DSL and the IR: the low ``l`` bits are x | y,
    the upper part an exact sum with carry-in x[l-1] & y[l-1]; int64 arrays of signed ``width``-bit
    values (width <= 63) in, signed out."""
    mask = (1 << width) - 1
    xp, yp = np.asarray(x, np.int64) & mask, np.asarray(y, np.int64) & mask
    if l == 0:
        return wrap(xp + yp, width)
    low = (xp | yp) & ((1 << l) - 1)
    carry = (xp >> (l - 1)) & (yp >> (l - 1)) & 1
    upper = ((xp >> l) + (yp >> l) + carry) & ((1 << (width - l)) - 1)
    return wrap((upper << l) | low, width)


def mac_from_spec(P: np.ndarray, width: int, l: int) -> np.ndarray:
    """Spec section 8 over the last axis of P with the LOA of :func:`loa_from_spec` (no IR involved)."""
    acc = np.zeros(P.shape[:-1], np.int64)
    for k in range(P.shape[-1]):
        acc = loa_from_spec(acc, wrap(P[..., k], width), width, l)
    return acc


def mac(P: np.ndarray, adder="exact", acc_width: int = 32) -> np.ndarray:
    """Spec section 8 over the last axis of P: int64 sum mod 2^w, or a sequential LOA loop built from
    the adder's Operator.evaluate."""
    if adder == "exact":
        return wrap(P.sum(axis=-1), acc_width)
    op = opmodels.get(adder)
    acc = np.zeros(P.shape[:-1], np.int64)
    for k in range(P.shape[-1]):
        acc = op.evaluate(acc, wrap(P[..., k], acc_width))
    return acc


def matmul_reference(x, w, multiplier="M4P8", adder="exact", acc_width=32, booth_operand="w"):
    x, w = np.asarray(x), np.asarray(w)
    a, b = x[:, :, None], w[None, :, :]
    P = products(multiplier, a, b) if booth_operand == "w" else products(multiplier, b, a)
    return mac(np.moveaxis(P, 1, -1), adder, acc_width)


def unfold(x, kh, kw, stride=(1, 1), padding=(0, 0), dilation=(1, 1)) -> np.ndarray:
    """[N, C, H, W] -> [N, Ho, Wo, C*kh*kw] patches in torch.nn.functional.unfold's column order,
    padded with operand value 0."""
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), np.int64)
    xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cols = np.empty((n, ho, wo, c, kh, kw), np.int64)
    for i in range(kh):
        for j in range(kw):
            rows = xp[:, :, i * dilation[0]:, j * dilation[1]:]
            cols[..., i, j] = rows[:, :, :ho * stride[0]:stride[0], :wo * stride[1]:stride[1]].transpose(0, 2, 3, 1)
    return cols.reshape(n, ho, wo, c * kh * kw)


def conv2d_reference(x, w, multiplier="M4P8", adder="exact", acc_width=32, stride=(1, 1), padding=(0, 0),
                     dilation=(1, 1), groups=1, booth_operand="w"):
    x, w = np.asarray(x, dtype=np.int64), np.asarray(w, dtype=np.int64)
    o, cg, kh, kw = w.shape
    og = o // groups
    outs = []
    for g in range(groups):
        cols = unfold(x[:, g * cg:(g + 1) * cg], kh, kw, stride, padding, dilation)  # [N, Ho, Wo, K]
        wg = w[g * og:(g + 1) * og].reshape(og, -1)                                   # [Og, K]
        a, b = cols[:, None], wg[None, :, None, None, :]
        P = products(multiplier, a, b) if booth_operand == "w" else products(multiplier, b, a)
        outs.append(mac(P, adder, acc_width))                                          # [N, Og, Ho, Wo]
    return np.concatenate(outs, axis=1)
