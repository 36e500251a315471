"""Per-layer configuration: precedence, validation with line numbers, operator width choice."""
import dataclasses

import pytest

import opmodels
from netsim.config import Config, LayerSettings, operator_for
from netsim.errors import NetsimError

LAYERS = {"conv1": {"Conv2d"}, "features.0": {"Conv2d"}, "features.3": {"Conv2d"},
          "fc1": {"Linear"}, "fc2": {"Linear"}}

EXAMPLE = """\
[default]                      # every Conv2d / Linear
multiplier = "M4P8"
adder = "exact"
w_bits = 8
a_bits = 8

[[layer]]
match = "conv1"                # exact name
multiplier = "exact"
a_bits = 10

[[layer]]
match = "features.*"           # glob
multiplier = "M2P14"

[[layer]]
match = "Conv2d"               # type: weaker than the glob and the name although it comes last
multiplier = "M1P2"
adder = "LOA8"
"""


def test_precedence_default_type_glob_name():
    resolved = Config.loads(EXAMPLE).resolve(LAYERS)
    assert resolved["conv1"].multiplier == "exact" and resolved["conv1"].a_bits == 10
    assert resolved["conv1"].adder == "LOA8"  # the name entry did not set it, the type entry did
    assert resolved["features.0"].multiplier == "M2P14" and resolved["features.0"].adder == "LOA8"
    assert resolved["fc1"].multiplier == "M4P8" and resolved["fc1"].adder == "exact"


def test_later_entries_of_one_kind_refine_earlier_ones():
    config = (Config.uniform(multiplier="M4P8").with_layer("fc*", multiplier="M1P2", w_bits=6)
              .with_layer("fc2", a_bits=4).with_layer("f*", multiplier="M3P4"))
    resolved = config.resolve(LAYERS)
    assert resolved["fc1"].multiplier == "M3P4" and resolved["fc1"].w_bits == 6
    assert (resolved["fc2"].multiplier, resolved["fc2"].w_bits, resolved["fc2"].a_bits) == ("M3P4", 6, 4)
    assert resolved["conv1"].multiplier == "M4P8"


def test_type_names_include_base_classes():
    import torch.nn as nn

    class MyLinear(nn.Linear):
        pass

    resolved = Config().with_layer("Linear", multiplier="M4P2").resolve({"head": MyLinear(2, 2)})
    assert resolved["head"].multiplier == "M4P2"


@pytest.mark.parametrize("text, line, words", [
    ('[default]\nmultiplier = "M4P8"\nw_bitz = 8\n', 3, ["unknown key 'w_bitz'", "w_bits"]),
    ('[default]\nmultiplier = "M4P9"\n', 2, ["M4P9", "p must be an even integer"]),
    ('[default]\n\n[[layer]]\nmatch = "fc1"\nmultiplier = "M4Q8"\n', 5, ["M4Q8", "did you mean"]),
    ('[[layer]]\nmatch = "fc1"\n\na_bits = 17\n', 4, ["a_bits must be an integer in 1..16", "17"]),
    ('[default]\nw_bits = 0\n', 2, ["w_bits", "1..16"]),
    ('[default]\nadder = "M4P8"\n', 2, ["not an adder"]),
    ('[default]\nmultiplier = "LOA8"\n', 2, ["not a multiplier"]),
    ('[default]\nrecode = "input"\n', 2, ["recode", "'weight', 'activation'"]),
    ('[defaults]\nw_bits = 4\n', 1, ["unknown table 'defaults'"]),
    ('[default]\n[[layer]]\nmultiplier = "exact"\n', 2, ["needs match"]),
])
def test_errors_name_the_line(text, line, words):
    with pytest.raises(NetsimError) as error:
        Config.loads(text, "approx.toml")
    message = str(error.value)
    assert f"approx.toml:{line}:" in message, message
    for word in words:
        assert word in message, message


