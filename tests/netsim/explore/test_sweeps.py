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
    cover = result["coverage"]  # LeNet-5: every MAC simulated, none left exact
    assert cover["macs_left_exact"] == 0 and cover["left_exact"] == [] and cover["macs_total"] == cover["macs_simulated"] > 0


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


# ---- the cache key is the content; what is read back is checked

def _digit_folder(root, counts=(("train", 64), ("test", 40))) -> None:
    """A ``folder:`` dataset of real digits: <root>/<split>/<digit>/<index>.npy."""
    import numpy as np
    import torch

    from netsim import data
    for split, count in counts:
        images, labels = data.load("mnist5k", split).tensors
        for digit in range(10):
            (root / split / str(digit)).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = (images[i, 0] * 255).round().to(torch.uint8).numpy()
            np.save(root / split / str(int(labels[i])) / f"{i:04d}.npy", pixels)


def _in_load_order(root, split="test") -> list:
    return [path for digit in sorted(p.name for p in (root / split).iterdir())
            for path in sorted((root / split / digit).iterdir())]


def test_a_changed_test_label_is_recomputed_and_unchanged_data_is_cached(lenet_checkpoint, tmp_path, monkeypatch):
    folder = tmp_path / "digits"
    _digit_folder(folder)
    evaluated = []
    real = sweeps.run_evaluation
    monkeypatch.setattr(sweeps, "run_evaluation", lambda payload: evaluated.append(1) or real(payload))

    def sweep():
        spec = ModelSpec.of("lenet5", lenet_checkpoint, f"folder:{folder}")
        return dse(spec, ["M4P8"], Run(cache=ResultCache(tmp_path / "cache"), workers=1, progress=False))

    first = sweep()
    assert len(evaluated) == 2
    assert sweep()["rows"] == first["rows"] and len(evaluated) == 2  # unchanged: all from the cache

    # relabel one test digit the exact network gets right: its accuracy must drop by one sample
    hits = analysis.unpack_hits(first["baseline"]["hits"])
    image = _in_load_order(folder)[hits.index(True)]
    image.rename(folder / "test" / str((int(image.parent.name) + 1) % 10) / image.name)
    second = sweep()
    assert len(evaluated) == 4  # both points recomputed
    samples = first["baseline"]["samples"]
    assert second["baseline"]["correct"] == first["baseline"]["correct"] - 1
    assert second["summary"]["baseline_accuracy"] == pytest.approx(first["summary"]["baseline_accuracy"] - 1 / samples)

    # the calibration reads the training images: changing one recomputes too
    import numpy as np
    calibrated = _in_load_order(folder, "train")[0]
    np.save(calibrated, 255 - np.load(calibrated))
    sweep()
    assert len(evaluated) == 6
    sweep()
    assert len(evaluated) == 6


def test_a_worker_refuses_data_changed_since_the_sweep_started(lenet_checkpoint, tmp_path):
    from netsim.errors import NetsimError
    from netsim.explore.jobs import run_evaluation
    folder = tmp_path / "digits"
    _digit_folder(folder, (("train", 16), ("test", 8)))
    spec = ModelSpec.of("lenet5", lenet_checkpoint, f"folder:{folder}")
    job = Run(progress=False).job(spec, sweeps.baseline_config())
    image = _in_load_order(folder)[0]
    image.rename(folder / "test" / str((int(image.parent.name) + 1) % 10) / image.name)
    with pytest.raises(NetsimError, match=r"digits changed since the sweep started \(test differ\)"):
        run_evaluation(job.payload)


def test_the_key_holds_the_code_and_the_operators(spec, monkeypatch):
    import opmodels
    from netsim import Config
    from netsim.explore import jobs
    fingerprints = jobs.Fingerprints()
    assert fingerprints.operators(Config.uniform(multiplier="M4P8", adder="LOA8")) == {
        "LOA8": opmodels.get("LOA8").ir_hash, "M4P8@8": opmodels.get("M4P8").ir_hash}
    wide = fingerprints.operators(Config.uniform(multiplier="M4P8").with_layer("fc1", w_bits=12))
    assert wide["M4P8@12"] == opmodels.get("M4P8W16").ir_hash  # 12-bit operands run on the 16-bit operator
    run = Run(progress=False, test_limit=8)
    key = run.job(spec, sweeps.baseline_config()).key
    monkeypatch.setattr(jobs, "source_hash", lambda: "other code")
    assert run.job(spec, sweeps.baseline_config()).key != key


CORRUPTIONS = {
    "accuracy 5.0": lambda entry: {**entry, "accuracy": 5.0},
    "a list": lambda entry: [],
    "empty": lambda entry: {},
    "counts disagree": lambda entry: {**entry, "correct": entry["correct"] - 1},
    "hits of another run": lambda entry: {**entry, "hits": "3:7"},
    "a tag overridden": lambda entry: {**entry, "multiplier": "M5P10"},
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_an_invalid_cache_entry_is_recomputed_with_a_warning(spec, tmp_path, capsys, corruption):
    import json
    run = Run(cache=ResultCache(tmp_path), workers=1, progress=False, test_limit=16)
    first = dse(spec, ["M4P8"], run)
    entry = run.cache.path(run.job(spec, sweeps.baseline_config()).key)
    entry.write_text(json.dumps(CORRUPTIONS[corruption](json.loads(entry.read_text()))))
    capsys.readouterr()
    again = dse(spec, ["M4P8"], Run(cache=ResultCache(tmp_path), workers=1, progress=False, test_limit=16))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"netsim: warning: cache entry {entry} is invalid"), lines
    assert again["summary"]["baseline_accuracy"] == first["summary"]["baseline_accuracy"] <= 1
    assert [r["accuracy"] for r in again["rows"]] == [r["accuracy"] for r in first["rows"]]
    assert again["summary"]["optimum_before"] == first["summary"]["optimum_before"]
