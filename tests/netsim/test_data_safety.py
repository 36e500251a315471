"""Every dataset file may be empty, truncated, garbage or hostile: one-line errors, no code run."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from netsim import data
from netsim.errors import NetsimError


class _RunsCode:
    """What a crafted pickle does: on load, call a function of the attacker's choice."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # creates a file: a harmless stand-in for os.system


def _cifar_dir(tmp_path, test_batch):
    directory = tmp_path / "cifar"
    directory.mkdir()
    (directory / "test_batch").write_bytes(test_batch)
    return directory


def test_a_crafted_cifar_batch_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    batch = pickle.dumps({b"data": _RunsCode(marker), b"labels": [0]}, protocol=2)
    with pytest.raises(NetsimError, match="names io.open, which a CIFAR-10 batch never holds"):
        data.load(f"cifar10:{_cifar_dir(tmp_path, batch)}", "test")
    assert not marker.exists()


def test_a_real_cifar_batch_still_loads(tmp_path):
    images = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    batch = pickle.dumps({b"batch_label": b"testing batch 1 of 1", b"labels": [3, 9], b"data": images,
                          b"filenames": [b"a.png", b"b.png"]}, protocol=2)
    dataset = data.load(f"cifar10:{_cifar_dir(tmp_path, batch)}", "test")
    assert dataset.tensors[0].shape == (2, 3, 32, 32) and dataset.tensors[1].tolist() == [3, 9]


@pytest.mark.parametrize("payload,message", [
    (b"", "not a CIFAR-10 python batch"),
    (b"garbage that is not a pickle", "not a CIFAR-10 python batch"),
    (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8)}), "KeyError"),
    (pickle.dumps({b"data": np.zeros((1, 10), np.uint8), b"labels": [1]}), r"shape \[N, 3072\]"),
    (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [12]}), "integers in 0..9"),
])
def test_bad_cifar_batches_are_one_line_errors(tmp_path, payload, message):
    with pytest.raises(NetsimError, match=message) as error:
        data.load(f"cifar10:{_cifar_dir(tmp_path, payload)}", "test")
    assert "\n" not in str(error.value) and "test_batch" in str(error.value)


def _folder_with(tmp_path, name, payload):
    for split in ("train", "test"):
        (tmp_path / split / "zero").mkdir(parents=True)
    (tmp_path / "test" / "zero" / name).write_bytes(payload)
    return f"folder:{tmp_path}"


def _npy(array) -> bytes:
    import io
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("name,payload,message", [
    ("x.npy", b"not an npy file", "not a readable .npy image array"),
    ("x.npy", b"", "not a readable .npy image array"),
    ("x.npy", _npy(np.array([{"a": 1}], dtype=object)), "not a readable .npy image array"),
    ("x.npy", _npy(np.full((4, 4), np.nan, np.float32)), "NaN or Inf"),
    ("x.npy", _npy(np.zeros((4, 4), np.uint16)), "uint8 0..255 or float 0..1, not uint16"),
    ("x.pgm", b"P5\n4 4\n255\n" + b"\x00" * 5, "truncated"),
    ("x.pgm", b"P5\n4", "header ends early"),
    ("x.pgm", b"P2\n4 4\n255\n" + b"\x00" * 16, "not magic"),
    ("x.pgm", b"P5\nfour 4\n255\n" + b"\x00" * 16, "not a binary 8-bit PGM"),
    ("x.pgm", b"P5\n4 4\n65535\n" + b"\x00" * 32, "maxval 1..255"),
])
def test_bad_image_files_name_the_file_in_one_line(tmp_path, name, payload, message):
    with pytest.raises(NetsimError, match=message) as error:
        data.load(_folder_with(tmp_path, name, payload), "test")
    assert "\n" not in str(error.value) and name in str(error.value)
