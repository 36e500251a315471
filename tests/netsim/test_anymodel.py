"""Every product-sum op of any model (issue 12): identity per op kind, LUT references, describe/strict,
names and configuration, load_state_dict, NaN in calibration.

References are built here, independently of netsim: the operands are quantized in numpy, the integer
products are numpy integer matmuls (exact multiplier) or sums of ``op.lut()`` entries (approximate
multipliers), convolutions are numpy windows and transposed convolutions numpy scatters.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

import netsim
import opmodels
from netsim import NetsimError

QMAX = 127


# ---- the independent reference

def q_dynamic(x: torch.Tensor, bits: int = 8):
    """(integers, scale) of a tensor quantized with its own max |x| (float32 division, half-even rounding)."""
    a = x.detach().numpy()
    qmax = (1 << (bits - 1)) - 1
    s = np.float64(np.abs(a).max()) / qmax
    return np.clip(np.round(a / np.float32(s)), -qmax, qmax).astype(np.int64), s


def q_matrix(x: torch.Tensor, bits: int = 8):
    """(integers, scales [..., 1, 1]) of an operand of a product of two activations: each matrix (the last
    two dims) quantized with its own max |x|."""
    a = x.detach().numpy()
    qmax = (1 << (bits - 1)) - 1
    s = np.abs(a).max(axis=(-2, -1), keepdims=True).astype(np.float64) / qmax
    return np.clip(np.round(a / s.astype(np.float32)), -qmax, qmax).astype(np.int64), s


def q_weight(w: torch.Tensor, bits: int = 8):
    a = w.detach().numpy().astype(np.float64)
    qmax = (1 << (bits - 1)) - 1
    s = np.abs(a).max() / qmax
    return np.clip(np.round(a / s), -qmax, qmax).astype(np.int64), s


def product(lut, booth_right=True):
    """P(a, b) of the multiplicand-row table; the Booth-recoded operand is the right one unless told."""
    if lut is None:
        return lambda a, b: a * b
    if booth_right:
        return lambda a, b: lut[a & 0xFF, b & 0xFF].astype(np.int64)
    return lambda a, b: lut[b & 0xFF, a & 0xFF].astype(np.int64)


def mm(a, b, p):
    """[..., M, K] x [..., K, N] summing P over k (numpy broadcasting over the batch)."""
    return p(a[..., :, :, None], b[..., None, :, :]).sum(axis=-2)


def dequantize(acc, scale):
    return torch.from_numpy(acc.astype(np.float32) * np.float32(scale))


def conv_ref(xq, wq, p, stride, padding, dilation, groups):
    """Direct N-d convolution over explicitly zero-padded input (padded zeros are MACs fed 0)."""
    dims = wq.ndim - 2
    xp = np.pad(xq, [(0, 0), (0, 0)] + [(q, q) for q in padding])
    span = [(k - 1) * d + 1 for k, d in zip(wq.shape[2:], dilation)]
    win = sliding_window_view(xp, span, axis=tuple(range(2, 2 + dims)))
    win = win[(slice(None), slice(None), *(slice(None, None, s) for s in stride),
               *(slice(None, None, d) for d in dilation))]  # [N, C, *out, *k]
    n, c = win.shape[:2]
    out_shape = win.shape[2:2 + dims]
    o = wq.shape[0]
    cg, og = c // groups, o // groups
    cols = np.moveaxis(win, 1, 1 + dims)  # [N, *out, C, *k]
    result = np.zeros((n, *out_shape, o), np.int64)
    for g in range(groups):
        a = cols[..., g * cg:(g + 1) * cg, *([slice(None)] * dims)].reshape(n * int(np.prod(out_shape)), -1)
        b = wq[g * og:(g + 1) * og].reshape(og, -1).T
        result[..., g * og:(g + 1) * og] = mm(a, b, p).reshape(n, *out_shape, og)
    return np.moveaxis(result, -1, 1)


def conv_transpose_ref(xq, wq, p, stride, padding, output_padding, dilation, groups):
    """The scatter definition: every input value times every tap, added at i*s - pad + k*d."""
    n, cin = xq.shape[:2]
    cg, og = cin // groups, wq.shape[1]
    kernel = wq.shape[2:]
    out_shape = [(i - 1) * s - 2 * q + d * (k - 1) + e + 1
                 for i, s, q, d, k, e in zip(xq.shape[2:], stride, padding, dilation, kernel, output_padding)]
    out = np.zeros((n, og * groups, *out_shape), np.int64)
    for pos in np.ndindex(*xq.shape[2:]):
        for tap in np.ndindex(*kernel):
            where = [i * s - q + k * d for i, s, q, k, d in zip(pos, stride, padding, tap, dilation)]
            if not all(0 <= w < size for w, size in zip(where, out_shape)):
                continue
            for g in range(groups):
                xs = xq[(slice(None), slice(g * cg, (g + 1) * cg), *pos)]  # [N, Cg]
                ws = wq[(slice(g * cg, (g + 1) * cg), slice(None), *tap)]  # [Cg, Og]
                out[(slice(None), slice(g * og, (g + 1) * og), *where)] += mm(xs, ws, p)
    return out


def run(fn, x, multiplier="exact", **settings):
    """Convert the one-op model ``fn`` (a module) and run it on x without calibration (dynamic scales)."""
    amodel = netsim.convert(fn, netsim.Config.uniform(multiplier=multiplier, **settings))
    with torch.no_grad():
        return amodel(x), amodel


class Function(nn.Module):
    def __init__(self, f, **params):
        super().__init__()
        self.f = f
        for name, value in params.items():
            setattr(self, name, nn.Parameter(value))

    def forward(self, *args):
        return self.f(self, *args)


def lut(name):
    return None if name == "exact" else opmodels.get(name).lut()


MULTIPLIERS = ["exact", "M4P8"]


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


# ---- identity (exact) and LUT references (approximate), one test per op kind

@pytest.mark.parametrize("multiplier", MULTIPLIERS)
def test_functional_linear(multiplier):
    model = Function(lambda m, x: F.linear(x, m.w, m.b), w=torch.randn(5, 7), b=torch.randn(5))
    x = torch.randn(3, 4, 7)
    y, _ = run(model, x, multiplier)
    xq, sx = q_dynamic(x)
    wq, sw = q_weight(model.w)
    expected = dequantize(mm(xq, wq.T, product(lut(multiplier))), sx * sw) + model.b.detach()
    assert torch.equal(y, expected)


@pytest.mark.parametrize("multiplier", MULTIPLIERS)
@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 1, 1, 1), (2, 0, 2, 2), (1, 2, 1, 4)])
def test_conv1d_module(multiplier, stride, padding, dilation, groups):
    model = nn.Sequential(nn.Conv1d(4, 8, 3, stride=stride, padding=padding, dilation=dilation, groups=groups))
    x = torch.randn(2, 4, 11)
    y, amodel = run(model, x, multiplier)
    xq, sx = q_dynamic(x)
    wq, sw = q_weight(model[0].weight)
    acc = conv_ref(xq, wq, product(lut(multiplier)), (stride,), (padding,), (dilation,), groups)
    expected = dequantize(acc, sx * sw) + model[0].bias.detach().reshape(1, -1, 1)
    assert torch.equal(y, expected)
    assert netsim.describe(amodel).rows[0]["layer"] == "0" and netsim.describe(amodel).rows[0]["kind"] == "conv1d"


@pytest.mark.parametrize("multiplier", MULTIPLIERS)
def test_conv3d_module(multiplier):
    model = nn.Sequential(nn.Conv3d(4, 6, (2, 3, 3), stride=(1, 2, 1), padding=(1, 0, 1), dilation=(1, 1, 2),
                                    groups=2))
    x = torch.randn(2, 4, 4, 6, 6)
    y, _ = run(model, x, multiplier)
    xq, sx = q_dynamic(x)
    wq, sw = q_weight(model[0].weight)
    acc = conv_ref(xq, wq, product(lut(multiplier)), (1, 2, 1), (1, 0, 1), (1, 1, 2), 2)
    assert torch.equal(y, dequantize(acc, sx * sw) + model[0].bias.detach().reshape(1, -1, 1, 1, 1))


# M5P8 gives P(0, w) = P(x, 0) = 0, so the scatter definition (no zero MACs) is a reference for the
# direct convolution over the zero-upsampled input that netsim runs
@pytest.mark.parametrize("multiplier", ["exact", "M5P8"])
@pytest.mark.parametrize("dims,stride,padding,output_padding,dilation,groups",
                         [(2, (2, 2), (1, 1), (1, 1), (1, 1), 1), (2, (2, 1), (0, 2), (1, 0), (1, 2), 2),
                          (1, (3,), (1,), (2,), (1,), 2), (1, (1,), (0,), (0,), (2,), 1)])
def test_conv_transpose_modules(multiplier, dims, stride, padding, output_padding, dilation, groups):
    if multiplier != "exact":
        table = lut(multiplier)
        assert not table[0].any() and not table[:, 0].any()
    layer_type = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose1d
    model = nn.Sequential(layer_type(4, 6, 3, stride=stride, padding=padding, output_padding=output_padding,
                                     dilation=dilation, groups=groups))
    x = torch.randn(2, 4, *([5] * dims))
    y, amodel = run(model, x, multiplier)
    assert y.shape == model(x).shape
    xq, sx = q_dynamic(x)
    # the weight's scale is per tensor, so the transposed layout does not change it
    wq, sw = q_weight(model[0].weight)
    acc = conv_transpose_ref(xq, wq, product(lut(multiplier)), stride, padding, output_padding, dilation, groups)
    expected = dequantize(acc, sx * sw) + model[0].bias.detach().reshape((1, -1) + (1,) * dims)
    assert torch.equal(y, expected)
    assert netsim.describe(amodel).rows[0]["kind"] == f"conv_transpose{dims}d"


MATMULS = {
    "matmul": (lambda m, a, b: torch.matmul(a, b), (2, 3, 4, 5), (2, 3, 5, 6)),
    "at": (lambda m, a, b: a @ b, (3, 4, 5), (5, 6)),  # shared right operand: one kernel call
    "broadcast": (lambda m, a, b: a @ b, (4, 5), (2, 5, 6)),
    "bmm": (lambda m, a, b: torch.bmm(a, b), (3, 4, 5), (3, 5, 6)),
    "einsum": (lambda m, a, b: torch.einsum("bhid,bhjd->bhij", a, b), (2, 3, 4, 5), (2, 3, 6, 5)),
}


@pytest.mark.parametrize("multiplier", MULTIPLIERS)
@pytest.mark.parametrize("form", sorted(MATMULS))
@pytest.mark.parametrize("recode", ["weight", "activation"])
def test_products_of_two_activations(multiplier, form, recode):
    f, a_shape, b_shape = MATMULS[form]
    a, b = torch.randn(a_shape), torch.randn(b_shape)
    amodel = netsim.convert(Function(f), netsim.Config.uniform(multiplier=multiplier, recode=recode))
    with torch.no_grad():
        y = amodel(a, b)
    aq, sa = q_matrix(a)
    bq, sb = q_matrix(b)
    if form == "einsum":
        bq = np.swapaxes(bq, -1, -2)
    acc = mm(aq, bq, product(lut(multiplier), booth_right=recode == "weight"))
    assert torch.equal(y, dequantize(acc, sa * sb))
    [row] = netsim.describe(amodel).rows
    assert row["kind"] == "matmul" and row["layer"] in ("matmul", "bmm", "einsum")


def attention_reference(q, k, v, multiplier, recode="weight", mask=None):
    p = product(lut(multiplier), booth_right=recode == "weight")
    qq, sq = q_matrix(q)
    kq, sk = q_matrix(k)
    scores = dequantize(mm(qq, np.swapaxes(kq, -1, -2), p), sq * sk) * (1.0 / np.sqrt(q.shape[-1]))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    wq, sw = q_matrix(weights)
    vq, sv = q_matrix(v)
    return dequantize(mm(wq, vq, p), sw * sv)


@pytest.mark.parametrize("multiplier", ["exact", "M4P8", "M1P8"])
@pytest.mark.parametrize("recode", ["weight", "activation"])
def test_scaled_dot_product_attention_is_its_two_products(multiplier, recode):
    class Block(nn.Module):
        def forward(self, q, k, v, mask=None):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = Block()

        def forward(self, *args):
            return self.attn(*args)

    model = Net()
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 4)
    mask = torch.rand(5, 6) > 0.3
    mask[:, 0] = True
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier=multiplier, recode=recode))
    with torch.no_grad():
        y = amodel(q, k, v, mask)
    assert torch.equal(y, attention_reference(q, k, v, multiplier, recode, mask))
    names = [(r["layer"], r["kind"]) for r in netsim.describe(amodel).rows]
    assert names == [("attn.qk", "attention"), ("attn.av", "attention")]


def test_multihead_attention_module_is_projections_and_two_products():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    model = Net().eval()
    mha = model.attn
    x = torch.randn(3, 5, 8)
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"))
    with torch.no_grad():
        y = amodel(x)
    p = product(lut("M4P8"))
    # in_proj: one weight (per-tensor scale over q, k and v); the input quantized with its own max
    xq, sx = q_dynamic(x)
    wq, sw = q_weight(mha.in_proj_weight)
    qkv = dequantize(mm(xq, wq.T, p), sx * sw) + mha.in_proj_bias.detach()
    q, k, v = qkv.chunk(3, dim=-1)
    heads = lambda t: t.reshape(3, 5, 2, 4).transpose(1, 2)  # noqa: E731 (batch, head, seq, dim)
    out = attention_reference(heads(q), heads(k), heads(v), "M4P8").transpose(1, 2).reshape(3, 5, 8)
    oq, so = q_dynamic(out)
    wo, swo = q_weight(mha.out_proj.weight)
    expected = dequantize(mm(oq, wo.T, p), so * swo) + mha.out_proj.bias.detach()
    # torch's own MultiheadAttention works sequence-first: the same numbers in another layout
    assert torch.allclose(y, expected, atol=1e-5)
    assert [r["layer"] for r in netsim.describe(amodel).rows] == ["attn.in_proj", "attn.qk", "attn.av",
                                                                   "attn.out_proj"]
    exact = netsim.convert(model, netsim.Config.uniform(w_bits=16, a_bits=16))
    with torch.no_grad():
        assert torch.allclose(exact(x), model(x), atol=1e-3)  # the decomposition is torch's attention


# ---- describe, coverage, strict

class Mixed(nn.Module):
    """LSTM + Conv1d + ConvTranspose2d + MultiheadAttention + F.linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.rnn = nn.LSTM(8, 8, batch_first=True)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.up = nn.ConvTranspose2d(1, 2, 3, stride=2, padding=1, output_padding=1)
        self.w = nn.Parameter(torch.randn(5, 2 * 8 * 8))

    def forward(self, x):
        h = self.conv(x).transpose(1, 2)
        h, _ = self.rnn(h)
        h, _ = self.attn(h, h, h)
        h = self.up(h.unsqueeze(1))[:, :, ::2, ::2].flatten(1)
        return F.linear(h, self.w)


