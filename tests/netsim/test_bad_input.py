"""Bad input to the ``netsim`` command: every case exits 2 with exactly one line on stderr,
``netsim: error: ...`` naming the bad value, no traceback, and no file written or changed.

The commands run in-process (``netsim.cli.main``) on tiny synthetic data: a ``folder:`` dataset of a
few 28x28 ``.npy`` images and zoo models with random weights saved here. Hypothesis fuzzes the
config parser and the numeric options with a fixed seed.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsim import Config, checkpoint, zoo
from netsim.cli import main
from netsim.errors import NetsimError


def _folder(root, classes: int, shape=(28, 28), per_class: int = 1, payload=None):
    for split in ("train", "test"):
        for c in range(classes):
            directory = root / split / f"class{c:02d}"
            directory.mkdir(parents=True)
            for i in range(per_class):
                path = directory / f"{i}.npy"
                if payload is None:
                    np.save(path, np.full(shape, 10 * c + i, dtype=np.uint8))
                else:
                    path.write_bytes(payload)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Everything the cases read: data sets, weights, configs, sweep results; plus an empty cwd."""
    r = tmp_path_factory.mktemp("bad_input")
    torch.manual_seed(0)
    _folder(r / "good", 2)
    _folder(r / "twelve", 12)
    _folder(r / "rgb32", 2, shape=(32, 32, 3))
    _folder(r / "garbage", 1, payload=b"this is not an array")
    _folder(r / "mismatch", 2)
    (r / "mismatch" / "test" / "class00").rename(r / "mismatch" / "test" / "other")  # same count, other names
    (r / "mnist200").mkdir()  # IDX files whose labels go up to 200
    for images, labels in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                           ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        (r / "mnist200" / images).write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(2 * 784))
        (r / "mnist200" / labels).write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 3, 200]))
    (r / "mnistgz").mkdir()  # files named .gz that are not gzip
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (r / "mnistgz" / f"{name}.gz").write_bytes(b"garbage")
    (r / "layout").mkdir()
    np.save(r / "layout" / "0.npy", np.zeros((28, 28), np.uint8))  # images without train/test/<class>/
    checkpoint.save(r / "lenet5.pt", zoo.build("lenet5"), "lenet5")
    checkpoint.save(r / "mlp.pt", zoo.build("mlp"), "mlp")
    nan_model = zoo.build("lenet5")
    with torch.no_grad():
        nan_model.fc3.bias[3] = math.nan
    checkpoint.save(r / "nan.pt", nan_model, "lenet5")
    (r / "empty.pt").write_bytes(b"")
    (r / "garbage.pt").write_bytes(b"\x00\x01garbage\xff" * 10)
    (r / "binary.toml").write_bytes(bytes(range(128, 256)))
    (r / "empty.toml").write_text("")
    (r / "unknown.toml").write_text('[default]\nmultiplyer = "M4P8"\n')
    (r / "wrongtype.toml").write_text('[default]\nw_bits = "8"\n')
    (r / "afile").write_text("a file, not a directory\n")
    for name, text in (("dse_truncated", '{"summary": {"baseline_accuracy": 0.9'), ("dse_empty", ""),
                       ("dse_list", "[]"), ("dse_norows", '{"summary": {}, "rows": []}')):
        (r / name).mkdir()
        (r / name / "dse.json").write_text(text)
    (r / "dse_binary").mkdir()
    (r / "dse_binary" / "dse.json").write_bytes(bytes(range(256)))
    (r / "cwd").mkdir()
    return r


def _snapshot(directory) -> dict:
    """Every path under ``directory`` with its size and modification time."""
    found = {}
    for base, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(base, name)
            stat = os.stat(path)
            found[os.path.relpath(path, directory)] = (stat.st_size, stat.st_mtime_ns)
    return found


W = "{r}/lenet5.pt"
EXPLORE = ["--weights", W, "-o", "{r}/cwd/out", "--no-progress"]

