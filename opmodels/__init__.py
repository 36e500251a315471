"""opmodels: approximate radix-4 Booth multipliers and LOA adders, described once, generated everywhere.

>>> import opmodels
>>> op = opmodels.get("M4P8")
>>> int(op.evaluate(3, 5))
255
"""
from .catalog import (builtin_ids, catalog_ids, get, is_builtin, load_from, multipliers_8bit, register,
                      registered_ids, store)
from .errors import OpmodelsError
from .library import LOA, BoothR4, BoothR4Params, ExactBoothParams, LOAParams
from .operator import EXACT_PRODUCT, Operator, Port, operator

__all__ = ["BoothR4", "BoothR4Params", "EXACT_PRODUCT", "ExactBoothParams", "LOA", "LOAParams", "Operator",
           "OpmodelsError", "Port", "builtin_ids", "catalog_ids", "get", "is_builtin", "load_from",
           "multipliers_8bit", "operator", "register", "registered_ids", "store"]
__version__ = "0.1.0"
