"""Training of zoo models (float), with a progress bar; used by ``netsim train``."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .errors import NetsimError
from .network import _progress, evaluate


def _shift(x: torch.Tensor, generator: torch.Generator, pixels: int) -> torch.Tensor:
    """Random translation by up to ``pixels`` in each direction (zero fill), one per batch."""
    if pixels <= 0:
        return x
    dy, dx = (int(v) for v in torch.randint(-pixels, pixels + 1, (2,), generator=generator))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if dy > 0:
        x[:, :, :dy] = 0
    elif dy < 0:
        x[:, :, dy:] = 0
    if dx > 0:
        x[:, :, :, :dx] = 0
    elif dx < 0:
        x[:, :, :, dx:] = 0
    return x


def check_hyperparameters(epochs: int, lr: float, weight_decay: float = 0.0) -> None:
    """One-line errors for values that would train nothing or diverge at once."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise NetsimError(f"epochs must be a positive integer, not {epochs!r}")
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 10:
        raise NetsimError(f"lr must be a finite number in (0, 10], not {lr!r}")
    if not isinstance(weight_decay, (int, float)) or not math.isfinite(weight_decay) or weight_decay < 0:
        raise NetsimError(f"weight decay must be a finite number >= 0, not {weight_decay!r}")


def fit(model: nn.Module, train_loader, epochs: int = 20, lr: float = 2e-3, weight_decay: float = 1e-4,
        seed: int = 0, shift: int = 2, progress: bool = True, test_loader=None) -> list:
    """Adam with cosine learning-rate decay; returns per-epoch records (loss, test accuracy if given).

    Stops with an error when the loss or the weights stop being finite: a diverged run must not
    end in a checkpoint of NaN weights."""
    check_hyperparameters(epochs=epochs, lr=lr, weight_decay=weight_decay)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = max(1, epochs * len(train_loader))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.15)
    history = []
    bar = _progress(range(epochs), "train", progress)
    for epoch in bar:
        model.train()
        total = count = 0.0
        for x, y in train_loader:
            x = _shift(x.clone(), generator, shift) if x.dim() == 4 else x
            loss = F.cross_entropy(model(x), y)
            if not torch.isfinite(loss):
                raise NetsimError(f"training diverged in epoch {epoch + 1}: the loss is {loss.item()} "
                                  f"(learning rate {lr:g}; try a smaller --lr); nothing was written")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(y)
            count += len(y)
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise NetsimError(f"training diverged in epoch {epoch + 1}: the weights are no longer finite "
                              f"(learning rate {lr:g}; try a smaller --lr); nothing was written")
        record = {"epoch": epoch + 1, "loss": total / count}
        if test_loader is not None:
            record["test_accuracy"] = evaluate(model, test_loader, progress=False)
        history.append(record)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k != "epoch"})
    model.eval()
    return history
