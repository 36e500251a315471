"""Training of zoo models (float), with a progress bar; used by ``netsim train``."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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


def fit(model: nn.Module, train_loader, epochs: int = 20, lr: float = 2e-3, weight_decay: float = 1e-4,
        seed: int = 0, shift: int = 2, progress: bool = True, test_loader=None) -> list:
    """Adam with cosine learning-rate decay; returns per-epoch records (loss, test accuracy if given)."""
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
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(y)
            count += len(y)
        record = {"epoch": epoch + 1, "loss": total / count}
        if test_loader is not None:
            record["test_accuracy"] = evaluate(model, test_loader, progress=False)
        history.append(record)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k != "epoch"})
    model.eval()
    return history
