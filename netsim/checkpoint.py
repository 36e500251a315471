"""Checkpoint files written by ``netsim train`` (``torch.save`` of a dict of plain types)::

    {"format": "netsim-checkpoint", "version": 1,
     "model": "lenet5",                 # zoo name (None for a user model)
     "model_kwargs": {},                # arguments of the zoo builder
     "state_dict": {...},               # the float model's state_dict (CPU tensors)
     "metadata": {"dataset": "mnist5k", "epochs": 20, "seed": 0, "test_accuracy": 0.98,
                  "torch": "2.13.0", "created": "2026-...Z", ...}}

Loading uses ``torch.load(weights_only=True)``, so a checkpoint cannot run code. A bare state_dict
file (``torch.save(model.state_dict(), path)``) loads too.
"""
from __future__ import annotations

import io
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from opmodels.files import write_atomic

from .errors import NetsimError

FORMAT = "netsim-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    state_dict: dict
    model: str | None = None
    model_kwargs: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    def apply(self, model: nn.Module, source: str = "checkpoint") -> nn.Module:
        for name, tensor in self.state_dict.items():  # NaN weights would score some accuracy without a word
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise NetsimError(f"{source}: tensor {name!r} holds NaN or Inf values; a model with them "
                                  f"computes nothing meaningful (retrain it)")
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as error:
            first = str(error).strip().splitlines()
            raise NetsimError(f"{source} does not fit {type(model).__name__}: "
                              f"{' '.join(line.strip() for line in first[:3])}") from None
        return model


def save(path, model: nn.Module, name: str | None, model_kwargs: dict | None = None, **metadata) -> Path:
    """Write a checkpoint atomically."""
    record = {
        "format": FORMAT, "version": VERSION, "model": name, "model_kwargs": dict(model_kwargs or {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": {"torch": str(torch.__version__), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     **metadata},
    }
    buffer = io.BytesIO()
    torch.save(record, buffer)
    path = check_writable(path)
    return write_atomic(path, buffer.getvalue())


def check_writable(path) -> Path:
    path = Path(path)
    directory = path.parent
    if not directory.is_dir():
        raise NetsimError(f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise NetsimError(f"cannot write {str(path)!r}: directory {str(directory)!r} is not writable")
    if path.is_dir():
        raise NetsimError(f"cannot write {str(path)!r}: it is a directory")
    return path


def _reason(error: Exception) -> str:
    """torch's first line, without its advice to load untrusted files with weights_only=False."""
    text = str(error)
    for line in text.splitlines():
        if line.strip().startswith("Unsupported global:"):
            return line.strip()
    if "Unsupported operand" in text:
        return "its bytes are not a torch.save file"
    if "Weights only load failed" in text:
        return "it holds objects other than tensors and plain types"
    return f"{type(error).__name__}: {text.splitlines()[0] if text else 'unreadable'}"


def load(path) -> Checkpoint:
    path = Path(path)
    if not path.exists():
        raise NetsimError(f"checkpoint {str(path)!r} not found (train one with `netsim train <model> -o {path}`)")
    if path.is_dir():
        raise NetsimError(f"checkpoint {str(path)!r} is a directory, not a file")
    if path.stat().st_size == 0:
        raise NetsimError(f"checkpoint {str(path)!r} is empty (0 bytes); was its training interrupted?")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about legacy formats before failing on them
            record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a file that is not a checkpoint
        raise NetsimError(f"{path} is not a netsim checkpoint or a torch state_dict ({_reason(error)}); "
                          f"checkpoints are read without running code (weights_only), so files holding other "
                          f"Python objects are refused") from None
    if isinstance(record, dict) and record.get("format") == FORMAT:
        if record.get("version") != VERSION:
            raise NetsimError(f"{path}: checkpoint version {record.get('version')} is not supported (need {VERSION})")
        return Checkpoint(record["state_dict"], record.get("model"), record.get("model_kwargs") or {},
                          record.get("metadata") or {})
    if isinstance(record, dict) and all(isinstance(v, torch.Tensor) for v in record.values()):
        return Checkpoint(record)
    raise NetsimError(f"{path} is neither a netsim checkpoint nor a state_dict")
