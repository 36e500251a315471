"""Commands about hardware: ``gen-verilog`` (the generated modules) and ``verify`` (cocotb + Icarus
against the model, see docs/rtl.md). The verification API takes operators; ids are resolved here."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .. import artifacts, tools, verification
from ..catalog import catalog_ids
from ..errors import OpmodelsError
from ..files import clean_temporaries, prepare_directory
from .common import MAX_JOBS, MAX_SEED, integer, operators, progress, proof_vectors, resolve, shown


def cmd_gen_verilog(args) -> int:
    ops = operators(args)
    directory = prepare_directory(args.output, [f"{op.id}.v" for op in ops], option="-o")
    clean_temporaries(directory)  # of a run that was killed
    start = time.perf_counter()
    for op in progress(ops, "gen-verilog"):
        artifacts.write_verilog(op, directory)
    print(f"wrote {len(ops)} Verilog module(s) to {directory}/ in {time.perf_counter() - start:.2f} s")
    return 0


def assignments(items, option: str) -> dict:
    """``NAME=INTEGER`` values of a repeated option (``--param``, ``--tie``)."""
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier() or not value.lstrip("-").isdigit():
            raise OpmodelsError(f"{option} takes NAME=INTEGER, not {shown(item)}")
        values[name] = int(value)
    return values


def _params(items) -> dict:
    return assignments(items, "--param")


def ids_after_files(args) -> None:
    """``--verilog`` takes several files, so in ``--verilog mine.v M4P8`` the id lands among them: an
    entry that is no file but an operator id (built-in or registered) moves back to the ids."""
    files = []
    for entry in args.verilog or []:
        if not os.path.exists(entry) and not entry.endswith((".v", ".sv", ".vh")) and "/" not in entry:
            try:
                resolve(args, entry)
            except OpmodelsError:
                pass
            else:
                args.ids.append(entry)
                continue
        files.append(entry)
    args.verilog = files


def _keep_directory(text):
    """``--keep DIR``: checked here, made by the verification once the RTL passed its checks (a refused
    module writes nothing). Relative to the current directory."""
    if text is None:
        return None
    if not text.strip():
        raise OpmodelsError(f"--keep needs a directory name, not {text!r}")
    path = Path(text).resolve()
    if path.exists() and not path.is_dir():
        raise OpmodelsError(f"--keep {text!r} is a file, not a directory")
    return path


def cmd_verify(args) -> int:
    """Exit 0 when every operator matches, 1 when one does not."""
    ids_after_files(args)
    ops = operators(args)
    verification.require_simulator(args.sim)
    vectors = proof_vectors(args.vectors)
    if args.verilog and len(ops) != 1:
        raise OpmodelsError("--verilog checks one module against one operator; name exactly one id")
    params, ties = _params(args.param), assignments(args.tie, "--tie")
    ports = (args.port_a, args.port_b, args.port_y)
    unused = [option for option, given in (("--top", args.top), ("--param", args.param), ("--clock", args.clock),
                                           ("--latency", args.latency), ("--hold", args.hold), ("--tie", args.tie),
                                           ("--port-a/--port-b/--port-y", ports != verification.PORTS))
              if given]
    if unused and not args.verilog:
        raise OpmodelsError(f"{unused[0]} applies to a --verilog FILE of your own; give --verilog too")
    keep = _keep_directory(args.keep)

    start = time.perf_counter()
    with tools.ends_children_on_sigterm():  # `kill` leaves no simulator running
        if args.mac:
            if args.verilog:
                raise OpmodelsError("--mac checks the MAC shipped with opmodels (opm_mac.v); it does not take --verilog")
            adder = resolve(args, args.mac)
            results = [verification.verify_mac(op, adder, rtl=args.mac_rtl, streams=args.streams, k=args.k,
                                               seed=args.seed, sim=args.sim,
                                               work_dir=keep / f"{op.id}-mac" if keep else None)
                       for op in ops]
        elif args.verilog or len(ops) == 1:
            results = [verification.verify(ops[0], verilog=args.verilog, top=args.top, ports=ports, params=params,
                                           vectors=vectors, seed=args.seed, sim=args.sim,
                                           work_dir=keep / ops[0].id if keep else None, clock=args.clock,
                                           latency=args.latency or 0, hold=args.hold, ties=ties, progress=True)]
        else:
            results = verification.verify_catalog(ops, jobs=args.jobs, vectors=vectors, seed=args.seed, sim=args.sim,
                                                  keep=keep)
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps({"seconds": elapsed, "results": [r.__dict__ for r in results]}, indent=2))
    else:
        _report(results, elapsed, mac=bool(args.mac))
    return 0 if all(r.passed for r in results) else 1


def _report(results, elapsed: float, mac: bool) -> None:
    units = ("products", "mismatching streams") if mac else ("vectors", "mismatches")
    for r in results:
        status = "ok" if r.passed else "MISMATCH"
        print(f"{r.operator:<9} {r.top:<16} {r.vectors:>8} {units[0]}  {r.mismatches:>6} {units[1]}  "
              f"bench {r.seconds:6.2f} s  {status}")
        if r.counterexamples:
            if mac:
                print("  first differing streams (stream, expected acc, got acc):")
                for example in r.counterexamples[:5]:
                    print("    " + " ".join(map(str, example)))
            else:
                print("  first counterexamples (a, b, expected, got):")
                for a, b, want, got in r.counterexamples[:5]:
                    print(f"    a={a} b={b} expected={want} got={'x' if got is None else got}")
        if r.note:
            print(f"  {r.note}")
        if not r.passed and r.log:
            print(f"  log: {r.log}")
    total = sum(r.vectors for r in results)
    bad = sum(not r.passed for r in results)
    print(f"{len(results)} operator(s), {total} vectors, {bad} with mismatches, {elapsed:.1f} s")


def add_commands(commands) -> None:
    sub = commands.add("gen-verilog", cmd_gen_verilog, "write Verilog-2005 modules opm_<id> (a, b, y) to <ID>.v",
                       all_ids=catalog_ids)
    sub.add_argument("-o", "--output", default="rtl/generated", help="output directory (default: rtl/generated)")
    sub = commands.add("verify", cmd_verify, "simulate the Verilog of operators (cocotb + Icarus) against the model",
                       all_ids=catalog_ids)
    sub.add_argument("--verilog", action="extend", nargs="+", metavar="FILE",
                     help="check your own RTL instead of the generated module (several files, or repeat the option)")
    sub.add_argument("--top", help="the module to check in --verilog files")
    sub.add_argument("--port-a", default="a", help="name of the multiplicand / first operand port (default a)")
    sub.add_argument("--port-b", default="b", help="name of the multiplier / second operand port (default b)")
    sub.add_argument("--port-y", default="y", help="name of the result port (default y)")
    sub.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a Verilog parameter of the --top module, e.g. --param L=8")
    sub.add_argument("--clock", metavar="PORT", help="a clocked (pipelined) module: its clock input, driven by the bench")
    sub.add_argument("--latency", type=integer(1, verification.MAX_LATENCY), metavar="N",
                     help="with --clock: clock edges from the operands to the result (a pair is fed every cycle)")
    sub.add_argument("--hold", action="store_true",
                     help="with --clock: hold each pair for N edges instead of feeding one per cycle (a multi-cycle unit)")
    sub.add_argument("--tie", action="append", default=[], metavar="NAME=VALUE",
                     help="tie another input of the module to a constant, e.g. --tie rst=0 --tie en=1")
    sub.add_argument("--vectors", default="default",
                     help="8-bit: every pair; wider: this many seeded random pairs plus corners (default 200000)")
    sub.add_argument("--seed", type=integer(0, MAX_SEED), default=0, help="seed of the random vectors (default 0)")
    sub.add_argument("-j", "--jobs", type=integer(1, MAX_JOBS), default=1, help="operators simulated in parallel (default 1)")
    sub.add_argument("--sim", default="icarus", help="simulator (icarus)")
    sub.add_argument("--keep", metavar="DIR", help="build in DIR/<ID> and keep the build and logs (relative to the "
                     "current directory)")
    sub.add_argument("--mac", metavar="ADDER", help="instead, run the clocked MAC (opm_mac.v, shipped with opmodels) "
                     "with this adder, e.g. LOA8: random streams of products, checked against spec section 8")
    sub.add_argument("--mac-rtl", choices=("generated", "handwritten"), default="generated",
                     help="MAC built from the generated modules or the hand-written ones (exact multiplier only)")
    sub.add_argument("--streams", type=integer(1, verification.MAX_MAC_PRODUCTS), default=20, help="MAC: number of streams (default 20)")
    sub.add_argument("-k", type=integer(1, verification.MAX_MAC_PRODUCTS), default=64, help="MAC: products per stream (default 64)")
    sub.add_argument("--json", action="store_true", help="print the results as JSON")
