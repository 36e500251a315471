"""Named operators: ``M<m>P<p>[W<n>]``, ``LOA<l>[W<w>]``, ``EXACT[W<n>]`` and user registrations."""
from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
from functools import lru_cache

from .errors import OpmodelsError
from .library.booth import LOGICS, BoothR4
from .library.loa import LOA
from .operator import Operator

_ID_FORMS = (
    (re.compile(r"M(\d+)P(\d+)(?:W(\d+))?"), lambda m, p, w: _booth(int(m), int(p), int(w or 8))),
    (re.compile(r"LOA(\d+)(?:W(\d+))?"), lambda l, w: LOA(int(w or 32), int(l))),
    (re.compile(r"EXACT(?:W(\d+))?"), lambda w: _exact(int(w or 8))),
)
_registered: dict[str, Operator] = {}

CATALOG_LOA_L = range(0, 15)  # LOA0 .. LOA14 at width 32


def _booth(m: int, p: int, width: int) -> Operator:
    if m not in LOGICS:
        raise OpmodelsError(f"logic M{m} does not exist; the catalog has M1..M6 (see `opmodels list`)")
    cell, neg = LOGICS[m]
    return BoothR4(width, cell, p, neg)


def _exact(width: int) -> Operator:
    op = BoothR4(width, "ABE1", 0, "exact")
    op.id = "EXACT" + ("" if width == 8 else f"W{width}")
    op.family, op.params = "BoothR4", {"width": width, "cell": "exact", "p": 0, "neg": "exact"}
    return op


def multipliers_8bit() -> list[str]:
    """The 48 8-bit catalog multipliers: M1..M6 x P0, 2, .., 14."""
    return [f"M{m}P{p}" for m in LOGICS for p in range(0, 15, 2)]


def catalog_ids() -> list[str]:
    return ["EXACT", *multipliers_8bit(), *(f"LOA{l}" for l in CATALOG_LOA_L), *_registered]


def register(op: Operator) -> Operator:
    """Make a user operator reachable by id from every API and command."""
    if not isinstance(op, Operator):
        raise OpmodelsError(f"register takes an Operator, not {op!r}")
    _registered[op.id] = op
    return op


@lru_cache(maxsize=512)
def _from_id(op_id: str) -> Operator:
    for pattern, make in _ID_FORMS:
        match = pattern.fullmatch(op_id)
        if match:
            return make(*match.groups())
    raise OpmodelsError(f"unknown operator {op_id!r}{_did_you_mean(op_id)} (see `opmodels list`)")


def get(op_id: str) -> Operator:
    """The operator named ``op_id`` (case-insensitive), or ``"exact"`` for the 8-bit exact multiplier."""
    if isinstance(op_id, Operator):
        return op_id
    if not isinstance(op_id, str):
        raise OpmodelsError(f"an operator id is a string like 'M4P8', not {op_id!r}")
    if op_id in _registered:
        return _registered[op_id]
    try:
        return _from_id(op_id.strip().upper())
    except OpmodelsError as error:
        if "unknown operator" in str(error):
            raise
        raise OpmodelsError(f"{op_id}: {error}") from None


def _did_you_mean(op_id: str) -> str:
    close = difflib.get_close_matches(op_id, catalog_ids(), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load_from(spec: str) -> Operator:
    """``package.module:attribute`` naming an Operator, or a callable returning one; it is registered."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise OpmodelsError(f"--from takes 'package.module:attribute', not {spec!r}")
    if os.getcwd() not in sys.path:  # like `python -m`: modules beside the user are importable
        sys.path.insert(0, os.getcwd())
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except ImportError as error:
        raise OpmodelsError(f"--from {spec}: cannot import {module_name!r} ({error})") from None
    except AttributeError:
        raise OpmodelsError(f"--from {spec}: module {module_name!r} has no attribute {attribute!r}") from None
    op = target if isinstance(target, Operator) else target()
    if not isinstance(op, Operator):
        raise OpmodelsError(f"--from {spec}: expected an Operator, got {type(op).__name__}")
    return register(op)
