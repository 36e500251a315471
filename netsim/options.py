"""Argument types and the parser shared by every netsim command: one rule per kind of value.

Each type is an argparse ``type=`` function, so a bad value is refused while the command line is
parsed, before any file is read or written, and comes out as one line naming the option:
``netsim: error: argument --threads: must be an integer in 1..1024, not '0'``.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
from pathlib import Path

from .errors import NetsimError

# upper bounds that catch typos (an extra zero or three) long before memory or time run out
MAX_COUNT = 2**31 - 1
MAX_THREADS = 1024
MAX_EPOCHS = 100_000
MAX_SEED = 2**32 - 1  # numpy and optuna seeds are 32-bit


class Parser(argparse.ArgumentParser):
    """Parse errors become a :class:`NetsimError`, printed as one line with exit code 2 (not usage text)."""

    def error(self, message):
        raise NetsimError(message)


def count(low: int = 1, high: int = MAX_COUNT):
    """An integer in ``low..high``: every count option (threads, batches, samples, epochs) uses this."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in {low}..{high}, not {text!r}")
        return value
    parse.__name__ = "count"  # argparse names the type in some messages
    return parse


def number(low: float, high: float, low_open: bool = False, high_open: bool = False):
    """A finite float in the given interval (NaN and Inf never are)."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        inside = math.isfinite(value) and (low < value if low_open else low <= value) and \
            (value < high if high_open else value <= high)
        if not inside:
            raise argparse.ArgumentTypeError(f"must be a finite number in {interval}, not {text!r}")
        return value
    parse.__name__ = "number"
    return parse


seed = count(0, MAX_SEED)
threads = count(1, MAX_THREADS)
epochs = count(1, MAX_EPOCHS)
lr = number(0, 10, low_open=True)  # the same bound as train.check_hyperparameters
fraction = number(0, 1, high_open=True)
accuracy = number(0, 1, low_open=True)  # the same bound as explore.search


def _nonempty(text: str, what: str) -> Path:
    if not text.strip():  # Path("") is the current directory: an empty name must not write there
        raise argparse.ArgumentTypeError(f"{what} must not be empty")
    return Path(text)


def output_file(text: str) -> Path:
    """A file to write: its directory exists and is a directory; the path is not a directory."""
    path = _nonempty(text, "the output file name")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file name")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {str(parent)!r} is a file, not a directory")
    return path


def output_directory(text: str) -> Path:
    """A directory to create or fill: it is not a file, nor under one, and can be written. Nothing is
    created here; the command creates it once every other argument has been checked."""
    path = _nonempty(text, "the output directory (use '.' for the current one)")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"is under the file {str(existing)!r}"
        raise argparse.ArgumentTypeError(f"{text!r} {where}; give a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r}: {str(existing)!r} is not writable")
    return path


def nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


# -- operator directories: --ops DIR on every command that takes an operator ------------------------------
OPS_ENVIRONMENT = "OPMODELS_OPS"  # opmodels' own variable: every opmodels.get in this process reads it


def operator_directory(text: str) -> Path:
    path = _nonempty(text, "the operator directory")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory (an operator directory holds <id>.json files)")
    return path.resolve()


def add_operator_directories(parser) -> None:
    parser.add_argument("--ops", action="append", type=operator_directory, default=[], metavar="DIR",
                        help="a directory of stored operators (opmodels.store, `opmodels import`) whose ids "
                             "the command accepts; repeatable; searched before $OPMODELS_OPS")


@contextlib.contextmanager
def operator_directories(args):
    """While a command runs, ``--ops`` directories come first in ``$OPMODELS_OPS``: every id lookup of
    this process (configs, kernels, sweeps, cost) and of the worker processes it starts finds them."""
    directories = [str(path) for path in getattr(args, "ops", None) or []]
    before = os.environ.get(OPS_ENVIRONMENT)
    if directories:
        os.environ[OPS_ENVIRONMENT] = os.pathsep.join([*directories, *([before] if before else [])])
    try:
        yield
    finally:
        if directories:
            if before is None:
                os.environ.pop(OPS_ENVIRONMENT, None)
            else:
                os.environ[OPS_ENVIRONMENT] = before
