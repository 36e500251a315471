"""The ``cost`` command: area, depth and switching energy from Yosys synthesis (docs/cost.md)."""
from __future__ import annotations

import json
import os
import sys
import time

from .. import tools
from ..catalog import catalog_ids
from ..cost import MAX_SAMPLES, baseline_id, cost, design_cost, load_trace
from ..errors import OpmodelsError
from .common import MAX_JOBS, MAX_SEED, integer, operators, progress, resolve
from .rtl import assignments, ids_after_files


def cmd_cost(args) -> int:
    ids_after_files(args)
    if args.verilog:
        return _cost_of_verilog_files(args)
    unused = [o for o, given in (("--top", args.top), ("--param", args.param),
                                 ("--port-a/--port-b/--port-y", (args.port_a, args.port_b, args.port_y) != ("a", "b", "y")))
              if given]
    if unused:
        raise OpmodelsError(f"{unused[0]} applies to --verilog FILE of your own; give --verilog too")
    ops = operators(args)
    start = time.perf_counter()
    wanted = {op.id: op for op in ops}
    for op in ops:  # the exact baselines are costed too, for the relative columns
        wanted.setdefault(baseline_id(op), resolve(args, baseline_id(op)))
    operands = _trace(args, wanted.values())

    def one(op):
        return cost(op, operands, samples=args.samples, seed=args.seed, use_cache=not args.no_cache,
                    flow=args.flow)

    from concurrent.futures import ThreadPoolExecutor  # Yosys runs in subprocesses: threads suffice
    with tools.ends_children_on_sigterm(), ThreadPoolExecutor(args.jobs) as pool:
        futures = {op_id: pool.submit(one, op) for op_id, op in wanted.items()}
        try:
            results = {op_id: future.result() for op_id, future in progress(list(futures.items()), "cost")}
        except BaseException:  # the first error ends the run, without waiting for the queue
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    records = []
    for op in ops:
        c, base = results[op.id], results[baseline_id(op)]
        records.append(c.as_dict() | {"baseline": base.id,
                                      "area_rel": _ratio(c.area_nand2, base.area_nand2),
                                      "energy_rel": _ratio(c.energy_per_op, base.energy_per_op)})
    _print(args, records, f"{len(wanted)} operator(s) in {time.perf_counter() - start:.1f} s")
    return 0


def _trace(args, ops):
    operands = load_trace(args.trace) if args.trace else None
    for op in ops:  # before any synthesis: a value out of range is the trace's fault
        try:
            operands is None or op.check_operands(*operands)
        except OpmodelsError as error:
            raise OpmodelsError(f"{args.trace}: {error}") from None
    return operands


def _print(args, records: list, summary: str, one: bool = False) -> None:
    """The table (or ``--csv``, ``--json``: a list, or the record itself when ``one`` design was costed)."""
    if args.json:
        print(json.dumps(records[0] if one else records, indent=2))
    elif args.csv:
        columns = ["id", "n_cells", "area_nand2", "depth", "toggles_per_op", "energy_per_op", "area_rel",
                   "energy_rel", "baseline", "cells", "ir_hash", "stream", "tool"]
        print(",".join(columns))
        for r in records:
            r = r | {"cells": " ".join(f"{k}:{v}" for k, v in r["cells"].items())}
            print(",".join(str(r.get(c, "")) for c in columns))
    else:
        print(f"{'id':<10} {'cells':>6} {'area':>9} {'depth':>5} {'toggles':>8} {'energy':>9} "
              f"{'area/ex':>8} {'energy/ex':>9}  cells by type")
        for r in records:
            kinds = " ".join(f"{k} {v}" for k, v in r["cells"].items())
            print(f"{r['id']:<10} {r['n_cells']:>6} {r['area_nand2']:>9.2f} {r['depth']:>5} "
                  f"{r['toggles_per_op']:>8.2f} {r['energy_per_op']:>9.2f} {_fmt_ratio(r.get('area_rel')):>8} "
                  f"{_fmt_ratio(r.get('energy_rel')):>9}  {kinds}")
        tool = records[0]["tool"] if records else ""
        print(f"area in NAND2 equivalents, depth in gates, toggles and energy per operation "
              f"({records[0]['stream'] if records else ''}); /ex: relative to the exact operator; "
              f"{tool}, flow {args.flow}; {summary}", file=sys.stderr)


def _ratio(value: float, baseline: float) -> float | None:
    return round(value / baseline, 4) if baseline else None  # a still trace toggles nothing


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _cost_of_verilog_files(args) -> int:
    """``--verilog FILE...``: the design's area, depth and energy; with one operator id, checked to
    compute that operator first and measured on its stream, with the relative columns."""
    if getattr(args, "all", False) or len(args.ids) > 1:
        raise OpmodelsError("--verilog costs one design; name at most one operator id, the one it must compute")
    op = resolve(args, args.ids[0]) if args.ids else None
    for path in args.verilog:
        if not os.path.isfile(path):
            raise OpmodelsError(f"Verilog file {path!r} {'is a directory' if os.path.isdir(path) else 'does not exist'}")
    params = assignments(args.param, "--param")
    ports = (args.port_a, args.port_b, args.port_y)
    operands = _trace(args, [op] if op is not None else [])
    start = time.perf_counter()
    with tools.ends_children_on_sigterm():
        c = design_cost(list(args.verilog), args.top, params, op=op, ports=ports, operands=operands,
                        samples=args.samples, seed=args.seed, flow=args.flow, name=", ".join(args.verilog))
        record = c.as_dict() | {"files": list(args.verilog), "params": params, "checked_against": op.id if op else None}
        if op is not None and op.a.width == op.b.width:
            base = cost(resolve(args, baseline_id(op)), operands, samples=args.samples, seed=args.seed,
                        use_cache=not args.no_cache, flow=args.flow)
            record |= {"baseline": base.id, "area_rel": _ratio(c.area_nand2, base.area_nand2),
                       "energy_rel": _ratio(c.energy_per_op, base.energy_per_op)}
    checked = f"checked to compute {op.id}" if op else "not checked against a model (name an operator id to check it)"
    _print(args, [record], f"{', '.join(args.verilog)}: {checked}; {time.perf_counter() - start:.1f} s", one=True)
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
    sub.add_argument("--verilog", action="extend", nargs="+", metavar="FILE",
                     help="cost a design of your own: its Verilog files (several, or repeat the option); with one "
                     "operator id it is checked to compute that operator and measured on its stream")
    sub.add_argument("--top", help="top module of the --verilog files (default: the only one, or Yosys's choice)")
    sub.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a Verilog parameter of the --top module, e.g. --param N=8")
    sub.add_argument("--port-a", default="a", help="the design's first operand port (default a)")
    sub.add_argument("--port-b", default="b", help="the design's second operand port (default b)")
    sub.add_argument("--port-y", default="y", help="the design's result port (default y)")
