"""Operands as they are in hardware: each port has its own width and signedness (unsigned x unsigned,
signed x unsigned, 8 x 4, 12 x 12, 16 x 16). The kernels run every operator whose operands both have
at most 8 bits from a table indexed by bit patterns, and wider ones behaviourally; each is checked
against the reference interpreter (all pairs up to 8 + 8 bits) and against a numpy formula written
from outside the IR."""
import numpy as np
import pytest

from opmodels import Operator, OpmodelsError, kernels


def shift_add(width_y: int, low_cut: int = 0):
    """An array multiplier ``a * b`` for an unsigned ``b``: rows ``(a << i) & b[i]`` summed in
    ``width_y`` bits (a sign-extended when signed), the low ``low_cut`` result bits forced to 0."""
    def build(a, b):
        wide = a.sext(width_y) if a.signed else a.zext(width_y)
        wide = wide.as_unsigned()
        rows = [(wide << i) & b[i].replicate(width_y) for i in range(b.width)]
        total = rows[0]
        for row in rows[1:]:
            total = total + row
        if low_cut:
            total = total >> low_cut << low_cut
        return total.as_signed() if a.signed else total
    return build


def truncated(a, b, cut):  # the numpy model of shift_add(..., low_cut=cut): the product's low bits cleared
    return (a * b) >> cut << cut


# id, (wa, wb), (sa, sb), result width, cut: operators in the forms the issue names
SHAPES = {
    "u8x8": ((8, 8), (False, False), 16, 4),
    "s8xu8": ((8, 8), (True, False), 16, 3),
    "u8x4": ((8, 4), (False, False), 12, 2),
    "s8xu4": ((8, 4), (True, False), 12, 1),
    "u4x8": ((4, 8), (False, False), 12, 0),
    "u12x12": ((12, 12), (False, False), 24, 5),
    "s16xu16": ((16, 16), (True, False), 32, 7),
}


def build(op_id: str) -> Operator:
    (wa, wb), (sa, sb), wy, cut = SHAPES[op_id]
    return Operator.from_function(op_id, "multiplier", (wa, wb), shift_add(wy, cut), signed=(sa, sb))


def values(port) -> np.ndarray:
    low, high = port.range
    return np.arange(low, high + 1, dtype=np.int64)


@pytest.mark.parametrize("op_id", ["u8x8", "s8xu8", "u8x4", "s8xu4", "u4x8"])
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_every_pair_of_a_table_operator_through_the_kernels(op_id, booth_operand):
    """All pairs of the ports' own ranges: one MAC each, through the table the kernels index by bit
    patterns, equal to op.evaluate and to the numpy product."""
    op = build(op_id)
    a, b = values(op.a), values(op.b)
    assert kernels.plan(op).mode == "lut"
    want = op.evaluate(a[:, None], b[None, :])
    assert np.array_equal(want, truncated(a[:, None], b[None, :], SHAPES[op_id][3]))
    if booth_operand == "w":  # x feeds a, w feeds b
        got = kernels.matmul(a[:, None], b[None, :], op, booth_operand="w")
    else:  # x feeds b, w feeds a: got[b, a]
        got = kernels.matmul(b[:, None], a[None, :], op, booth_operand="x").T
    assert np.array_equal(got, want)


@pytest.mark.parametrize("op_id", list(SHAPES))
def test_multiply_accumulate_with_random_operands_in_each_ports_range(op_id):
    """Seeded random operands plus the corners of each port, K = 37 products per output, enough rows
    and outputs for the split-table kernel where a table has a split."""
    op = build(op_id)
    rng = np.random.default_rng(11)
    (la, ha), (lb, hb) = op.a.range, op.b.range
    x = rng.integers(la, ha, (24, 37), endpoint=True)
    w = rng.integers(lb, hb, (37, 9), endpoint=True)
    x[0, :4], w[:4, 0] = [la, ha, 0, 1], [lb, hb, 0, 1]
    want = op.evaluate(x[:, :, None], w[None, :, :]).sum(axis=1)
    assert np.array_equal(want, truncated(x[:, :, None], w[None, :, :], SHAPES[op_id][3]).sum(axis=1))
    assert np.array_equal(kernels.matmul(x, w, op, acc_width=64), want)


def test_conv2d_of_an_unsigned_operator_pads_with_operand_zero():
    op = build("u8x4")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 255, (2, 3, 6, 6), endpoint=True)
    w = rng.integers(0, 15, (4, 3, 3, 3), endpoint=True)
    got = kernels.conv2d(x, w, op, padding=1)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros_like(got)
    for i in range(6):
        for j in range(6):
            window = padded[:, :, i:i + 3, j:j + 3]  # [N, C, 3, 3]
            want[:, :, i, j] = op.evaluate(window[:, None], w[None]).sum(axis=(2, 3, 4))
    assert np.array_equal(got, want)


def test_values_outside_a_ports_own_range_are_refused():
    op = build("u8x4")
    with pytest.raises(OpmodelsError, match=r"x value -1 is outside the operand range 0\.\.255 of multiplier "
                                            r"u8x4 \(its port a: unsigned 8-bit\)"):
        kernels.matmul(np.array([[-1]]), np.array([[1]]), op)
    with pytest.raises(OpmodelsError, match=r"w value 16 is outside the operand range 0\.\.15"):
        kernels.matmul(np.array([[1]]), np.array([[16]]), op)
