"""matmul and conv2d equal plain numpy references (LUT gather or interpreter, int64 sum or LOA loop)."""
from __future__ import annotations

import numpy as np
import pytest

import opmodels
from opmodels import EXACT_PRODUCT, OpmodelsError, kernels
from opmodels.kernels import cache
from tests.utils import conv2d_reference, matmul_reference

RNG = np.random.default_rng(2026)


def operands(shape, width=8, rng=RNG):
    return rng.integers(-(1 << (width - 1)), 1 << (width - 1), shape)


MATMUL_SHAPES = [(1, 1, 1), (1, 5, 1), (3, 1, 4), (1, 17, 9), (7, 33, 1), (13, 64, 11), (5, 300, 6)]
CONFIGS = [  # multiplier, adder, acc_width, operand width
    ("M4P8", "exact", 32, 8), ("M1P8", "exact", 32, 8), ("M6P14", "exact", 16, 8), ("EXACT", "exact", 32, 8),
    (EXACT_PRODUCT, "exact", 24, 8), (EXACT_PRODUCT, "LOA8", 32, 8), ("M2P8", "LOA8", 32, 8), ("M4P12", "LOA6W20", 20, 8),
    ("M3P12W16", "exact", 32, 16), ("M5P14W12", "LOA4W24", 24, 12), (EXACT_PRODUCT, "LOA3W40", 40, 16),
]


def _params(configs, slow_x=()):
    """(config, booth_operand) pairs; behavioural kernels compile for ~30 s each on a cold cache, so
    the booth_operand='x' variants of the ``slow_x`` multipliers run in the slow suite."""
    return [pytest.param(*c, b, marks=[pytest.mark.slow] if b == "x" and c[0] in slow_x else [])
            for c in configs for b in ("w", "x")]


@pytest.mark.parametrize("multiplier,adder,acc_width,width,booth_operand", _params(CONFIGS, ["M3P12W16"]))
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


@pytest.mark.parametrize("multiplier,adder,acc_width,width,booth_operand", _params(
    [c for c in CONFIGS if c[0] in ("M4P8", "M1P8", EXACT_PRODUCT, "M3P12W16") or c[1] != "exact"],
    ["M3P12W16", "M5P14W12"]))
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
    (lambda: kernels.matmul(np.ones((2, 3, 1, 1), int), np.ones((3, 2), int)), "x must have 2 dimensions"),
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
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), out=np.empty((2, 3))), "out must be"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), out=np.empty((2, 2), np.int16)),
     "out must be"),
    (lambda: kernels.matmul(np.ones((2, 3), int), np.ones((3, 2), int), out=np.empty((2, 4))[:, ::2]),
     "out must be"),
    (lambda: kernels.conv2d(np.ones((1, 1, 5, 5), int), np.ones((1, 1, 3, 3), int), out=[0]), "out must be"),
])
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(OpmodelsError, match=message):
        call()


# -- the split-table path of LUT mode (opmodels/kernels/split.py) ------------------------------------
SPLIT_FAST = ["M4P8", "M1P8", "M2P14", "M3P2", "M5P8", "M6P14", "M4P0"]


def _check_split(op_id):
    for booth_operand in ("w", "x"):
        plan = kernels.plan(op_id, booth_operand=booth_operand)
        shift, T = plan.split()
        assert shift == 4 or booth_operand == "x"  # a Booth-recoded operand may need bit 3 in both halves
        x = np.arange(256)
        table = plan.table().astype(np.int64)
        np.testing.assert_array_equal(T[x & 15].astype(np.int64) + T[16 + (x >> shift)], table)


@pytest.mark.parametrize("op_id", SPLIT_FAST)
def test_split_tables_reproduce_the_lut(op_id):
    _check_split(op_id)


@pytest.mark.slow
def test_split_tables_of_every_catalog_multiplier():
    import opmodels
    for op_id in opmodels.multipliers_8bit():
        _check_split(op_id)


