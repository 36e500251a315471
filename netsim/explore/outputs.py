"""CSV and JSON files of a sweep, written atomically."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from opmodels.files import write_atomic


def write_table(directory, stem: str, rows: list, columns: list | None = None, summary: dict | None = None):
    """``<stem>.csv`` (the rows) and ``<stem>.json`` ({"rows": ..., "summary": ...}); returns both paths."""
    directory = Path(directory)
    columns = columns or _columns(rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    csv_path = write_atomic(directory / f"{stem}.csv", text.getvalue())
    json_path = write_atomic(directory / f"{stem}.json",
                             json.dumps({"rows": rows, "summary": summary or {}}, indent=1, default=str))
    return csv_path, json_path


def read_table(path) -> dict:
    return json.loads(Path(path).read_text())


def _columns(rows: list) -> list:
    seen = []
    for row in rows:
        for key in row:
            if key not in seen and key != "hits":
                seen.append(key)
    return seen


def _cell(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else value
