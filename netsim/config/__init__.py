"""Per-layer configuration: which multiplier, adder and bit widths each Conv2d / Linear uses.

A TOML file has a ``[default]`` table and any number of ``[[layer]]`` tables::

    [default]                 # every Conv2d / Linear
    multiplier = "M4P8"
    adder = "exact"
    w_bits = 8
    a_bits = 8
    [[layer]]
    match = "conv1"           # exact layer/op name, glob ("features.*"), type name ("Linear") or op
                              # kind ("linear", "conv1d", "conv_transpose2d", "matmul", "attention")
    multiplier = "exact"

Precedence, lowest first: built-in defaults < ``[default]`` < type entries < glob entries < exact-name
entries; within one kind, later entries refine earlier ones. Each entry sets only the keys it names.
The modules: :mod:`.settings` (one layer's settings and the check of each key), :mod:`.widths` (the
operator that operands of a bit width run on), :mod:`.toml` (text in and out, line numbers). This
package does not import torch, so configurations are cheap to build in sweeps.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import NetsimError
from . import toml
from .settings import KEYS, LayerSettings, check_value
from .widths import LUT_BITS, WIDE_WIDTH, operator_for

_GLOB_CHARS = set("*?[")

# the kinds of product-sum op; a ``match`` naming one selects every op of that kind, like a layer type
# (even where an op called in the model's own forward carries the same name)
OP_KINDS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "matmul", "attention")

# precedence ranks of the entry kinds
_TYPE, _GLOB, _NAME = 1, 2, 3


@dataclass(frozen=True)
class Entry:
    """One ``[[layer]]`` table: a pattern and the settings it changes."""

    match: str
    settings: dict
    where: str = ""  # "approx.toml:7" or "layer entry 2" for the error messages
    key_where: dict = field(default_factory=dict, compare=False, repr=False)  # key -> "approx.toml:9"

    @property
    def is_glob(self) -> bool:
        return bool(_GLOB_CHARS & set(self.match))


@dataclass(frozen=True)
class Config:
    """A whole-network configuration: defaults plus per-layer entries (see the package docstring).

    Every key is validated once, when the Config is built; a config loaded from text names the line.
    """

    default: dict = field(default_factory=dict)
    layers: tuple = ()
    source: str = "<config>"
    default_where: dict = field(default_factory=dict, compare=False, repr=False)  # key -> "approx.toml:3"

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        for key, value in self.default.items():
            check_value(key, value, self.default_where.get(key, f"{self.source} [default]"))
        for entry in self.layers:
            for key, value in entry.settings.items():
                check_value(key, value, entry.key_where.get(key, entry.where))
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
        """A config from parsed TOML data; with ``text`` its errors name the line."""
        lines = toml.Lines(text) if text is not None else None

        def at(table: str, index: int = 0, key: str | None = None, otherwise: str = source) -> str:
            if lines is None:
                return otherwise
            return f"{source}:{lines.key(table, index, key) if key else lines.table(table, index)}"

        for key in data:
            if key not in ("default", "layer"):
                raise NetsimError(f"{at(key)}: unknown table {key!r}; a config has [default] and [[layer]] tables")
        default = data.get("default", {})
        if not isinstance(default, dict):
            raise NetsimError(f"{source}: [default] must be a table")
        layers = data.get("layer", [])
        if not isinstance(layers, list):
            raise NetsimError(f"{source}: layer entries are written [[layer]] (an array of tables)")
        entries = []
        for index, table in enumerate(layers):
            where = at("layer", index, otherwise=f"{source} layer entry {index + 1}")
            if not isinstance(table, dict):  # from_dict also takes data that did not come from TOML
                raise NetsimError(f"{where}: a [[layer]] entry must be a table, not {table!r}")
            settings = dict(table)
            match = settings.pop("match", None)
            if not isinstance(match, str) or not match:
                raise NetsimError(f"{where}: a [[layer]] entry needs match = \"<name, glob or type>\"")
            key_where = {key: at("layer", index, key, where) for key in settings}
            entries.append(Entry(match, settings, where, key_where))
        default_where = {key: at("default", 0, key, f"{source} [default]") for key in default}
        return cls(default=dict(default), layers=tuple(entries), source=source, default_where=default_where)

    @classmethod
    def loads(cls, text: str, source: str = "<config>") -> "Config":
        return cls.from_dict(toml.parse(text, source), source, text)

    @classmethod
    def load(cls, path) -> "Config":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise NetsimError(f"cannot read config {str(path)!r}: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise NetsimError(f"config {str(path)!r} is not a UTF-8 text file (byte {error.start} is "
                              f"{error.object[error.start:error.start + 1]!r}); a config is TOML text") from None
        config = cls.loads(text, str(path))
        if not config.default and not config.layers:  # an empty or truncated file would run all-exact
            raise NetsimError(f"config {str(path)!r} sets nothing; a config has a [default] table and/or "
                              f"[[layer]] tables (see docs/netsim.md)")
        return config

    def to_toml(self) -> str:
        """The TOML text of this configuration (loads back to an equal Config)."""
        return toml.dumps(self.default, self.layers)

    # ---- resolving
    def base(self) -> LayerSettings:
        settings = LayerSettings(**self.default)
        settings.check(f"{self.source} [default]")
        return settings

    def resolve(self, layers: dict, require_match: bool = True) -> dict:
        """Settings for each layer or op: ``layers`` maps a name to its module (or its type names: the
        class names, and for an op its kind such as ``matmul`` or ``attention``).

        Returns {name: LayerSettings}. An entry that matches none of them is an error (unless
        ``require_match`` is false: the ops of a model converted without calibration are met later).
        """
        type_names = {name: _type_names(obj) for name, obj in layers.items()}
        ranked = []  # (rank, file position, entry, names)
        for position, entry in enumerate(self.layers):
            if entry.is_glob:
                rank, names = _GLOB, [n for n in layers if fnmatch.fnmatchcase(n, entry.match)]
            elif entry.match in layers and entry.match not in OP_KINDS:
                rank, names = _NAME, [entry.match]
            else:
                rank, names = _TYPE, [n for n, types in type_names.items() if entry.match in types]
            if not names and not require_match:
                continue
            if not names:
                known = ", ".join(layers) or "none"
                raise NetsimError(f"{entry.where}: match = {entry.match!r} matches no layer name, glob or type "
                                  f"of this model; its product ops are: {known}")
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
            resolved[name].check(f"{origin[name]} (layer {name})")
        return resolved


def _type_names(obj) -> set:
    if isinstance(obj, (set, frozenset, list, tuple)):
        return set(obj)
    return {cls.__name__ for cls in type(obj).__mro__}


__all__ = ["OP_KINDS", "Config", "Entry", "LayerSettings", "KEYS", "LUT_BITS", "WIDE_WIDTH", "check_value", "operator_for"]
