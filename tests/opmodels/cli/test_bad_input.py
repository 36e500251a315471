"""Every ``opmodels`` command given bad input: exit status 2, exactly one line on stderr that starts
``opmodels: error: `` and names the bad value, no traceback, and nothing written or changed in the
working directory (a snapshot of every file's bytes before and after). In process, for speed.

Also: Hypothesis fuzzing of the numeric options (0 or 2, one line, never a traceback), and a killed
``gen-lut --all`` / ``gen-verilog --all`` that the next run repairs.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import opmodels
import opmodels.metrics
from opmodels import cli, verification
from opmodels.cost import Cost
from opmodels.verification import simulator
from tests.utils import ROOT

USER_MODULE = '''
from opmodels import Operator
number = 1
def needs(a):
    pass
def boom():
    raise RuntimeError("kaboom")
def steals():  # a user operator that takes a catalog id
    return Operator.from_function("M4P8", "multiplier", 8, lambda a, b: a.sext(16) + b.sext(16))
'''


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working directory with the bad inputs: files where directories are expected, directories
    where files will be written, garbage Verilog, a user module."""
    files = {
        "afile": b"keep me\n",
        "garbage.v": b"garbage !!! not verilog\n",
        "empty.v": b"",
        "binary.v": bytes(range(256)) * 4,
        # a warning (undefined macro) comes before the error: the error must be quoted
        "warn.v": b"`FOO\nmodule foo(input [7:0] a, input [7:0] b, output [15:0] y);\n"
                  b"  assign y = a * b\nendmodule\n",
        "syn.v": b"module foo(input [7:0] a, input [7:0] b, output [15:0] y);\n  assign y = a * b\nendmodule\n",
        "trace.npy": b"\x93NUMPY garbage",
        "bad_input_user.py": USER_MODULE.encode(),
        "bad_input_syntax.py": b"def f(:\n",
        "keepfile/M4P8": b"a file where verify builds\n",
    }
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    np.save(tmp_path / "floats.npy", np.array([[np.nan, 1.0], [2.0, 3.0]]))
    np.save(tmp_path / "wide.npy", np.array([[10 ** 12, 1], [2, 3]]))
    np.save(tmp_path / "none.npy", np.zeros((0, 2), dtype=np.int64))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "wide.npy").read_bytes()[:100])
    (tmp_path / "zip.npz").write_bytes(b"PK\x03\x04 not a zip")
    for target in ("out/M4P8.npy", "outh/M4P8.h", "out2/M4P8.v", "adir"):
        (tmp_path / target).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # importing --from modules writes nothing
    return tmp_path


def snapshot(root) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def assert_one_line_error(err: str, *names: str) -> None:
    assert err.startswith("opmodels: error: "), err
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in err, (name, err)


