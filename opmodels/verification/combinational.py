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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import artifacts
from ..errors import OpmodelsError
from ..files import prepare_directory, write_atomic
from ..operator import Operator
from . import harness, simulator
from .comparison import Result, check_vectors, reference, swapped_reference
from .harness import BATCH
from .rtl import check_design, declared_signedness_note, read_design, sources_of

BENCH_DUTS = 8  # modules simulated together in one bench by verify_catalog
PORTS = ("a", "b", "y")


def require_operator(op) -> Operator:
    if not isinstance(op, Operator):
        raise OpmodelsError(f"verification takes an Operator (e.g. opmodels.get('M4P8')), not {op!r}")
    return op


@dataclass
class Dut:
    """One module under test in a bench: the operator it must equal, its sources and port names, and
    for a clocked module its clock, latency and timing (see :mod:`.harness`)."""

    op: Operator
    module: str
    sources: list
    ports: tuple = PORTS
    params: dict = field(default_factory=dict)
    clock: str | None = None
    latency: int = 0
    hold: bool = False
    ties: dict = field(default_factory=dict)  # input name -> Verilog constant, e.g. {"rst": "1'd0"}
    design: object = None                     # the rtl.Design read before the bench was built


def generated_dut(op: Operator, directory: Path) -> Dut:
    """``op``'s generated module, written to ``directory`` (trusted: the catalog's modules are checked
    against the IR's interface by the test suite; :func:`verify` checks them like any RTL)."""
    return Dut(op, artifacts.module_name(op), [artifacts.write_verilog(op, directory)])


MAX_LATENCY = 1024


def user_dut(op: Operator, verilog, top: str, ports=PORTS, params=None, log_dir=None, clock: str | None = None,
             latency: int = 0, hold: bool = False, ties: dict | None = None) -> Dut:
    """Module ``top`` in files ``verilog``, checked before anything is written: it compiles, has the
    operator's ports at the right widths, the parameters exist, its other inputs are driven, and it
    holds state only if it is clocked (``clock``, ``latency`` edges from operands to result)."""
    require_operator(op)
    sources = sources_of(verilog)
    if not top:
        raise OpmodelsError("--verilog needs --top, the name of the module to check")
    if clock is None and (latency or hold):
        raise OpmodelsError("--latency and --hold apply to a clocked module; give --clock too")
    if clock is not None and not 1 <= latency <= MAX_LATENCY:
        raise OpmodelsError(f"--clock {clock} needs --latency N, the clock edges from operands to result, "
                            f"N in 1..{MAX_LATENCY}, not {latency}")
    params, ties = dict(params or {}), dict(ties or {})
    simulator.compile_check(sources, top, Path(log_dir) / "compile.log" if log_dir else None)
    design = read_design(sources, top, params)
    check_design(design, op, ports, clock, ties)
    tied = {name: f"{design.ports[name].width or 1}'d{value}" for name, value in ties.items()}
    return Dut(op, top, sources, tuple(ports), params, clock, latency, hold, tied, design)


def _write_check(path: Path, duts, a, b, limit: int) -> None:
    """The bench's input: the vectors, each DUT's reference results (and with the operands swapped,
    for the report) and how its result port reads."""
    expected = np.stack([reference(d.op, a, b) for d in duts])
    swapped = [swapped_reference(d.op, a, b) for d in duts]
    buffer = io.BytesIO()
    np.savez(buffer, a=a, b=b, expected=expected, ids=np.array([d.op.id for d in duts]),
             swapped=np.stack([s if s is not None else np.zeros_like(a) for s in swapped]),
             has_swapped=np.array([s is not None for s in swapped]),
             y_width=np.array([d.op.y.width for d in duts]), y_signed=np.array([d.op.y.signed for d in duts]),
             a_width=duts[0].op.a.width, b_width=duts[0].op.b.width, limit=limit)
    write_atomic(path, buffer.getvalue())


def _note(dut: Dut, summary: dict) -> str:
    """What a mismatch suggests: operands swapped, or operands read with the other signedness."""
    if not summary["mismatches"]:
        return ""
    pa, pb, _ = dut.ports
    if summary.get("swapped_mismatches") == 0:
        return (f"ports look swapped: the RTL's {pa} is our b (every vector matches {dut.op.id}(b, a)); "
                f"pass --port-a {pb} --port-b {pa}")
    return declared_signedness_note(dut.design, dut.op, dut.ports) if dut.design is not None else ""


