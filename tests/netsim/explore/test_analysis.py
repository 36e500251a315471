"""Pareto front, lossless optimum, and the noise statistics, against brute-force definitions."""
import math
import random

from hypothesis import given, settings, strategies as st

from netsim.explore import analysis


def _dominates(q, p):
    return (q["accuracy"] >= p["accuracy"] and q["cost"] <= p["cost"]
            and (q["accuracy"] > p["accuracy"] or q["cost"] < p["cost"]))


# shared strategies; every property runs a fixed, reproducible set of examples (derandomize)
points_strategy = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30)
hits_strategy = st.lists(st.booleans(), max_size=200)
seeded = settings(deadline=None, derandomize=True)


@settings(seeded, max_examples=200)
@given(points_strategy)
def test_front_is_exactly_the_non_dominated_points(pairs):
    points = [{"id": i, "accuracy": a / 20, "cost": c / 20} for i, (a, c) in enumerate(pairs)]
    front = analysis.pareto_front(points)
    ids = {p["id"] for p in front}
    for p in points:
        dominated = any(_dominates(q, p) for q in points)
        assert (p["id"] in ids) == (not dominated)
    costs = [p["cost"] for p in front]
    assert costs == sorted(costs)
    # along the front, more cost must buy strictly more accuracy (ties in both are kept together)
    for left, right in zip(front, front[1:]):
        assert right["accuracy"] > left["accuracy"] or (right["accuracy"], right["cost"]) == (left["accuracy"], left["cost"])


def test_lossless_optimum_is_the_cheapest_within_tolerance():
    points = [{"m": "a", "accuracy": 0.98, "cost": 1.0}, {"m": "b", "accuracy": 0.975, "cost": 0.8},
              {"m": "c", "accuracy": 0.96, "cost": 0.5}, {"m": "d", "accuracy": 0.981, "cost": 0.9}]
    assert analysis.lossless_optimum(points, 0.98)["m"] == "d"
    assert analysis.lossless_optimum(points, 0.98, tolerance=0.005)["m"] == "b"
    assert analysis.lossless_optimum(points, 0.98, tolerance=0.03)["m"] == "c"
    assert analysis.lossless_optimum(points, 0.99) is None


def test_binomial_se():
    assert math.isclose(analysis.binomial_se(0.98, 1000), math.sqrt(0.98 * 0.02 / 1000))
    assert analysis.binomial_se(1.0, 10) == 0.0


@settings(seeded, max_examples=100)
@given(hits_strategy)
def test_hits_round_trip(hits):
    assert analysis.unpack_hits(analysis.pack_hits(hits)) == hits


def test_mcnemar_exact_binomial():
    rng = random.Random(1)
    base = [rng.random() < 0.9 for _ in range(300)]
    assert analysis.mcnemar(base, base) == {"only_baseline": 0, "only_other": 0, "p": 1.0}
    # 5 samples only the baseline gets right, none the other way: p = 2 * 0.5^5
    other = list(base)
    flipped = [i for i, h in enumerate(base) if h][:5]
    for i in flipped:
        other[i] = False
    result = analysis.mcnemar(base, other)
    assert (result["only_baseline"], result["only_other"]) == (5, 0)
    assert math.isclose(result["p"], 2 / 32)
    # symmetric in its two arguments
    assert analysis.mcnemar(other, base)["p"] == result["p"]
    # b = 3, c = 7: two-sided exact p = 2 * P(X <= 3), X ~ Bin(10, 1/2)
    b_list = [True] * 3 + [False] * 7
    c_list = [False] * 3 + [True] * 7
    expected = 2 * sum(math.comb(10, i) for i in range(4)) / 1024
    assert math.isclose(analysis.mcnemar(b_list, c_list)["p"], expected)


def test_highest_lossless_walks_from_the_mildest_degree():
    rows = [{"degree": d, "accuracy": acc} for d, acc in [(8, 0.98), (6, 0.98), (4, 0.97), (2, 0.5)]]
    assert analysis.highest_lossless(rows, 0.98, 0.0, "degree", more_is_aggressive=False) == 6
    assert analysis.highest_lossless(rows, 0.98, 0.011, "degree", more_is_aggressive=False) == 4
    assert analysis.highest_lossless(rows, 0.98, 0.5, "degree", more_is_aggressive=False) == 2
    assert analysis.highest_lossless(rows, 0.99, 0.0, "degree", more_is_aggressive=False) is None
    # P: mildest is the smallest; a lossless point after a lossy one does not count
    p_rows = [{"degree": d, "accuracy": acc} for d, acc in [(2, 0.98), (4, 0.981), (6, 0.97), (8, 0.98)]]
    assert analysis.highest_lossless(p_rows, 0.98, 0.0, "degree", more_is_aggressive=True) == 4
    assert analysis.highest_lossless(p_rows, 0.98, 0.01, "degree", more_is_aggressive=True) == 8
    shuffled = list(reversed(p_rows))
    assert analysis.highest_lossless(shuffled, 0.98, 0.0, "degree", more_is_aggressive=True) == 4
