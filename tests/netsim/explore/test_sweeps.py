"""Resilience and DSE sweeps on a small LeNet-5 (few points, a slice of the test set)."""
import pytest

from netsim.explore import analysis, sweeps
from netsim.explore.executor import ResultCache
from netsim.explore.jobs import ModelSpec
from netsim.explore.sweeps import Run, dse, parse_multipliers, resilience

LIMIT = 96


@pytest.fixture(scope="module")
def spec(lenet_checkpoint):
    return ModelSpec.of("lenet5", lenet_checkpoint)


def test_model_hash_names_content(spec, lenet_checkpoint, tmp_path):
    import shutil
    copy = tmp_path / "copy.pt"
    shutil.copy(lenet_checkpoint, copy)
    assert ModelSpec.of("lenet5", copy).hash == spec.hash


def test_dse_rows_costs_pareto_and_identity(spec, tmp_path):
    run = Run(cache=ResultCache(tmp_path), workers=1, progress=False, test_limit=LIMIT)
    result = dse(spec, ["M4P0", "M1P4", "M4P8"], run, tolerance=0.0)
    rows = {r["multiplier"]: r for r in result["rows"]}
    exact = rows["exact"]
    # P0 is the exact multiplier: bit-identical predictions through the whole pipeline
    assert rows["M4P0"]["accuracy"] == exact["accuracy"] and rows["M4P0"]["mcnemar_p"] == 1.0
    assert rows["M4P0"]["relative_area"] == pytest.approx(1.0)
    assert rows["M4P8"]["relative_area"] < rows["M1P4"]["relative_area"] < 1.0
    summary = result["summary"]
    points = [{"multiplier": r["multiplier"], "accuracy": r["accuracy"], "cost": r["relative_area"]}
              for r in result["rows"]]
    best = summary["optimum_before"]
    assert best["accuracy"] >= exact["accuracy"]
    assert all(p["cost"] >= best["cost"] for p in points if p["accuracy"] >= exact["accuracy"])
    assert best["area_saving"] == pytest.approx(1 - best["cost"])


# hand-written DSE outcome: (accuracy, area) per multiplier, 200 test samples
FIXED = {"exact": (0.98, 100.0), "M4P0": (0.98, 100.0), "M1P4": (0.97, 80.0), "M4P8": (0.975, 60.0),
         "M5P10": (0.90, 50.0), "M6P14": (0.90, 55.0)}


class FixedRun(sweeps.Run):
    """A Run whose jobs return the hand-written accuracies instead of evaluating a network."""

    def jobs(self, jobs, desc):
        out = []
        for job in jobs:
            tags = job.payload["_tags"]
            correct = round(FIXED[tags["multiplier"]][0] * 200)
            hits = [True] * correct + [False] * (200 - correct)
            out.append({**tags, "accuracy": correct / 200, "samples": 200, "seconds": 0.0,
                        "hits": analysis.pack_hits(hits)})
        return out


def test_dse_front_and_optimum_on_fixed_results(spec, monkeypatch):
    """The front and the optimum of a DSE against an expectation worked out by hand:
    (relative area, accuracy) = exact, M4P0 (1.0, .98); M1P4 (.8, .97); M4P8 (.6, .975); M5P10 (.5, .90);
    M6P14 (.55, .90). M1P4 is dominated by M4P8, M6P14 by M5P10; the tie exact / M4P0 stays whole."""
    monkeypatch.setattr(sweeps, "relative_cost", lambda m, source: {
        "area": FIXED[m][1], "relative_area": FIXED[m][1] / 100, "energy": None, "relative_energy": None})
    result = sweeps.dse(spec, ["M4P0", "M1P4", "M4P8", "M5P10", "M6P14"], FixedRun(progress=False))
    assert result["summary"]["pareto_before"] == ["M5P10", "M4P8", "exact", "M4P0"]
    assert result["summary"]["optimum_before"]["multiplier"] == "exact"  # no loss allowed: nothing cheaper
    tolerant = sweeps.dse(spec, ["M4P0", "M1P4", "M4P8", "M5P10", "M6P14"], FixedRun(progress=False),
                          tolerance=0.005)
    assert tolerant["summary"]["optimum_before"]["multiplier"] == "M4P8"
    assert tolerant["summary"]["optimum_before"]["area_saving"] == pytest.approx(0.4)
    rows = {r["multiplier"]: r for r in result["rows"]}
    assert rows["M4P8"]["relative_area"] == pytest.approx(0.6) and rows["M4P0"]["mcnemar_p"] == 1.0


def test_resilience_layers_and_lossless_table(spec, tmp_path):
    run = Run(cache=ResultCache(tmp_path), workers=1, progress=False, test_limit=LIMIT)
    result = resilience(spec, ("w_bits", "multiplier"), ("network", "layers"), run, tolerance=0.0,
                        logics=(4,), degrees={"w_bits": (8, 2), "multiplier": (0, 14)})
    layers = result["layers"]
    assert layers == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert len(result["rows"]) == 2 * 2 * (1 + len(layers))
    base = result["baseline"]["accuracy"]
    for row in result["rows"]:
        if (row["technique"], row["degree"]) in (("w_bits", 8), ("multiplier", 0)):
            assert row["accuracy"] == base and row["delta"] == 0  # degree 8 / P0 is the baseline itself
    for row in result["table"]:
        assert row["lossless_degree"] is not None  # the un-approximated degree is always lossless
        if row["technique"] == "w_bits":
            assert row["lossless_degree"] in (2, 8)
    # 2-bit weights everywhere must cost accuracy that one layer alone does not lose more of
    network = [r for r in result["rows"] if r["scope"] == "network" and r["technique"] == "w_bits" and r["degree"] == 2]
    assert network[0]["accuracy"] < base
    assert result["noise"]["samples"] == LIMIT


def test_parse_multipliers():
    assert len(parse_multipliers("M1-M6,P2-P14")) == 42
    assert parse_multipliers("m4p8, M2P14") == ["M4P8", "M2P14"]
    from netsim.errors import NetsimError
    with pytest.raises(NetsimError, match="LOA8"):
        parse_multipliers("LOA8")
    with pytest.raises(NetsimError):
        parse_multipliers("M9P4")


def test_sweeps_share_cached_points(spec, tmp_path):
    cache = ResultCache(tmp_path)
    run = Run(cache=cache, workers=1, progress=False, test_limit=32)
    dse(spec, ["M4P8"], run)
    entries = sorted(tmp_path.glob("*/*.json"))
    assert len(entries) == 2  # the exact baseline and M4P8
    result = resilience(spec, ("multiplier",), ("network",), run, logics=(4,), degrees={"multiplier": (8,)})
    assert sorted(tmp_path.glob("*/*.json")) == entries  # both points came from the DSE's results
    assert result["rows"][0]["technique"] == "multiplier" and result["rows"][0]["logic"] == "M4"
    assert result["baseline"]["technique"] == "baseline"


def test_blocks_are_approximated_alone(spec, tmp_path):
    run = Run(cache=ResultCache(tmp_path), workers=1, progress=False, test_limit=32)
    result = resilience(spec, ("w_bits",), ("network",), run, degrees={"w_bits": (8, 1)},
                        blocks={"CB": "conv*", "FB": "fc*"})
    assert [r["scope"] for r in result["rows"]] == ["network", "network", "CB", "CB", "FB", "FB"]
    assert result["layers"][-2:] == ["CB", "FB"]
    from netsim.errors import NetsimError
    with pytest.raises(NetsimError, match="matches none of the layers"):
        resilience(spec, ("w_bits",), ("network",), run, blocks={"X": "bn*"})
