"""The interpreter against facts that do not come from our IR (spec sections 2-5 and 7)."""
import itertools

import numpy as np
import pytest

import opmodels
from opmodels import dsl, interp
from opmodels.library import booth
from tests.utils import all_pairs, booth_from_spec, random_pairs

# Spec section 5, single values (P8, width 8): (a, b) -> M1..M6, exact.
SINGLE_VALUES = {
    (-128, -128): (16192, 16512, 16128, 16512, 16384, 16128, 16384),
    (127, -128): (-16320, -15701, -16384, -15701, -16320, -16384, -16256),
    (3, 5): (15, 255, 15, 255, 15, 0, 15),
    (100, -3): (-300, 68, -300, 148, -300, -512, -300),
    (-1, -1): (1, 1, 1, 85, 1, 0, 1),
    (-42, 0): (0, 526, 0, 526, 0, 0, 0),
    (0, -42): (-255, 0, -256, 0, 0, -512, 0),
}

# Spec section 5, exhaustive metrics: id -> ER, ME, MED, NMED, MRED, WCE.
METRIC_TABLE = {
    "M1P2": (0.2500, -0.5000, 0.5000, 3.0518e-05, 8.4876e-04, 3),
    "M1P8": (0.6511, -117.5000, 117.5000, 7.1716e-03, 1.3708e-01, 741),
    "M1P14": (0.6825, -2709.5000, 2709.5000, 1.6537e-01, 1.4780e+00, 17340),
    "M2P2": (0.3750, +0.2500, 0.6250, 3.8147e-05, 1.0317e-03, 3),
    "M2P8": (0.9105, +117.2500, 142.9344, 8.7240e-03, 3.8578e-01, 939),
    "M2P14": (0.9347, +2709.2500, 3612.1026, 2.2047e-01, 1.3549e+01, 21675),
    "M3P8": (0.6511, -128.2500, 128.2500, 7.8278e-03, 1.4308e-01, 758),
    "M4P2": (0.3750, +0.2500, 0.6250, 3.8147e-05, 1.0317e-03, 3),
    "M4P8": (0.9167, +127.7500, 152.4932, 9.3074e-03, 4.3742e-01, 939),
    "M4P14": (0.9350, +2719.7500, 3622.1716, 2.2108e-01, 1.3601e+01, 21675),
    "M5P8": (0.6445, -0.1250, 51.5784, 3.1481e-03, 3.7829e-02, 430),
    "M6P8": (0.9943, -384.2500, 384.2500, 2.3453e-02, 5.0328e-01, 1024),
    "M6P14": (0.9959, -8160.2500, 8160.2500, 4.9806e-01, 6.2640e+00, 21760),
}


@pytest.mark.parametrize(("a", "b"), SINGLE_VALUES)
def test_single_values_of_the_spec(a, b):
    got = [int(opmodels.get(f"M{m}P8").evaluate(a, b)) for m in range(1, 7)]
    assert got + [int(opmodels.get("EXACT").evaluate(a, b))] == list(SINGLE_VALUES[a, b])


@pytest.mark.parametrize("op_id", METRIC_TABLE)
def test_metric_table_of_the_spec(op_id):
    m = opmodels.get(op_id).metrics()
    er, me, med, nmed, mred, wce = METRIC_TABLE[op_id]
    assert m.exhaustive and m.pairs == 65536
    assert round(m.ER, 4) == er and round(m.ME, 4) == me and round(m.MED, 4) == med
    assert f"{m.NMED:.4e}" == f"{nmed:.4e}" and f"{m.MRED:.4e}" == f"{mred:.4e}"
    assert m.WCE == wce


@pytest.mark.parametrize("width", [4, 6, 8, 10])
def test_p0_is_the_exact_product_exhaustively(width):
    a, b = all_pairs(width)
    for cell in booth.CELLS:
        assert np.array_equal(opmodels.BoothR4(width, cell, 0, "cell").evaluate(a, b), a * b), cell


@pytest.mark.parametrize("width", [12, 14, 16, 24, 32])
def test_p0_is_the_exact_product_sampled(width):
    a, b = random_pairs(width, 20_000, seed=width)
    assert np.array_equal(opmodels.get(f"EXACTW{width}").evaluate(a, b), a * b)


