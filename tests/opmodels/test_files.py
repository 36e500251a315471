"""Atomic output (opmodels.files): a set of files appears together or not at all, a killed run's
temporaries are removed by the next run, and nobody else's files are touched."""
import os
import subprocess
import sys

import pytest

from opmodels import files
from opmodels.errors import OpmodelsError


def test_a_failed_set_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        files.write_atomic_set({tmp_path / "a.npy": b"fine", tmp_path / "b.json": 42})
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_are_cleaned_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [tmp_path / f".M4P8.npy.{dead.pid}.abcd_123.tmp", tmp_path / ".M4P8.h.zz9_ab12.tmp"]
    live = tmp_path / f".M4P8.json.{os.getppid()}.abcd_123.tmp"   # a run still going
    others = [tmp_path / "notes.tmp", tmp_path / ".hidden", tmp_path / "M4P8.npy"]
    for path in [*stale, live, *others]:
        path.write_bytes(b"x")
    assert sorted(files.clean_temporaries(tmp_path)) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted([live, *others])


@pytest.mark.parametrize("name, message", [("", "needs a directory name"), ("file", "is a file, not a directory"),
                                           ("file/sub", "cannot create the directory")])
def test_prepare_directory_refuses_bad_paths(tmp_path, monkeypatch, name, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OpmodelsError, match=message):
        files.prepare_directory(name)


def test_prepare_directory_refuses_a_directory_where_a_file_goes(tmp_path):
    (tmp_path / "M4P8.v").mkdir()
    with pytest.raises(OpmodelsError, match="M4P8.v"):
        files.prepare_directory(tmp_path, ["LOA8.v", "M4P8.v"])
