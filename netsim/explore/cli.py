"""Command line of the explorations: ``netsim resilience | dse | search | report``.

:func:`add_subcommands` adds them to netsim's own parser; ``python -m netsim.explore`` runs them alone.
"""
from __future__ import annotations

import json
import sys
import time

from opmodels.errors import OpmodelsError
from opmodels.files import prepare_directory, write_atomic

from .. import options
from ..errors import NetsimError
from .cost import describe
from ..coverage import coverage_line

COMMANDS = ("resilience", "dse", "search", "report")


def _common(parser):
    parser.add_argument("model", help="zoo model name, e.g. lenet5")
    parser.add_argument("--weights", required=True, type=options.nonempty,
                        help="checkpoint written by `netsim train`")
    parser.add_argument("--dataset", default=None, type=options.nonempty,
                        help="dataset (default: the model's, mnist5k for lenet5)")
    parser.add_argument("-o", "--out", default="out", type=options.output_directory,
                        help="output directory (default: out)")
    parser.add_argument("--cache", default=None, type=options.output_directory,
                        help="result cache directory (default: OUT/cache)")
    parser.add_argument("--executor", default="local", choices=("local", "ray", "dask"))
    parser.add_argument("--address", default=None, help="Ray or Dask scheduler address")
    parser.add_argument("--workers", type=options.count(1, options.MAX_THREADS), default=None,
                        help="local worker processes (default: 2 on 2+ cores)")
    parser.add_argument("--threads", type=options.threads, default=1, help="compute threads per worker (default 1)")
    parser.add_argument("--test-limit", type=options.count(), default=None,
                        help="evaluate on the first N test samples only")
    parser.add_argument("--job-timeout", type=options.number(0, 7 * 24 * 3600, low_open=True), default=None,
                        help="seconds one point may take on the local executor (default: no limit)")
    parser.add_argument("--tolerance", type=options.fraction, default=0.0,
                        help="accuracy loss (fraction) still counted as lossless (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("resilience", help="accuracy versus approximation degree, whole network and per layer")
    _common(p)
    p.add_argument("--technique", default="all",
                   help="w_bits, a_bits, multiplier, adder, a comma list, or all (default)")
    p.add_argument("--scope", default="network,layers", help="network, layers or both (default)")
    p.add_argument("--logics", default="1-6", help="multiplier logics M.. to sweep (default 1-6)")
    p.add_argument("--block", action="append", default=[], metavar="NAME=GLOB",
                   help="also approximate a block of layers alone, e.g. --block FB='fc*' (repeatable)")
    p.set_defaults(func=_command(cmd_resilience))

    p = subparsers.add_parser("dse", help="every multiplier on the network: accuracy, cost, Pareto front, optimum")
    _common(p)
    p.add_argument("--multipliers", default="M1-M6,P2-P14", help="'M1-M6,P2-P14' (default) or a list 'M4P8,M2P14'")
    p.add_argument("--finetune-epochs", type=options.count(0, options.MAX_EPOCHS), default=0,
                   help="fine-tuning epochs per multiplier (default 0)")
    p.add_argument("--gradient", default="ste", choices=("ste", "lut"),
                   help="fine-tuning gradient: ste (exact product) or lut (finite differences of the LUT)")
    p.add_argument("--lr", type=options.lr, default=1e-4, help="fine-tuning learning rate (default 1e-4)")
    p.add_argument("--finetune-samples", type=options.count(), default=None,
                   help="fine-tune on the first N training samples (default: all)")
    p.set_defaults(func=_command(cmd_dse))

    p = subparsers.add_parser("search", help="per-layer mixed multiplier assignment (NSGA-II)")
    _common(p)
    p.add_argument("--min-accuracy", type=options.accuracy, required=True, help="accuracy floor, e.g. 0.97")
    p.add_argument("--choices", default="exact,M1-M6,P2-P14", help="'exact,M1-M6,P2-P14' (default) or a list")
    p.add_argument("--trials", type=options.count(), default=48)
    p.add_argument("--population", type=options.count(2), default=12)
    p.add_argument("--seed", type=options.seed, default=0)
    p.set_defaults(func=_command(cmd_search))

    p = subparsers.add_parser("report", help="assemble the sweeps in a directory into report.md and report.html")
    p.add_argument("directory", nargs="?", default="out", type=options.nonempty)
    p.set_defaults(func=_command(cmd_report))


def _setup(args):
    from .executor import ResultCache
    from .jobs import ModelSpec
    from .sweeps import Run
    # the counts and fractions were checked by their argparse types; the model, its weights and the
    # dataset are checked before the output directory is created, so a refused run writes nothing
    spec = ModelSpec.of(args.model, args.weights, args.dataset)  # checks the data against the model too
    out = prepare_directory(args.out)
    run = Run(cache=ResultCache(args.cache or out / "cache"), executor=args.executor, workers=args.workers,
              threads=args.threads, address=args.address, progress=not args.no_progress,
              test_limit=args.test_limit, job_timeout=args.job_timeout)
    return out, spec, run


def _parse_logics(text: str) -> tuple:
    try:
        if "-" in text:
            low, high = (int(v.strip().lstrip("Mm")) for v in text.split("-"))
            logics = tuple(range(low, high + 1))
        else:
            logics = tuple(int(v.strip().lstrip("Mm")) for v in text.split(","))
    except ValueError:
        raise NetsimError(f"--logics must look like '1-6' or '1,4', not {text!r}") from None
    if not logics or any(m not in range(1, 7) for m in logics):
        raise NetsimError(f"--logics must name logics among 1..6, not {text!r}")
    return logics


def cmd_resilience(args) -> None:
    from . import plots
    from .outputs import write_table
    from .sweeps import TECHNIQUES, resilience
    techniques = TECHNIQUES if args.technique == "all" else tuple(t.strip() for t in args.technique.split(","))
    for technique in techniques:
        if technique not in TECHNIQUES:
            raise NetsimError(f"--technique must be among {', '.join(TECHNIQUES)} or all, not {technique!r}")
    scopes = tuple(s.strip() for s in args.scope.split(","))
    for scope in scopes:
        if scope not in ("network", "layers"):
            raise NetsimError(f"--scope must be network, layers or both, not {scope!r}")
    blocks = {}
    for text in args.block:
        name, sep, pattern = text.partition("=")
        if not sep or not name or not pattern:
            raise NetsimError(f"--block must look like NAME=GLOB (e.g. FB='fc*'), not {text!r}")
        blocks[name] = pattern
    logics = _parse_logics(args.logics)
    out, spec, run = _setup(args)
    start = time.perf_counter()
    result = resilience(spec, techniques, scopes, run, args.tolerance, logics, blocks=blocks)
    elapsed = time.perf_counter() - start
    summary = {"table": result["table"], "noise": result["noise"], "tolerance": args.tolerance,
               "layers": result["layers"], "baseline": result["baseline"], "seconds": round(elapsed, 1),
               "coverage": result["coverage"]}
    write_table(out, "resilience", result["rows"], summary=summary)
    write_table(out, "resilience_lossless", result["table"])
    for technique in techniques:
        plots.resilience_plot(result, technique, out / f"resilience_{technique}.png")
    if "layers" in scopes:
        plots.lossless_plot(result, out / "resilience_lossless.png")
    _print_lossless(result)
    print(coverage_line(result["coverage"]))
    print(f"resilience: {len(result['rows']) + 1} points in {elapsed:.1f} s -> {out}/resilience.csv")


def _print_lossless(result) -> None:
    noise = result["noise"]
    print(f"baseline {100 * noise['baseline_accuracy']:.2f}% on {noise['samples']} samples, "
          f"binomial SE {100 * noise['binomial_se']:.2f} points")
    for row in result["table"]:
        label = f"{row['technique']} {row['logic']}".strip()
        print(f"  {row['scope']:>8}  {label:<14} lossless degree: {row['lossless_degree']}")


def cmd_dse(args) -> None:
    from . import plots
    from .outputs import write_table
    from .sweeps import dse, parse_multipliers
    multipliers = parse_multipliers(args.multipliers)
    out, spec, run = _setup(args)
    finetune = {"epochs": args.finetune_epochs, "gradient": args.gradient, "lr": args.lr} \
        if args.finetune_epochs else None
    if finetune and args.finetune_samples:
        finetune["samples"] = args.finetune_samples
    start = time.perf_counter()
    result = dse(spec, multipliers, run, finetune, args.tolerance)
    elapsed = time.perf_counter() - start
    result["summary"]["seconds"] = round(elapsed, 1)
    stem = "dse" if args.gradient == "ste" or not finetune else "dse_lut"
    write_table(out, stem, result["rows"], summary=result["summary"])
    plots.dse_plot(result, out / f"{stem}.png")
    summary = result["summary"]
    print(f"baseline {100 * summary['baseline_accuracy']:.2f}%, cost: {describe(summary['cost_source'])}")
    print(coverage_line(summary["coverage"]))
    for row in result["rows"]:
        after = f"  fine-tuned {100 * row['accuracy_finetuned']:.2f}%" if "accuracy_finetuned" in row else ""
        print(f"  {row['multiplier']:>6}  area {row['relative_area']:.3f}  accuracy {100 * row['accuracy']:.2f}%{after}")
    for stage in ("before", "after"):
        best = summary.get(f"optimum_{stage}", "absent")
        if best != "absent":
            print(f"optimum {stage} fine-tuning: " + (
                f"{best['multiplier']} ({100 * best['accuracy']:.2f}%, area saving "
                f"{100 * best['area_saving']:.1f}%)" if best else "none is lossless"))
    print(f"dse: {len(multipliers)} multipliers in {elapsed:.1f} s -> {out}/{stem}.csv")


def cmd_search(args) -> None:
    from . import plots
    from .outputs import write_table
    from .search import assignment_config, search
    choices = _parse_choices(args.choices)
    out, spec, run = _setup(args)
    start = time.perf_counter()
    result = search(spec, choices, args.min_accuracy, run, args.trials, args.population, args.seed)
    elapsed = time.perf_counter() - start
    result["summary"]["seconds"] = round(elapsed, 1)
    configs = prepare_directory(out / "search_configs")
    for index, point in enumerate(result["front"]):
        point["config"] = f"search_configs/point{index}.toml"
        write_atomic(configs / f"point{index}.toml", assignment_config(point["assignment"]).to_toml())
    rows = [{"trial": t["trial"], "accuracy": t["accuracy"], "cost": t["cost"], "feasible": t["feasible"],
             **t["assignment"]} for t in result["trials"]]
    write_table(out, "search_trials", rows)
    write_table(out, "search", [{"point": i, "accuracy": p["accuracy"], "cost": p["cost"], "config": p["config"],
                                 **p["assignment"]} for i, p in enumerate(result["front"])],
                summary=result["summary"])
    # the report reads the front with its assignments
    data = json.loads((out / "search.json").read_text())
    data.update({"front": result["front"]})
    write_atomic(out / "search.json", json.dumps(data, indent=1))
    plots.search_plot(result, out / "search.png")
    for index, point in enumerate(result["front"]):
        print(f"  point{index}: accuracy {100 * point['accuracy']:.2f}%  cost {point['cost']:.3f}  "
              + " ".join(f"{k}={v}" for k, v in point["assignment"].items()))
    print(f"search: {len(result['trials'])} trials in {elapsed:.1f} s -> {out}/search.csv, {configs}/")


def _parse_choices(text: str) -> list:
    """``--choices``: 'exact' and the multiplier ids or ranges of ``--multipliers``; its errors name
    --choices (parse_multipliers names --multipliers, the option of dse)."""
    from .sweeps import parse_multipliers
    parts = [c.strip() for c in text.split(",")]
    exact = ["exact"] if len(parts) > 1 and any(c.lower() == "exact" for c in parts) else []
    rest = ",".join(c for c in parts if c.lower() != "exact") if len(parts) > 1 else text
    try:
        return exact + parse_multipliers(rest)
    except NetsimError as error:
        message = str(error).replace("--multipliers", "--choices", 1)
        raise NetsimError(message.replace(f"--choices {rest!r}", f"--choices {text!r}", 1)) from None


def cmd_report(args) -> None:
    from .report import write_report
    md, page = write_report(args.directory)
    print(f"report: {md} and {page}")


def _command(function):
    """Adapts a command to netsim's dispatcher: returns the exit status, explains how to resume."""
    def run(args) -> int:
        try:
            function(args)
        except KeyboardInterrupt:
            print("netsim: interrupted; finished points are cached, run the same command again to resume",
                  file=sys.stderr)
            return 130
        return 0
    return run


def main(argv=None) -> int:
    """``python -m netsim.explore``: the same commands without netsim's other ones."""
    parser = options.Parser(prog="netsim", description="netsim explorations")
    add_subcommands(parser.add_subparsers(dest="command", required=True, parser_class=options.Parser))
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except (NetsimError, OpmodelsError) as error:
        print(f"netsim: error: {error}", file=sys.stderr)
        return 2
