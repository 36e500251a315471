"""cocotb bench of the combinational harness (:mod:`opmodels.verification.harness`).

One generic test serves every operator. ``OPM_CHECK`` names the ``.npz`` the verifying process wrote:
the vectors, every DUT's reference results and how its result port reads. The test has the harness
apply the vectors in batches, reads each DUT's results back, compares them here and writes the
summaries (vectors, mismatches, counterexamples) to the JSON file ``OPM_SUMMARY``.
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import Timer, ValueChange

from opmodels.files import write_atomic
from opmodels.operator import Port
from opmodels.verification.comparison import compare
from opmodels.verification.harness import BATCH, read_results, write_vectors


@cocotb.test()
async def operators_match_model(dut):
    with np.load(os.environ["OPM_CHECK"]) as check:
        a, b, expected = check["a"], check["b"], check["expected"]
        ids, limit = [str(i) for i in check["ids"]], int(check["limit"])
        ports = [Port("y", int(w), bool(s)) for w, s in zip(check["y_width"], check["y_signed"])]
        a_width, b_width = int(check["a_width"]), int(check["b_width"])
        swapped = [check["swapped"][i] if check["has_swapped"][i] else None for i in range(len(ids))]
    got: list[list[int | None]] = [[] for _ in ids]
    for lo in range(0, len(a), BATCH):
        hi = min(lo + BATCH, len(a))
        write_vectors(a[lo:hi], b[lo:hi], a_width, b_width, "vectors.hex")
        dut.count.value = hi - lo
        await Timer(1, "ns")
        dut.start.value = 1 - int(dut.start.value)
        await ValueChange(dut.done)
        for i in range(len(ids)):
            got[i] += read_results(f"results{i}.hex")
        if "OPM_PROGRESS" in os.environ:  # the verifying process shows it on stderr
            write_atomic(os.environ["OPM_PROGRESS"], str(hi))
    summaries = [compare(op_id, y, a, b, want, words, limit, other)
                 for op_id, y, want, words, other in zip(ids, ports, expected, got, swapped)]
    write_atomic(os.environ["OPM_SUMMARY"], json.dumps(summaries))
    for s in summaries:
        dut._log.info("%s: %d vectors, %d mismatches", s["operator"], s["vectors"], s["mismatches"])
    failed = [s for s in summaries if s["mismatches"]]
    assert not failed, "; ".join(f"{s['operator']}: {s['mismatches']} mismatches, e.g. {s['counterexamples'][:3]}"
                                 for s in failed)
