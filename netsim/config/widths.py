"""Width policy: which operator ``bits``-bit operands run on, for a multiplier id of the config."""
from __future__ import annotations

import dataclasses

import opmodels
from opmodels import Operator

from ..errors import NetsimError
from . import operands

LUT_BITS = 8  # operands of at most 8 bits run on the 8-bit operator's lookup table
WIDE_WIDTH = 16  # 9..16-bit operands run on the 16-bit operator in behavioural mode
_WIDTH_FREE_FAMILIES = (opmodels.BoothR4Params, opmodels.ExactBoothParams)


def operator_for(multiplier: str, bits: int, ops: tuple = ()) -> Operator | None:
    """The multiplier operator that ``bits``-bit operands run on.

    A catalog id without a width (``M4P8``) names a logic and an approximation factor; it runs as
    the 8-bit operator (lookup table) for operands of up to 8 bits and as the 16-bit operator with the
    same logic and the same p (``M4P8W16``, behavioural mode) for 9..16 bits: the same cells
    approximate the same low product columns. An id with a width (``M4P12W16``), a registered
    operator or one stored in an operator directory (``ops``, then ``$OPMODELS_OPS``) is used as it
    is; each operand must fit the port it feeds (checked by ``LayerSettings.operands``). ``"exact"`` (any case, so the
    catalog's ``EXACT`` too: its products are exact) gives None, the unbounded exact product.
    """
    if multiplier.lower() == "exact":
        return None
    params = _width_free(multiplier)
    if params is not None:
        return params.build() if bits <= LUT_BITS else dataclasses.replace(params, width=WIDE_WIDTH).build()
    op = operands.get(multiplier, ops)
    if op.kind != "multiplier":
        raise NetsimError(f"{multiplier} is an {op.kind}, not a multiplier")
    if op.a.width == op.b.width and bits > op.a.width:  # per port, with the roles: LayerSettings.operands
        raise NetsimError(f"{multiplier} has {op.a.width}-bit operands, too narrow for {bits}-bit operands; "
                          f"use a width-free id like 'M4P8' or a wider one like 'M4P8W16'")
    return op


def _width_free(multiplier: str):
    """The family parameters of a built-in multiplier id written without a width, else None."""
    if multiplier in opmodels.registered_ids() or not opmodels.is_builtin(multiplier):
        return None
    upper = multiplier.strip().upper()
    for family in _WIDTH_FREE_FAMILIES:
        try:
            params = family.parse(upper)
        except opmodels.OpmodelsError:
            return None  # illegal parameters: opmodels.get reports them
        if params is not None:
            # the family's default width left out of the id: "M4P8" is width-free, "M4P8W8" names its width
            return params if params.id == upper and params.width == type(params)().width else None
    return None