# (argv with {r} for the fixture directory, text the one error line must contain)
CASES = [
    # ---- netsim train: model, data, numbers, output path
    (["train", "lenet9", "-o", "{r}/cwd/o.pt"], "unknown model 'lenet9'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "folder:{r}/missing"], "missing/train"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "folder:{r}/layout"], "layout/train"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "folder:{r}/garbage"], "0.npy"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "folder:{r}/twelve"], "12 classes but lenet5 has 10"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "folder:{r}/rgb32"], "3x32x32 (CxHxW), but lenet5 takes 1x28x28"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "folder:{r}/mismatch"],
     "the train and test splits have different classes (class00, class01 versus class01, other)"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "mnist:{r}/mnist200"], "has labels 3..200 but lenet5 has 10 outputs (labels 0..9)"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "mnist:{r}/mnistgz"],
     "train-images-idx3-ubyte.gz: cannot be read (Not a gzipped file"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "imagenet:{r}"], "unknown dataset 'imagenet:"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", "cifar10:{r}/good"], "data_batch_1"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--data", ""], "argument --data: must not be empty"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--lr", "nan"], "argument --lr: must be a finite number in (0, 10], not 'nan'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--lr=-1"], "argument --lr: must be a finite number in (0, 10], not '-1'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--lr", "0"], "not '0'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--lr", "1e30"], "not '1e30'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--lr", "inf"], "not 'inf'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--epochs", "0"], "argument --epochs: must be an integer in 1..100000, not '0'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--epochs=-3"], "argument --epochs: must be an integer in 1..100000, not '-3'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--epochs", "10000000000"], "not '10000000000'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--epochs", "nan"], "argument --epochs: must be an integer"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--batch-size", "0"], "argument --batch-size: must be an integer in 1.."),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--batch-size", "1e99"], "not '1e99'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--threads", "0"], "argument --threads: must be an integer in 1..1024, not '0'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--threads=-3"], "argument --threads: must be an integer in 1..1024, not '-3'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--threads", "100000"], "not '100000'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--seed=-1"], "argument --seed: must be an integer in 0..4294967295, not '-1'"),
    (["train", "lenet5", "-o", "{r}/cwd/o.pt", "--limit", "0"], "argument --limit: must be an integer in 1.."),
    (["train", "lenet5", "-o", ""], "argument -o/--output: the output file name must not be empty"),
    (["train", "lenet5", "-o", "{r}/cwd"], "cwd' is a directory"),
    (["train", "lenet5", "-o", "{r}/afile/o.pt"], "afile' is a file, not a directory"),
    (["train", "lenet5", "-o", "{r}/cwd/no/such/o.pt"], "directory '{r}/cwd/no/such' does not exist"),
    # ---- netsim eval: weights, configs, data, numbers
    (["eval", "lenet5", "--weights", "{r}/absent.pt"], "checkpoint '{r}/absent.pt' not found"),
    (["eval", "lenet5", "--weights", "{r}/empty.pt"], "empty.pt' is empty (0 bytes)"),
    (["eval", "lenet5", "--weights", "{r}/garbage.pt"], "garbage.pt is not a netsim checkpoint"),
    (["eval", "lenet5", "--weights", ""], "argument --weights: must not be empty"),
    (["eval", "lenet5", "--weights", "{r}/nan.pt"], "nan.pt: tensor 'fc3.bias' holds NaN or Inf values"),
    (["eval", "lenet5", "--weights", "{r}/mlp.pt"], "holds a mlp checkpoint, not lenet5"),
    (["eval", "lenet5", "--weights", W, "--config", "{r}/binary.toml"], "binary.toml' is not a UTF-8 text file"),
    (["eval", "lenet5", "--weights", W, "--config", "{r}/empty.toml"], "empty.toml' sets nothing"),
    (["eval", "lenet5", "--weights", W, "--config", "{r}/unknown.toml"], "unknown.toml:2: unknown key 'multiplyer'"),
    (["eval", "lenet5", "--weights", W, "--config", "{r}/wrongtype.toml"], "w_bits must be an integer in 1..16, not '8'"),
    (["eval", "lenet5", "--weights", W, "--config", "{r}/absent.toml"], "cannot read config '{r}/absent.toml'"),
    (["eval", "lenet5", "--weights", W, "--calibration-batches", "0"], "argument --calibration-batches: must be an integer"),
    (["eval", "lenet5", "--weights", W, "--limit=-5"], "argument --limit: must be an integer in 1..2147483647, not '-5'"),
    (["eval", "lenet5", "--weights", W, "--multiplier", "M4P9"], "p must be an even integer"),
    (["eval", "lenet5", "--weights", W, "--a-bits", "nan"], "argument --a-bits: invalid int value: 'nan'"),
    (["eval", "mlp", "--weights", "{r}/mlp.pt", "--data", "folder:{r}/twelve"], "12 classes but mlp has 10 outputs"),
    (["eval", "mlp", "--weights", "{r}/mlp.pt", "--data", "folder:{r}/rgb32"], "3x32x32 (CxHxW), but mlp takes 1x28x28"),
    # ---- explorations: argument validation (nothing runs, -o is not created)
    (["resilience", "lenet9", *EXPLORE], "unknown model 'lenet9'"),
    (["resilience", "lenet5", *EXPLORE, "--threads", "0"], "argument --threads: must be an integer in 1..1024, not '0'"),
    (["resilience", "lenet5", *EXPLORE, "--logics", "9"], "--logics must name logics among 1..6, not '9'"),
    (["resilience", "lenet5", *EXPLORE, "--technique", "speed"], "not 'speed'"),
    (["dse", "lenet5", *EXPLORE, "--workers", "0"], "argument --workers: must be an integer in 1..1024, not '0'"),
    (["dse", "lenet5", *EXPLORE, "--test-limit", "0"], "argument --test-limit: must be an integer in 1.."),
    (["dse", "lenet5", *EXPLORE, "--test-limit", "nan"], "argument --test-limit: must be an integer"),
    (["dse", "lenet5", *EXPLORE, "--tolerance", "nan"], "argument --tolerance: must be a finite number in [0, 1), not 'nan'"),
    (["dse", "lenet5", *EXPLORE, "--lr=-1"], "argument --lr: must be a finite number in (0, 10], not '-1'"),
    (["dse", "lenet5", *EXPLORE, "--finetune-epochs=-1"], "argument --finetune-epochs: must be an integer in 0..100000"),
    (["dse", "lenet5", *EXPLORE, "--finetune-samples", "0"], "argument --finetune-samples: must be an integer in 1.."),
    (["dse", "lenet5", "--weights", W, "-o", ""], "argument -o/--out: the output directory (use '.' for the current one) must not be empty"),
    (["dse", "lenet5", "--weights", W, "-o", "{r}/afile"], "'{r}/afile' is a file; give a directory"),
    (["dse", "lenet5", "--weights", W, "-o", "{r}/afile/sub"], "is under the file '{r}/afile'"),
    (["dse", "lenet5", "--weights", W, "-o", "{r}/cwd/out", "--cache", ""], "argument --cache: the output directory"),
    (["dse", "lenet5", *EXPLORE, "--dataset", "folder:{r}/missing"], "dataset directory '{r}/missing' not found"),
    (["dse", "lenet5", *EXPLORE, "--dataset", "folder:{r}/layout"], "layout/train' not found or without class"),
    (["dse", "lenet5", *EXPLORE, "--dataset", "folder:{r}/twelve"], "12 classes but lenet5 has 10 outputs"),
    (["dse", "lenet5", *EXPLORE, "--job-timeout", "0"], "argument --job-timeout: must be a finite number"),
    (["dse", "lenet5", *EXPLORE, "--job-timeout", "nan"], "argument --job-timeout: must be a finite number"),
    (["resilience", "lenet5", *EXPLORE, "--dataset", "folder:{r}/twelve"], "12 classes but lenet5 has 10 outputs"),
    (["dse", "lenet5", "--weights", "{r}/empty.pt", "-o", "{r}/cwd/out"], "empty.pt' is empty (0 bytes)"),
    (["dse", "lenet5", "--weights", "{r}/absent.pt", "-o", "{r}/cwd/out"], "checkpoint '{r}/absent.pt' not found"),
    (["dse", "lenet5", *EXPLORE, "--multipliers", "M4P9"], "--multipliers: M4P9: p must be an even integer"),
    (["search", "lenet5", *EXPLORE, "--min-accuracy", "0.9", "--choices", "M4P9"], "--choices: M4P9: p must be"),
    (["search", "lenet5", *EXPLORE, "--min-accuracy", "0.9", "--choices", "exact,"], "--choices 'exact,' names no multiplier"),
    (["search", "lenet5", *EXPLORE, "--min-accuracy", "0.9", "--choices", "exact,LOA8"], "--choices: LOA8 is an adder"),
    (["search", "lenet5", *EXPLORE, "--min-accuracy", "nan"], "argument --min-accuracy: must be a finite number in (0, 1], not 'nan'"),
    (["search", "lenet5", *EXPLORE, "--min-accuracy", "97"], "not '97'"),
    (["search", "lenet5", *EXPLORE, "--min-accuracy", "0.9", "--population", "1"], "argument --population: must be an integer in 2.."),
    (["search", "lenet5", *EXPLORE, "--min-accuracy", "0.9", "--trials", "0"], "argument --trials: must be an integer in 1.."),
    (["search", "lenet5", *EXPLORE, "--min-accuracy", "0.9", "--seed=-1"], "argument --seed: must be an integer in 0.."),
    # ---- netsim report: result files empty, truncated, garbage or of another structure
    (["report", "{r}/dse_truncated"], "dse_truncated/dse.json is not readable JSON"),
    (["report", "{r}/dse_empty"], "dse_empty/dse.json is empty"),
    (["report", "{r}/dse_binary"], "dse_binary/dse.json is not readable JSON"),
    (["report", "{r}/dse_list"], "dse_list/dse.json is not a result file of this netsim version"),
    (["report", "{r}/dse_norows"], "dse_norows/dse.json is not a result file of this netsim version"),
    (["report", "{r}/missing"], "report directory '{r}/missing' does not exist"),
    (["report", ""], "argument directory: must not be empty"),
]


