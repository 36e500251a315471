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

BATCH = 65536           # vectors per harness run (the harness memory depth)
RANDOM_VECTORS = 200_000  # wider than 8 bits: this many seeded random pairs plus the corners
SIMULATORS = ("icarus",)
VERIFICATION_DIR = Path(__file__).resolve().parent.parent / "verification"
HANDWRITTEN_DIR = Path(__file__).resolve().parent.parent / "rtl" / "handwritten"
TIMESCALE = ("1ns", "1ps")


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


def bench_operator():
    """The operator a checker runs for: ``OPM_OPERATOR``, after loading the ``OPM_FROM`` specs."""
    for spec in filter(None, os.environ.get("OPM_FROM", "").split(",")):
        catalog.load_from(spec)
    return catalog.get(os.environ["OPM_OPERATOR"])


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
    if not (VERIFICATION_DIR / "hdl").is_dir():
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


def _run(runner, *, sources, top, defines, test_module, extra_env, work: Path, log: Path) -> None:
    """Build and run one bench; simulator output goes to ``log``, never to the terminal."""
    try:
        runner.build(sources=[str(s) for s in sources], hdl_toplevel=top, defines=defines, always=True,
                     build_dir=work, timescale=TIMESCALE, log_file=log)
    except RuntimeError:
        lines = [line for line in log.read_text().splitlines() if "error" in line.lower()]
        raise OpmodelsError(f"the bench for {defines.get('OPM_DUT', top)} does not compile: "
                            f"{(lines or ['see the log'])[0].strip()} (full log: {log})") from None
    try:
        runner.test(test_module=test_module, hdl_toplevel=top, build_dir=work, test_dir=work,
                    extra_env=extra_env, results_xml=str(work / "results.xml"), log_file=log)
    except (RuntimeError, SystemExit):
        pass  # a failing check; the summary says what failed, a missing summary is reported below


def verify(op, verilog=None, top: str | None = None, ports=("a", "b", "y"), params: dict | None = None,
           vectors: str = "default", seed: int = 0, sim: str = "icarus", work_dir=None,
           limit: int = 10, from_specs=()) -> Result:
    """Simulate ``op``'s generated Verilog (or the user's ``verilog`` files with module ``top``) over
    the bench's vectors and compare every result with the model."""
    from .backends import verilog as backend
    runner = _runner(sim)
    op = catalog.get(op)
    specs = [*from_specs, *_FROM_SPECS]
    if not specs:
        try:
            catalog.get(op.id)
        except OpmodelsError:
            specs = None
        if specs is None or op.id in catalog._registered:
            raise OpmodelsError(f"operator {op.id} is not in the catalog; the simulator's Python loads it with "
                                "--from MODULE:ATTR (verify(..., from_specs=[...]))")
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"opmodels-verify-{op.id}-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "sim.log"
    if verilog:
        sources = [Path(v).resolve() for v in ([verilog] if isinstance(verilog, (str, Path)) else verilog)]
        for source in sources:
            if not source.is_file():
                raise OpmodelsError(f"Verilog file {str(source)!r} does not exist")
        if not top:
            raise OpmodelsError("--verilog needs --top, the name of the module to check")
        _compile_check(sources, top, log)
        from .hdl_interface import check_ports
        check_ports(sources, top, op, ports, params)
    else:
        sources = [backend.write(op, work)]
        top = backend.module_name(op.id)
    defines = {"OPM_DUT": top, "OPM_WA": op.width, "OPM_WY": op.out_width,
               "OPM_PORT_A": ports[0], "OPM_PORT_B": ports[1], "OPM_PORT_Y": ports[2]}
    if params:
        defines["OPM_DUT_PARAMS"] = ",".join(f".{k}({v})" for k, v in params.items())
    summary_path = work / "summary.json"
    env = {"OPM_OPERATOR": op.id, "OPM_VECTORS": str(vectors), "OPM_SEED": str(seed),
           "OPM_SUMMARY": str(summary_path), "OPM_MAX_COUNTEREXAMPLES": str(limit),
           "OPM_FROM": ",".join(specs)}
    start = time.perf_counter()
    _run(runner, sources=[*sources, VERIFICATION_DIR / "hdl" / "opm_comb_bench.v"], top="opm_comb_bench",
         defines=defines, test_module="opm_comb_bench", extra_env=env, work=work, log=log)
    if not summary_path.is_file():
        raise OpmodelsError(f"the bench for {op.id} ({top}) ended without a result; see {log}")
    summary = json.loads(summary_path.read_text())
    result = Result(op.id, top, summary["vectors"], summary["mismatches"], summary["counterexamples"],
                    time.perf_counter() - start, str(log))
    if result.passed and work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
        result.log = ""
    return result


