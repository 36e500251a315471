"""RTL co-verification (pytest entry; the cocotb benches are opmodels/verification/benches/).

Generated modules and the hand-written reference RTL are simulated with cocotb on Icarus and compared
with the model: every pair for 8-bit operators, seeded random pairs plus corners for wider ones, and
streams through the clocked MAC. Mutated modules must be caught with a counterexample.
"""
import re
from pathlib import Path

import numpy as np
import pytest

import opmodels
from opmodels import artifacts
from opmodels.cli import main
from opmodels.verification import HDL_DIR, fixtures, mac_model
from opmodels.verify import verify, verify_mac
from tests.utils import requires_icarus

get = opmodels.get
pytestmark = [pytest.mark.rtl, requires_icarus]  # before get_runner, which would exit the process


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("op_id", ["M4P8", "M6P14", "M1P2", "EXACT"])
def test_generated_8bit_operator_matches_lut(op_id):
    result = verify(get(op_id))
    assert (result.vectors, result.mismatches) == (65536, 0)


def test_generated_loa_width_32_random_and_corners():
    result = verify(get("LOA8"), vectors=50000, seed=1)
    assert result.vectors > 50000 and result.mismatches == 0


def test_generated_16bit_multiplier_random_and_corners():
    result = verify(get("M4P20W16"), vectors=20000, seed=2)
    assert result.vectors > 20000 and result.mismatches == 0


def test_every_ir_op_simulates_like_the_interpreter():
    result = verify(fixtures.every_op())  # not registered: the bench needs no id
    assert (result.vectors, result.mismatches) == (65536, 0)


def test_cli_verifies_an_operator_loaded_with_from(capsys):
    assert main(["verify", "--from", "opmodels.verification.fixtures:every_op"]) == 0
    assert "EVERYOP" in capsys.readouterr().out


def test_handwritten_booth_is_exact():
    result = verify(get("EXACT"), verilog=HDL_DIR / "opm_booth_r4.v", top="opm_booth_r4")
    assert (result.vectors, result.mismatches) == (65536, 0)


def test_handwritten_loa_matches_generated_model():
    result = verify(get("LOA6W16"), verilog=HDL_DIR / "opm_loa.v", top="opm_loa", params={"W": 16, "L": 6},
                    vectors=20000)
    assert result.vectors > 20000 and result.mismatches == 0


@pytest.mark.parametrize("mul, add, rtl", [("M4P8", "LOA8", "generated"), ("EXACT", "LOA0", "generated"),
                                           ("EXACT", "LOA6", "handwritten")])
def test_mac_streams_match_spec_section_8(mul, add, rtl):
    result = verify_mac(get(mul), get(add), rtl=rtl, streams=12, k=48, seed=3)
    assert result.vectors == 12 * 48 and result.mismatches == 0


def test_mac_streams_can_tell_adders_apart():
    """The bench's streams are long and wide enough that a LOA accumulator differs from an exact one
    (so a MAC built with the wrong adder would be caught)."""
    mul, rng = opmodels.get("M4P8"), np.random.default_rng(3)
    a, b = rng.integers(-128, 128, 48), rng.integers(-128, 128, 48)
    assert mac_model(mul, opmodels.get("LOA8"), a, b) != mac_model(mul, opmodels.get("LOA0"), a, b)


# -- mutations: each must be reported as a mismatch with a counterexample -----------------------
def _mutant(tmp_path, body_edit) -> Path:
    text = artifacts.verilog_source(opmodels.get("M4P8"))
    return _write(tmp_path / "mutant.v", body_edit(text))


def _assert_caught(result, op_id="M4P8"):
    assert result.mismatches > 0 and result.counterexamples
    op = opmodels.get(op_id)
    for a, b, expected, got in result.counterexamples:
        assert int(op.evaluate(a, b)) == expected != got


def test_mutation_one_gate_changed(tmp_path):
    gate = re.compile(r"assign two1 = (\w+) & (\w+);")  # row 1's "two" encoder gate: AND -> OR
    source = _mutant(tmp_path, lambda t: gate.sub(r"assign two1 = \1 | \2;", t, count=1))
    assert re.search(r"assign two1 = \w+ \| \w+;", source.read_text())
    _assert_caught(verify(get("M4P8"), verilog=source, top="opm_m4p8", work_dir=tmp_path / "build"))


def test_mutation_operands_swapped(tmp_path):
    inner = _mutant(tmp_path, lambda t: t)
    wrapper = _write(tmp_path / "swapped.v", "module swapped (a, b, y);\n  input signed [7:0] a, b;\n"
                     "  output signed [15:0] y;\n  opm_m4p8 inner (.a(b), .b(a), .y(y));\nendmodule\n")
    _assert_caught(verify(get("M4P8"), verilog=[inner, wrapper], top="swapped", work_dir=tmp_path / "build"))


