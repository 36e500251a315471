"""Operands as the multiplier's ports take them (netsim.config.operands): an unsigned activation port
receives unsigned activations 0..2^n-1; an unsigned weight port receives the weights plus an offset,
removed exactly after the sum, or the layer is refused with a message that says what to choose; each
operand must fit its own port (8 x 4). Operators come from an operator directory of the config's
[operators] table, stored with opmodels.store. References are numpy formulas, not the layers' code."""
import numpy as np
import pytest
import torch
from torch import nn

import opmodels
from netsim import NetsimError
from netsim.config import Config
from netsim.layers import ApproxConv2d, ApproxLinear
from tests.opmodels.test_operands import build, truncated


@pytest.fixture
def ops(tmp_path):
    directory = tmp_path / "ops"
    for op_id in ("u8x8", "s8xu8", "u8x4"):
        opmodels.store(build(op_id), directory)
    exact = opmodels.Operator.from_function("u8exact", "multiplier", 8, _exact_unsigned, signed=False)
    opmodels.store(exact, directory)
    return directory


def _exact_unsigned(a, b):
    wide = a.zext(16)
    rows = [(wide << i) & b[i].replicate(16) for i in range(8)]
    total = rows[0]
    for row in rows[1:]:
        total = total + row
    return total


def config(ops, **default) -> Config:
    from netsim.config import toml
    text = "[default]\n" + "".join(f"{k} = {toml.value(v)}\n" for k, v in default.items())
    return Config.loads(text + f'\n[operators]\nops = ["{ops}"]\n')


def approximate(layer, cfg: Config, input_range=2.0):
    settings = cfg.base()
    cls = ApproxConv2d if isinstance(layer, nn.Conv2d) else ApproxLinear
    return cls.from_float(layer, settings, "layer", input_range)


def unsigned_operands(layer, x):
    """The unsigned activations (step range / 255) and signed symmetric weights, computed here."""
    step = layer.input_scale.double()
    assert torch.isclose(step, torch.tensor(2.0, dtype=torch.float64) / 255)
    xq = torch.round(x.double() / step).clamp(0, 255).to(torch.int64)
    return xq.numpy(), layer.weight_q.to(torch.int64).numpy()


@pytest.mark.parametrize("op_id, cut", [("u8x8", 4), ("u8exact", 0)])
def test_linear_with_unsigned_activations_and_offset_weights(ops, op_id, cut):
    torch.manual_seed(0)
    layer = nn.Linear(29, 7)
    x = torch.rand(5, 29) * 2.2 - 0.1  # a few values above the range and below 0: clamped
    cfg = config(ops, multiplier=op_id, weight_offset=True)
    approx = approximate(layer, cfg)
    assert approx.operands.weight_offset == 128 and not approx.operands.activation_signed
    xq, wq = unsigned_operands(approx, x)
    assert xq.min() == 0 and xq.max() == 255
    products = truncated(xq[:, :, None], (wq.T + 128)[None, :, :], cut).sum(axis=1)
    want = products - 128 * xq.sum(axis=1, keepdims=True)
    if cut == 0:
        assert np.array_equal(want, xq @ wq.T)  # an exact unsigned multiplier: the offset is removed exactly
    with torch.no_grad():
        got = approx._integer_forward(approx.quantize_input(x, approx.input_scale))
    assert np.array_equal(got.numpy(), want)


