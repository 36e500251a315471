"""Every sweep command killed at a deterministic point resumes: the rerun computes only what is
missing and writes what an uninterrupted run writes. And a SIGKILLed ``netsim dse`` leaves no process.

The jobs go through ``workers_for_tests.gated_evaluation``: each takes a ticket, and from ticket
HOLD on they wait for a gate the killed run never sees open, so exactly HOLD points are done when it dies.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.netsim.explore.workers_for_tests import descendants, wait_until_gone
from tests.utils import ROOT

COMMANDS = {  # tiny settings: LeNet-5 on 16 test digits
    "resilience": (["resilience", "lenet5", "--technique", "w_bits", "--scope", "network"], 4, "1"),  # 9 jobs
    "dse": (["dse", "lenet5", "--multipliers", "M4P8,M5P10,M6P4"], 2, "1"),  # 4 jobs
    "search": (["search", "lenet5", "--min-accuracy", "0.01", "--choices", "exact,M4P8,M5P10", "--trials", "5",
                "--population", "3"], 3, "1"),  # killed in the second generation
}  # (the pool's resume is tested with the executor: test_killed_sweep_resumes_without_redoing_finished_points)
OUTPUTS = {"resilience": ["resilience.json", "resilience_lossless.json"], "dse": ["dse.json"],
           "search": ["search.json", "search_trials.json", "search_configs/point0.toml"]}
GATED = "import sys; from tests.netsim.explore.workers_for_tests import gated_netsim; sys.exit(gated_netsim(sys.argv[1:]))"


def _env(gate=None, hold=0):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    if gate is not None:
        env.update(NETSIM_TEST_GATE=str(gate), NETSIM_TEST_HOLD_FROM=str(hold))
    return env


def _entries(cache) -> set:
    return {p.stem for p in cache.glob("*/*.json")}


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in ("seconds", "finetune_seconds")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _start_held(args, gate, hold):
    gate.mkdir()
    return subprocess.Popen([sys.executable, "-c", GATED, *args], cwd=ROOT, env=_env(gate, hold),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process, what):
    deadline = time.monotonic() + 120  # a bound for a stuck run, not part of what is tested
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {process.stderr.read()}")
        assert time.monotonic() < deadline, f"no {what} after 120 s"
        time.sleep(0.05)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_killed_sweep_resumes_and_ends_as_an_uninterrupted_one(command, lenet_checkpoint, tmp_path):
    args, hold, workers = COMMANDS[command]
    common = ["--weights", str(lenet_checkpoint), "--test-limit", "16", "--workers", workers, "--no-progress"]
    out, gate = tmp_path / "out", tmp_path / "gate"
    process = _start_held([*args, *common, "-o", str(out)], gate, hold)
    try:
        _wait_for(lambda: len(_entries(out / "cache")) >= hold and (gate / f"ticket.{hold}").exists(), process,
                  f"{hold} points were done")
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the sweep and its workers, as a Ctrl-C'd shell would
        process.wait()
    done = _entries(out / "cache")
    assert len(done) == hold  # the others were held

    for path in gate.iterdir():
        path.unlink()
    (gate / "open").touch()
    rerun = subprocess.run([sys.executable, "-c", GATED, *args, *common, "-o", str(out)], cwd=ROOT,
                           env=_env(gate, hold), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    recomputed = {p.name.removeprefix("ran.") for p in gate.glob("ran.*")}

    reference = tmp_path / "reference"
    plain = subprocess.run([sys.executable, "-m", "netsim", *args, *common, "-o", str(reference)], cwd=ROOT,
                           env=_env(), capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0, plain.stderr
    assert _entries(out / "cache") == _entries(reference / "cache")  # the same points
    assert recomputed == _entries(reference / "cache") - done  # only what was missing, each once
    for name in OUTPUTS[command]:
        if name.endswith(".json"):
            assert _without_timings(json.loads((out / name).read_text())) == \
                _without_timings(json.loads((reference / name).read_text())), name
        else:
            assert (out / name).read_text() == (reference / name).read_text(), name


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_netsim_dse_leaves_no_worker_or_resource_tracker(lenet_checkpoint, tmp_path):
    """Only the main process is killed (not its group): its pool workers and the multiprocessing
    resource tracker must follow it."""
    gate = tmp_path / "gate"
    process = _start_held(["dse", "lenet5", "--weights", str(lenet_checkpoint), "--multipliers", "M4P8,M5P10",
                           "--test-limit", "16", "--workers", "2", "--no-progress", "-o", str(tmp_path / "out")],
                          gate, 0)
    left = {}
    try:
        _wait_for(lambda: len(list(gate.glob("ticket.*"))) >= 2, process, "both workers were in a job")
        children = descendants(process.pid)
        commands = " ".join(info[2] for info in children.values())
        assert len(children) >= 3 and "resource_tracker" in commands and "spawn_main" in commands, children
        process.kill()
        process.wait()
        left = wait_until_gone(children)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for pid in left:  # so that a failure does not leave them behind
            os.kill(pid, signal.SIGKILL)
    assert left == {}, f"still running 30 s after the sweep was killed: {left}"
