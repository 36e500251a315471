"""pyverilog reads every generated and hand-written module; the parsed interface is the IR's."""
import os
import shutil
from pathlib import Path

import pytest

import opmodels
from opmodels import catalog
from opmodels import OpmodelsError
from opmodels.backends import verilog
from opmodels.hdl_interface import Port, check_ports, expected_ports, interface, modules, parse
from opmodels.verification import HDL_DIR

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.rtl, pytest.mark.skipif(shutil.which("iverilog") is None,
                                                  reason="iverilog (the preprocessor pyverilog uses) is missing")]


def test_every_generated_module_parses_with_the_ir_interface():
    cwd_before = sorted(os.listdir("."))
    ids = [i for i in opmodels.catalog_ids() if i not in catalog._registered]  # not other tests' operators
    found = modules(parse([ROOT / "rtl" / "generated" / f"{i}.v" for i in ids]))
    for op_id in ids:
        op = opmodels.get(op_id)
        module = found[verilog.module_name(op_id)]
        assert interface(module) == expected_ports(op), op_id
    assert sorted(os.listdir(".")) == cwd_before  # pyverilog wrote nothing into the current directory


@pytest.mark.parametrize("top, op_id, params", [("opm_booth_r4", "EXACT", {}), ("opm_booth_r4", "EXACTW16", {"N": 16}),
                                                ("opm_loa", "LOA8", {"L": 8}), ("opm_loa", "LOA3W12", {"W": 12})])
def test_handwritten_modules_have_the_operator_interface(top, op_id, params):
    source = HDL_DIR / f"{top}.v"
    ports = check_ports([source], top, opmodels.get(op_id), params=params, require_signed=True)
    assert [p.name for p in ports] == ["a", "b", "y"]


def test_handwritten_mac_interface():
    found = modules(parse([HDL_DIR / f for f in ("opm_mac.v", "opm_booth_r4.v", "opm_loa.v")]))
    assert interface(found["opm_mac"], {"N": 8, "W": 32}) == [
        Port("clk", "input", 1, False), Port("clear", "input", 1, False), Port("enable", "input", 1, False),
        Port("a", "input", 8, True), Port("b", "input", 8, True), Port("acc", "output", 32, True)]


def test_interface_mismatches_are_named(tmp_path):
    source = tmp_path / "m.v"
    source.write_text("module m (input [7:0] a, input [7:0] b, output [14:0] y);\nassign y = a * b;\nendmodule\n")
    op = opmodels.get("M4P8")
    with pytest.raises(OpmodelsError, match="port y is 15 bits, M4P8 needs 16"):
        check_ports([source], "m", op)
    with pytest.raises(OpmodelsError, match="no module 'n' in .* \\(modules: m\\)"):
        check_ports([source], "n", op)
    with pytest.raises(OpmodelsError, match="no input port 'x'"):
        check_ports([source], "m", op, names=("x", "b", "y"))
    source.write_text("module m (input [7:0] a, input [7:0] b, output [15:0] y);\nassign y = a * b;\nendmodule\n")
    with pytest.raises(OpmodelsError, match="port a must be signed"):
        check_ports([source], "m", op, require_signed=True)