class _Progress:
    """A bar on stderr that follows the bench's progress file (the bench writes it after each batch)."""

    def __init__(self, path: Path, total: int, what: str, enabled: bool):
        self.path, self.total, self.bar, self.thread = path, total, None, None
        self.stop = threading.Event()
        if enabled and total > BATCH:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=what, unit="vector", unit_scale=True, file=sys.stderr)
            self.thread = threading.Thread(target=self._follow, daemon=True)

    def _read(self) -> int:
        try:
            return int(self.path.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def _follow(self):
        while not self.stop.wait(0.5):
            done = self._read()
            if done > self.bar.n:
                self.bar.update(done - self.bar.n)

    def __enter__(self):
        if self.thread is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.stop.set()
            self.thread.join()
            self.bar.update(max(0, self._read() - self.bar.n))
            self.bar.close()
        return False


def verify_many(duts: list[Dut], work: Path, vectors: int | None = None, seed: int = 0, sim: str = "icarus",
                limit: int = 10, progress: bool = False) -> list[Result]:
    """Simulate several DUTs of one port shape in one bench built in ``work``; one Result per DUT.
    ``progress``: a bar on stderr when the check has more than one batch of vectors."""
    for d in duts:
        require_operator(d.op)
    work = Path(work).resolve()  # the simulator runs in work: every path handed to it is absolute
    source = write_atomic(work / f"{harness.TOP}.v", harness.harness(duts))
    a, b = check_vectors(duts[0].op, vectors, seed)
    check, summary, done = work / "check.npz", work / "summary.json", work / "progress"
    _write_check(check, duts, a, b, limit)
    summary.unlink(missing_ok=True)
    done.unlink(missing_ok=True)
    names = ", ".join(f"{d.module} ({d.op.id})" for d in duts)
    start = time.perf_counter()
    with _Progress(done, len(a), f"verify {duts[0].op.id}", progress):
        log = simulator.run_bench("comb", sources=[*dict.fromkeys(s for d in duts for s in d.sources), source],
                                  top=harness.TOP, env={"OPM_CHECK": str(check), "OPM_SUMMARY": str(summary),
                                                        "OPM_PROGRESS": str(done)},
                                  work=work, what=names, sim=sim)
    if not summary.is_file():
        raise OpmodelsError(f"the bench of {names} ended without a result; see {log}")
    elapsed = time.perf_counter() - start
    return [Result(s["operator"], d.module, s["vectors"], s["mismatches"], s["counterexamples"], elapsed, str(log),
                   _note(d, s))
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
           limit: int = 10, clock: str | None = None, latency: int = 0, hold: bool = False,
           ties: dict | None = None, progress: bool = False) -> Result:
    """Simulate ``op``'s generated Verilog (or the user's ``verilog`` files with module ``top``) over
    the check's vectors and compare every result with the model. ``vectors``: None for every pair up
    to 8 + 8 bits and 200,000 random pairs plus corners above, N for N random pairs plus corners.
    ``params``: Verilog parameters of ``top``; ``clock``, ``latency``, ``hold``: a clocked module
    (:mod:`.harness`); ``ties``: other inputs tied to constants (a reset, an enable).
    ``work_dir`` keeps the build; otherwise it is removed after a pass. The generated module goes
    through the same checks as the user's RTL; the user's RTL is checked before anything is written."""
    require_operator(op)
    simulator.require_simulator(sim)
    check_vectors(op, vectors, seed) if vectors is not None else None  # a bad count before any work
    if verilog:
        dut = user_dut(op, verilog, top, ports, params, clock=clock, latency=latency, hold=hold, ties=ties)
        work = prepare_directory(Path(work_dir or tempfile.mkdtemp(prefix=f"opmodels-verify-{op.id}-")).resolve(),
                                 option="build directory")
    else:
        if top or params or clock or ties or tuple(ports) != PORTS:
            raise OpmodelsError("top, ports, params, clock and ties describe a module of your own; give verilog too")
        work = prepare_directory(Path(work_dir or tempfile.mkdtemp(prefix=f"opmodels-verify-{op.id}-")).resolve(),
                                 option="build directory")
        generated = artifacts.write_verilog(op, work)
        dut = user_dut(op, [generated], artifacts.module_name(op))
    (result,) = _verify_in(work, [dut], keep=work_dir is not None, vectors=vectors, seed=seed, sim=sim,
                           limit=limit, progress=progress)
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
        work = Path(keep).resolve() / f"{group[0].id}-{group[-1].id}" if keep else \
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
