"""Operator directories: an operator stored as a file is found by id, unchanged, and never shadows a
built-in id; damaged files are refused with one line."""
import json

import numpy as np
import pytest

import opmodels
from opmodels import catalog, opsdir
from opmodels.ir import Graph, IRError


def _shift_add(a, b):
    """An unsigned array multiplier: the rows (a << i) & b[i], summed in 12 bits."""
    rows = [(a.zext(12) << i) & b[i].replicate(12) for i in range(b.width)]
    total = rows[0]
    for row in rows[1:]:
        total = total + row
    return total


def _unsigned_8x4():
    return opmodels.Operator.from_function("u8x4", "multiplier", (8, 4), _shift_add, signed=False,
                                           family="custom", provenance={"source": "test"})


@pytest.mark.parametrize("op_id", ["M4P8", "LOA5", "M3P12W16", "EXACT"])
def test_graph_text_round_trip(op_id):
    graph = opmodels.get(op_id).graph
    again = Graph.from_text(graph.to_text())
    assert again.nodes == graph.nodes and dict(again.outputs) == dict(graph.outputs)


def test_graph_text_refuses_garbage():
    with pytest.raises(IRError, match="line 1"):
        Graph.from_text("%0 = frobnicate() : 8s a\n")


def test_stored_operator_is_found_by_id_and_computes_the_same(tmp_path, monkeypatch):
    op = _unsigned_8x4()
    catalog.store(op, tmp_path)
    found = opmodels.get("u8x4", ops=tmp_path)
    assert found == op and found.provenance["source"] == "test"
    a, b = np.meshgrid(np.arange(256), np.arange(16), indexing="ij")
    assert np.array_equal(found.evaluate(a, b), a * b)  # a fact from outside the IR
    monkeypatch.setenv(opsdir.ENVIRONMENT, str(tmp_path))
    assert opmodels.get("u8x4") == op


def test_unknown_id_and_missing_directory(tmp_path):
    with pytest.raises(opmodels.OpmodelsError, match="unknown operator 'nope'"):
        opmodels.get("nope", ops=tmp_path)
    with pytest.raises(opmodels.OpmodelsError, match="is not a directory"):
        opmodels.get("nope", ops=tmp_path / "missing")


def test_builtin_ids_cannot_be_stored_or_shadowed(tmp_path):
    exact_copy = opmodels.Operator("M4P8", "multiplier", opmodels.get("EXACT").graph)
    with pytest.raises(opmodels.OpmodelsError, match="built-in"):
        catalog.store(exact_copy, tmp_path)
    opsdir.save(exact_copy, tmp_path)  # even a file written around the check is never reached
    assert opmodels.get("M4P8", ops=tmp_path).ir_hash != exact_copy.ir_hash


def test_damaged_files_are_refused(tmp_path):
    path = catalog.store(_unsigned_8x4(), tmp_path)
    record = json.loads(path.read_text())
    record["graph"] = record["graph"].replace("= and(", "= or(", 1)
    path.write_text(json.dumps(record))
    with pytest.raises(opmodels.OpmodelsError, match="IR hash"):
        opmodels.get("u8x4", ops=tmp_path)
    path.write_text("{not json")
    with pytest.raises(opmodels.OpmodelsError, match="not valid JSON"):
        opmodels.get("u8x4", ops=tmp_path)
    (tmp_path / "renamed.json").write_text(json.dumps(dict(record, id="u8x4")))
    with pytest.raises(opmodels.OpmodelsError, match="must be named u8x4.json"):
        opmodels.get("renamed", ops=tmp_path)
