"""One cache for the kernels' per-weight tables (LUT split/pair/row tables of :mod:`.split`, chunk
tables of :mod:`.chunks`): one budget, one eviction rule, one weight digest, one lock.

Weights are static in inference, so tables built from a layer's weights are kept across calls, keyed
by the weights' content (:func:`digest`: a changed weight, even in place, is a new key). Entries are
numpy arrays or dicts / tuples of them; their size is counted when room is made, so an entry may grow
(:func:`grow`). The budget is ``CACHE_BYTES`` for all entries together; a layer whose tables would
take more than a quarter of it is not kept (:func:`keepable`; its kernel builds them per call).
Eviction: when the budget is full, only entries unused for ``STALE_CALLS`` look-ups make room, least
recently used first; otherwise the new tables are not kept. A network larger than the cache, run
again and again, thus keeps its first layers' tables instead of evicting each one just before it is
needed again, and tables of weights that changed go stale. The lock makes calls from several
threads safe (the kernels release the GIL).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

CACHE_BYTES = 512 << 20
STALE_CALLS = 256

_entries: OrderedDict = OrderedDict()  # least recently used first
_last_use: dict = {}
_clock = [0]
_lock = threading.RLock()


def digest(array: np.ndarray) -> str:
    """The content digest of a weight array (its shape, dtype and bytes)."""
    array = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{array.shape}{array.dtype.str}".encode())
    h.update(array.view(np.uint8).reshape(-1))
    return h.hexdigest()


def _size(value) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return sum(_size(v) for v in value)
    return 0


def nbytes() -> int:
    """The bytes the kept tables take now."""
    with _lock:
        return sum(_size(v) for v in _entries.values())


def entries() -> int:
    """How many entries are kept."""
    return len(_entries)


def keys() -> list:
    """The kept entries' keys, least recently used first."""
    with _lock:
        return list(_entries)


def clear() -> None:
    """Forget every kept table (they are rebuilt on the next call)."""
    with _lock:
        _entries.clear()
        _last_use.clear()


def keepable(nbytes_: int) -> bool:
    """Whether tables of this size are ever kept (at most a quarter of the budget)."""
    return nbytes_ <= CACHE_BYTES // 4


def get(key):
    """The entry of ``key`` (marked used now), or None. Every look-up advances the clock."""
    with _lock:
        _clock[0] += 1
        value = _entries.get(key)
        if value is not None:
            _entries.move_to_end(key)
            _last_use[key] = _clock[0]
        return value


def put(key, value) -> bool:
    """Keep ``value`` under ``key`` if it fits (evicting stale entries); False when it was not kept."""
    with _lock:
        if key in _entries:
            del _entries[key], _last_use[key]
        if not (keepable(_size(value)) and _make_room(_size(value))):
            return False
        _entries[key] = value
        _last_use[key] = _clock[0]
        return True


def grow(nbytes_: int) -> bool:
    """Make room for ``nbytes_`` more bytes that an entry is about to take; False when they do not fit."""
    with _lock:
        return keepable(nbytes_) and _make_room(nbytes_)


def _make_room(more: int) -> bool:
    """Evict stale entries, least recently used first, until ``more`` bytes fit; False (nothing
    evicted) when they cannot. Called holding _lock."""
    held = sum(_size(v) for v in _entries.values())
    stale, freed = [], 0
    for key, value in _entries.items():  # least recently used first
        if held - freed + more <= CACHE_BYTES:
            break
        if _clock[0] - _last_use[key] <= STALE_CALLS:
            return False
        stale.append(key)
        freed += _size(value)
    if held - freed + more > CACHE_BYTES:
        return False
    for key in stale:
        del _entries[key], _last_use[key]
    return True
