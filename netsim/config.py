"""Per-layer configuration: which multiplier, adder and bit widths each Conv2d / Linear uses.

A TOML file has a ``[default]`` table and any number of ``[[layer]]`` tables::

    [default]                 # every Conv2d / Linear
    multiplier = "M4P8"
    adder = "exact"
    w_bits = 8
    a_bits = 8
    [[layer]]
    match = "conv1"           # exact layer name, glob ("features.*") or type name ("Linear")
    multiplier = "exact"

Precedence, lowest first: built-in defaults < ``[default]`` < type entries < glob entries < exact-name
entries; within one kind, later entries refine earlier ones. Each entry sets only the keys it names.
This module does not import torch, so configurations are cheap to build in sweeps.
"""
from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import opmodels
from opmodels.operator import Operator

from .errors import NetsimError

BITS = range(1, 17)
LUT_BITS = 8  # operands of at most 8 bits run on the 8-bit operator's lookup table
WIDE_WIDTH = 16  # 9..16-bit operands run on the 16-bit operator in behavioural mode
_CATALOG_FORM = re.compile(r"(M\d+P\d+|EXACT)", re.IGNORECASE)
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class LayerSettings:
    """Everything one approximate layer needs. The fields are the TOML keys."""

    multiplier: str = "exact"  # catalog id (M4P8, M4P8W16), a registered id, or "exact"
    adder: str = "exact"  # "exact", LOA<l> (32-bit) or LOA<l>W<w>
    w_bits: int = 8
    a_bits: int = 8
    recode: str = "weight"  # the Booth-recoded operand: "weight" or "activation"
    w_granularity: str = "tensor"  # weight scale per "tensor" or per output "channel"
    a_calibration: str = "max"  # activation scale from the calibration "max" or a "percentile" of |x|
    percentile: float = 99.99
    scale: str = "float"  # "float" scales, or "pow2": fixed point with a power-of-two step
    acc_width: int = 0  # exact-adder accumulator bits; 0 = auto (32 up to 8-bit operands, else 64)
    quantize: bool = True  # false keeps the layer in floating point

    @property
    def operand_bits(self) -> int:
        return max(self.w_bits, self.a_bits)

    @property
    def is_exact(self) -> bool:
        """Exact integer arithmetic: a plain integer matmul/convolution gives the same bits."""
        return self.multiplier.lower() == "exact" and self.adder.lower() == "exact"

    def multiplier_operator(self) -> Operator | None:
        """The operator this layer's bit widths run on (None for "exact"). See :func:`operator_for`."""
        return operator_for(self.multiplier, self.operand_bits)

    def adder_operator(self) -> Operator | None:
        return None if self.adder.lower() == "exact" else opmodels.get(self.adder)

    def accumulator_width(self) -> int:
        adder = self.adder_operator()
        if adder is not None:
            return adder.width
        if self.acc_width:
            return self.acc_width
        return 32 if self.operand_bits <= LUT_BITS else 64

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


KEYS = {f.name: f.type for f in fields(LayerSettings)}
_CHOICES = {"recode": ("weight", "activation"), "w_granularity": ("tensor", "channel"),
            "a_calibration": ("max", "percentile"), "scale": ("float", "pow2")}


def operator_for(multiplier: str, bits: int) -> Operator | None:
    """The multiplier operator that ``bits``-bit operands run on.

    A catalog id without a width (``M4P8``, ``EXACT``) names a logic and an approximation factor; it
    runs as the 8-bit operator (lookup table) for operands of up to 8 bits and as the 16-bit operator
    with the same logic and the same p (``M4P8W16``, behavioural mode) for 9..16 bits: the same cells
    approximate the same low product columns. An id with a width (``M4P12W16``) or a registered
    operator is used as it is, and must be at least ``bits`` wide. ``"exact"`` gives None.
    """
    if multiplier.lower() == "exact":
        return None
    if _CATALOG_FORM.fullmatch(multiplier) and multiplier.upper() not in _registered_ids():
        base = multiplier.upper()
        if bits <= LUT_BITS:
            return opmodels.get(base)
        return opmodels.get(f"{base}W{WIDE_WIDTH}")
    op = opmodels.get(multiplier)
    if op.kind != "multiplier":
        raise NetsimError(f"{multiplier} is an {op.kind}, not a multiplier")
    if bits > op.width:
        raise NetsimError(f"{multiplier} has {op.width}-bit operands, too narrow for {bits}-bit operands; "
                          f"use a width-free id like 'M4P8' or a wider one like 'M4P8W16'")
    return op


def _registered_ids():
    from opmodels.catalog import _registered
    return {k.upper() for k in _registered}


