"""The Numba CPU backend equals the reference interpreter bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings, strategies as st

import opmodels
from opmodels import interp
from opmodels.backends import numba_cpu
from opmodels.ir import Graph, Node, Op

ALL_PAIRS = np.arange(-128, 128, dtype=np.int64)
FAST_EXHAUSTIVE = ["EXACT", "M1P8", "M4P8", "M5P14", "M6P2"]


def every_op_graph(width: int) -> Graph:
    """A graph that uses every IR op at least once, on two width-bit inputs."""
    N = Node
    half = width // 2
    nodes = [
        N(Op.INPUT, (), width, True, name="a"),                 # 0
        N(Op.INPUT, (), width, True, name="b"),                 # 1
        N(Op.CONST, (), width, False, ((1 << width) - 3,)),      # 2
        N(Op.NOT, (0,), width),                                 # 3
        N(Op.AND, (3, 1), width),                               # 4
        N(Op.OR, (4, 2), width),                                # 5
        N(Op.XOR, (5, 0), width),                               # 6
        N(Op.ADD, (6, 1), width),                               # 7
        N(Op.SUB, (2, 7), width),                               # 8
        N(Op.SHL, (8,), width, False, (3,)),                    # 9
        N(Op.SHR_U, (7,), width, False, (width - 1,)),          # 10
        N(Op.SHR_S, (8,), width, False, (half,)),               # 11
        N(Op.SLICE, (11,), half, False, (1,)),                  # 12
        N(Op.SLICE, (1,), width - half, False, (half,)),        # 13
        N(Op.CONCAT, (12, 13), width),                          # 14
        N(Op.SLICE, (0,), 1, False, (width - 1,)),              # 15
        N(Op.MUX, (15, 14, 9), width),                          # 16
        N(Op.ZEXT, (16,), 2 * width),                           # 17
        N(Op.SEXT, (10,), 2 * width),                           # 18
        N(Op.SEXT, (6,), 2 * width, True),                      # 19
        N(Op.ADD, (17, 19), 2 * width),                         # 20
        N(Op.SUB, (20, 18), 2 * width),                         # 21
        N(Op.SHR_S, (21,), 2 * width, False, (5,)),             # 22
        N(Op.CAST, (22,), 2 * width, True),                     # 23
        N(Op.SLICE, (23,), 6, False, (width - 3,)),             # 24
        N(Op.TABLE, (24,), 2 * width, False,                    # 25
          tuple((i * 0x9E3779B97F4A7C15 + 11) & ((1 << 2 * width) - 1) for i in range(64))),
        N(Op.XOR, (23, 25), 2 * width, True),                   # 26
    ]
    return Graph(nodes, {"y": 26})


def test_renderer_handles_every_op():
    assert set(numba_cpu.Renderer.HANDLERS) == set(Op)
    assert {n.op for n in every_op_graph(8).nodes} == set(Op)


def test_unknown_op_fails_loudly():
    class Unknown:
        value = "unknown"
    node = Node(Op.NOT, (0,), 8)
    object.__setattr__(node, "op", Unknown())
    with pytest.raises(NotImplementedError, match="cannot render IR op"):
        numba_cpu.CPU.render_node("v1", node, ["v0"], every_op_graph(8))


@pytest.mark.parametrize("width", [8, 16, 32])
def test_every_op_equals_interpreter(width):
    graph = every_op_graph(width)
    module = numba_cpu.load_module(numba_cpu.convert(graph, "f"), f"test_every_op_{width}")
    rng = np.random.default_rng(width)
    low, high = -(1 << (width - 1)), (1 << (width - 1))
    a = np.concatenate([rng.integers(low, high, 3000), [low, high - 1, 0, -1, 1]])
    b = np.concatenate([rng.integers(low, high, 3000), [high - 1, low, -1, 0, 1]])
    expected = interp.to_signed(interp.evaluate(graph, {"a": a, "b": b})["y"], 2 * width)
    got = np.array([module.f(int(x), int(y)) for x, y in zip(a, b)])
    np.testing.assert_array_equal(got, expected)


def exhaustive_check(op_id: str):
    op = opmodels.get(op_id)
    f = numba_cpu.scalar_function(op)
    got = np.array([[f(int(a), int(b)) for b in ALL_PAIRS] for a in ALL_PAIRS])
    expected = op.evaluate(ALL_PAIRS[:, None], ALL_PAIRS[None, :])
    np.testing.assert_array_equal(got, expected, err_msg=op_id)


@pytest.mark.parametrize("op_id", FAST_EXHAUSTIVE)
def test_catalog_subset_all_pairs(op_id):
    exhaustive_check(op_id)


@pytest.mark.slow
@pytest.mark.parametrize("op_id", [i for i in opmodels.multipliers_8bit() if i not in FAST_EXHAUSTIVE])
def test_catalog_all_pairs(op_id):
    exhaustive_check(op_id)


WIDE_IDS = ["M1P6W10", "M4P10W12", "M2P20W14", "M6P16W16", "M3P12W16", "M5P30W16", "M4P40W32", "M1P62W32"]


@pytest.mark.parametrize("op_id", WIDE_IDS)
@seed(3)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_wide_operators_match_interpreter(op_id, data):
    op = opmodels.get(op_id)
    low, high = op.operand_range
    operand = st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, -1, 1, low + 1]))
    a, b = data.draw(operand), data.draw(operand)
    f = numba_cpu.scalar_function(op)
    assert f(a, b) == int(op.evaluate(a, b))


def test_loa_adders_match_interpreter():
    rng = np.random.default_rng(5)
    for op_id in ["LOA8", "LOA0", "LOA13W24", "LOA30W64"]:
        op = opmodels.get(op_id)
        low, high = op.operand_range
        a = np.concatenate([rng.integers(low, high, 2000, endpoint=True), [low, high]])
        b = np.concatenate([rng.integers(low, high, 2000, endpoint=True), [low, low]])
        f = numba_cpu.scalar_function(op)
        got = np.array([f(int(x), int(y)) for x, y in zip(a, b)])
        np.testing.assert_array_equal(got, op.evaluate(a, b), err_msg=op_id)


def test_source_is_a_cached_file_keyed_by_ir_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("OPMODELS_CACHE_DIR", str(tmp_path))
    op = opmodels.BoothR4(6, "ABE2", 4, "cell")
    f = numba_cpu.scalar_function(op)
    assert f(-17, 23) == int(op.evaluate(-17, 23))
    files = list((tmp_path / "numba").glob("*.py"))
    assert len(files) == 1 and op.ir_hash[:16] in files[0].name
    assert op.ir_hash in files[0].read_text()
