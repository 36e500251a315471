"""cocotb checker of the combinational bench (HDL harness: hdl/opm_comb_bench.v).

One generic test serves every operator: it takes the operator named by ``OPM_OPERATOR``, builds the
vectors (all 65,536 pairs with the LUT as reference for 8-bit operators; seeded random pairs plus
corners with the interpreter as reference otherwise), has the harness apply them in batches, reads the
DUT's results back and compares them here. The summary (vectors, mismatches, counterexamples) goes to
the JSON file ``OPM_SUMMARY`` for ``opmodels verify``.
"""
from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import Timer, ValueChange

from opmodels import interp
from opmodels.verify import BATCH, bench_operator, compare, vectors_for


def _write_vectors(a: np.ndarray, b: np.ndarray, width: int, path: str) -> None:
    packed = (interp.to_patterns(a, width).astype(object) << width) | interp.to_patterns(b, width).astype(object)
    digits = (2 * width + 3) // 4
    with open(path, "w") as handle:
        handle.write("\n".join(f"{int(v):0{digits}x}" for v in packed) + "\n")


def _read_results(path: str) -> list[int | None]:
    """Result words; ``None`` for a word with x or z bits (an undriven or contended output)."""
    words = []
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            try:
                words.append(int(line, 16))
            except ValueError:
                words.append(None)
    return words


@cocotb.test()
async def operator_matches_model(dut):
    op = bench_operator()
    a, b, expected = vectors_for(op, os.environ.get("OPM_VECTORS", "default"), int(os.environ.get("OPM_SEED", "0")))
    start = time.perf_counter()
    got: list[int | None] = []
    for lo in range(0, len(a), BATCH):
        hi = min(lo + BATCH, len(a))
        _write_vectors(a[lo:hi], b[lo:hi], op.width, "vectors.hex")
        dut.count.value = hi - lo
        await Timer(1, "ns")
        dut.start.value = 1 - int(dut.start.value)
        await ValueChange(dut.done)
        got += _read_results("results.hex")
    summary = compare(op, a, b, expected, got, limit=int(os.environ.get("OPM_MAX_COUNTEREXAMPLES", "10")))
    summary["sim_seconds"] = time.perf_counter() - start
    path = os.environ.get("OPM_SUMMARY")
    if path:
        with open(path, "w") as handle:
            json.dump(summary, handle)
    dut._log.info("%s: %d vectors, %d mismatches", op.id, summary["vectors"], summary["mismatches"])
    assert summary["mismatches"] == 0, f"{summary['mismatches']} mismatches, e.g. {summary['counterexamples'][:3]}"
