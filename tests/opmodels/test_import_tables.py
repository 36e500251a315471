"""Tables and C models in and out (issue 11, part 3): every format's bytes pinned against numpy
references built here, round trips through every format, the import checks (size, dtype, range,
orientation, misreadings, references, exactness) and C models in both EvoApproxLib conventions.

Every table and C model here is written by these tests; the references are numpy products, not the
code under test.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import opmodels
from opmodels import artifacts, cli
from opmodels.errors import OpmodelsError
from opmodels.importers import cmodel, tables

S8 = np.arange(-128, 128)          # signed operand values, in value order
PATTERN = np.arange(256)
ROW_OF = (PATTERN + 128) % 256      # pattern p -> the index of its value in S8


def by_pattern(values_in_value_order: np.ndarray) -> np.ndarray:
    """A signed 256 x 256 table in value order (row 0 = -128) -> t[a pattern][b pattern]."""
    return values_in_value_order[np.ix_(ROW_OF, ROW_OF)]


def signed_asymmetric() -> np.ndarray:
    """t[a][b] = a * (b with its lowest bit cleared): approximate, and not symmetric."""
    return by_pattern(S8[:, None] * (S8[None, :] & ~1))


def unsigned_asymmetric() -> np.ndarray:
    u = np.arange(256)
    return u[:, None] * (u[None, :] & 0xFC)


def exact_signed() -> np.ndarray:
    return by_pattern(S8[:, None] * S8[None, :])


# -- C models in EvoApproxLib's two styles (written for these tests) --------------------------------
UNSIGNED_C = """#include <stdint.h>
#include <stdlib.h>
/* unsigned, EvoApproxLib style: the Verilog port B is the first argument */
uint64_t mul8u_test(const uint64_t B, const uint64_t A)
{
   uint64_t O;
   O = (A & 0xFF) * (B & 0xFC);
   return O;
}
"""
SIGNED_C = """#include <stdint.h>
/* signed, EvoApproxLib style: port A first */
int16_t mul8s_test(int8_t A, int8_t B)
{
  return (int16_t)(A * (B & ~1));
}
"""


@pytest.fixture
def c_models(tmp_path):
    (tmp_path / "mul8u_test.c").write_text(UNSIGNED_C)
    (tmp_path / "mul8s_test.c").write_text(SIGNED_C)
    return tmp_path


def test_c_model_operand_order_b_a_is_evoapproxlib_unsigned(c_models):
    op = cmodel.import_c(c_models / "mul8u_test.c", "mul8u_test", "b,a", signed=False)
    assert (op.a.signed, op.b.signed, op.y.width, op.y.signed) == (False, False, 16, False)
    np.testing.assert_array_equal(op.lut(), unsigned_asymmetric())
    # the other order gives the transpose: the first argument would be port a
    swapped = cmodel.import_c(c_models / "mul8u_test.c", "mul8u_test", "a,b", op_id="swapped", signed=False)
    np.testing.assert_array_equal(swapped.lut(), unsigned_asymmetric().T)
    assert op.provenance["first_argument"] == "port b"


def test_c_model_signed_by_its_parameter_types(c_models):
    op = cmodel.import_c(c_models / "mul8s_test.c", "mul8s_test", "a,b")
    assert op.a.signed and op.y.signed
    np.testing.assert_array_equal(op.lut(), signed_asymmetric())
    np.testing.assert_array_equal(op.evaluate(S8[:, None], S8[None, :]), S8[:, None] * (S8[None, :] & ~1))


@pytest.mark.parametrize("call, message", [
    (lambda d: cmodel.import_c(d / "mul8u_test.c", "mul8u_test", "b,a"), "pass --signed or --unsigned"),
    (lambda d: cmodel.import_c(d / "mul8s_test.c", "mul8s_test", "a,b", signed=False), "contradicts"),
    (lambda d: cmodel.import_c(d / "mul8s_test.c", "nothere", "a,b"), "no definition of function 'nothere'"),
    (lambda d: cmodel.import_c(d / "mul8s_test.c", "mul8s_test", "x,y"), "--operand-order"),
    (lambda d: cmodel.import_c(d / "broken.c", "f", "a,b", signed=True), "does not compile"),
    (lambda d: cmodel.import_c(d / "wide.c", "f", "a,b", signed=False), "does not fit the 16-bit result"),
])
def test_c_model_bad_input(c_models, call, message):
    (c_models / "broken.c").write_text("int f(int a, int b) { return a * ; }\n")
    (c_models / "wide.c").write_text("long long f(long long a, long long b) { return a * b * 1000; }\n")
    with pytest.raises(OpmodelsError, match=message):
        call(c_models)


# -- export: the bytes of every format against numpy references -------------------------------------
@pytest.fixture(scope="module")
def m4p8():
    return opmodels.get("M4P8")


def test_tfapprox_bytes_are_little_endian_uint16_at_a_256_plus_b(c_models):
    op = cmodel.import_c(c_models / "mul8u_test.c", "mul8u_test", "b,a", signed=False)
    files = artifacts.table_files(op, ["tfapprox"])
    data = files["mul8u_test.tfapprox.bin"]
    assert len(data) == 131072
    reference = unsigned_asymmetric()
    for a, b in [(200, 3), (3, 200), (255, 255), (0, 7), (17, 129)]:
        offset = 2 * (a * 256 + b)
        assert data[offset:offset + 2] == int(reference[a, b]).to_bytes(2, "little")
    record = json.loads(files["mul8u_test.tfapprox.bin.json"])
    assert record["sha256"] == artifacts.sha256(op.lut()) and "TFApprox" in record["layout"]


def test_signed_formats_bytes(m4p8):
    lut = m4p8.lut()  # t[a pattern][b pattern], checked against the interpreter elsewhere
    files = artifacts.table_files(m4p8, ["torchapprox", "adapt", "transaxx", "approxtorch"])
    import io
    torch_table = np.load(io.BytesIO(files["M4P8.torchapprox.npy"]))
    assert torch_table.dtype == np.dtype("<i4") and torch_table.shape == (256, 256)
    assert torch_table[255, 3] == m4p8.evaluate(-1, 3) and torch_table[3, 255] == m4p8.evaluate(3, -1)
    text = files["M4P8.approxtorch.txt"].splitlines()
    assert len(text) == 256 and all(len(line.split()) == 256 for line in text)
    # row i is the operand value i - 128: row 0, column 0 is P(-128, -128)
    assert int(text[0].split()[0]) == m4p8.evaluate(-128, -128)
    assert int(text[128 + 5].split()[128 - 3]) == m4p8.evaluate(5, -3)
    for name in ("M4P8.adapt.h", "M4P8.transaxx.h"):
        header = files[name]
        assert header.startswith("/*\n * M4P8: signed 8 x signed 8 -> signed 16 multiplier")
        assert "const int16_t lut [256][256] = {\n  {" in header
        body = header[header.index("= {") + 3:]
        values = [int(v) for v in body.replace("{", " ").replace("}", " ").replace(";", " ").replace(",", " ").split()]
        np.testing.assert_array_equal(np.array(values).reshape(256, 256), lut)


def test_orientation_b_a_exports_the_transpose(m4p8):
    import io
    files = artifacts.table_files(m4p8, ["torchapprox"], orientation="b,a")
    np.testing.assert_array_equal(np.load(io.BytesIO(files["M4P8.torchapprox.npy"])), m4p8.lut().T)


def test_export_refuses_what_a_format_cannot_hold(m4p8, c_models):
    with pytest.raises(OpmodelsError, match="TFApprox tables hold unsigned"):
        artifacts.table_files(m4p8, ["tfapprox"])
    unsigned = cmodel.import_c(c_models / "mul8u_test.c", "mul8u_test", "b,a", signed=False)
    with pytest.raises(OpmodelsError, match="AdaPT tables hold signed"):
        artifacts.table_files(unsigned, ["adapt"])


# -- round trips: export, import, the same table -----------------------------------------------------
SIGNED_FORMATS = ["npy", "c", "torchapprox", "adapt", "transaxx", "approxtorch"]
UNSIGNED_FORMATS = ["npy", "c", "torchapprox", "tfapprox"]


def _write(files, directory):
    for name, data in files.items():
        (directory / name).write_bytes(data.encode() if isinstance(data, str) else data)


@pytest.mark.parametrize("fmt", SIGNED_FORMATS)
@pytest.mark.parametrize("orientation", ["a,b", "b,a"])
def test_round_trip_signed(fmt, orientation, m4p8, tmp_path):
    if fmt in ("npy", "c") and orientation == "b,a":
        pytest.skip("our own formats are always lut[a][b]")
    files = artifacts.table_files(m4p8, [fmt], orientation)
    _write(files, tmp_path)
    name = next(n for n in files if not n.endswith(".json") and (fmt != "c" or n.endswith(".h")))
    op = tables.import_table(tmp_path / name, fmt, "back", orientation=orientation, signed=True)
    np.testing.assert_array_equal(op.lut(), m4p8.lut())
    assert op.describe_ports() == m4p8.describe_ports()


@pytest.mark.parametrize("fmt", UNSIGNED_FORMATS)
def test_round_trip_unsigned(fmt, c_models, tmp_path):
    source = cmodel.import_c(c_models / "mul8u_test.c", "mul8u_test", "b,a", signed=False)
    files = artifacts.table_files(source, [fmt])
    _write(files, tmp_path)
    name = next(n for n in files if not n.endswith(".json") and (fmt != "c" or n.endswith(".h")))
    op = tables.import_table(tmp_path / name, fmt, "back", orientation="a,b",
                             signed=None if fmt in ("npy", "c", "tfapprox") else False)
    np.testing.assert_array_equal(op.lut(), unsigned_asymmetric())
    assert (op.a.signed, op.y.signed) == (False, False)


def test_narrow_table_round_trip_through_npy(tmp_path):
    s4 = np.arange(-8, 8)
    table = (s4[:, None] * s4[None, :])[np.ix_((np.arange(16) + 8) % 16, (np.arange(16) + 8) % 16)]
    np.save(tmp_path / "mul4.npy", table.astype(np.int32))
    op = tables.import_table(tmp_path / "mul4.npy", "npy", signed=True, exact=True)
    assert (op.a.width, op.b.width, op.y.width) == (4, 4, 8)
    np.testing.assert_array_equal(op.evaluate(s4[:, None], s4[None, :]), s4[:, None] * s4[None, :])


# -- import checks -----------------------------------------------------------------------------------
def test_orientation_is_refused_when_ambiguous_and_accepted_when_symmetric(tmp_path):
    np.save(tmp_path / "asym.npy", signed_asymmetric().astype(np.int32))
    with pytest.raises(OpmodelsError, match="lut\\[x\\]\\[w\\] in Linear .* --orientation"):
        tables.import_table(tmp_path / "asym.npy", "torchapprox", signed=True)
    np.save(tmp_path / "sym.npy", exact_signed().astype(np.int32))
    op = tables.import_table(tmp_path / "sym.npy", "torchapprox", signed=True, exact=True)
    assert op.provenance["proof"]["orientation_basis"] == "symmetric table"


def test_transposed_table_is_detected_against_a_c_model(tmp_path, c_models):
    reference, _, _ = cmodel.tabulate(c_models / "mul8s_test.c", "mul8s_test", "a,b")
    np.save(tmp_path / "t.npy", signed_asymmetric().T.astype(np.int32))
    with pytest.raises(OpmodelsError, match="transposed with respect to the C model"):
        tables.import_table(tmp_path / "t.npy", "npy", signed=True, reference=reference,
                            reference_name="the C model mul8s_test")
    # the given orientation that undoes it passes; a format that cannot tell is settled by the reference
    op = tables.import_table(tmp_path / "t.npy", "npy", signed=True, orientation="b,a", reference=reference)
    np.testing.assert_array_equal(op.lut(), signed_asymmetric())
    op = tables.import_table(tmp_path / "t.npy", "torchapprox", signed=True, reference=reference)
    assert op.provenance["proof"]["orientation"] == "rows are port b"
    assert op.provenance["proof"]["orientation_basis"] == "matches the reference"


def test_a_wrong_table_is_reported_with_its_first_difference(tmp_path):
    table = signed_asymmetric()
    table[3, 7] += 1
    np.save(tmp_path / "t.npy", table.astype(np.int32))
    with pytest.raises(OpmodelsError, match="1 of 65,536 entries differ .* a pattern 3, column b pattern 7"):
        tables.import_table(tmp_path / "t.npy", "npy", signed=True, reference=signed_asymmetric())
    with pytest.raises(OpmodelsError, match="differ from the exact product"):
        tables.import_table(tmp_path / "t.npy", "npy", signed=True, exact=True)


def test_signed_table_filled_as_unsigned_is_refused(tmp_path):
    u = np.arange(256)
    as_int16 = (u[:, None] * u[None, :]).astype(np.int16)  # unsigned products wrapped into int16
    np.save(tmp_path / "u.npy", as_int16)
    with pytest.raises(OpmodelsError, match="looks misread.*unsigned operands \\(pass --unsigned\\)"):
        tables.import_table(tmp_path / "u.npy", "torchapprox", signed=True, orientation="a,b")


def test_offset_rows_read_as_patterns_are_refused(tmp_path, m4p8):
    files = artifacts.table_files(m4p8, ["approxtorch"])
    (tmp_path / "t.txt").write_text(files["M4P8.approxtorch.txt"])
    values = np.loadtxt(tmp_path / "t.txt", dtype=np.int32)
    np.save(tmp_path / "offset.npy", values)
    with pytest.raises(OpmodelsError, match="looks misread.*ApproxTorch layout"):
        tables.import_table(tmp_path / "offset.npy", "npy", signed=True)


@pytest.mark.parametrize("setup, fmt, message", [
    (lambda d: np.save(d / "t.npy", np.zeros((255, 256), np.int32)), "npy", "not 255 x 256"),
    (lambda d: np.save(d / "t.npy", np.zeros((16, 256), np.int32)), "torchapprox", "256 x 256, not 16 x 256"),
    (lambda d: np.save(d / "t.npy", np.full((256, 256), 0.5)), "npy", "integers; dtype float64 with the value 0.5"),
    (lambda d: np.save(d / "t.npy", np.array(["x"] * 4).reshape(2, 2)), "npy", "not dtype <U1"),
    (lambda d: np.save(d / "t.npy", np.full((256, 256), 40000, np.int32)), "npy", "40000 .* signed 16-bit result"),
    (lambda d: (d / "t.npy").write_bytes(b"\x93NUMPY broken"), "npy", "not a .npy array"),
    (lambda d: (d / "t.npy").write_bytes(b"\x00" * 1000), "tfapprox", "131,072 bytes\\), not 1,000 bytes"),
    (lambda d: (d / "t.npy").write_text("const int16_t lut [256][256] = { 1, 2 };"), "adapt", "has 2 values"),
    (lambda d: (d / "t.npy").write_text("1 2\n3\n"), "approxtorch", "rows of different lengths"),
    (lambda d: np.save(d / "t.npy", exact_signed()), "npy", "say whether the operands are signed"),
])
def test_bad_tables(tmp_path, setup, fmt, message):
    setup(tmp_path)
    with pytest.raises(OpmodelsError, match=message):
        tables.import_table(tmp_path / "t.npy", fmt, signed=None if "say whether" in message or fmt == "tfapprox"
                            else True, orientation="a,b")


def test_zero_check_is_recorded(tmp_path):
    table = exact_signed() + 1  # a biased design: P(0, x) = 1
    np.save(tmp_path / "biased.npy", table.astype(np.int32))
    op = tables.import_table(tmp_path / "biased.npy", "npy", signed=True)
    assert op.provenance["proof"]["zeros"] == {"nonzero_P_0_b": 256, "nonzero_P_a_0": 256}


# -- the command line: import, store, find, export; bad input writes nothing --------------------------
def test_cli_import_table_and_c_model(tmp_path, c_models, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "mul8s_tab.npy", signed_asymmetric().astype(np.int32))
    assert cli.main(["import", "--table", "mul8s_tab.npy", "--format", "torchapprox", "--signed",
                     "--c", str(c_models / "mul8s_test.c"), "--function", "mul8s_test", "--operand-order", "a,b",
                     "--id", "TAB1", "-o", "ops"]) == 0
    out = capsys.readouterr().out
    assert "imported TAB1: signed 8 x signed 8 -> signed 16" in out and "equals the C model" in out
    assert (tmp_path / "ops/TAB1.json").is_file() and (tmp_path / "ops/TAB1.src/mul8s_tab.npy").is_file()
    assert cli.main(["import", "--c", str(c_models / "mul8u_test.c"), "--function", "mul8u_test",
                     "--operand-order", "b,a", "--unsigned", "-o", "ops"]) == 0
    monkeypatch.setenv("OPMODELS_OPS", str(tmp_path / "ops"))
    stored = opmodels.get("mul8u_test")
    np.testing.assert_array_equal(stored.lut(), unsigned_asymmetric())
    assert cli.main(["gen-lut", "mul8u_test", "--format", "tfapprox", "-o", "luts"]) == 0
    data = (tmp_path / "luts/mul8u_test.tfapprox.bin").read_bytes()
    np.testing.assert_array_equal(np.frombuffer(data, "<u2").reshape(256, 256), unsigned_asymmetric())


@pytest.mark.parametrize("argv, message", [
    (["import", "--table", "t.npy", "--format", "npy", "--signed", "-o", "ops"], "not 3 x 256"),
    (["import", "--table", "asym.npy", "--format", "adapt", "-o", "ops"], "asym.npy: not a text file"),
    (["import", "--table", "asym.npy", "--format", "torchapprox", "--signed", "-o", "ops"], "--orientation"),
    (["import", "--table", "asym.npy", "--format", "tfapprox", "--signed", "-o", "ops"], "contradicts"),
    (["import", "--table", "asym.npy", "-o", "ops"], "--table needs --format"),
    (["import", "--table", "asym.npy", "--format", "npy", "--signed", "--id", "M4P8", "-o", "ops"], "built-in"),
    (["import", "--c", "missing.c", "--function", "f", "--operand-order", "a,b", "-o", "ops"], "cannot read"),
    (["import", "--c", "m.c", "--function", "f", "-o", "ops"], "--operand-order"),
    (["import", "-o", "ops"], "name what to import"),
])
def test_cli_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "t.npy", np.zeros((3, 256), np.int32))
    np.save(tmp_path / "asym.npy", signed_asymmetric().astype(np.int32))
    (tmp_path / "m.c").write_text(SIGNED_C)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("opmodels: error: ") and len(err.splitlines()) == 1, err
    import re
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_gen_lut_refusal_writes_nothing(tmp_path, capsys):
    assert cli.main(["gen-lut", "EXACT", "M4P8", "--format", "tfapprox", "-o", str(tmp_path / "luts")]) == 2
    assert "TFApprox tables hold unsigned" in capsys.readouterr().err
    assert not (tmp_path / "luts").exists()


# -- the case ROM in Icarus: an imported table verified like every other operator ----------------------
def _imported(tmp_path, width):
    values = np.arange(-(1 << (width - 1)), 1 << (width - 1))
    rows = (np.arange(1 << width) + (1 << (width - 1))) % (1 << width)
    reference = (values[:, None] * (values[None, :] & ~1))[np.ix_(rows, rows)]
    np.save(tmp_path / f"rom{width}.npy", reference.astype(np.int32))
    return tables.import_table(tmp_path / f"rom{width}.npy", "npy", signed=True)


def test_case_rom_text_splits_a_16_bit_index(tmp_path):
    from opmodels.backends import verilog
    text = verilog.convert(_imported(tmp_path, 8).graph, "rom8")
    assert "case (n2[15:8])" in text and "case (n2[7:0])" in text and text.count("endcase") == 257
    small = verilog.convert(_imported(tmp_path, 4).graph, "rom4")
    assert "case (n2)" in small and small.count("endcase") == 1


@pytest.mark.rtl
@pytest.mark.parametrize("width", [4, pytest.param(8, marks=pytest.mark.slow)])
def test_imported_table_verifies_in_icarus(tmp_path, width):
    from opmodels.verify import verify
    result = verify(_imported(tmp_path, width))
    assert result.mismatches == 0 and result.vectors == 1 << (2 * width)


def test_cli_reference_operator_settles_or_refuses_the_orientation(tmp_path, capsys, monkeypatch, m4p8):
    monkeypatch.chdir(tmp_path)
    _write(artifacts.table_files(m4p8, ["torchapprox"], orientation="b,a"), tmp_path)
    base = ["import", "--table", "M4P8.torchapprox.npy", "--format", "torchapprox", "--signed", "--reference",
            "M4P8", "-o", "ops"]
    assert cli.main(base + ["--id", "again"]) == 0
    assert "rows are port b" in capsys.readouterr().out
    assert cli.main(base + ["--id", "wrong", "--orientation", "a,b"]) == 2
    assert "transposed with respect to operator M4P8" in capsys.readouterr().err
    assert not (tmp_path / "ops/wrong.json").exists()


def test_c_model_8_x_4_unsigned(tmp_path):
    (tmp_path / "m84.c").write_text("#include <stdint.h>\nuint16_t m84(uint8_t A, uint8_t B) "
                                    "{ return (uint16_t)(A * (B & 0x0E)); }\n")
    op = cmodel.import_c(tmp_path / "m84.c", "m84", "a,b", widths=(8, 4))
    assert (op.a.width, op.b.width, op.y.width, op.a.signed) == (8, 4, 12, False)
    a, b = np.arange(256), np.arange(16)
    np.testing.assert_array_equal(op.evaluate(a[:, None], b[None, :]), a[:, None] * (b[None, :] & 0x0E))
