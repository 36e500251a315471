"""Fine-tuning: the LUT gradient against a brute-force finite difference and against the STE."""
import numpy as np
import pytest
import torch

import opmodels
from netsim import Config, data, zoo
from netsim.network import calibrate, convert
from netsim.errors import NetsimError
from netsim.explore import finetune as ft
from netsim.layers import ApproxMixin


@pytest.mark.parametrize("op_id,booth", [("M4P8", "w"), ("M2P14", "x"), ("M6P6", "w")])
def test_table_gradients_match_brute_force(op_id, booth):
    op = opmodels.get(op_id)
    rng = np.random.default_rng(3)
    x = rng.integers(-127, 128, (5, 7))
    w = rng.integers(-127, 128, (7, 3))
    g = rng.normal(size=(5, 3))

    def product(a, b):
        a, b = np.clip(a, -128, 127), np.clip(b, -128, 127)
        return int(op.evaluate(np.int64(a), np.int64(b))) if booth == "w" else int(op.evaluate(np.int64(b), np.int64(a)))

    def diff(f, v):  # np.gradient's rule on the operand range -128..127
        if v == -128:
            return f(v + 1) - f(v)
        if v == 127:
            return f(v) - f(v - 1)
        return (f(v + 1) - f(v - 1)) / 2

    gx = np.zeros_like(x, dtype=float)
    gw = np.zeros_like(w, dtype=float)
    for m in range(5):
        for k in range(7):
            for n in range(3):
                gx[m, k] += g[m, n] * diff(lambda v: product(v, w[k, n]), x[m, k])
                gw[k, n] += g[m, n] * diff(lambda v: product(x[m, k], v), w[k, n])
    got_x, got_w = ft.table_gradients(torch.tensor(x), torch.tensor(w), torch.tensor(g), op, booth)
    np.testing.assert_allclose(got_x.numpy(), gx, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(got_w.numpy(), gw, rtol=1e-5, atol=1e-3)


@pytest.fixture(scope="module")
def setup(lenet_checkpoint):
    model = zoo.lenet5(weights=lenet_checkpoint)
    train = data.load("mnist5k", "train")
    return model, train, calibrate(model, data.loader(train, 256), batches=2)


def _grads(amodel, x, y, lut: bool):
    amodel.train()
    amodel.zero_grad()
    hooks = [m.register_forward_hook(ft._lut_gradient_hook) for m in amodel.modules()
             if isinstance(m, ApproxMixin)] if lut else []
    torch.nn.functional.cross_entropy(amodel(x), y).backward()
    for hook in hooks:
        hook.remove()
    return {n: p.grad.clone() for n, p in amodel.named_parameters()}


def test_lut_gradient_of_the_exact_table_is_the_ste(setup):
    model, train, calibration = setup
    amodel = convert(model, Config.uniform(multiplier="M4P0"), calibration=calibration)  # exact, via its LUT
    x = torch.stack([train[i][0] for i in range(16)])
    y = torch.tensor([int(train[i][1]) for i in range(16)])
    ste, lut = _grads(amodel, x, y, False), _grads(amodel, x, y, True)
    for name in ste:
        torch.testing.assert_close(lut[name], ste[name], rtol=1e-4, atol=1e-6)
    approx = convert(model, Config.uniform(multiplier="M4P14"), calibration=calibration)
    ste, lut = _grads(approx, x, y, False), _grads(approx, x, y, True)
    assert not torch.allclose(ste["conv1.weight"], lut["conv1.weight"])


def _loss(amodel, x, y) -> float:
    amodel.eval()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(amodel(x), y))


@pytest.mark.parametrize("gradient", ["ste", "lut"])
def test_finetune_lowers_the_approximate_models_loss(setup, gradient):
    """M4P14 costs LeNet-5 accuracy; two seeded epochs on 256 samples must lower the approximate model's
    own loss on them, and leave its quantized weights those of its new float weights."""
    model, train, calibration = setup
    config = Config.uniform(multiplier="M4P14")
    source = {k: v.clone() for k, v in model.state_dict().items()}
    amodel = convert(model, config, calibration=calibration)
    x = torch.stack([train[i][0] for i in range(256)])
    y = torch.tensor([int(train[i][1]) for i in range(256)])
    before = _loss(amodel, x, y)
    record = ft.finetune(amodel, torch.utils.data.Subset(train, range(256)), epochs=2, lr=1e-3, batch_size=32,
                         gradient=gradient)
    after = _loss(amodel, x, y)
    assert record["gradient"] == gradient and len(record["loss"]) == 2 and not amodel.training
    assert after < 0.8 * before, (before, after)
    requantized = convert(amodel, config, calibration=calibration)  # quantizes the trained float weights anew
    for name in ("conv1", "fc1", "fc3"):
        assert torch.equal(getattr(amodel, name).weight_q, getattr(requantized, name).weight_q)
    assert all(torch.equal(source[k], v) for k, v in model.state_dict().items())  # the float model untouched


def test_finetune_rejects_bad_gradient(setup):
    model, train, calibration = setup
    amodel = convert(model, Config.uniform(multiplier="M4P8"), calibration=calibration)
    with pytest.raises(NetsimError, match="gradient must be one of ste, lut, not 'adam'"):
        ft.finetune(amodel, train, gradient="adam")
