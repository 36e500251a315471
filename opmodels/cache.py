"""Where opmodels keeps what it can make again: ``$OPMODELS_CACHE_DIR``, or ``~/.cache/opmodels``.

One policy for every cache (generated Numba modules, synthesised netlists, ...): each gets its own
sub-directory, created on first use; a cache that cannot be written only costs time.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    root = os.environ.get("OPMODELS_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "opmodels"


def cache_dir(name: str, create: bool = True) -> Path:
    """``<cache root>/<name>``, created when ``create`` (the default)."""
    path = cache_root() / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
