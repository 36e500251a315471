"""Approximate Conv2d / Linear: identity with the exact quantized layers (M*P0, LOA0, behavioural
wide operands), equality with numpy references built from the LUT, LOA accumulation against the spec
written out, behavioural (16-bit) mode, the straight-through gradient."""
import numpy as np
import pytest
import torch
from torch import nn

import opmodels
from netsim import backend
from netsim.config import Config, LayerSettings
from netsim.layers import ApproxConv2d, ApproxLinear
from netsim.network import convert
from tests.utils import conv2d_reference, mac_from_spec, matmul_reference, unfold

LOGICS = [f"M{m}P0" for m in range(1, 7)]


def conv_layer(seed=0, **kwargs):
    torch.manual_seed(seed)
    return nn.Conv2d(**{"in_channels": 4, "out_channels": 6, "kernel_size": 3, **kwargs})


def approx(layer, input_range=2.0, **settings):
    settings = LayerSettings(**settings)
    cls = ApproxConv2d if isinstance(layer, nn.Conv2d) else ApproxLinear
    return cls.from_float(layer, settings, "layer", input_range)


def quantized_operands(layer, x):
    """The integers an approximate layer feeds its multiplier (quantized input and weight)."""
    xq = torch.round(x / layer.input_scale.float()).clamp(-127, 127).to(torch.int64)
    return xq, layer.weight_q.to(torch.int64)


CONV_CASES = [dict(), dict(padding=1), dict(stride=2, padding=2, dilation=2),
              dict(in_channels=4, out_channels=8, groups=2, padding=1),
              dict(in_channels=4, out_channels=4, groups=4, padding=1),  # depthwise
              dict(padding=(1, 0), stride=(2, 1), bias=False), dict(padding="same")]


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
@pytest.mark.parametrize("multiplier", ["M1P0", "M4P0", "M6P0"])
def test_identity_conv(case, multiplier):
    """With any M*P0 and the exact adder the approximate layer equals the quantized exact layer."""
    layer = conv_layer(**case)
    x = torch.randn(2, layer.in_channels, 9, 8)
    exact = approx(layer, w_granularity="channel")
    approximate = approx(layer, multiplier=multiplier, w_granularity="channel")
    with torch.no_grad():
        assert torch.equal(exact(x), approximate(x))


@pytest.mark.parametrize("multiplier", LOGICS)
@pytest.mark.parametrize("recode", ["weight", "activation"])
def test_identity_linear(multiplier, recode):
    torch.manual_seed(1)
    layer = nn.Linear(37, 5)
    x = torch.randn(6, 37) * 3
    with torch.no_grad():
        assert torch.equal(approx(layer, 8.0)(x), approx(layer, 8.0, multiplier=multiplier, recode=recode)(x))


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
@pytest.mark.parametrize("multiplier", ["exact", "M4P0"])
def test_identity_loa0_conv(case, multiplier):
    """LOA0 (the exact adder written as a LOA with l = 0) accumulates like the exact 32-bit adder: the
    layer equals the quantized exact layer bit for bit, on the kernels' LOA accumulation path."""
    layer = conv_layer(**case)
    x = torch.randn(2, layer.in_channels, 9, 8)
    exact = approx(layer)
    loa0 = approx(layer, multiplier=multiplier, adder="LOA0")
    assert loa0.adder_op.id == "LOA0" and loa0.acc_width == exact.acc_width == 32
    with torch.no_grad():
        assert torch.equal(exact(x), loa0(x))


@pytest.mark.parametrize("recode", ["weight", "activation"])
def test_identity_loa0_linear(recode):
    torch.manual_seed(2)
    layer = nn.Linear(300, 7)  # a long reduction: 300 LOA0 additions per output
    x = torch.randn(5, 300) * 3
    with torch.no_grad():
        assert torch.equal(approx(layer, 8.0)(x), approx(layer, 8.0, multiplier="M2P0", adder="LOA0", recode=recode)(x))


WIDE = ["EXACTW10", "M1P0W10", "M5P0W12", "M4P0"]  # "M4P0" at 10 bits runs as M4P0W16


