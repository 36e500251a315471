"""The evaluation job: one configuration of one model on one dataset, optionally fine-tuned first.

A job's payload is plain JSON (see :func:`evaluation_payload`), so it can run in another process or on
another machine. Each worker process loads the model, the data and the calibration once and reuses
them for every job it runs.

A job names what it computes on by content, so its cache key changes whenever its result can: the
weights (state_dict), the test samples it scores and the training samples it calibrates (and fine-tunes)
on, the configuration, and the code of the arithmetic (the opmodels version, a hash of the source
files that compute, and the IR hash of every operator the configuration can run on). The hashes are
computed once per sweep (:class:`Fingerprints`); a worker checks the model and the data it loads
against them, so a file changed during a sweep is an error, not a silently mixed table.
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from functools import lru_cache
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
        dataset = dataset or entry.dataset
        from .. import data
        data.check_source(dataset)  # the layout first: its errors say what a directory should hold
        for split in ("train", "test"):  # data the model cannot score honestly fails here, before any job
            zoo.check_data(entry.name, model, data.load(dataset, split), f"{dataset} ({split} split)")
        return cls(entry.name, str(Path(weights).resolve()), model_hash(model), dataset)

    def as_payload(self) -> dict:
        # where the weights and the data are found is not part of the key: their content is
        return {"model": {"name": self.name, "hash": self.hash}, "_weights": self.weights,
                "_dataset": self.dataset}


def _digest(named_tensors) -> str:
    """sha256 of (name, tensor) pairs: names, shapes, dtypes and values, 16 hex digits."""
    digest = hashlib.sha256()
    for name, tensor in named_tensors:
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()[:16]


def model_hash(model) -> str:
    """The hash of the state_dict."""
    return _digest(sorted(model.state_dict().items()))


def content_hash(*tensors) -> str:
    """The hash of tensors (shapes, dtypes and values)."""
    return _digest(("", t) for t in tensors)


def _tensors(dataset) -> tuple:
    """(images, labels) of a dataset as two tensors."""
    import torch
    if isinstance(dataset, torch.utils.data.TensorDataset):
        return dataset.tensors[0], dataset.tensors[1]
    images, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(list(images)), torch.as_tensor(labels)


def data_fingerprint(train_set, test_set, test_limit: int | None, batch_size: int,
                     calibration_batches: int = CALIBRATION_BATCHES) -> dict:
    """Content hashes of what a job reads: the test samples it scores (after ``test_limit``), the
    training images the calibration sees (the first ``calibration_batches`` batches), and the whole
    training split (fine-tuning)."""
    images, labels = _tensors(test_set)
    samples = len(labels) if not test_limit else min(test_limit, len(labels))
    train_images, train_labels = _tensors(train_set)
    calibration = min(len(train_labels), batch_size * calibration_batches)
    return {"test": content_hash(images[:samples], labels[:samples]), "samples": samples,
            "calibration": content_hash(train_images[:calibration]),
            "train": content_hash(train_images, train_labels)}


# what a job's result cannot depend on (presentation and orchestration); every other source file of
# opmodels and netsim enters the code hash, so a module added later counts until it is listed here
NOT_ARITHMETIC = ("opmodels/cli/", "opmodels/verification/", "opmodels/__main__.py", "netsim/cli.py",
                  "netsim/__main__.py", "netsim/explore/__main__.py", "netsim/explore/cli.py",
                  "netsim/explore/report.py", "netsim/explore/plots.py", "netsim/explore/outputs.py",
                  "netsim/explore/executor.py", "netsim/explore/sweeps.py", "netsim/explore/search.py",
                  "netsim/explore/cost.py", "netsim/options.py")


@lru_cache(maxsize=1)
def source_hash() -> str:
    """sha256 of the source files that compute a result. The version number alone would not do: in an
    editable install it stays the same while the kernels change."""
    import opmodels

    import netsim
    digest = hashlib.sha256()
    for package in (opmodels, netsim):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            name = f"{root.name}/{path.relative_to(root).as_posix()}"
            if not name.startswith(NOT_ARITHMETIC):
                digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class Fingerprints:
    """The content hashes of one sweep's jobs, each computed once (not once per job)."""

    def __init__(self):
        self._data: dict = {}
        self._operators: dict = {}

    def data(self, dataset: str, test_limit: int | None, batch_size: int) -> dict:
        key = (dataset, test_limit, batch_size)
        if key not in self._data:
            from .. import data
            self._data[key] = data_fingerprint(data.load(dataset, "train"), data.load(dataset, "test"),
                                               test_limit, batch_size)
        return self._data[key]

    def operators(self, config: Config) -> dict:
        """{"<id>@<operand bits>": IR hash} of every operator a layer of ``config`` can run on (a
        superset: each multiplier with each bit width the config names, so no model is needed)."""
        import opmodels

        from ..config.settings import LayerSettings
        from ..config.widths import operator_for
        tables = [config.default, *(entry.settings for entry in config.layers)]
        base = LayerSettings()
        bits = {base.w_bits, base.a_bits} | {t[k] for t in tables for k in ("w_bits", "a_bits") if k in t}
        found = {}
        for multiplier in {base.multiplier} | {t["multiplier"] for t in tables if "multiplier" in t}:
            for width in sorted(bits):
                key = f"{multiplier}@{width}"
                if key not in self._operators:
                    try:
                        op = operator_for(multiplier, width)
                    except (NetsimError, opmodels.OpmodelsError):
                        op = None  # a combination no layer can have (the config was checked when built)
                    self._operators[key] = None if op is None else op.ir_hash
                if self._operators[key] is not None:
                    found[key] = self._operators[key]
        for adder in {t["adder"] for t in tables if "adder" in t}:
            if adder.lower() != "exact":
                if adder not in self._operators:
                    self._operators[adder] = opmodels.get(adder).ir_hash
                found[adder] = self._operators[adder]
        return dict(sorted(found.items()))