def verify_mac(mul="EXACT", add="LOA0", rtl: str = "generated", streams: int = 20, k: int = 64, seed: int = 0,
               sim: str = "icarus", work_dir=None) -> Result:
    """Random streams of ``k`` products through the clocked MAC of ``rtl/handwritten/opm_mac.v``,
    built from the generated modules of ``mul`` and ``add`` (``rtl="generated"``) or from the
    hand-written ``opm_booth_r4`` (exact only) and ``opm_loa`` (``rtl="handwritten"``)."""
    from .backends import verilog as backend
    runner = _runner(sim)
    mul, add = catalog.get(mul), catalog.get(add)
    if mul.kind != "multiplier" or add.kind != "adder" or add.width < mul.out_width:
        raise OpmodelsError(f"a MAC needs a multiplier and an adder at least as wide as its product, "
                            f"not {mul.id} ({mul.kind}) and {add.id} ({add.kind}, {add.width} bits)")
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"opmodels-mac-{mul.id}-{add.id}-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "sim.log"
    mac = HANDWRITTEN_DIR / "opm_mac.v"
    if rtl == "generated":
        sources = [backend.write(mul, work), backend.write(add, work), mac]
        defines = {"OPM_MAC_MUL": backend.module_name(mul.id), "OPM_MAC_ADD": backend.module_name(add.id)}
    elif rtl == "handwritten":
        if mul.params.get("p", None) != 0:
            raise OpmodelsError(f"the hand-written multiplier is exact; {mul.id} is not")
        sources = [HANDWRITTEN_DIR / "opm_booth_r4.v", HANDWRITTEN_DIR / "opm_loa.v", mac]
        defines = {"OPM_MAC_MUL": "opm_booth_r4", "OPM_MAC_MUL_PARAMS": f".N({mul.width})",
                   "OPM_MAC_ADD": "opm_loa", "OPM_MAC_ADD_PARAMS": f".W({add.width}),.L({add.params['l']})"}
    else:
        raise OpmodelsError(f"rtl must be 'generated' or 'handwritten', not {rtl!r}")
    summary_path = work / "summary.json"
    env = {"OPM_MAC_MUL": mul.id, "OPM_MAC_ADD": add.id, "OPM_MAC_STREAMS": str(streams), "OPM_MAC_K": str(k),
           "OPM_SEED": str(seed), "OPM_SUMMARY": str(summary_path)}
    runner_parameters = {"N": mul.width, "W": add.width}
    start = time.perf_counter()
    runner.parameters = runner_parameters
    try:
        runner.build(sources=[str(s) for s in sources], hdl_toplevel="opm_mac", defines=defines,
                     parameters=runner_parameters, always=True, build_dir=work, timescale=TIMESCALE, log_file=log)
    except RuntimeError:
        raise OpmodelsError(f"the MAC bench does not compile (full log: {log})") from None
    try:
        runner.test(test_module="opm_mac_bench", hdl_toplevel="opm_mac", build_dir=work, test_dir=work,
                    extra_env=env, results_xml=str(work / "results.xml"), log_file=log)
    except (RuntimeError, SystemExit):
        pass
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

    def one(op):
        work = Path(args.keep) / op.id if args.keep else None
        return verify(op, verilog=args.verilog, top=args.top, ports=ports, params=params, vectors=args.vectors,
                      seed=args.seed, sim=args.sim, work_dir=work)

    start = time.perf_counter()
    results = []
    if len(ops) == 1:
        results.append(one(ops[0]))
    else:
        from concurrent.futures import ThreadPoolExecutor  # the simulators are subprocesses
        from tqdm import tqdm
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for result in tqdm(pool.map(one, ops), total=len(ops), desc="verify", unit="op", file=sys.stderr):
                results.append(result)
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps({"seconds": elapsed, "results": [r.__dict__ for r in results]}, indent=2))
    else:
        for r in results:
            status = "ok" if r.passed else "MISMATCH"
            print(f"{r.operator:<8} {r.top:<16} {r.vectors:>8} vectors  {r.mismatches:>6} mismatches  "
                  f"{r.seconds:6.2f} s  {status}")
            if r.counterexamples:
                print("  first counterexamples (a, b, expected, got):")
                for a, b, want, got in r.counterexamples[:5]:
                    print(f"    a={a} b={b} expected={want} got={'x' if got is None else got}")
            if not r.passed and r.log:
                print(f"  log: {r.log}")
        total = sum(r.vectors for r in results)
        bad = sum(not r.passed for r in results)
        print(f"{len(results)} operator(s), {total} vectors, {bad} with mismatches, {elapsed:.1f} s")
    return 0 if all(r.passed for r in results) else 1
