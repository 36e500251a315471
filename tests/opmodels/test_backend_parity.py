"""Backend parity: every 8-bit catalog operator, all 65,536 pairs, through every available backend,
equal to the reference interpreter (STYLE.md lesson 3). Unavailable backends skip with a reason.

The default run checks a few operators; the slow run all of them. The generated Verilog in Icarus
over all pairs of the whole catalog runs in tests/verification (slow); the CUDA kernels in
tests/opmodels/test_numba_cuda.py (the CUDA simulator, tiny shapes; a real GPU: marked ``gpu``).
"""
from __future__ import annotations

import numpy as np
import pytest

import opmodels
from opmodels import vectors

FAST = ("EXACT", "M4P8", "M6P14")
OPERATORS = ["EXACT", *opmodels.multipliers_8bit()]


def _lut(op, a, b):
    return op.lut()[a & 0xFF, b & 0xFF].astype(np.int64)


def _numba_cpu(op, a, b):
    from opmodels.backends import numba_cpu
    # The generated scalar function, driven by a compiled loop over the pairs (one call per pair).
    source = numba_cpu.convert(op.graph, "scalar") + (
        "\n\n@numba.njit(cache=True)\ndef apply(a, b, out):\n"
        "    for i in range(a.size):\n        out[i] = scalar(a[i], b[i])\n")
    out = np.empty(a.size, np.int64)
    numba_cpu.load_module(source, f"parity_{op.ir_hash[:16]}").apply(a, b, out)
    return out


def _kernels_cpu(op, a, b):
    """P(a, b) as a 256 x 256 matmul with K = 1 (the LUT/split kernel path), both operand roles."""
    from opmodels import kernels
    values = vectors.values(op.a)
    by_weight = kernels.matmul(values[:, None], values[None, :], op, booth_operand="w")   # x = a, w = b
    by_activation = kernels.matmul(values[:, None], values[None, :], op, booth_operand="x").T  # x = b, w = a
    np.testing.assert_array_equal(by_weight, by_activation, err_msg=f"{op.id}: booth_operand w vs x")
    return by_weight[a - values[0], b - values[0]]


def _yosys_netlist(op, a, b):
    """The gate netlist Yosys makes of the generated Verilog, simulated gate by gate."""
    from opmodels.bits import to_patterns
    from opmodels.cost import operator_netlist
    netlist, _ = operator_netlist(op)
    y = netlist.evaluate({"a": to_patterns(a, op.a.width), "b": to_patterns(b, op.b.width)})["y"]
    return op.y.read(y)


def _needs_yosys() -> str | None:
    from opmodels.cost import find_yosys
    return None if find_yosys() else "Yosys is not installed"


def _needs(module: str) -> str | None:
    try:
        __import__(module)
    except ImportError:
        return f"{module} is not installed"
    return None


BACKENDS = {
    "lut": (_lut, lambda: None),
    "numba_cpu": (_numba_cpu, lambda: _needs("numba")),
    "kernels_cpu": (_kernels_cpu, lambda: _needs("numba")),
    "yosys_netlist": (_yosys_netlist, _needs_yosys),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    run, missing = BACKENDS[request.param]
    reason = missing()
    if reason:
        pytest.skip(f"backend {request.param}: {reason}")
    return run


def _check(backend, op_id):
    op = opmodels.get(op_id)
    a, b = vectors.all_pairs(op)
    expected = op.evaluate(a, b)
    got = backend(op, a, b)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (f"{op_id}: {bad.size} of {a.size} pairs differ, first a={a[bad[0]]} b={b[bad[0]]}: "
                           f"{got[bad[0]]} != {expected[bad[0]]}")


@pytest.mark.parametrize("op_id", FAST)
def test_backend_equals_interpreter(backend, op_id):
    _check(backend, op_id)


@pytest.mark.slow
@pytest.mark.parametrize("op_id", [i for i in OPERATORS if i not in FAST])
def test_backend_equals_interpreter_whole_catalog(backend, op_id):
    _check(backend, op_id)


def test_every_8_bit_catalog_operator_is_covered():
    assert len(OPERATORS) == 49 and all(opmodels.get(i).width == 8 for i in OPERATORS)


# -- imported tables: the TABLE op through every backend -------------------------------------------------
def _table_operators():
    """An 8 x 8 table (a ROM of 65,536 entries) and a 4 x 4 one (256 entries), both asymmetric, with
    their numpy references t[a pattern][b pattern]."""
    from opmodels.importers import tables
    out = {}
    for width, name in ((8, "TABLE8"), (4, "TABLE4")):
        values = np.arange(-(1 << (width - 1)), 1 << (width - 1))
        rows = (np.arange(1 << width) + (1 << (width - 1))) % (1 << width)  # pattern -> value index
        reference = (values[:, None] * (values[None, :] | 1) - (values[:, None] & 3))[np.ix_(rows, rows)]
        out[name] = (tables.table_operator(name, reference, (True, True), {"source": "test table"}), reference)
    return out


TABLES = _table_operators()


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_operator_equals_interpreter_and_its_table(backend, name):
    op, reference = TABLES[name]
    a, b = vectors.all_pairs(op)
    expected = reference[a & ((1 << op.a.width) - 1), b & ((1 << op.b.width) - 1)]
    np.testing.assert_array_equal(op.evaluate(a, b), expected)
    if backend is _lut and not op.has_lut:
        pytest.skip("a 4-bit operator has no 256 x 256 table")
    if backend is _yosys_netlist and name == "TABLE8":
        with pytest.raises(opmodels.OpmodelsError, match="65,536-word ROM, not of the multiplier circuit"):
            backend(op, a, b)
        return
    got = backend(op, a, b)
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, f"{name}: {bad.size} pairs differ, first a={a[bad[0]]} b={b[bad[0]]}"
