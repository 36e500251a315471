"""Errors a user can act on. The CLI prints them as one line and exits 2."""


class OpmodelsError(ValueError):
    """Bad input from the user: an unknown id, an illegal parameter, an unwritable path."""