def check_value(key: str, value, where: str):
    """Validate one setting; ``where`` prefixes the error (``approx.toml:7``)."""
    if key not in KEYS:
        raise NetsimError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(KEYS)}")
    if key in ("w_bits", "a_bits"):
        if type(value) is not int or value not in BITS:
            raise NetsimError(f"{where}: {key} must be an integer in 1..16, not {value!r}")
    elif key == "acc_width":
        if type(value) is not int or not (value == 0 or 2 <= value <= 64):
            raise NetsimError(f"{where}: acc_width must be an integer in 2..64 (or 0 for auto), not {value!r}")
    elif key == "percentile":
        if type(value) not in (int, float) or not 0 < value <= 100:
            raise NetsimError(f"{where}: percentile must be a number in (0, 100], not {value!r}")
        value = float(value)
    elif key == "quantize":
        if type(value) is not bool:
            raise NetsimError(f"{where}: quantize must be true or false, not {value!r}")
    elif key in _CHOICES:
        if value not in _CHOICES[key]:
            raise NetsimError(f"{where}: {key} must be one of {', '.join(map(repr, _CHOICES[key]))}, "
                              f"not {value!r}")
    elif key in ("multiplier", "adder"):
        if not isinstance(value, str):
            raise NetsimError(f"{where}: {key} must be an id string like 'M4P8', not {value!r}")
        if value.lower() != "exact":
            try:
                op = opmodels.get(value)
            except opmodels.OpmodelsError as error:
                raise NetsimError(f"{where}: {key}: {error}") from None
            wanted = "multiplier" if key == "multiplier" else "adder"
            if op.kind != wanted:
                raise NetsimError(f"{where}: {key} = {value!r} is a {op.kind}, not an {wanted}"
                                  if wanted == "adder" else
                                  f"{where}: {key} = {value!r} is an {op.kind}, not a {wanted}")
    return value


@dataclass(frozen=True)
class Entry:
    """One ``[[layer]]`` table: a pattern and the settings it changes."""

    match: str
    settings: dict
    where: str = ""  # "approx.toml:7" or "layer entry 2" for the error messages

    @property
    def is_glob(self) -> bool:
        return bool(_GLOB_CHARS & set(self.match))