def _nosplit(shift_up=0):
    """An 8-bit operator of our own whose table has no additive split in either orientation (a0 AND
    a4 couples the two nibbles of a, b0 AND b4 those of b); ``shift_up`` 9 gives values beyond int16
    (int32 tables)."""
    from opmodels import Operator

    def build(a, b):
        core = (a.sext(20) << shift_up) ^ b.sext(20) if shift_up else a.sext(16) & b.sext(16)
        return core ^ (a[0] & a[4]).zext(core.width).as_signed() ^ (b[0] & b[4]).zext(core.width).as_signed()

    return Operator.from_function(f"NOSPLIT{shift_up}", "multiplier", 8, build)


@pytest.mark.parametrize("shift_up", [0, 9])
@pytest.mark.parametrize("adder,acc_width", [("exact", 20), ("LOA5W20", 20)])
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_a_table_without_a_split_takes_whole_column_rows(shift_up, adder, acc_width, booth_operand):
    """Whole-column tables (one row per step, int16 or int32): K = 1..9 (odd and even tails of the two-step
    passes), odd shapes, conv2d with groups and padding, against the LUT gather reference."""
    from opmodels.kernels import planning, split
    op = _nosplit(shift_up)
    plan = kernels.plan(op, adder, acc_width, booth_operand=booth_operand)
    assert plan.split() is None and planning.route(plan, 100, 100, np.zeros((1, 1)), np.zeros((1, 1)))[0] == "split"
    layout = split._layout(plan, 9, 100, 16)
    assert layout.kind == "rows" and layout.T.dtype == (np.int32 if shift_up else np.int16)
    for m, k, n in [(8, 1, 4), (9, 2, 5), (11, 3, 7), (8, 4, 4), (10, 5, 9), (13, 7, 31), (8, 9, 130)]:
        x, w = operands((m, k)), operands((k, n))
        assert planning.route(plan, m, n, x, w)[0] == "split"
        np.testing.assert_array_equal(kernels.matmul(x, w, op, adder, acc_width, booth_operand=booth_operand),
                                      matmul_reference(x, w, op, adder, acc_width, booth_operand), err_msg=(m, k, n))
    for m, k, n in [(1, 1, 1), (1, 6, 1), (3, 5, 1), (1, 5, 3)]:  # the kernel itself at M/K/N = 1
        x, w = operands((m, k)), operands((k, n))
        np.testing.assert_array_equal(split.matmul(plan, x, w), matmul_reference(x, w, op, adder, acc_width,
                                                                                 booth_operand))
    x, w = operands((2, 6, 5, 7)), operands((8, 3, 3, 2))
    np.testing.assert_array_equal(
        kernels.conv2d(x, w, op, adder, acc_width, padding=(1, 2), groups=2, booth_operand=booth_operand),
        conv2d_reference(x, w, op, adder, acc_width, padding=(1, 2), groups=2, booth_operand=booth_operand))


