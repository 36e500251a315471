"""Datasets: the embedded MNIST sample and the local loaders (synthesised files, no downloads)."""
import gzip
import pickle

import numpy as np
import pytest
import torch

from netsim import data
from netsim.errors import NetsimError


def test_embedded_mnist_split_is_deterministic_and_disjoint():
    train, test = data.load("mnist5k", "train"), data.load("mnist5k", "test")
    assert len(train) == 4000 and len(test) == 1000
    x, y = train.tensors
    assert x.shape == (4000, 1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.bincount(y).tolist() == [400] * 10 and torch.bincount(test.tensors[1]).tolist() == [100] * 10
    again = data.load("mnist5k", "train")
    assert torch.equal(again.tensors[0], x) and torch.equal(again.tensors[1], y)
    train_rows = {row.numpy().tobytes() for row in x.reshape(4000, -1)}
    overlap = sum(row.numpy().tobytes() in train_rows for row in test.tensors[0].reshape(1000, -1))
    assert overlap <= 5  # a few digits in the sample may be byte-identical duplicates


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload)
    path.write_bytes(payload)


def test_mnist_idx_loader(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (5, 28, 28)), np.array([1, 2, 3, 4, 5])
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    dataset = data.load(f"mnist:{tmp_path}", "test")
    assert torch.allclose(dataset.tensors[0][:, 0] * 255, torch.from_numpy(images).float())
    assert dataset.tensors[1].tolist() == [1, 2, 3, 4, 5]
    with pytest.raises(NetsimError, match="train-images-idx3-ubyte.*not found.*t10k-labels-idx1-ubyte"):
        data.load(f"mnist:{tmp_path}", "train")


def test_cifar10_loader(tmp_path):
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
    with open(tmp_path / "test_batch", "wb") as handle:
        pickle.dump({b"data": raw, b"labels": [7, 8, 9]}, handle)
    dataset = data.load(f"cifar10:{tmp_path}", "test")
    assert dataset.tensors[0].shape == (3, 3, 32, 32) and dataset.tensors[1].tolist() == [7, 8, 9]
    assert float(dataset.tensors[0][1, 2, 0, 5]) == pytest.approx(raw[1, 2 * 1024 + 5] / 255)
    with pytest.raises(NetsimError, match="data_batch_1 not found.*data_batch_5, test_batch"):
        data.load(f"cifar10:{tmp_path}", "train")


def test_image_folder_loader(tmp_path):
    for name, value in (("cat", 10), ("dog", 200)):
        folder = tmp_path / "train" / name
        folder.mkdir(parents=True)
        np.save(folder / "a.npy", np.full((4, 5, 3), value, dtype=np.uint8))
        (folder / "b.ppm").write_bytes(b"P6\n# comment\n5 4\n255\n" + bytes([value]) * 60)
    dataset = data.load(f"folder:{tmp_path}", "train")
    x, y = dataset.tensors
    assert x.shape == (4, 3, 4, 5) and y.tolist() == [0, 0, 1, 1]
    assert float(x[3].mean()) == pytest.approx(200 / 255)
    with pytest.raises(NetsimError, match="test/<class>/<image>"):
        data.load(f"folder:{tmp_path}", "test")


def test_png_without_pillow_names_what_is_needed(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_pillow(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("no PIL")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pillow)
    folder = tmp_path / "train" / "one"
    folder.mkdir(parents=True)
    (folder / "c.png").write_bytes(b"not really a png")
    with pytest.raises(NetsimError, match="needs Pillow.*npy, .pgm and .ppm work without it"):
        data.load(f"folder:{tmp_path}", "train")


def test_pgm_reader(tmp_path):
    folder = tmp_path / "test" / "zero"
    folder.mkdir(parents=True)
    (folder / "x.pgm").write_bytes(b"P5 3 2 255\n" + bytes(range(6)))
    x, _ = data.load(f"folder:{tmp_path}", "test").tensors
    assert (x[0, 0] * 255).round().tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("name, message", [("imagenet", "unknown dataset"), ("mnist", "needs a directory"),
                                           ("mnist5k:/x", "takes no directory")])
def test_bad_dataset_names(name, message):
    with pytest.raises(NetsimError, match=message):
        data.load(name)


def test_bad_split():
    with pytest.raises(NetsimError, match="split must be"):
        data.load("mnist5k", "val")