def test_pattern_matching_nothing_names_its_line():
    config = Config.loads('[default]\n\n[[layer]]\nmatch = "fc1"\n\n[[layer]]\nmatch = "conv9"\n', "a.toml")
    with pytest.raises(NetsimError, match=r"a\.toml:6: match = 'conv9' matches no layer.*conv1, features\.0"):
        config.resolve(LAYERS)


def test_invalid_toml_is_a_clean_error():
    with pytest.raises(NetsimError, match="not valid TOML"):
        Config.loads("[default\n", "x.toml")


def test_load_missing_file(tmp_path):
    with pytest.raises(NetsimError, match="cannot read config"):
        Config.load(tmp_path / "absent.toml")


def test_operator_width_follows_the_bit_width():
    assert operator_for("exact", 8) is None
    assert operator_for("M4P8", 8).id == "M4P8"
    assert operator_for("m4p8", 3).id == "M4P8"
    assert operator_for("M4P8", 9).id == "M4P8W16"
    assert operator_for("M4P8", 16).id == "M4P8W16"
    assert operator_for("EXACT", 12) is None  # the exact multiplier, computed by torch
    assert operator_for("M1P0", 12).id == "M1P0W16"
    assert operator_for("M4P12W16", 10).id == "M4P12W16"
    with pytest.raises(NetsimError, match="too narrow for 12-bit"):
        operator_for("M4P8W10", 12)


def test_too_narrow_explicit_operator_is_an_error_at_load():
    with pytest.raises(NetsimError, match=r"approx\.toml \[default\].*too narrow"):
        Config.loads('[default]\nmultiplier = "M4P8W8"\na_bits = 12\n', "approx.toml")


def test_accumulator_width():
    assert LayerSettings().accumulator_width() == 32
    assert LayerSettings(a_bits=12).accumulator_width() == 64
    assert LayerSettings(adder="LOA8W24").accumulator_width() == 24
    assert LayerSettings(acc_width=20).accumulator_width() == 20
    with pytest.raises(NetsimError, match="contradicts"):
        Config.uniform(adder="LOA8", acc_width=24)


def test_toml_round_trip_and_exact_variant():
    config = Config.loads(EXAMPLE)
    again = Config.loads(config.to_toml())
    assert again.resolve(LAYERS) == config.resolve(LAYERS)
    exact = config.exact().resolve(LAYERS)
    assert all(s.is_exact for s in exact.values())
    assert exact["conv1"].a_bits == 10 and exact["fc1"].w_bits == 8


def test_registered_operator_by_id():
    op = dataclasses.replace(opmodels.BoothR4(8, "ABE1", 6, "exact"), id="MYMUL")
    opmodels.register(op)
    assert operator_for("MYMUL", 8) is op
    with pytest.raises(NetsimError, match="too narrow"):
        operator_for("MYMUL", 9)


def test_import_netsim_and_build_configs_without_torch():
    import subprocess
    import sys

    from tests.utils import ROOT
    code = ("import sys, netsim; c = netsim.Config.uniform(multiplier='M4P8').with_layer('fc*', a_bits=4); "
            "c.to_toml(); assert 'torch' not in sys.modules and 'numba' not in sys.modules, sorted(sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_each_key_is_validated_once(monkeypatch):
    import netsim.config as package
    seen = []
    check = package.check_value
    monkeypatch.setattr(package, "check_value",
                        lambda key, value, where, *ops: seen.append((key, where)) or check(key, value, where, *ops))
    Config.loads(EXAMPLE, "approx.toml")
    # 4 keys in [default], 2 + 1 + 2 in the [[layer]] entries, each once and with its own line
    assert sorted(seen) == sorted([("multiplier", "approx.toml:2"), ("adder", "approx.toml:3"),
                                   ("w_bits", "approx.toml:4"), ("a_bits", "approx.toml:5"),
                                   ("multiplier", "approx.toml:9"), ("a_bits", "approx.toml:10"),
                                   ("multiplier", "approx.toml:14"),
                                   ("multiplier", "approx.toml:18"), ("adder", "approx.toml:19")])