NINES = "9" * 30
# (command line, what the message must contain, the tool the case needs or None)
CASES = [
    # list
    (["list", "M4P8"], ["unrecognized arguments: M4P8"], None),
    (["list", "--bogus"], ["--bogus"], None),
    # show: unknown, ill-formed and illegal ids
    (["show", "M4P9"], ["M4P9", "not 9"], None),
    (["show", "../escaped"], ["'../escaped'"], None),
    (["show", ""], ["unknown operator ''"], None),
    (["show", "M4P8W17"], ["M4P8W17", "not 17"], None),
    (["show", "M4P" + NINES], [NINES], None),
    (["show", "EXACTW0"], ["EXACTW0", "not 0"], None),
    (["show", "LOA8\nM4P8"], ["'LOA8\\nM4P8'"], None),
    (["show"], ["name at least one operator id"], None),
    # gen-lut: output paths, formats, operators without a table
    (["gen-lut", "M4P8", "-o", ""], ["-o needs a directory name, not ''"], None),
    (["gen-lut", "M4P8", "-o", "afile"], ["'afile' is a file"], None),
    (["gen-lut", "M4P8", "-o", "afile/sub"], ["'afile/sub'", "Not a directory"], None),
    (["gen-lut", "M4P8", "-o", "out"], ["out/M4P8.npy"], None),
    (["gen-lut", "M4P8", "--format", "c", "-o", "outh"], ["outh/M4P8.h"], None),  # .npy not written either
    (["gen-lut", "M4P20W16", "-o", "new"], ["M4P20W16"], None),
    (["gen-lut", "M4P8", "--format", "xyz"], ["'xyz'"], None),
    (["gen-lut", "--all", "M4P8"], ["not both"], None),
    (["gen-lut", "--from", "bad_input_user:steals", "-o", "new"], ["'M4P8' is a built-in catalog id"], None),
    # metrics: NaN, negative, fractional, huge
    (["metrics", "M4P8", "--seed", "-1"], ["--seed", "'-1'"], None),
    (["metrics", "M4P8", "--seed", "nan"], ["--seed", "'nan'"], None),
    (["metrics", "M4P8", "--seed", str(1 << 64)], ["--seed", str(1 << 64)], None),
    (["metrics", "M4P8", "--samples", "0"], ["--samples", "'0'"], None),
    (["metrics", "M4P8", "--samples", "-5"], ["--samples", "'-5'"], None),
    (["metrics", "M4P8", "--samples", "NaN"], ["--samples", "'NaN'"], None),
    (["metrics", "M4P8", "--samples", "1e6"], ["--samples", "'1e6'"], None),
    (["metrics", "M4P8", "--samples", NINES], ["--samples", NINES], None),
    (["metrics", "M4P8", "--samples", "9" * 5000], ["--samples", "'9999"], None),
    # gen-verilog
    (["gen-verilog", "M4P8", "-o", ""], ["-o needs a directory name"], None),
    (["gen-verilog", "M4P8", "-o", "afile"], ["'afile' is a file"], None),
    (["gen-verilog", "M4P8", "-o", "out2"], ["out2/M4P8.v"], None),
    (["gen-verilog", "LOA99"], ["LOA99", "not 99"], None),
    # verify: options
    (["verify", "M4P8", "--keep", "afile"], ["--keep 'afile' is a file"], None),
    (["verify", "M4P8", "--keep", ""], ["--keep needs a directory name"], None),
    (["verify", "M4P8", "--keep", "keepfile"], ["keepfile/M4P8"], None),
    (["verify", "M4P8", "--vectors", "0"], ["--vectors", "'0'"], None),
    (["verify", "M4P8", "--vectors", "nan"], ["--vectors", "'nan'"], None),
    (["verify", "M4P8", "--vectors", NINES], ["--vectors", NINES], None),
    (["verify", "M4P8", "--seed", "-1"], ["--seed", "'-1'"], None),
    (["verify", "M4P8", "-j", "0"], ["--jobs", "'0'"], None),
    (["verify", "M4P8", "-j", "99999999999"], ["--jobs", "'99999999999'"], None),
    (["verify", "M4P8", "--mac", "LOA8", "--streams", "0"], ["--streams", "'0'"], None),
    (["verify", "M4P8", "--mac", "LOA8", "--streams", "1000", "-k", "100000"], ["1000 and 100000"], None),
    (["verify", "M4P8", "--mac", "M4P9"], ["M4P9"], None),
    (["verify", "M4P8", "--top", "foo"], ["--top"], None),
    (["verify", "M4P8", "--param", "L=x"], ["'L=x'"], None),
    (["verify", "M4P8", "--sim", "verilator"], ["'verilator'"], "icarus"),
    # verify: the user's Verilog (garbage, empty, binary, a warning before the error, missing, a directory)
    (["verify", "M4P8", "--verilog", "garbage.v", "--top", "foo"], ["garbage.v:1: syntax error"], "icarus"),
    (["verify", "M4P8", "--verilog", "empty.v", "--top", "foo"], ["empty.v", "'foo'"], "icarus"),
    (["verify", "M4P8", "--verilog", "binary.v", "--top", "foo"], ["binary.v", "'foo'"], "icarus"),
    (["verify", "M4P8", "--verilog", "warn.v", "--top", "foo"], ["warn.v:4: syntax error"], "icarus"),
    (["verify", "M4P8", "--verilog", "missing.v", "--top", "foo"], ["missing.v' does not exist"], None),
    (["verify", "M4P8", "--verilog", "adir", "--top", "foo"], ["adir' is a directory"], None),
    (["verify", "M4P8", "--verilog", "syn.v"], ["--verilog needs --top"], None),
    # cost
    (["cost", "--verilog", "garbage.v"], ["garbage.v: the Verilog has no module"], None),
    (["cost", "--verilog", "empty.v"], ["empty.v: the Verilog has no module"], None),
    (["cost", "--verilog", "binary.v"], ["binary.v"], None),
    (["cost", "--verilog", "syn.v"], ["syn.v:3: ERROR"], "yosys"),
    (["cost", "--verilog", "warn.v"], ["warn.v:1: ERROR"], "yosys"),
    (["cost", "--verilog", "missing.v"], ["'missing.v' does not exist"], None),
    (["cost", "--verilog", "adir"], ["'adir' is a directory"], None),
    (["cost", "M4P8", "--samples", "1"], ["--samples", "'1'"], None),
    (["cost", "M4P8", "--samples", NINES], ["--samples", NINES], None),
    (["cost", "M4P8", "--seed", "-1"], ["--seed", "'-1'"], None),
    (["cost", "M4P8", "-j", "0"], ["--jobs", "'0'"], None),
    (["cost", "M4P8", "--trace", "trace.npy"], ["'trace.npy'", "not a .npy or .npz file"], None),
    (["cost", "M4P8", "--trace", "missing.npz"], ["'missing.npz'", "No such file"], None),
    (["cost", "M4P8", "--trace", "floats.npy"], ["floats.npy", "must be integers, not float64"], None),
    (["cost", "M4P8", "--trace", "wide.npy"], ["wide.npy", "1000000000000 is outside"], None),
    (["cost", "M4P8", "--trace", "none.npy"], ["none.npy", "at least 2 pairs"], None),
    (["cost", "M4P8", "--trace", "cut.npy"], ["'cut.npy'", "not a .npy or .npz file"], None),
    (["cost", "M4P8", "--trace", "zip.npz"], ["'zip.npz'", "not a .npy or .npz file"], None),
    (["cost", "M4P8", "--flow", "xx"], ["'xx'"], None),
    (["cost", "M4P8", "--top", "x"], ["--top"], None),
    # --from
    (["show", "--from", "bad_input_user:number"], ["bad_input_user:number", "not an Operator"], None),
    (["show", "--from", "bad_input_user:needs"], ["needs()", "missing 1 required"], None),
    (["show", "--from", "bad_input_user:boom"], ["boom()", "kaboom"], None),
    (["show", "--from", "bad_input_syntax:f"], ["bad_input_syntax.py:1: syntax error"], None),
    (["show", "--from", "no_such_module_xyz:f"], ["'no_such_module_xyz'"], None),
    (["show", "--from", "bad_input_user"], ["'bad_input_user'"], None),
    (["show", "--from", "bad_input_user:missing"], ["no attribute 'missing'"], None),
]


