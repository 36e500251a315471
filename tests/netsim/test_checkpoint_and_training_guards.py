"""Weights files may be empty, garbage or hostile; training may diverge: one-line errors, nothing written."""
from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from netsim import checkpoint, train
from netsim.errors import NetsimError


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("payload,message", [
    (b"", r"is empty \(0 bytes\)"),
    (b"garbage\n", "its bytes are not a torch.save file"),
    (pickle.dumps({"w": [1, 2]}), "not a netsim checkpoint or a torch state_dict"),
])
def test_bad_weights_files_are_one_line_errors(tmp_path, payload, message):
    path = tmp_path / "w.pt"
    path.write_bytes(payload)
    with pytest.raises(NetsimError, match=message) as error:
        checkpoint.load(path)
    assert "\n" not in str(error.value) and "weights_only` set to `False`" not in str(error.value)


def test_a_hostile_weights_file_runs_no_code(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "w.pt"
    torch.save({"w": _RunsCode(marker)}, path)
    with pytest.raises(NetsimError, match="objects other than tensors"):
        checkpoint.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": float("nan")}, "lr must be a finite number"), ({"lr": float("inf")}, "lr must be a finite number"),
    ({"lr": -1.0}, "lr must be a finite number"), ({"lr": 1e30}, "lr must be a finite number"),
    ({"epochs": 0}, "epochs must be a positive integer"), ({"weight_decay": -1.0}, "weight decay"),
])
def test_bad_hyperparameters_are_refused_before_training(kwargs, message):
    model = nn.Linear(2, 2)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(NetsimError, match=message):
        train.fit(model, [(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))], progress=False, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_training_that_diverges_stops_with_an_error():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.fill_(float("inf"))  # the first forward pass gives a non-finite loss
    data = [(torch.ones(4, 2), torch.zeros(4, dtype=torch.long))]
    with pytest.raises(NetsimError, match="training diverged in epoch 1"):
        train.fit(model, data, epochs=1, progress=False)
