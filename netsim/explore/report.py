"""``netsim report out/``: one Markdown and one HTML document from the sweeps found in a directory
(``resilience.json``, ``dse.json``, ``search.json`` and their PNG plots)."""
from __future__ import annotations

import html
import json
from pathlib import Path

from opmodels.files import write_atomic

from ..coverage import coverage_line
from ..errors import NetsimError
from .cost import describe


def _pct(value) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _load(path: Path, reading: list):
    """The JSON in ``path``; a file that is empty, truncated or not text is a one-line error naming it."""
    reading.append(path)
    try:
        text = path.read_text()
        if not text.strip():
            raise NetsimError(f"{path} is empty; rerun the command that writes it")
        return json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NetsimError(f"{path} is not readable JSON ({error}); was its run interrupted? "
                          f"Rerun the command that writes it") from None


def _blocks(directory: Path) -> list:
    """The report's blocks; a result file of the wrong structure is a one-line error naming it."""
    reading = []  # the files read so far; the last one is the one being read
    try:
        return _build(directory, reading)
    except NetsimError:  # already names the file (and is a ValueError: keep it as it is)
        raise
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as error:
        where = reading[-1] if reading else directory
        raise NetsimError(f"{where} is not a result file of this netsim version ({type(error).__name__}: "
                          f"{error}); rerun the command that writes it") from None


def _build(directory: Path, reading: list) -> list:
    blocks = [("h1", "Approximate DNN exploration report")]
    found = False
    meta = directory / "run.json"
    if meta.exists():
        info = _load(meta, reading)
        blocks.append(("p", "Run: " + ", ".join(f"{k} = {v}" for k, v in info.items())))
    res = directory / "resilience.json"
    if res.exists():
        found = True
        data = _load(res, reading)["summary"]
        noise = data["noise"]
        blocks += [("h2", "Resilience"),
                   ("p", f"Baseline (8-bit weights and activations, exact multiplier and adder): "
                         f"{_pct(noise['baseline_accuracy'])}% on {noise['samples']} test samples; binomial "
                         f"standard error {_pct(noise['binomial_se'])} points (one sample = "
                         f"{_pct(noise['one_sample'])} points). 'Lossless' means accuracy >= baseline - "
                         f"{_pct(data['tolerance'])} points; the McNemar p-value per point is in resilience.csv.")]
        if "coverage" in data:  # (results written before coverage was recorded have none)
            blocks.append(("p", "MAC " + coverage_line(data["coverage"]) + "."))
        table = data["table"]
        scopes = list(dict.fromkeys(r["scope"] for r in table))
        columns = list(dict.fromkeys((r["technique"], r["logic"]) for r in table))
        header = ["scope"] + [f"{t} {l}".strip() for t, l in columns]
        rows = []
        for scope in scopes:
            cells = [scope]
            for technique, logic in columns:
                match = [r for r in table if r["scope"] == scope and r["technique"] == technique and r["logic"] == logic]
                value = match[0]["lossless_degree"] if match else None
                cells.append("-" if value is None else str(value))
            rows.append(cells)
        blocks += [("p", "Most aggressive degree reached from the mildest one without a loss (bits: lowest "
                         "width; multiplier: highest P per logic; adder: highest LOA l). '-': even the mildest "
                         "degree loses accuracy."),
                   ("table", header, rows)]
        for name in ("resilience_w_bits", "resilience_a_bits", "resilience_multiplier", "resilience_adder",
                     "resilience_lossless"):
            if (directory / f"{name}.png").exists():
                blocks.append(("img", f"{name}.png"))
    dse = directory / "dse.json"
    if dse.exists():
        found = True
        data = _load(dse, reading)
        summary, rows = data["summary"], data["rows"]
        after = "accuracy_finetuned" in rows[0]
        blocks += [("h2", "Multiplier design-space exploration"),
                   ("p", f"Every multiplier on every layer (8-bit), cost from "
                         f"{describe(summary.get('cost_source'))} (every figure from this one source); "
                         f"baseline {_pct(summary['baseline_accuracy'])}%, tolerance "
                         f"{_pct(summary['tolerance'])} points" +
                         (f"; fine-tuning {summary['finetune']}." if after else "."))]
        if "coverage" in summary:
            blocks.append(("p", "MAC " + coverage_line(summary["coverage"]) + "."))
        for stage in ("before", "after"):
            best = summary.get(f"optimum_{stage}")
            if f"pareto_{stage}" not in summary:
                continue
            text = (f"Optimum {stage} fine-tuning (lossless at the lowest cost): "
                    + (f"**{best['multiplier']}**, {_pct(best['accuracy'])}%, relative area {best['cost']:.3f} "
                       f"(saving {_pct(best['area_saving'])}% vs the exact multiplier)" if best else "none")
                    + f". Pareto front: {', '.join(summary[f'pareto_{stage}'])}.")
            blocks.append(("p", text))
        header = ["multiplier", "relative area", "relative energy", "accuracy %"] + \
            (["fine-tuned %"] if after else []) + ["McNemar p"]
        body = [[r["multiplier"], f"{r['relative_area']:.3f}",
                 "" if r.get("relative_energy") is None else f"{r['relative_energy']:.3f}", _pct(r["accuracy"])]
                + ([_pct(r["accuracy_finetuned"])] if after else []) + [f"{r['mcnemar_p']:.2g}"] for r in rows]
        blocks.append(("table", header, body))
        if (directory / "dse.png").exists():
            blocks.append(("img", "dse.png"))
    lut = directory / "dse_lut.json"
    if lut.exists() and dse.exists():
        lut_rows = {r["multiplier"]: r for r in _load(lut, reading)["rows"] if "accuracy_finetuned" in r}
        ste_rows = {r["multiplier"]: r for r in _load(dse, reading)["rows"] if "accuracy_finetuned" in r}
        common = [m for m in lut_rows if m in ste_rows]
        if common:
            body = [[m, _pct(ste_rows[m]["accuracy"]), _pct(ste_rows[m]["accuracy_finetuned"]),
                     _pct(lut_rows[m]["accuracy_finetuned"])] for m in common]
            better = sum(lut_rows[m]["accuracy_finetuned"] > ste_rows[m]["accuracy_finetuned"] for m in common)
            worse = sum(lut_rows[m]["accuracy_finetuned"] < ste_rows[m]["accuracy_finetuned"] for m in common)
            blocks += [("h2", "Fine-tuning gradient: STE versus LUT finite differences"),
                       ("p", f"Same fine-tuning settings, two gradients. The LUT gradient recovers more accuracy "
                             f"for {better} multipliers, less for {worse}, as much for {len(common) - better - worse}."),
                       ("table", ["multiplier", "before %", "STE fine-tuned %", "LUT fine-tuned %"], body)]
    search = directory / "search.json"
    if search.exists():
        found = True
        data = _load(search, reading)
        summary = data["summary"]
        blocks += [("h2", "Per-layer mixed assignment search"),
                   ("p", f"{summary['sampler']}, {summary['trials']} trials, accuracy floor "
                         f"{_pct(summary['min_accuracy'])}%; cost = MAC-weighted relative multiplier area, from "
                         f"{describe(summary.get('cost_source'))}. "
                         f"Each front point's configuration is in search_configs/.")]
        layers = summary["layers"]
        body = [[str(i), _pct(p["accuracy"]), f"{p['cost']:.3f}"] + [p["assignment"][n] for n in layers]
                for i, p in enumerate(data["front"])]
        blocks.append(("table", ["point", "accuracy %", "cost"] + layers, body))
        if (directory / "search.png").exists():
            blocks.append(("img", "search.png"))
    if not found:
        raise NetsimError(f"{directory} holds no resilience.json, dse.json or search.json; "
                          f"run netsim resilience / dse / search with -o {directory} first")
    return blocks


