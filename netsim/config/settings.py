"""One layer's settings, and the check of each setting (each key is validated here, once)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import opmodels
from opmodels import Operator

from ..errors import NetsimError
from . import operands
from .widths import LUT_BITS, operator_for

BITS = range(1, 17)
CHOICES = {"recode": ("weight", "activation"), "w_granularity": ("tensor", "channel"),
           "a_calibration": ("max", "percentile"), "scale": ("float", "pow2")}


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
    weight_offset: bool = False  # an unsigned weight port takes the weights + 2^(w_bits-1) (netsim.config.operands)
    # not a key: the operator directories of the config's [operators] table
    ops: tuple = field(default=(), compare=False, repr=False, metadata={"key": False})

    @property
    def operand_bits(self) -> int:
        return max(self.w_bits, self.a_bits)

    @property
    def is_exact(self) -> bool:
        """Exact integer arithmetic: a plain integer matmul/convolution gives the same bits."""
        return self.multiplier.lower() == "exact" and self.adder.lower() == "exact"

    def multiplier_operator(self) -> Operator | None:
        """The operator this layer's bit widths run on (None for "exact"). See :func:`operator_for`."""
        return operator_for(self.multiplier, self.operand_bits, self.ops)

    def operands(self) -> operands.Operands:
        """How the activations and weights reach the multiplier's ports (signedness, weight offset)."""
        return operands.plan(self.multiplier_operator(), self.multiplier, self.w_bits, self.a_bits, self.recode,
                             self.weight_offset)

    def adder_operator(self) -> Operator | None:
        return None if self.adder.lower() == "exact" else operands.get(self.adder, self.ops)

    def accumulator_width(self) -> int:
        adder = self.adder_operator()
        if adder is not None:
            return adder.width
        if self.acc_width:
            return self.acc_width
        return 32 if self.operand_bits <= LUT_BITS else 64

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in KEYS}

    def check(self, where: str) -> None:
        """The checks that need several keys at once: operator widths, accumulator vs adder."""
        try:
            self.operands()
            adder = self.adder_operator()
        except opmodels.OpmodelsError as error:
            raise NetsimError(f"{where}: {error}") from None
        if adder is not None and self.acc_width and self.acc_width != adder.width:
            raise NetsimError(f"{where}: acc_width = {self.acc_width} contradicts the {adder.width}-bit adder "
                              f"{self.adder}; leave acc_width out or pick a LOA<l>W<w> id")


KEYS = tuple(f.name for f in fields(LayerSettings) if f.metadata.get("key", True))


def _bits(key, value):
    if type(value) is not int or value not in BITS:
        return f"{key} must be an integer in 1..16, not {value!r}"


def _acc_width(key, value):
    if type(value) is not int or not (value == 0 or 2 <= value <= 64):
        return f"acc_width must be an integer in 2..64 (or 0 for auto), not {value!r}"


def _percentile(key, value):
    if type(value) not in (int, float) or not 0 < value <= 100:
        return f"percentile must be a number in (0, 100], not {value!r}"


def _flag(key, value):
    if type(value) is not bool:
        return f"{key} must be true or false, not {value!r}"


def _choice(key, value):
    if value not in CHOICES[key]:
        return f"{key} must be one of {', '.join(map(repr, CHOICES[key]))}, not {value!r}"


def _operator(key, value, ops=()):
    if not isinstance(value, str):
        return f"{key} must be an id string like 'M4P8', not {value!r}"
    if value.lower() == "exact":
        return None
    try:
        op = operands.get(value, ops)  # the config loader is an edge: strings become operators here
    except opmodels.OpmodelsError as error:
        return f"{key}: {error}"
    if key == "multiplier" and op.kind != "multiplier":
        return f"{key} = {value!r} is an {op.kind}, not a multiplier"
    if key == "adder" and op.kind != "adder":
        return f"{key} = {value!r} is a {op.kind}, not an adder"


_CHECKS = {"multiplier": _operator, "adder": _operator, "w_bits": _bits, "a_bits": _bits,
           "acc_width": _acc_width, "percentile": _percentile, "quantize": _flag, "weight_offset": _flag,
           **{key: _choice for key in CHOICES}}
assert set(_CHECKS) == set(KEYS), "every LayerSettings field needs a check"


def check_value(key: str, value, where: str, ops: tuple = ()) -> None:
    """Validate one setting; ``where`` prefixes the error (``approx.toml:7``); ``ops``: the config's
    operator directories."""
    if key not in _CHECKS:
        raise NetsimError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(KEYS)}")
    problem = _CHECKS[key](key, value, ops) if _CHECKS[key] is _operator else _CHECKS[key](key, value)
    if problem:
        raise NetsimError(f"{where}: {problem}")
