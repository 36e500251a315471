"""The pure-Python parts of opmodels.verification: the vectors of a check and their reference results,
the comparison, the generated harness. The references are pinned to sources outside our IR: the exact
product a*b (approximation factor 0), the bit-by-bit spec model of tests/utils.py, a published check
value, and the LOA's error identity."""
import itertools

import numpy as np
import pytest

import opmodels
from opmodels.verification import Dut, check_vectors, compare, mac_model, reference
from opmodels.verification.harness import harness
from tests.utils import booth_from_spec, wrap


def loa_from_identity(a, b, width: int, l: int) -> np.ndarray:
    """LOA = a + b - (a_lo & b_lo) + 2^l * (a_{l-1} & b_{l-1}), modulo 2^width: the low sum is replaced
    by the OR (a_lo + b_lo = (a_lo | b_lo) + (a_lo & b_lo)) and the AND of the top low bits carries in."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if l == 0:
        return wrap(a + b, width)
    low = (a & b) & ((1 << l) - 1)
    carry = ((a >> (l - 1)) & (b >> (l - 1)) & 1) << l
    return wrap(a + b - low + carry, width)


@pytest.mark.parametrize("op_id", ["EXACT", "M1P0", "M3P0", "M6P0"])
def test_8bit_exact_vectors_are_every_pair_with_the_exact_product(op_id):
    op = opmodels.get(op_id)
    a, b = check_vectors(op)
    assert sorted(zip(a.tolist(), b.tolist())) == list(itertools.product(range(-128, 128), repeat=2))
    assert np.array_equal(reference(op, a, b), a * b)


def test_8bit_approximate_reference_is_the_spec_model():
    op = opmodels.get("M4P8")
    a, b = check_vectors(op)
    expected = reference(op, a, b)
    assert np.array_equal(expected, booth_from_spec(a, b, 8, "ABE2", 8, "cell"))
    assert expected[np.flatnonzero((a == 3) & (b == 5))[0]] == 255  # spec section 5 check value


def test_wide_vectors_are_seeded_random_plus_every_corner_pair():
    op = opmodels.get("LOA8")
    a, b = check_vectors(op, 1000, seed=4)
    corners = {-(2 ** 31), -(2 ** 31) + 1, -2, -1, 0, 1, 2, 2 ** 31 - 2, 2 ** 31 - 1, 0x55555555, -0x55555556}
    corners |= {1 << k for k in range(31)} | {-(1 << k) for k in range(32)}
    tail = set(zip(a[1000:].tolist(), b[1000:].tolist()))
    assert len(a) == 1000 + len(corners) ** 2 and tail == set(itertools.product(corners, repeat=2))
    assert np.array_equal(a, check_vectors(op, 1000, seed=4)[0])           # seeded
    assert not np.array_equal(a[:1000], check_vectors(op, 1000, seed=5)[0][:1000])
    assert len(check_vectors(op)[0]) == 200_000 + len(corners) ** 2        # the default count
    assert np.array_equal(reference(op, a, b), loa_from_identity(a, b, 32, 8))


def test_16bit_exact_reference_is_the_product():
    op = opmodels.get("EXACTW16")
    a, b = check_vectors(op, 5000, seed=1)
    assert np.array_equal(reference(op, a, b), a * b)


def test_mac_model_is_spec_section_8():
    """Exact multiplier and exact adder: the sum of products modulo 2^32; LOA: the identity per step."""
    mul, rng = opmodels.get("EXACT"), np.random.default_rng(3)
    a, b = rng.integers(-128, 128, (6, 48)), rng.integers(-128, 128, (6, 48))
    assert np.array_equal(mac_model(mul, opmodels.get("LOA0"), a, b), wrap((a * b).sum(axis=1), 32))
    acc = np.zeros(6, dtype=np.int64)
    for k in range(48):
        acc = loa_from_identity(acc, a[:, k] * b[:, k], 32, 8)
    assert np.array_equal(mac_model(mul, opmodels.get("LOA8"), a, b), acc)


def test_compare_reports_counterexamples_and_unknown_bits():
    y = opmodels.get("M1P2").y
    a, b, expected = np.array([3, -1, 100]), np.array([5, -1, -3]), np.array([15, 1, -300])
    got = [15, None, (-299) & 0xFFFF]
    summary = compare("M1P2", y, a, b, expected, got)
    assert summary["vectors"] == 3 and summary["mismatches"] == 2
    assert summary["counterexamples"] == [[-1, -1, 1, None], [100, -3, -300, -299]]


def test_harness_connects_every_dut():
    duts = [Dut(opmodels.get("M4P8"), "opm_m4p8", []), Dut(opmodels.get("EXACT"), "mine", [], ("x", "w", "p"), {"N": 8})]
    text = harness(duts)
    assert "opm_m4p8 dut0 (.a(a), .b(b), .y(y0));" in text
    assert "mine #(.N(8)) dut1 (.x(a), .w(b), .p(y1));" in text
    assert 'results1[i] = y1;' in text and '$writememh("results1.hex", results1, 0, count - 1);' in text
    with pytest.raises(ValueError, match="share their operand widths"):
        harness([*duts, Dut(opmodels.get("LOA8"), "opm_loa8", [])])


def test_api_takes_operators_not_ids():
    from opmodels.verify import verify, verify_mac
    with pytest.raises(opmodels.OpmodelsError, match="takes an Operator .* not 'M4P8'"):
        verify("M4P8")
    with pytest.raises(opmodels.OpmodelsError, match="takes an Operator"):
        verify_mac(opmodels.get("M4P8"), "LOA8")
