"""Batched products (kernels.bmm / 3-D matmul), grouped and depthwise convolutions, and the serial
copies of the kernels, against the numpy references of tests/utils.py (LUT gather or interpreter)."""
from __future__ import annotations

import numpy as np
import pytest

from opmodels import EXACT_PRODUCT, OpmodelsError, kernels
from opmodels.kernels import generate
from tests.utils import conv2d_reference, matmul_reference

RNG = np.random.default_rng(4242)


def operands(shape, width=8):
    return RNG.integers(-(1 << (width - 1)), 1 << (width - 1), shape)


def batched_reference(x, w, *args):
    return np.stack([matmul_reference(x[b], w[b], *args) for b in range(x.shape[0])]).reshape(
        x.shape[0], x.shape[1], w.shape[2])


@pytest.fixture(params=["serial", "parallel", "split"])
def threads(request, monkeypatch):
    """Each test runs the serial copies (the default for small work), the parallel kernels (forced),
    and the batched split tables (forced from 1 row; route() still wants >= 8 rows and 4 outputs)."""
    if request.param != "serial":
        monkeypatch.setattr(generate, "SERIAL_MACS", 0)
    if request.param == "split":
        monkeypatch.setattr(kernels, "BMM_SPLIT_MIN_ROWS", 1)
    return request.param


# B, M, K, N: ones, odd batches, attention's head shape, rows and outputs enough for the split tables
BMM_SHAPES = [(1, 1, 1, 1), (3, 1, 5, 2), (5, 17, 16, 17), (2, 70, 9, 5), (3, 64, 1, 33), (1, 65, 7, 1), (2, 3, 0, 4)]
BMM_CONFIGS = [("M4P8", "exact", 32, 8), ("M6P14", "exact", 16, 8), ("M2P8", "LOA8", 32, 8),
               (EXACT_PRODUCT, "LOA8", 32, 16), ("EXACT", "exact", 20, 8)]


@pytest.mark.parametrize("multiplier,adder,acc_width,width", BMM_CONFIGS)
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_bmm_equals_reference(multiplier, adder, acc_width, width, booth_operand, threads):
    for shape in BMM_SHAPES:
        b, m, k, n = shape
        x, w = operands((b, m, k), width), operands((b, k, n), width)
        got = kernels.matmul(x, w, multiplier, adder, acc_width, booth_operand=booth_operand)
        assert got.dtype == np.int64 and got.shape == (b, m, n)
        np.testing.assert_array_equal(got, batched_reference(x, w, multiplier, adder, acc_width, booth_operand),
                                      err_msg=f"{multiplier} {adder} {shape}")


@pytest.mark.parametrize("booth_operand", ["w", "x"])
@pytest.mark.parametrize("rows", [1, 256])  # the gather loop and the split tables
def test_bmm_every_8_bit_pair(booth_operand, rows, threads):
    # Batch entry b multiplies row values against all 256 weight values: every (x, w) pair of 8 bits.
    values = np.arange(-128, 128)
    if rows == 1:
        x, w = values.reshape(256, 1, 1), np.broadcast_to(values, (256, 1, 256))
    else:
        x, w = values.reshape(1, 256, 1), values.reshape(1, 1, 256)
    for multiplier, adder in (("M4P8", "exact"), ("M1P8", "LOA8")):
        # one [256, 1] @ [1, 256] reference: row i, column j is the pair (values[i], values[j])
        expected = matmul_reference(values[:, None], values[None, :], multiplier, adder, 32, booth_operand)
        np.testing.assert_array_equal(kernels.bmm(x, w, multiplier, adder, booth_operand=booth_operand),
                                      expected.reshape(x.shape[0], x.shape[1], 256))


def test_bmm_shared_right_operand_and_out(threads):
    x, w = operands((4, 9, 6)), operands((6, 5))
    expected = batched_reference(x, np.broadcast_to(w, (4, 6, 5)), "M4P8", "LOA8", 32, "w")
    np.testing.assert_array_equal(kernels.matmul(x, w, "M4P8", "LOA8"), expected)
    for shape, wb in (((4, 9, 5), w), ((4, 9, 5), np.broadcast_to(w, (4, 6, 5))), ((2, 70, 5), None)):
        xs = x if wb is not None else operands((2, 70, 6))
        wb = wb if wb is not None else operands((2, 6, 5))
        out = np.empty(shape, np.float32)
        assert kernels.bmm(xs, wb, "M4P8", out=out) is out
        np.testing.assert_array_equal(out, batched_reference(xs, np.broadcast_to(wb, (shape[0], 6, 5)), "M4P8",
                                                             "exact", 32, "w").astype(np.float32))


