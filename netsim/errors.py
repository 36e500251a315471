"""Errors a user can act on; the ``netsim`` command prints them as one line and exits 2."""
from opmodels.errors import OpmodelsError


class NetsimError(OpmodelsError):
    """Bad input: a config entry, a model name, a missing data file, a checkpoint that does not fit."""
