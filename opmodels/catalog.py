"""The one registry: named operators ``M<m>P<p>[W<n>]``, ``LOA<l>[W<w>]``, ``EXACT[W<n>]``, user
registrations and the operators stored in operator directories (:mod:`opmodels.opsdir`). Only the edges (the CLI, netsim's config loader, the public ``kernels`` functions) turn
strings into operators, and they all do it here; every id grammar lives with its family.
"""
from __future__ import annotations

import difflib
import importlib
import importlib.util
from pathlib import Path

from . import opsdir
from .errors import OpmodelsError
from .library import FAMILIES
from .library.booth import LOGICS
from .operator import ID_PATTERN, Operator, check_id

_registered: dict[str, Operator] = {}

CATALOG_LOA_L = range(0, 15)  # LOA0 .. LOA14 at width 32


def multipliers_8bit() -> list[str]:
    """The 48 8-bit catalog multipliers: M1..M6 x P0, 2, .., 14."""
    return [f"M{m}P{p}" for m in LOGICS for p in range(0, 15, 2)]


def builtin_ids() -> list[str]:
    """The named instances of the catalog: EXACT, the 48 8-bit multipliers, LOA0..LOA14."""
    return ["EXACT", *multipliers_8bit(), *(f"LOA{l}" for l in CATALOG_LOA_L)]


def registered_ids() -> list[str]:
    """The ids of the operators registered in this process, in registration order."""
    return list(_registered)


def catalog_ids() -> list[str]:
    """The built-in ids, then the operators registered in this process."""
    return [*builtin_ids(), *_registered]


def _family_params(op_id: str):
    """The family parameters a built-in id names, None when no family's grammar matches."""
    for family in FAMILIES:
        params = family.parse(op_id.strip().upper())
        if params is not None:
            return params
    return None


def is_builtin(op_id: str) -> bool:
    """True when ``op_id`` is of a family's form (``M4P8``, ``LOA3W16``, ``EXACTW12``, ...)."""
    try:
        return _family_params(op_id) is not None
    except OpmodelsError:  # of a family's form, with illegal parameters
        return True


def register(op: Operator, replace: bool = False) -> Operator:
    """Make a user operator reachable by id from every API and command.

    A built-in id (any id of a family's form) is refused unless ``replace=True``, and so is an id
    already registered for a different operator: a silent replacement would change what every later
    lookup returns.
    """
    if not isinstance(op, Operator):
        raise OpmodelsError(f"register takes an Operator, not {op!r}")
    check_id(op.id)
    if not replace:
        if is_builtin(op.id):
            raise OpmodelsError(f"{op.id!r} is a built-in catalog id; choose another id for your operator "
                                f"(or register(op, replace=True) to shadow it on purpose)")
        known = _registered.get(op.id)
        if known is not None and known != op:
            raise OpmodelsError(f"an operator {op.id!r} is already registered with another circuit "
                                f"(IR hash {known.ir_hash[:12]}); choose another id or pass replace=True")
    _registered[op.id] = op
    return op


def get(op_id, ops=None) -> Operator:
    """The operator named ``op_id`` (case-insensitive for built-in ids); an Operator is returned as is.

    Looked up in order: the operators registered in this process, the families' ids, then the operator
    directories ``ops`` (a path or a list of paths; default ``$OPMODELS_OPS``)."""
    if isinstance(op_id, Operator):
        return op_id
    if not isinstance(op_id, str):
        raise OpmodelsError(f"an operator id is a string like 'M4P8', not {op_id!r}")
    if op_id in _registered:
        return _registered[op_id]
    try:
        params = _family_params(op_id)
    except OpmodelsError as error:
        raise OpmodelsError(f"{op_id}: {error}") from None
    if params is not None:
        return params.build()
    stored = opsdir.find(op_id, ops) if ID_PATTERN.fullmatch(op_id) else None
    if stored is None:
        raise OpmodelsError(f"unknown operator {op_id!r}{_did_you_mean(op_id, ops)} (see `opmodels list`)")
    return stored


def store(op: Operator, directory, option: str = "-o"):
    """Save ``op`` into an operator directory, where every command finds it by id (``--ops``)."""
    if is_builtin(op.id):
        raise OpmodelsError(f"{op.id!r} is a built-in catalog id; an imported operator needs another id")
    return opsdir.save(op, directory, option=option)


def _did_you_mean(op_id: str, ops=None) -> str:
    if op_id.strip().lower() in ("exact", "exact-product", "exact_product"):
        return ("; the 8-bit exact Booth multiplier is 'EXACT', and the unbounded exact product a*b of the "
                "kernels is opmodels.EXACT_PRODUCT")
    close = difflib.get_close_matches(op_id, catalog_ids() + opsdir.ids(ops), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load_from(spec: str) -> Operator:
    """``package.module:attribute`` naming an Operator, or a callable returning one; it is registered.
    Like ``python -m``, a module beside the user (``examples/truncated_array.py``) is found too."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise OpmodelsError(f"--from takes 'package.module:attribute', not {spec!r}")
    module = _import(spec, module_name)
    if not hasattr(module, attribute):
        raise OpmodelsError(f"--from {spec}: module {module_name!r} has no attribute {attribute!r}")
    target = getattr(module, attribute)
    if isinstance(target, Operator):
        op = target
    elif callable(target):
        try:
            op = target()
        except OpmodelsError as error:
            raise OpmodelsError(f"--from {spec}: {error}") from None
        except Exception as error:  # the user's code failed: say where, in one line
            raise OpmodelsError(f"--from {spec}: calling {attribute}() failed: {type(error).__name__}: {error}") from None
    else:
        raise OpmodelsError(f"--from {spec}: {attribute} is a {type(target).__name__}, not an Operator "
                            f"or a function returning one")
    if not isinstance(op, Operator):
        raise OpmodelsError(f"--from {spec}: expected an Operator, got {type(op).__name__}")
    return register(op)


def _import(spec: str, module_name: str):
    try:
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError:
            path = Path.cwd().joinpath(*module_name.split(".")).with_suffix(".py")
            if not path.is_file():
                raise
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            return module
    except ImportError as error:
        raise OpmodelsError(f"--from {spec}: cannot import {module_name!r} ({error})") from None
    except SyntaxError as error:
        raise OpmodelsError(f"--from {spec}: {error.filename}:{error.lineno}: syntax error: {error.msg}") from None
    except OpmodelsError as error:
        raise OpmodelsError(f"--from {spec}: {error}") from None
    except Exception as error:
        raise OpmodelsError(f"--from {spec}: importing {module_name!r} failed: {type(error).__name__}: {error}") from None
