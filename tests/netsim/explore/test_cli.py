"""The commands end to end on a small LeNet-5 slice: files written, configs exported, errors one line."""
import json
import os
import subprocess
import sys

import pytest

from netsim import Config
from netsim.explore.report import write_report
from tests.utils import ROOT


def netsim(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "netsim", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_dse_search_report(lenet_checkpoint, tmp_path):
    out = tmp_path / "out"
    common = ["--weights", str(lenet_checkpoint), "-o", str(out), "--test-limit", "64", "--workers", "1",
              "--no-progress"]
    done = netsim("dse", "lenet5", "--multipliers", "M4P0,M4P8,M5P10", "--finetune-epochs", "1",
                  "--finetune-samples", "256", *common)
    assert done.returncode == 0, done.stderr
    table = json.loads((out / "dse.json").read_text())
    assert [r["multiplier"] for r in table["rows"]] == ["exact", "M4P0", "M4P8", "M5P10"]
    assert all("accuracy_finetuned" in r for r in table["rows"])
    assert (out / "dse.csv").read_text().splitlines()[0].startswith("multiplier,")
    assert (out / "dse.png").stat().st_size > 10_000
    assert table["summary"]["coverage"]["macs_left_exact"] == 0 and "coverage: " in done.stdout

    floor = max(0.01, table["summary"]["baseline_accuracy"] - 0.05)  # the exact network is above it
    done = netsim("search", "lenet5", "--min-accuracy", f"{floor:.4f}", "--choices", "exact,M4P8,M5P10",
                  "--trials", "6", "--population", "3", *common)
    assert done.returncode == 0, done.stderr
    search = json.loads((out / "search.json").read_text())
    front = search["front"]
    assert front, "the exact network is always feasible at this floor"
    feasible = [t for t in json.loads((out / "search_trials.json").read_text())["rows"] if t["feasible"]]
    assert len(feasible) >= 1
    for point in front:  # the definition, written out: no feasible trial is as good on both axes and better on one
        assert not any(t["accuracy"] >= point["accuracy"] and t["cost"] <= point["cost"]
                       and (t["accuracy"] > point["accuracy"] or t["cost"] < point["cost"]) for t in feasible)
    assert [p["cost"] for p in front] == sorted(p["cost"] for p in front)
    for point in front:
        config = Config.load(out / point["config"])  # each point's configuration loads back
        settings = {e.match: e.settings["multiplier"] for e in config.layers}
        if not settings:  # a uniform assignment is written as [default]
            settings = {name: config.default["multiplier"] for name in point["assignment"]}
        assert settings == point["assignment"]
    trials = (out / "search_trials.csv").read_text().splitlines()
    assert len(trials) == 1 + 6

    done = netsim("resilience", "lenet5", "--technique", "a_bits", "--scope", "network", *common)
    assert done.returncode == 0, done.stderr
    assert (out / "resilience_a_bits.png").exists()

    done = netsim("report", str(out))
    assert done.returncode == 0, done.stderr
    text = (out / "report.md").read_text()
    for heading in ("## Resilience", "## Multiplier design-space exploration", "## Per-layer mixed assignment search"):
        assert heading in text
    assert "![dse.png](dse.png)" in text
    assert text.count("MAC coverage: ") == 2  # resilience and DSE
    assert "<table>" in (out / "report.html").read_text()


def test_rerun_uses_the_cache(lenet_checkpoint, tmp_path):
    args = ["dse", "lenet5", "--weights", str(lenet_checkpoint), "-o", str(tmp_path), "--multipliers", "M4P8",
            "--test-limit", "32", "--workers", "1", "--no-progress"]
    assert netsim(*args).returncode == 0
    entries = sorted(p.name for p in (tmp_path / "cache").glob("*/*.json"))
    first = json.loads((tmp_path / "dse.json").read_text())["rows"]
    assert netsim(*args).returncode == 0
    assert sorted(p.name for p in (tmp_path / "cache").glob("*/*.json")) == entries
    again = json.loads((tmp_path / "dse.json").read_text())["rows"]
    assert [r["accuracy"] for r in again] == [r["accuracy"] for r in first]


@pytest.mark.parametrize("args,message", [
    (["dse", "lenet5", "--weights", "missing.pt"], "checkpoint 'missing.pt' not found"),
    (["dse", "lenet5", "--weights", "W", "--multipliers", "LOA8"], "LOA8 is an adder, not a multiplier"),
    (["dse", "lenet5", "--weights", "W", "--finetune-epochs", "-1"], "argument --finetune-epochs: must be an integer in 0..100000"),
    (["resilience", "lenet5", "--weights", "W", "--technique", "bits"], "--technique must be among"),
    (["resilience", "lenet5", "--weights", "W", "--logics", "7"], "--logics must name logics among 1..6"),
    (["resilience", "lenet5", "--weights", "W", "--workers", "0"], "argument --workers: must be an integer in 1..1024"),
    (["search", "lenet5", "--weights", "W", "--min-accuracy", "97"], "argument --min-accuracy: must be a finite number in (0, 1]"),
    (["report", "nowhere"], "report directory 'nowhere' does not exist"),
])
def test_errors_are_one_line(args, message, lenet_checkpoint, tmp_path):
    args = [str(lenet_checkpoint) if a == "W" else a for a in args]
    if "report" not in args:
        args += ["-o", str(tmp_path / "o")]
    done = netsim(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netsim: error: ") and message in lines[0], done.stderr


def test_missing_ray_is_a_one_line_error(lenet_checkpoint, tmp_path, monkeypatch, capsys):
    """Ray is installed with the test extra: its absence is simulated, in process."""
    import importlib.util

    from netsim.cli import main
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m, *a: None if m == "ray" else find_spec(m, *a))
    code = main(["dse", "lenet5", "--weights", str(lenet_checkpoint), "--executor", "ray", "--test-limit", "8",
                 "-o", str(tmp_path / "o"), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("netsim: error: the ray executor needs Ray"), lines


def test_report_needs_a_sweep(tmp_path):
    from netsim.errors import NetsimError
    with pytest.raises(NetsimError, match="holds no resilience.json, dse.json or search.json"):
        write_report(tmp_path)
