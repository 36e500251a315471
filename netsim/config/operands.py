"""Operands as the multiplier's ports take them, and where imported operators are found.

**Ports.** Each multiplier port has its own width and signedness (``op.a``, ``op.b``). The activation
feeds port ``a`` and the weight port ``b`` (``recode = "weight"``, the default), or the other way round
(``recode = "activation"``). Then:

- a signed port takes ``bits``-bit symmetric values (``netsim.quant``) when ``bits`` <= its width;
- an unsigned activation port takes unsigned activations: ``q = clamp(round(x / s), 0, 2^bits - 1)``
  with ``s = range / (2^bits - 1)`` (what follows a ReLU; negative inputs become 0);
- an unsigned weight port takes the symmetric weights plus an offset ``z = 2^(bits - 1)`` (values
  ``1 .. 2^bits - 1``) when ``weight_offset = true``; the sum is corrected exactly afterwards,
  ``acc = sum P(x, q + z) - z * sum x`` (the zero-point correction of integer accelerators), in the
  ``acc_width``-bit register. Without it the layer is refused with a message that says what to choose.

**Operator directories.** A config's ``[operators]`` table, ``ops = ["ops/"]`` (paths relative to the
config file), names directories of stored operators (``opmodels.store``, ``opmodels import``); they are
searched before ``$OPMODELS_OPS`` (which netsim's ``--ops DIR`` extends), after the built-in ids, which
a stored operator can never shadow.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import opmodels

from ..errors import NetsimError

ENVIRONMENT = "OPMODELS_OPS"


def search_path(ops: tuple) -> list | None:
    """The directories ``opmodels.get`` searches: the config's, then ``$OPMODELS_OPS`` (None: only it)."""
    if not ops:
        return None
    return [*ops, *(part for part in os.environ.get(ENVIRONMENT, "").split(os.pathsep) if part)]


def get(op_id: str, ops: tuple = ()) -> opmodels.Operator:
    return opmodels.get(op_id, ops=search_path(ops))


def directories(value, base: Path, where: str) -> tuple:
    """The ``ops`` entry of ``[operators]``: a list of directories, relative to ``base`` (the config
    file's directory); each must exist. Returned as absolute paths (a job's config text keeps them)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise NetsimError(f"{where}: ops must be a list of operator directories like [\"ops/\"], not {value!r}")
    found = []
    for entry in value:
        path = (base / entry).resolve()
        if not path.is_dir():
            raise NetsimError(f"{where}: operator directory {entry!r} ({str(path)!r}) is not a directory")
        found.append(str(path))
    return tuple(found)


@dataclass(frozen=True)
class Operands:
    """How one layer's operands reach its multiplier's ports."""

    activation_signed: bool = True  # False: unsigned activations 0 .. 2^a_bits - 1
    weight_offset: int = 0  # added to every quantized weight (an unsigned weight port), removed after the sum

    def describe(self) -> str:
        parts = [] if self.activation_signed else ["activations unsigned"]
        return ", ".join(parts + ([f"weight offset {self.weight_offset}"] if self.weight_offset else []))


def plan(op: opmodels.Operator | None, multiplier: str, w_bits: int, a_bits: int, recode: str,
         weight_offset: bool) -> Operands:
    """Check that ``a_bits``-bit activations and ``w_bits``-bit weights fit the ports they feed, and
    say how they are represented there (see the module doc)."""
    if op is None:  # the exact product: signed operands of any width
        return Operands()
    act, weight = (op.b, op.a) if recode == "activation" else (op.a, op.b)
    for what, bits, port in (("activation", a_bits, act), ("weight", w_bits, weight)):
        if bits > port.width:
            raise NetsimError(f"{multiplier}: {bits}-bit {what}s do not fit its {what} port {port}; use "
                              f"{what[0]}_bits <= {port.width}" + (", or a width-free id like 'M4P8'" if port.signed else ""))
    offset = 0
    if not weight.signed:
        if not weight_offset:
            other = f"; or recode = \"{'weight' if recode == 'activation' else 'activation'}\" so the weights " \
                    f"feed its signed port {act.name}" if act.signed else ""
            raise NetsimError(f"{multiplier}: its weight port {weight} takes no negative values but weights are "
                              f"signed: set weight_offset = true (the weights enter as q + {1 << (w_bits - 1)}, "
                              f"the offset is removed exactly after the sum){other}; or choose a multiplier "
                              f"with a signed weight port")
        offset = 1 << (w_bits - 1)
    return Operands(activation_signed=act.signed, weight_offset=offset)
