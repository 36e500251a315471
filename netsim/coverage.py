"""The coverage line: how many MACs per sample netsim simulates, and how many it leaves exact.

No torch here: the sweep commands and the report print it from JSON.
"""
from __future__ import annotations


def coverage_line(coverage: dict) -> str:
    """One line: MACs per sample simulated (approximate among them), kept float, left exact."""
    total = coverage.get("macs_total", 0)
    pct = lambda v: f"{100 * v / total:.1f}%" if total else "-"  # noqa: E731
    line = (f"coverage: {coverage.get('macs_simulated', 0)} of {total} MACs per sample simulated "
            f"({pct(coverage.get('macs_simulated', 0))}), {coverage.get('macs_approximate', 0)} on approximate "
            f"operators ({pct(coverage.get('macs_approximate', 0))}); float by config {coverage.get('macs_float', 0)}; "
            f"left exact {coverage.get('macs_left_exact', 0)} ({pct(coverage.get('macs_left_exact', 0))})")
    if coverage.get("left_exact"):
        line += f": {', '.join(coverage['left_exact'])}"
    if coverage.get("ops_unknown_macs"):
        line += f"; {coverage['ops_unknown_macs']} op(s) not yet run, MACs unknown"
    return line