@dataclass(frozen=True)
class Config:
    """A whole-network configuration: defaults plus per-layer entries (see the module docstring)."""

    default: dict = field(default_factory=dict)
    layers: tuple = ()
    source: str = "<config>"

    def __post_init__(self):
        for key, value in self.default.items():
            check_value(key, value, f"{self.source} [default]")
        object.__setattr__(self, "layers", tuple(self.layers))
        for entry in self.layers:
            for key, value in entry.settings.items():
                check_value(key, value, entry.where)
        self.base()  # catches e.g. 12-bit operands on an explicitly 8-bit multiplier

    # ---- building
    @classmethod
    def uniform(cls, **settings) -> "Config":
        """Every layer the same: ``Config.uniform(multiplier="M4P8", adder="LOA8")``."""
        return cls(default=dict(settings))

    def with_layer(self, match: str, **settings) -> "Config":
        """A copy with one more entry (it refines the earlier entries of its kind)."""
        entry = Entry(match, dict(settings), f"layer entry {len(self.layers) + 1} (match {match!r})")
        return replace(self, layers=(*self.layers, entry))

    def with_default(self, **settings) -> "Config":
        return replace(self, default={**self.default, **settings})

    def exact(self) -> "Config":
        """The same bit widths and quantization with the exact multiplier and adder everywhere."""
        drop = ("multiplier", "adder", "recode")
        keep = lambda settings: {k: v for k, v in settings.items() if k not in drop}
        return replace(self, default={**keep(self.default), "multiplier": "exact", "adder": "exact"},
                       layers=tuple(replace(e, settings=keep(e.settings)) for e in self.layers))

    @classmethod
    def from_dict(cls, data: dict, source: str = "<config>", text: str | None = None) -> "Config":
        lines = _Lines(text) if text is not None else None
        for key in data:
            if key not in ("default", "layer"):
                where = f"{source}:{lines.table(key)}" if lines else source
                raise NetsimError(f"{where}: unknown table {key!r}; a config has [default] and [[layer]] tables")
        default = data.get("default", {})
        if not isinstance(default, dict):
            raise NetsimError(f"{source}: [default] must be a table")
        for key, value in default.items():
            check_value(key, value, f"{source}:{lines.key('default', 0, key)}" if lines else f"{source} [default]")
        layers = data.get("layer", [])
        if not isinstance(layers, list):
            raise NetsimError(f"{source}: layer entries are written [[layer]] (an array of tables)")
        entries = []
        for index, table in enumerate(layers):
            where = f"{source}:{lines.table('layer', index)}" if lines else f"{source} layer entry {index + 1}"
            settings = dict(table)
            match = settings.pop("match", None)
            if not isinstance(match, str) or not match:
                raise NetsimError(f"{where}: a [[layer]] entry needs match = \"<name, glob or type>\"")
            for key, value in settings.items():
                check_value(key, value, f"{source}:{lines.key('layer', index, key)}" if lines else where)
            entries.append(Entry(match, settings, where))
        return cls(default=dict(default), layers=tuple(entries), source=source)

    @classmethod
    def loads(cls, text: str, source: str = "<config>") -> "Config":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise NetsimError(f"{source}: not valid TOML: {error}") from None
        return cls.from_dict(data, source, text)

    @classmethod
    def load(cls, path) -> "Config":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise NetsimError(f"cannot read config {str(path)!r}: {error.strerror}") from None
        return cls.loads(text, str(path))

    def to_toml(self) -> str:
        """The TOML text of this configuration (loads back to an equal Config)."""
        out = ["[default]", *(f"{k} = {_toml_value(v)}" for k, v in self.default.items())]
        for entry in self.layers:
            out += ["", "[[layer]]", f"match = {_toml_value(entry.match)}",
                    *(f"{k} = {_toml_value(v)}" for k, v in entry.settings.items())]
        return "\n".join(out) + "\n"

    # ---- resolving
    def base(self) -> LayerSettings:
        settings = LayerSettings(**self.default)
        _check_combination(settings, f"{self.source} [default]")
        return settings

    def resolve(self, layers: dict) -> dict:
        """Settings for each layer: ``layers`` maps a layer name to its module (or its type names).

        Returns {name: LayerSettings}. An entry that matches none of the layers is an error.
        """
        type_names = {name: _type_names(obj) for name, obj in layers.items()}
        ranked = []  # (rank, file position, entry, names)
        for position, entry in enumerate(self.layers):
            if entry.is_glob:
                rank, names = 2, [n for n in layers if fnmatch.fnmatchcase(n, entry.match)]
            elif entry.match in layers:
                rank, names = 3, [entry.match]
            else:
                rank, names = 1, [n for n, types in type_names.items() if entry.match in types]
            if not names:
                known = ", ".join(layers) or "none"
                raise NetsimError(f"{entry.where}: match = {entry.match!r} matches no layer name, glob or type "
                                  f"of this model; its Conv2d/Linear layers are: {known}")
            ranked.append((rank, position, entry, names))
        ranked.sort(key=lambda item: item[:2])
        merged = {name: dict(self.default) for name in layers}
        origin = {name: f"{self.source} [default]" for name in layers}
        for _, _, entry, names in ranked:
            for name in names:
                merged[name].update(entry.settings)
                origin[name] = entry.where
        resolved = {}
        for name, settings in merged.items():
            resolved[name] = LayerSettings(**settings)
            _check_combination(resolved[name], f"{origin[name]} (layer {name})")
        return resolved


def _check_combination(settings: LayerSettings, where: str) -> None:
    try:
        settings.multiplier_operator()
        adder = settings.adder_operator()
    except opmodels.OpmodelsError as error:
        raise NetsimError(f"{where}: {error}") from None
    if adder is not None and settings.acc_width and settings.acc_width != adder.width:
        raise NetsimError(f"{where}: acc_width = {settings.acc_width} contradicts the {adder.width}-bit adder "
                          f"{settings.adder}; leave acc_width out or pick a LOA<l>W<w> id")


def _type_names(obj) -> set:
    if isinstance(obj, (set, frozenset, list, tuple)):
        return set(obj)
    return {cls.__name__ for cls in type(obj).__mro__}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


class _Lines:
    """Line numbers of tables and keys in TOML text (tomllib reports none)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_\-\"'.]+)\s*\]\]?")

    def __init__(self, text: str):
        self.sections = []  # (name, line number, first line index, end line index)
        lines = text.splitlines()
        for number, line in enumerate(lines, 1):
            found = self._HEADER.match(line)
            if found:
                self.sections.append([found.group(2).strip("\"'"), number])
        self.lines = lines

    def _section(self, name: str, index: int):
        hits = [i for i, (n, _) in enumerate(self.sections) if n == name]
        return hits[index] if index < len(hits) else None

    def table(self, name: str, index: int = 0) -> int:
        found = self._section(name, index)
        return self.sections[found][1] if found is not None else 1

    def key(self, name: str, index: int, key: str) -> int:
        found = self._section(name, index)
        if found is None:
            return 1
        start = self.sections[found][1]
        end = self.sections[found + 1][1] - 1 if found + 1 < len(self.sections) else len(self.lines)
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1, end + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return start