def test_describe_lists_every_product_and_what_is_left_exact():
    model = Mixed().eval()
    data = [torch.randn(4, 4, 8) for _ in range(2)]
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"), calibration=data)
    table = netsim.describe(amodel)
    assert {(r["layer"], r["kind"]) for r in table.rows} == {
        ("conv", "conv1d"), ("attn.in_proj", "linear"), ("attn.qk", "attention"), ("attn.av", "attention"),
        ("attn.out_proj", "linear"), ("up", "conv_transpose2d"), ("linear", "linear")}
    assert all(r["multiplier"] == "M4P8" and isinstance(r["macs"], int) for r in table.rows)
    [left] = table.left_exact
    assert left["layer"] == "rnn" and "recurrent" in left["reason"]
    assert left["macs"] == 8 * 4 * 8 * (8 + 8)  # steps x gates x hidden x (input + hidden)
    macs = {r["layer"]: r["macs"] for r in table.rows}
    assert macs["conv"] == 8 * 8 * 4 * 3 and macs["attn.qk"] == 2 * 8 * 8 * 4 and macs["up"] == 8 * 8 * 2 * 9
    assert macs["attn.in_proj"] == 3 * 8 * 8 * 8 and macs["linear"] == 128 * 5
    cover = table.coverage
    assert cover["macs_left_exact"] == left["macs"] and cover["macs_simulated"] == sum(macs.values())
    assert cover["macs_total"] == cover["macs_simulated"] + cover["macs_left_exact"]
    text = str(table)
    assert "left exact" in text and "rnn" in text and "recurrent" in text and "coverage:" in text
    with pytest.raises(NetsimError, match=r"strict: left exact: rnn \(recurrent"):
        netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"), calibration=data, strict=True)
    # without calibration the LSTM is known from the module, and strict refuses it as well
    with pytest.raises(NetsimError, match="strict: left exact: rnn"):
        netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"), strict=True)


