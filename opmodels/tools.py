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
STOPPING = threading.Event()  # set by SIGTERM under ends_children_on_sigterm(): start no further tool


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
    refuse_when_stopping(what)
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=limit, **options)
    except subprocess.TimeoutExpired:
        raise OpmodelsError(f"{what} did not finish within {limit:g} s (OPMODELS_TOOL_TIMEOUT); the design "
                            f"may loop or be too large") from None


def refuse_when_stopping(what: str) -> None:
    if STOPPING.is_set():
        raise OpmodelsError(f"{what} not started: the process is ending (SIGTERM)")


def kill_children(cwd=None) -> None:
    """SIGKILL this process's children (those running in directory ``cwd``, when given)."""
    wanted = Path(cwd).resolve() if cwd is not None else None
    for child in _children(os.getpid()):
        if wanted is not None and _cwd(child) != wanted:
            continue
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


class ends_children_on_sigterm:
    """``with`` block of a command that runs tools: SIGTERM kills the tools this process started (Icarus's
    ``vvp`` under cocotb's runner, Yosys), refuses to start more, and ends the command with exit status
    143, so ``kill PID`` or a job scheduler's time limit leaves no simulator running. Python's default
    for SIGTERM ends the process at once, and its children run on. Only the main thread can install it;
    elsewhere it does nothing."""

    def __enter__(self):
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    @staticmethod
    def _handle(signum, frame):
        STOPPING.set()
        kill_children()
        raise SystemExit(128 + signum)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
        return False


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
        kill_children(self._cwd)

    def __enter__(self):
        refuse_when_stopping("the simulation")
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        return False
