"""opmodels: approximate radix-4 Booth multipliers and LOA adders, described once, generated everywhere.

>>> import opmodels
>>> op = opmodels.get("M4P8")
>>> int(op.evaluate(3, 5))
255
"""
from .catalog import catalog_ids, get, load_from, multipliers_8bit, register
from .errors import OpmodelsError
from .library import LOA, BoothR4
from .operator import Operator, operator

__all__ = ["BoothR4", "LOA", "Operator", "OpmodelsError", "catalog_ids", "get", "load_from",
           "multipliers_8bit", "operator", "register"]
__version__ = "0.1.0"
