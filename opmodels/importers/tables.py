"""Lookup tables in our and the peers' formats -> an :class:`Operator` whose graph is the table.

The operator is ``y = TABLE(CONCAT(b, a))``: row a, column b, entry = the result's bit pattern, so every
backend (interpreter, LUT, Numba, kernels, Verilog case ROM) computes exactly the table. Nothing here
guesses: the operands' signedness and which port the rows are must be known, from the format
(:data:`opmodels.artifacts.TABLE_FORMATS`) or from the user; what stays ambiguous is refused.

Checks at import (their results go into ``provenance["proof"]``):

* size, element type and values: a 2^wa x 2^wb integer table (256 x 256 for the peers' formats), every
  value in the range of the (wa + wb)-bit result;
* orientation: a table that is not symmetric, from a format whose tool reads it both ways (TorchApprox,
  AdaPT, TransAxx: lut[x][w] in Linear, lut[w][x] in Conv2d), needs ``orientation`` or a reference; a
  reference (a C model or another operator, e.g. imported RTL) must equal the table, and a table that
  equals the reference's transpose is reported as transposed;
* reading: if the table fits the exact product far better when read another way (unsigned instead of
  signed, offset instead of two's-complement rows) than the declared way, it is refused with the
  reading that fits;
* ``P(0, x)`` and ``P(x, 0)`` vanish (recorded, a note when not: some approximate designs add a bias),
  and ``exact=True`` (the source says the table is exact) requires P(a, b) = a * b on every pair.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from ..artifacts import ELEMENT_RANGES, TABLE_FORMATS, TableFormat
from ..errors import OpmodelsError
from ..ir import Graph, Node, Op
from ..operator import Operator, Port, check_id

MAX_OPERAND_WIDTH = 8
ORIENTATIONS = ("a,b", "b,a")
# A reading of the table that is not the declared one must fit the exact product this much better
# (mean absolute error) before the import is refused as misread.
MISREAD_FACTOR = 8.0


# -- reading the files ---------------------------------------------------------------------------
def read_file(path, fmt: TableFormat) -> np.ndarray:
    """The table exactly as stored (file row order), as int64, with its shape checked."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise OpmodelsError(f"cannot read table {str(path)!r}: {error.strerror}") from None
    if fmt.name in ("npy", "torchapprox"):
        table = _read_npy(path, raw)
    elif fmt.name == "tfapprox":
        if len(raw) != 2 * 65536:
            raise OpmodelsError(f"{path.name}: a TFApprox table is 65,536 little-endian uint16 (131,072 bytes), "
                                f"not {len(raw):,} bytes")
        table = np.frombuffer(raw, "<u2").reshape(256, 256).astype(np.int64)
    elif fmt.name == "approxtorch":
        table = _read_text(path, raw)
    else:
        table = _read_c(path, raw, fmt)
    if table.ndim != 2:
        raise OpmodelsError(f"{path.name}: a table must have 2 dimensions, not shape {table.shape}")
    sizes = (1 << w for w in range(1, MAX_OPERAND_WIDTH + 1))
    allowed = set(sizes) if fmt.any_size else {256}
    if not (table.shape[0] in allowed and table.shape[1] in allowed):
        what = ("2^wa x 2^wb with 1 <= wa, wb <= 8" if fmt.any_size else "256 x 256")
        raise OpmodelsError(f"{path.name}: a {fmt.tool} table is {what}, not {table.shape[0]} x {table.shape[1]}")
    return table


def _read_npy(path: Path, raw: bytes) -> np.ndarray:
    import io
    try:
        table = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise OpmodelsError(f"{path.name}: not a .npy array ({error})") from None
    if not isinstance(table, np.ndarray):
        raise OpmodelsError(f"{path.name}: not a single .npy array")
    if table.dtype.kind == "f":
        if not np.all(np.isfinite(table)) or np.any(table != np.round(table)):
            bad = table[~np.isfinite(table) | (table != np.round(table))].flat[0]
            raise OpmodelsError(f"{path.name}: a table holds integers; dtype {table.dtype} with the value {bad}")
        return table.astype(np.int64)
    if table.dtype.kind not in "iu" or table.dtype.itemsize > 8:
        raise OpmodelsError(f"{path.name}: a table holds integers, not dtype {table.dtype}")
    return table.astype(np.int64)


