"""MACs per sample of Conv2d / Linear layers: the one place they are counted.

Layers count their own on the first forward, :func:`netsim.calibrate` while it observes the inputs,
and the search weights its cost by :func:`count_macs`; all three use :func:`layer_macs`.
"""
from __future__ import annotations

import torch
from torch import nn


def layer_macs(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Multiply-accumulates per sample of a Conv2d or Linear ``module`` that mapped ``x`` to ``y``."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return (y[0].numel() if y.dim() == 4 else y.numel()) * module.in_channels // module.groups * kh * kw
    per_sample = x[0].numel() if x.dim() > 1 else x.numel()
    return per_sample * module.out_features


@torch.no_grad()
def count_macs(model: nn.Module, layers: dict, input_shape: tuple) -> dict:
    """{name: MACs per sample} of ``layers`` (name -> module of ``model``) on one zero input."""
    macs = {}

    def record(name):
        def hook(module, inputs, output):
            macs[name] = layer_macs(module, inputs[0], output)  # returns None: the output stays as it is
        return hook

    hooks = [layer.register_forward_hook(record(name)) for name, layer in layers.items()]
    was_training = model.training
    try:
        model.eval()(torch.zeros((1, *input_shape)))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return macs