@pytest.mark.parametrize("multiplier", WIDE)
@pytest.mark.parametrize("recode", ["weight", "activation"])
def test_identity_behavioural_linear(multiplier, recode):
    """10-bit operands do not fit a lookup table: an exact (p = 0) multiplier runs behaviourally and
    still equals the quantized exact 10-bit layer bit for bit."""
    torch.manual_seed(4)
    layer = nn.Linear(45, 6)
    x = torch.randn(7, 45) * 2
    exact = approx(layer, 6.0, w_bits=10, a_bits=10)
    wide = approx(layer, 6.0, multiplier=multiplier, w_bits=10, a_bits=10, recode=recode)
    assert wide.multiplier_op.width > 8 and int(wide.weight_q.abs().max()) == 511
    with torch.no_grad():
        assert torch.equal(exact(x), wide(x))


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
@pytest.mark.parametrize("multiplier", ["EXACTW10", "M1P0W10"])
def test_identity_behavioural_conv(case, multiplier):
    layer = conv_layer(**case)
    x = torch.randn(2, layer.in_channels, 9, 8)
    exact = approx(layer, w_bits=10, a_bits=10, w_granularity="channel")
    wide = approx(layer, multiplier=multiplier, w_bits=10, a_bits=10, w_granularity="channel")
    assert wide.multiplier_op.id == multiplier
    with torch.no_grad():
        assert torch.equal(exact(x), wide(x))


def test_identity_whole_model_every_path():
    from netsim import zoo
    torch.manual_seed(0)
    model = zoo.lenet5().eval()
    x = torch.rand(4, 1, 28, 28)
    exact = convert(model, Config.uniform(), [x])
    via_kernels = convert(model, Config.uniform(multiplier="M3P0", recode="activation"), [x])
    with torch.no_grad():
        assert torch.equal(exact(x), via_kernels(x))


@pytest.mark.parametrize("multiplier, adder, recode", [
    ("M4P8", "exact", "weight"), ("M1P14", "LOA8", "weight"), ("M2P14", "exact", "activation"),
    ("M6P8", "LOA4", "activation")])
@pytest.mark.parametrize("case", CONV_CASES[:6], ids=[str(c) for c in CONV_CASES[:6]])
def test_conv_equals_numpy_lut_reference(case, multiplier, adder, recode):
    """The accumulator of an approximate Conv2d equals a numpy convolution that gathers from the LUT."""
    layer = approx(conv_layer(**case), multiplier=multiplier, adder=adder, recode=recode)
    x = torch.randn(2, layer.in_channels, 7, 6)
    xq, wq = quantized_operands(layer, x)
    acc = layer._integer_forward(xq.to(torch.int8))
    expected = conv2d_reference(xq.numpy(), wq.numpy(), multiplier, adder, 32, layer.stride, layer.padding,
                                layer.dilation, layer.groups, "w" if recode == "weight" else "x")
    assert np.array_equal(acc.numpy(), expected)
    # and the float output is that accumulator rescaled, plus the bias
    with torch.no_grad():
        y = layer(x)
    scale = (layer.input_scale * layer.weight_scale).item()
    bias = 0 if layer.bias is None else layer.bias.detach().double().reshape(1, -1, 1, 1)
    assert torch.allclose(y.double(), torch.from_numpy(expected).double() * scale + bias, atol=1e-5)


def test_conv_numpy_reference_written_out():
    """A second, loop-based reference: every output is a sum of LUT entries of the unfolded patch."""
    layer = approx(conv_layer(in_channels=2, out_channels=2, kernel_size=2, padding=1), multiplier="M4P8")
    x = torch.randn(1, 2, 3, 3)
    xq, wq = quantized_operands(layer, x)
    acc = layer._integer_forward(xq.to(torch.int8)).numpy()
    lut = opmodels.get("M4P8").lut()
    padded = np.pad(xq.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))  # zeros are operands: P(0, w) counts
    for o in range(2):
        for i in range(4):
            for j in range(4):
                total = sum(int(lut[padded[0, c, i + r, j + s] & 0xFF, wq[o, c, r, s] & 0xFF])
                            for c in range(2) for r in range(2) for s in range(2))
                assert acc[0, o, i, j] == total


@pytest.mark.parametrize("multiplier, adder", [("M4P8", "exact"), ("M5P12", "LOA6W24"), ("M2P4", "LOA8")])
def test_linear_equals_numpy_lut_reference(multiplier, adder):
    torch.manual_seed(2)
    layer = approx(nn.Linear(50, 7), 4.0, multiplier=multiplier, adder=adder)
    x = torch.randn(2, 3, 50)  # extra leading dimension
    xq, wq = quantized_operands(layer, x)
    acc = layer._integer_forward(xq.to(torch.int8))
    width = opmodels.get(adder).width if adder != "exact" else 32
    expected = matmul_reference(xq.reshape(-1, 50).numpy(), wq.t().numpy(), multiplier, adder, width)
    assert np.array_equal(acc.reshape(-1, 7).numpy(), expected)


