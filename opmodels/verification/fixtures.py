"""An operator whose graph uses every IR op, to check that a backend renders each op and that the
simulated result equals the interpreter's (``opmodels verify --from
opmodels.verification.fixtures:every_op``)."""
from __future__ import annotations

from opmodels import ir
from opmodels.operator import Operator


def every_op_graph() -> ir.Graph:
    """One graph that uses every op of the IR, named and unnamed, with shifts, slices of slices,
    concatenations of repeated operands and constants, so a backend's rules are all exercised."""
    N = ir.Node
    nodes = [
        N(ir.Op.INPUT, (), 8, True, name="a"), N(ir.Op.INPUT, (), 8, True, name="b"),       # 0 1
        N(ir.Op.CONST, (), 8, params=(0x5A,), name="k"),                                     # 2
        N(ir.Op.NOT, (0,), 8), N(ir.Op.AND, (3, 1), 8), N(ir.Op.OR, (4, 2), 8),             # 3 4 5
        N(ir.Op.XOR, (5, 0), 8), N(ir.Op.ADD, (6, 1), 8), N(ir.Op.SUB, (7, 0), 8),          # 6 7 8
        N(ir.Op.SHL, (8,), 8, params=(3,)), N(ir.Op.SHR_U, (9,), 8, params=(2,)),          # 9 10
        N(ir.Op.SHR_S, (8,), 8, params=(5,)), N(ir.Op.SLICE, (11,), 4, params=(2,)),       # 11 12
        N(ir.Op.CONCAT, (12, 10, 12), 16), N(ir.Op.SLICE, (1,), 1, params=(7,)),            # 13 14
        N(ir.Op.ZEXT, (10,), 16), N(ir.Op.MUX, (14, 13, 15), 16),                           # 15 16
        N(ir.Op.SEXT, (11,), 16, True), N(ir.Op.XOR, (16, 17), 16),                         # 17 18
        N(ir.Op.CAST, (18,), 16, True, name="y_cast"), N(ir.Op.CONST, (), 16, params=(1,)),  # 19 20
        N(ir.Op.SLICE, (13,), 6, params=(5,)), N(ir.Op.SLICE, (21,), 3, params=(2,)),       # 21 22
        N(ir.Op.SEXT, (22,), 16, True), N(ir.Op.SUB, (19, 23), 16, True),                   # 23 24
        N(ir.Op.ADD, (24, 20), 16, True), N(ir.Op.SHR_S, (25,), 16, True, params=(1,)),     # 25 26
        N(ir.Op.XOR, (26, 25), 16, True),                                                   # 27
        N(ir.Op.SLICE, (27,), 5, params=(3,)),                                               # 28
        N(ir.Op.TABLE, (28,), 16, True, tuple((i * 40503 + 17) & 0xFFFF for i in range(32)), name="rom"),  # 29
        N(ir.Op.XOR, (27, 29), 16, True),                                                   # 30
    ]
    return ir.Graph(nodes, {"y": 30})


def every_op() -> Operator:
    return Operator("EVERYOP", "multiplier", every_op_graph(), family="custom")