@pytest.mark.parametrize("argv,message", CASES, ids=[f"{i:02d}-{a[0]}" for i, (a, _) in enumerate(CASES)])
def test_bad_input_is_one_line_and_writes_nothing(root, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(root / "cwd")
    argv = [a.format(r=root) for a in argv]
    before = _snapshot(root)
    threads = torch.get_num_threads()
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("netsim: error: "), captured.err
    assert message.format(r=root) in lines[0]
    assert lines[0].count("netsim: error") == 1 and "NetsimError" not in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert _snapshot(root) == before, "a refused command wrote or changed a file"
    assert torch.get_num_threads() == threads


def test_at_least_thirty_cases_over_every_command():
    assert len(CASES) >= 30
    assert {argv[0] for argv, _ in CASES} == {"train", "eval", "resilience", "dse", "search", "report"}


def test_calibration_with_nan_names_the_layer():
    """One NaN used to make every activation step 1.0 without a word."""
    import netsim
    model = zoo.build("lenet5")
    x = torch.rand(4, 1, 28, 28)
    x[2, 0, 3, 3] = math.nan
    with pytest.raises(NetsimError, match=r"calibration: the input of layer 'conv1' holds NaN or Inf") as error:
        netsim.calibrate(model, [x])
    assert "\n" not in str(error.value)


def test_calibration_with_weights_that_overflow_names_the_first_layer_that_sees_inf():
    import netsim
    model = zoo.build("mlp")
    with torch.no_grad():
        model.layers[0].weight.fill_(1e38)  # the first layer's output overflows to Inf
    with pytest.raises(NetsimError, match=r"layer 'layers.2'"):
        netsim.calibrate(model, [torch.ones(2, 1, 28, 28)])


def test_evaluation_refuses_non_finite_outputs():
    """Through the Python API no loader check stands in the way: the outputs are checked."""
    import netsim
    x = torch.rand(3, 1, 28, 28)
    x[1, 0, 0, 0] = math.inf
    with pytest.raises(NetsimError, match="outputs for batch 0 hold NaN or Inf"):
        netsim.evaluate(zoo.build("mlp"), [(x, torch.zeros(3, dtype=torch.long))], progress=False)


def test_a_finite_calibration_still_works():
    import netsim
    calibration = netsim.calibrate(zoo.build("mlp"), [torch.rand(2, 1, 28, 28)])
    assert 0 < calibration.input_range("fc", "max", 99.99, 8) < math.inf


# ---- Hypothesis: the config parser and the numeric options never end in another exception

_KEYS = ("multiplier", "adder", "w_bits", "a_bits", "recode", "w_granularity", "a_calibration", "percentile",
         "scale", "acc_width", "quantize", "match", "mystery")
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12) | st.sampled_from(["M4P8", "M4P8W16", "LOA8", "exact", "EXACT", "LOA8W24", "M9P99",
                                               "weight", "channel", "percentile", "pow2", "conv1", "*"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), children, max_size=3),
    max_leaves=6)


