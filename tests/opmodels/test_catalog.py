"""The catalog is the one registry: ids, registration, and frozen operators."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import opmodels
from opmodels import OpmodelsError, catalog


@pytest.fixture
def clean_registry():
    before = dict(catalog._registered)
    yield
    catalog._registered.clear()
    catalog._registered.update(before)


def test_operators_are_frozen_and_hash_once():
    op = opmodels.get("M4P8")
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.id = "OTHER"
    with pytest.raises(TypeError):
        op.params["p"] = 2
    with pytest.raises(AttributeError):
        op.graph.nodes = ()
    assert op.ir_hash == op.graph.hash == opmodels.BoothR4(8, "ABE2", 8, "cell").ir_hash


def test_ports_describe_width_and_signedness():
    op = opmodels.get("M4P8W16")
    assert (op.a.width, op.a.signed, op.b.width, op.y.width, op.y.signed) == (16, True, 16, 32, True)
    assert op.a.range == (-32768, 32767)
    add = opmodels.get("LOA8W24")
    assert (add.a.width, add.y.width) == (24, 24)


def test_an_unsigned_mixed_width_operator_reads_its_ports():
    from opmodels import Operator
    op = Operator.from_function("U8X4", "multiplier", (8, 4), _unsigned_product, signed=False)
    assert op.a.range == (0, 255) and op.b.range == (0, 15) and not op.y.signed
    assert int(op.evaluate(255, 15)) == 255 * 15
    with pytest.raises(OpmodelsError, match="operand b value 16 is outside the unsigned 4-bit range 0..15"):
        op.evaluate(1, 16)


def _unsigned_product(a, b):
    """a * b by shift-and-add over b's bits, 12 bits wide (an unsigned 8 x 4 array multiplier)."""
    a12 = a.zext(12)
    total = None
    for i in range(b.width):
        row = (a12 << i) & b[i].replicate(12)
        total = row if total is None else total + row
    return total


@pytest.mark.parametrize("bad", ["../x", "", ".hidden", "a/b", "x" * 65, "a..b", "M4P8\n"])
def test_unsafe_ids_are_refused(bad):
    with pytest.raises(OpmodelsError, match="not allowed"):
        dataclasses.replace(opmodels.get("M4P8"), id=bad)


def test_register_refuses_builtin_ids_unless_asked(clean_registry):
    mine = dataclasses.replace(opmodels.get("M1P2"), id="M4P8")
    for builtin in ("M4P8", "EXACT", "LOA8", "m4p8w16"):
        with pytest.raises(OpmodelsError, match="built-in catalog id"):
            opmodels.register(dataclasses.replace(mine, id=builtin))
    assert opmodels.get("M4P8").params["p"] == 8  # still the catalog's
    opmodels.register(mine, replace=True)
    assert opmodels.get("M4P8") is mine


def test_register_refuses_a_second_circuit_under_one_id(clean_registry):
    first = dataclasses.replace(opmodels.get("M1P2"), id="MINE")
    opmodels.register(first)
    opmodels.register(dataclasses.replace(first))  # the same circuit again: fine
    with pytest.raises(OpmodelsError, match="already registered"):
        opmodels.register(dataclasses.replace(opmodels.get("M1P4"), id="MINE"))


def test_family_parameters_name_and_parse_their_ids():
    for op_id in ("M4P8", "M1P20W16", "EXACT", "EXACTW12", "LOA8", "LOA3W16"):
        params = next(f.parse(op_id) for f in opmodels.library.FAMILIES if f.parse(op_id) is not None)
        assert params.id == op_id and params.build().id == op_id
    assert opmodels.BoothR4Params.parse("LOA8") is None
    with pytest.raises(OpmodelsError, match="p must be an even integer in 0..14 for width 8, not 9"):
        opmodels.get("M4P9")


def test_exact_names_are_distinct():
    assert opmodels.get("EXACT").width == 8
    assert opmodels.EXACT_PRODUCT.id == "exact-product" and not isinstance(opmodels.EXACT_PRODUCT, opmodels.Operator)


@pytest.mark.parametrize("source,message", [
    ("X = 3\n", "X is a int, not an Operator or a function returning one"),
    ("def X(width):\n    pass\n", "calling X() failed: TypeError"),
    ("def X():\n    raise RuntimeError('boom')\n", "calling X() failed: RuntimeError: boom"),
    ("def X(:\n", "syntax error"),
    ("raise ImportError('no dep')\n", "cannot import"),
    ("def X():\n    return 3\n", "expected an Operator, got int"),
])
def test_load_from_reports_the_users_mistake_in_one_line(tmp_path, monkeypatch, clean_registry, source, message):
    (tmp_path / "user_op_module.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OpmodelsError, match=re.escape(message)):
        opmodels.load_from("user_op_module:X")


def test_operators_copy_as_themselves_and_pickle_by_value():
    import copy
    import pickle
    op = opmodels.get("M4P8")
    assert copy.deepcopy(op) is op and copy.copy(op) is op and copy.deepcopy(op.graph) is op.graph
    again = pickle.loads(pickle.dumps(op))  # what a process pool does with it
    assert again == op and again.params == op.params and again.ir_hash == op.ir_hash
    assert np.array_equal(again.lut(), op.lut())
