"""The evaluation job: one configuration of one model on one dataset, optionally fine-tuned first.

A job's payload is plain JSON (see :func:`evaluation_payload`), so it can run in another process or on
another machine. Each worker process loads the model, the data and the calibration once and reuses
them for every job it runs.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import NetsimError
from .analysis import pack_hits
from .executor import Job

CALIBRATION_BATCHES = 8  # of the training split, batch 256: 2,048 samples


@dataclass(frozen=True)
class ModelSpec:
    """A zoo model and its weights, named by content for the cache."""

    name: str
    weights: str | None
    hash: str
    dataset: str = "mnist5k"

    @classmethod
    def of(cls, name: str, weights=None, dataset: str | None = None) -> "ModelSpec":
        from .. import zoo
        entry = zoo.ZOO.get(name.lower())
        if entry is None:
            raise NetsimError(f"unknown model {name!r}; the zoo has {', '.join(zoo.ZOO)}")
        model = zoo.build(name, weights)
        if weights is None:
            raise NetsimError(f"{name}: explorations need trained weights (--weights FILE; "
                              f"`netsim train {name} -o {name}.pt` makes one)")
        return cls(entry.name, str(Path(weights).resolve()), model_hash(model), dataset or entry.dataset)

    def as_payload(self) -> dict:
        return {"model": {"name": self.name, "hash": self.hash, "dataset": self.dataset},
                "_weights": self.weights}


def model_hash(model) -> str:
    """sha256 of the state_dict (names, shapes, dtypes and values), 16 hex digits."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()[:16]


def evaluation_payload(spec: ModelSpec, config: Config, finetune: dict | None = None,
                       batch_size: int = 256, test_limit: int | None = None, **tags) -> dict:
    """Everything one job needs. ``tags`` (JSON-able) label the result in the tables; like the weights
    path they are not part of the cache key, so sweeps that meet at the same point share it."""
    payload = {**spec.as_payload(), "config": config.to_toml(), "batch_size": batch_size,
               "calibration_batches": CALIBRATION_BATCHES, "test_limit": test_limit,
               "finetune": finetune, "_tags": tags}
    return payload


def evaluation_job(*args, **kwargs) -> Job:
    return Job.of(evaluation_payload(*args, **kwargs))


@dataclass
class _Context:
    model: object
    calibration: object
    train: object
    test: object


_CONTEXTS: dict = {}  # per process: (model hash, dataset, ...) -> _Context


def _context(payload: dict) -> _Context:
    model_info = payload["model"]
    key = (model_info["hash"], model_info["dataset"], payload["_weights"], payload["batch_size"],
           payload["calibration_batches"], payload["test_limit"])
    if key not in _CONTEXTS:
        import torch
        from .. import data, zoo
        from ..network import calibrate
        model = zoo.build(model_info["name"], payload["_weights"])
        found = model_hash(model)
        if found != model_info["hash"]:
            raise NetsimError(f"{payload['_weights']} changed since the sweep started "
                              f"(hash {found}, expected {model_info['hash']})")
        model.eval()
        train_set = data.load(model_info["dataset"], "train")
        test_set = data.load(model_info["dataset"], "test")
        if payload["test_limit"]:
            test_set = torch.utils.data.Subset(test_set, range(min(payload["test_limit"], len(test_set))))
        train = data.loader(train_set, payload["batch_size"])
        test = data.loader(test_set, payload["batch_size"])
        calibration = calibrate(model, train, batches=payload["calibration_batches"])
        _CONTEXTS.clear()  # one model per process at a time keeps memory flat
        _CONTEXTS[key] = _Context(model, calibration, train_set, test)
    return _CONTEXTS[key]


def run_evaluation(payload: dict) -> dict:
    """The worker: convert, fine-tune if asked, evaluate. Returns a JSON-able result."""
    import torch
    from ..network import convert
    start = time.perf_counter()
    context = _context(payload)
    config = Config.loads(payload["config"], "<job config>")
    amodel = convert(context.model, config, calibration=context.calibration)
    record = {}
    if payload.get("finetune"):
        from .finetune import finetune
        record["finetune"] = finetune(amodel, context.train, **payload["finetune"])
    hits = []
    amodel.eval()
    with torch.no_grad():
        for x, y in context.test:
            hits.extend((amodel(x).argmax(dim=1) == y).tolist())
    correct = sum(hits)
    return {"accuracy": correct / len(hits), "correct": correct, "samples": len(hits),
            "hits": pack_hits(hits), "seconds": round(time.perf_counter() - start, 3), **record}
