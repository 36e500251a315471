"""Imported operators in netsim, found through ``--ops DIR`` and the config's ``[operators]`` table:
LeNet-5 runs on an exact and an unsigned multiplier stored with opmodels.store; the exact one gives
the quantized-exact model bit for bit; the unsigned one runs with unsigned activations."""
import json

import pytest
import torch

import opmodels
from netsim import cli, data, zoo
from netsim.config import Config
from netsim.network import calibrate, convert
from tests.opmodels.cli.test_ops_option import exact_signed_8x8
from tests.opmodels.test_operands import build


@pytest.fixture(scope="module")
def lenet(lenet_checkpoint):
    """The session's briefly trained LeNet-5 checkpoint (tests/netsim/conftest.py)."""
    return lenet_checkpoint


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ops")
    opmodels.store(opmodels.Operator.from_function("sexact8", "multiplier", 8, exact_signed_8x8), directory)
    opmodels.store(build("u8x8"), directory)
    return directory


def run(capsys, *argv):
    status = cli.main([*map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_an_imported_exact_multiplier_gives_the_quantized_exact_model_bit_for_bit(lenet, ops, capsys):
    status, out, err = run(capsys, "eval", "lenet5", "--weights", lenet, "--ops", ops, "--multiplier", "sexact8",
                           "--limit", "300", "--calibration-batches", "2", "--json", "--no-progress")
    assert status == 0, err
    report = json.loads(out)
    assert report["accuracy"]["approximate"] == report["accuracy"]["quantized_exact"]
    assert {row["multiplier"] for row in report["layers"]} == {"sexact8"}
    # the logits themselves, not only the accuracy
    model = zoo.build("lenet5", weights=str(lenet)).eval()
    calibration = calibrate(model, data.loader(data.load("mnist5k", "train"), 256), batches=1)
    config = Config(default={"multiplier": "sexact8"}, ops=(ops,))
    x = next(iter(data.loader(data.load("mnist5k", "test"), 128)))[0]
    with torch.no_grad():
        approximate = convert(model, config, calibration)(x)
        exact = convert(model, config.exact(), calibration)(x)
    assert torch.equal(approximate, exact)


def test_an_unsigned_multiplier_runs_lenet5_with_unsigned_activations(lenet, ops, tmp_path, capsys):
    config = tmp_path / "unsigned.toml"
    config.write_text('[default]\nmultiplier = "u8x8"\nweight_offset = true\n\n[operators]\nops = ["ops"]\n')
    (tmp_path / "ops").symlink_to(ops, target_is_directory=True)
    status, out, err = run(capsys, "eval", "lenet5", "--weights", lenet, "--config", config, "--limit", "300",
                           "--calibration-batches", "2", "--no-progress")
    assert status == 0, err
    config = Config.load(config)
    model = convert(zoo.build("lenet5", weights=str(lenet)), config,
                    calibrate(zoo.build("lenet5", weights=str(lenet)), data.loader(data.load("mnist5k", "train"), 256), batches=1))
    described = [line for line in str(model).splitlines() if "multiplier=u8x8" in line]
    assert len(described) == 5 and all("activations unsigned, weight offset 128" in line for line in described)
    approximate = float(out.split("approximate")[1].split()[0])
    quantized = float(out.split("quantized exact")[1].split()[0])
    assert approximate > quantized - 0.1  # 4 truncated product bits cost little accuracy


def test_without_weight_offset_the_unsigned_multiplier_is_refused_in_one_line(lenet, ops, capsys):
    status, _, err = run(capsys, "eval", "lenet5", "--weights", lenet, "--ops", ops, "--multiplier", "u8x8",
                         "--no-progress")
    assert status == 2 and err.count("\n") == 1 and "set weight_offset = true" in err
    status, out, err = run(capsys, "eval", "lenet5", "--weights", lenet, "--ops", ops, "--multiplier", "u8x8",
                           "--weight-offset", "--limit", "50", "--calibration-batches", "1", "--no-progress")
    assert status == 0, err


def test_ops_must_name_a_directory(lenet, tmp_path, capsys):
    status, _, err = run(capsys, "eval", "lenet5", "--weights", lenet, "--ops", tmp_path / "none",
                         "--multiplier", "sexact8")
    assert status == 2 and "is not a directory" in err and err.count("\n") == 1


@pytest.mark.slow  # a real process with a worker process: about a minute on the shared machine
def test_dse_finds_imported_multipliers_in_its_worker_processes(lenet, ops, tmp_path):
    """A real process, so the local executor's worker processes must find the directory too."""
    import os
    import subprocess
    import sys
    from tests.utils import ROOT
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("OPMODELS_OPS", None)
    run_ = subprocess.run([sys.executable, "-m", "netsim", "dse", "lenet5", "--weights", str(lenet), "--ops", str(ops),
                           "--multipliers", "M4P8,sexact8,u8x8", "--test-limit", "200", "--workers", "1",
                           "-o", str(tmp_path / "out"), "--no-progress"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run_.returncode == 0, run_.stderr
    rows = {row["multiplier"]: row for row in json.loads((tmp_path / "out" / "dse.json").read_text())["rows"]}
    assert set(rows) == {"exact", "M4P8", "sexact8", "u8x8"}  # u8x8's weights take the offset
    assert rows["sexact8"]["accuracy"] == rows["exact"]["accuracy"]  # the exact product, imported
    assert rows["sexact8"]["logic"] == "sexact8" and rows["sexact8"]["p"] is None


UNSIGNED_RTL = """// an unsigned 8 x 8 multiplier whose low 3 product bits are dropped, with its own port names
module umul8_cut3 (input [7:0] X, input [7:0] W, output [15:0] P);
  wire [15:0] full = X * W;
  assign P = {full[15:3], 3'b000};
endmodule
"""


@pytest.mark.rtl
@pytest.mark.skipif(__import__("shutil").which("yosys") is None or __import__("shutil").which("iverilog") is None,
                    reason="opmodels import needs Yosys and Icarus Verilog")
def test_an_imported_rtl_multiplier_runs_lenet5_through_ops(lenet, tmp_path, capsys):
    """`opmodels import` proves the RTL against its own simulation (all 65,536 pairs) and stores it;
    netsim finds it through --ops and runs it with unsigned activations and offset weights."""
    import numpy as np
    from opmodels import cli as opmodels_cli
    source = tmp_path / "umul8_cut3.v"
    source.write_text(UNSIGNED_RTL)
    status = opmodels_cli.main(["import", str(source), "--top", "umul8_cut3", "--port-a", "X", "--port-b", "W",
                                "--port-y", "P", "--unsigned", "-o", str(tmp_path / "ops")])
    assert status == 0, capsys.readouterr().err
    op = opmodels.get("umul8_cut3", ops=tmp_path / "ops")
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    assert np.array_equal(op.evaluate(a, b), (a * b) >> 3 << 3)  # the RTL's function, written here
    capsys.readouterr()
    status, out, err = run(capsys, "eval", "lenet5", "--weights", lenet, "--ops", tmp_path / "ops", "--multiplier",
                           "umul8_cut3", "--weight-offset", "--limit", "200", "--calibration-batches", "1",
                           "--json", "--no-progress")
    assert status == 0, err
    report = json.loads(out)
    assert {row["multiplier"] for row in report["layers"]} == {"umul8_cut3"}
    assert report["accuracy"]["approximate"] > report["accuracy"]["quantized_exact"] - 0.1


def test_an_imported_table_runs_lenet5_through_ops_as_its_source_does(lenet, tmp_path, capsys):
    """M4P8's table exported by gen-lut and imported back by `opmodels import --table` (a TABLE graph,
    no Booth circuit left) gives, through --ops, the same LeNet-5 accuracy as M4P8 itself."""
    from opmodels.cli import main as opmodels_main
    assert opmodels_main(["gen-lut", "M4P8", "--format", "npy", "-o", str(tmp_path / "luts")]) == 0
    assert opmodels_main(["import", "--table", str(tmp_path / "luts" / "M4P8.npy"), "--format", "npy",
                          "--id", "m4p8_table", "-o", str(tmp_path / "ops")]) == 0
    capsys.readouterr()
    reports = {}
    for multiplier in ("M4P8", "m4p8_table"):
        status, out, err = run(capsys, "eval", "lenet5", "--weights", lenet, "--ops", tmp_path / "ops",
                               "--multiplier", multiplier, "--limit", "300", "--calibration-batches", "2",
                               "--json", "--no-progress")
        assert status == 0, err
        reports[multiplier] = json.loads(out)["accuracy"]
    assert reports["m4p8_table"] == reports["M4P8"]
    # the logits themselves, and they are not the exact ones (the approximation shows)
    model = zoo.build("lenet5", weights=str(lenet)).eval()
    calibration = calibrate(model, data.loader(data.load("mnist5k", "train"), 256), batches=1)
    x = next(iter(data.loader(data.load("mnist5k", "test"), 128)))[0]
    logits = {}
    for multiplier in ("M4P8", "m4p8_table"):
        config = Config(default={"multiplier": multiplier}, ops=(tmp_path / "ops",))
        with torch.no_grad():
            logits[multiplier] = convert(model, config, calibration)(x)
            exact = convert(model, config.exact(), calibration)(x)
    assert torch.equal(logits["m4p8_table"], logits["M4P8"]) and not torch.equal(logits["M4P8"], exact)