def test_prepared_tables_are_kept_per_weight_content(monkeypatch):
    """Tables built once per weight content: a second call reuses them, weights changed in place get
    new ones (the key is their content, not the array), and the cache stays within CACHE_BYTES."""
    cache.clear()
    x, w = operands((20, 37)), operands((37, 24))
    first = kernels.matmul(x, w, "M4P8")
    held = cache.nbytes()
    assert held > 0 and cache.entries() == 1
    np.testing.assert_array_equal(kernels.matmul(x, w, "M4P8"), first)
    assert cache.nbytes() == held and cache.entries() == 1
    w[3, 5] = -w[3, 5] - 1  # the same array, other content
    np.testing.assert_array_equal(kernels.matmul(x, w, "M4P8"), matmul_reference(x, w, "M4P8"))
    assert cache.entries() == 2
    monkeypatch.setattr(cache, "CACHE_BYTES", 4 * held)  # room for four tables of this size
    others = [operands((37, 24)) for _ in range(3)]
    for w2 in others:  # two fit; the third finds no stale table to evict: built per call, not kept
        np.testing.assert_array_equal(kernels.matmul(x, w2, "M4P8"), matmul_reference(x, w2, "M4P8"))
    assert cache.entries() == 4 and cache.nbytes() <= cache.CACHE_BYTES
    stamps = dict(cache._last_use)
    monkeypatch.setattr(cache, "STALE_CALLS", 1)  # now the least recently used table is stale
    kernels.matmul(x, others[2], "M4P8")
    assert cache.entries() == 4 and cache.nbytes() <= cache.CACHE_BYTES
    assert min(stamps, key=stamps.get) not in cache.keys()
    monkeypatch.setattr(cache, "CACHE_BYTES", 0)  # nothing kept: every table built per call, in chunks
    cache.clear()
    np.testing.assert_array_equal(kernels.matmul(x, w, "M4P8"), matmul_reference(x, w, "M4P8"))
    assert cache.nbytes() == 0


def test_split_and_chunk_tables_share_one_cache_and_one_budget(monkeypatch):
    """8-bit split tables and 16-bit chunk tables are entries of the same cache: one budget for both,
    so a full cache of one kind keeps the other kind's new tables out until they go stale."""
    cache.clear()
    x8, w8 = operands((20, 37)), operands((37, 24))
    x16, w16 = operands((6, 20), 16), operands((20, 5), 16)
    kernels.matmul(x8, w8, "M4P8")
    split_bytes = cache.nbytes()
    kernels.matmul(x16, w16, "M3P12W16")
    assert sorted(key[0] for key in cache.keys()) == ["chunks", "split"] and cache.nbytes() > split_bytes
    cache.clear()
    monkeypatch.setattr(cache, "CACHE_BYTES", 4 * split_bytes)  # four layers' split tables fill the budget
    for w in [w8] + [operands((37, 24)) for _ in range(3)]:
        kernels.matmul(x8, w, "M4P8")
    assert cache.nbytes() == cache.CACHE_BYTES
    np.testing.assert_array_equal(kernels.matmul(x16, w16, "M3P12W16"), matmul_reference(x16, w16, "M3P12W16"))
    assert [key[0] for key in cache.keys()] == ["split"] * 4  # no room and nothing stale: not kept
    monkeypatch.setattr(cache, "STALE_CALLS", 0)  # now the least recently used split tables make room
    np.testing.assert_array_equal(kernels.matmul(x16, w16, "M3P12W16"), matmul_reference(x16, w16, "M3P12W16"))
    kinds = [key[0] for key in cache.keys()]  # (its staged tables, kept too, may evict a second one)
    assert kinds[-1] == "chunks" and 1 <= kinds.count("split") <= 3 and cache.nbytes() <= cache.CACHE_BYTES


