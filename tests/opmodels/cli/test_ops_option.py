"""``--ops DIR`` on every ``opmodels`` command that takes an operator, and ``$OPMODELS_OPS``: operators
stored with ``opmodels.store`` are found by id by show, metrics, list, gen-lut, gen-verilog, cost and
verify; a stored file can never shadow a built-in id. In process (``cli.main``), for speed."""
from __future__ import annotations

import json

import numpy as np
import pytest

import opmodels
from opmodels import cli, opsdir
from tests.opmodels.test_operands import build, truncated
from tests.utils import requires_icarus


def exact_signed_8x8(a, b):
    """a * b for signed 8-bit operands: shift-add of b's bits, the top row subtracted (its weight is -2^7)."""
    wide = a.sext(16).as_unsigned()
    rows = [(wide << i) & b[i].as_unsigned().replicate(16) for i in range(8)]
    total = rows[0]
    for row in rows[1:7]:
        total = total + row
    return (total - rows[7]).as_signed()


@pytest.fixture
def ops(tmp_path):
    directory = tmp_path / "ops"
    opmodels.store(build("u8x8"), directory)
    opmodels.store(opmodels.Operator.from_function("sexact8", "multiplier", 8, exact_signed_8x8), directory)
    return directory


def run(capsys, *argv):
    status = cli.main([*map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_show_and_metrics_find_stored_operators_through_ops(ops, capsys):
    status, out, _ = run(capsys, "show", "u8x8", "--ops", ops)
    assert status == 0 and "u8x8: unsigned 8 x unsigned 8 -> unsigned 16 multiplier" in out
    status, out, _ = run(capsys, "metrics", "u8x8", "sexact8", "--ops", ops, "--json")
    assert status == 0
    records = json.loads(out)
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    assert records["u8x8"]["ER"] == pytest.approx(np.mean(truncated(a, b, 4) != a * b))
    assert records["sexact8"]["ER"] == 0 and records["sexact8"]["WCE"] == 0


def test_without_ops_the_id_is_unknown_and_the_environment_variable_finds_it(ops, capsys, monkeypatch):
    monkeypatch.delenv(opsdir.ENVIRONMENT, raising=False)
    status, _, err = run(capsys, "show", "u8x8")
    assert status == 2 and "unknown operator 'u8x8'" in err and err.count("\n") == 1
    monkeypatch.setenv(opsdir.ENVIRONMENT, str(ops))
    status, out, _ = run(capsys, "show", "u8x8")
    assert status == 0 and "unsigned 8 x unsigned 8" in out


def test_list_shows_the_stored_operators(ops, capsys):
    status, out, _ = run(capsys, "list", "--ops", ops)
    assert status == 0 and "u8x8" in out and "sexact8" in out and "M4P8" in out


def test_gen_lut_and_gen_verilog_of_stored_operators(ops, tmp_path, capsys):
    status, _, err = run(capsys, "gen-lut", "sexact8", "u8x8", "--ops", ops, "-o", tmp_path / "luts")
    assert status == 0, err
    values = np.arange(-128, 128)
    table = np.load(tmp_path / "luts" / "sexact8.npy")
    assert np.array_equal(table[values[:, None] & 255, values[None, :] & 255], values[:, None] * values[None, :])
    patterns = np.arange(256)
    unsigned = np.load(tmp_path / "luts" / "u8x8.npy")
    assert np.array_equal(unsigned, truncated(patterns[:, None], patterns[None, :], 4))
    status, _, err = run(capsys, "gen-verilog", "u8x8", "--ops", ops, "-o", tmp_path / "rtl")
    assert status == 0 and (tmp_path / "rtl" / "u8x8.v").is_file()


def test_a_stored_file_never_shadows_a_built_in_id(ops, capsys):
    impostor = opmodels.Operator("M4P8", "multiplier", opmodels.get("EXACT").graph)
    opsdir.save(impostor, ops)  # below the catalog's refusal: a file put there by hand
    status, out, _ = run(capsys, "show", "M4P8", "--ops", ops)
    assert status == 0 and opmodels.get("M4P8").ir_hash in out and impostor.ir_hash not in out


def test_an_ops_directory_that_is_not_one_is_refused_in_one_line(tmp_path, capsys):
    status, _, err = run(capsys, "show", "u8x8", "--ops", tmp_path / "missing")
    assert status == 2 and "is not a directory" in err and err.count("\n") == 1


@requires_icarus
@pytest.mark.rtl
def test_verify_simulates_a_stored_operator(ops, capsys):
    status, out, err = run(capsys, "verify", "u8x8", "--ops", ops, "--vectors", "2000")
    assert status == 0, out + err
    assert "0 with mismatches" in out


@pytest.mark.skipif(__import__("shutil").which("yosys") is None, reason="Yosys is not installed")
def test_cost_of_a_stored_operator(ops, capsys):
    status, out, err = run(capsys, "cost", "sexact8", "--ops", ops, "--samples", "200", "--json")
    assert status == 0, err
    (record,) = json.loads(out)
    assert record["id"] == "sexact8" and record["baseline"] == "EXACT" and record["area_nand2"] > 0
