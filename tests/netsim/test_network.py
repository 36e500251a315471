"""convert / calibrate / describe / evaluate on zoo and user models."""
import pytest
import torch
from torch import nn

import netsim
from netsim import quant, zoo
from netsim.errors import NetsimError


def batches(count=2, size=8, shape=(1, 28, 28), seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.rand(size, *shape, generator=generator), torch.randint(0, 10, (size,), generator=generator))
            for _ in range(count)]


def test_convert_copies_and_describes():
    model = zoo.lenet5().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = netsim.Config.uniform(multiplier="M4P8").with_layer("fc3", multiplier="exact", adder="LOA8")
    amodel = netsim.convert(model, config, calibration=batches())
    assert all(type(m) in (nn.Conv2d, nn.Linear) for m in (model.conv1, model.fc3))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    table = netsim.describe(amodel)
    rows = {row["layer"]: row for row in table.rows}
    assert list(rows) == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert rows["conv1"]["macs"] == 6 * 28 * 28 * 25 and rows["conv2"]["macs"] == 16 * 10 * 10 * 150
    assert rows["fc1"]["macs"] == 400 * 120
    assert (rows["fc3"]["multiplier"], rows["fc3"]["adder"]) == ("exact", "LOA8")
    assert rows["conv2"]["multiplier"] == "M4P8"
    text = str(table)
    assert "conv2" in text and "M4P8" in text and "MACs" in text and "total" in text


def test_calibration_is_reusable_and_convert_again():
    model = zoo.lenet5().eval()
    calibration = netsim.calibrate(model, batches())
    x = batches(1, 4, seed=9)[0][0]
    a = netsim.convert(model, netsim.Config.uniform(multiplier="M2P8"), calibration)
    b = netsim.convert(model, netsim.Config.uniform(multiplier="M2P8"), batches())
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
        again = netsim.convert(a, netsim.Config.uniform(), calibration)  # an approximate model converts again
        assert torch.equal(again(x), netsim.convert(model, netsim.Config.uniform(), calibration)(x))


def test_percentile_calibration_clips():
    model = zoo.mlp().eval()
    calibration = netsim.calibrate(model, batches())
    observer = calibration.observers["layers.0"]
    assert observer.range("percentile", 50.0, 8) < observer.range("max", 99.99, 8)
    config = netsim.Config.uniform(a_calibration="percentile", percentile=90.0)
    amodel = netsim.convert(model, config, calibration)
    plain = netsim.convert(model, netsim.Config.uniform(), calibration)
    assert amodel.layers[0].input_scale < plain.layers[0].input_scale


def test_user_module_and_errors():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 2, 3, padding_mode="reflect", padding=1), nn.ReLU())
            self.head = nn.Linear(2 * 28 * 28, 10)

        def forward(self, x):
            return self.head(self.body(x).flatten(1))

    model = Tiny().eval()
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier="M1P4").with_layer("body.*", a_bits=6),
                            batches())
    assert amodel.body[0].settings.a_bits == 6 and amodel.head.settings.a_bits == 8
    accuracy = netsim.evaluate(amodel, batches(), progress=False)
    assert 0.0 <= accuracy <= 1.0
    with pytest.raises(NetsimError, match="matches no layer"):
        netsim.convert(model, netsim.Config().with_layer("features.*", w_bits=4), batches())
    unchecked = netsim.convert(model, netsim.Config().with_layer("features.*", w_bits=4))
    with pytest.raises(NetsimError, match="matches no layer"):  # without calibration: at the first forward
        unchecked(torch.rand(2, 1, 28, 28))
    with pytest.raises(NetsimError, match="no Conv2d or Linear"):
        netsim.convert(nn.ReLU(), netsim.Config(), [torch.rand(2, 4)])
    with pytest.raises(NetsimError, match="ran no Conv2d or Linear"):  # without calibration: at the first forward
        netsim.convert(nn.ReLU(), netsim.Config())(torch.rand(2, 4))
    with pytest.raises(NetsimError, match="saw no data"):
        netsim.convert(Unused(), netsim.Config(), [torch.rand(2, 4)])


class Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.spare = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):
        return self.used(x)


def test_evaluate_counts_correct_predictions():
    class Oracle(nn.Module):  # predicts the label hidden in the first feature
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def forward(self, x):
            return nn.functional.one_hot(x[:, 0].long(), 10).float() + 0 * self.fc(x[:, :1])

    data = [(torch.tensor([[3.0], [5.0], [1.0], [2.0]]), torch.tensor([3, 5, 0, 2]))]
    assert netsim.evaluate(Oracle(), data, progress=False) == 0.75


def test_dynamic_scale_without_calibration():
    model = zoo.mlp().eval()
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier="M4P2"))
    x = batches(1)[0][0]
    with torch.no_grad():
        y = amodel(x)
    assert amodel.layers[0].input_scale is None and torch.isfinite(y).all()


def test_quantizer_definitions():
    assert [quant.qmax(b) for b in (1, 2, 8, 16)] == [1, 1, 127, 32767]
    x = torch.tensor([-3.0, -0.2, 0.0, 0.26, 5.0])
    q = quant.quantize(x, torch.tensor(0.5), 4)
    assert q.tolist() == [-6, 0, 0, 1, 7] and q.dtype == torch.int8
    assert quant.quantize(x, torch.tensor(1.0), 1).tolist() == [-1, -1, 1, 1, 1]
    assert quant.quantize(x, torch.tensor(1e-3), 12).dtype == torch.int16
    w = torch.tensor([[1.0, -2.0], [0.5, 0.25]])
    assert quant.weight_scale(w, 8, "channel").tolist() == pytest.approx([2 / 127, 0.5 / 127])
    assert float(quant.weight_scale(w, 8, "tensor")) == pytest.approx(2 / 127)
    assert quant.weight_scale(w, 1, "channel").tolist() == pytest.approx([1.5, 0.375])
    assert float(quant.scale_from_range(torch.tensor(3.0), 8, "pow2")) == 2.0 ** -5


def test_state_dict_is_the_float_models():
    model = zoo.lenet5().eval()
    amodel = netsim.convert(model, netsim.Config.uniform(multiplier="M4P8"), batches(1))
    assert amodel.state_dict().keys() == model.state_dict().keys()
    assert {name for name, _ in amodel.conv1.named_buffers()} >= {"weight_q", "weight_scale", "input_scale"}