def test_strict_refuses_an_unsupported_function_at_run_time():
    model = Function(lambda m, a: torch.addmm(m.b, a, m.w), w=torch.randn(4, 3), b=torch.randn(3))
    with pytest.raises(NetsimError, match="no Conv2d or Linear"):  # nothing to simulate at all
        netsim.convert(model, netsim.Config.uniform(), [torch.randn(2, 4)])
    model.extra = nn.Linear(3, 3)
    amodel = netsim.convert(model, netsim.Config.uniform(), strict=True)
    with pytest.raises(NetsimError, match=r"strict: addmm \(addmm\) is left exact"):
        amodel(torch.randn(2, 4))
    lenient = netsim.convert(model, netsim.Config.uniform())
    lenient(torch.randn(2, 4))
    [left] = netsim.describe(lenient).left_exact
    assert left["layer"] == "addmm" and left["macs"] == 4 * 3
    three = Function(lambda m, a: m.extra(torch.einsum("ij,jk,kl->il", a, m.w, m.v)), w=torch.randn(4, 3),
                     v=torch.randn(3, 3))
    three.extra = nn.Linear(3, 3)
    with pytest.raises(NetsimError, match=r"strict: einsum \(einsum\) is left exact: einsum is simulated for two"):
        netsim.convert(three, netsim.Config.uniform(), strict=True)(torch.randn(2, 4))


