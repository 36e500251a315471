"""The simulator and its files: is Icarus there, where the package's HDL and benches are, and how one
bench is built and run with ``cocotb_tools.runner`` in a build directory.

The hand-written reference Verilog is package data (``opmodels/verification/hdl``), found relative to
this package the way ``cocotb_tools.config`` finds cocotb's ``share`` directory, so an installed wheel
verifies exactly like a source checkout. The cocotb benches are modules of this package
(``opmodels.verification.benches.*``): the simulator's Python imports them by their qualified name,
with this process's module search path, which the runner hands to it as ``PYTHONPATH``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .. import tools
from ..errors import OpmodelsError, first_error

SIMULATORS = ("icarus",)
TIMESCALE = ("1ns", "1ps")
HDL_DIR = Path(__file__).resolve().parent / "hdl"
BENCHES = "opmodels.verification.benches"


def hdl_file(name: str) -> Path:
    """A hand-written reference module shipped with the package, e.g. ``hdl_file("opm_mac.v")``."""
    path = HDL_DIR / name
    if not path.is_file():
        raise OpmodelsError(f"the package has no reference Verilog {name!r} (in {HDL_DIR}: "
                            f"{', '.join(sorted(p.name for p in HDL_DIR.glob('*.v'))) or 'nothing'})")
    return path


def require_simulator(sim: str = "icarus") -> None:
    """Fail with a reason before cocotb's runner would exit the process for a missing tool."""
    if sim not in SIMULATORS:
        raise OpmodelsError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    for tool in ("iverilog", "vvp"):
        if shutil.which(tool) is None:
            raise OpmodelsError(f"{tool} (Icarus Verilog) is not on PATH; install it with "
                                "`apt-get install -y iverilog` (or scripts/setup.sh)")


def runner(sim: str = "icarus"):
    require_simulator(sim)
    from cocotb_tools.runner import get_runner  # cocotb only when a bench runs
    return get_runner(sim)


def compile_check(sources, top: str, log: Path | None = None, defines: dict | None = None) -> None:
    """Compile the user's files alone first, so a syntax error or a missing top module is named. On a
    failure the compiler's output goes to ``log`` (by default a new temporary file: a refused design
    leaves nothing in the build directory)."""
    command = ["iverilog", "-g2012", "-o", os.devnull, "-s", top,
               *(f"-D{k}={v}" for k, v in (defines or {}).items()), *map(str, sources)]
    result = tools.run(command, what=f"iverilog compiling {top}")
    if result.returncode:
        output = result.stdout + result.stderr
        if log is None:
            handle, name = tempfile.mkstemp(prefix=f"opmodels-compile-{top}-", suffix=".log")
            os.close(handle)
            log = Path(name)
        log.write_text(output)
        raise OpmodelsError(f"{', '.join(map(str, sources))} does not compile with top module {top!r}: "
                            f"{first_error(output)} (full log: {log})")


def run_bench(bench: str, *, sources, top: str, env: dict, work: Path, what: str, sim: str = "icarus",
              defines=None, parameters=None) -> Path:
    """Build ``sources`` with top module ``top`` in ``work`` and run the cocotb bench module
    ``benches.<bench>`` there. Simulator output goes to ``work/sim.log``, never to the terminal; a
    failing check is not an error here (the bench's summary says what failed). Returns the log."""
    sim_runner = runner(sim)
    log = work / "sim.log"
    try:
        sim_runner.build(sources=[str(s) for s in sources], hdl_toplevel=top, defines=defines or {},
                         parameters=parameters or {}, always=True, build_dir=work, timescale=TIMESCALE,
                         log_file=log)
    except RuntimeError:
        text = log.read_text(errors="replace") if log.is_file() else "see the log"
        raise OpmodelsError(f"the bench of {what} does not compile: {first_error(text)} (full log: {log})") from None
    limit = tools.timeout()
    with tools.Watchdog(limit, cwd=work) as watchdog:  # cocotb's runner has no time limit; it runs in work
        try:
            sim_runner.test(test_module=f"{BENCHES}.{bench}", hdl_toplevel=top, build_dir=work, test_dir=work,
                            extra_env=env, results_xml=str(work / "results.xml"), log_file=log)
        except (RuntimeError, SystemExit):
            if tools.STOPPING.is_set():  # SIGTERM (tools.ends_children_on_sigterm): end, do not report
                raise
            # a failing check: the summary says what failed, a missing summary is reported by the caller
    if watchdog.fired:
        raise OpmodelsError(f"the simulation of {what} did not finish within {limit:g} s (OPMODELS_TOOL_TIMEOUT) "
                            f"and was stopped; a combinational loop, or an initial/always loop without a delay, in "
                            f"the RTL? (log: {log})")
    return log