@pytest.mark.parametrize("multiplier,adder,acc_width", [("M4P8", "exact", 32), ("M1P10", "exact", 40),
                                                       ("M2P8", "LOA8", 32), ("M3P6", "LOA5W20", 20)])
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_split_path_in_chunks_blocks_and_groups(multiplier, adder, acc_width, booth_operand, monkeypatch):
    """Shapes that take the split kernel, with its k-chunks, row blocks and column blocks made small so
    that every boundary is crossed, against the plain numpy references."""
    from opmodels.kernels import planning, split
    monkeypatch.setattr(split, "TABLE_BYTES", 3 * 2 * 32 * 128 * 2)  # 2 or 3 k per chunk, a short last one
    monkeypatch.setattr(cache, "CACHE_BYTES", 0)                      # tables built per call, in those chunks
    monkeypatch.setattr(split, "ACC_BYTES", 5 * 16 * 8)               # a few rows per block
    x, w = operands((23, 71)), operands((71, 150))                     # 150 outputs: two blocks of 128
    plan = kernels.plan(multiplier, adder, acc_width, booth_operand=booth_operand)
    assert planning.route(plan, 23, 150, x, w)[0] == "split"
    np.testing.assert_array_equal(kernels.matmul(x, w, multiplier, adder, acc_width, booth_operand=booth_operand),
                                  matmul_reference(x, w, multiplier, adder, acc_width, booth_operand))
    monkeypatch.setattr(split, "PAIR_MIN_ROWS", 16)
    x, w = operands((19, 69)), operands((69, 12))  # a narrow block: pair tables (exact adder), odd K
    np.testing.assert_array_equal(kernels.matmul(x, w, multiplier, adder, acc_width, booth_operand=booth_operand),
                                  matmul_reference(x, w, multiplier, adder, acc_width, booth_operand))
    x, w = operands((2, 6, 7, 9)), operands((16, 3, 3, 2))         # groups=2, 8 outputs per group
    got = kernels.conv2d(x, w, multiplier, adder, acc_width, stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                         groups=2, booth_operand=booth_operand)
    np.testing.assert_array_equal(got, conv2d_reference(x, w, multiplier, adder, acc_width, (2, 1), (1, 2), (1, 2),
                                                        2, booth_operand))


def test_split_accumulators_hold_wide_exact_sums():
    # acc_width 40 and sums beyond int32: the kernel must switch to int64 accumulators.
    from opmodels.kernels import split
    x, w = np.full((9, 200_000), -128), np.full((200_000, 8), -128)
    plan = kernels.plan("M4P8", acc_width=40)
    assert split._acc_dtype(plan, x.shape[1], split._layout(plan, x.shape[1], 9, 8)) == np.int64
    got = kernels.matmul(x, w, "M4P8", acc_width=40)
    assert (got == 200_000 * int(opmodels.get("M4P8").evaluate(-128, -128))).all()


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64, np.float32])
@pytest.mark.parametrize("multiplier,adder", [("M4P8", "exact"), ("M2P8", "LOA8"), ("M3P12W16", "exact")])
def test_out_receives_the_results_in_its_dtype(dtype, multiplier, adder):
    """out= on every path (split tables, gather loop, behavioural): the same values, converted."""
    width = 16 if multiplier.endswith("W16") else 8
    for m, n in ((20, 12), (3, 2)):  # the split kernel and the gather loop
        x, w = operands((m, 40), width), operands((40, n), width)
        out = np.full((m, n), 7, dtype)
        got = kernels.matmul(x, w, multiplier, adder, out=out)
        assert got is out
        np.testing.assert_array_equal(out, matmul_reference(x, w, multiplier, adder).astype(dtype))
    x, w = operands((2, 3, 9, 8), width), operands((8, 3, 3, 3), width)
    out = np.zeros((2, 8, 9, 8), dtype)
    assert kernels.conv2d(x, w, multiplier, adder, padding=1, out=out) is out
    np.testing.assert_array_equal(out, conv2d_reference(x, w, multiplier, adder, padding=(1, 1)).astype(dtype))


def test_the_catalogs_exact_is_an_8_bit_operator_and_the_exact_product_has_its_own_name():
    x, w = np.array([[300]]), np.array([[2]])
    with pytest.raises(OpmodelsError, match="x value 300 is outside the operand range -128..127 of multiplier EXACT"):
        kernels.matmul(x, w, "EXACT")
    assert kernels.matmul(x, w, EXACT_PRODUCT)[0, 0] == 600
    assert kernels.matmul(x, w, kernels.EXACT_PRODUCT)[0, 0] == 600


