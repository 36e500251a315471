"""External tools run with a time limit: a stuck tool ends in a one-line error, its process killed."""
from __future__ import annotations

import subprocess
import sys

import pytest

from opmodels import OpmodelsError, tools


def test_a_tool_past_the_limit_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("OPMODELS_TOOL_TIMEOUT", "0.5")
    with pytest.raises(OpmodelsError, match=r"sleeping did not finish within 0.5 s \(OPMODELS_TOOL_TIMEOUT\)"):
        tools.run([sys.executable, "-c", "import time; time.sleep(30)"], what="sleeping")


def test_a_tool_within_the_limit_runs(monkeypatch):
    monkeypatch.setenv("OPMODELS_TOOL_TIMEOUT", "60")
    assert tools.run([sys.executable, "-c", "print(6 * 7)"], what="printing").stdout.strip() == "42"


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_limit_is_refused(monkeypatch, value):
    monkeypatch.setenv("OPMODELS_TOOL_TIMEOUT", value)
    with pytest.raises(OpmodelsError, match="OPMODELS_TOOL_TIMEOUT must be a positive number of seconds"):
        tools.timeout()


def test_the_watchdog_kills_only_the_children_in_its_directory_that_outlive_it(tmp_path):
    mine, other = tmp_path / "mine", tmp_path / "other"  # two benches in two threads
    mine.mkdir(), other.mkdir()
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    child, neighbour = subprocess.Popen(sleep, cwd=mine), subprocess.Popen(sleep, cwd=other)
    try:
        with tools.Watchdog(0.5, cwd=mine) as watchdog:
            assert child.wait(timeout=30) != 0  # killed by the watchdog, long before it would end
        assert watchdog.fired and neighbour.poll() is None  # the other bench's tool runs on
    finally:
        neighbour.kill()
        neighbour.wait()


def test_the_watchdog_does_nothing_when_stopped_in_time(tmp_path):
    with tools.Watchdog(30, cwd=tmp_path) as watchdog:
        assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0
    assert not watchdog.fired
