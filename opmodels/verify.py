"""RTL co-verification: simulate an operator's Verilog with cocotb on Icarus and compare with the model.

The cocotb checkers and HDL harnesses live in ``verification/`` at the repository root; this module
builds them (``cocotb_tools.runner``), runs them in a temporary build directory, and reads back the
summary the checker wrote. The vector sets and the comparison are defined here, so the checker and the
command line agree on them. cocotb is imported only inside the functions that run a simulation.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import catalog, interp
from .errors import OpmodelsError
from .files import write_atomic

BATCH = 65536           # vectors per harness run (the harness memory depth)
RANDOM_VECTORS = 200_000  # wider than 8 bits: this many seeded random pairs plus the corners
SIMULATORS = ("icarus",)
VERIFICATION_DIR = Path(__file__).resolve().parent.parent / "verification"
HANDWRITTEN_DIR = Path(__file__).resolve().parent.parent / "rtl" / "handwritten"
TIMESCALE = ("1ns", "1ps")
BENCH_DUTS = 8  # operators simulated together in one bench by verify_catalog


# -- vectors and comparison (shared with the cocotb checker) --------------------------------------
def corners(width: int) -> np.ndarray:
    """Extremes, small values, single bits and alternating patterns of a signed ``width``-bit operand."""
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    values = {low, low + 1, -2, -1, 0, 1, 2, high - 1, high}
    values |= {1 << k for k in range(width - 1)} | {-(1 << k) for k in range(width)}
    alternating = int("01" * width, 2) & ((1 << width) - 1)
    for pattern in (alternating, alternating ^ ((1 << width) - 1)):
        values.add(int(interp.to_signed(np.array([pattern], dtype=np.uint64), width)[0]))
    return np.array(sorted(values), dtype=np.int64)


def vectors_for(op, how: str = "default", seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, expected) as int64. Operators up to 8 bits: every pair (the LUT is the reference for
    8-bit multipliers). Wider: ``how`` (default 200,000) seeded uniform random pairs, then every pair
    of corner values, with the reference interpreter as the reference."""
    if op.width <= 8 and how in ("default", "all"):
        values = np.arange(-(1 << (op.width - 1)), 1 << (op.width - 1), dtype=np.int64)
        a, b = (x.ravel() for x in np.meshgrid(values, values, indexing="ij"))
        if op.kind == "multiplier" and op.width == 8:
            expected = op.lut().astype(np.int64)[a & 0xFF, b & 0xFF]
        else:
            expected = op.evaluate(a, b)
        return a, b, expected
    count = RANDOM_VECTORS if how in ("default", "all") else int(how)
    low, high = op.operand_range
    rng = np.random.default_rng(seed)
    edge = corners(op.width)
    a = np.concatenate([rng.integers(low, high, count, endpoint=True), np.repeat(edge, len(edge))])
    b = np.concatenate([rng.integers(low, high, count, endpoint=True), np.tile(edge, len(edge))])
    return a, b, op.evaluate(a, b)


def compare(op, a, b, expected, got: list, limit: int = 10) -> dict:
    """Compare result patterns read from the simulator (``None`` = x/z bits) with ``expected``."""
    if len(got) != len(expected):
        raise RuntimeError(f"the harness returned {len(got)} results for {len(expected)} vectors")
    unknown = np.array([g is None for g in got])
    patterns = np.array([0 if g is None else g for g in got], dtype=np.uint64)
    got_signed = interp.to_signed(patterns, op.out_width)
    bad = np.flatnonzero(unknown | (got_signed != expected))
    examples = [[int(a[i]), int(b[i]), int(expected[i]), None if unknown[i] else int(got_signed[i])]
                for i in bad[:limit]]
    return {"operator": op.id, "vectors": int(len(expected)), "mismatches": int(len(bad)),
            "counterexamples": examples}


