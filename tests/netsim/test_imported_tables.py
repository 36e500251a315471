"""An imported table runs in netsim through the operator directory: an exact table gives the
quantized exact layer bit for bit (the identity test), an approximate one equals the numpy reference
built from its own table."""
import numpy as np
import pytest
import torch
from torch import nn

import opmodels
from netsim.config import LayerSettings
from netsim.layers import ApproxConv2d, ApproxLinear
from opmodels.importers import tables

S8 = np.arange(-128, 128)
ROWS = (np.arange(256) + 128) % 256  # pattern -> value index


@pytest.fixture
def ops(tmp_path, monkeypatch):
    np.save(tmp_path / "exact.npy", (S8[:, None] * S8[None, :])[np.ix_(ROWS, ROWS)].astype(np.int32))
    opmodels.store(tables.import_table(tmp_path / "exact.npy", "npy", "TABEXACT", signed=True, exact=True),
                   tmp_path / "ops")
    monkeypatch.setenv("OPMODELS_OPS", str(tmp_path / "ops"))
    return tmp_path / "ops"


def approx(layer, input_range=2.0, **settings):
    cls = ApproxConv2d if isinstance(layer, nn.Conv2d) else ApproxLinear
    return cls.from_float(layer, LayerSettings(**settings), "layer", input_range)


@pytest.mark.parametrize("recode", ["weight", "activation"])
def test_imported_exact_table_is_the_quantized_exact_layer(ops, recode):
    torch.manual_seed(0)
    conv, linear = nn.Conv2d(3, 4, 3, padding=1), nn.Linear(20, 5)
    x, v = torch.randn(2, 3, 7, 6), torch.randn(4, 20) * 3
    with torch.no_grad():
        assert torch.equal(approx(conv)(x), approx(conv, multiplier="TABEXACT", recode=recode)(x))
        assert torch.equal(approx(linear, 8.0)(v), approx(linear, 8.0, multiplier="TABEXACT", recode=recode)(v))