def test_conv2d_with_padding_groups_and_an_8x4_multiplier(ops):
    torch.manual_seed(1)
    layer = nn.Conv2d(4, 6, 3, padding=1, groups=2)
    x = torch.rand(2, 4, 7, 6) * 2
    cfg = config(ops, multiplier="u8x4", w_bits=4, weight_offset=True)
    approx = approximate(layer, cfg)
    assert approx.operands.weight_offset == 8
    xq, wq = unsigned_operands(approx, x)
    assert wq.min() >= -7 and wq.max() <= 7
    padded = np.pad(xq, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((2, 6, 7, 6), dtype=np.int64)
    for o in range(6):
        group = slice(2 * (o // 3), 2 * (o // 3) + 2)
        for i in range(7):
            for j in range(6):
                window = padded[:, group, i:i + 3, j:j + 3]
                p = truncated(window, wq[o][None] + 8, 2)
                want[:, o, i, j] = p.sum(axis=(1, 2, 3)) - 8 * window.sum(axis=(1, 2, 3))
    with torch.no_grad():
        got = approx._integer_forward(approx.quantize_input(x, approx.input_scale))
    assert np.array_equal(got.numpy(), want)


def test_an_unsigned_weight_port_without_an_offset_is_refused_with_the_choices(ops):
    with pytest.raises(NetsimError, match=r"u8x8: its weight port b: unsigned 8-bit takes no negative values.*"
                                          r"set weight_offset = true \(the weights enter as q \+ 128"):
        config(ops, multiplier="u8x8")
    with pytest.raises(NetsimError, match=r'or recode = "activation" so the weights feed its signed port a'):
        config(ops, multiplier="s8xu8")


def test_recode_activation_sends_the_activations_to_the_unsigned_port(ops):
    """s8xu8 with recode = "activation": unsigned activations on b, signed weights on a, no offset."""
    torch.manual_seed(2)
    layer = nn.Linear(13, 4)
    x = torch.rand(3, 13) * 2
    approx = approximate(layer, config(ops, multiplier="s8xu8", recode="activation"))
    assert approx.operands.weight_offset == 0 and not approx.operands.activation_signed
    xq, wq = unsigned_operands(approx, x)
    want = truncated(wq.T[None, :, :], xq[:, :, None], 3).sum(axis=1)  # P(a = weight, b = activation)
    with torch.no_grad():
        got = approx._integer_forward(approx.quantize_input(x, approx.input_scale))
    assert np.array_equal(got.numpy(), want)


def test_each_operand_must_fit_its_own_port(ops):
    with pytest.raises(NetsimError, match=r"8-bit weights do not fit its weight port b: unsigned 4-bit; use "
                                          r"w_bits <= 4"):
        config(ops, multiplier="u8x4", weight_offset=True)
    config(ops, multiplier="u8x4", weight_offset=True, w_bits=4, a_bits=8)  # fits


def test_operators_table_paths_are_relative_to_the_config_file(ops, tmp_path, monkeypatch):
    path = tmp_path / "approx.toml"
    path.write_text('[default]\nmultiplier = "u8x8"\nweight_offset = true\n\n[operators]\nops = ["ops"]\n')
    monkeypatch.chdir("/")
    cfg = Config.load(path)
    assert cfg.ops == (str(ops.resolve()),) and cfg.base().multiplier_operator().id == "u8x8"
    again = Config.loads(cfg.to_toml())  # a job's config text keeps the directories (absolute)
    assert again.ops == cfg.ops and again.default == cfg.default
    path.write_text('[default]\nmultiplier = "u8x8"\n\n[operators]\nops = ["nowhere"]\n')
    with pytest.raises(NetsimError, match=r"approx\.toml:5: operator directory 'nowhere' .* is not a directory"):
        Config.load(path)


def test_without_the_directory_an_imported_id_is_unknown(ops, monkeypatch):
    monkeypatch.delenv("OPMODELS_OPS", raising=False)
    with pytest.raises(NetsimError, match="unknown operator 'u8x8'"):
        Config.loads('[default]\nmultiplier = "u8x8"\n')
    monkeypatch.setenv("OPMODELS_OPS", str(ops))
    assert Config.loads('[default]\nmultiplier = "u8x8"\nweight_offset = true\n').base().operands().weight_offset == 128


def test_the_lut_gradient_refuses_unsigned_operands(ops):
    from netsim.explore.finetune import _check_lut_layer
    approx = approximate(nn.Linear(5, 3), config(ops, multiplier="u8x8", weight_offset=True))
    with pytest.raises(NetsimError, match=r"the LUT gradient needs signed operands \(u8x8 is unsigned 8 x "
                                          r"unsigned 8 -> unsigned 16\); use gradient = 'ste'"):
        _check_lut_layer(approx)


def test_a_layer_turned_float_drops_its_kernel_weights(ops):
    approx = approximate(nn.Linear(5, 3), config(ops, multiplier="u8x8", weight_offset=True))
    assert approx.weight_k is not None and int(approx.weight_k.min()) >= 1
    approx.configure(config(ops, quantize=False).base(), "layer")
    assert approx.weight_k is None and approx.weight_q is None


def test_an_intercepted_product_refuses_an_unsigned_multiplier_naming_the_op(ops):
    """Intercepted ops (functional calls, Conv1d/3d, ...) take signed operands only: one line naming the op."""
    import netsim
    import torch.nn.functional as F

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(5, 7))

        def forward(self, x):
            return F.linear(x, self.w)

    amodel = netsim.convert(Model(), config(ops, multiplier="u8x8", weight_offset=True))
    with pytest.raises(NetsimError, match=r"multiplier u8x8 is unsigned 8 x unsigned 8 -> unsigned 16; the "
                                          r"intercepted ops .* take signed operands only"):
        with torch.no_grad():
            amodel(torch.rand(3, 7))
