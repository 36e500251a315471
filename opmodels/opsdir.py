"""Operator directories: imported operators stored as files, found by id from every command.

One operator is one file ``<DIR>/<id>.json`` (written atomically)::

    {"format": "opmodels-operator", "version": 1, "id": ..., "kind": ..., "family": ...,
     "params": {...}, "structure": "...", "provenance": {... "proof": {...}}, "ir_hash": "...",
     "graph": "<ir.Graph.to_text()>"}

The graph is the operator; ``ir_hash`` guards it (a file edited by hand, or truncated, is refused).
Whatever an importer keeps beside it (the original RTL, a C model) lives in ``<DIR>/<id>.src/``.
Directories come from ``ops=`` arguments, ``--ops`` options and ``$OPMODELS_OPS`` (paths separated by
``os.pathsep``). This module only stores and reads; the catalog decides what an id means (a stored id
can never shadow a built-in one).
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from .errors import OpmodelsError
from .files import prepare_directory, write_atomic
from .ir import Graph, IRError
from .operator import Operator, check_id

FORMAT, VERSION = "opmodels-operator", 1
ENVIRONMENT = "OPMODELS_OPS"


def path_of(directory, op_id: str) -> Path:
    return Path(directory) / f"{check_id(op_id)}.json"


def sources_of(directory, op_id: str) -> Path:
    """Where an importer keeps the operator's original files."""
    return Path(directory) / f"{check_id(op_id)}.src"


def save(op: Operator, directory, option: str = "-o") -> Path:
    """Store ``op`` in ``directory`` as ``<id>.json`` (``catalog.store`` also refuses built-in ids)."""
    path = prepare_directory(directory, [f"{op.id}.json"], option=option)
    record = {"format": FORMAT, "version": VERSION, "id": op.id, "kind": op.kind, "family": op.family,
              "params": dict(op.params), "structure": op.structure, "provenance": dict(op.provenance),
              "ir_hash": op.ir_hash, "graph": op.graph.to_text()}
    return write_atomic(path / f"{op.id}.json", json.dumps(record, indent=1, sort_keys=True) + "\n")


def load(path) -> Operator:
    """The operator stored in one ``<id>.json`` file, checked against its recorded hash."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as error:
        raise OpmodelsError(f"cannot read operator file {str(path)!r}: {error.strerror}") from None
    return _load(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _load(path: Path, mtime_ns: int, size: int) -> Operator:  # a file read once while it is unchanged
    try:
        record = json.loads(path.read_text())
    except OSError as error:
        raise OpmodelsError(f"cannot read operator file {str(path)!r}: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise OpmodelsError(f"operator file {str(path)!r} is not valid JSON ({error})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise OpmodelsError(f"{str(path)!r} is not an opmodels operator file (no \"format\": \"{FORMAT}\")")
    if record.get("version") != VERSION:
        raise OpmodelsError(f"{str(path)!r}: operator file version {record.get('version')!r} is not "
                            f"supported (this opmodels reads version {VERSION})")
    missing = [key for key in ("id", "kind", "graph", "ir_hash") if not isinstance(record.get(key), str)]
    if missing:
        raise OpmodelsError(f"{str(path)!r}: missing or malformed field(s) {', '.join(missing)}")
    if path.name != f"{record['id']}.json":
        raise OpmodelsError(f"{str(path)!r} holds operator {record['id']!r}; its file must be named "
                            f"{record['id']}.json")
    try:
        graph = Graph.from_text(record["graph"])
    except IRError as error:
        raise OpmodelsError(f"{str(path)!r}: the stored graph is invalid: {error}") from None
    if graph.hash != record["ir_hash"]:
        raise OpmodelsError(f"{str(path)!r}: the stored graph does not match its recorded IR hash "
                            f"{record['ir_hash'][:12]} (edited or damaged); import the operator again")
    return Operator(record["id"], record["kind"], graph, record.get("family", "imported"),
                    record.get("params") or {}, record.get("structure", ""), record.get("provenance") or {})


def directories(ops=None) -> list[Path]:
    """The operator directories to search: ``ops`` (one path or several), else ``$OPMODELS_OPS``."""
    source = "operator directory"
    if ops is None:
        ops, source = [part for part in os.environ.get(ENVIRONMENT, "").split(os.pathsep) if part], f"${ENVIRONMENT}"
    elif isinstance(ops, (str, os.PathLike)):
        ops = [ops]
    for entry in ops:
        if not Path(entry).is_dir():
            raise OpmodelsError(f"{source} {os.fspath(entry)!r} is not a directory")
    return [Path(entry) for entry in ops]


def find(op_id: str, ops=None) -> Operator | None:
    """The stored operator ``op_id`` from the first directory that has it, None when none has."""
    for directory in directories(ops):
        path = directory / f"{op_id}.json"
        if path.is_file():
            return load(path)
    return None


def ids(ops=None) -> list[str]:
    """The ids stored in the operator directories, in search order, each once."""
    seen: dict[str, None] = {}
    for directory in directories(ops):
        for path in sorted(directory.glob("*.json")):
            seen.setdefault(path.stem, None)
    return list(seen)
