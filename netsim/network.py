"""Turn a float model into an approximate one, describe it, and measure its accuracy."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import torch
from torch import nn
from torch.nn.modules.linear import NonDynamicallyQuantizableLinear

from . import intercept
from .config import Config
from .coverage import coverage_line
from .errors import NetsimError
from .intercept import Interception, OpRecord
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

    observers: dict  # layer or op name -> RangeObserver of its activation input
    macs: dict  # layer name -> MACs per sample
    batches: int
    ops: dict = field(default_factory=dict)  # op name -> OpRecord of every product met as a function call

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
    previous = intercept.of(model)
    watcher = Interception("observe", opaque=layers).install(model)
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
        intercept.remove(model)
        if previous is not None:
            previous.install(model)
        model.train(was_training)
    if seen == 0:
        raise NetsimError("the calibration loader gave no batches")
    return Calibration({**watcher.observers, **observers}, macs, seen, dict(watcher.records))


# module types whose products netsim leaves exact, with the reason (their function calls say it too)
_EXACT_MODULES = (
    (nn.RNNBase, intercept.LEFT_EXACT["lstm"]),
    (nn.RNNCellBase, intercept.LEFT_EXACT["lstm_cell"]),
    (nn.Bilinear, intercept.LEFT_EXACT["bilinear"]),
    (nn.ConvTranspose3d, intercept.LEFT_EXACT["conv_transpose3d"]),
    (torch.jit.ScriptModule, "TorchScript module: its ops run in the TorchScript interpreter, out of reach of "
                             "netsim's interception; convert the Python model instead"),
)
_FUNCTION_MODULES = {nn.Conv1d: "conv1d", nn.Conv3d: "conv3d", nn.ConvTranspose1d: "conv_transpose1d",
                     nn.ConvTranspose2d: "conv_transpose2d"}


def _types(module: nn.Module, kind: str) -> frozenset:
    return frozenset({kind, *(cls.__name__ for cls in type(module).__mro__)})


def product_ops(model: nn.Module, calibration: "Calibration | None" = None) -> dict:
    """{name: OpRecord} of every product-sum op of ``model`` known without running it (Conv2d/Linear
    layers, the other convolution modules, the layers netsim leaves exact) plus, with a calibration,
    every op it met as a function call (matmul, attention, F.linear ...). The names ``match`` uses."""
    found = {}
    for name, module in target_layers(model).items():
        kind = "conv2d" if isinstance(module, nn.Conv2d) else "linear"
        found[name] = OpRecord(name, kind, "module", _types(module, kind), getattr(module, "macs_per_sample", None))
    scripted = []
    for name, module in model.named_modules():
        if name in found or not name or isinstance(module, ApproxMixin) or \
                any(name.startswith(f"{outer}.") for outer in scripted):
            continue  # (a model that is itself one layer names its op after the function: "conv1d")
        if isinstance(module, torch.jit.ScriptModule):
            scripted.append(name)
        kind = next((k for t, k in _FUNCTION_MODULES.items() if isinstance(module, t)), None)
        if kind is not None:
            found[name] = OpRecord(name, kind, kind, _types(module, kind))
            continue
        for module_type, reason in _EXACT_MODULES:
            if isinstance(module, module_type):
                found[name] = OpRecord(name, type(module).__name__.lower(), type(module).__name__,
                                       frozenset({type(module).__name__}), None, reason)
                break
    if calibration is not None:
        for name, record in calibration.ops.items():
            found[name] = replace(record)
        for name, macs in calibration.macs.items():
            if name in found and found[name].macs is None:
                found[name].macs = macs
    return found


def model_ops(model: nn.Module, input_shape: tuple) -> dict:
    """{name: OpRecord} of every product-sum op of ``model``, found by one forward of a zero sample of
    ``input_shape`` (so the ops called as functions are found too). The model is not changed."""
    return product_ops(model, calibrate(model, [torch.zeros((1, *input_shape))]))


def coverage(model: nn.Module, config: Config, input_shape: tuple) -> dict:
    """The MAC coverage (``Description.coverage``) of ``model`` converted with ``config``."""
    calibration = calibrate(model, [torch.zeros((1, *input_shape))])
    return describe(convert(model, config, calibration)).coverage


def convert(model: nn.Module, config: Config | None = None, calibration=None, *, inplace: bool = False,
            calibration_batches: int | None = None, strict: bool = False) -> nn.Module:
    """A copy of ``model`` whose every product-sum op computes as ``config`` says.

    Conv2d / Linear layers are swapped for approximate twins; every other product (Conv1d/3d,
    ConvTranspose1d/2d, F.linear, F.conv*, matmul / @ / bmm / einsum, attention) is intercepted as a
    function call while the model runs (see :mod:`netsim.intercept`). ``calibration`` is a data loader
    (a calibration pass is run on it), a :class:`Calibration`, or None (each batch is then quantized
    with its own max: results depend on the batch; function-call ops are then only found by the
    first forward, which checks the config entries against them). ``strict``: an error naming every
    op left exact (recurrent layers, unsupported functions); ops the config keeps in float are not
    errors. An approximate model can be converted again with another config; its float weights are reused.
    """
    config = config if config is not None else Config()
    if not isinstance(config, Config):
        raise NetsimError(f"config must be a netsim.Config (see Config.load / Config.uniform), not {config!r}")
    if calibration is not None and not isinstance(calibration, Calibration):
        calibration = calibrate(model, calibration, batches=calibration_batches)
    ops = product_ops(model, calibration)
    simulated = {name: record.types for name, record in ops.items() if record.reason is None}
    if not simulated and calibration is not None:  # (without calibration: checked by the first forward)
        raise NetsimError(f"{type(model).__name__} has no Conv2d or Linear layer or other product-sum op to "
                          f"approximate")
    settings = config.resolve(simulated, require_match=calibration is not None)
    left = [record for record in ops.values() if record.reason is not None]
    if strict and left:
        raise NetsimError("strict: left exact: " + "; ".join(f"{r.name} ({r.reason})" for r in left))
    layers = target_layers(model)
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
    _intercept(target, config, calibration, ops, settings, layers, strict)
    return target


def _intercept(target, config, calibration, ops, settings, layers, strict) -> Interception:
    """Install the interception of the function-call ops on the converted model."""
    ranges = {}
    for name, record in ops.items():
        if name in layers or record.reason is not None or calibration is None:
            continue
        s = settings.get(name)
        if s is not None and s.quantize and name in calibration.observers:
            ranges[name] = calibration.input_range(name, s.a_calibration, s.percentile, s.a_bits)

    state = Interception("simulate", _Resolver(config), ranges, strict,
                         opaque=[n for n, m in target.named_modules() if isinstance(m, ApproxMixin)])
    state.settings.update({n: s for n, s in settings.items() if n not in layers})
    state.records.update({n: replace(r) for n, r in ops.items() if n not in layers})
    if calibration is None:  # the function-call ops are met by the first forward: check the entries then
        known = {n: r.types for n, r in ops.items() if r.reason is None and n in layers}
        state.check_entries = _EntryCheck(config, known, type(target).__name__)
    return state.install(target)


class _Resolver:
    """The settings of an op met at run time (a plain object, so a converted model pickles)."""

    def __init__(self, config: Config):
        self.config = config

    def __call__(self, name, types):
        return self.config.resolve({name: types}, require_match=False)[name]


class _EntryCheck:
    """After the first forward of a model converted without calibration: every entry matched an op."""

    def __init__(self, config: Config, known: dict, model_name: str):
        self.config, self.known, self.model_name = config, known, model_name

    def __call__(self, records):
        met = {**self.known, **{n: r.types for n, r in records.items() if r.reason is None}}
        if not met:
            raise NetsimError(f"{self.model_name} ran no Conv2d or Linear layer or other product-sum op that "
                              f"netsim can approximate")
        self.config.resolve(met)


def _copy(model: nn.Module) -> nn.Module:
    """A deep copy that shares the operators of approximate layers: they are immutable values (and
    hold mapping proxies, which deepcopy cannot copy)."""
    memo = {id(op): op for layer in model.modules() if isinstance(layer, ApproxMixin)
            for op in (layer.multiplier_op, layer.adder_op) if op is not None}
    copied = copy.deepcopy(model, memo)
    intercept.remove(copied)  # a converted model's interception belongs to it, not to the copy
    return copied


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


@dataclass
class Description:
    """Every product-sum op of an approximate model: the simulated ones (``rows``), those left exact with
    the reason (``left_exact``) and the MACs of each (``coverage``); ``str()`` renders it, the three
    fields feed --json."""

    rows: list
    left_exact: list = field(default_factory=list)
    coverage: dict = field(default_factory=dict)

    def __str__(self):
        keys = ("layer", "kind", "multiplier", "adder", "w_bits", "a_bits", "macs")
        header = ("layer", "kind", "multiplier", "adder", "w_bits", "a_bits", "MACs")
        table = [header] + [tuple(str(row[k]) for k in keys) for row in self.rows]
        total = sum(row["macs"] for row in self.rows if isinstance(row["macs"], int))
        table.append(("total", "", "", "", "", "", str(total)))
        lines = _columns(table, right_from=4)
        lines.insert(1, "  ".join("-" * max(len(r[i]) for r in table) for i in range(len(header))))
        if self.left_exact:
            lines += ["", "left exact (torch computes these products; netsim does not simulate them):"]
            lines += ["  " + line for line in _columns(
                [("op", "kind", "MACs", "reason")] +
                [(r["layer"], r["kind"], str(r["macs"]), r["reason"]) for r in self.left_exact], right_from=None)]
        lines += ["", coverage_line(self.coverage)]
        return "\n".join(lines)


def _columns(table, right_from):
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return ["  ".join(c.rjust(w) if right_from is not None and i >= right_from else c.ljust(w)
                      for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in table]


def _row(name, kind, settings, acc_width, macs) -> dict:
    s = settings
    float_layer = not s.quantize
    mul = s.multiplier_operator()
    add = s.adder_operator()
    return {
        "layer": name, "kind": kind, "type": kind,
        "multiplier": "float" if float_layer else (mul.id if mul is not None else "exact"),
        "adder": "float" if float_layer else (add.id if add is not None else "exact"),
        "w_bits": "-" if float_layer else s.w_bits, "a_bits": "-" if float_layer else s.a_bits,
        "recode": s.recode, "acc_width": acc_width, "macs": macs if macs is not None else "?",
    }


def describe(model: nn.Module) -> Description:
    """Every product-sum op of an approximate model: name, kind, multiplier, adder, w_bits, a_bits and MACs
    per sample of each simulated op, and the ops left exact with the reason."""
    rows = []
    for name, layer in model.named_modules():
        if not isinstance(layer, ApproxMixin):
            continue
        row = _row(name, "conv2d" if isinstance(layer, nn.Conv2d) else "linear", layer.settings, layer.acc_width,
                   layer.macs_per_sample)
        row["type"] = "Conv2d" if isinstance(layer, nn.Conv2d) else "Linear"
        rows.append(row)
    left = []
    state = intercept.of(model)
    if state is not None:
        for name, record in state.records.items():
            if record.reason is not None:
                left.append({"layer": name, "kind": record.kind, "function": record.function,
                             "macs": record.macs if record.macs is not None else "?", "reason": record.reason})
                continue
            settings = state.settings_for(name, record.types)
            rows.append(_row(name, record.kind, settings, settings.accumulator_width(), record.macs))
    if not rows and not left:
        raise NetsimError("the model has no approximate layers; build one with netsim.convert(model, config)")
    return Description(rows, left, _coverage(rows, left))


def _coverage(rows, left) -> dict:
    known = lambda v: v if isinstance(v, int) else 0  # noqa: E731
    simulated = sum(known(r["macs"]) for r in rows if r["multiplier"] != "float")
    approximate = sum(known(r["macs"]) for r in rows if r["multiplier"] not in ("float", "exact")
                      or r["adder"] not in ("float", "exact"))
    floating = sum(known(r["macs"]) for r in rows if r["multiplier"] == "float")
    exact = sum(known(r["macs"]) for r in left)
    return {"macs_total": simulated + floating + exact, "macs_simulated": simulated, "macs_approximate": approximate,
            "macs_float": floating, "macs_left_exact": exact,
            "ops_simulated": sum(r["multiplier"] != "float" for r in rows), "ops_float": sum(r["multiplier"] == "float"
                                                                                               for r in rows),
            "ops_left_exact": len(left), "left_exact": [r["layer"] for r in left],
            "ops_unknown_macs": sum(not isinstance(r["macs"], int) for r in [*rows, *left])}


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


__all__ = ["Calibration", "Description", "calibrate", "convert", "count_macs", "coverage_line", "describe",
           "evaluate", "describe_settings", "layer_macs", "coverage", "model_ops", "product_ops", "target_layers"]