def test_operands_are_checked_against_the_port_they_feed():
    """x feeds the multiplicand port a and w the Booth-recoded port b, or the other way round with
    booth_operand="x"; each is checked against its own port's width and signedness."""
    from opmodels import Operator
    op = Operator.from_function("MIXED", "multiplier", (8, 4), lambda a, b: a.zext(16).as_signed() & b.sext(16),
                                signed=(False, True))
    with pytest.raises(OpmodelsError, match=r"x value -1 is outside the operand range 0\.\.255 of multiplier MIXED"):
        kernels.matmul(np.array([[-1]]), np.array([[1]]), op)
    with pytest.raises(OpmodelsError, match=r"w value 8 is outside the operand range -8\.\.7 .*port b: signed 4-bit"):
        kernels.matmul(np.array([[255]]), np.array([[8]]), op)
    with pytest.raises(OpmodelsError, match=r"x value 8 is outside the operand range -8\.\.7"):
        kernels.matmul(np.array([[8]]), np.array([[255]]), op, booth_operand="x")
    with pytest.raises(OpmodelsError, match=r"w value 256 is outside the operand range 0\.\.255"):
        kernels.matmul(np.array([[7]]), np.array([[256]]), op, booth_operand="x")


def _kernels_imports() -> dict[str, set[str]]:
    """Module of opmodels.kernels -> the opmodels modules it imports (anywhere in the file)."""
    import ast
    from pathlib import Path
    package = Path(kernels.__file__).parent
    submodules = {p.stem for p in package.glob("*.py")} - {"__init__"}
    graph = {}
    for path in package.glob("*.py"):
        name = "opmodels.kernels" + ("" if path.stem == "__init__" else f".{path.stem}")
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("opmodels")}
            elif isinstance(node, ast.ImportFrom):
                base = ("opmodels.kernels" if node.level == 1 else "opmodels" if node.level == 2 else "") \
                    + (f".{node.module}" if node.module and node.level else node.module or "")
                if base == "opmodels.kernels":  # `from . import x`: x is a submodule or a name of __init__
                    targets |= {f"{base}.{a.name}" if a.name in submodules else base for a in node.names}
                elif base.startswith("opmodels"):
                    targets.add(base)
        graph[name] = targets
    return graph


def test_the_kernels_package_is_one_path_without_cycles():
    """plan -> generate -> run: no submodule imports the package __init__ (not even inside a
    function), the submodules import each other without cycles, and only the public entry turns
    ids into operators (imports the catalog)."""
    graph = _kernels_imports()
    for module, targets in graph.items():
        if module != "opmodels.kernels":
            assert "opmodels.kernels" not in targets, f"{module} imports the package __init__"
            assert "opmodels.catalog" not in targets, f"{module} resolves ids (only the public entry may)"
    inner = {m: {t for t in ts if t in graph and t != "opmodels.kernels"}
             for m, ts in graph.items() if m != "opmodels.kernels"}
    done, active = set(), []

    def visit(module):
        assert module not in active, f"import cycle: {' -> '.join(active[active.index(module):] + [module])}"
        if module not in done:
            active.append(module)
            for target in inner[module]:
                visit(target)
            active.pop()
            done.add(module)

    for module in inner:
        visit(module)
    assert graph["opmodels.kernels"] >= {"opmodels.kernels.planning", "opmodels.kernels.cpu",
                                         "opmodels.kernels.split", "opmodels.kernels.cuda"}


# -- LOA accumulation in word lanes (generate.loa_lines) -------------------------------------------------
def _run_loa_lines(width, l, acc, p, lanes):
    from opmodels.kernels import generate
    scope = {"np": np, "acc": acc.astype(lanes), "p": p}
    for line in generate.loa_lines(width, l):
        exec(line, scope)
    return np.asarray(scope["acc"]).astype(lanes).astype(np.int64)  # the int32 store truncates


@pytest.mark.parametrize("width,l", [(2, 0), (2, 1), (5, 4), (8, 0), (8, 1), (8, 7), (16, 8), (24, 12), (31, 30),
                                     (32, 0), (32, 1), (32, 8), (32, 31), (33, 8), (40, 3), (62, 61), (64, 8), (64, 63)])