def test_behavioural_mode_16_bits_equals_interpreter():
    torch.manual_seed(3)
    layer = approx(nn.Linear(6, 3), 4.0, multiplier="M4P8", w_bits=12, a_bits=16)
    assert layer.multiplier_op.id == "M4P8W16" and layer.acc_width == 64
    x = torch.randn(4, 6)
    xq = torch.round(x / layer.input_scale.float()).clamp(-32767, 32767).to(torch.int64)
    acc = layer._integer_forward(xq.to(torch.int16))
    op = opmodels.get("M4P8W16")
    expected = op.evaluate(xq.numpy()[:, :, None], layer.weight_q.t().numpy().astype(np.int64)[None]).sum(axis=1)
    assert np.array_equal(acc.numpy(), expected)
    assert layer.weight_q.dtype == torch.int16 and int(layer.weight_q.abs().max()) == 2047


@pytest.mark.parametrize("multiplier, adder", [("M3P6", "LOA5"), ("M2P8", "LOA8W20"), ("M4P8", "LOA0")])
def test_loa_accumulation_equals_the_spec_written_out(multiplier, adder):
    """The backend's LOA accumulation against spec section 7 written out by hand (not from the IR)."""
    rng = np.random.default_rng(4)
    x = torch.from_numpy(rng.integers(-127, 128, (2, 4, 6, 5)).astype(np.int8))
    w = torch.from_numpy(rng.integers(-127, 128, (6, 2, 3, 3)).astype(np.int8))
    op, add = opmodels.get(multiplier), opmodels.get(adder)
    lut = op.lut().astype(np.int64)
    for booth in "wx":
        got = backend.conv2d(x, w, op, add, add.width, 1, 1, 1, 2, booth).numpy()
        expected = []
        for g in range(2):
            cols = unfold(x[:, 2 * g:2 * g + 2].numpy(), 3, 3, padding=(1, 1))[:, None]  # [N, 1, Ho, Wo, K]
            wg = w[3 * g:3 * g + 3].reshape(3, -1).numpy().astype(np.int64)[None, :, None, None, :]  # [1, Og, 1, 1, K]
            a, b = (cols, wg) if booth == "w" else (wg, cols)
            expected.append(mac_from_spec(lut[a & 0xFF, b & 0xFF], add.width, add.params["l"]))
        assert np.array_equal(got, np.concatenate(expected, axis=1))


def test_sixteen_bit_quantized_model_is_close_to_float():
    """At 16 bits the quantized-exact network is within 2e-3 (relative to the logits' range) of fp32."""
    from netsim import zoo
    torch.manual_seed(0)
    model = zoo.lenet5().eval()
    x = torch.rand(16, 1, 28, 28)
    quantized = convert(model, Config.uniform(w_bits=16, a_bits=16), [x])
    with torch.no_grad():
        reference_out, out = model(x), quantized(x)
    assert (out - reference_out).abs().max() <= 2e-3 * reference_out.abs().max()
    coarse = convert(model, Config.uniform(w_bits=4, a_bits=4), [x])
    with torch.no_grad():
        assert (coarse(x) - reference_out).abs().max() > (out - reference_out).abs().max()


def test_layer_keeps_torch_behaviour():
    layer = approx(conv_layer(padding=1), multiplier="M4P8")
    assert isinstance(layer, nn.Conv2d) and layer.weight.requires_grad
    assert "multiplier=M4P8" in repr(layer)
    floating = approx(conv_layer(padding=1), quantize=False)
    x = torch.randn(1, 4, 5, 5)
    with torch.no_grad():
        assert torch.equal(floating(x), nn.functional.conv2d(x, floating.weight, floating.bias, padding=1))