@pytest.mark.parametrize("m", range(1, 7))
def test_every_8bit_logic_equals_the_bitwise_spec_model_sampled(m):
    cell, neg = booth.LOGICS[m]
    a, b = random_pairs(8, 300, seed=m)
    for p in range(0, 15, 2):
        expected = [booth_from_spec(int(x), int(y), 8, cell, p, neg) for x, y in zip(a, b)]
        assert opmodels.get(f"M{m}P{p}").evaluate(a, b).tolist() == expected, p


@pytest.mark.slow
@pytest.mark.parametrize("op_id", opmodels.multipliers_8bit())
def test_every_8bit_catalog_operator_equals_the_bitwise_spec_model_exhaustively(op_id):
    op = opmodels.get(op_id)
    cell, neg, p = op.params["cell"], op.params["neg"], op.params["p"]
    a, b = all_pairs(8)
    model = np.vectorize(lambda x, y: booth_from_spec(int(x), int(y), 8, cell, p, neg))
    assert np.array_equal(op.evaluate(a, b), model(a, b))


@pytest.mark.parametrize(("m", "width", "p"), [(1, 16, 12), (4, 16, 20), (6, 12, 10), (5, 32, 30)])
def test_wide_operators_equal_the_bitwise_spec_model(m, width, p):
    cell, neg = booth.LOGICS[m]
    a, b = random_pairs(width, 400, seed=width + p)
    expected = [booth_from_spec(int(x), int(y), width, cell, p, neg) for x, y in zip(a, b)]
    assert opmodels.get(f"M{m}P{p}W{width}").evaluate(a, b).tolist() == expected


def _cell_truth_tables(cell):
    """Evaluate the library's cell functions on all 32 (b2, b1, b0, a_i, a_{i-1}) through the IR."""
    names = ("b2", "b1", "b0", "ai", "aim1")
    inputs = {n: dsl.Input(n, 1, signed=False) for n in names}
    b2, b1, b0, ai, aim1 = (inputs[n] for n in names)
    one = b1 ^ b0
    two = ~one & (b2 ^ b1)
    graph = dsl.lower({"exact": booth.exact_cells(one, two, b2, ai, aim1),
                       "approx": booth.approx_cells(cell, b2, b1, b0, ai)})
    combos = np.array(list(itertools.product((0, 1), repeat=5)))
    out = interp.evaluate(graph, {n: combos[:, k] for k, n in enumerate(names)})
    return combos, out["exact"], out["approx"]


@pytest.mark.parametrize(("cell", "differences"), [("ABE1", 4), ("ABE2", 8), ("PPG2S", 4)])
def test_kmap_difference_counts(cell, differences):
    combos, exact, approx = _cell_truth_tables(cell)
    b2, b1, b0, ai, aim1 = combos.T
    one, two = b1 ^ b0, (1 - (b1 ^ b0)) & (b2 ^ b1)
    assert exact.tolist() == ((one & (b2 ^ ai)) | (two & (b2 ^ aim1))).tolist()  # spec's exact cell
    assert int(np.count_nonzero(exact != approx)) == differences


def test_loa_error_identity_exhaustively():
    """E = c * 2^l - (x AND y)_low for every pair of 8-bit operands and every l (spec section 7)."""
    x, y = all_pairs(8)
    for l in range(8):
        op = opmodels.LOA(8, l)
        low = (1 << l) - 1
        carry = ((x >> (l - 1)) & (y >> (l - 1)) & 1) if l else 0
        expected_error = carry * (1 << l) - ((x & y) & low)
        wrapped = interp.to_signed(interp.to_patterns(op.exact(x, y) + expected_error, 8), 8)
        assert np.array_equal(op.evaluate(x, y), wrapped), l


@pytest.mark.parametrize("l", [0, 1, 4, 8, 14])
def test_loa_error_rate_matches_the_formula(l):
    m = opmodels.LOA(32, l).metrics(samples=200_000, seed=l)
    expected = 1 - 0.75 ** l
    sigma = max((expected * (1 - expected) / m.pairs) ** 0.5, 1e-9)
    assert abs(m.ER - expected) < 5 * sigma + (0 if l else 1e-12)


def test_loa0_is_exact_and_wraps_like_hardware():
    a, b = random_pairs(32, 10_000, seed=3)
    assert np.array_equal(opmodels.get("LOA0").evaluate(a, b), opmodels.get("LOA0").exact(a, b))
    assert int(opmodels.get("LOA0").evaluate(2**31 - 1, 1)) == -(2**31)
