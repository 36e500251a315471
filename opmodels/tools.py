"""External tools (Yosys, Icarus, its simulator) run with a time limit, so a design that makes a tool
spin (a combinational loop, a huge flattening) ends in a one-line error instead of a stuck process.

The limit is ``$OPMODELS_TOOL_TIMEOUT`` seconds (default 1800: synthesising a 32-bit multiplier with
the ``abc`` flow takes minutes on a small machine).
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

from .errors import OpmodelsError

DEFAULT_TIMEOUT = 1800.0


def timeout() -> float:
    text = os.environ.get("OPMODELS_TOOL_TIMEOUT", "")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise OpmodelsError(f"OPMODELS_TOOL_TIMEOUT must be a positive number of seconds, not {text!r}")
    return value


def run(command, *, what: str, **options) -> subprocess.CompletedProcess:
    """``subprocess.run(command, capture_output=True, text=True)`` within the time limit."""
    limit = timeout()
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=limit, **options)
    except subprocess.TimeoutExpired:
        raise OpmodelsError(f"{what} did not finish within {limit:g} s (OPMODELS_TOOL_TIMEOUT); the design "
                            f"may loop or be too large") from None


def _children(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


class Watchdog:
    """Kills the children of this process that run in directory ``cwd`` when ``seconds`` pass before
    the ``with`` block ends (for tools started by a library that gives no time limit, like cocotb's
    runner). The directory tells them apart from the tools of other benches running in other threads.
    ``fired`` says whether it killed."""

    def __init__(self, seconds: float, cwd):
        self.fired = False
        self._cwd = Path(cwd).resolve()
        self._timer = threading.Timer(seconds, self._kill)
        self._timer.daemon = True

    def _kill(self):
        self.fired = True
        for child in _children(os.getpid()):
            if _cwd(child) != self._cwd:
                continue
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        return False