@pytest.mark.parametrize("call,message", [
    (lambda: kernels.bmm(np.zeros((2, 3, 4), int), np.zeros((3, 4, 5), int)), "B and K must agree"),
    (lambda: kernels.bmm(np.zeros((2, 3, 4), int), np.zeros((2, 5, 5), int)), "B and K must agree"),
    (lambda: kernels.matmul(np.zeros((2, 3, 4), int), np.zeros((3, 5), int)), r"\[B, M, K\] = \(2, 3, 4\)"),
    (lambda: kernels.bmm(np.zeros((3, 4), int), np.zeros((2, 4, 5), int)), "x must have 3 dimensions"),
    (lambda: kernels.bmm(np.zeros((2, 3, 4), int), np.zeros((2, 4, 5, 1), int)), "w must have 3 dimensions"),
    (lambda: kernels.bmm(np.full((2, 3, 4), 300), np.zeros((2, 4, 5), int)), "x value 300 is outside"),
    (lambda: kernels.bmm(np.zeros((2, 3, 4), int), np.zeros((2, 4, 5), int), backend="cuda"), "run on the CPU"),
    (lambda: kernels.bmm(np.zeros((2, 3, 4), int), np.zeros((2, 4, 5), int), out=np.empty((2, 3, 4))),
     "out must be"),
])
def test_bmm_bad_input(call, message):
    with pytest.raises(OpmodelsError, match=message):
        call()


# N, C, H, W, O, kh, kw, stride, padding, dilation, groups: depthwise (groups = C = O), depthwise with
# a channel multiplier, grouped, 1x1 and 1-high (Conv1d) shapes
GROUPED = [(2, 6, 7, 8, 6, 3, 3, 1, 1, 1, 6), (3, 4, 9, 9, 4, 3, 3, 2, 1, 1, 4), (1, 3, 5, 6, 6, 3, 2, 1, (2, 0), 2, 3),
           (2, 8, 6, 6, 12, 3, 3, 1, 0, 1, 4), (1, 4, 1, 11, 8, 1, 5, (1, 2), (0, 2), 1, 2), (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1)]


@pytest.mark.parametrize("multiplier,adder,acc_width", [("M4P8", "exact", 32), ("M2P8", "LOA8", 32),
                                                         (EXACT_PRODUCT, "exact", 24)])
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_grouped_and_depthwise_conv2d_equal_reference(multiplier, adder, acc_width, booth_operand, threads):
    for n, c, h, wd, o, kh, kw, stride, padding, dilation, groups in GROUPED:
        x, w = operands((n, c, h, wd)), operands((o, c // groups, kh, kw))
        pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
        got = kernels.conv2d(x, w, multiplier, adder, acc_width, stride, padding, dilation, groups,
                             booth_operand=booth_operand)
        np.testing.assert_array_equal(got, conv2d_reference(x, w, multiplier, adder, acc_width, pair(stride),
                                                            pair(padding), pair(dilation), groups, booth_operand),
                                      err_msg=f"{(n, c, h, wd, o, kh, kw, stride, padding, dilation, groups)}")


def test_serial_copies_exist_for_every_kernel():
    text = generate.with_serial_copies(generate.CPU_KERNELS + generate.SPLIT_KERNELS)
    parallel = [line.split("(")[0][4:] for line in text.splitlines() if line.startswith("def ")]
    names = set(parallel)
    assert all(name + "_serial" in names for name in names if not name.endswith("_serial"))
    assert text.count("parallel=True") == text.count("parallel=False")


@pytest.mark.parametrize("booth_operand", ["w", pytest.param("x", marks=pytest.mark.slow)])
def test_bmm_behavioural_mode(booth_operand, threads):
    # A 12-bit multiplier (its generated scalar statements in the batched loop) with a 24-bit LOA.
    for b, m, k, n in ((3, 5, 7, 2), (1, 1, 1, 1), (2, 9, 4, 6)):
        x, w = operands((b, m, k), 12), operands((b, k, n), 12)
        np.testing.assert_array_equal(kernels.bmm(x, w, "M5P14W12", "LOA4W24", 24, booth_operand=booth_operand),
                                      batched_reference(x, w, "M5P14W12", "LOA4W24", 24, booth_operand))
