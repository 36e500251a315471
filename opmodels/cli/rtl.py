"""Commands about hardware: ``gen-verilog`` (the generated modules) and ``verify`` (cocotb + Icarus
against the model, see docs/rtl.md). The verification API takes operators; ids are resolved here."""
from __future__ import annotations

import json
import time

from .. import artifacts, verification
from ..catalog import catalog_ids
from ..errors import OpmodelsError
from ..files import clean_temporaries, prepare_directory
from .common import MAX_JOBS, MAX_SEED, integer, operators, progress, resolve, shown


def cmd_gen_verilog(args) -> int:
    ops = operators(args)
    directory = prepare_directory(args.output, [f"{op.id}.v" for op in ops], option="-o")
    clean_temporaries(directory)  # of a run that was killed
    start = time.perf_counter()
    for op in progress(ops, "gen-verilog"):
        artifacts.write_verilog(op, directory)
    print(f"wrote {len(ops)} Verilog module(s) to {directory}/ in {time.perf_counter() - start:.2f} s")
    return 0


def _vectors(text: str) -> int | None:
    """``--vectors``: default/all (None: every pair up to 8 + 8 bits, else 200,000 random) or a count."""
    if text in ("default", "all"):
        return None
    if not (text.isascii() and text.isdigit() and 0 < int(text) <= verification.MAX_VECTORS):
        raise OpmodelsError(f"--vectors takes an integer in 1..{verification.MAX_VECTORS:,} or 'all', "
                            f"not {shown(text)}")
    return int(text)


def _params(items) -> dict:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier() or not value.lstrip("-").isdigit():
            raise OpmodelsError(f"--param takes NAME=INTEGER, not {shown(item)}")
        params[name] = int(value)
    return params


def cmd_verify(args) -> int:
    """Exit 0 when every operator matches, 1 when one does not."""
    ops = operators(args)
    verification.require_simulator(args.sim)
    vectors = _vectors(args.vectors)
    if args.verilog and len(ops) != 1:
        raise OpmodelsError("--verilog checks one module against one operator; name exactly one id")
    params = _params(args.param)
    ports = (args.port_a, args.port_b, args.port_y)
    unused = [option for option, given in (("--top", args.top), ("--param", args.param),
                                           ("--port-a/--port-b/--port-y", ports != verification.PORTS))
              if given]
    if unused and not args.verilog:
        raise OpmodelsError(f"{unused[0]} applies to a --verilog FILE of your own; give --verilog too")
    # The build directories (<keep>/<ID>...) are checked and made by the verification functions.
    keep = prepare_directory(args.keep, option="--keep") if args.keep is not None else None

    start = time.perf_counter()
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
                                       work_dir=keep / ops[0].id if keep else None)]
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
    sub.add_argument("--verilog", action="append", metavar="FILE",
                     help="check your own RTL instead of the generated module (repeat for several files)")
    sub.add_argument("--top", help="the module to check in --verilog files")
    sub.add_argument("--port-a", default="a", help="name of the multiplicand / first operand port (default a)")
    sub.add_argument("--port-b", default="b", help="name of the multiplier / second operand port (default b)")
    sub.add_argument("--port-y", default="y", help="name of the result port (default y)")
    sub.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a Verilog parameter of the --top module, e.g. --param L=8")
    sub.add_argument("--vectors", default="default",
                     help="8-bit: every pair; wider: this many seeded random pairs plus corners (default 200000)")
    sub.add_argument("--seed", type=integer(0, MAX_SEED), default=0, help="seed of the random vectors (default 0)")
    sub.add_argument("-j", "--jobs", type=integer(1, MAX_JOBS), default=1, help="operators simulated in parallel (default 1)")
    sub.add_argument("--sim", default="icarus", help="simulator (icarus)")
    sub.add_argument("--keep", metavar="DIR", help="build in DIR/<ID> and keep the build and logs")
    sub.add_argument("--mac", metavar="ADDER", help="instead, run the clocked MAC (opm_mac.v, shipped with opmodels) "
                     "with this adder, e.g. LOA8: random streams of products, checked against spec section 8")
    sub.add_argument("--mac-rtl", choices=("generated", "handwritten"), default="generated",
                     help="MAC built from the generated modules or the hand-written ones (exact multiplier only)")
    sub.add_argument("--streams", type=integer(1, verification.MAX_MAC_PRODUCTS), default=20, help="MAC: number of streams (default 20)")
    sub.add_argument("-k", type=integer(1, verification.MAX_MAC_PRODUCTS), default=64, help="MAC: products per stream (default 64)")
    sub.add_argument("--json", action="store_true", help="print the results as JSON")
