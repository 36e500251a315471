"""TOML in and out: parse text to plain data with the line of each table and key, and write a config.

tomllib reports no positions, so :class:`Lines` finds them in the text; the errors of the config
loader name ``file:line``.
"""
from __future__ import annotations

import re
import tomllib

from ..errors import NetsimError

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_\-\"'.]+)\s*\]\]?")


def parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise NetsimError(f"{source}: not valid TOML: {error}") from None


class Lines:
    """Line numbers of tables (``[default]``, the n-th ``[[layer]]``) and of their keys in TOML text."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers = []  # (table name, line number)
        for number, line in enumerate(self.lines, 1):
            found = _HEADER.match(line)
            if found:
                self.headers.append((found.group(1).strip("\"'"), number))

    def _header(self, name: str, index: int):
        hits = [i for i, (n, _) in enumerate(self.headers) if n == name]
        return hits[index] if index < len(hits) else None

    def table(self, name: str, index: int = 0) -> int:
        found = self._header(name, index)
        return self.headers[found][1] if found is not None else 1

    def key(self, name: str, index: int, key: str) -> int:
        found = self._header(name, index)
        if found is None:
            return 1
        start = self.headers[found][1]
        end = self.headers[found + 1][1] - 1 if found + 1 < len(self.headers) else len(self.lines)
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1, end + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return start


def dumps(default: dict, layers) -> str:
    """The text of a ``[default]`` table and ``[[layer]]`` tables (``layers``: entries with match, settings)."""
    out = ["[default]", *(f"{k} = {value(v)}" for k, v in default.items())]
    for entry in layers:
        out += ["", "[[layer]]", f"match = {value(entry.match)}",
                *(f"{k} = {value(v)}" for k, v in entry.settings.items())]
    return "\n".join(out) + "\n"


def value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)