def test_straight_through_gradient():
    torch.manual_seed(5)
    layer = approx(nn.Linear(8, 3), 3.0, multiplier="M4P8")
    x = torch.randn(5, 8, requires_grad=True)
    y = layer(x)
    with torch.no_grad():
        assert torch.equal(y, layer(x))  # the value is the approximate layer's
    y.sum().backward()
    assert x.grad is not None and layer.weight.grad is not None
    # d(sum y)/dW[n, k] = sum over the batch of the quantized input: the float layer's gradient there
    xq = torch.round(x.detach() / layer.input_scale.float()).clamp(-127, 127) * layer.input_scale.float()
    assert torch.allclose(layer.weight.grad, xq.sum(0).expand(3, 8), atol=1e-5)
    assert torch.allclose(x.grad, layer.weight_q.float().mul(layer.weight_scale.float()).sum(0).expand(5, 8))


def test_requantize_after_weight_change():
    layer = approx(nn.Linear(4, 2), 1.0, multiplier="M4P8")
    before = layer.weight_q.clone()
    with torch.no_grad():
        layer.weight.mul_(-1)
    layer.requantize()
    assert torch.equal(layer.weight_q, -before)


def test_one_bit_layer():
    layer = approx(nn.Linear(16, 4), 1.0, multiplier="M4P8", w_bits=1, a_bits=1)
    assert set(layer.weight_q.unique().tolist()) <= {-1, 1}
    with torch.no_grad():
        y = layer(torch.randn(3, 16))
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("make", [lambda: nn.Conv2d(256, 4, 3, padding=1), lambda: nn.Linear(3000, 5)],
                         ids=["conv", "linear"])
def test_identity_when_the_exact_sum_is_chunked(make):
    """Long reductions (bound >= 2^24) take the exact path in float32 chunks: still bit for bit."""
    torch.manual_seed(6)
    layer = make()
    exact = approx(layer, 4.0)
    assert exact._exact_chunk is not None and exact._exact_dtype == torch.float32
    x = torch.rand((2, 256, 5, 5) if isinstance(layer, nn.Conv2d) else (3, 3000)) * 4
    via_kernels = approx(layer, 4.0, multiplier="M2P0")
    with torch.no_grad():
        assert torch.equal(exact(x), via_kernels(x))
    xq = torch.round(x / exact.input_scale.float()).clamp(-127, 127).to(torch.int8)
    expected = (F_conv(xq, exact) if isinstance(layer, nn.Conv2d)
                else xq.long() @ exact.weight_q.long().t())
    assert torch.equal(exact._integer_forward(xq), expected)


def F_conv(xq, layer):
    """Exact integer convolution in float64 (every value and sum here is far below 2^53)."""
    return nn.functional.conv2d(xq.double(), layer.weight_q.double(), None, layer.stride, layer.padding).long()


@pytest.mark.parametrize("make", [lambda: conv_layer(padding=1), lambda: nn.Linear(40, 12)])
def test_forward_is_the_dequantized_integer_result(make):
    """The forward pass has the kernels write float accumulators directly: the same values as the
    int64 accumulators converted and rescaled."""
    layer = approx(make(), 3.0, multiplier="M4P8", adder="LOA6")
    x = torch.randn(3, layer.in_channels, 7, 6) if isinstance(layer, nn.Conv2d) else torch.randn(9, 40)
    xq = torch.round(x / layer.input_scale).clamp(-127, 127).to(torch.int8)
    with torch.no_grad():
        y = layer(x)
        acc = layer._integer_forward(xq)
    expected = acc.to(torch.float32) * (layer.input_scale * layer.weight_scale).to(torch.float32)
    expected += layer.bias.detach().reshape((1, -1) + (1,) * (y.dim() - 2))
    assert torch.equal(y, expected)


@pytest.mark.parametrize("multiplier", ["M4P8", "exact"])
def test_a_weight_changed_in_place_changes_the_result(multiplier):
    """No stale tables: the kernels key their per-weight tables by the weights' content, so after an
    in-place change (and requantize) the layer computes with the new weights - the result equals a
    fresh layer built from them, and differs from the old one."""
    torch.manual_seed(3)
    layer = approx(nn.Linear(64, 48), 4.0, multiplier=multiplier)
    x = torch.rand(40, 64) * 4
    with torch.no_grad():
        before = layer(x)
        layer.weight[5:9].mul_(-0.5)
        layer.requantize()
        after = layer(x)
        fresh = approx(nn.Linear(64, 48), 4.0, multiplier=multiplier)
        fresh.weight.copy_(layer.weight)
        fresh.bias.copy_(layer.bias)
        fresh.requantize()
        assert torch.equal(after, fresh(x))
    assert not torch.equal(before[:, 5:9], after[:, 5:9])
