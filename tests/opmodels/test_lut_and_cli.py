"""LUT layout and files, the CLI's commands and its one-line errors, import hygiene."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import opmodels
from opmodels import artifacts, catalog, lut
from tests.utils import ROOT, all_pairs, run_cli


def test_lut_layout_row_is_multiplicand_pattern():
    op = opmodels.get("M4P8")
    table = op.lut()
    assert table.dtype == np.int32 and table.shape == (256, 256) and table.flags.c_contiguous
    a, b = all_pairs(8)
    assert np.array_equal(table[a & 0xFF, b & 0xFF], op.evaluate(a, b))
    assert table[(-1) & 0xFF, (-1) & 0xFF] == 85 and table[3, 5] == 255  # spec values, not symmetric
    assert table[100, (-3) & 0xFF] == 148


@pytest.mark.parametrize("op_id", ["EXACT", *(i for i in opmodels.multipliers_8bit() if i.endswith("P0"))])
def test_p0_tables_are_exact_products(op_id):
    a, b = all_pairs(8)
    assert np.array_equal(opmodels.get(op_id).lut()[a & 0xFF, b & 0xFF], a * b)


def test_gen_lut_writes_table_record_and_c_header(tmp_path):
    result = run_cli("gen-lut", "M4P8", "-o", str(tmp_path), "--format", "c")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["M4P8.h", "M4P8.json", "M4P8.npy"]
    table = lut.load(tmp_path / "M4P8.npy")
    assert np.array_equal(table, opmodels.get("M4P8").lut())
    meta = json.loads((tmp_path / "M4P8.json").read_text())
    assert meta["id"] == "M4P8" and meta["ir_hash"] == opmodels.get("M4P8").ir_hash
    assert meta["parameters"] == {"width": 8, "cell": "ABE2", "p": 8, "neg": "cell"}
    assert meta["metrics"]["WCE"] == 939 and meta["sha256"] == artifacts.sha256(table)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_c_header_compiles_and_holds_the_table(tmp_path):
    assert run_cli("gen-lut", "M2P14", "-o", str(tmp_path), "--format", "c").returncode == 0
    (tmp_path / "main.c").write_text('#include <stdio.h>\n#include "M2P14.h"\n'
                                     "int main(void){long s=0;for(int i=0;i<256;i++)for(int j=0;j<256;j++)"
                                     's+=(long)opm_m2p14_lut[i][j]*(i*256+j+1);printf("%ld %d\\n",s,'
                                     "opm_m2p14_lut[255][255]);return 0;}\n")
    subprocess.run(["cc", "-O0", "-o", str(tmp_path / "main"), str(tmp_path / "main.c")], check=True)
    out = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True, check=True).stdout.split()
    table = opmodels.get("M2P14").lut().astype(np.int64)
    assert int(out[0]) == int((table.ravel() * np.arange(1, 65537)).sum())
    assert int(out[1]) == int(table[255, 255])


def test_gen_lut_all_writes_every_8bit_multiplier(tmp_path):
    result = run_cli("gen-lut", "--all", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = {p.stem for p in tmp_path.glob("*.npy")}
    assert written == {"EXACT", *opmodels.multipliers_8bit()} and len(written) == 49
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


@pytest.mark.parametrize(("args", "message"), [
    (["gen-lut", "M4P9"], "p must be an even integer in 0..14 for width 8, not 9"),
    (["gen-lut", "M4P16"], "p must be an even integer in 0..14 for width 8, not 16"),
    (["gen-lut", "M4P8W7"], "width must be an even integer in 4..32, not 7"),
    (["gen-lut", "M4P8W34"], "width must be an even integer in 4..32, not 34"),
    (["gen-lut", "M7P8"], "logic M7 does not exist"),
    (["gen-lut", "M4Q8"], "unknown operator 'M4Q8'; did you mean"),
    (["gen-lut", "M4P8", "--format", "xlsx"], "invalid choice: 'xlsx'"),
    (["gen-lut", "M4P20W16"], "lookup tables exist for 8-bit operators only"),
    (["gen-lut", "LOA40"], "LOA l must be an integer in 0..31 for width 32, not 40"),
    (["gen-lut", "M4P8", "M4P9"], "not 9"),
    (["metrics", "M4P8", "--samples", "0"], "argument --samples: takes an integer in 1..1,000,000,000, not '0'"),
    (["show", "--from", "nosuchmodule:x"], "cannot import 'nosuchmodule'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    result = run_cli(*args, "-o", str(out)) if args[0] == "gen-lut" else run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("opmodels: error: ")
    assert message in result.stderr
    assert not out.exists()


def test_unwritable_output_path_is_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli("gen-lut", "M4P8", "-o", str(blocker / "luts"))
    assert result.returncode == 2 and "cannot create the directory" in result.stderr
    assert blocker.read_text() == "not a directory"


def test_list_show_and_metrics():
    listing = run_cli("list").stdout.splitlines()
    ids = [line.split()[0] for line in listing[1:]]
    assert ids == catalog.builtin_ids()  # a fresh process has no registrations
    assert any(line.startswith("M4P8 ") and "9.3074e-03" in line and "0.9167" in line for line in listing)
    shown = run_cli("show", "M4P8").stdout
    assert "cell=ABE2 p=8 neg=cell" in shown and opmodels.get("M4P8").ir_hash in shown
    assert "row 3" in shown and "WCE 939" in shown
    metrics = json.loads(run_cli("metrics", "M4P20W16", "--samples", "5000", "--seed", "0", "--json").stdout)
    again = opmodels.get("M4P20W16").metrics(samples=5000, seed=0)
    assert metrics["M4P20W16"]["MED"] == again.MED and not metrics["M4P20W16"]["exhaustive"]


def test_bring_your_own_operator_works_with_every_command(tmp_path):
    source = "examples.truncated_array:trunc6"
    assert "TruncArray" in run_cli("show", "--from", source).stdout
    assert run_cli("gen-lut", "--from", source, "-o", str(tmp_path)).returncode == 0
    from examples.truncated_array import truncated_array
    op = truncated_array(8, 6)
    assert np.array_equal(np.load(tmp_path / "TRUNC6W8.npy"), op.lut())
    a, b = all_pairs(8)
    assert np.array_equal(truncated_array(8, 0).evaluate(a, b), a * b)  # nothing truncated: exact
    error = op.evaluate(a, b) - a * b
    assert error.max() <= 0 < -error.min() <= 6 * 2**6  # dropped bits only lower the product
    opmodels.register(op)
    assert opmodels.get("TRUNC6W8") is op


def test_import_is_light():
    code = ("import sys, opmodels; opmodels.get('M4P8'); "
            "print(sorted(m for m in ('torch', 'cocotb', 'numba', 'pyverilog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
