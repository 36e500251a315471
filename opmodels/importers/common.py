"""What every importer shares: the user's source files (read once, hashed), the versions of the tools
that built and proved an operator, and storing an imported operator with its sources.

An operator directory holds ``<DIR>/<id>.json`` (the IR, provenance and proof, :mod:`opmodels.opsdir`)
and, beside it, ``<DIR>/<id>.src/`` with the original files, byte for byte, so the proof's sha256 can
be checked against them at any later time.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .. import catalog, opsdir, tools
from ..errors import OpmodelsError
from ..files import prepare_directory, write_atomic_set
from ..operator import Operator

MAX_SOURCE_BYTES = 64 << 20  # a source larger than this is not a hand-written operator


@dataclass(frozen=True)
class Source:
    """One file the user gave: the path as given, the name it is stored under, its bytes."""

    path: Path
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def record(self) -> dict:
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256, "bytes": len(self.data)}


def read_sources(paths, what: str = "Verilog file") -> list[Source]:
    """The files ``paths``, each checked (exists, a file, readable, not given twice) and read once."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise OpmodelsError(f"give at least one {what}")
    sources, seen, names = [], set(), set()
    for path in paths:
        if path.is_dir():
            raise OpmodelsError(f"{what} {str(path)!r} is a directory")
        if not path.is_file():
            raise OpmodelsError(f"{what} {str(path)!r} does not exist")
        if path.resolve() in seen:
            raise OpmodelsError(f"{what} {str(path)!r} is given twice")
        seen.add(path.resolve())
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise OpmodelsError(f"{what} {str(path)!r} is larger than {MAX_SOURCE_BYTES >> 20} MiB")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise OpmodelsError(f"cannot read {what} {str(path)!r}: {error.strerror}") from None
        name = path.name
        if name in names:  # two files of one name from different directories: both are kept
            name = f"{len(sources)}_{name}"
        names.add(name)
        sources.append(Source(path, name, data))
    return sources


@functools.cache
def _version_line(command: tuple[str, ...]) -> str:
    try:
        result = tools.run(list(command), what=" ".join(command), cwd=tempfile.gettempdir())
    except (OSError, OpmodelsError):
        return "unknown"
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def icarus_version() -> str:
    """``Icarus Verilog version 12.0 (stable)``-style first line of ``iverilog -V``."""
    line = _version_line(("iverilog", "-V"))
    return line.split(" (")[0] + (" (stable)" if "(stable)" in line else "")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()


@dataclass
class Imported:
    """An imported operator (its provenance holds the proof) and the sources it came from."""

    op: Operator
    sources: list[Source] = field(default_factory=list)

    @property
    def proof(self) -> dict:
        return dict(self.op.provenance.get("proof") or {})

    @property
    def passed(self) -> bool:
        return bool(self.proof.get("passed"))


def store(imported: Imported, directory, option: str = "-o") -> Path:
    """Write the operator (``<DIR>/<id>.json``) and its sources (``<DIR>/<id>.src/``). Only a proved
    operator is stored; the sources are written first, the operator file last, each atomically, so a
    reader finds either the previous operator or the new one with its sources."""
    op = imported.op
    if not imported.passed:
        raise OpmodelsError(f"{op.id} did not pass its proof; it is not stored")
    if catalog.is_builtin(op.id):
        raise OpmodelsError(f"{op.id!r} is a built-in catalog id; an imported operator needs another id (--id)")
    root = prepare_directory(directory, [f"{op.id}.json"], option=option)
    src = opsdir.sources_of(root, op.id)
    if src.exists() and not src.is_dir():
        raise OpmodelsError(f"cannot write {str(src)!r}: a file has that name (it keeps the operator's sources)")
    staging = Path(tempfile.mkdtemp(prefix=f".{op.id}.src.", dir=root))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; give the usual directory mode
    try:
        write_atomic_set({staging / s.name: s.data for s in imported.sources})
        if src.exists():  # a previous import of this id: its sources make way for the new ones
            old = root / f".{op.id}.src.old"
            shutil.rmtree(old, ignore_errors=True)
            src.rename(old)
            staging.rename(src)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(src)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return catalog.store(op, root, option=option)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