# ---- names and configuration

class Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Module() for _ in range(2))
        for block in self.blocks:
            block.mlp = nn.Linear(8, 8)

    def forward(self, x):
        for block in self.blocks:
            a = x @ x.transpose(-2, -1)  # products in the root's own code
            x = F.scaled_dot_product_attention(x, x, x) + block.mlp(x) + a[..., :8]
        return x


def test_ops_of_the_root_forward_are_numbered_in_call_order_and_kinds_select_like_types():
    data = [torch.randn(2, 8, 8)]
    config = (netsim.Config.uniform(multiplier="M4P8")
              .with_layer("matmul", a_bits=6)       # a kind, like a layer type
              .with_layer("qk*", multiplier="M5P8")  # a glob over op names
              .with_layer("qk_1", multiplier="exact"))  # an exact name wins
    amodel = netsim.convert(Blocks().eval(), config, calibration=data)
    rows = {r["layer"]: (r["kind"], r["multiplier"], r["a_bits"]) for r in netsim.describe(amodel).rows}
    assert rows == {"blocks.0.mlp": ("linear", "M4P8", 8), "blocks.1.mlp": ("linear", "M4P8", 8),
                    "matmul": ("matmul", "M4P8", 6), "matmul_1": ("matmul", "M4P8", 6),
                    "qk": ("attention", "M5P8", 8), "av": ("attention", "M4P8", 8),
                    "qk_1": ("attention", "exact", 8), "av_1": ("attention", "M4P8", 8)}
    with pytest.raises(NetsimError, match="matches no layer"):
        netsim.convert(Blocks(), netsim.Config().with_layer("blocks.*.attn.qk", a_bits=4), calibration=data)