def _text(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OpmodelsError(f"{path.name}: not a text file (not UTF-8)") from None


def _read_text(path: Path, raw: bytes) -> np.ndarray:
    rows = [line.split() for line in _text(path, raw).splitlines() if line.strip()]
    if len({len(row) for row in rows}) > 1:
        raise OpmodelsError(f"{path.name}: rows of different lengths ({len(rows[0])} and "
                            f"{next(len(r) for r in rows if len(r) != len(rows[0]))} numbers)")
    try:
        return np.array([[int(v) for v in row] for row in rows], dtype=np.int64).reshape(len(rows), -1)
    except ValueError as error:
        raise OpmodelsError(f"{path.name}: a table holds integers ({error})") from None


_DECLARATION = re.compile(r"\b(?P<type>(?:u?int(?:8|16|32|64)_t)|int|short|long|unsigned|signed char|char)\s+"
                          r"(?P<name>\w+)\s*\[\s*(?P<rows>\d+)\s*\]\s*\[\s*(?P<cols>\d+)\s*\]\s*=\s*\{")


def _read_c(path: Path, raw: bytes, fmt: TableFormat) -> np.ndarray:
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", _text(path, raw), flags=re.S)
    found = list(_DECLARATION.finditer(text))
    if len(found) != 1:
        raise OpmodelsError(f"{path.name}: expected one declaration 'TYPE NAME[ROWS][COLS] = {{...}};', "
                            f"found {len(found)}")
    match = found[0]
    end = text.find(";", match.end())
    body = text[match.end():end if end >= 0 else len(text)]
    values = re.findall(r"[^\s{},]+", body.replace("}", " "))
    rows, cols = int(match["rows"]), int(match["cols"])
    try:
        numbers = [int(v, 0) for v in values]
    except ValueError:
        bad = next(v for v in values if not re.fullmatch(r"[-+]?(0x[0-9a-fA-F]+|\d+)", v))
        raise OpmodelsError(f"{path.name}: a table holds integers, not {bad[:20]!r}") from None
    if len(numbers) != rows * cols:
        raise OpmodelsError(f"{path.name}: {match['name']}[{rows}][{cols}] has {len(numbers):,} values, "
                            f"not {rows * cols:,}")
    element = match["type"].replace("_t", "")
    if element in ELEMENT_RANGES:
        low, high = ELEMENT_RANGES[element]
        bad = [v for v in numbers if not low <= v <= high]
        if bad:
            raise OpmodelsError(f"{path.name}: the value {bad[0]} does not fit its {match['type']} entries")
    return np.array(numbers, dtype=np.int64).reshape(rows, cols)


# -- readings of a table --------------------------------------------------------------------------
def to_ports(table: np.ndarray, fmt: TableFormat, orientation: str) -> np.ndarray:
    """The file's table as ``t[a pattern][b pattern]`` (undoes the format's row order)."""
    if fmt.index == "offset":
        table = np.roll(table, (table.shape[0] // 2, table.shape[1] // 2), axis=(0, 1))
    return np.ascontiguousarray(table if orientation == "a,b" else table.T)


def _exact(shape, signed: tuple[bool, bool]) -> np.ndarray:
    a = Port("a", shape[0].bit_length() - 1, signed[0]).read(np.arange(shape[0]))
    b = Port("b", shape[1].bit_length() - 1, signed[1]).read(np.arange(shape[1]))
    return a[:, None] * b[None, :]


def _misfit(values: np.ndarray, signed: tuple[bool, bool]) -> float:
    """Mean |table - exact product| when the table is read with this signedness (values taken modulo
    2^wy and read with the result's signedness, as the hardware's result bits would be)."""
    wy = (values.shape[0] * values.shape[1]).bit_length() - 1
    y = Port("y", wy, any(signed)).read(values)
    return float(np.mean(np.abs(y - _exact(values.shape, signed))))


def check_reading(ports: np.ndarray, fmt: TableFormat, signed: tuple[bool, bool], source: str) -> dict:
    """Refuse a table that fits the exact product far better read another way than the declared one
    (a signed table filled as if unsigned, offset rows read as two's-complement ones)."""
    declared = _misfit(ports, signed)
    readings = {}
    if signed[0] == signed[1]:
        other = not signed[0]
        readings[f"{'signed' if other else 'unsigned'} operands (pass {'--signed' if other else '--unsigned'})"] = \
            _misfit(ports, (other, other))
    if signed == (True, True) and fmt.index == "twos":
        shifted = np.roll(ports, (ports.shape[0] // 2, ports.shape[1] // 2), axis=(0, 1))
        readings["rows of operand values offset by 2^(w-1), row 0 = the most negative (the ApproxTorch "
                 "layout, --format approxtorch)"] = _misfit(shifted, signed)
    if signed == (True, True) and fmt.index == "offset":
        shifted = np.roll(ports, (ports.shape[0] // 2, ports.shape[1] // 2), axis=(0, 1))
        readings["rows of two's-complement bit patterns (a format with twos index, e.g. --format npy)"] = \
            _misfit(shifted, signed)
    for reading, misfit in readings.items():
        if misfit * MISREAD_FACTOR < declared:
            raise OpmodelsError(f"{source}: the table looks misread: as declared it is {declared:.1f} away from "
                                f"the exact product on average, read as {reading} only {misfit:.1f}")
    return {"mean_abs_error_vs_exact": declared,
            "other_readings": {reading.split(" (")[0]: misfit for reading, misfit in readings.items()}}


def compare(table: np.ndarray, reference: np.ndarray, source: str, what: str) -> None:
    """``table`` must equal ``reference`` (both t[a][b]); say so when it is the transpose."""
    if table.shape == reference.shape and np.array_equal(table, reference):
        return
    if table.shape == reference.shape[::-1] and np.array_equal(table.T, reference):
        raise OpmodelsError(f"{source}: the table is transposed with respect to {what}: its rows are port b "
                            f"(pass --orientation b,a if it is stored so, or check which port the reference's "
                            f"first argument is)")
    if table.shape != reference.shape:
        raise OpmodelsError(f"{source}: the table is {table.shape[0]} x {table.shape[1]}, {what} gives "
                            f"{reference.shape[0]} x {reference.shape[1]}")
    bad = np.argwhere(table != reference)
    a, b = bad[0]
    raise OpmodelsError(f"{source}: {len(bad):,} of {table.size:,} entries differ from {what}, first at row a "
                        f"pattern {a}, column b pattern {b}: {table[a, b]} != {reference[a, b]}")


def _first_difference(table: np.ndarray, reference: np.ndarray) -> str:
    if table.shape != reference.shape:
        return ""
    a, b = np.argwhere(table != reference)[0]
    return f"; rows as port a, first difference at a pattern {a}, b pattern {b}: {table[a, b]} != {reference[a, b]}"


def result_port(shape, signed: tuple[bool, bool]) -> Port:
    return Port("y", (shape[0] * shape[1]).bit_length() - 1, any(signed))


def check_range(values: np.ndarray, signed: tuple[bool, bool], source: str) -> None:
    y = result_port(values.shape, signed)
    bad = y.out_of_range(values)
    if bad is not None:
        low, high = y.range
        where = np.argwhere(values == bad)[0]
        raise OpmodelsError(f"{source}: the value {bad} (row {where[0]}, column {where[1]}) is outside the "
                            f"{'signed' if y.signed else 'unsigned'} {y.width}-bit result range {low}..{high}")


def zero_check(values: np.ndarray, signed: tuple[bool, bool]) -> dict:
    """How many P(0, x) and P(x, 0) are not 0 (row and column of the operand value 0 = pattern 0)."""
    return {"nonzero_P_0_b": int(np.count_nonzero(values[0, :])),
            "nonzero_P_a_0": int(np.count_nonzero(values[:, 0]))}


# -- the operator --------------------------------------------------------------------------------
def table_graph(values: np.ndarray, signed: tuple[bool, bool]) -> Graph:
    """``y = TABLE(CONCAT(b, a))``: index a * 2^wb + b, the row-major order of ``values[a][b]``."""
    wa, wb = (n.bit_length() - 1 for n in values.shape)
    y = result_port(values.shape, signed)
    patterns = (values.astype(np.int64) & ((1 << y.width) - 1)).ravel().tolist()
    nodes = [Node(Op.INPUT, (), wa, signed[0], name="a"), Node(Op.INPUT, (), wb, signed[1], name="b"),
             Node(Op.CONCAT, (1, 0), wa + wb), Node(Op.TABLE, (2,), y.width, y.signed, tuple(patterns), "rom")]
    return Graph(nodes, {"y": 3})


def table_operator(op_id: str, values: np.ndarray, signed: tuple[bool, bool], provenance: dict,
                   kind: str = "multiplier") -> Operator:
    """The operator whose result is ``values[a pattern][b pattern]`` (checked, then built)."""
    check_range(values, signed, op_id)
    return Operator(check_id(op_id), kind, table_graph(values, signed), family="table",
                    params={"rows": "a", "entries": int(values.size)},
                    structure=f"lookup table {values.shape[0]} x {values.shape[1]}: y = table[a][b]",
                    provenance=provenance)


def default_id(path) -> str:
    stem = Path(path).name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "table"


def import_table(path, fmt: str, op_id: str | None = None, orientation: str | None = None,
                 signed: bool | None = None, reference=None, reference_name: str = "the reference",
                 exact: bool = False) -> Operator:
    """Read a table file and return its operator, every check done (nothing is written).

    ``fmt``: a key of :data:`TABLE_FORMATS`. ``orientation``: ``"a,b"`` (rows are port a) or ``"b,a"``.
    ``signed``: the operands' signedness where the format does not fix it. ``reference``: ``t[a][b]``
    of a C model or operator the table must equal (it also settles the orientation). ``exact``: the
    source says the table is the exact product.
    """
    if fmt not in TABLE_FORMATS:
        raise OpmodelsError(f"unknown table format {fmt!r}; one of {', '.join(TABLE_FORMATS)}")
    form = TABLE_FORMATS[fmt]
    path = Path(path)
    op_id = check_id(op_id or default_id(path))
    if orientation is not None and orientation not in ORIENTATIONS:
        raise OpmodelsError(f"--orientation takes a,b (rows are port a) or b,a, not {orientation!r}")
    if form.signed is not None and signed is not None and signed != form.signed:
        raise OpmodelsError(f"{form.tool} tables are {'signed' if form.signed else 'unsigned'}; "
                            f"--{'unsigned' if signed is False else 'signed'} contradicts the format")
    raw = read_file(path, form)
    if signed is None:
        signed = form.signed
    if signed is None:
        signed = _sidecar_signedness(path, fmt)
    if signed is None:
        raise OpmodelsError(f"{path.name}: say whether the operands are signed (--signed) or unsigned "
                            f"(--unsigned): a {form.tool} table can be either")
    pair = (signed, signed)
    how = orientation
    symmetric = raw.shape[0] == raw.shape[1] and np.array_equal(raw, raw.T)
    if reference is not None and orientation is None and form.rows is None:
        # The format cannot say which port its rows are; the reference can (a format that says it
        # keeps its layout, and a table that disagrees with its reference is reported as transposed).
        matches = [o for o in ORIENTATIONS if np.array_equal(to_ports(raw, form, o), reference)]
        how = matches[0] if matches else None
        if how is None:
            raise OpmodelsError(f"{path.name}: the table equals {reference_name} in neither orientation "
                                f"(rows port a, or rows port b)" + _first_difference(to_ports(raw, form, "a,b"),
                                                                                     np.asarray(reference)))
    if how is None:
        if form.rows is None and not symmetric:
            raise OpmodelsError(f"{path.name}: {form.tool} reads one table as lut[x][w] in Linear layers but "
                                f"lut[w][x] in Conv2d ones, so its rows may be either port: pass --orientation "
                                f"a,b (rows are port a) or b,a, or give a reference (--c, --reference) to check")
        how = "a,b"
    values = to_ports(raw, form, how)
    source = f"{path.name} ({form.tool})"
    check_range(values, pair, source)
    proof = {"passed": True, "entries": int(values.size), "orientation": f"rows are port {how[0]}",
             "orientation_basis": ("symmetric table" if symmetric else "given" if orientation else
                                   "matches the reference" if reference is not None else "the format's layout"),
             "reading": check_reading(values, form, pair, source), "zeros": zero_check(values, pair)}
    if reference is not None:
        compare(values, np.asarray(reference), source, reference_name)
        proof["reference"] = f"equals {reference_name} on all {values.size:,} pairs"
    if exact:
        compare(values, _exact(values.shape, pair), source, "the exact product (the source says the table is exact)")
        proof["exact"] = f"equals a * b on all {values.size:,} pairs"
    provenance = {"source": "lookup table", "format": fmt, "tool": form.tool, "file": path.name,
                  "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "proof": proof}
    return table_operator(op_id, values, pair, provenance)


def _sidecar_signedness(path: Path, fmt: str) -> bool | None:
    """Our own ``<ID>.npy`` / ``.h`` files come with ``<ID>.json``, which names the ports' signedness."""
    if fmt not in ("npy", "c"):
        return None
    import json
    sidecar = path.with_suffix(".json")
    try:
        ports = json.loads(sidecar.read_text())["ports"]
        return bool(ports["a"]["signed"]) if ports["a"]["signed"] == ports["b"]["signed"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def lut_of(op) -> np.ndarray:
    """``t[a pattern][b pattern]`` of any operator with operands of at most 8 bits (a reference)."""
    a = np.arange(1 << op.a.width)
    b = np.arange(1 << op.b.width)
    return op.evaluate(op.a.read(a)[:, None], op.b.read(b)[None, :]).astype(np.int64)
