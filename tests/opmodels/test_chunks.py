"""Wide operands: the chunk split proven from the IR (opmodels.analysis) and the chunk-table kernels
(opmodels.kernels.chunks), both against the reference interpreter."""
from __future__ import annotations

import numpy as np
import pytest

import opmodels
from opmodels import analysis, kernels
from opmodels.dsl import Input, lower
from opmodels.kernels import chunks
from opmodels.operator import Operator
from tests.utils import all_pairs, conv2d_reference, matmul_reference, random_pairs

RNG = np.random.default_rng(1313)
PORTS = {"w": "a", "x": "b"}  # booth_operand -> the port the activation feeds (the operand that varies)


def telescoped(op: Operator, split: analysis.ChunkSplit, vary, fixed) -> np.ndarray:
    """The sum of the chunk tables of ``split`` at pairs (vary, fixed), every table entry computed by the
    interpreter: T_0[u] = F(u), T_c[v] = F(v << lo_c) - F((v & 1) << lo_c); read as the output port."""
    port = getattr(op, split.operand)
    other = "b" if split.operand == "a" else "a"
    vary, fixed = np.broadcast_arrays(np.asarray(vary, np.int64), np.asarray(fixed, np.int64))
    pattern = vary & ((1 << split.width) - 1)

    def f(patterns):
        return op.evaluate(**{split.operand: port.read(patterns), other: fixed})

    total = np.zeros(vary.shape, np.int64)
    for c, (lo, hi) in enumerate(split.windows):
        v = (pattern >> lo) & ((1 << (hi - lo)) - 1)
        total += f(v << lo) - (f((v & 1) << lo) if c else 0)
    return op.y.read(total)


# -- the analysis -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [4, 6, 8, 10, 12, 16, 32])
@pytest.mark.parametrize("logic", [1, 2, 3, 4, 5, 6])
def test_every_booth_multiplier_splits_over_either_operand(width, logic):
    op = opmodels.get(f"M{logic}P{min(2 * width - 2, 8)}" + ("" if width == 8 else f"W{width}"))
    for port in ("a", "b"):
        split, reason = analysis.chunk_split(op.graph, port)
        assert split is not None, reason
        assert split.windows[0] == (0, min(4, width)) and all(hi - lo <= 5 for lo, hi in split.windows)
        assert split.out_width == 2 * width and split.rows == (32 if width >= 8 else 16)


@pytest.mark.parametrize("op_id", ["M1P6W6", "M4P8", "M6P14", "M3P10", "EXACT", "M5P4"])
def test_the_proven_split_equals_the_interpreter_on_all_pairs(op_id):
    op = opmodels.get(op_id)
    a, b = all_pairs(op.width)
    y = op.evaluate(a, b)
    for port, (vary, fixed) in (("a", (a, b)), ("b", (b, a))):
        split, _ = analysis.chunk_split(op.graph, port)
        np.testing.assert_array_equal(telescoped(op, split, vary, fixed), np.broadcast_to(y, np.broadcast_shapes(a.shape, b.shape)),
                                      err_msg=f"{op_id} over {port}")


@pytest.mark.parametrize("op_id", ["M1P8W16", "M3P12W16", "M6P20W16", "M2P10W12", "M5P14W10", "EXACTW16"])
def test_the_proven_split_equals_the_interpreter_on_random_and_corner_pairs(op_id):
    op = opmodels.get(op_id)
    a, b = random_pairs(op.width, 20_000, seed=13)
    y = op.evaluate(a, b)
    for port, (vary, fixed) in (("a", (a, b)), ("b", (b, a))):
        split, _ = analysis.chunk_split(op.graph, port)
        np.testing.assert_array_equal(telescoped(op, split, vary, fixed), y, err_msg=f"{op_id} over {port}")


def _operator(op_id: str, width: int, build) -> Operator:
    return Operator.from_function(op_id, "multiplier", width, build)


def test_the_analysis_refuses_an_output_that_is_a_nonlinear_function_of_all_bits():
    # (a + b) & a: bit i of the sum reads bits 0..i of a through the carry, and the AND is not a sum.
    op = _operator("CARRYAND10", 10, lambda a, b: (a.sext(20) + b.sext(20)) & a.sext(20))
    split, reason = analysis.chunk_split(op.graph, "a")
    assert split is None and "reads bits [0, 1, 2, 3, 4] of a" in reason and "no one window" in reason
    # ... and it really does not split: the telescoped tables miss the true value on some pairs
    fake = analysis.ChunkSplit("a", 10, 20, analysis.windows(10))
    a, b = random_pairs(10, 2000, seed=1)
    assert not np.array_equal(telescoped(op, fake, a, b), op.evaluate(a, b))


