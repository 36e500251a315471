"""Combinational checks: an operator's generated module, or a module of the user's, simulated over
the check's vectors and compared with the model. Everything here takes :class:`~opmodels.Operator`
objects; the command line resolves ids.

The reference results are computed here, in this process, and handed to the cocotb bench with the
vectors (``check.npz`` in the build directory), so the simulator's Python never has to find an
operator by name: any Operator can be verified, registered or not.
"""
from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import artifacts
from ..errors import OpmodelsError
from ..files import prepare_directory, write_atomic
from ..operator import Operator
from . import harness, simulator
from .comparison import Result, check_vectors, reference

BENCH_DUTS = 8  # modules simulated together in one bench by verify_catalog
PORTS = ("a", "b", "y")


def require_operator(op) -> Operator:
    if not isinstance(op, Operator):
        raise OpmodelsError(f"verification takes an Operator (e.g. opmodels.get('M4P8')), not {op!r}")
    return op


@dataclass
class Dut:
    """One module under test in a bench: the operator it must equal, its sources and port names."""

    op: Operator
    module: str
    sources: list
    ports: tuple = PORTS
    params: dict = field(default_factory=dict)


def generated_dut(op: Operator, directory: Path) -> Dut:
    """``op``'s generated module, written to ``directory``."""
    return Dut(op, artifacts.module_name(op), [artifacts.write_verilog(op, directory)])


def _user_sources(verilog, top) -> list[Path]:
    sources = [Path(v).resolve() for v in ([verilog] if isinstance(verilog, (str, Path)) else verilog)]
    for source in sources:
        if source.is_dir():
            raise OpmodelsError(f"Verilog file {str(source)!r} is a directory")
        if not source.is_file():
            raise OpmodelsError(f"Verilog file {str(source)!r} does not exist")
    if not top:
        raise OpmodelsError("--verilog needs --top, the name of the module to check")
    return sources


def user_dut(op: Operator, verilog, top: str, ports=PORTS, params=None, log_dir=None) -> Dut:
    """The user's module ``top`` in files ``verilog``, checked to compile and to have the ports."""
    sources = _user_sources(verilog, top)
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="opmodels-verify-"))
    prepare_directory(log_dir, option="build directory")
    simulator.compile_check(sources, top, log_dir / "compile.log")
    from ..hdl_interface import UnparsableVerilog, check_ports
    try:
        check_ports(sources, top, op, ports, params)
    except UnparsableVerilog:
        pass  # e.g. SystemVerilog that Icarus compiles: the harness's port connections check it instead
    return Dut(op, top, sources, tuple(ports), dict(params or {}))


def _write_check(path: Path, duts, a, b, limit: int) -> None:
    """The bench's input: the vectors, each DUT's reference results and how its result port reads."""
    expected = np.stack([reference(d.op, a, b) for d in duts])
    buffer = io.BytesIO()
    np.savez(buffer, a=a, b=b, expected=expected, ids=np.array([d.op.id for d in duts]),
             y_width=np.array([d.op.y.width for d in duts]), y_signed=np.array([d.op.y.signed for d in duts]),
             a_width=duts[0].op.a.width, b_width=duts[0].op.b.width, limit=limit)
    write_atomic(path, buffer.getvalue())


def verify_many(duts: list[Dut], work: Path, vectors: int | None = None, seed: int = 0, sim: str = "icarus",
                limit: int = 10) -> list[Result]:
    """Simulate several DUTs of one port shape in one bench built in ``work``; one Result per DUT."""
    for d in duts:
        require_operator(d.op)
    source = write_atomic(work / f"{harness.TOP}.v", harness.harness(duts))
    a, b = check_vectors(duts[0].op, vectors, seed)
    check, summary = work / "check.npz", work / "summary.json"
    _write_check(check, duts, a, b, limit)
    summary.unlink(missing_ok=True)
    names = ", ".join(f"{d.module} ({d.op.id})" for d in duts)
    start = time.perf_counter()
    log = simulator.run_bench("comb", sources=[*dict.fromkeys(s for d in duts for s in d.sources), source],
                              top=harness.TOP, env={"OPM_CHECK": str(check), "OPM_SUMMARY": str(summary)},
                              work=work, what=names, sim=sim)
    if not summary.is_file():
        raise OpmodelsError(f"the bench of {names} ended without a result; see {log}")
    elapsed = time.perf_counter() - start
    return [Result(s["operator"], d.module, s["vectors"], s["mismatches"], s["counterexamples"], elapsed, str(log))
            for d, s in zip(duts, json.loads(summary.read_text()))]


def _verify_in(work: Path, duts, keep: bool, **options) -> list[Result]:
    """Run in ``work``; unless ``keep``, remove it when every DUT passed (a failure keeps its log)."""
    results = verify_many(duts, work, **options)
    if all(r.passed for r in results) and not keep:
        shutil.rmtree(work, ignore_errors=True)
        for r in results:
            r.log = ""
    return results


def verify(op: Operator, verilog=None, top: str | None = None, ports=PORTS, params: dict | None = None,
           vectors: int | None = None, seed: int = 0, sim: str = "icarus", work_dir=None,
           limit: int = 10) -> Result:
    """Simulate ``op``'s generated Verilog (or the user's ``verilog`` files with module ``top``) over
    the check's vectors and compare every result with the model. ``vectors``: None for every pair up
    to 8 + 8 bits and 200,000 random pairs plus corners above, N for N random pairs plus corners.
    ``work_dir`` keeps the build; otherwise it is removed after a pass."""
    require_operator(op)
    simulator.require_simulator(sim)
    if verilog:
        _user_sources(verilog, top)  # before a build directory exists
    work = prepare_directory(work_dir or tempfile.mkdtemp(prefix=f"opmodels-verify-{op.id}-"), option="build directory")
    dut = user_dut(op, verilog, top, ports, params, work) if verilog else generated_dut(op, work)
    (result,) = _verify_in(work, [dut], keep=work_dir is not None, vectors=vectors, seed=seed, sim=sim,
                           limit=limit)
    return result


def verify_catalog(ops, jobs: int = 1, vectors: int | None = None, seed: int = 0, sim: str = "icarus",
                   keep=None, progress: bool = True) -> list[Result]:
    """Generated modules of many operators: grouped by port shape into benches of a few DUTs each, the
    benches run ``jobs`` at a time (the simulators are subprocesses, so threads suffice)."""
    ops = [require_operator(op) for op in ops]
    simulator.require_simulator(sim)
    if jobs < 1:
        raise OpmodelsError(f"jobs must be at least 1, not {jobs}")
    by_shape: dict[tuple, list] = {}
    for op in ops:
        by_shape.setdefault((op.a.width, op.b.width), []).append(op)
    per_bench = max(1, min(BENCH_DUTS, -(-len(ops) // (2 * jobs))))
    groups = [group[i:i + per_bench] for group in by_shape.values() for i in range(0, len(group), per_bench)]

    def run(group):
        work = Path(keep) / f"{group[0].id}-{group[-1].id}" if keep else \
            Path(tempfile.mkdtemp(prefix=f"opmodels-verify-{group[0].id}-"))
        prepare_directory(work, option="build directory")
        duts = [generated_dut(op, work) for op in group]
        return _verify_in(work, duts, keep=bool(keep), vectors=vectors, seed=seed, sim=sim)

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
