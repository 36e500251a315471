"""Atomic file output: a reader never sees a half-written artifact, a failure leaves nothing behind."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OpmodelsError


def prepare_directory(directory) -> Path:
    """Create ``directory`` if needed and check it can be written, before any work is done."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OpmodelsError(f"cannot create output directory {str(path)!r}: {error.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OpmodelsError(f"output directory {str(path)!r} is not writable")
    return path


def write_atomic(path, data: bytes | str) -> Path:
    """Write to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