def test_the_analysis_proves_sums_it_was_not_written_for():
    # a mux on one bit of a, and a sum that cancels (the b inside (a + b) - b): both split.
    mux_op = _operator("MUXNEG", 10, lambda a, b: opmodels.dsl.mux(a[9], -b.sext(20), b.sext(20)) + (a.sext(20) << 3))
    cancel = _operator("CANCEL", 10, lambda a, b: ((a.sext(20) + b.sext(20)) - b.sext(20)) << 2)
    for op in (mux_op, cancel):
        split, reason = analysis.chunk_split(op.graph, "a")
        assert split is not None, reason
        a, b = random_pairs(10, 5000, seed=2)
        np.testing.assert_array_equal(telescoped(op, split, a, b), op.evaluate(a, b))
    # an XOR of every bit of a (a parity) reads all bits in one summand
    parity = lambda a: a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5] ^ a[6] ^ a[7] ^ a[8] ^ a[9]
    graph = lower({"y": parity(Input("a", 10)).zext(20)})
    assert analysis.chunk_split(graph, "a")[0] is None
    assert analysis.chunk_split(graph, "b")[1] == "the graph has no input 'b'"


# -- the kernels -------------------------------------------------------------------------------------------
def operands(shape, width, rng=RNG):
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    values = rng.integers(low, high, shape, endpoint=True)
    flat = values.reshape(-1)
    corners = np.array([0, 1, -1, low, high, low + 1, high - 1, 7, 8, -8, 15, -16])
    flat[:min(flat.size, corners.size)] = corners[:flat.size]  # the corners in every operand
    return values


WIDE = [("M3P12W16", "exact", 32), ("M5P14W12", "LOA4W24", 24), ("M1P8W12", "exact", 32), ("M3P12W16", "exact", 48)]
# LOA in int32 lanes: a 32-bit register, and one narrower than the 24-bit product (the product's low bits)
LOA_WIDE = [("M3P12W16", "LOA8", 32), ("M5P14W12", "LOA15W20", 20)]


@pytest.mark.parametrize("multiplier,adder,acc_width", WIDE + LOA_WIDE)
@pytest.mark.parametrize("booth_operand", ["w", "x"])
def test_chunk_matmul_equals_the_interpreter(multiplier, adder, acc_width, booth_operand):
    width = opmodels.get(multiplier).width
    plan = kernels.plan(multiplier, adder, acc_width, booth_operand=booth_operand)
    assert chunks.applies(plan)
    for m, k, n in [(4, 1, 1), (4, 1, 7), (9, 37, 1), (17, 64, 11), (6, 150, 13)]:
        x, w = operands((m, k), width), operands((k, n), width)
        assert kernels._route(plan, m, n, x, w)[0] == "chunks"
        got = kernels.matmul(x, w, multiplier, adder, acc_width, booth_operand=booth_operand)
        np.testing.assert_array_equal(got, matmul_reference(x, w, multiplier, adder, acc_width, booth_operand),
                                      err_msg=f"{multiplier} {adder} {(m, k, n)}")


def test_chunk_accumulators_wrap_like_the_hardware_register():
    # the most negative operands everywhere: every sum overflows 16- and 24-bit registers
    low = -(1 << 15)
    x, w = np.full((5, 300), low), np.full((300, 3), low)
    for acc_width in (16, 24, 32, 40):
        np.testing.assert_array_equal(kernels.matmul(x, w, "M3P12W16", acc_width=acc_width),
                                      matmul_reference(x, w, "M3P12W16", acc_width=acc_width))


def test_layers_too_big_to_keep_staged_tables_gather_from_each_weight_s_tables(monkeypatch):
    """Layers whose staged tables would be too big read each weight's own tables (the gather kernel)."""
    monkeypatch.setattr(chunks, "STAGED_BYTES", 0)
    for multiplier, adder, acc_width in WIDE:
        x, w = operands((9, 45), opmodels.get(multiplier).width), operands((45, 6), opmodels.get(multiplier).width)
        expected = matmul_reference(x, w, multiplier, adder, acc_width)
        for nb in (1, 4, 16):  # outputs per task
            monkeypatch.setattr(chunks, "GATHER_NB", nb)
            np.testing.assert_array_equal(kernels.matmul(x, w, multiplier, adder, acc_width), expected)
    xc, wc = operands((2, 4, 6, 5), 12), operands((6, 2, 3, 3), 12)
    np.testing.assert_array_equal(kernels.conv2d(xc, wc, "M5P14W12", "LOA4W24", 24, padding=1, groups=2),
                                  conv2d_reference(xc, wc, "M5P14W12", "LOA4W24", 24, padding=(1, 1), groups=2))


