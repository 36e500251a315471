"""`opmodels verify` on RTL in the styles of third-party libraries (tests/verification/rtl/, written for
these tests): a flat gate netlist with its own port names, behavioural assigns, a hierarchical design
over several files with a parameter, unsigned and 8 x 4 operators, a pipelined multiplier; and the
deliberately wrong ones, each refused in one line (exit 2, nothing written) or reported with
counterexamples.

The unsigned operators are built here with the DSL (shift-and-add) and pinned to numpy's products
first, so the RTL is checked against a model that does not come from the code under test alone.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import opmodels
from opmodels import Operator
from opmodels.cli import main
from opmodels.verify import verify
from tests.utils import ROOT, requires_icarus

RTL = Path(__file__).resolve().parent / "rtl"
pytestmark = [pytest.mark.rtl, requires_icarus]


def _shift_add(a, b, skip=()):
    """Unsigned a * b by shift-and-add over b's bits (``skip``: bits of b left out)."""
    width = a.width + b.width
    wide, total = a.zext(width), None
    for i in range(b.width):
        if i not in skip:
            row = (wide << i) & b[i].replicate(width)
            total = row if total is None else total + row
    return total


MUL8U = Operator.from_function("MUL8U", "multiplier", 8, _shift_add, signed=False)
MUL8X4U = Operator.from_function("MUL8X4U", "multiplier", (8, 4), _shift_add, signed=False)
TRUNC8U = Operator.from_function("TRUNC8U", "multiplier", 8, lambda a, b: _shift_add(a, b, skip=(0,)), signed=False)
EXACT = opmodels.get("EXACT")


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    from opmodels import catalog
    for op in (MUL8U, MUL8X4U, TRUNC8U):  # the CLI takes ids: the test's operators are registered for it
        monkeypatch.setitem(catalog._registered, op.id, op)


def test_the_test_operators_are_the_products_numpy_computes():
    a, b = np.arange(256)[:, None], np.arange(256)[None, :]
    assert np.array_equal(MUL8U.lut(), a * b)
    assert np.array_equal(TRUNC8U.lut(), a * (b & 0xFE))
    assert np.array_equal(MUL8X4U.evaluate(a, np.arange(16)[None, :]), a * np.arange(16)[None, :])
    assert not MUL8U.a.signed and (MUL8X4U.a.width, MUL8X4U.b.width, MUL8X4U.y.width) == (8, 4, 12)


