"""65,536-entry lookup tables of 8-bit operators (spec section 6).

``lut[a & 0xFF, b & 0xFF] = P(a, b)``: row = multiplicand bit pattern, column = multiplier bit pattern,
int32, C order. Saved as ``<ID>.npy`` with ``<ID>.json`` (id, family, parameters, IR hash, sha256 of
the array bytes, metrics) and, on request, ``<ID>.h`` (a C header with the same table): written by
:mod:`opmodels.artifacts`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import artifacts, interp
from .errors import OpmodelsError

FORMATS = tuple(artifacts.TABLE_FORMATS)  # ours (npy, c) and the peers' (docs/formats.md)
LUT_WIDTH = 8


def build(op) -> np.ndarray:
    if not op.has_lut:
        raise OpmodelsError(f"{op.id} has {op.a.width}- and {op.b.width}-bit operands; lookup tables exist for "
                            f"8-bit operators only")
    patterns = np.arange(256, dtype=np.uint32)
    y = interp.evaluate(op.graph, {"a": patterns[:, None], "b": patterns[None, :]})["y"]
    return np.ascontiguousarray(op.y.read(y).astype(np.int32))


def load(path) -> np.ndarray:
    """Load a saved table and check it against the sha256 recorded beside it."""
    path = Path(path)
    table = np.load(path)
    meta_path = path.with_suffix(".json")
    if meta_path.exists():
        expected = json.loads(meta_path.read_text())["sha256"]
        if artifacts.sha256(table) != expected:
            raise OpmodelsError(f"{path}: table does not match the sha256 in {meta_path.name}")
    return table