def test_mutation_output_bit_stuck(tmp_path, capsys):
    inner = _mutant(tmp_path, lambda t: t)
    wrapper = _write(tmp_path / "stuck.v", "module stuck (a, b, y);\n  input signed [7:0] a, b;\n"
                     "  output signed [15:0] y;\n  wire [15:0] p;\n  opm_m4p8 inner (.a(a), .b(b), .y(p));\n"
                     "  assign y = {p[15:6], 1'b1, p[4:0]};\nendmodule\n")
    assert main(["verify", "M4P8", "--verilog", str(inner), "--verilog", str(wrapper), "--top", "stuck",
                 "--keep", str(tmp_path / "build")]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and re.search(r"a=-?\d+ b=-?\d+ expected=-?\d+ got=-?\d+", out)


# -- the command line ---------------------------------------------------------------------------
def test_cli_verify_reports_vectors_and_exit_0(capsys):
    assert main(["verify", "M3P6"]) == 0
    out = capsys.readouterr().out
    assert "65536 vectors" in out and "0 mismatches" in out and " ok" in out


def test_cli_renamed_ports(tmp_path, capsys):
    inner = _mutant(tmp_path, lambda t: t)
    wrapper = _write(tmp_path / "renamed.v", "module renamed (x, w, p);\n  input signed [7:0] x, w;\n"
                     "  output signed [15:0] p;\n  opm_m4p8 inner (.a(x), .b(w), .y(p));\nendmodule\n")
    args = ["verify", "M4P8", "--verilog", str(inner), "--verilog", str(wrapper), "--top", "renamed",
            "--keep", str(tmp_path / "build")]
    assert main(args + ["--port-a", "x", "--port-b", "w", "--port-y", "p"]) == 0
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "module renamed has no input port 'a'" in err


def test_cli_file_that_does_not_compile(tmp_path, capsys):
    broken = _write(tmp_path / "broken.v", "module broken (a, b, y);\n  input [7:0] a, b;\n  output [15:0] y;\n"
                    "  assign y = a * ;\nendmodule\n")
    assert main(["verify", "M4P8", "--verilog", str(broken), "--top", "broken", "--keep", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not compile" in err and "full log:" in err
    log = Path(err.split("full log: ")[1].rstrip(")\n"))
    assert "syntax error" in log.read_text()


def test_cli_wrong_width(tmp_path, capsys):
    narrow = _write(tmp_path / "narrow.v", "module narrow (a, b, y);\n  input signed [7:0] a, b;\n"
                    "  output signed [7:0] y;\n  assign y = a * b;\nendmodule\n")
    assert main(["verify", "M4P8", "--verilog", str(narrow), "--top", "narrow", "--keep", str(tmp_path)]) == 2
    assert "port y is 8 bits, M4P8 needs 16" in capsys.readouterr().err


def test_cli_missing_iverilog(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["verify", "M4P8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "iverilog (Icarus Verilog) is not on PATH" in err


@pytest.mark.slow
def test_whole_catalog(capsys):
    """Acceptance: the 48 8-bit multipliers, EXACT and LOA0..LOA14 (width 32), 0 mismatches."""
    assert main(["verify", "--all", "-j", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{len(opmodels.catalog_ids())} operator(s)" in out and ", 0 with mismatches" in out


@pytest.mark.slow
def test_16bit_multipliers_200k(capsys):
    for op_id in ("M4P20W16", "M1P12W16", "EXACTW16"):
        result = verify(get(op_id))
        assert result.vectors > 200_000 and result.mismatches == 0, op_id


def test_cli_mac(capsys):
    assert main(["verify", "M2P6", "--mac", "LOA4", "--streams", "4", "-k", "16"]) == 0
    assert "64 products       0 mismatching streams" in capsys.readouterr().out
    assert main(["verify", "M2P6", "--mac", "LOA4", "--mac-rtl", "handwritten"]) == 2
    assert "the hand-written MAC has an exact Booth multiplier and a LOA; M2P6 and LOA4 are not" \
        in capsys.readouterr().err


def test_a_simulation_that_never_ends_is_stopped_by_the_time_limit(tmp_path, monkeypatch, capsys):
    rtl = tmp_path / "loop.v"  # a process that loops forever at one simulation time
    rtl.write_text("module loopmul (input signed [7:0] a, input signed [7:0] b, output signed [15:0] y);\n"
                   "  reg x = 0;\n  always @(a) while (a == a) x = ~x;\n  assign y = a * b;\nendmodule\n")
    monkeypatch.setenv("OPMODELS_TOOL_TIMEOUT", "5")
    assert main(["verify", "M4P8", "--verilog", str(rtl), "--top", "loopmul"]) == 2
    assert "did not finish within 5 s (OPMODELS_TOOL_TIMEOUT)" in capsys.readouterr().err