def _cli(capsys, *args):
    code = main(["verify", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


# -- RTL that is right: 0 mismatches (gate-level designs on random + corner pairs by default, every
# pair in the slow run: Icarus evaluates a gate netlist slowly) -------------------------------------
EXHAUSTIVE = [pytest.param([], id="2000-random", marks=()),
              pytest.param(["--vectors", "all"], id="all-pairs", marks=pytest.mark.slow)]


def _vectors(option) -> list:
    return option or ["--vectors", "2000"]


@pytest.mark.parametrize("option", EXHAUSTIVE)
def test_flat_gate_netlist_with_its_own_port_names(capsys, option):
    code, out, _ = _cli(capsys, "MUL8U", "--verilog", RTL / "mul8u_flat.v", "--top", "mul8u_flat",
                        "--port-a", "A", "--port-b", "B", "--port-y", "O", *_vectors(option))
    assert code == 0 and "0 mismatches" in out and ("65536 vectors" in out) == bool(option)


def test_behavioural_signed_multiplier():
    result = verify(EXACT, verilog=RTL / "mul8s_behav.v", top="mul8s_behav", ports=("X", "W", "P"))
    assert (result.vectors, result.mismatches) == (65536, 0)


@pytest.mark.parametrize("option", EXHAUSTIVE)
def test_hierarchical_design_over_three_files_with_a_parameter(capsys, option):
    files = [RTL / "hier_top.v", RTL / "hier_row.v", RTL / "hier_fa.v"]  # no final newlines
    code, out, _ = _cli(capsys, "MUL8U", "--verilog", *files, "--top", "hier_mul", "--param", "N=8", *_vectors(option))
    assert code == 0 and "0 mismatches" in out and ("65536 vectors" in out) == bool(option)


def test_unsigned_8x4_against_an_unsigned_8x4_operator():
    result = verify(MUL8X4U, verilog=RTL / "mul8x4u.v", top="mul8x4u")
    assert (result.vectors, result.mismatches) == (256 * 16, 0)


@pytest.mark.parametrize("hold", [False, True])
def test_pipelined_multiplier_with_clock_and_latency(capsys, hold):
    args = ["EXACT", "--verilog", RTL / "mul8s_pipe.v", "--top", "mul8s_pipe", "--clock", "clk",
            "--latency", "2", "--tie", "rst=0", "--vectors", "3000"] + (["--hold"] if hold else [])
    code, out, _ = _cli(capsys, *args)
    assert code == 0 and "0 mismatches" in out


def test_pipelined_multiplier_with_the_wrong_latency_is_caught(capsys):
    code, out, _ = _cli(capsys, "EXACT", "--verilog", RTL / "mul8s_pipe.v", "--top", "mul8s_pipe",
                        "--clock", "clk", "--latency", "1", "--tie", "rst=0", "--vectors", "500")
    assert code == 1 and "MISMATCH" in out


# -- RTL that is wrong: counterexamples, and the hint when a and b look swapped ----------------------
def test_wrong_multiplier_reported_with_counterexamples():
    result = verify(EXACT, verilog=RTL / "mul8s_wrong.v", top="mul8s_wrong")
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    assert result.mismatches == np.count_nonzero((a < 0) & (b % 2 == 1))  # the planted bug, counted by numpy
    for x, y, expected, got in result.counterexamples:
        assert expected == x * y and got == np.int16((x * y) ^ 0x100)
    assert "swapped" not in result.note


def test_swapped_operands_are_named_with_the_fix(capsys):
    args = ["TRUNC8U", "--verilog", RTL / "mul8u_trunc_swapped.v", "--top", "mul8u_trunc", "--port-y", "O"]
    code, out, _ = _cli(capsys, *args, "--port-a", "A", "--port-b", "B")
    assert code == 1 and "ports look swapped: the RTL's A is our b" in out and "pass --port-a B --port-b A" in out
    code, out, _ = _cli(capsys, *args, "--port-a", "B", "--port-b", "A")
    assert code == 0 and "0 mismatches" in out


def test_signedness_declared_unlike_the_operator_is_named():
    result = verify(MUL8U, verilog=RTL / "mul8s_behav.v", top="mul8s_behav", ports=("X", "W", "P"), vectors=300)
    assert result.mismatches and "the RTL declares X signed, the operator's a is unsigned" in result.note


# -- bad input: one line, exit 2, nothing written ----------------------------------------------------
def _refused(capsys, tmp_path, *args) -> str:
    keep = tmp_path / "build"
    code, out, err = _cli(capsys, *args, "--keep", keep)
    assert code == 2 and err.count("\n") == 1 and err.startswith("opmodels: error: ") and not out
    assert not keep.exists()  # nothing written
    return err


def test_16bit_module_joined_without_newlines_is_not_passed_as_8bit(capsys, tmp_path):
    err = _refused(capsys, tmp_path, "EXACT", "--verilog", RTL / "helper.v", RTL / "mul16s.v", "--top", "mul16s")
    assert "module mul16s: port a is 16 bits, EXACT needs 8" in err


def test_16bit_module_is_refused_by_pyverilog_too_when_yosys_is_absent(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OPMODELS_YOSYS", "no-such-yosys")  # find_yosys() then finds nothing
    err = _refused(capsys, tmp_path, "EXACT", "--verilog", RTL / "helper.v", RTL / "mul16s.v", "--top", "mul16s")
    assert "module mul16s: port a is 16 bits, EXACT needs 8" in err


def test_unknown_param_names_the_module_parameters(capsys, tmp_path):
    files = [RTL / "hier_top.v", RTL / "hier_row.v", RTL / "hier_fa.v"]
    err = _refused(capsys, tmp_path, "MUL8U", "--verilog", *files, "--top", "hier_mul", "--param", "WIDTH=8")
    assert "module hier_mul has no parameter 'WIDTH' (its parameters: N)" in err


def test_missing_port(capsys, tmp_path):
    err = _refused(capsys, tmp_path, "MUL8U", "--verilog", RTL / "mul8u_flat.v", "--top", "mul8u_flat")
    assert "module mul8u_flat has no input port 'a' (ports: input A [8], input B [8], output O [16])" in err


def test_port_of_the_wrong_width(capsys, tmp_path):
    err = _refused(capsys, tmp_path, "MUL8U", "--verilog", RTL / "mul8x4u.v", "--top", "mul8x4u")
    assert "module mul8x4u: port b is 4 bits, MUL8U needs 8" in err


def test_sequential_module_without_clock_names_the_clock(capsys, tmp_path):
    err = _refused(capsys, tmp_path, "EXACT", "--verilog", RTL / "mul8s_pipe.v", "--top", "mul8s_pipe")
    assert "module mul8s_pipe is sequential" in err and "clocked by clk; give --clock clk --latency N" in err


def test_sequential_module_without_clock_when_only_pyverilog_reads_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OPMODELS_YOSYS", "no-such-yosys")
    err = _refused(capsys, tmp_path, "EXACT", "--verilog", RTL / "mul8s_pipe.v", "--top", "mul8s_pipe")
    assert "is sequential" in err and "give --clock clk --latency N" in err


def test_a_reset_left_floating_is_named(capsys, tmp_path):
    err = _refused(capsys, tmp_path, "EXACT", "--verilog", RTL / "mul8s_pipe.v", "--top", "mul8s_pipe",
                   "--clock", "clk", "--latency", "2")
    assert "input(s) rst that the bench would leave floating; tie them with --tie NAME=VALUE" in err


def test_latch(capsys, tmp_path):
    err = _refused(capsys, tmp_path, "EXACT", "--verilog", RTL / "mul8s_latch.v", "--top", "mul8s_latch")
    assert "module mul8s_latch has a latch on y" in err


@pytest.mark.parametrize("args, message", [
    (["--clock", "clk"], "needs --latency N"),
    (["--latency", "2"], "--latency and --hold apply to a clocked module; give --clock too"),
    (["--clock", "clock", "--latency", "2", "--tie", "rst=0"], "--clock clock: module mul8s_pipe has no 1-bit input 'clock'"),
    (["--clock", "clk", "--latency", "2", "--tie", "rst=2"], "--tie rst=2: port rst is 1 bits, so 0..1"),
])
def test_clock_options_are_checked(capsys, tmp_path, args, message):
    err = _refused(capsys, tmp_path, "EXACT", "--verilog", RTL / "mul8s_pipe.v", "--top", "mul8s_pipe", *args)
    assert message in err


# -- --keep, time limit, SIGTERM ----------------------------------------------------------------------
def test_keep_relative_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(capsys, "MUL8X4U", "--verilog", RTL / "mul8x4u.v", "--top", "mul8x4u", "--keep", "build/")
    assert code == 0 and "0 mismatches" in out
    assert (tmp_path / "build" / "MUL8X4U" / "sim.log").is_file()


def test_an_initial_loop_without_delay_ends_at_the_time_limit(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OPMODELS_TOOL_TIMEOUT", "8")
    code, _, err = _cli(capsys, "EXACT", "--verilog", RTL / "mul8s_spin.v", "--top", "mul8s_spin")
    assert code == 2 and err.count("\n") == 1
    assert "did not finish within 8 s (OPMODELS_TOOL_TIMEOUT) and was stopped" in err
    assert not _vvp_children(os.getpid())  # the watchdog killed it


def _vvp_children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1:text.rindex(")")], text.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and name == "vvp":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc to find the simulator")
def test_sigterm_leaves_no_simulator_running(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPMODELS_TOOL_TIMEOUT="120")
    process = subprocess.Popen([sys.executable, "-m", "opmodels", "verify", "EXACT", "--verilog",
                                str(RTL / "mul8s_spin.v"), "--top", "mul8s_spin"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not _vvp_children(process.pid) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        vvp = _vvp_children(process.pid)
        assert vvp, "the simulator never started"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
        time.sleep(0.5)
        assert not any(Path(f"/proc/{pid}").exists() and "vvp" in Path(f"/proc/{pid}/stat").read_text()
                       for pid in vvp)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- the two readers of the RTL under test agree --------------------------------------------------------
GOOD = [(["mul8u_flat.v"], "mul8u_flat", {}), (["mul8s_behav.v"], "mul8s_behav", {}),
        (["hier_top.v", "hier_row.v", "hier_fa.v"], "hier_mul", {"N": 8}), (["mul8x4u.v"], "mul8x4u", {}),
        (["mul8s_pipe.v"], "mul8s_pipe", {}), (["helper.v", "mul16s.v"], "mul16s", {})]


@pytest.mark.parametrize("files, top, params", GOOD, ids=[g[1] for g in GOOD])
def test_yosys_and_pyverilog_read_the_same_ports(files, top, params, monkeypatch):
    from opmodels.cost import find_yosys
    from opmodels.verification import read_design
    if find_yosys() is None:
        pytest.skip("Yosys is not installed")
    sources = [RTL / f for f in files]
    by_yosys = read_design(sources, top, params)
    assert by_yosys.reader.startswith("Yosys")  # not a silent fall-back to pyverilog
    monkeypatch.setenv("OPMODELS_YOSYS", "no-such-yosys")
    by_pyverilog = read_design(sources, top, params)
    assert by_pyverilog.reader == "pyverilog" and by_pyverilog.ports == by_yosys.ports
    assert bool(by_pyverilog.flops) == bool(by_yosys.flops) == (top == "mul8s_pipe")


def test_an_id_after_the_files_is_an_id(capsys):
    code, out, _ = _cli(capsys, "--verilog", RTL / "mul8x4u.v", "MUL8X4U", "--top", "mul8x4u")
    assert code == 0 and "MUL8X4U" in out and "0 mismatches" in out


def test_relative_work_dir_from_python(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = verify(MUL8X4U, verilog=RTL / "mul8x4u.v", top="mul8x4u", work_dir="build")
    assert result.passed and (tmp_path / "build" / "sim.log").is_file()
