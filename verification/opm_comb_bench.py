"""cocotb checker of the combinational bench (HDL harness: ``opmodels.verify.harness``).

One generic test serves every operator: it takes the operators named by ``OPM_OPERATORS`` (one DUT
each in the harness, all of one operand width), builds the
vectors (all 65,536 pairs with the LUT as reference for 8-bit operators; seeded random pairs plus
corners with the interpreter as reference otherwise), has the harness apply them in batches, reads the
DUTs' results back and compares them here. The summary (vectors, mismatches, counterexamples) goes to
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
from opmodels.verify import BATCH, bench_operators, compare, vectors_for


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
async def operators_match_model(dut):
    ops = bench_operators()
    a, b, _ = vectors_for(ops[0], os.environ.get("OPM_VECTORS", "default"), int(os.environ.get("OPM_SEED", "0")))
    expected = [vectors_for(op, os.environ.get("OPM_VECTORS", "default"), int(os.environ.get("OPM_SEED", "0")))[2]
                for op in ops]  # the same (a, b) for every operator of one width and seed
    start = time.perf_counter()
    got: list[list[int | None]] = [[] for _ in ops]
    for lo in range(0, len(a), BATCH):
        hi = min(lo + BATCH, len(a))
        _write_vectors(a[lo:hi], b[lo:hi], ops[0].width, "vectors.hex")
        dut.count.value = hi - lo
        await Timer(1, "ns")
        dut.start.value = 1 - int(dut.start.value)
        await ValueChange(dut.done)
        for i in range(len(ops)):
            got[i] += _read_results(f"results{i}.hex")
    limit = int(os.environ.get("OPM_MAX_COUNTEREXAMPLES", "10"))
    summaries = [compare(op, a, b, want, words, limit) for op, want, words in zip(ops, expected, got)]
    path = os.environ.get("OPM_SUMMARY")
    if path:
        with open(path, "w") as handle:
            json.dump(summaries, handle)
    for s in summaries:
        dut._log.info("%s: %d vectors, %d mismatches", s["operator"], s["vectors"], s["mismatches"])
    failed = [s for s in summaries if s["mismatches"]]
    assert not failed, "; ".join(f"{s['operator']}: {s['mismatches']} mismatches, e.g. {s['counterexamples'][:3]}"
                                 for s in failed)