def bench_operators() -> list:
    """The operators a checker runs for: ``OPM_OPERATORS``, after loading the ``OPM_FROM`` specs."""
    for spec in filter(None, os.environ.get("OPM_FROM", "").split(",")):
        catalog.load_from(spec)
    return [catalog.get(op_id) for op_id in os.environ["OPM_OPERATORS"].split(",")]


# -- running a bench ------------------------------------------------------------------------------
@dataclass
class Result:
    operator: str
    top: str
    vectors: int = 0
    mismatches: int = 0
    counterexamples: list = field(default_factory=list)
    seconds: float = 0.0
    log: str = ""

    @property
    def passed(self) -> bool:
        return self.vectors > 0 and self.mismatches == 0


def require_simulator(sim: str = "icarus") -> None:
    """Fail with a reason before cocotb's runner would exit the process."""
    if sim not in SIMULATORS:
        raise OpmodelsError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    for tool in ("iverilog", "vvp"):
        if shutil.which(tool) is None:
            raise OpmodelsError(f"{tool} (Icarus Verilog) is not on PATH; install it with "
                                "`apt-get install -y iverilog` (or scripts/setup.sh)")
    if not (VERIFICATION_DIR / "opm_comb_bench.py").is_file():
        raise OpmodelsError(f"the test benches are not at {VERIFICATION_DIR}; run from a source checkout "
                            "(pip install -e .)")


def _runner(sim: str):
    require_simulator(sim)
    if str(VERIFICATION_DIR) not in sys.path:  # the runner passes sys.path to the simulator's Python
        sys.path.append(str(VERIFICATION_DIR))
    from cocotb_tools.runner import get_runner
    return get_runner(sim)


