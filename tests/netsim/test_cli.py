"""The netsim command: train, eval (text and --json), zoo, and one-line errors with exit code 2."""
import json
import os
import subprocess
import sys

import pytest

from tests.utils import ROOT


def netsim(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "netsim", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "lenet5.pt"
    run = netsim("train", "lenet5", "-o", str(path), "--epochs", "1", "--limit", "512", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "fp32 test accuracy" in run.stdout and path.exists()
    return path


def test_eval_json(tiny_checkpoint, tmp_path):
    config = tmp_path / "approx.toml"
    config.write_text('[default]\nmultiplier = "M4P8"\n\n[[layer]]\nmatch = "fc3"\nmultiplier = "exact"\n'
                      'adder = "LOA8"\n')
    run = netsim("eval", "lenet5", "--weights", str(tiny_checkpoint), "--config", str(config), "--limit", "64",
                 "--calibration-batches", "1", "--json", "--no-progress", "--strict")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert set(report["accuracy"]) == {"fp32", "quantized_exact", "approximate"}
    assert report["samples"] == 64
    layers = {row["layer"]: row for row in report["layers"]}
    assert layers["conv1"]["multiplier"] == "M4P8" and layers["fc3"]["adder"] == "LOA8"
    # coverage: every MAC of LeNet-5 is simulated, fc3 (exact multiplier, LOA adder) is approximate too
    cover = report["coverage"]
    assert report["left_exact"] == [] and cover["macs_left_exact"] == 0
    assert cover["macs_total"] == cover["macs_simulated"] == sum(row["macs"] for row in report["layers"])
    assert cover["macs_approximate"] == cover["macs_total"]


def test_eval_text_with_flags(tiny_checkpoint):
    run = netsim("eval", "lenet5", "--weights", str(tiny_checkpoint), "--multiplier", "M2P14", "--adder", "LOA8",
                 "--limit", "32", "--calibration-batches", "1", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "quantized exact" in run.stdout and "M2P14" in run.stdout and "LOA8" in run.stdout
    assert "coverage: " in run.stdout and "left exact 0 (0.0%)" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["eval", "lenet5", "--weights", "absent.pt"], "checkpoint 'absent.pt' not found"),
    (["eval", "lenet9", "--weights", "x.pt"], "unknown model 'lenet9'"),
    (["eval", "lenet5", "--weights", "x.pt", "--multiplier", "M4P9"], "p must be an even integer"),
    (["eval", "lenet5", "--weights", "x.pt", "--a-bits", "20"], "a_bits must be an integer in 1..16"),
    (["eval", "lenet5", "--weights", "x.pt", "--config", "absent.toml"], "cannot read config"),
    (["train", "resnet18", "-o", "r.pt"], "give --data cifar10:<dir>"),
    (["train", "lenet5"], "the following arguments are required: -o/--output"),
    (["train", "lenet5", "-o", "no/such/dir/l.pt"], "directory 'no/such/dir' does not exist"),
])
def test_errors_are_one_line(args, message, tmp_path):
    run = netsim(*args, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.startswith("netsim: error: ") and message in run.stderr, run.stderr
    assert run.stderr.count("\n") == 1


def test_bad_config_line_reaches_the_user(tiny_checkpoint, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[default]\nmultiplier = "M4P8"\n\n[[layer]]\nmatch = "conv7"\n')
    run = netsim("eval", "lenet5", "--weights", str(tiny_checkpoint), "--config", str(config), "--no-progress")
    assert run.returncode == 2 and f"{config}:4: match = 'conv7' matches no layer" in run.stderr


def test_zoo_list():
    run = netsim("zoo")
    assert run.returncode == 0 and "resnet18-imagenet" in run.stdout