def test_glob_and_exact_names_of_attention_in_blocks():
    class Attn(nn.Module):
        def forward(self, x):
            return F.scaled_dot_product_attention(x, x, x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Module() for _ in range(2))
            for block in self.blocks:
                block.attn = Attn()

        def forward(self, x):
            for block in self.blocks:
                x = x + block.attn(x)
            return x

    data = [torch.randn(2, 8, 8)]
    config = (netsim.Config.uniform(multiplier="M4P8").with_layer("attention", a_bits=7)
              .with_layer("blocks.*.attn.qk", multiplier="M5P8").with_layer("blocks.1.attn.qk", multiplier="exact"))
    amodel = netsim.convert(Net(), config, calibration=data)
    rows = {r["layer"]: (r["multiplier"], r["a_bits"]) for r in netsim.describe(amodel).rows}
    assert rows == {"blocks.0.attn.qk": ("M5P8", 7), "blocks.0.attn.av": ("M4P8", 7),
                    "blocks.1.attn.qk": ("exact", 7), "blocks.1.attn.av": ("M4P8", 7)}
    amodel(torch.randn(2, 8, 8))  # names stay the same on every forward
    assert {r["layer"] for r in netsim.describe(amodel).rows} == set(rows)


# ---- state that stays honest

def test_load_state_dict_requantizes_every_kind_of_weight():
    trained, fresh = Mixed().eval(), Mixed().eval()
    data = [torch.randn(4, 4, 8)]
    config = netsim.Config.uniform(multiplier="M4P8")
    expected = netsim.convert(trained, config, calibration=netsim.calibrate(trained, data))
    stale = netsim.convert(fresh, config, calibration=netsim.calibrate(trained, data))
    x = torch.randn(3, 4, 8)
    with torch.no_grad():
        before = stale(x)  # the weights of the function-call ops are quantized (and cached) here
        stale.load_state_dict(trained.state_dict())
        assert torch.equal(stale(x), expected(x)) and not torch.equal(before, expected(x))

    # the swapped Linear keeps its quantized weight in a buffer: loading quantizes it again
    lin, other = nn.Sequential(nn.Linear(6, 3)), nn.Sequential(nn.Linear(6, 3))
    amodel = netsim.convert(other, config)
    amodel.load_state_dict(lin.state_dict())
    assert torch.equal(amodel[0].weight_q, netsim.convert(lin, config)[0].weight_q)


