"""Errors a user can act on. The CLI prints them as one line and exits 2."""


import re


class OpmodelsError(ValueError):
    """Bad input from the user: an unknown id, an illegal parameter, an unwritable path."""


_ERROR = re.compile(r"\berror\b", re.IGNORECASE)


def first_error(output: str, replace: dict | None = None) -> str:
    """The first real error line of a tool's output (``file:line: ... error ...``), not a warning
    that came before it; else the first line. ``replace`` maps a tool's file names to the user's."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    line = next((x for x in lines if _ERROR.search(x) and "warning" not in x.lower()), lines[0] if lines else
                "no message")
    for old, new in (replace or {}).items():
        line = line.replace(old, new)
    return line
