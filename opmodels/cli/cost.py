"""The ``cost`` command: area, depth and switching energy from Yosys synthesis (docs/cost.md)."""
from __future__ import annotations

import json
import os
import sys
import time

from ..catalog import catalog_ids
from ..cost import MAX_SAMPLES, baseline_id, cost, load_trace, synthesize
from ..errors import OpmodelsError
from .common import MAX_JOBS, MAX_SEED, integer, operators, progress, resolve


def cmd_cost(args) -> int:
    if args.verilog:
        return _cost_of_verilog_file(args)
    if args.top:
        raise OpmodelsError("--top names the module of a --verilog FILE; give --verilog too")
    ops = operators(args)
    start = time.perf_counter()
    wanted = {op.id: op for op in ops}
    for op in ops:  # the exact baselines are costed too, for the relative columns
        wanted.setdefault(baseline_id(op), resolve(args, baseline_id(op)))
    operands = load_trace(args.trace) if args.trace else None
    for op in wanted.values():  # before any synthesis: a value out of range is the trace's fault
        try:
            operands is None or op.check_operands(*operands)
        except OpmodelsError as error:
            raise OpmodelsError(f"{args.trace}: {error}") from None

    def one(op):
        return cost(op, operands, samples=args.samples, seed=args.seed, use_cache=not args.no_cache,
                    flow=args.flow)

    from concurrent.futures import ThreadPoolExecutor  # Yosys runs in subprocesses: threads suffice
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {op_id: pool.submit(one, op) for op_id, op in wanted.items()}
        try:
            results = {op_id: future.result() for op_id, future in progress(list(futures.items()), "cost")}
        except BaseException:  # the first error ends the run, without waiting for the queue
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    elapsed = time.perf_counter() - start
    records = []
    for op in ops:
        c, base = results[op.id], results[baseline_id(op)]
        records.append(c.as_dict() | {"baseline": base.id,
                                      "area_rel": _ratio(c.area_nand2, base.area_nand2),
                                      "energy_rel": _ratio(c.energy_per_op, base.energy_per_op)})
    if args.json:
        print(json.dumps(records, indent=2))
    elif args.csv:
        columns = ["id", "n_cells", "area_nand2", "depth", "toggles_per_op", "energy_per_op", "area_rel",
                   "energy_rel", "baseline", "cells", "ir_hash", "stream", "tool"]
        print(",".join(columns))
        for r in records:
            r = r | {"cells": " ".join(f"{k}:{v}" for k, v in r["cells"].items())}
            print(",".join(str(r[c]) for c in columns))
    else:
        print(f"{'id':<10} {'cells':>6} {'area':>9} {'depth':>5} {'toggles':>8} {'energy':>9} "
              f"{'area/ex':>8} {'energy/ex':>9}  cells by type")
        for r in records:
            kinds = " ".join(f"{k} {v}" for k, v in r["cells"].items())
            print(f"{r['id']:<10} {r['n_cells']:>6} {r['area_nand2']:>9.2f} {r['depth']:>5} "
                  f"{r['toggles_per_op']:>8.2f} {r['energy_per_op']:>9.2f} {_fmt_ratio(r['area_rel']):>8} "
                  f"{_fmt_ratio(r['energy_rel']):>9}  {kinds}")
        tool = records[0]["tool"] if records else ""
        print(f"area in NAND2 equivalents, depth in gates, toggles and energy per operation "
              f"({records[0]['stream'] if records else ''}); /ex: relative to the exact operator; "
              f"{tool}, flow {args.flow}; {len(wanted)} operator(s) in {elapsed:.1f} s", file=sys.stderr)
    return 0


def _ratio(value: float, baseline: float) -> float | None:
    return round(value / baseline, 4) if baseline else None  # a still trace toggles nothing


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _cost_of_verilog_file(args) -> int:
    if args.ids or getattr(args, "all", False):
        raise OpmodelsError("give operator ids or --verilog FILE, not both")
    try:
        text = open(args.verilog, encoding="utf-8", errors="replace").read()
    except OSError as error:
        raise OpmodelsError(f"cannot read {args.verilog!r}: {error.strerror}") from None
    netlist = synthesize(text, args.top, name=args.verilog, flow=args.flow)
    record = {"file": args.verilog, "cells": netlist.cell_counts(), "n_cells": len(netlist.gates),
              "area_nand2": netlist.area(), "depth": netlist.depth(), "tool": netlist.tool}
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        kinds = " ".join(f"{k} {v}" for k, v in record["cells"].items())
        print(f"{args.verilog}: {record['n_cells']} cells, area {record['area_nand2']:.2f} NAND2, "
              f"depth {record['depth']} ({kinds}; {netlist.tool}; not checked against a model)")
    return 0


def add_commands(commands) -> None:
    sub = commands.add("cost", cmd_cost, "area (NAND2 equivalents), depth and switching energy from Yosys synthesis",
                       all_ids=catalog_ids)
    sub.add_argument("--csv", action="store_true", help="comma-separated values")
    sub.add_argument("--json", action="store_true")
    sub.add_argument("--samples", type=integer(2, MAX_SAMPLES), default=65536,
                     help="uniform random operand pairs for the energy figures (default 65536)")
    sub.add_argument("--seed", type=integer(0, MAX_SEED), default=0)
    sub.add_argument("--trace", metavar="FILE",
                     help="operand pairs for the energy figures: .npz with arrays a and b, or .npy of shape (N, 2)")
    sub.add_argument("--no-cache", action="store_true", help="synthesise again, ignoring the cache")
    sub.add_argument("--flow", choices=("fast", "abc"), default="fast",
                     help="ABC mapping: fast (structural, the default) or abc (full optimisation)")
    sub.add_argument("-j", "--jobs", type=integer(1, MAX_JOBS), default=min(2, os.cpu_count() or 1),
                     help="Yosys runs at once (default: 2, or 1 on a single core)")
    sub.add_argument("--verilog", metavar="FILE", help="cost a Verilog file of your own (area and depth)")
    sub.add_argument("--top", help="top module of --verilog FILE (default: the only one, or Yosys's choice)")