def test_nan_in_calibration_names_the_op():
    model = Mixed().eval()
    data = torch.randn(4, 4, 8)
    data[1, 2, 3] = float("nan")
    with pytest.raises(NetsimError, match="layer 'conv' holds NaN or Inf"):
        netsim.convert(model, netsim.Config.uniform(), calibration=[data])
    model.conv.bias.data[0] = float("nan")  # the LSTM passes it on to the attention's in-projection
    with pytest.raises(NetsimError, match="layer 'attn.in_proj' holds NaN or Inf"):
        netsim.calibrate(model, [torch.randn(4, 4, 8)])


def test_training_gradients_flow_through_intercepted_ops():
    model = Mixed()
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"))
    amodel.train()
    amodel(torch.randn(2, 4, 8)).sum().backward()
    assert amodel.w.grad is not None and amodel.conv.weight.grad is not None
    assert amodel.attn.in_proj_weight.grad is not None and amodel.up.weight.grad is not None


def test_a_converted_model_pickles_and_copies_with_its_interception(tmp_path):
    model = Mixed().eval()
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"), calibration=[torch.randn(4, 4, 8)])
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        expected = amodel(x)
        torch.save(amodel, tmp_path / "amodel.pt")
        loaded = torch.load(tmp_path / "amodel.pt", weights_only=False)
        assert torch.equal(loaded(x), expected)
        again = netsim.convert(amodel, netsim.Config.uniform(multiplier="M4P8"), calibration=[torch.randn(4, 4, 8)])
        assert netsim.network.intercept.of(again) is not netsim.network.intercept.of(amodel)
        assert {r["layer"] for r in netsim.describe(again).rows} == {r["layer"] for r in netsim.describe(amodel).rows}
        assert torch.equal(amodel(x), expected)  # converting a copy left the original as it was


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_what_the_mode_cannot_reach_is_listed_from_the_module_tree():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scripted = torch.jit.script(nn.Linear(4, 4))
            self.gru = nn.GRU(4, 4)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.gru(self.scripted(x))[0])

    amodel = netsim.convert(Net(), netsim.Config.uniform(multiplier="M4P8"))
    table = netsim.describe(amodel)
    reasons = {r["layer"]: r["reason"] for r in table.left_exact}
    assert set(reasons) == {"scripted", "gru"} and "TorchScript" in reasons["scripted"]
    assert [r["layer"] for r in table.rows] == ["head"]
    with pytest.raises(NetsimError, match="strict: left exact: scripted .*; gru"):
        netsim.convert(Net(), netsim.Config.uniform(), strict=True)


