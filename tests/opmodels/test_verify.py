"""The pure-Python parts of opmodels.verify: vector sets, comparison, the generated harness."""
import numpy as np

import opmodels
from opmodels.verify import Dut, compare, corners, harness, vectors_for


def test_8bit_vectors_are_every_pair_with_the_lut():
    op = opmodels.get("M4P8")
    a, b, expected = vectors_for(op)
    assert len(a) == 65536 and len(set(zip(a.tolist(), b.tolist()))) == 65536
    assert np.array_equal(expected, op.evaluate(a, b))
    i = np.flatnonzero((a == 3) & (b == 5))[0]
    assert expected[i] == 255  # spec section 5 check value


def test_wide_vectors_are_seeded_random_plus_every_corner_pair():
    op = opmodels.get("LOA8")
    a, b, expected = vectors_for(op, "1000", seed=4)
    edge = corners(32)
    assert len(a) == 1000 + len(edge) ** 2
    assert {-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 0x55555555} <= set(edge.tolist())
    assert np.array_equal(a, vectors_for(op, "1000", seed=4)[0])          # seeded
    assert not np.array_equal(a[:1000], vectors_for(op, "1000", seed=5)[0][:1000])
    assert np.array_equal(expected, op.evaluate(a, b))


def test_compare_reports_counterexamples_and_unknown_bits():
    op = opmodels.get("M1P2")
    a, b = np.array([3, -1, 100]), np.array([5, -1, -3])
    expected = op.evaluate(a, b)
    got = [int(expected[0]) & 0xFFFF, None, (int(expected[2]) + 1) & 0xFFFF]
    summary = compare(op, a, b, expected, got)
    assert summary["vectors"] == 3 and summary["mismatches"] == 2
    assert summary["counterexamples"] == [[-1, -1, int(expected[1]), None], [100, -3, -300, -299]]


def test_harness_connects_every_dut():
    duts = [Dut(opmodels.get("M4P8"), "opm_m4p8", []), Dut(opmodels.get("EXACT"), "mine", [], ("x", "w", "p"), {"N": 8})]
    text = harness(duts)
    assert "opm_m4p8 dut0 (.a(a), .b(b), .y(y0));" in text
    assert "mine #(.N(8)) dut1 (.x(a), .w(b), .p(y1));" in text
    assert 'results1[i] = y1;' in text and '$writememh("results1.hex", results1, 0, count - 1);' in text
