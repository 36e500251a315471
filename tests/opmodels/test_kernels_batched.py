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


# -- operands as netsim hands them over (int8, straight from its quantizer) and out= of every dtype -------
@pytest.mark.parametrize("acc_width", [32, 12])  # 12 bits: 16 M4P8 products can leave the register (wrap)
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64])
def test_bmm_narrow_operands_and_out_dtypes(dtype, acc_width, threads):
    """int8 / int16 operands are read as they are (no widened copy) and, where no sum can leave the
    acc_width-bit register, the kernel writes out= of any dtype directly; where sums can wrap
    (acc_width 12) the int64 sums are wrapped first. Both equal the LUT reference converted."""
    x = operands((6, 17, 16)).clip(-127, 127).astype(dtype)  # netsim's symmetric 8-bit range
    w = operands((6, 16, 17)).clip(-127, 127).astype(dtype)
    for multiplier, adder in (("M4P8", "exact"), ("M2P8", f"LOA8W{acc_width}")):
        expected = batched_reference(x.astype(np.int64), w.astype(np.int64), multiplier, adder, acc_width, "w")
        if acc_width == 12 and adder == "exact":
            assert np.abs(batched_reference(x, w, multiplier, "exact", 64, "w")).max() >= 1 << 11  # sums do wrap
        got = kernels.bmm(x, w, multiplier, adder, acc_width)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected)
        for out_dtype in (np.float32, np.float64, np.int32, np.int64):
            out = np.full(expected.shape, 7, out_dtype)
            assert kernels.bmm(x, w, multiplier, adder, acc_width, out=out) is out
            np.testing.assert_array_equal(out, expected.astype(out_dtype), err_msg=f"{multiplier} {out_dtype}")


def test_cannot_wrap_bound():
    """The bound that lets bmm skip the wrap: k times the table's largest |product| below 2^(acc_width-1)."""
    from opmodels.kernels import cpu, planning, tables
    op = kernels.plan("M4P8").multiplier
    largest = tables.largest_product(op)
    assert largest == int(np.abs(op.lut().astype(np.int64)).max())
    exact_adder = kernels.plan("M4P8", acc_width=20)
    k_max = ((1 << 19) - 1) // largest  # the most MACs whose sum cannot leave 20 bits
    assert cpu.cannot_wrap(exact_adder, k_max) and not cpu.cannot_wrap(exact_adder, k_max + 1)
    assert cpu.cannot_wrap(kernels.plan("M4P8", "LOA8W20", 20), 10**6)  # a LOA's statements give the register
    assert not cpu.cannot_wrap(planning.Plan(EXACT_PRODUCT, None, 32, "cpu", "w"), 1)  # no table: no bound


def test_range_check_by_dtype():
    """An operand's range check is skipped only when its dtype cannot hold a value outside the port."""
    from opmodels.kernels import planning
    assert planning.holds_only(np.int8, (-128, 127)) and planning.holds_only(np.uint8, (0, 255))
    assert not planning.holds_only(np.int8, (-8, 7)) and not planning.holds_only(np.int8, (0, 255))
    assert not planning.holds_only(np.int16, (-128, 127)) and not planning.holds_only(np.float32, (-128, 127))
    # narrower or unsigned ports still see the int8 values they cannot take
    from opmodels import Operator
    op = Operator.from_function("MIXED", "multiplier", (8, 4), lambda a, b: a.zext(16).as_signed() & b.sext(16),
                                signed=(False, True))
    with pytest.raises(OpmodelsError, match=r"w value 8 is outside the operand range -8\.\.7"):
        kernels.matmul(np.zeros((2, 3), np.uint8), np.full((3, 4), 8, np.int8), op)
    with pytest.raises(OpmodelsError, match=r"x value -1 is outside the operand range 0\.\.255"):
        kernels.matmul(np.full((2, 3), -1, np.int8), np.zeros((3, 4), np.int8), op)
    with pytest.raises(OpmodelsError, match="x value 300 is outside"):
        kernels.bmm(np.full((2, 3, 4), 300, np.int16), np.zeros((2, 4, 5), np.int8))


@pytest.mark.parametrize("padding", [0, 1])
def test_conv2d_int8_input_as_patterns(padding):
    """int8 activations go to the split kernel as a uint8 view (no copy without padding): the same
    result as int64 operands, and the caller's array is left as it was."""
    x = operands((2, 3, 7, 6)).clip(-127, 127).astype(np.int8)
    w = operands((8, 3, 3, 3)).clip(-127, 127).astype(np.int8)
    before = x.copy()
    got = kernels.conv2d(x, w, "M4P8", padding=padding)
    np.testing.assert_array_equal(got, kernels.conv2d(x.astype(np.int64), w.astype(np.int64), "M4P8",
                                                      padding=padding))
    np.testing.assert_array_equal(got, conv2d_reference(x, w, "M4P8", "exact", 32, (1, 1), (padding, padding)))
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("table_bytes", [1, 40 << 10, None])  # a slice per matrix, a few per slice, one call
def test_bmm_split_tables_in_batch_slices(table_bytes, monkeypatch):
    """From BMM_SPLIT_MIN_ROWS rows the batch takes the split tables, in slices of the batch whose tables
    fit BMM_TABLE_BYTES per step: every slicing gives the reference, into a fresh array or out=."""
    if table_bytes is not None:
        monkeypatch.setattr(kernels, "BMM_TABLE_BYTES", table_bytes)
    called = []
    monkeypatch.setattr(kernels.split, "bmm", lambda *args, _bmm=kernels.split.bmm: called.append(1) or _bmm(*args))
    b, m, k, n = 7, kernels.BMM_SPLIT_MIN_ROWS + 3, 9, 20
    x, w = operands((b, m, k)), operands((b, k, n))
    for multiplier, adder in (("M4P8", "exact"), ("M2P8", "LOA8"), ("NOSPLIT_TEST", "exact")):
        op = multiplier if multiplier != "NOSPLIT_TEST" else nosplit_multiplier()
        expected = batched_reference(x, w, op, adder, 32, "w")
        called.clear()
        np.testing.assert_array_equal(kernels.bmm(x, w, op, adder), expected, err_msg=str(multiplier))
        slices = {1: b, 40 << 10: -(-b // max(1, (40 << 10) // kernels.split.step_table_bytes(
            kernels.plan(op, adder), n))), None: 1}[table_bytes]
        assert len(called) == slices
        out = np.empty((b, m, n), np.float32)
        assert kernels.bmm(x, w, op, adder, out=out) is out
        np.testing.assert_array_equal(out, expected.astype(np.float32))


def nosplit_multiplier():
    """An 8-bit table without an additive split (whole-column rows): test_kernels' own no-split operator."""
    from tests.opmodels.test_kernels import _nosplit
    return _nosplit()
