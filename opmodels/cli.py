"""The ``opmodels`` command line. User errors print one line ``opmodels: error: ...`` and exit 2."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import artifacts, catalog, lut
from .errors import OpmodelsError
from .files import prepare_directory
from .metrics import NAMES


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other user error
        raise OpmodelsError(message)


def _operators(args, allow_all: bool = True) -> list:
    for spec in args.from_ or []:
        op = catalog.load_from(spec)
        if not args.ids and not getattr(args, "all", False):
            args.ids.append(op.id)
    if allow_all and getattr(args, "all", False):
        if args.ids:
            raise OpmodelsError("give operator ids or --all, not both")
        return [catalog.get(i) for i in args.all_ids()]
    if not args.ids:
        raise OpmodelsError("name at least one operator id (see `opmodels list`)" +
                            (" or --all" if allow_all else ""))
    return [catalog.get(i) for i in args.ids]


def cmd_list(args) -> int:
    rows = []
    for op_id in catalog.catalog_ids():
        op = catalog.get(op_id)
        rows.append((op, op.metrics()))
    if args.json:
        print(json.dumps([{"id": op.id, "family": op.family, "kind": op.kind, "parameters": op.params,
                           "ir_hash": op.ir_hash, "metrics": m.as_dict()} for op, m in rows], indent=2))
        return 0
    print(f"{'id':<8} {'family':<8} {'kind':<10} {'NMED':>10} {'ER':>7}  parameters")
    for op, m in rows:
        params = " ".join(f"{k}={v}" for k, v in op.params.items())
        sampled = "" if m.exhaustive else "  (sampled)"
        print(f"{op.id:<8} {op.family:<8} {op.kind:<10} {m.NMED:>10.4e} {m.ER:>7.4f}  {params}{sampled}")
    return 0


def cmd_show(args) -> int:
    for op in _operators(args, allow_all=False):
        m = op.metrics()
        counts = ", ".join(f"{k} {v}" for k, v in sorted(op.graph.op_counts().items()))
        print(f"{op.id}: {op.width}-bit {op.kind}, family {op.family}")
        print("parameters: " + (" ".join(f"{k}={v}" for k, v in op.params.items()) or "-"))
        print(f"ports: a signed [{op.width - 1}:0], b signed [{op.width - 1}:0] -> y signed [{op.out_width - 1}:0]")
        print(f"IR: {len(op.graph.nodes)} nodes ({counts}); hash {op.ir_hash}")
        if op.structure:
            print("structure:\n  " + op.structure.replace("\n", "\n  "))
        how = "exhaustive" if m.exhaustive else f"{m.pairs} samples, seed {m.seed}"
        print(f"metrics ({how}): " + "  ".join(f"{k} {_fmt(k, getattr(m, k))}" for k in NAMES))
    return 0


def _fmt(name: str, value) -> str:
    return {"ER": f"{value:.4f}", "ME": f"{value:+.4f}", "MED": f"{value:.4f}", "WCE": f"{value}"}.get(name, f"{value:.4e}")


def cmd_gen_lut(args) -> int:
    ops = _operators(args)
    for op in ops:  # every check before the first file is written
        if op.width != lut.LUT_WIDTH:
            raise OpmodelsError(f"{op.id} has {op.width}-bit operands; lookup tables exist for 8-bit operators only")
    directory = prepare_directory(args.output)
    start = time.perf_counter()
    formats = ("npy", "c") if args.format == "c" else ("npy",)
    for op in ops:
        artifacts.write_lut(op, directory, formats)
    print(f"wrote {len(ops)} table(s) to {directory}/ in {time.perf_counter() - start:.2f} s")
    return 0


def cmd_metrics(args) -> int:
    records = []
    for op in _operators(args):
        records.append((op, op.metrics(samples=args.samples, seed=args.seed)))
    if args.json:
        print(json.dumps({op.id: m.as_dict() for op, m in records}, indent=2))
        return 0
    print(f"{'id':<10} {'ER':>7} {'ME':>11} {'MED':>11} {'NMED':>11} {'MRED':>11} {'WCE':>8}  pairs")
    for op, m in records:
        how = "all" if m.exhaustive else f"{m.pairs} sampled, seed {m.seed}"
        print(f"{op.id:<10} {m.ER:>7.4f} {m.ME:>+11.4f} {m.MED:>11.4f} {m.NMED:>11.4e} {m.MRED:>11.4e} "
              f"{m.WCE:>8}  {m.pairs} ({how})")
    return 0


def cmd_cost(args) -> int:
    from . import cost

    if args.verilog:
        return _cost_of_verilog_file(args)
    ops = _operators(args)
    if args.samples < 2:
        raise OpmodelsError(f"--samples must be at least 2, not {args.samples}")
    start = time.perf_counter()
    wanted = {op.id: op for op in ops}
    for op in ops:  # the exact baselines are costed too, for the relative columns
        wanted.setdefault(cost.baseline_id(op), catalog.get(cost.baseline_id(op)))
    if args.jobs < 1:
        raise OpmodelsError(f"--jobs must be at least 1, not {args.jobs}")
    operands = cost.load_trace(args.trace) if args.trace else None

    def one(op):
        return cost.cost(op, operands, samples=args.samples, seed=args.seed, use_cache=not args.no_cache,
                         flow=args.flow)

    from concurrent.futures import ThreadPoolExecutor  # Yosys runs in subprocesses: threads suffice
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {op_id: pool.submit(one, op) for op_id, op in wanted.items()}
        try:
            results = {op_id: future.result() for op_id, future in _progress(list(futures.items()), "cost")}
        except BaseException:  # the first error ends the run, without waiting for the queue
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    elapsed = time.perf_counter() - start
    records = []
    for op in ops:
        c, base = results[op.id], results[cost.baseline_id(op)]
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
    from . import cost

    if args.ids or getattr(args, "all", False):
        raise OpmodelsError("give operator ids or --verilog FILE, not both")
    try:
        text = open(args.verilog, encoding="utf-8", errors="replace").read()
    except OSError as error:
        raise OpmodelsError(f"cannot read {args.verilog!r}: {error.strerror}") from None
    netlist = cost.synthesize(text, args.top, name=args.verilog, flow=args.flow)
    record = {"file": args.verilog, "cells": netlist.cell_counts(), "n_cells": len(netlist.gates),
              "area_nand2": netlist.area(), "depth": netlist.depth(), "tool": netlist.tool}
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        kinds = " ".join(f"{k} {v}" for k, v in record["cells"].items())
        print(f"{args.verilog}: {record['n_cells']} cells, area {record['area_nand2']:.2f} NAND2, "
              f"depth {record['depth']} ({kinds}; {netlist.tool}; not checked against a model)")
    return 0


def cmd_gen_verilog(args) -> int:

    ops = _operators(args)
    directory = prepare_directory(args.output)
    start = time.perf_counter()
    for op in _progress(ops, "gen-verilog"):
        artifacts.write_verilog(op, directory)
    print(f"wrote {len(ops)} Verilog module(s) to {directory}/ in {time.perf_counter() - start:.2f} s")
    return 0


def cmd_verify(args) -> int:
    from .verify import cli_verify  # cocotb is imported only when a bench runs
    return cli_verify(args, _operators)


def _progress(items, desc):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm comes with the extras, the core does not need it
        return items
    return tqdm(items, desc=desc, unit="op", file=sys.stderr, disable=len(items) < 4)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="opmodels", description="Approximate arithmetic operators: catalog, LUTs, metrics.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    byo = _Parser(add_help=False)
    byo.add_argument("--from", dest="from_", action="append", metavar="MODULE:ATTR",
                     help="load a user operator (an Operator or a function returning one) and register it")

    def add(name, func, help, ids=True, all_ids=None):
        sub = commands.add_parser(name, help=help, parents=[byo])
        sub.set_defaults(func=func, all_ids=all_ids)
        if ids:
            sub.add_argument("ids", nargs="*", metavar="ID", help="operator ids, e.g. M4P8, LOA8, M4P20W16")
        if all_ids:
            sub.add_argument("--all", action="store_true", help="every operator this command applies to")
        return sub

    sub = add("list", cmd_list, "every catalog operator with its family, parameters, NMED and ER", ids=False)
    sub.add_argument("--json", action="store_true")
    add("show", cmd_show, "parameters, structure and error metrics of an operator")
    sub = add("gen-lut", cmd_gen_lut, "write 256x256 lookup tables of 8-bit operators",
              all_ids=lambda: ["EXACT", *catalog.multipliers_8bit()])
    sub.add_argument("-o", "--output", default="luts", help="output directory (default: luts)")
    sub.add_argument("--format", choices=lut.FORMATS, default="npy", help="npy (+json), or c: also a C header")
    sub = add("metrics", cmd_metrics, "ER ME MED NMED MRED WCE (exhaustive for 8-bit, else sampled)",
              all_ids=catalog.catalog_ids)
    sub.add_argument("--samples", type=int, default=None, help="sample this many uniform pairs")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--json", action="store_true")
    sub = add("cost", cmd_cost, "area (NAND2 equivalents), depth and switching energy from Yosys synthesis",
              all_ids=catalog.catalog_ids)
    sub.add_argument("--csv", action="store_true", help="comma-separated values")
    sub.add_argument("--json", action="store_true")
    sub.add_argument("--samples", type=int, default=65536,
                     help="uniform random operand pairs for the energy figures (default 65536)")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--trace", metavar="FILE",
                     help="operand pairs for the energy figures: .npz with arrays a and b, or .npy of shape (N, 2)")
    sub.add_argument("--no-cache", action="store_true", help="synthesise again, ignoring the cache")
    sub.add_argument("--flow", choices=("fast", "abc"), default="fast",
                     help="ABC mapping: fast (structural, the default) or abc (full optimisation)")
    sub.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1),
                     help="Yosys runs at once (default: 2, or 1 on a single core)")
    sub.add_argument("--verilog", metavar="FILE", help="cost a Verilog file of your own (area and depth)")
    sub.add_argument("--top", help="top module of --verilog FILE (default: the only one, or Yosys's choice)")
    sub = add("gen-verilog", cmd_gen_verilog, "write Verilog-2005 modules opm_<id> (a, b, y) to <ID>.v",
              all_ids=catalog.catalog_ids)
    sub.add_argument("-o", "--output", default="rtl/generated", help="output directory (default: rtl/generated)")
    sub = add("verify", cmd_verify, "simulate the Verilog of operators (cocotb + Icarus) against the model",
              all_ids=catalog.catalog_ids)
    from .verify import add_arguments as add_verify_arguments
    add_verify_arguments(sub)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if not hasattr(args, "ids"):
            args.ids = []
        return args.func(args)
    except OpmodelsError as error:
        print(f"opmodels: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `opmodels list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