def _tool_missing(tool) -> bool:
    return tool is not None and shutil.which("iverilog" if tool == "icarus" else "yosys") is None


@pytest.mark.parametrize("args, names, tool", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input(workspace, capsys, monkeypatch, args, names, tool):
    if _tool_missing(tool):
        pytest.skip(f"needs {tool}")
    if args[0] == "verify" and tool is None:  # argument checks, also on a machine without Icarus
        monkeypatch.setattr(verification, "require_simulator", lambda sim="icarus": None)
        monkeypatch.setattr(simulator, "require_simulator", lambda sim="icarus": None)
    before = snapshot(workspace)
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, *names)
    assert snapshot(workspace) == before


def test_at_least_35_cases_cover_every_command():
    assert len(CASES) >= 35
    assert {c[0][0] for c in CASES} == {"list", "show", "gen-lut", "metrics", "gen-verilog", "verify", "cost"}


def test_a_line_break_in_a_value_stays_on_one_line(capsys):
    assert cli.main(["list", "a\nb\rc\u2028d"]) == 2
    assert_one_line_error(capsys.readouterr().err, "a\\nb\\rc\\u2028d")


@pytest.mark.parametrize("args, name", [
    (["gen-lut", "M4P8", "-o", "out"], "out/M4P8.npy"),
    (["show", os.fsdecode(b"M4P\xff")], "M4P"),  # an argument that is not UTF-8
])
def test_in_a_real_process_too(workspace, args, name):
    """The same promise through ``python -m opmodels``: the interpreter adds no traceback or warning."""
    before = snapshot(workspace)
    result = subprocess.run([sys.executable, "-m", "opmodels", *args], cwd=workspace, capture_output=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert result.returncode == 2
    assert_one_line_error(result.stderr.decode("utf-8", "backslashreplace"), name)
    assert snapshot(workspace) == before


# ---- Hypothesis: numeric options take any text; the command exits 0 or 2 with one line ----------------
VALUES = st.one_of(
    st.integers(min_value=-(1 << 70), max_value=1 << 70).map(str),
    st.text(max_size=12),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e3", "0x10", " 7 ", "1_000", "-0", "+5", "٣", "", "all"]),
)
OPTIONS = [("metrics", "--samples"), ("metrics", "--seed"), ("verify", "--vectors"), ("verify", "--seed"),
           ("verify", "--jobs"), ("verify", "--streams"), ("verify", "-k"), ("cost", "--samples"),
           ("cost", "--seed"), ("cost", "--jobs")]


@pytest.fixture
def no_work(monkeypatch):
    """The commands check their arguments for real; the work a valid value would start is stubbed."""
    result = verification.Result("M4P8", "opm_m4p8", 1, 0)

    def fake_metrics(op, samples=None, seed=0):
        opmodels.metrics.operand_chunks(op, samples, seed)  # the library's own checks
        return opmodels.metrics.Metrics(0.0, 0.0, 0.0, 0.0, 0.0, 0, 1, samples is None, seed)

    def fake_cost(op, operands=None, samples=2, seed=0, **options):
        return Cost(op.id, op.ir_hash, {"NAND": 1}, 1.0, 1, 1.0, 1.0, "stub", "stub")

    monkeypatch.setattr(opmodels.metrics, "compute", fake_metrics)
    monkeypatch.setattr(verification, "require_simulator", lambda sim="icarus": None)
    monkeypatch.setattr(verification, "verify", lambda *a, **k: result)
    monkeypatch.setattr(verification, "verify_mac", lambda *a, **k: result)
    monkeypatch.setattr(cli.cost, "cost", fake_cost)


@settings(derandomize=True, max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(OPTIONS), value=VALUES)
def test_numeric_options_fuzzed(no_work, capsys, option, value):
    command, name = option
    args = [command, "M4P8", f"{name}={value}" if name.startswith("--") else f"{name}{value}"]
    if name in ("--streams", "-k"):
        args += ["--mac", "LOA8"]
    status = cli.main(args)
    err = capsys.readouterr().err
    assert status in (0, 2), (args, status, err)
    if status == 2:
        assert_one_line_error(err)
    else:
        assert "Traceback" not in err


# ---- a killed gen-lut --all / gen-verilog --all, then a rerun ------------------------------------------
def _run(*args, **options):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "opmodels", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, **options)


