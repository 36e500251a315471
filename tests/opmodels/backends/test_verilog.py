"""The Verilog backend: structure, every op rendered, the checked-in rtl/generated/ is current,
and pyverilog reads back the interface the IR declares. Simulation checks are in tests/verification."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import opmodels
from opmodels import catalog
from opmodels import ir
from opmodels import artifacts
from opmodels.backends import verilog
from opmodels.verification import HDL_DIR, fixtures

ROOT = Path(__file__).resolve().parents[3]
GENERATED = ROOT / "rtl" / "generated"


def test_module_header_and_ports():
    text = artifacts.verilog_source(opmodels.get("M4P8"))
    op = opmodels.get("M4P8")
    assert "module opm_m4p8 (a, b, y);" in text
    assert "input signed [7:0] a;" in text and "input signed [7:0] b;" in text
    assert "output signed [15:0] y;" in text
    assert f"// IR hash: {op.ir_hash}" in text
    assert "parameters: width=8, cell=ABE2, p=8, neg=cell" in text
    assert "NMED 9.3074e-03" in text and "WCE 939" in text


def test_rows_and_cells_are_named_wires():
    text = artifacts.verilog_source(opmodels.get("M4P8"))
    for j in range(4):
        for wire in (f"pp{j}", f"one{j}", f"two{j}", f"neg{j}", f"pp{j}_approx"):
            assert f"assign {wire} = " in text, wire
    loa = artifacts.verilog_source(opmodels.get("LOA8"))
    assert "module opm_loa8 (a, b, y);" in loa and "input signed [31:0] a;" in loa
    assert "output signed [31:0] y;" in loa
    assert "assign low_or = a[7:0] | b[7:0];" in loa
    assert "assign carry_in = a[7] & b[7];" in loa
    # readable: one operation per assign, no line longer than a screen
    assert max(map(len, text.splitlines())) < 140


def test_small_module_golden():
    y = opmodels.get("LOA2W4")
    body = " ".join(verilog.render_body(y.graph))
    assert " ".join(body.split()) == (
        "wire [1:0] low_or; assign low_or = a[1:0] | b[1:0]; wire [1:0] n7; assign n7 = a[3:2] + b[3:2]; "
        "wire carry_in; assign carry_in = a[1] & b[1]; wire [1:0] n11; assign n11 = {{1{1'b0}}, carry_in}; "
        "wire [1:0] upper_sum; assign upper_sum = n7 + n11; wire [3:0] n13; assign n13 = {upper_sum, low_or}; "
        "assign y = n13;")


def test_every_op_is_rendered():
    assert verilog.RENDERED_OPS == set(ir.Op)
    op = fixtures.every_op()
    assert {n.op for n in op.graph.nodes} == set(ir.Op)
    text = artifacts.verilog_source(op)
    assert "module opm_everyop (a, b, y);" in text


def test_unknown_op_fails_loudly(monkeypatch):
    monkeypatch.delitem(verilog.RENDER, ir.Op.XOR)
    with pytest.raises(verilog.VerilogError, match="no rule for op"):
        artifacts.verilog_source(opmodels.get("M1P2"))


def test_wire_names_are_legal_and_unique():
    nodes = [ir.Node(ir.Op.INPUT, (), 4, True, name="a"), ir.Node(ir.Op.INPUT, (), 4, True, name="b"),
             ir.Node(ir.Op.XOR, (0, 1), 4, name="wire"), ir.Node(ir.Op.AND, (0, 1), 4, name="wire"),
             ir.Node(ir.Op.OR, (2, 3), 4, name="y"), ir.Node(ir.Op.ADD, (4, 0), 4, name="2x")]
    text = "\n".join(verilog.render_body(ir.Graph(nodes, {"y": 5})))
    assert "assign w_wire = a ^ b;" in text and "assign w_wire_1 = a & b;" in text
    assert "assign y_1 = w_wire | w_wire_1;" in text and "assign w_2x = y_1 + a;" in text


def test_checked_in_rtl_is_current():
    ids = [i for i in opmodels.catalog_ids() if i not in catalog._registered]  # not other tests' operators
    assert sorted(p.stem for p in GENERATED.glob("*.v")) == sorted(ids), "run: opmodels gen-verilog --all -o rtl/generated"
    for op_id in ids:
        assert (GENERATED / f"{op_id}.v").read_text() == artifacts.verilog_source(opmodels.get(op_id)), \
            f"rtl/generated/{op_id}.v is stale; run: opmodels gen-verilog --all -o rtl/generated"


def test_cli_writes_one_file(tmp_path):
    from opmodels.cli import main
    assert main(["gen-verilog", "M4P8", "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "M4P8.v").read_text() == artifacts.verilog_source(opmodels.get("M4P8"))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["M4P8.v"]  # no temporary left behind


def test_cli_unknown_id_is_one_line(capsys):
    from opmodels.cli import main
    assert main(["gen-verilog", "Q4P8"]) == 2
    assert capsys.readouterr().err.startswith("opmodels: error: unknown operator 'Q4P8'")


def test_no_simulator_imports_at_import_time():
    code = ("import sys, opmodels, opmodels.cli, opmodels.verify, opmodels.verification, opmodels.hdl_interface, "
            "opmodels.backends.verilog;"
            "opmodels.cli.build_parser();"
            "bad = [m for m in ('cocotb', 'cocotb_tools', 'pyverilog', 'torch', 'numba') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog is not installed")
def test_all_rtl_is_plain_verilog_2005():
    files = sorted(GENERATED.glob("*.v")) + sorted(HDL_DIR.glob("*.v"))
    result = subprocess.run(["iverilog", "-g2005", "-Wall", "-o", os.devnull, *map(str, files)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
@pytest.mark.parametrize("files, top", [([GENERATED / "M4P8.v"], "opm_m4p8"), ([GENERATED / "LOA8.v"], "opm_loa8"),
                                        ([HDL_DIR / "opm_booth_r4.v", HDL_DIR / "opm_loa.v", HDL_DIR / "opm_mac.v"],
                                         "opm_mac")])
def test_rtl_synthesises(tmp_path, files, top):
    paths = " ".join(map(str, files))
    result = subprocess.run(["yosys", "-p", f"read_verilog {paths}; synth -top {top}; stat"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    cells = [int(line.split()[-1]) for line in result.stdout.splitlines() if "Number of cells" in line]
    assert cells and cells[-1] > 10  # a real netlist, not an empty module