def _one_line_error_or_config(build):
    try:
        config = build()
    except NetsimError as error:
        assert "\n" not in str(error) and str(error)
        return None
    assert isinstance(config, Config)
    return config


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('[]=."\'#\n _-:{},0123456789') + list("defaultlayermatchw_bitsM4P8")),
               max_size=80) | st.text(max_size=60))
def test_fuzz_config_text(text):
    _one_line_error_or_config(lambda: Config.loads(text, "fuzz.toml"))


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4),
       st.lists(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=3) | _VALUES, max_size=3),
       st.sampled_from(["default", "layer", "both", "odd"]))
def test_fuzz_config_values(default, layers, shape):
    data = {"default": default, "layer": layers} if shape == "both" else \
        {"default": default} if shape == "default" else {"layer": layers} if shape == "layer" else \
        {"default": layers, "layer": default, "extra": 1}
    _one_line_error_or_config(lambda: Config.from_dict(data, "fuzz"))
    from netsim.config import toml
    if shape == "default" and all(not isinstance(v, (dict, type(None))) for v in default.values()):
        text = "[default]\n" + "".join(f"{k} = {toml.value(v)}\n" for k, v in default.items()
                                       if isinstance(v, (bool, int, str)) and not isinstance(v, float))
        _one_line_error_or_config(lambda: Config.loads(text, "fuzz.toml"))