def _compile_check(sources: list[Path], top: str, log: Path, defines: dict | None = None) -> None:
    """Compile the user's files alone first, so a syntax error or a missing top module is named."""
    import subprocess
    command = ["iverilog", "-g2012", "-o", os.devnull, "-s", top,
               *(f"-D{k}={v}" for k, v in (defines or {}).items()), *map(str, sources)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        log.write_text(result.stdout + result.stderr)
        first = next((line for line in (result.stdout + result.stderr).splitlines() if line.strip()), "")
        raise OpmodelsError(f"{', '.join(map(str, sources))} does not compile with top module {top!r}: "
                            f"{first.strip()} (full log: {log})")


def _run(runner, *, sources, top, test_module, extra_env, work: Path, log: Path, what: str,
         defines=None, parameters=None) -> None:
    """Build and run one bench; simulator output goes to ``log``, never to the terminal."""
    try:
        runner.build(sources=[str(s) for s in sources], hdl_toplevel=top, defines=defines or {},
                     parameters=parameters or {}, always=True, build_dir=work, timescale=TIMESCALE, log_file=log)
    except RuntimeError:
        lines = [line for line in log.read_text().splitlines() if "error" in line.lower()]
        raise OpmodelsError(f"the bench of {what} does not compile: "
                            f"{(lines or ['see the log'])[0].strip()} (full log: {log})") from None
    try:
        runner.test(test_module=test_module, hdl_toplevel=top, build_dir=work, test_dir=work,
                    extra_env=extra_env, results_xml=str(work / "results.xml"), log_file=log)
    except (RuntimeError, SystemExit):
        pass  # a failing check; the summary says what failed, a missing summary is reported below


@dataclass
class Dut:
    """One module under test in a bench: the operator it must equal, its sources and port names."""
    op: object
    module: str
    sources: list
    ports: tuple = ("a", "b", "y")
    params: dict = field(default_factory=dict)


def harness(duts: list[Dut]) -> str:
    """The Verilog of the combinational bench for DUTs that share one operand width.

    cocotb writes ``count`` vectors {a, b} to vectors.hex and toggles ``start``; the harness applies
    them to every DUT at once, one per time step, writes each DUT's results to results<i>.hex and
    toggles ``done``. Driving vectors from a memory keeps the simulator busy instead of paying
    cocotb's per-vector cost; the cocotb checker (verification/opm_comb_bench.py) compares."""
    width = duts[0].op.width
    lines = ["// opmodels combinational bench harness (generated by opmodels.verify.harness)",
             "module opm_comb_bench;",
             f"  localparam DEPTH = {BATCH};",
             "  reg start = 1'b0;", "  reg done = 1'b0;", "  reg [31:0] count = 32'd0;",
             f"  reg [{2 * width - 1}:0] vectors [0:DEPTH-1];",
             f"  reg signed [{width - 1}:0] a = 0;", f"  reg signed [{width - 1}:0] b = 0;", "  integer i;"]
    for i, dut in enumerate(duts):
        wy = dut.op.out_width
        params = f" #({', '.join(f'.{k}({v})' for k, v in dut.params.items())})" if dut.params else ""
        pa, pb, py = dut.ports
        lines += [f"  wire [{wy - 1}:0] y{i};", f"  reg [{wy - 1}:0] results{i} [0:DEPTH-1];",
                  f"  {dut.module}{params} dut{i} (.{pa}(a), .{pb}(b), .{py}(y{i}));  // {dut.op.id}"]
    lines += ["  always @(start) begin",
              '    $readmemh("vectors.hex", vectors, 0, count - 1);',
              "    for (i = 0; i < count; i = i + 1) begin",
              "      {a, b} = vectors[i];",
              "      #1;",
              *(f"      results{i}[i] = y{i};" for i in range(len(duts))),
              "    end",
              *(f'    $writememh("results{i}.hex", results{i}, 0, count - 1);' for i in range(len(duts))),
              "    done = ~done;",
              "  end",
              "endmodule"]
    return "\n".join(lines) + "\n"


def _loadable_specs(ops, from_specs) -> list[str]:
    """``--from`` specs the simulator's Python needs to find every operator by id."""
    specs = [*from_specs, *_FROM_SPECS]
    for op in ops:
        if not specs and (op.id in catalog._registered or not _in_catalog(op.id)):
            raise OpmodelsError(f"operator {op.id} is not in the catalog; the simulator's Python loads it with "
                                "--from MODULE:ATTR (verify(..., from_specs=[...]))")
    return specs


def _in_catalog(op_id: str) -> bool:
    try:
        catalog._from_id(op_id.upper())
        return True
    except OpmodelsError:
        return False


def verify_many(duts: list[Dut], work: Path, vectors: str = "default", seed: int = 0, sim: str = "icarus",
                limit: int = 10, from_specs=()) -> list[Result]:
    """Simulate several DUTs of one operand width in one bench built in ``work``; one Result per DUT."""
    runner = _runner(sim)
    if len({d.op.width for d in duts}) != 1:
        raise ValueError("the DUTs of one bench share one operand width")
    specs = _loadable_specs([d.op for d in duts], from_specs)
    log = work / "sim.log"
    bench = write_atomic(work / "opm_comb_bench.v", harness(duts))
    sources = list(dict.fromkeys(s for d in duts for s in d.sources))
    summary_path = work / "summary.json"
    summary_path.unlink(missing_ok=True)
    names = ", ".join(f"{d.module} ({d.op.id})" for d in duts)
    env = {"OPM_OPERATORS": ",".join(d.op.id for d in duts), "OPM_VECTORS": str(vectors), "OPM_SEED": str(seed),
           "OPM_SUMMARY": str(summary_path), "OPM_MAX_COUNTEREXAMPLES": str(limit), "OPM_FROM": ",".join(specs)}
    start = time.perf_counter()
    _run(runner, sources=[*sources, bench], top="opm_comb_bench", test_module="opm_comb_bench",
         extra_env=env, work=work, log=log, what=names)
    if not summary_path.is_file():
        raise OpmodelsError(f"the bench of {names} ended without a result; see {log}")
    elapsed = time.perf_counter() - start
    return [Result(s["operator"], d.module, s["vectors"], s["mismatches"], s["counterexamples"], elapsed, str(log))
            for d, s in zip(duts, json.loads(summary_path.read_text()))]


def _verify_in(work: Path, duts, keep: bool, **options) -> list[Result]:
    """Run in ``work``; unless ``keep``, remove it when every DUT passed (a failure keeps its log)."""
    results = verify_many(duts, work, **options)
    if all(r.passed for r in results) and not keep:
        shutil.rmtree(work, ignore_errors=True)
        for r in results:
            r.log = ""
    return results


def generated_dut(op, directory: Path) -> Dut:
    from . import artifacts
    return Dut(op, artifacts.module_name(op), [artifacts.write_verilog(op, directory)])


def _user_sources(verilog, top) -> list[Path]:
    sources = [Path(v).resolve() for v in ([verilog] if isinstance(verilog, (str, Path)) else verilog)]
    for source in sources:
        if not source.is_file():
            raise OpmodelsError(f"Verilog file {str(source)!r} does not exist")
    if not top:
        raise OpmodelsError("--verilog needs --top, the name of the module to check")
    return sources


def user_dut(op, verilog, top, ports=("a", "b", "y"), params=None, log_dir=None) -> Dut:
    """The user's module ``top`` in files ``verilog``, checked to compile and to have the ports."""
    sources = _user_sources(verilog, top)
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="opmodels-verify-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    _compile_check(sources, top, log_dir / "compile.log")
    from .hdl_interface import UnparsableVerilog, check_ports
    try:
        check_ports(sources, top, op, ports, params)
    except UnparsableVerilog:
        pass  # e.g. SystemVerilog that Icarus compiles: the harness's port connections check it instead
    return Dut(op, top, sources, tuple(ports), dict(params or {}))


def verify(op, verilog=None, top: str | None = None, ports=("a", "b", "y"), params: dict | None = None,
           vectors: str = "default", seed: int = 0, sim: str = "icarus", work_dir=None,
           limit: int = 10, from_specs=()) -> Result:
    """Simulate ``op``'s generated Verilog (or the user's ``verilog`` files with module ``top``) over
    the bench's vectors and compare every result with the model. ``work_dir`` keeps the build."""
    require_simulator(sim)
    op = catalog.get(op)
    if verilog:
        _user_sources(verilog, top)  # before a build directory exists
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"opmodels-verify-{op.id}-"))
    work.mkdir(parents=True, exist_ok=True)
    dut = user_dut(op, verilog, top, ports, params, work) if verilog else generated_dut(op, work)
    (result,) = _verify_in(work, [dut], keep=work_dir is not None, vectors=vectors, seed=seed, sim=sim,
                           limit=limit, from_specs=from_specs)
    return result


