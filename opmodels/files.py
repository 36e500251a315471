"""Atomic file output: a reader never sees a half-written artifact, a failure leaves nothing behind,
and a run killed half-way is repaired by the next run in the same directory."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from .errors import OpmodelsError

# The temporaries of write_atomic: ".<name>.<pid>.<8 random chars>.tmp" (older ones had no pid).
TEMPORARY = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp$")


def prepare_directory(directory, names=(), option: str = "output directory") -> Path:
    """Create ``directory`` if needed and check that it, and every file ``names`` it will receive, can
    be written: all before any work is done, so a bad path costs nothing and writes nothing.
    ``option`` is how the user named the directory (for the message)."""
    text = os.fspath(directory)
    if not text.strip():
        raise OpmodelsError(f"{option} needs a directory name, not {text!r}")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise OpmodelsError(f"{option} {text!r} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OpmodelsError(f"{option} {text!r}: cannot create the directory: {error.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OpmodelsError(f"{option} {text!r}: the directory is not writable")
    for name in names:
        target = path / name
        if target.is_dir() or (target.exists() and not target.is_file()):
            raise OpmodelsError(f"cannot write {str(target)!r}: a directory (or other non-file) has that name")
    return path


def clean_temporaries(directory) -> list[Path]:
    """Remove the temporaries that :func:`write_atomic` left in ``directory`` when its process was
    killed; a temporary of a process still running is left alone."""
    removed = []
    for entry in Path(directory).iterdir():
        match = TEMPORARY.match(entry.name)
        if not match or not entry.is_file() or _alive(match["pid"]):
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: str | None) -> bool:
    if pid is None or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, OverflowError):  # gone, or no pid at all
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _temporary(path: Path, payload: bytes) -> str:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def write_atomic(path, data: bytes | str) -> Path:
    """Write to a temporary file beside ``path``, then rename it into place."""
    return write_atomic_set({path: data})[0]


def write_atomic_set(files: dict) -> list[Path]:
    """Write several files (path -> bytes or str) as one step as far as a file system allows: every
    temporary is written first, then all are renamed into place. A failure while writing leaves none
    of them; a kill between the renames leaves some new files, which a rerun rewrites."""
    temporaries: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            temporaries.append((_temporary(path, data.encode() if isinstance(data, str) else data), path))
        for temporary, path in temporaries:
            os.replace(temporary, path)
    except BaseException:
        for temporary, _ in temporaries:
            Path(temporary).unlink(missing_ok=True)
        raise
    return [path for _, path in temporaries]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