@pytest.mark.parametrize("multiplier", MULTIPLIERS)
def test_functional_convolutions_with_string_padding_groups_and_unbatched_input(multiplier):
    model = Function(lambda m, x, y: (F.conv2d(x, m.w2, None, 1, "same", 2, 3),
                                      F.conv1d(y, m.w1, m.b1, padding="valid", stride=2)),
                     w2=torch.randn(6, 1, 3, 2), w1=torch.randn(5, 2, 3), b1=torch.randn(5))
    x, y = torch.randn(2, 3, 7, 6), torch.randn(2, 9)  # depthwise-style groups; an unbatched 1-d input
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier=multiplier))
    with torch.no_grad():
        out2, out1 = amodel(x, y)
    p = product(lut(multiplier))
    xq, sx = q_dynamic(x)
    wq, sw = q_weight(model.w2)
    # "same" with dilation 2: 2 * (3 - 1) = 4 rows split 2 + 2, 2 * (2 - 1) = 2 columns split 1 + 1
    xp = np.pad(xq, [(0, 0), (0, 0), (2, 2), (1, 1)])
    acc = conv_ref(xp, wq, p, (1, 1), (0, 0), (2, 2), 3)
    assert torch.equal(out2, dequantize(acc, sx * sw))
    yq, sy = q_dynamic(y)
    vq, sv = q_weight(model.w1)
    acc = conv_ref(yq[None], vq, p, (2,), (0,), (1,), 1)[0]
    assert torch.equal(out1, dequantize(acc, sy * sv) + model.b1.detach()[:, None])
    assert [r["layer"] for r in netsim.describe(amodel).rows] == ["conv2d", "conv1d"]


def test_wide_operands_run_the_16_bit_operator():
    """12-bit operands of a product of two activations: the 16-bit M4P8 (behavioural), against op.evaluate."""
    a, b = torch.randn(2, 4, 6), torch.randn(2, 6, 3)
    amodel = netsim.convert(Function(lambda m, a, b: a @ b), netsim.Config.uniform(multiplier="M4P8", a_bits=12,
                                                                                   w_bits=12))
    with torch.no_grad():
        y = amodel(a, b)
    op = opmodels.get("M4P8W16")
    aq, sa = q_matrix(a, 12)
    bq, sb = q_matrix(b, 12)
    acc = np.asarray(op.evaluate(aq[..., :, :, None], bq[..., None, :, :]), dtype=np.int64).sum(axis=-2)
    assert torch.equal(y, dequantize(acc, sa * sb))
    assert not torch.equal(y, dequantize(mm(aq, bq, product(None)), sa * sb))  # the approximation shows


