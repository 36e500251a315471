"""torchvision and timm models by name: ``torchvision:<name>`` and ``timm:<name>``.

Neither package is a requirement of netsim; each is imported only when one of its models is asked for.
The models are built without pretrained weights (nothing is downloaded); give ``weights=`` a checkpoint
written by :func:`netsim.checkpoint.save` (or a bare ``state_dict`` file) to load trained ones. Any
keyword argument goes to the package's builder, e.g. ``num_classes=10`` or, for timm,
``in_chans=1, img_size=28``.

The builds that match the pinned torch (2.13.0+cpu) are torchvision 0.28.0 (torch 2.N pairs with
torchvision 0.(N+15)) from PyTorch's CPU index, and timm from PyPI (it needs torchvision)::

    pip install torchvision==0.28.0 --index-url https://download.pytorch.org/whl/cpu
    pip install timm
"""
from __future__ import annotations

import difflib
import importlib

from torch import nn

from .errors import NetsimError

PREFIXES = ("torchvision", "timm")


def matching_torchvision() -> str:
    """The torchvision release series of the installed torch: 2.N pairs with 0.(N+15)."""
    import torch
    major, minor = (int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
    return f"0.{minor + 15}.*" if major == 2 else "<the release matching torch " + torch.__version__ + ">"


def _install(prefix: str) -> str:
    torchvision = (f"pip install 'torchvision=={matching_torchvision()}' "
                   f"--index-url https://download.pytorch.org/whl/cpu")
    return torchvision if prefix == "torchvision" else f"{torchvision}, then pip install timm"


def is_external(name) -> bool:
    """True for ``torchvision:<name>`` and ``timm:<name>``."""
    return isinstance(name, str) and name.partition(":")[0].lower() in PREFIXES and ":" in name


def _package(prefix: str):
    try:
        return importlib.import_module(prefix)
    except ImportError as error:
        raise NetsimError(f"{prefix} models need the {prefix} package, which is not importable ({error}); "
                          f"{_install(prefix)}") from None
    except RuntimeError as error:  # a torchvision built for another torch fails while registering its ops
        raise NetsimError(f"{prefix} cannot be imported with this torch ({error}); install the build that "
                          f"matches torch: {_install(prefix)}") from None


def available(prefix: str) -> str | None:
    """None when ``prefix``'s package imports, else the reason it does not (for skip messages)."""
    try:
        _package(prefix)
    except NetsimError as error:
        return str(error)
    return None


def model_names(prefix: str) -> list:
    package = _package(prefix)
    return list(package.models.list_models() if prefix == "torchvision" else package.list_models())


def build(name: str, **kwargs) -> nn.Module:
    """A torchvision or timm model, randomly initialised, by ``prefix:name``."""
    prefix, _, model = name.partition(":")
    prefix = prefix.lower()
    if prefix not in PREFIXES or not model:
        raise NetsimError(f"external model names look like torchvision:<name> or timm:<name>, not {name!r}")
    package = _package(prefix)
    known = model_names(prefix)
    if model not in known:
        close = difflib.get_close_matches(model, known, n=3)
        hint = f"; did you mean {', '.join(f'{prefix}:{c}' for c in close)}?" if close else ""
        raise NetsimError(f"{prefix} has no model {model!r}{hint}")
    try:
        if prefix == "torchvision":
            return package.models.get_model(model, weights=None, **kwargs)
        return package.create_model(model, pretrained=False, **kwargs)
    except TypeError as error:  # an argument the builder does not take
        raise NetsimError(f"{name}: {error}") from None