def test_the_weight_tables_are_kept_per_weight_array_and_never_stale():
    x = operands((6, 20), 16)
    w1, w2 = operands((20, 5), 16), operands((20, 5), 16)
    for w in (w1, w2, w1):  # same shape and dtype, different values
        np.testing.assert_array_equal(kernels.matmul(x, w, "M3P12W16"), matmul_reference(x, w, "M3P12W16"))
    w3 = w1.copy()
    w3[4, 2] += 1 if w3[4, 2] < 32767 else -1  # one weight changed in place of a copy
    np.testing.assert_array_equal(kernels.matmul(x, w3, "M3P12W16"), matmul_reference(x, w3, "M3P12W16"))


CONV = [((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1, 1), ((1, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 2), 1, 2),
        ((2, 6, 6, 6), (6, 1, 3, 3), 1, 1, 1, 6), ((1, 3, 10, 9), (2, 3, 3, 3), 2, (2, 0), (2, 3), 1)]


@pytest.mark.parametrize("multiplier,adder,acc_width", WIDE[:2])
def test_chunk_conv2d_equals_the_interpreter(multiplier, adder, acc_width):
    width = opmodels.get(multiplier).width
    for xs, ws, stride, padding, dilation, groups in CONV:
        x, w = operands(xs, width), operands(ws, width)
        pair = lambda v: (v, v) if isinstance(v, int) else v
        got = kernels.conv2d(x, w, multiplier, adder, acc_width, stride, padding, dilation, groups)
        np.testing.assert_array_equal(got, conv2d_reference(x, w, multiplier, adder, acc_width, pair(stride),
                                                            pair(padding), pair(dilation), groups))


def test_an_unproven_wide_multiplier_keeps_the_scalar_function():
    op = _operator("CARRYAND10", 10, lambda a, b: (a.sext(20) + b.sext(20)) & a.sext(20))
    plan = kernels.plan(op)
    assert not chunks.applies(plan)
    x, w = operands((6, 9), 10), operands((9, 5), 10)
    assert kernels._route(plan, 6, 5, x, w)[0] == "loop"
    expected = (op.evaluate(x[:, :, None], w[None, :, :])).sum(axis=1)
    np.testing.assert_array_equal(kernels.matmul(x, w, op), expected)


def test_the_weight_tables_share_the_kernels_cache_and_its_budget(monkeypatch):
    """The chunk tables live in the kernels' one cache (opmodels.kernels.cache): within its budget,
    stale entries make room, and tables that do not fit are built per call, not kept."""
    from opmodels.kernels import cache
    cache.clear()
    x = operands((5, 12), 16)
    w = operands((12, 4), 16)
    np.testing.assert_array_equal(kernels.matmul(x, w, "M3P12W16"), matmul_reference(x, w, "M3P12W16"))
    held = cache.nbytes()
    assert held > 0 and cache.entries() == 1 and all(key[0] == "chunks" for key in cache.keys())
    monkeypatch.setattr(cache, "CACHE_BYTES", 4 * held)  # room for four such layers
    monkeypatch.setattr(cache, "STALE_CALLS", 0)  # every other entry is stale: the newest evict the oldest
    for _ in range(6):
        w = operands((12, 4), 16)
        np.testing.assert_array_equal(kernels.matmul(x, w, "M3P12W16"), matmul_reference(x, w, "M3P12W16"))
        assert 1 <= cache.entries() <= 4 and cache.nbytes() <= cache.CACHE_BYTES
    monkeypatch.setattr(cache, "CACHE_BYTES", 1)  # nothing fits: built per call, nothing kept
    cache.clear()
    for _ in range(2):
        w = operands((12, 4), 16)
        np.testing.assert_array_equal(kernels.matmul(x, w, "M3P12W16"), matmul_reference(x, w, "M3P12W16"))
        assert cache.entries() == 0