def _markdown(blocks: list) -> str:
    out = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            out.append(f"# {block[1]}\n")
        elif kind == "h2":
            out.append(f"## {block[1]}\n")
        elif kind == "p":
            out.append(block[1] + "\n")
        elif kind == "img":
            out.append(f"![{block[1]}]({block[1]})\n")
        elif kind == "table":
            header, rows = block[1], block[2]
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(row) + " |" for row in rows]
            out.append("")
    return "\n".join(out)


def _html(blocks: list) -> str:
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>netsim report</title><style>"
           "body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse;font-size:90%}"
           "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}</style></head><body>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            out.append(f"<{kind}>{html.escape(block[1])}</{kind}>")
        elif kind == "p":
            text = html.escape(block[1])
            while "**" in text:
                text = text.replace("**", "<b>", 1).replace("**", "</b>", 1)
            out.append(f"<p>{text}</p>")
        elif kind == "img":
            out.append(f"<p><img src='{html.escape(block[1])}'></p>")
        elif kind == "table":
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block[1]) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block[2]]
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(directory) -> tuple:
    directory = Path(directory)
    if not directory.is_dir():
        raise NetsimError(f"report directory {str(directory)!r} does not exist")
    blocks = _blocks(directory)
    md = write_atomic(directory / "report.md", _markdown(blocks))
    page = write_atomic(directory / "report.html", _html(blocks))
    return md, page
