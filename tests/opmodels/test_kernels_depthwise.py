"""Depthwise and grouped convolutions with few outputs per group: LUT mode's column kernel
(``cpu.column_conv2d``: one table column per output channel and step, four outputs of a row in
registers) equals the numpy LUT reference of ``tests/utils.py`` and the interpreter, for signed,
unsigned and 8 x 4 operators, a table without a split, the exact adder and LOAs."""
from __future__ import annotations

import numpy as np
import pytest

import opmodels
from opmodels import Operator, kernels
from opmodels.kernels import conv_geometry, cpu, planning
from tests.opmodels.test_operands import SHAPES
from tests.opmodels.test_operands import build as build_port_operator
from tests.utils import conv2d_reference

RNG = np.random.default_rng(612)


def _nosplit() -> Operator:
    """An 8-bit multiplier of our own whose table has no additive split: a signed product whose bit 0
    is flipped where a0 AND a5 AND b1 AND b6 (coupling the two nibbles of either operand)."""
    def build(a, b):  # shift and add: -(a << 7) b7 + sum (a << i) bi, then the flipped bit
        wide = a.sext(16)
        acc = -((wide << 7) & b[7].replicate(16).as_signed())
        for i in range(7):
            acc = acc + ((wide << i) & b[i].replicate(16).as_signed())
        return acc ^ (a[0] & a[5] & b[1] & b[6]).zext(16).as_signed()
    return Operator.from_function("NOSPLIT_DW", "multiplier", 8, build)


def _operator(name):
    if name == "nosplit":
        return _nosplit()
    return build_port_operator(name) if name in SHAPES else name


def _values(op, operand: str, booth_operand: str, shape):
    """Random operand values over the whole range of the port the operand feeds, corners included."""
    plan = kernels.plan(op, booth_operand=booth_operand)
    low, high = plan.port_of(operand).range
    values = RNG.integers(low, high, shape, endpoint=True)
    flat = values.reshape(-1)
    flat[:4] = [low, high, 0, min(high, 1)][:flat.size]
    return values


# x shape, w shape, stride, padding, dilation, groups (the spec's k order: channel, kh, kw)
CASES = [
    ((2, 5, 7, 9), (5, 1, 3, 3), 1, 1, 1, 5),           # depthwise, odd sizes (WO = 9: two blocks of 4 and a tail)
    ((1, 4, 11, 10), (4, 1, 3, 3), 2, 1, 1, 4),         # stride 2, batch 1
    ((2, 3, 9, 9), (3, 1, 3, 3), 1, 2, 2, 3),           # dilation 2
    ((1, 1, 6, 13), (1, 1, 3, 3), (2, 1), (0, 1), (1, 2), 1),  # one channel, unequal pairs
    ((3, 4, 5, 4), (8, 1, 3, 2), 1, (1, 0), 1, 4),      # channel multiplier 2 (two outputs per group)
    ((2, 6, 6, 7), (6, 2, 3, 3), 1, 1, 1, 3),           # grouped: 2 channels and 2 outputs per group
    ((1, 3, 4, 3), (3, 1, 5, 5), 1, 2, 1, 3),           # kernel wider than the input
    ((2, 2, 1, 1), (2, 1, 1, 1), 1, 0, 1, 2),           # a single pixel
    ((2, 6, 5, 6), (6, 2, 2, 3), (1, 2), 0, 1, 3),      # no padding: the kernel reads the input itself
]


def _pair(v):
    return (v, v) if isinstance(v, int) else v


