"""Error metrics: checked against facts that do not come from the IR, and streamed in chunks."""
from __future__ import annotations

import pytest

import opmodels
from opmodels import OpmodelsError, metrics


def test_exact_operator_sampled_over_several_chunks_has_no_error():
    m = opmodels.get("M1P0W16").metrics(samples=2 * metrics.CHUNK + 3, seed=1)
    assert (m.ER, m.MED, m.WCE, m.pairs, m.exhaustive) == (0.0, 0.0, 0, 2 * metrics.CHUNK + 3, False)


def test_sampled_metrics_are_reproducible_and_follow_the_seed():
    op = opmodels.get("M4P20W16")
    assert op.metrics(samples=5000, seed=3) == op.metrics(samples=5000, seed=3)
    assert op.metrics(samples=5000, seed=3).MED != op.metrics(samples=5000, seed=4).MED


def test_nmed_divides_by_the_largest_exact_product():
    # signed 8 x 8: |(-128) * (-128)| = 2^14, the spec's normaliser
    assert metrics.largest_exact(opmodels.get("M4P8")) == 2 ** 14
    assert metrics.largest_exact(opmodels.get("LOA8")) == 2 ** 31


@pytest.mark.parametrize("samples,seed,message", [
    (0, 0, "samples must be an integer in 1..1,000,000,000, not 0"),
    (2.5, 0, "samples must be an integer in 1..1,000,000,000, not 2.5"),
    (10 ** 10, 0, "samples must be an integer in 1..1,000,000,000, not 10000000000"),
    (10, -1, r"seed must be an integer in 0..18,446,744,073,709,551,615, not -1"),
    (10, "x", "seed must be an integer in 0..18,446,744,073,709,551,615, not 'x'"),
    (10, 1 << 64, "seed must be an integer in 0..18,446,744,073,709,551,615, not 18446744073709551616"),
])
def test_bad_samples_or_seed_is_an_error(samples, seed, message):
    with pytest.raises(OpmodelsError, match=message):
        opmodels.get("M4P8W16").metrics(samples=samples, seed=seed)
