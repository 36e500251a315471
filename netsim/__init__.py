"""netsim: per-layer approximate DNN evaluation in PyTorch.

>>> import netsim
>>> model = netsim.zoo.lenet5(weights="lenet5.pt")                      # doctest: +SKIP
>>> amodel = netsim.convert(model, netsim.Config.load("approx.toml"), calibration=loader)  # doctest: +SKIP
>>> print(netsim.describe(amodel))                                      # doctest: +SKIP
>>> netsim.evaluate(amodel, test_loader)                                # doctest: +SKIP

Submodules load on first use, so ``import netsim`` stays light until torch is needed.
"""
from importlib import import_module

from .config import Config, LayerSettings
from .errors import NetsimError

_LAZY = {
    "convert": ("network", "convert"), "calibrate": ("network", "calibrate"),
    "describe": ("network", "describe"), "evaluate": ("network", "evaluate"),
    "Calibration": ("network", "Calibration"), "product_ops": ("network", "product_ops"),
    "ApproxConv2d": ("layers", "ApproxConv2d"), "ApproxLinear": ("layers", "ApproxLinear"),
}
_SUBMODULES = ("zoo", "data", "quant", "layers", "network", "checkpoint", "train", "backend", "cli", "intercept",
               "products")

__all__ = ["Config", "LayerSettings", "NetsimError", *_LAZY, *_SUBMODULES]


def __getattr__(name):
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(import_module(f".{module}", __name__), attribute)
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'netsim' has no attribute {name!r}")