def _check(op, adder, acc_width, booth_operand, case, out=None):
    xs, ws, stride, padding, dilation, groups = case
    x, w = _values(op, "x", booth_operand, xs), _values(op, "w", booth_operand, ws)
    geometry = conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    plan = kernels.plan(op, adder, acc_width, booth_operand=booth_operand)
    rows = x.shape[0] * geometry.ho * geometry.wo
    assert plan.mode == "lut" and planning.route(plan, rows, w.shape[0] // groups, x, w)[0] == "loop"
    expected = conv2d_reference(x, w, op, adder, acc_width, _pair(stride), _pair(padding), _pair(dilation), groups,
                                booth_operand)
    # int64 operands, and the narrow dtype netsim's quantizer gives (int8 read as patterns in place)
    narrow = np.int8 if -128 <= x.min() and x.max() < 128 else np.int16
    for xd in (x, x.astype(narrow)):
        got = kernels.conv2d(xd, w, op, adder, acc_width, stride, padding, dilation, groups,
                             booth_operand=booth_operand, out=out)
        np.testing.assert_array_equal(got, expected, err_msg=f"{op} {adder} {case} {xd.dtype}")


@pytest.mark.parametrize("multiplier", ["M4P8", "M1P8", "u8x8", "s8xu8", "u8x4", "s8xu4", "nosplit"])
@pytest.mark.parametrize("adder,acc_width", [("exact", 32), ("exact", 16), ("LOA8", 32), ("LOA5W20", 20)])
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_depthwise_and_grouped_convolutions_equal_the_lut_reference(multiplier, adder, acc_width, booth_operand):
    op = _operator(multiplier)
    if multiplier == "nosplit":  # whole table columns: nothing in the kernel may assume a split
        assert kernels.plan(op, booth_operand=booth_operand).split() is None
    for case in CASES:
        _check(op, adder, acc_width, booth_operand, case)


@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "float64"])
def test_out_of_each_dtype_receives_the_wrapped_accumulators(dtype):
    """-128 x -128 products overflow a 16-bit accumulator: the wrapped register lands in ``out``."""
    x = np.full((2, 3, 6, 6), -128)
    w = np.full((3, 1, 3, 3), -128)
    for adder in ("exact", "LOA6W16"):
        out = np.empty((2, 3, 6, 6), dtype)
        got = kernels.conv2d(x, w, "M4P8", adder, 16, padding=1, groups=3, out=out)
        assert got is out
        np.testing.assert_array_equal(out, conv2d_reference(x, w, "M4P8", adder, 16, padding=(1, 1), groups=3))


@pytest.mark.parametrize("multiplier", ["M4P8", "nosplit", "u8x4"])
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_every_operand_pair_once(multiplier, booth_operand):
    """All pairs of the ports' ranges as single MACs: channel c of a 1x1 depthwise convolution holds
    weight value c of the weight's port, its input plane every value of the activation's port; each
    output must be the operator's own product (its interpreter, not the table)."""
    op = _operator(multiplier)
    op = op if isinstance(op, Operator) else opmodels.get(op)
    plan = kernels.plan(op, booth_operand=booth_operand)
    xv = np.arange(plan.port_of("x").range[0], plan.port_of("x").range[1] + 1)
    wv = np.arange(plan.port_of("w").range[0], plan.port_of("w").range[1] + 1)
    x = np.broadcast_to(xv, (wv.size, xv.size))[None, :, None, :]   # [1, C, 1, |x|]
    w = wv.reshape(-1, 1, 1, 1)                                       # [C, 1, 1, 1]
    got = kernels.conv2d(x, w, op, groups=wv.size, booth_operand=booth_operand)[0, :, 0, :]  # [w, x]
    a, b = (xv[None, :], wv[:, None]) if booth_operand == "w" else (wv[:, None], xv[None, :])
    np.testing.assert_array_equal(got, op.evaluate(a, b))


def test_a_strided_view_of_the_input():
    x = RNG.integers(-128, 128, (3, 8, 9, 10)).astype(np.int8)[::2, ::2, :, ::-1]
    w = RNG.integers(-128, 128, (4, 1, 3, 3))
    assert not x.flags.c_contiguous
    np.testing.assert_array_equal(kernels.conv2d(x, w, "M4P8", padding=1, groups=4),
                                  conv2d_reference(x, w, "M4P8", padding=(1, 1), groups=4))


def test_the_column_kernel_serves_any_grouping_it_is_given():
    """The kernel itself on convolutions the router sends to the split tables (many outputs per
    group, groups 1 and 2), so its channel loop and output blocks are checked beyond depthwise."""
    for xs, ws, groups in [((2, 4, 7, 6), (9, 4, 3, 3), 1), ((1, 6, 5, 9), (10, 3, 2, 3), 2)]:
        x, w = RNG.integers(-128, 128, xs), RNG.integers(-128, 128, ws)
        for adder in ("exact", "LOA8"):
            plan = kernels.plan("M4P8", adder)
            got = cpu.column_conv2d(plan, x, w, conv_geometry(x.shape, w.shape, 1, 1, 1, groups))
            np.testing.assert_array_equal(got, conv2d_reference(x, w, "M4P8", adder, 32, padding=(1, 1),
                                                                groups=groups))
