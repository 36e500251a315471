"""matmul and conv2d equal plain numpy references (LUT gather or interpreter, int64 sum or LOA loop)."""
from __future__ import annotations

import numpy as np
import pytest

from opmodels import OpmodelsError, kernels
from tests.utils import conv2d_reference, matmul_reference

RNG = np.random.default_rng(2026)


def operands(shape, width=8, rng=RNG):
    return rng.integers(-(1 << (width - 1)), 1 << (width - 1), shape)


MATMUL_SHAPES = [(1, 1, 1), (1, 5, 1), (3, 1, 4), (1, 17, 9), (7, 33, 1), (13, 64, 11), (5, 300, 6)]
CONFIGS = [  # multiplier, adder, acc_width, operand width
    ("M4P8", "exact", 32, 8), ("M1P8", "exact", 32, 8), ("M6P14", "exact", 16, 8), ("EXACT", "exact", 32, 8),
    ("exact", "exact", 24, 8), ("M2P8", "LOA8", 32, 8), ("M4P12", "LOA6W20", 20, 8),
    ("M3P12W16", "exact", 32, 16), ("M5P14W12", "LOA4W24", 24, 12), ("exact", "LOA3W40", 40, 16),
]


@pytest.mark.parametrize("multiplier,adder,acc_width,width", CONFIGS)
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_matmul_equals_reference(multiplier, adder, acc_width, width, booth_operand):
    for m, k, n in MATMUL_SHAPES:
        x, w = operands((m, k), width), operands((k, n), width)
        got = kernels.matmul(x, w, multiplier, adder, acc_width, booth_operand=booth_operand)
        assert got.dtype == np.int64 and got.shape == (m, n)
        np.testing.assert_array_equal(got, matmul_reference(x, w, multiplier, adder, acc_width, booth_operand),
                                      err_msg=f"{multiplier} {adder} {(m, k, n)}")


def test_matmul_extreme_operands_and_wrapping():
    # -128 * -128 everywhere: sums overflow narrow accumulators, which must wrap like hardware.
    x, w = np.full((3, 700), -128), np.full((700, 2), -128)
    for acc_width in (16, 24, 32):
        for multiplier in ("M2P14", "M4P8", "EXACT"):
            np.testing.assert_array_equal(kernels.matmul(x, w, multiplier, acc_width=acc_width),
                                          matmul_reference(x, w, multiplier, acc_width=acc_width))


def test_matmul_non_contiguous_and_other_dtypes():
    base_x, base_w = operands((12, 40)), operands((30, 20))
    x = base_x.astype(np.int8)[::2, ::2]         # [6, 20], strided
    w = base_w.astype(np.int16)[::-1][:20, 1::2]  # [20, 10], reversed rows, strided columns
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    np.testing.assert_array_equal(kernels.matmul(x, w, "M4P8"), matmul_reference(x, w, "M4P8"))
    np.testing.assert_array_equal(kernels.matmul(x, w, "M4P8", "LOA8"), matmul_reference(x, w, "M4P8", "LOA8"))
    xt = base_x[:10, :20].T  # a transposed (Fortran-ordered) view, [20, 10]
    wt = base_w[:10, :5]
    np.testing.assert_array_equal(kernels.matmul(xt, wt, "M1P8"), matmul_reference(xt, wt, "M1P8"))


CONV_CASES = [  # x shape, w shape, stride, padding, dilation, groups
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0, 1, 1),
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1, 1),
    ((1, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 2), 1, 2),
    ((2, 6, 8, 8), (6, 1, 3, 3), 1, 1, 1, 6),          # depthwise
    ((1, 3, 10, 9), (2, 3, 3, 3), 2, (2, 0), (2, 3), 1),  # stride, padding, dilation
    ((3, 8, 5, 5), (4, 4, 1, 1), 1, 0, 1, 2),
    ((1, 2, 4, 4), (3, 2, 5, 5), 1, 2, 1, 1),          # kernel wider than the input
]


def _pair(v):
    return (v, v) if isinstance(v, int) else v


@pytest.mark.parametrize("multiplier,adder,acc_width,width", [c for c in CONFIGS if c[0] in
                                                              ("M4P8", "M1P8", "exact", "M3P12W16") or c[1] != "exact"])
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_conv2d_equals_reference(multiplier, adder, acc_width, width, booth_operand):
    for xs, ws, stride, padding, dilation, groups in CONV_CASES:
        x, w = operands(xs, width), operands(ws, width)
        got = kernels.conv2d(x, w, multiplier, adder, acc_width, stride=stride, padding=padding,
                             dilation=dilation, groups=groups, booth_operand=booth_operand)
        expected = conv2d_reference(x, w, multiplier, adder, acc_width, _pair(stride), _pair(padding),
                                    _pair(dilation), groups, booth_operand)
        np.testing.assert_array_equal(got, expected, err_msg=f"{multiplier} {adder} {xs} {ws}")


def test_conv2d_padding_is_a_real_mac_with_operand_zero():
    # M1P8 gives P(0, -42) = -255 (spec section 5): a padded position contributes it, as hardware would.
    x = np.zeros((1, 1, 1, 1), np.int64)
    w = np.full((1, 1, 3, 3), -42)
    out = kernels.conv2d(x, w, "M1P8", padding=1)
    assert out.item() == 9 * -255
    out = kernels.conv2d(x, np.full((1, 1, 1, 1), 0), "M2P8", padding=0, booth_operand="x")
    assert out.item() == 0  # P(a=w=0, b=x=0)
    np.testing.assert_array_equal(kernels.conv2d(np.zeros((1, 1, 1, 1)).astype(int) - 42, np.zeros((1, 1, 3, 3), int),
                                                 "M2P8", padding=1), [[[[526]]]])  # only the centre: P(-42, 0)