def test_loa_lines_equal_the_adders_interpreter(width, l):
    """The word-lane LOA formula the CPU kernels paste, against the LOA operator's own interpreter: every
    pair of 8-bit patterns' sign extensions, and seeded random and corner accumulators with products of
    any sign and size (only their low ``width`` bits count, like sext_w in spec section 8)."""
    op = opmodels.get(f"LOA{l}W{width}")
    top = (1 << (width - 1)) - 1
    corners = np.array([0, 1, -1, top, -top - 1, top - 1, 1 << (l - 1) if l else 2, -(1 << l), 255, -32768, 32767,
                        (1 << 31) - 1, -(1 << 31)], np.int64)
    rng = np.random.default_rng(width * 100 + l)
    acc = np.concatenate([np.repeat(np.arange(-128, 128), 256), np.repeat(corners, corners.size),
                          wrap_values(rng.integers(-2**62, 2**62, 20_000), width)])
    p = np.concatenate([np.tile(np.arange(-128, 128), 256), np.tile(corners, corners.size),
                        rng.integers(-2**31, 2**31, 20_000)])
    acc = wrap_values(acc, width)
    expected = op.evaluate(acc, wrap_values(p, width))
    np.testing.assert_array_equal(_run_loa_lines(width, l, acc, p, np.int64), expected)
    if width <= 32:  # the split kernel's int32 accumulators
        np.testing.assert_array_equal(_run_loa_lines(width, l, acc, p, np.int32), expected)


def wrap_values(values, width):
    from tests.utils import wrap
    return wrap(values, width)


LOA_LANES = [("LOA7W8", 8), ("LOA31", 32), ("LOA8W33", 33),
             pytest.param("LOA1W2", 2, marks=pytest.mark.slow), pytest.param("LOA15W16", 16, marks=pytest.mark.slow),
             pytest.param("LOA0W24", 24, marks=pytest.mark.slow)]


@pytest.mark.parametrize("adder,acc_width", LOA_LANES)
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_loa_split_kernel_in_word_lanes(adder, acc_width, booth_operand, monkeypatch):
    """LOA accumulation in the split kernel's int32 lanes (int64 above 32 bits) at the width and l
    boundaries, with k-chunks of 2 or 3 steps and small row blocks, odd shapes and M/K/N = 1, against
    the sequential numpy LOA loop."""
    from opmodels.kernels import split
    plan = kernels.plan("M4P8", adder, acc_width, booth_operand=booth_operand)
    lanes = split._acc_dtype(plan, 64, split._layout(plan, 64, 64, 16))
    assert lanes == (np.int32 if acc_width <= 32 else np.int64)
    monkeypatch.setattr(split, "TABLE_BYTES", 3 * 2 * 32 * 128 * 2)
    monkeypatch.setattr(cache, "CACHE_BYTES", 0)
    monkeypatch.setattr(split, "ACC_BYTES", 5 * 16 * 8)
    for m, k, n in [(8, 1, 4), (1, 7, 9), (9, 1, 1), (23, 71, 150), (17, 33, 5), (64, 200, 16)]:
        x, w = operands((m, k)), operands((k, n))
        x[0, :] = -128
        w[:, 0] = -128  # the largest products: the upper part carries at every step
        np.testing.assert_array_equal(kernels.matmul(x, w, "M4P8", adder, acc_width, booth_operand=booth_operand),
                                      matmul_reference(x, w, "M4P8", adder, acc_width, booth_operand),
                                      err_msg=f"{adder} {(m, k, n)}")
    x, w = operands((2, 6, 7, 9)), operands((16, 3, 3, 2))
    got = kernels.conv2d(x, w, "M4P8", adder, acc_width, stride=(2, 1), padding=(1, 2), groups=2,
                         booth_operand=booth_operand)
    np.testing.assert_array_equal(got, conv2d_reference(x, w, "M4P8", adder, acc_width, (2, 1), (1, 2), (1, 1), 2,
                                                        booth_operand))