def evaluation_payload(spec: ModelSpec, config: Config, finetune: dict | None = None,
                       batch_size: int = 256, test_limit: int | None = None,
                       fingerprints: Fingerprints | None = None, **tags) -> dict:
    """Everything one job needs. ``tags`` (JSON-able) label the result in the tables; like the weights
    path they are not part of the cache key, so sweeps that meet at the same point share it.
    ``fingerprints``: the sweep's content hashes (a sweep passes one for all its jobs)."""
    import opmodels
    fingerprints = fingerprints or Fingerprints()
    data = dict(fingerprints.data(spec.dataset, test_limit, batch_size))
    if not finetune:
        del data["train"]  # only fine-tuning reads the training labels and the samples past calibration
    payload = {**spec.as_payload(), "config": config.to_toml(), "batch_size": batch_size,
               "calibration_batches": CALIBRATION_BATCHES, "test_limit": test_limit,
               "finetune": finetune, "data": data,
               "code": {"opmodels": opmodels.__version__, "source": source_hash(),
                        "operators": fingerprints.operators(config)},
               "_tags": tags}
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
    model_info, dataset = payload["model"], payload["_dataset"]
    key = (model_info["hash"], dataset, payload["_weights"], payload["batch_size"],
           payload["calibration_batches"], payload["test_limit"], tuple(sorted(payload["data"].items())))
    if key not in _CONTEXTS:
        import torch
        from .. import data, zoo
        from ..network import calibrate
        if payload["code"]["source"] != source_hash():
            raise NetsimError(f"this worker runs other netsim/opmodels code (source hash {source_hash()}) than "
                              f"the sweep ({payload['code']['source']}); install the same version everywhere")
        model = zoo.build(model_info["name"], payload["_weights"])
        found = model_hash(model)
        if found != model_info["hash"]:
            raise NetsimError(f"{payload['_weights']} changed since the sweep started "
                              f"(hash {found}, expected {model_info['hash']})")
        model.eval()
        train_set = data.load(dataset, "train")
        test_set = data.load(dataset, "test")
        content = data_fingerprint(train_set, test_set, payload["test_limit"], payload["batch_size"],
                                   payload["calibration_batches"])
        changed = [part for part, value in payload["data"].items() if content[part] != value]
        if changed:
            raise NetsimError(f"dataset {dataset} changed since the sweep started ({', '.join(changed)} "
                              f"differ); run the sweep again")
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


RESULT_KEYS = {"accuracy", "correct", "samples", "hits", "seconds"}


def check_result(payload: dict, result: dict) -> str | None:
    """None when ``result`` is what :func:`run_evaluation` returns for ``payload``, else what is wrong.

    Used on what is read back from the cache: an edited, truncated or foreign entry must not reach a
    table (an accuracy of 5.0 would be reported as 500% and chosen as the optimum).
    """
    expected = RESULT_KEYS | ({"finetune"} if payload.get("finetune") else set())
    if set(result) != expected:
        missing, extra = sorted(expected - set(result)), sorted(set(result) - expected)
        return "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                       extra and f"unexpected {', '.join(extra)}"]))
    samples, correct, accuracy = result["samples"], result["correct"], result["accuracy"]
    if not _is_int(samples) or samples != payload["data"]["samples"]:
        return f"samples = {samples!r}, the job scores {payload['data']['samples']} test samples"
    if not _is_int(correct) or not 0 <= correct <= samples:
        return f"correct = {correct!r} is not a count in 0..{samples}"
    if not _is_number(accuracy) or not 0 <= accuracy <= 1:
        return f"accuracy = {accuracy!r} is not a fraction in 0..1"
    if abs(accuracy - correct / samples) > 1e-9:
        return f"accuracy = {accuracy!r} is not correct / samples = {correct}/{samples}"
    hits = result["hits"]
    try:
        length, _, digits = hits.partition(":")
        value = int(digits, 16)
        if int(length) != samples or value >> samples or bin(value).count("1") != correct:
            raise ValueError
    except (AttributeError, ValueError):
        return f"hits = {str(hits)[:40]!r} is not {samples} per-sample results with {correct} correct"
    if not _is_number(result["seconds"]) or result["seconds"] < 0:
        return f"seconds = {result['seconds']!r} is not a duration"
    if payload.get("finetune"):
        record = result["finetune"]
        epochs = payload["finetune"].get("epochs", 1)
        if not isinstance(record, dict) or record.get("epochs") != epochs or \
                not isinstance(record.get("loss"), list) or len(record["loss"]) != epochs or \
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in record["loss"]):
            return f"finetune = {str(record)[:60]!r} is not the record of {epochs} fine-tuning epoch(s)"
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
