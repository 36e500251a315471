"""cocotb bench of the clocked MAC (``hdl/opm_mac.v`` with any multiplier and adder).

``OPM_CHECK`` names the ``.npz`` the verifying process wrote: streams of operand pairs and each
stream's expected accumulator (spec section 8). The pairs go in one clock at a time, with random idle
cycles (enable low, operands changing, which the MAC must ignore) and a clear between streams; after
each stream the accumulator is compared. The summary goes to the JSON file ``OPM_SUMMARY``.
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from opmodels.files import write_atomic

IDLE = 0.2  # chance of an idle cycle before each product


@cocotb.test()
async def mac_matches_model(dut):
    with np.load(os.environ["OPM_CHECK"]) as check:
        a, b, expected, seed = check["a"], check["b"], check["expected"], int(check["seed"])
        low, high = (int(v) for v in check["operand_range"])
    rng = np.random.default_rng(seed + 1)  # the timing noise; the operands came with the streams
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.clear.value, dut.enable.value, dut.a.value, dut.b.value = 1, 0, 0, 0
    await RisingEdge(dut.clk)
    examples, mismatches = [], 0
    for stream, (xs, ys, want) in enumerate(zip(a, b, expected)):
        dut.clear.value = 1
        await RisingEdge(dut.clk)
        dut.clear.value = 0
        for x, y in zip(xs, ys):
            while rng.random() < IDLE:
                dut.enable.value = 0
                x_idle, y_idle = rng.integers(low, high, 2, endpoint=True)
                dut.a.value, dut.b.value = int(x_idle), int(y_idle)
                await RisingEdge(dut.clk)
            dut.enable.value, dut.a.value, dut.b.value = 1, int(x), int(y)
            await RisingEdge(dut.clk)
        dut.enable.value = 0
        await RisingEdge(dut.clk)  # acc now holds the value the last enabled edge stored
        got = dut.acc.value.to_signed()
        if got != int(want):
            mismatches += 1
            examples.append([stream, int(want), got])
    summary = {"vectors": int(a.size), "streams": len(a), "k": int(a.shape[1]), "mismatches": mismatches,
               "counterexamples": examples[:10]}
    write_atomic(os.environ["OPM_SUMMARY"], json.dumps(summary))
    assert mismatches == 0, f"{mismatches} of {len(a)} streams differ: (stream, expected, got) {examples[:3]}"