def verify_catalog(ops, jobs: int = 1, vectors: str = "default", seed: int = 0, sim: str = "icarus",
                   keep=None, progress: bool = True, from_specs=()) -> list[Result]:
    """Generated modules of many operators: grouped by operand width into benches of a few DUTs each,
    the benches run ``jobs`` at a time (the simulators are subprocesses, so threads suffice)."""
    require_simulator(sim)
    by_width: dict[int, list] = {}
    for op in ops:
        by_width.setdefault(op.width, []).append(op)
    per_bench = max(1, min(BENCH_DUTS, -(-len(ops) // (2 * jobs))))
    groups = [group[i:i + per_bench] for group in by_width.values() for i in range(0, len(group), per_bench)]

    def run(group):
        work = Path(keep) / f"{group[0].id}-{group[-1].id}" if keep else \
            Path(tempfile.mkdtemp(prefix=f"opmodels-verify-{group[0].id}-"))
        work.mkdir(parents=True, exist_ok=True)
        duts = [generated_dut(op, work) for op in group]
        return _verify_in(work, duts, keep=bool(keep), vectors=vectors, seed=seed, sim=sim, from_specs=from_specs)

    from concurrent.futures import ThreadPoolExecutor
    results: list[Result] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(ops), desc="verify", unit="op", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for group_results in pool.map(run, groups):
            results += group_results
            if bar is not None:
                bar.update(len(group_results))
    if bar is not None:
        bar.close()
    return results


def verify_mac(mul="EXACT", add="LOA0", rtl: str = "generated", streams: int = 20, k: int = 64, seed: int = 0,
               sim: str = "icarus", work_dir=None) -> Result:
    """Random streams of ``k`` products through the clocked MAC of ``rtl/handwritten/opm_mac.v``,
    built from the generated modules of ``mul`` and ``add`` (``rtl="generated"``) or from the
    hand-written ``opm_booth_r4`` (exact only) and ``opm_loa`` (``rtl="handwritten"``)."""
    from . import artifacts
    runner = _runner(sim)
    mul, add = catalog.get(mul), catalog.get(add)
    if mul.kind != "multiplier" or add.kind != "adder" or add.width < mul.out_width:
        raise OpmodelsError(f"a MAC needs a multiplier and an adder at least as wide as its product, "
                            f"not {mul.id} ({mul.kind}) and {add.id} ({add.kind}, {add.width} bits)")
    if rtl not in ("generated", "handwritten"):
        raise OpmodelsError(f"rtl must be 'generated' or 'handwritten', not {rtl!r}")
    if rtl == "handwritten" and (mul.family != "BoothR4" or mul.params.get("p") != 0 or add.family != "LOA"):
        raise OpmodelsError(f"the hand-written MAC has an exact Booth multiplier and a LOA; {mul.id} and {add.id} "
                            "are not (use --mac-rtl generated)")
    _loadable_specs([mul, add], ())
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"opmodels-mac-{mul.id}-{add.id}-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "sim.log"
    mac = HANDWRITTEN_DIR / "opm_mac.v"
    if rtl == "generated":
        sources = [artifacts.write_verilog(mul, work), artifacts.write_verilog(add, work), mac]
        defines = {"OPM_MAC_MUL": artifacts.module_name(mul), "OPM_MAC_ADD": artifacts.module_name(add)}
    else:
        sources = [HANDWRITTEN_DIR / "opm_booth_r4.v", HANDWRITTEN_DIR / "opm_loa.v", mac]
        defines = {"OPM_MAC_MUL": "opm_booth_r4", "OPM_MAC_MUL_PARAMS": f".N({mul.width})",
                   "OPM_MAC_ADD": "opm_loa", "OPM_MAC_ADD_PARAMS": f".W({add.width}),.L({add.params['l']})"}
    summary_path = work / "summary.json"
    env = {"OPM_MAC_MUL": mul.id, "OPM_MAC_ADD": add.id, "OPM_MAC_STREAMS": str(streams), "OPM_MAC_K": str(k),
           "OPM_SEED": str(seed), "OPM_SUMMARY": str(summary_path)}
    start = time.perf_counter()
    _run(runner, sources=sources, top="opm_mac", test_module="opm_mac_bench", extra_env=env, work=work, log=log,
         what=f"the MAC with {mul.id} and {add.id}", defines=defines,
         parameters={"N": mul.width, "W": add.width})
    if not summary_path.is_file():
        raise OpmodelsError(f"the MAC bench for {mul.id} + {add.id} ended without a result; see {log}")
    summary = json.loads(summary_path.read_text())
    result = Result(summary["operator"], f"opm_mac ({rtl})", summary["vectors"], summary["mismatches"],
                    summary["counterexamples"], time.perf_counter() - start, str(log))
    if result.passed and work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
        result.log = ""
    return result


_FROM_SPECS: list[str] = []  # --from specs of this command, loaded again by the simulator's Python


# -- command line ---------------------------------------------------------------------------------
def add_arguments(sub) -> None:
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
    sub.add_argument("--seed", type=int, default=0, help="seed of the random vectors (default 0)")
    sub.add_argument("-j", "--jobs", type=int, default=1, help="operators simulated in parallel (default 1)")
    sub.add_argument("--sim", default="icarus", help="simulator (icarus)")
    sub.add_argument("--keep", metavar="DIR", help="build in DIR/<ID> and keep the build and logs")
    sub.add_argument("--mac", metavar="ADDER", help="instead, run the clocked MAC (rtl/handwritten/opm_mac.v) with "
                     "this adder, e.g. LOA8: random streams of products, checked against spec section 8")
    sub.add_argument("--mac-rtl", choices=("generated", "handwritten"), default="generated",
                     help="MAC built from the generated modules or the hand-written ones (exact multiplier only)")
    sub.add_argument("--streams", type=int, default=20, help="MAC: number of streams (default 20)")
    sub.add_argument("-k", type=int, default=64, help="MAC: products per stream (default 64)")
    sub.add_argument("--json", action="store_true", help="print the results as JSON")


def _parse_params(items) -> dict:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier() or not value.lstrip("-").isdigit():
            raise OpmodelsError(f"--param takes NAME=INTEGER, not {item!r}")
        params[name] = int(value)
    return params


def cli_verify(args, operators) -> int:
    """``opmodels verify``: exit 0 when every operator matches, 1 when one does not."""
    _FROM_SPECS.extend(args.from_ or [])
    if str(VERIFICATION_DIR) not in sys.path:  # so --from can name the bench fixtures too
        sys.path.append(str(VERIFICATION_DIR))
    ops = operators(args)
    require_simulator(args.sim)
    if args.vectors not in ("default", "all") and not (args.vectors.isdigit() and int(args.vectors) > 0):
        raise OpmodelsError(f"--vectors takes a positive integer or 'all', not {args.vectors!r}")
    if args.jobs < 1:
        raise OpmodelsError(f"-j must be at least 1, not {args.jobs}")
    if args.verilog and len(ops) != 1:
        raise OpmodelsError("--verilog checks one module against one operator; name exactly one id")
    params = _parse_params(args.param)
    ports = (args.port_a, args.port_b, args.port_y)

    start = time.perf_counter()
    if args.mac:
        if args.verilog:
            raise OpmodelsError("--mac checks the MAC of rtl/handwritten/opm_mac.v; it does not take --verilog")
        if args.streams < 1 or args.k < 1:
            raise OpmodelsError(f"--streams and -k must be positive, not {args.streams} and {args.k}")
        results = [verify_mac(op, args.mac, rtl=args.mac_rtl, streams=args.streams, k=args.k, seed=args.seed,
                              sim=args.sim, work_dir=Path(args.keep) / f"{op.id}-mac" if args.keep else None)
                   for op in ops]
    elif args.verilog or len(ops) == 1:
        work = Path(args.keep) / ops[0].id if args.keep else None
        results = [verify(ops[0], verilog=args.verilog, top=args.top, ports=ports, params=params,
                          vectors=args.vectors, seed=args.seed, sim=args.sim, work_dir=work)]
    else:
        results = verify_catalog(ops, jobs=args.jobs, vectors=args.vectors, seed=args.seed, sim=args.sim,
                                 keep=args.keep)
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps({"seconds": elapsed, "results": [r.__dict__ for r in results]}, indent=2))
    else:
        for r in results:
            status = "ok" if r.passed else "MISMATCH"
            units = ("products", "mismatching streams") if args.mac else ("vectors", "mismatches")
            print(f"{r.operator:<9} {r.top:<16} {r.vectors:>8} {units[0]}  {r.mismatches:>6} {units[1]}  "
                  f"bench {r.seconds:6.2f} s  {status}")
            if r.counterexamples:
                if args.mac:
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
    return 0 if all(r.passed for r in results) else 1