def _kill_when(process, condition, timeout: float = 120.0) -> bool:
    """SIGKILL ``process`` as soon as ``condition()`` holds; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    process.wait()
    return False


def _kill_and_rerun(out, args, suffixes, total: int) -> None:
    def some_but_not_all():
        finals = [p for p in out.glob("*") if p.suffix in suffixes]
        return 0 < len(finals) < total

    _kill_when(_run(*args), some_but_not_all)
    # Then the worst a kill can leave, planted too, so the test does not depend on when the kill landed:
    ids = sorted({p.stem for p in out.glob("*") if p.suffix in suffixes} or {"EXACT"})
    victim = ids[0]
    (out / f".{victim}{suffixes[0]}.999999999.abcd1234.tmp").write_bytes(b"half")  # a dead process's temporary
    (out / f".{victim}{suffixes[0]}.x2y_7z9q.tmp").write_bytes(b"half")            # the old naming pattern
    for extra in suffixes[1:]:
        (out / f"{victim}{extra}").unlink(missing_ok=True)                          # an operator's set cut short
    (out / f"{victim}{suffixes[0]}").write_bytes(b"truncated")
    (out / "notes.tmp").write_text("not ours: left alone\n")

    rerun = _run(*args)
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()
    rerun.stderr.close()
    assert not [p.name for p in out.iterdir() if re.match(r"^\..*\.tmp$", p.name)]
    assert (out / "notes.tmp").read_text() == "not ours: left alone\n"


def test_gen_lut_all_killed_then_rerun_repairs_the_set(tmp_path):
    out = tmp_path / "luts"
    ids = ["EXACT", *opmodels.catalog.multipliers_8bit()]
    _kill_and_rerun(out, ["gen-lut", "--all", "--format", "c", "-o", str(out)], [".npy", ".json", ".h"],
                    3 * len(ids))
    assert sorted(p.name for p in out.iterdir() if p.name != "notes.tmp") == \
        sorted(f"{i}{s}" for i in ids for s in (".npy", ".json", ".h"))
    for op_id in ids:
        table = np.load(out / f"{op_id}.npy", allow_pickle=False)
        record = json.loads((out / f"{op_id}.json").read_text())
        assert hashlib.sha256(table.tobytes()).hexdigest() == record["sha256"]
        assert np.array_equal(table, opmodels.get(op_id).lut())
        assert record["sha256"] in (out / f"{op_id}.h").read_text()


def test_gen_verilog_all_killed_then_rerun_repairs_the_set(tmp_path):
    out = tmp_path / "rtl"
    ids = opmodels.builtin_ids()  # what --all writes in a fresh process (no operators registered)
    _kill_and_rerun(out, ["gen-verilog", "--all", "-o", str(out)], [".v"], len(ids))
    assert sorted(p.name for p in out.iterdir() if p.name != "notes.tmp") == sorted(f"{i}.v" for i in ids)
    for op_id in ids:
        assert (out / f"{op_id}.v").read_text() == opmodels.artifacts.verilog_source(opmodels.get(op_id))