def test_conv2d_non_contiguous():
    x = operands((2, 6, 12, 10))[:, ::2, ::-1, 1:]
    w = operands((4, 3, 3, 3)).transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(kernels.conv2d(x, w, "M4P8", padding=1),
                                  conv2d_reference(x, w, "M4P8", padding=(1, 1)))


@pytest.mark.parametrize("call,message", [
    (lambda: kernels.matmul(np.ones((2, 3)), np.ones((3, 2), int)), "x must be an integer array"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), np.float32)), "w must be an integer array"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((4, 2), int)), "shape mismatch"),
    (lambda: kernels.matmul(np.ones((2, 3, 1), int), np.ones((3, 2), int)), "x must have 2 dimensions"),
    (lambda: kernels.matmul(np.full((2, 3), 128), np.ones((3, 2), int)), "x value 128 is outside"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.full((3, 2), -129)), "w value -129 is outside"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), backend="tpu"), "backend must be one of"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), adder="LOA8W24"), "acc_width is 32"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), adder="M4P8"), "not an adder"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), adder="fast"), "unknown operator"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), multiplier="LOA8"), "not a multiplier"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), acc_width=65), "acc_width must be"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), acc_width=1), "acc_width must be"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), booth_operand="a"), "booth_operand"),
    (lambda: kernels.conv2d(np.ones((1, 4, 5, 5), int), np.ones((2, 3, 3, 3), int)), "shape mismatch"),
    (lambda: kernels.conv2d(np.ones((1, 4, 5, 5), int), np.ones((3, 2, 3, 3), int), groups=2), "must divide"),
    (lambda: kernels.conv2d(np.ones((1, 1, 2, 2), int), np.ones((1, 1, 3, 3), int)), "does not fit"),
    (lambda: kernels.conv2d(np.ones((1, 1, 5, 5), int), np.ones((1, 1, 3, 3), int), stride=0), "stride must be"),
    (lambda: kernels.conv2d(np.ones((1, 1, 5, 5), int), np.ones((1, 1, 3, 3), int), padding=-1), "padding must be"),
    (lambda: kernels.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3), int)), "x must be an integer array"),
])
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(OpmodelsError, match=message):
        call()


# -- the factorized (float GEMM) path of LUT mode with the exact adder ---------------------------------
FACTOR_FAST = ["EXACT", "M1P8", "M2P8", "M4P8", "M5P14", "M6P14", "M3P2", "M4P12"]


def _check_factors(op_id):
    import opmodels
    from opmodels.kernels import factorized
    table = opmodels.get(op_id).lut().astype(np.int64)
    for oriented in (table, table.T):
        f = factorized.factorize(oriented)
        assert f is not None, op_id
        np.testing.assert_array_equal(f.U @ f.V.T, oriented)  # exact for all 65,536 pairs
        assert f.rank <= 10 and factorized.chunk_length(f, 1) >= 32


@pytest.mark.parametrize("op_id", FACTOR_FAST)
def test_factorization_is_exact(op_id):
    _check_factors(op_id)


@pytest.mark.slow
def test_factorization_of_every_catalog_multiplier():
    import opmodels
    for op_id in opmodels.multipliers_8bit():
        _check_factors(op_id)


def test_factorize_refuses_a_table_without_integer_factors():
    from opmodels.kernels import factorized
    table = np.random.default_rng(0).integers(-2**20, 2**20, (256, 256))
    f = factorized.factorize(table)  # full rank: only a 256-term factorization exists
    assert f is None or f.rank > factorized.MAX_RANK


def _gather(plan, x, w):
    """The LUT gather kernel, bypassing the factorized path."""
    from opmodels.kernels import cpu
    return cpu.loop_matmul(plan, x, w)


@pytest.mark.parametrize("op_id", ["M6P14", "M2P12", "M4P8"])
def test_factorized_path_is_used_and_exact_with_chunking(op_id):
    from opmodels.kernels import factorized
    plan = kernels.plan(op_id)
    f = factorized.factors_of(plan)
    k = 3 * factorized.chunk_length(f, 1) + 5  # several float32 chunks
    rng = np.random.default_rng(11)
    x = np.where(rng.random((4, k)) < 0.5, -128, rng.integers(-128, 128, (4, k)))  # near the worst case
    w = np.where(rng.random((k, 3)) < 0.5, -128, rng.integers(-128, 128, (k, 3)))
    fast = factorized.matmul(plan, x, w)
    assert fast is not None
    np.testing.assert_array_equal(fast, _gather(plan, x, w))
    np.testing.assert_array_equal(fast, matmul_reference(x, w, op_id))
    # conv2d chunks over input channels: 3x3 kernels on many channels
    c = 3 * (factorized.chunk_length(f, 9) // 9) + 1
    xc, wc = operands((1, c, 4, 4)), operands((2, c, 3, 3))
    got = factorized.conv2d(plan, xc, wc, (1, 1), (1, 1), (1, 1), 1)
    assert got is not None
    np.testing.assert_array_equal(got, conv2d_reference(xc, wc, op_id, padding=(1, 1)))


def test_grouped_conv_too_wide_for_one_chunk_falls_back_to_the_kernel():
    from opmodels.kernels import factorized
    plan = kernels.plan("M6P14")
    cg = factorized.chunk_length(factorized.factors_of(plan), 9) // 9 + 1
    x, w = operands((1, 2 * cg, 3, 3)), operands((2, cg, 3, 3))
    assert factorized.conv2d(plan, x, w, (1, 1), (1, 1), (1, 1), 2) is None
    np.testing.assert_array_equal(kernels.conv2d(x, w, "M6P14", padding=1, groups=2),
                                  conv2d_reference(x, w, "M6P14", padding=(1, 1), groups=2))
