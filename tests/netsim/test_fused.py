"""The one-pass quantizer (netsim/fused.py) against torch's formula, bit for bit, and where it applies."""
import pytest
import torch

from netsim import fused, quant


def torch_formula(x, scale, limit, dtype):
    """netsim.quant.quantize as written in torch: divide, round half to even, clamp, convert."""
    return torch.round(x / scale.to(x.dtype)).clamp_(-limit, limit).to(dtype)


def awkward(shape, dtype, generator):
    """Random values over several magnitudes, with exact ties (k + 0.5 steps), +-inf, NaN, zeros of both
    signs and values far beyond the clamp."""
    x = torch.randn(shape, generator=generator, dtype=torch.float64).mul_(60).to(dtype)
    flat = x.view(-1)
    specials = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e30, -1e30], dtype=dtype)
    flat[:specials.numel()] = specials[:flat.numel()]
    return x


SCALE_SHAPES = [
    ((4096, 64), ()),                      # a Linear's activations, one step
    ((16, 4, 16, 16), (16, 4, 1, 1)),      # attention's operands, one step per matrix
    ((1, 4, 16, 16), (1, 4, 1, 1)),        # ... with a batch of one
    ((8, 3, 5, 5), (8, 1, 1, 1)),          # one step per sample
    ((7, 5), (7, 5)),                      # one step per element
    ((100,), (1,)),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape,scale_shape", SCALE_SHAPES)
def test_fused_quantize_equals_the_torch_formula(shape, scale_shape, dtype):
    generator = torch.Generator().manual_seed(7)
    x = awkward(shape, dtype, generator)
    for bits, out_dtype in ((8, torch.int8), (4, torch.int8), (12, torch.int16), (16, torch.int16)):
        limit = quant.qmax(bits)
        scale = torch.rand(scale_shape, generator=generator, dtype=torch.float64) * 0.5 + 1e-3
        got = fused.quantize(x, scale, limit, out_dtype)
        assert got is not None and got.dtype == out_dtype and got.shape == x.shape
        assert torch.equal(got, torch_formula(x, scale, limit, out_dtype)), (bits, shape)


def test_ties_round_half_to_even_and_scale_rounded_to_x_dtype():
    x = torch.arange(-600, 601, dtype=torch.float32) * 0.25  # every quarter: exact ties at +-.5
    one = torch.tensor(1.0, dtype=torch.float64)
    assert torch.equal(fused.quantize(x, one, 127, torch.int8), torch_formula(x, one, 127, torch.int8))
    # a float64 step that float32 rounds: the division uses the rounded step, as torch does
    step = torch.tensor(0.1 + 2**-40, dtype=torch.float64)
    y = torch.linspace(-13, 13, 100001)
    assert torch.equal(fused.quantize(y, step, 127, torch.int8), torch_formula(y, step, 127, torch.int8))


def test_views_and_what_it_does_not_take():
    base = torch.randn(16, 8, 12)
    view = base.transpose(1, 2)  # not contiguous: read through a copy
    one = torch.tensor(0.05, dtype=torch.float64)
    assert torch.equal(fused.quantize(view, one, 127, torch.int8), torch_formula(view, one, 127, torch.int8))
    assert fused.quantize(base, torch.rand(16, 1, 12).double(), 127, torch.int8) is None  # step per (n, w)
    assert fused.quantize(base.half(), one, 127, torch.int8) is None
    assert fused.quantize(base, one, 127, torch.int32) is None
    assert fused.quantize(base.requires_grad_(), one, 127, torch.int8) is None
    assert fused.quantize(torch.empty(0, 3), one, 127, torch.int8) is None


def test_quant_quantize_takes_the_fused_loop_with_the_same_integers(monkeypatch):
    x = torch.randn(64, 33) * 5
    scale = torch.tensor(0.04, dtype=torch.float64)
    calls = []
    loop = fused.quantize
    monkeypatch.setattr(fused, "quantize", lambda *args: calls.append(args) or loop(*args))
    fast = quant.quantize(x, scale, 8)
    assert len(calls) == 1
    monkeypatch.setattr(fused, "quantize", lambda *args: None)  # force the torch formula
    assert torch.equal(fast, quant.quantize(x, scale, 8))
