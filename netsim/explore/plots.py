"""Matplotlib figures in the style of the paper's: accuracy versus degree per technique (Fig. 3/4),
and accuracy versus relative area with the Pareto front (Fig. 5). PNG files, written atomically."""
from __future__ import annotations

import io
from pathlib import Path

from opmodels.files import write_atomic

from ..errors import NetsimError
from .cost import describe

ZOOM = 0.03  # the DSE plot's zoomed row spans the baseline accuracy -3 .. +0.75 points
TITLES = {"w_bits": "weight bits", "a_bits": "activation bits", "multiplier": "multiplier P",
          "adder": "LOA approximate bits l"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise NetsimError("plots need matplotlib: pip install 'opmodels[explore]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 120})
    return plt


def _save(fig, path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return write_atomic(Path(path), buffer.getvalue())


def resilience_plot(result: dict, technique: str, path) -> Path:
    """One panel per scope (network, then each layer); one line per logic for the multiplier."""
    plt = _pyplot()
    rows = [r for r in result["rows"] if r["technique"] == technique]
    scopes = [s for s in ["network", *result["layers"]] if any(r["scope"] == s for r in rows)]
    if not scopes:
        raise NetsimError(f"the resilience result has no {technique} rows")
    base = result["baseline"]["accuracy"]
    se = result["noise"]["binomial_se"]
    fig, axes = plt.subplots(1, len(scopes), figsize=(2.3 * len(scopes) + 0.6, 2.6), sharey=True, squeeze=False)
    for ax, scope in zip(axes[0], scopes):
        subset = [r for r in rows if r["scope"] == scope]
        for logic in sorted({r["logic"] for r in subset}):
            line = sorted((r for r in subset if r["logic"] == logic), key=lambda r: r["degree"])
            ax.plot([r["degree"] for r in line], [100 * r["accuracy"] for r in line], marker="o", markersize=3,
                    label=logic or technique)
        ax.axhspan(100 * (base - 2 * se), 100 * (base + 2 * se), color="grey", alpha=0.2, lw=0)
        ax.axhline(100 * base, color="black", lw=0.8, ls="--")
        ax.set_title("all layers" if scope == "network" else scope)
        ax.set_xlabel(TITLES[technique])
        if technique in ("w_bits", "a_bits"):
            ax.invert_xaxis()
    axes[0][0].set_ylabel("top-1 accuracy (%)")
    axes[0][0].set_ylim(0, 100)
    if technique == "multiplier":
        axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"resilience to {TITLES[technique]} (dashed: 8-bit exact baseline, band: ±2 SE)", fontsize=9, y=1.03)
    return _save(fig, path)


def lossless_plot(result: dict, path) -> Path:
    """Per-layer lossless degree for each technique (paper Fig. 4 style bar chart)."""
    plt = _pyplot()
    import numpy as np
    layers = result["layers"]
    columns = []
    for row in result["table"]:
        if row["scope"] == "network":
            continue
        label = row["technique"] if not row["logic"] else f"{row['logic']} P"
        if label not in columns:
            columns.append(label)
    fig, axes = plt.subplots(1, len(columns), figsize=(1.9 * len(columns) + 0.6, 2.6), squeeze=False)
    for ax, label in zip(axes[0], columns):
        values = []
        for layer in layers:
            match = [r for r in result["table"] if r["scope"] == layer and
                     (r["technique"] == label or f"{r['logic']} P" == label)]
            degree = match[0]["lossless_degree"] if match else None
            values.append(np.nan if degree is None else degree)
        ax.bar(range(len(layers)), values, color="tab:blue")
        ax.set_xticks(range(len(layers)), layers, rotation=60, fontsize=7)
        ax.set_title(TITLES.get(label, label), fontsize=8)
    axes[0][0].set_ylabel("lossless degree")
    fig.suptitle("per-layer lossless degree (bits: lowest; P and l: highest)", fontsize=9, y=1.03)
    return _save(fig, path)


def dse_plot(result: dict, path) -> Path:
    """Accuracy versus relative area of every multiplier, before and after fine-tuning, Pareto fronts."""
    plt = _pyplot()
    from . import analysis
    rows = result["rows"]
    stages = [("accuracy", "before fine-tuning", "o")]
    if "accuracy_finetuned" in rows[0]:
        stages.append(("accuracy_finetuned", "after fine-tuning", "^"))
    # top row: everything; bottom row: zoom on the points within ZOOM of the baseline
    fig, axes = plt.subplots(2, len(stages), figsize=(4.2 * len(stages) + 1.0, 5.6), sharey="row", squeeze=False,
                             height_ratios=(1, 1.2))
    logics = sorted({r["logic"] for r in rows if r["logic"]})
    colours = dict(zip(logics, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    base = result["summary"]["baseline_accuracy"]
    panels = [(axes[0][i], stage) for i, stage in enumerate(stages)] + \
             [(axes[1][i], stage) for i, stage in enumerate(stages)]
    for ax, (column, title, marker) in panels:
        for logic in logics:
            subset = [r for r in rows if r["logic"] == logic]
            ax.scatter([r["relative_area"] for r in subset], [100 * r[column] for r in subset], s=14,
                       marker=marker, color=colours[logic], label=logic)
        exact = [r for r in rows if r["multiplier"] == "exact"][0]
        ax.scatter([1.0], [100 * exact[column]], marker="*", s=60, color="black", label="exact")
        points = [{"multiplier": r["multiplier"], "accuracy": r[column], "cost": r["relative_area"]} for r in rows]
        front = analysis.pareto_front(points)
        ax.step([p["cost"] for p in front], [100 * p["accuracy"] for p in front], where="post", color="red",
                lw=1, label="Pareto front")
        ax.axhline(100 * base, color="black", lw=0.8, ls="--")
        stage = "before" if column == "accuracy" else "after"
        best = result["summary"].get(f"optimum_{stage}")
        if best:
            ax.annotate(best["multiplier"], (best["cost"], 100 * best["accuracy"]), fontsize=7,
                        xytext=(-30, -18), textcoords="offset points", arrowprops={"arrowstyle": "->", "lw": 0.6})
        ax.set_title(title if ax in axes[0] else f"{title}, zoom")
        ax.set_xlabel(f"relative area ({describe(result['summary'].get('cost_source'))})")
    near = [r["relative_area"] for r in rows for column, _, _ in stages if r[column] >= base - ZOOM]
    for ax in axes[1]:
        ax.set_ylim(100 * (base - ZOOM), 100 * (base + ZOOM / 4))
        ax.set_xlim(min(near) - 0.02, 1.01)
    axes[0][0].set_ylabel("top-1 accuracy (%)")
    axes[1][0].set_ylabel("top-1 accuracy (%)")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return _save(fig, path)


def search_plot(result: dict, path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    trials = result["trials"]
    ax.scatter([t["cost"] for t in trials], [100 * t["accuracy"] for t in trials], s=10, color="grey",
               label="evaluated")
    front = result["front"]
    ax.step([p["cost"] for p in front], [100 * p["accuracy"] for p in front], where="post", color="red",
            marker="o", markersize=3, lw=1, label="Pareto front")
    ax.axhline(100 * result["summary"]["min_accuracy"], color="black", lw=0.8, ls=":", label="accuracy floor")
    ax.set_xlabel(f"MAC-weighted relative multiplier area\n({describe(result['summary'].get('cost_source'))})")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.legend(fontsize=7)
    return _save(fig, path)