def test_a_samples_product_does_not_depend_on_its_batch():
    """Products of two activations are quantized per matrix: a sample gives the same result alone and
    in a batch whose other samples are 100x larger (a batch-wide scale would coarsen it)."""
    a, b = torch.randn(3, 4, 6), torch.randn(3, 6, 5)
    a[1:] *= 100
    amodel = netsim.convert(Function(lambda m, a, b: a @ b), netsim.Config.uniform(multiplier="M4P8"))
    with torch.no_grad():
        assert torch.equal(amodel(a, b)[:1], amodel(a[:1], b[:1]))


@pytest.mark.parametrize("multiplier", ["exact", "M4P8", "M1P8"])
def test_vit_shaped_attention_on_views_of_one_projection(multiplier):
    """Attention as a ViT runs it: q, k, v permuted views of one qkv tensor, 16 tokens x 16 per head, a
    batch large enough for the parallel kernels. netsim quantizes contiguous copies and scales float
    accumulators in place; the result is the reference's (numpy quantization of the views, numpy LUT
    or integer products, float32 dequantization) bit for bit; exact: the quantized exact computation."""
    class Net(nn.Module):
        def forward(self, qkv):
            q, k, v = qkv.reshape(24, 16, 3, 4, 16).permute(2, 0, 3, 1, 4)
            return F.scaled_dot_product_attention(q, k, v)

    qkv = torch.randn(24, 16, 192)
    amodel = netsim.convert(Net(), netsim.Config.uniform(multiplier=multiplier))
    with torch.no_grad():
        y = amodel(qkv)
    q, k, v = qkv.reshape(24, 16, 3, 4, 16).permute(2, 0, 3, 1, 4)
    assert not q.is_contiguous()
    assert torch.equal(y, attention_reference(q, k, v, multiplier))


def test_an_intercepted_weight_changed_in_place_changes_the_result():
    """F.linear's weight quantized once and kept while its tensor version holds; an in-place change
    (no requantize call) gives the new weight's result, the same as a fresh conversion's."""
    model = Function(lambda m, x: F.linear(x, m.w), w=torch.randn(48, 64))
    x = torch.randn(40, 64)
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"))
    with torch.no_grad():
        before = amodel(x)
        amodel.w[5:9].mul_(-0.5)
        after = amodel(x)
        fresh = netsim.convert(Function(lambda m, x: F.linear(x, m.w), w=amodel.w.detach().clone()),
                               netsim.Config.uniform(multiplier="M4P8"))(x)
    assert torch.equal(after, fresh) and not torch.equal(before, after)


def test_converted_layers_run_without_the_mode_and_products_after_them_are_still_intercepted(monkeypatch):
    """The interception mode is off torch's stack while a converted layer (opaque) runs and back after it,
    also when the layer raises: the product after it is still simulated, and nothing stays pushed."""
    from netsim.layers import ApproxLinear

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, a):
            depths.append(("model", torch._C._len_torch_function_stack()))
            h = self.fc(a)
            return h @ h.transpose(-1, -2)

    depths = []
    approx_forward = ApproxLinear._approx_forward

    def spy(self, x):
        depths.append(("fc", torch._C._len_torch_function_stack()))
        return approx_forward(self, x)

    a = torch.randn(4, 8)
    amodel = netsim.convert(Net(), netsim.Config.uniform(multiplier="M4P8"), calibration=[a])
    monkeypatch.setattr(ApproxLinear, "_approx_forward", spy)
    depths.clear()  # the calibration pass ran the float model
    with torch.no_grad():
        y = amodel(a)
        assert depths == [("model", 1), ("fc", 0)]
        with pytest.raises(RuntimeError):
            amodel(torch.randn(4, 5))  # the converted layer raises inside
        assert torch._C._len_torch_function_stack() == 0
        assert torch.equal(amodel(a), y)
    kinds = {row["layer"]: row["kind"] for row in netsim.describe(amodel).rows}
    assert kinds == {"fc": "linear", "matmul": "matmul"}
