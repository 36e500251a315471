"""cocotb checker of the clocked MAC (rtl/handwritten/opm_mac.v with any multiplier and adder).

Random streams of K products go through the MAC one clock at a time, with random idle cycles
(enable low, operands changing) and a clear between streams; after each stream the accumulator is
compared with spec section 8: acc_{k+1} = ADD_w(acc_k, sext_w(P(a_k, b_k))), acc_0 = 0.
Environment: OPM_MAC_MUL, OPM_MAC_ADD (operator ids), OPM_MAC_STREAMS, OPM_MAC_K, OPM_SEED, OPM_SUMMARY.
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from opmodels import catalog, interp


def mac_model(mul, add, a: np.ndarray, b: np.ndarray) -> int:
    """Spec section 8, one product at a time in stream order."""
    products = mul.evaluate(a, b)
    acc = 0
    for p in products:
        acc = int(add.evaluate(np.int64(acc), interp.to_signed(interp.to_patterns(np.int64(p), add.width),
                                                               add.width)))
    return acc


@cocotb.test()
async def mac_matches_model(dut):
    mul, add = catalog.get(os.environ["OPM_MAC_MUL"]), catalog.get(os.environ["OPM_MAC_ADD"])
    streams, k = int(os.environ.get("OPM_MAC_STREAMS", "20")), int(os.environ.get("OPM_MAC_K", "64"))
    rng = np.random.default_rng(int(os.environ.get("OPM_SEED", "0")))
    low, high = mul.operand_range
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.clear.value, dut.enable.value, dut.a.value, dut.b.value = 1, 0, 0, 0
    await RisingEdge(dut.clk)
    examples, mismatches = [], 0
    for stream in range(streams):
        a = rng.integers(low, high, k, endpoint=True)
        b = rng.integers(low, high, k, endpoint=True)
        if stream == 0:  # the extremes first: the accumulator wraps at w bits
            a[:], b[:] = low, low
        dut.clear.value = 1
        await RisingEdge(dut.clk)
        dut.clear.value = 0
        for x, y in zip(a, b):
            while rng.random() < 0.2:  # an idle cycle: enable low, operands that must be ignored
                dut.enable.value, dut.a.value, dut.b.value = 0, int(rng.integers(low, high)), int(rng.integers(low, high))
                await RisingEdge(dut.clk)
            dut.enable.value, dut.a.value, dut.b.value = 1, int(x), int(y)
            await RisingEdge(dut.clk)
        dut.enable.value = 0
        await RisingEdge(dut.clk)  # acc now holds the value the last enabled edge stored
        got, want = dut.acc.value.to_signed(), mac_model(mul, add, a, b)
        if got != want:
            mismatches += 1
            examples.append([stream, want, got])
    summary = {"operator": f"{mul.id}+{add.id}", "vectors": streams * k, "streams": streams, "k": k,
               "mismatches": mismatches, "counterexamples": examples[:10]}
    if os.environ.get("OPM_SUMMARY"):
        with open(os.environ["OPM_SUMMARY"], "w") as handle:
            json.dump(summary, handle)
    assert mismatches == 0, f"{mismatches} of {streams} streams differ: (stream, expected, got) {examples[:3]}"
