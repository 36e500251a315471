"""Turn a float model into an approximate one, describe it, and measure its accuracy."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.linear import NonDynamicallyQuantizableLinear

from .config import Config
from .errors import NetsimError
from .layers import APPROX_TYPES, ApproxMixin, describe_settings
from .macs import count_macs, layer_macs
from .quant import RangeObserver


def target_layers(model: nn.Module) -> dict:
    """The Conv2d / Linear layers (subclasses included) by qualified name, in model order."""
    found = {}
    for name, module in model.named_modules():
        # MultiheadAttention's out_proj is a Linear that attention never calls: leave it alone
        if isinstance(module, tuple(APPROX_TYPES)) and not isinstance(module, NonDynamicallyQuantizableLinear):
            found[name] = module
    return found


@dataclass
class Calibration:
    """Input ranges of every Conv2d / Linear of a float model, from a calibration pass.

    It depends only on the float model and the data, so one calibration serves every configuration
    of a sweep: ``convert(model, config, calibration=netsim.calibrate(model, loader))``.
    """

    observers: dict
    macs: dict  # layer name -> MACs per sample
    batches: int

    def input_range(self, name: str, method: str, percentile: float, bits: int) -> float:
        observer = self.observers.get(name)
        if observer is None or observer.count == 0:
            raise NetsimError(f"layer {name!r} saw no data during calibration (is it used in forward?)")
        return observer.range(method, percentile, bits)


@torch.no_grad()
def calibrate(model: nn.Module, loader, batches: int | None = None, progress: bool = False) -> Calibration:
    """Run ``model`` in float on ``loader`` (batches of ``x`` or ``(x, y)``) and record input ranges."""
    layers = target_layers(model)
    observers = {name: RangeObserver(seed=index, name=name) for index, name in enumerate(layers)}
    macs = {}

    def hook_for(name):
        def hook(module, inputs, output):
            observers[name].observe(inputs[0])
            if name not in macs:
                macs[name] = layer_macs(module, inputs[0], output)
        return hook

    handles = [layer.register_forward_hook(hook_for(name)) for name, layer in layers.items()]
    was_training = model.training
    model.eval()
    seen = 0
    try:
        for batch in _progress(loader, "calibrate", progress, total=batches):
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x.to(_device(model)))
            seen += 1
            if batches is not None and seen >= batches:
                break
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    if seen == 0:
        raise NetsimError("the calibration loader gave no batches")
    return Calibration(observers, macs, seen)


def convert(model: nn.Module, config: Config | None = None, calibration=None, *, inplace: bool = False,
            calibration_batches: int | None = None) -> nn.Module:
    """A copy of ``model`` whose Conv2d / Linear layers compute as ``config`` says.

    ``calibration`` is a data loader (a calibration pass is run on it), a :class:`Calibration`, or None
    (each batch is then quantized with its own max: results depend on the batch). An approximate model
    can be converted again with another config; its float weights are reused.
    """
    config = config if config is not None else Config()
    if not isinstance(config, Config):
        raise NetsimError(f"config must be a netsim.Config (see Config.load / Config.uniform), not {config!r}")
    layers = target_layers(model)
    if not layers:
        raise NetsimError(f"{type(model).__name__} has no Conv2d or Linear layer to approximate")
    settings = config.resolve(layers)
    if calibration is not None and not isinstance(calibration, Calibration):
        calibration = calibrate(model, calibration, batches=calibration_batches)
    target = model if inplace else _copy(model)
    for name, layer in target_layers(target).items():
        s = settings[name]
        input_range = None
        if calibration is not None and s.quantize:
            input_range = calibration.input_range(name, s.a_calibration, s.percentile, s.a_bits)
        approx_type = APPROX_TYPES[nn.Conv2d if isinstance(layer, nn.Conv2d) else nn.Linear]
        new = approx_type.from_float(layer, s, name, input_range)
        if calibration is not None and name in calibration.macs:
            new.macs_per_sample = calibration.macs[name]
        elif isinstance(layer, ApproxMixin):
            new.macs_per_sample = layer.macs_per_sample
        _set_module(target, name, new)
    return target


def _copy(model: nn.Module) -> nn.Module:
    """A deep copy that shares the operators of approximate layers: they are immutable values (and
    hold mapping proxies, which deepcopy cannot copy)."""
    memo = {id(op): op for layer in model.modules() if isinstance(layer, ApproxMixin)
            for op in (layer.multiplier_op, layer.adder_op) if op is not None}
    return copy.deepcopy(model, memo)


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


@dataclass
class Description:
    """The per-layer table of an approximate model; ``str()`` renders it, ``rows`` feeds --json."""

    rows: list

    def __str__(self):
        header = ("layer", "type", "multiplier", "adder", "w_bits", "a_bits", "MACs")
        table = [header] + [tuple(str(row[k]) for k in ("layer", "type", "multiplier", "adder", "w_bits",
                                                           "a_bits", "macs")) for row in self.rows]
        total = sum(row["macs"] for row in self.rows if isinstance(row["macs"], int))
        table.append(("total", "", "", "", "", "", str(total)))
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        lines = ["  ".join(c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                 for r in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def describe(model: nn.Module) -> Description:
    """Layer, type, multiplier, adder, w_bits, a_bits and MACs per sample of each approximate layer."""
    rows = []
    for name, layer in model.named_modules():
        if not isinstance(layer, ApproxMixin):
            continue
        s = layer.settings
        float_layer = not s.quantize
        rows.append({
            "layer": name,
            "type": "Conv2d" if isinstance(layer, nn.Conv2d) else "Linear",
            "multiplier": "float" if float_layer else (layer.multiplier_op.id if layer.multiplier_op else "exact"),
            "adder": "float" if float_layer else (layer.adder_op.id if layer.adder_op else "exact"),
            "w_bits": "-" if float_layer else s.w_bits,
            "a_bits": "-" if float_layer else s.a_bits,
            "recode": s.recode,
            "acc_width": layer.acc_width,
            "macs": layer.macs_per_sample if layer.macs_per_sample is not None else "?",
        })
    if not rows:
        raise NetsimError("the model has no approximate layers; build one with netsim.convert(model, config)")
    return Description(rows)


@torch.no_grad()
def evaluate(model: nn.Module, loader, progress: bool = True, desc: str = "evaluate") -> float:
    """Top-1 accuracy of ``model`` on ``loader`` (batches of ``(x, y)``), with a progress bar."""
    was_training = model.training
    model.eval()
    correct = total = 0
    device = _device(model)
    try:
        bar = _progress(loader, desc, progress)
        for index, (x, y) in enumerate(bar):
            output = model(x.to(device))
            if not torch.isfinite(output).all():  # argmax of NaN scores as some class: a number without meaning
                raise NetsimError(f"{desc}: the model's outputs for batch {index} hold NaN or Inf values (from "
                                  f"non-finite inputs or weights), so the accuracy would be meaningless")
            prediction = output.argmax(dim=1)
            correct += int((prediction.cpu() == y).sum())
            total += int(y.numel())
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(acc=f"{correct / total:.4f}")
    finally:
        model.train(was_training)
    if total == 0:
        raise NetsimError("the evaluation loader gave no samples")
    return correct / total


def _device(model: nn.Module):
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def _progress(iterable, desc: str, enabled: bool, total=None):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)


__all__ = ["Calibration", "Description", "calibrate", "convert", "count_macs", "describe", "evaluate",
           "describe_settings", "layer_macs", "target_layers"]
