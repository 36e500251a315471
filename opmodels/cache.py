"""Where opmodels keeps what it can make again: ``$OPMODELS_CACHE_DIR``, or ``~/.cache/opmodels``.

One policy for every cache (generated Numba modules, synthesised netlists, ...): each gets its own
sub-directory, created on first use; a cache that cannot be written only costs time.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import OpmodelsError


def cache_root() -> Path:
    root = os.environ.get("OPMODELS_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "opmodels"


def cache_dir(name: str, create: bool = True) -> Path:
    """``<cache root>/<name>``, created when ``create`` (the default)."""
    path = cache_root() / name
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OpmodelsError(f"cannot create the cache directory {str(path)!r}: {error.strerror}; set "
                                f"OPMODELS_CACHE_DIR to a writable directory") from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise OpmodelsError(f"the cache directory {str(path)!r} is not writable; set OPMODELS_CACHE_DIR "
                                f"to a writable directory")
    return path
