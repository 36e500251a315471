"""The cache directory: one policy, clear errors, and damaged entries that repair themselves."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from opmodels import OpmodelsError, cache
from tests.utils import ROOT

COMPILE = ("import opmodels; from opmodels.backends import numba_cpu; "
           "print(numba_cpu.scalar_function(opmodels.get('M4P8W10'))(3, 5))")


def _run(cache_dir):
    env = dict(os.environ, OPMODELS_CACHE_DIR=str(cache_dir))
    return subprocess.run([sys.executable, "-c", COMPILE], cwd=ROOT, env=env, capture_output=True, text=True)


def test_a_sound_numba_cache_entry_is_used_as_it_is(tmp_path):
    assert _run(tmp_path).returncode == 0
    entries = sorted((tmp_path / "numba" / "__pycache__").glob("*.nb[ic]"))
    stamps = [(e.name, e.stat().st_mtime_ns) for e in entries]
    assert entries and _run(tmp_path).returncode == 0  # the second process loads, compiles nothing
    assert [(e.name, e.stat().st_mtime_ns) for e in sorted(entries[0].parent.glob("*.nb[ic]"))] == stamps


def test_a_truncated_numba_cache_entry_is_rebuilt(tmp_path):
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    entries = list((tmp_path / "numba" / "__pycache__").glob("*.nb[ic]"))
    assert entries
    for entry in entries:  # what a process killed while numba wrote its cache leaves behind
        entry.write_bytes(entry.read_bytes()[:20])
    for _ in range(2):  # the next run repairs the entry, and the one after uses it
        again = _run(tmp_path)
        assert again.returncode == 0 and again.stdout == first.stdout, again.stderr[-2000:]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only directory")
def test_an_unwritable_cache_directory_is_a_one_line_error(tmp_path, monkeypatch):
    tmp_path.chmod(0o500)
    monkeypatch.setenv("OPMODELS_CACHE_DIR", str(tmp_path / "sub"))
    with pytest.raises(OpmodelsError, match="set OPMODELS_CACHE_DIR to a writable directory"):
        cache.cache_dir("numba")


def test_a_cache_path_that_is_a_file_is_a_one_line_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("OPMODELS_CACHE_DIR", str(tmp_path / "file"))
    with pytest.raises(OpmodelsError, match="cannot create the cache directory"):
        cache.cache_dir("numba")
