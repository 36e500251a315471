"""Operator families, each written once in the DSL: validated parameters that build, name and parse."""
from .booth import BoothR4, BoothR4Params, ExactBoothParams
from .loa import LOA, LOAParams

FAMILIES = (BoothR4Params, ExactBoothParams, LOAParams)  # every id grammar the catalog understands

__all__ = ["BoothR4", "BoothR4Params", "ExactBoothParams", "FAMILIES", "LOA", "LOAParams"]