_NUMBER_TEXT = (st.integers(-2**70, 2**70).map(str) | st.floats(allow_nan=True, allow_infinity=True).map(str)
                | st.sampled_from(["", " ", "1e3", "0x10", "1_000", "+5", "-0", "١٢", "nan", "-inf"])
                | st.text(max_size=6))


@settings(derandomize=True, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["train", "eval"]),
       option=st.sampled_from(["--lr", "--epochs", "--seed", "--batch-size", "--threads", "--limit",
                               "--calibration-batches", "--w-bits", "--a-bits"]),
       value=_NUMBER_TEXT)
def test_fuzz_train_and_eval_numeric_options(root, capsys, command, option, value):
    """train: the output directory does not exist; eval: the weights do not. So even good numbers stop
    before any training or evaluation, and the torch thread count is never changed."""
    if command == "train" and option in ("--calibration-batches", "--w-bits", "--a-bits"):
        option = "--lr"
    if command == "eval" and option in ("--lr", "--epochs", "--seed"):
        option = "--limit"
    where = ["-o", str(root / "cwd" / "no" / "o.pt")] if command == "train" else \
        ["--weights", str(root / "absent.pt")]
    threads = torch.get_num_threads()
    code = main([command, "lenet5", *where, "--no-progress", f"{option}={value}"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("netsim: error: "), err
    assert torch.get_num_threads() == threads


@settings(derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(["--threads", "--workers", "--test-limit", "--tolerance", "--lr", "--finetune-epochs",
                               "--finetune-samples"]),
       value=_NUMBER_TEXT)
def test_fuzz_explore_numeric_options(root, capsys, option, value):
    """An unknown multiplier stops dse after the options are parsed, before the weights are read."""
    code = main(["dse", "lenet5", "--weights", str(root / "lenet5.pt"), "-o", str(root / "cwd" / "fuzz"),
                 "--multipliers", "M4P9", f"{option}={value}"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("netsim: error: "), err
    assert not (root / "cwd" / "fuzz").exists()


def test_report_reads_a_sound_result(root, tmp_path):
    """The reading checks refuse only what is broken: a sound dse.json still makes a report."""
    summary = {"baseline_accuracy": 0.9, "tolerance": 0.0, "cost_source": None}
    rows = [{"multiplier": "M4P8", "relative_area": 0.5, "accuracy": 0.8, "mcnemar_p": 0.01}]
    (tmp_path / "dse.json").write_text(json.dumps({"summary": summary, "rows": rows}))
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").exists()
